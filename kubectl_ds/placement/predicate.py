"""Pure. The DaemonSet controller's placement predicate, NodeShouldRunDaemonPod, with every reason.

The controller stops at the first failing rule; we evaluate all of them so that fixing one never
reveals another. The verdict flags still follow the controller exactly (docs/rules.md#r-predicate):
nodeName → nodeSelector + required node affinity → taints (NoSchedule/NoExecute, with the automatic
DaemonSet tolerations) → an untolerated NoExecute taint alone decides "do not keep running".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubectl_ds import resources as r
from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.legacy_labels import legacy_label_hint
from kubectl_ds.placement.managed_taints import managed_taint
from kubectl_ds.placement.reasons import Reason
from kubectl_ds.placement.selectors import match_required_affinity, node_selector_mismatches, required_node_selector
from kubectl_ds.placement.taints import (
    BLOCKING_EFFECTS,
    NO_EXECUTE,
    Taint,
    daemonset_pod_tolerations,
    toleration_for,
    untolerated_taints,
)
from kubectl_ds.resources import Obj


@dataclass(frozen=True, slots=True)
class NodeVerdict:
    """The controller's view of one node, with named results instead of bare booleans."""

    node: str
    fits_node_name: bool
    fits_node_selector: bool
    fits_node_affinity: bool
    fits_taints: bool
    should_run: bool
    should_continue_running: bool
    reasons: tuple[Reason, ...]


def pod_tolerations(daemonset: Obj) -> list[Obj]:
    """The tolerations of the pod the controller simulates: the template's plus the automatic ones."""
    pod_spec = r.template_pod_spec(daemonset)
    return daemonset_pod_tolerations(pod_spec.get("tolerations") or [], host_network=bool(pod_spec.get("hostNetwork")))


def node_should_run_daemon_pod(daemonset: Obj, node: Obj, *, tolerations: Sequence[Obj] | None = None) -> NodeVerdict:
    """(shouldRun, shouldContinueRunning) for `node`, plus every rule that keeps the pod off it.

    `tolerations` (from pod_tolerations) may be computed once and passed in when judging many nodes.
    """
    pod_spec = r.template_pod_spec(daemonset)
    node_name = r.name(node)
    reasons: list[Reason] = []

    pinned = str(pod_spec.get("nodeName") or "")
    fits_node_name = not pinned or pinned == node_name
    if not fits_node_name:
        reasons.append(
            Reason(
                code=codes.NODE_NAME,
                rule=f"spec.nodeName={pinned}",
                message=f"template spec.nodeName={pinned}: pods only go to node {pinned}",
                hint="remove spec.nodeName from the pod template to run on every node",
            )
        )

    mismatches = node_selector_mismatches(pod_spec.get("nodeSelector"), r.labels(node))
    for mismatch in mismatches:
        reasons.append(
            Reason(
                code=codes.NODE_SELECTOR,
                rule=mismatch.rule,
                message=mismatch.message,
                hint=legacy_label_hint([mismatch.key], r.labels(node))
                or f"kubectl label node {{node}} {mismatch.key}={mismatch.wanted} --overwrite",
            )
        )

    affinity = match_required_affinity(pod_spec, node)
    if not affinity.matched:
        reasons.append(
            Reason(
                code=codes.NODE_AFFINITY,
                rule=affinity.rule,
                message=affinity.message,
                hint=legacy_label_hint(_affinity_keys(pod_spec), r.labels(node))
                or "label the node so that one nodeSelectorTerm matches, or widen the DaemonSet's affinity",
            )
        )

    if tolerations is None:
        tolerations = pod_tolerations(daemonset)
    untolerated = untolerated_taints(r.node_taints(node), tolerations, BLOCKING_EFFECTS)
    for taint in untolerated:
        code = codes.TAINT_NO_EXECUTE if taint.effect == NO_EXECUTE else codes.TAINT_NO_SCHEDULE
        consequence = "running pods are evicted" if taint.effect == NO_EXECUTE else "no new pod is created"
        reasons.append(
            Reason(
                code=code,
                rule=f"taint {taint}",
                message=f"taint {taint} not tolerated: {consequence}",
                hint=_taint_hint(taint),
            )
        )

    fits_affinity = not mismatches and affinity.matched
    fits_taints = not untolerated
    if not fits_node_name or not fits_affinity:
        should_run = should_continue = False
    elif not fits_taints:
        # Only an untolerated NoExecute taint makes the controller delete a pod that already runs.
        should_run = False
        should_continue = not any(taint.effect == NO_EXECUTE for taint in untolerated)
    else:
        should_run = should_continue = True
    return NodeVerdict(
        node=node_name,
        fits_node_name=fits_node_name,
        fits_node_selector=not mismatches,
        fits_node_affinity=affinity.matched,
        fits_taints=fits_taints,
        should_run=should_run,
        should_continue_running=should_continue,
        reasons=tuple(reasons) + tuple(node_facts(node)),
    )


def _taint_hint(taint: Taint) -> str:
    """Remove an operator's taint, or tolerate it; a taint a component manages comes back when removed by
    hand, so its hint names what to fix instead (docs/rules.md#r-managed-taints)."""
    managed = managed_taint(taint.key)
    if managed is None:
        return f"add toleration {toleration_for(taint)} or: kubectl taint node {{node}} {taint}-"
    return f"{managed.hint()}; a pod that must run there anyway adds toleration {toleration_for(taint)}"


def _affinity_keys(pod_spec: Obj) -> list[str]:
    """The label keys the required node affinity reads."""
    required = required_node_selector(pod_spec) or {}
    return [
        str(expression.get("key"))
        for term in required.get("nodeSelectorTerms") or []
        for expression in term.get("matchExpressions") or []
    ]


def node_facts(node: Obj) -> list[Reason]:
    """Node states that matter to an operator but that the controller ignores by design."""
    facts = []
    if not r.is_node_ready(node):
        ready = r.condition(node, "Ready")
        state = f"Ready={ready.get('status')}" if ready else "no Ready condition"
        facts.append(
            Reason(
                code=codes.NODE_NOT_READY,
                rule="node not ready",
                message=f"node is not ready ({state}); the controller ignores conditions, "
                "only taints keep DaemonSet pods away",
            )
        )
    if r.is_node_cordoned(node):
        facts.append(
            Reason(
                code=codes.NODE_CORDONED,
                rule="node cordoned",
                message="node is cordoned; DaemonSet pods tolerate node.kubernetes.io/unschedulable and still run here",
            )
        )
    return facts
