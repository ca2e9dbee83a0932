"""Pure. Accessors for the fields we read from objects as the API returns them (camelCase JSON dicts).

Nothing here builds client models: objects stay the dicts that `kubectl get -o json` shows, and these
helpers only read them, tolerating missing fields the way the API omits empty ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

Obj = Mapping[str, Any]

# Pod label the controller writes with the hash of the template revision the pod was created from.
REVISION_HASH_LABEL = "controller-revision-hash"
# Legacy label/annotation pair: the apiserver counts template changes in this DaemonSet annotation.
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
# Where `kubectl ds rollout` keeps the state of a managed rollout (rollout/state.py owns its format).
MANAGED_ROLLOUT_ANNOTATION = "kubectl-ds.io/rollout"


def metadata(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return str(metadata(obj).get("name") or "")


def namespace(obj: Obj) -> str:
    return str(metadata(obj).get("namespace") or "")


def uid(obj: Obj) -> str:
    return str(metadata(obj).get("uid") or "")


def labels(obj: Obj) -> Mapping[str, str]:
    return metadata(obj).get("labels") or {}


def annotations_of(obj: Obj) -> Mapping[str, str]:
    return metadata(obj).get("annotations") or {}


def spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def qualified_name(obj: Obj) -> str:
    """`namespace/name`, the way kubectl names a namespaced object in messages."""
    ns = namespace(obj)
    return f"{ns}/{name(obj)}" if ns else name(obj)


def pod_template(daemonset: Obj) -> Obj:
    return spec(daemonset).get("template") or {}


def template_pod_spec(daemonset: Obj) -> Obj:
    return spec(pod_template(daemonset))


def controller_owner_uid(obj: Obj) -> str | None:
    """The uid of the owner reference marked `controller: true`, if any."""
    for ref in metadata(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid") or "")
    return None


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    owner_uid = uid(owner)
    return bool(owner_uid) and controller_owner_uid(obj) == owner_uid


def min_ready_seconds(daemonset: Obj) -> int:
    """spec.minReadySeconds: how long a Ready pod must stay Ready before it counts as available."""
    return int(spec(daemonset).get("minReadySeconds") or 0)


def condition(obj: Obj, condition_type: str) -> Obj | None:
    """The status condition of this type (a pod's Ready or PodScheduled, a node's Ready), if reported."""
    for item in status(obj).get("conditions") or []:
        if item.get("type") == condition_type:
            return item  # type: ignore[no-any-return]
    return None


def node_taints(node: Obj) -> list[Obj]:
    return list(spec(node).get("taints") or [])


def is_node_ready(node: Obj) -> bool:
    ready = condition(node, "Ready")
    return ready is not None and ready.get("status") == "True"


UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


def is_node_unreachable(node: Obj) -> bool:
    """The kubelet stopped posting status: Ready=Unknown, or the node lifecycle controller's unreachable
    taint. Such a node never finishes a graceful delete (docs/rules.md#r-node-lifecycle)."""
    ready = condition(node, "Ready")
    if ready is not None and ready.get("status") == "Unknown":
        return True
    return any(taint.get("key") == UNREACHABLE_TAINT for taint in node_taints(node))


def node_ready_since(node: Obj) -> datetime | None:
    """When the node's Ready condition last changed (for an unreachable node: since when it is)."""
    return parse_time((condition(node, "Ready") or {}).get("lastTransitionTime"))


def is_node_cordoned(node: Obj) -> bool:
    return bool(spec(node).get("unschedulable"))


def kind_of(obj: Obj) -> str:
    return str(obj.get("kind") or "")


def parse_time(value: object) -> datetime | None:
    """A time as the API writes it (RFC 3339, "2024-06-01T10:00:05Z"), always timezone-aware; None when absent
    or unreadable. A YAML dump may hold the time unquoted, which YAML reads as a datetime already, and one
    without a zone is taken as UTC, as the API server writes UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
