"""Where a DaemonSet wants a pod, and the pods its controller creates.

Sources: pkg/controller/daemon/daemon_controller.go (NodeShouldRunDaemonPod, predicates, NewPod),
pkg/controller/daemon/util/daemonset_util.go (CreatePodTemplate, GetTemplateGeneration,
ReplaceDaemonSetPodNodeNameNodeAffinity) and pkg/controller/controller_utils.go (GetPodFromTemplate).
The OpenShift project default node selector some copies of the controller add is not simulated.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime

from tests.apiserver import rfc3339
from tests.sim import labels as lbl
from tests.sim import nodeaffinity, taints
from tests.sim import objects as o
from tests.sim.objects import Obj, View

# names.SimpleNameGenerator keeps this much of generateName before its 5 random characters.
_GENERATED_BASE_LENGTH = 58


@dataclass(frozen=True)
class Verdict:
    """NodeShouldRunDaemonPod's two answers for one node."""

    should_run: bool  # a pod is created here if there is none
    should_continue_running: bool  # a pod already here may stay


def new_pod_spec(daemonset: View, node_name: str) -> Obj:
    """NewPod's spec: the template's, bound to the node, with the DaemonSet tolerations added."""
    spec = copy.deepcopy(dict(o.spec_of(o.template_of(daemonset))))
    spec["nodeName"] = node_name
    spec["tolerations"] = taints.daemon_pod_tolerations(spec)
    return spec


def node_should_run_daemon_pod(daemonset: View, node: View) -> Verdict:
    """NodeShouldRunDaemonPod: the template's nodeName, then nodeSelector and required node affinity, then
    NoSchedule/NoExecute taints; only an untolerated NoExecute taint evicts a pod that is already there.
    Resources, host ports, cordons and node conditions are left to the scheduler and kubelet."""
    pinned = o.spec_of(o.template_of(daemonset)).get("nodeName")
    if pinned and pinned != o.name(node):
        return Verdict(False, False)
    pod_spec = new_pod_spec(daemonset, o.name(node))
    if not nodeaffinity.pod_matches_node(pod_spec, node):
        return Verdict(False, False)
    node_taints = list(o.spec_of(node).get("taints") or [])
    tolerations = pod_spec["tolerations"]
    blocking = taints.with_effects(taints.NO_SCHEDULE, taints.NO_EXECUTE)
    if taints.first_untolerated(node_taints, tolerations, blocking) is None:
        return Verdict(True, True)
    evicting = taints.first_untolerated(node_taints, tolerations, taints.with_effects(taints.NO_EXECUTE))
    return Verdict(False, evicting is None)


def template_generation(daemonset: View) -> str | None:
    """GetTemplateGeneration, as the label text fmt.Sprint writes; None when the annotation is missing or is
    not an int64 (Go's error there is ignored by findUpdatedPodsOnNode)."""
    written = o.annotations_of(daemonset).get(o.TEMPLATE_GENERATION_ANNOTATION)
    number = None if written is None else lbl.parse_int64(str(written))
    return None if number is None else str(number)


def pinned_affinity(affinity: View | None, node_name: str) -> Obj:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the required terms become one `metadata.name In [node]`
    matchField, whatever they were; everything else in the affinity stays."""
    result: Obj = copy.deepcopy(dict(affinity or {}))
    node_affinity = result.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": nodeaffinity.NODE_NAME_FIELD, "operator": "In", "values": [node_name]}]}
        ]
    }
    return result


def controller_ref(daemonset: View) -> Obj:
    """metav1.NewControllerRef for a DaemonSet."""
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": o.name(daemonset),
        "uid": o.uid(daemonset),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def generate_name(daemonset: View) -> str:
    """getPodsPrefix: the DaemonSet's name and a dash."""
    return f"{o.name(daemonset)}-"


def generated_name(daemonset: View, suffix: str) -> str:
    """The name the API server makes of generateName: its first 58 characters and a random suffix."""
    return generate_name(daemonset)[:_GENERATED_BASE_LENGTH] + suffix


def daemon_pod(daemonset: View, node_name: str, revision_hash: str, pod_name: str, now: datetime) -> Obj:
    """The pod syncNodes creates for a node: CreatePodTemplate (the template, the DaemonSet tolerations, the
    generation and hash labels) with the node pinned by affinity. No nodeName: the scheduler binds it."""
    template = o.template_of(daemonset)
    template_meta = template.get("metadata") or {}
    pod_labels = dict(template_meta.get("labels") or {})
    generation = template_generation(daemonset)
    if generation is not None:
        pod_labels[o.TEMPLATE_GENERATION_LABEL] = generation
    pod_labels[o.REVISION_HASH_LABEL] = revision_hash
    spec = copy.deepcopy(dict(o.spec_of(template)))
    spec["tolerations"] = taints.daemon_pod_tolerations(spec)
    spec["affinity"] = pinned_affinity(spec.get("affinity"), node_name)
    metadata: Obj = {
        "name": pod_name,
        "generateName": generate_name(daemonset),
        "namespace": o.namespace(daemonset),
        "labels": pod_labels,
        "ownerReferences": [controller_ref(daemonset)],
        "creationTimestamp": rfc3339(now),
    }
    for copied in ("annotations", "finalizers"):
        if template_meta.get(copied):
            metadata[copied] = copy.deepcopy(template_meta[copied])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": {"phase": "Pending"}}
