"""DefaultPreemption, the scheduler's PostFilter, for a pod pinned to one node (docs/rules.md#r-preemption).

A DaemonSet pod's matchFields pin leaves one candidate node; every other node failed the NodeAffinity
PreFilter (UnschedulableAndUnresolvable), where preemption cannot help. On the target node:
  * the pod must be eligible: not `preemptionPolicy: Never`, and no lower-priority pod on its nominated node
    may still be terminating because of an earlier preemption ("not eligible due to a terminating pod on the
    nominated node.": the scheduler waits for its victims instead of choosing more);
  * a node that failed a filter preemption cannot fix (taints, affinity, cordon) is not a candidate;
  * the potential victims are the pods there of lower priority; none: "No preemption victims found for
    incoming pod"; if the pod does not fit even without all of them, the filters' reasons;
  * otherwise the most important potential victims (higher priority, then earlier start) are reprieved one by
    one while the pod still fits; the rest are the victims. They get DisruptionTarget=True
    (PreemptionByScheduler) and a graceful delete, the event Preempted, and the pod is nominated to the node.
On success the PostFilter message is empty, so the FailedScheduling message of that attempt has no
`preemption:` part; on failure it is `preemption: ` and a FitError of its own ("0/N nodes are available: 1
No preemption victims found for incoming pod, N-1 Preemption is not helpful for scheduling."), or the
eligibility sentence.

Sources: pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go (PostFilter,
PodEligibleToPreemptOthers, SelectVictimsOnNode, podTerminatingByPreemption), pkg/scheduler/framework/
preemption/preemption.go (Preempt, findCandidates, nodesWherePreemptionMightHelp, prepareCandidate),
pkg/scheduler/util (MoreImportantPod), component-helpers corev1 PodPriority.

Deviations: PodDisruptionBudgets do not steer the choice of victims (upstream reprieves the victims whose
budget would be violated first); nominated pods reserve nothing for the pods scheduled after them; victims
are deleted at once (no asynchronous preemption).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.sim import fit
from tests.sim import objects as o
from tests.sim.objects import Obj, View

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_ELIGIBLE_POLICY = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."
PREEMPTED_BY_SCHEDULER = "PreemptionByScheduler"
# The filter reasons preemption can do something about (plugins answering Unschedulable, not
# UnschedulableAndUnresolvable): free ports and resources.
_RESOLVABLE = ("Insufficient ", "Too many pods", "node(s) didn't have free ports")


@dataclass(frozen=True)
class Outcome:
    """What PostFilter decided: victims to evict, its message ("" on success), and the node to nominate
    ("" clears the nomination, None leaves it as it is)."""

    victims: list[Obj] = field(default_factory=list)
    message: str = ""
    nominate: str | None = None


def priority(pod: View) -> int:
    """corev1helpers.PodPriority: spec.priority, 0 when unset (admission normally sets it)."""
    return int(o.spec_of(pod).get("priority") or 0)


def terminating_by_preemption(pod: View) -> bool:
    """podTerminatingByPreemption: deleted, with DisruptionTarget=True from the scheduler."""
    target = o.condition(pod, "DisruptionTarget")
    return (
        o.is_terminating(pod)
        and target is not None
        and target.get("status") == "True"
        and target.get("reason") == PREEMPTED_BY_SCHEDULER
    )


def _resolvable(reasons: Sequence[str]) -> bool:
    return all(reason.startswith(_RESOLVABLE) for reason in reasons)


def _fit_error(total_nodes: int, target_reasons: Sequence[str]) -> str:
    """The FitError Preempt builds when no node is a candidate: the target's status and `Preemption is not
    helpful for scheduling` for every other node."""
    counts = dict.fromkeys(target_reasons, 1)
    if total_nodes > 1:
        counts[NOT_HELPFUL] = counts.get(NOT_HELPFUL, 0) + total_nodes - 1
    return "preemption: 0/{} nodes are available: {}.".format(
        total_nodes, ", ".join(sorted(f"{count} {reason}" for reason, count in counts.items()))
    )


def _importance(pod: View) -> tuple[int, str]:
    """MoreImportantPod as a sort key: higher priority first, then the earlier start."""
    started = str(o.status_of(pod).get("startTime") or o.meta(pod).get("creationTimestamp") or "")
    return -priority(pod), started


def post_filter(
    pod: View,
    node: View,
    on_node: Sequence[Obj],
    total_nodes: int,
    reasons: Sequence[str],
    on_nominated: Sequence[View],
) -> Outcome:
    """DefaultPreemption.PostFilter for `pod`, which failed the target `node` with `reasons`; `on_node` are
    the pods bound there, `on_nominated` those on the pod's nominated node (if any)."""
    if o.spec_of(pod).get("preemptionPolicy") == "Never":
        return Outcome(message=f"preemption: {NOT_ELIGIBLE_POLICY}")
    if (
        o.status_of(pod).get("nominatedNodeName")
        and _resolvable(reasons)
        and any(priority(other) < priority(pod) and terminating_by_preemption(other) for other in on_nominated)
    ):
        return Outcome(message=f"preemption: {NOT_ELIGIBLE_TERMINATING}")
    if not _resolvable(reasons):
        return Outcome(message=_fit_error(total_nodes, [NOT_HELPFUL]), nominate="")
    potential = [other for other in on_node if priority(other) < priority(pod)]
    if not potential:
        return Outcome(message=_fit_error(total_nodes, [NO_VICTIMS]), nominate="")
    kept = [other for other in on_node if priority(other) >= priority(pod)]
    still = fit.filter_failures(pod, node, kept)
    if still:
        return Outcome(message=_fit_error(total_nodes, still), nominate="")
    victims = []
    for candidate in sorted(potential, key=_importance):
        if fit.filter_failures(pod, node, [*kept, candidate]):
            victims.append(candidate)
        else:
            kept.append(candidate)  # reprieved: the pod fits with it still there
    return Outcome(victims=victims, nominate=o.name(node))
