"""Test-object builders: plain dicts shaped like the Kubernetes API JSON (camelCase), as `kubectl get -o json`
returns them. Each builder fills in only what a test needs, so a case shows just the field it is about.

Defaults follow the DaemonSet controller's test harness (pkg/controller/daemon/daemon_controller_test.go):
`newNode` is Ready with `allocatable.pods=100` and no taints; `newDaemonSet` lives in `default`, selects and
labels its pods `{name: simple-daemon, type: production}` and runs one container `foo/bar` without requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

Obj = dict[str, Any]
PortSpec = int | Mapping[str, Any]

SIMPLE_DAEMON_LABELS = {"name": "simple-daemon", "type": "production"}  # simpleDaemonSetLabel
# A fixed clock: pods are created and turn ready well before NOW unless a test says otherwise.
NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
EARLIER = NOW - timedelta(hours=1)


def timestamp(value: datetime | str) -> str:
    """RFC 3339 with a Z, the way the API server writes times."""
    if isinstance(value, str):
        return value
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- nodes -------------------------------------------------------------------------------------------------


def taint(key: str, effect: str, value: str = "") -> Obj:
    result: Obj = {"key": key, "effect": effect}
    if value:
        result["value"] = value
    return result


def make_node(
    name: str = "test-node",
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Obj] | None = None,
    unschedulable: bool = False,
    ready: bool | str = True,
    allocatable: Mapping[str, str] | None = None,
    conditions: Mapping[str, str] | None = None,
) -> Obj:
    """A node; `ready` may be True/False or a status string ("Unknown"); `conditions` adds type -> status;
    `allocatable` is merged over the harness default `{pods: 100}`."""
    status = ready if isinstance(ready, str) else ("True" if ready else "False")
    node_conditions = [{"type": "Ready", "status": status, "lastTransitionTime": timestamp(EARLIER)}]
    node_conditions += [{"type": kind, "status": value} for kind, value in (conditions or {}).items()]
    spec: Obj = {}
    if taints:
        spec["taints"] = list(taints)
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": spec,
        "status": {"allocatable": {"pods": "100", **dict(allocatable or {})}, "conditions": node_conditions},
    }


# --- pod specs -------------------------------------------------------------------------------------------


def toleration(
    key: str = "", operator: str | None = None, value: str = "", effect: str = "", seconds: int | None = None
) -> Obj:
    """A toleration with only the fields given (operator None = omitted, which means Equal)."""
    result: Obj = {}
    if key:
        result["key"] = key
    if operator is not None:
        result["operator"] = operator
    if value:
        result["value"] = value
    if effect:
        result["effect"] = effect
    if seconds is not None:
        result["tolerationSeconds"] = seconds
    return result


def expr(key: str, operator: str, *values: str) -> Obj:
    """A NodeSelectorRequirement; `values` omitted when none are given."""
    result: Obj = {"key": key, "operator": operator}
    if values:
        result["values"] = list(values)
    return result


def term(*expressions: Obj, fields: Sequence[Obj] = ()) -> Obj:
    """A nodeSelectorTerm: label `expressions` (matchExpressions) and `fields` (matchFields), ANDed."""
    result: Obj = {}
    if expressions:
        result["matchExpressions"] = list(expressions)
    if fields:
        result["matchFields"] = list(fields)
    return result


def node_affinity(*terms: Obj) -> Obj:
    """An `affinity` with required node affinity made of `terms` (ORed)."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def pinned_to(node: str) -> Obj:
    """The affinity the controller gives every pod it creates: matchFields metadata.name In [node]."""
    return node_affinity(term(fields=[expr("metadata.name", "In", node)]))


def _port(spec: PortSpec) -> Obj:
    # An int claims that port on the host; a dict is used as written (e.g. {"containerPort": 9100}).
    return {"containerPort": spec, "hostPort": spec} if isinstance(spec, int) else dict(spec)


def container(
    name: str = "foo",
    requests: Mapping[str, str] | None = None,
    ports: Sequence[PortSpec] | None = None,
    restart_policy: str | None = None,
    image: str = "foo/bar",
) -> Obj:
    """A container; `restart_policy="Always"` on an init container makes it a sidecar."""
    result: Obj = {"name": name, "image": image}
    if requests:
        result["resources"] = {"requests": dict(requests)}
    if ports:
        result["ports"] = [_port(port) for port in ports]
    if restart_policy:
        result["restartPolicy"] = restart_policy
    return result


# --- DaemonSets and their revisions ------------------------------------------------------------------------


def make_daemonset(
    name: str = "ds",
    namespace: str = "default",
    uid: str | None = None,
    node_selector: Mapping[str, str] | None = None,
    affinity: Obj | None = None,
    tolerations: Sequence[Obj] | None = None,
    node_name: str | None = None,
    host_network: bool = False,
    requests: Mapping[str, str] | None = None,
    host_ports: Sequence[PortSpec] | None = None,
    strategy: str | Mapping[str, Any] | None = None,
    min_ready_seconds: int = 0,
    labels: Mapping[str, str] | None = None,
    template_generation: int | None = None,
) -> Obj:
    """A DaemonSet whose selector equals its template labels (default simpleDaemonSetLabel).

    `strategy` is a type ("OnDelete") or a whole updateStrategy dict; None leaves it out (API default
    RollingUpdate). `template_generation` sets the deprecated.daemonset.template.generation annotation.
    """
    pod_labels = dict(SIMPLE_DAEMON_LABELS if labels is None else labels)
    pod_spec: Obj = {"containers": [container(requests=requests, ports=host_ports)]}
    if node_selector is not None:
        pod_spec["nodeSelector"] = dict(node_selector)
    if affinity is not None:
        pod_spec["affinity"] = affinity
    if tolerations is not None:
        pod_spec["tolerations"] = list(tolerations)
    if node_name is not None:
        pod_spec["nodeName"] = node_name
    if host_network:
        pod_spec["hostNetwork"] = True
    spec: Obj = {
        "selector": {"matchLabels": dict(pod_labels)},
        "template": {"metadata": {"labels": dict(pod_labels)}, "spec": pod_spec},
    }
    if strategy is not None:
        spec["updateStrategy"] = {"type": strategy} if isinstance(strategy, str) else dict(strategy)
    if min_ready_seconds:
        spec["minReadySeconds"] = min_ready_seconds
    metadata: Obj = {"name": name, "namespace": namespace, "uid": uid or f"uid-{namespace}-{name}"}
    if template_generation is not None:
        metadata["annotations"] = {"deprecated.daemonset.template.generation": str(template_generation)}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": metadata, "spec": spec}


def rolling_update(max_unavailable: int | str = 1, max_surge: int | str = 0) -> Obj:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": max_surge}}


def controller_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner.get("apiVersion", "apps/v1"),
        "kind": owner.get("kind", "DaemonSet"),
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def make_revision(daemonset: Obj, number: int, hash: str) -> Obj:
    """The ControllerRevision `<ds>-<hash>` the controller writes for one template."""
    template_labels = daemonset["spec"]["template"]["metadata"].get("labels") or {}
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{daemonset['metadata']['name']}-{hash}",
            "namespace": daemonset["metadata"]["namespace"],
            "labels": {**template_labels, "controller-revision-hash": hash},
            "ownerReferences": [controller_ref(daemonset)],
        },
        "revision": number,
        "data": {"spec": {"template": {"$patch": "replace"}}},
    }


# --- pods --------------------------------------------------------------------------------------------------


def make_pod(
    name: str,
    node: str | None = None,
    owner: Obj | None = None,
    labels: Mapping[str, str] | None = None,
    phase: str = "Running",
    ready: bool = True,
    ready_since: datetime | str | None = None,
    target_node: str | None = None,
    requests: Mapping[str, str] | None = None,
    host_ports: Sequence[PortSpec] | None = None,
    host_network: bool = False,
    deletion_timestamp: datetime | str | None = None,
    creation_timestamp: datetime | str | None = None,
    container_waiting: str | None = None,
    restart_count: int = 0,
    revision_hash: str | None = None,
    namespace: str | None = None,
) -> Obj:
    """A pod. `node` binds it (spec.nodeName); `target_node` pins a pending pod the way the controller does.

    With an `owner` DaemonSet the pod gets a controller ownerReference, the owner's namespace and, unless
    `labels` is given, the owner's template labels. `ready` sets the Ready condition as given (a Pending pod
    needs ready=False); `ready_since` is its lastTransitionTime (default: an hour before NOW).
    """
    metadata: Obj = {
        "name": name,
        "namespace": namespace or (owner["metadata"]["namespace"] if owner else "default"),
        "uid": f"uid-pod-{name}",
        "creationTimestamp": timestamp(creation_timestamp or EARLIER - timedelta(hours=1)),
    }
    pod_labels = (
        dict(labels)
        if labels is not None
        else (dict(owner["spec"]["template"]["metadata"].get("labels") or {}) if owner else {})
    )
    if revision_hash is not None:
        pod_labels["controller-revision-hash"] = revision_hash
    metadata["labels"] = pod_labels
    if owner is not None:
        metadata["ownerReferences"] = [controller_ref(owner)]
    if deletion_timestamp is not None:
        metadata["deletionTimestamp"] = timestamp(deletion_timestamp)

    spec: Obj = {"containers": [container(requests=requests, ports=host_ports)]}
    if node is not None:
        spec["nodeName"] = node
    if target_node is not None:
        spec["affinity"] = pinned_to(target_node)
    if host_network:
        spec["hostNetwork"] = True

    container_status: Obj = {
        "name": "foo",
        "image": "foo/bar",
        "ready": ready,
        "restartCount": restart_count,
        "state": {"running": {}},
    }
    if container_waiting is not None:
        container_status["state"] = {"waiting": {"reason": container_waiting}}
    status: Obj = {
        "phase": phase,
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": timestamp(ready_since or EARLIER),
            }
        ],
    }
    if phase != "Pending" or node is not None:
        status["containerStatuses"] = [container_status]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}
