"""The rolling-update step of a DaemonSet sync: which old pods go, and on which nodes a new pod may surge.

Source: pkg/controller/daemon/update.go (rollingUpdate, findUpdatedPodsOnNode) and
pkg/controller/daemon/util/daemonset_util.go (IsPodUpdated). Both planners are pure: availability (which
depends on the clock) and the placement verdicts come in as functions, the nodes in the order to visit them.

Deviation: in surge mode a pod on a node that no longer exists counts as "should not run" (Go fails the
whole sync with `couldn't get node for nodeName`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tests.sim import objects as o
from tests.sim.budget import Budget
from tests.sim.objects import Obj, View

PodTest = Callable[[View], bool]


def is_pod_updated(pod: View, revision_hash: str, generation: str | None) -> bool:
    """IsPodUpdated: the pod carries the current hash, or the current legacy template generation."""
    pod_labels = o.labels_of(pod)
    hash_matches = bool(revision_hash) and pod_labels.get(o.REVISION_HASH_LABEL) == revision_hash
    return hash_matches or (generation is not None and pod_labels.get(o.TEMPLATE_GENERATION_LABEL) == generation)


@dataclass(frozen=True)
class NodePods:
    """findUpdatedPodsOnNode: the live new and old pod of a node; `ok` is False with two of either."""

    new: Obj | None = None
    old: Obj | None = None
    ok: bool = True


def find_updated_pods_on_node(pods: Sequence[Obj], revision_hash: str, generation: str | None) -> NodePods:
    new: list[Obj] = []
    old: list[Obj] = []
    for pod in pods:
        if not o.is_terminating(pod):
            (new if is_pod_updated(pod, revision_hash, generation) else old).append(pod)
    if len(new) > 1 or len(old) > 1:
        return NodePods(ok=False)
    return NodePods(new[0] if new else None, old[0] if old else None)


@dataclass
class Plan:
    delete: list[Obj] = field(default_factory=list)
    create_on: list[str] = field(default_factory=list)


def plan_without_surge(
    order: Sequence[str],
    node_pods: Mapping[str, Sequence[Obj]],
    revision_hash: str,
    generation: str | None,
    max_unavailable: int,
    available: PodTest,
) -> Plan:
    """maxSurge 0: every unavailable old pod goes at once; available old pods go only while the nodes without
    an available pod (empty, mid-transition, duplicated, or with an unavailable pod) stay within budget.
    manage() creates the replacements on a later sync."""
    unavailable = 0
    replace: list[Obj] = []
    candidates: list[Obj] = []
    for node in order:
        pods = find_updated_pods_on_node(node_pods[node], revision_hash, generation)
        if not pods.ok or (pods.new is None) == (pods.old is None):
            unavailable += 1
        elif pods.new is not None:
            if not available(pods.new):
                unavailable += 1
        elif pods.old is not None and not available(pods.old):
            replace.append(pods.old)
            unavailable += 1
        elif pods.old is not None and unavailable < max_unavailable:
            candidates.append(pods.old)
    room = max(0, min(max_unavailable - unavailable, len(candidates)))
    return Plan(delete=replace + candidates[:room])


def plan_with_surge(
    order: Sequence[str],
    node_pods: Mapping[str, Sequence[Obj]],
    revision_hash: str,
    generation: str | None,
    budget: Budget,
    available: PodTest,
    should_run: Callable[[str], bool],
) -> Plan:
    """maxSurge > 0: a new pod next to each unavailable old pod at once, next to available ones within the
    surge budget; an old pod goes once the new pod beside it is available. Old pods on nodes that no longer
    want the daemon go only while more nodes are available than desired, to keep full availability."""
    surging = available_nodes = 0
    plan = Plan()
    sunset: list[Obj] = []
    candidates: list[str] = []
    for node in order:
        pods = find_updated_pods_on_node(node_pods[node], revision_hash, generation)
        if not pods.ok:
            surging += 1
            continue
        counted = pods.old if pods.old is not None else pods.new
        if counted is not None and available(counted):
            available_nodes += 1
        if pods.old is None:
            continue  # manage() creates a pod where there is none
        if pods.new is not None:
            if available(pods.new):
                plan.delete.append(pods.old)
            else:
                surging += 1
        elif not available(pods.old):
            if should_run(node):
                plan.create_on.append(node)
            else:
                plan.delete.append(pods.old)
        elif not should_run(node):
            sunset.append(pods.old)
        elif surging < budget.max_surge:
            candidates.append(node)
    spare = available_nodes - budget.desired
    if spare > 0:
        plan.delete += sunset[:spare]
    plan.create_on += candidates[: max(0, min(budget.max_surge - surging, len(candidates)))]
    return plan
