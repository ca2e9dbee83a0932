"""Pure. What a node alone says about a DaemonSet: the controller's verdict (NodeShouldRunDaemonPod), the
node's values for the labels the DaemonSet's selectors read, and its taints. None of it needs a pod, so
`explain` judges the nodes while the DaemonSet's pods are still being read, and `report.assess_nodes` only
adds what the pods say."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubectl_ds import resources as r
from kubectl_ds.placement.predicate import NodeVerdict, node_should_run_daemon_pod, pod_tolerations
from kubectl_ds.placement.selectors import required_node_selector
from kubectl_ds.resources import Obj


@dataclass(frozen=True, slots=True)
class NodeSide:
    verdict: NodeVerdict
    labels_that_matter: tuple[str, ...]
    taints: tuple[str, ...]


def judge_nodes(daemonset: Obj, nodes: Iterable[Obj]) -> dict[str, NodeSide]:
    """Each node's side, by node name."""
    tolerations = pod_tolerations(daemonset)  # once, not per node
    keys = _label_keys(daemonset)
    judged = {}
    for node in nodes:
        node_labels = r.labels(node)
        judged[r.name(node)] = NodeSide(
            verdict=node_should_run_daemon_pod(daemonset, node, tolerations=tolerations),
            labels_that_matter=tuple(f"{key}={node_labels.get(key, '<none>')}" for key in keys),
            taints=tuple(taint_text(taint) for taint in r.node_taints(node)),
        )
    return judged


def taint_text(taint: Obj) -> str:
    value = taint.get("value")
    key = f"{taint.get('key')}={value}" if value else str(taint.get("key"))
    return f"{key}:{taint.get('effect')}"


def _label_keys(daemonset: Obj) -> list[str]:
    """Every label key the DaemonSet's nodeSelector or required node affinity reads, sorted."""
    pod_spec = r.template_pod_spec(daemonset)
    keys = set((pod_spec.get("nodeSelector") or {}).keys())
    required = required_node_selector(pod_spec) or {}
    for term in required.get("nodeSelectorTerms") or []:
        keys.update(str(expr.get("key")) for expr in term.get("matchExpressions") or [])
    return sorted(keys)
