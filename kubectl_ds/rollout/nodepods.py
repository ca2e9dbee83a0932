"""Pure. The one model of a node's DaemonSet pods during a rollout, seen against the goal revision.

Four questions are asked of a node, and each is a named property because each rightly differs:
- the controller's: is the node unavailable (r-rolling-no-surge), is it surging (r-rolling-surge)? The plan's
  budget;
- the runner's: is the node `done` for its step (an available new pod and no live old pod)?
- the status view's: what `state` does the node show (a new pod decides it, even next to an old one)?

Terminating pods count as nothing for all of them, as the controller ignores them
(docs/rules.md#r-updated; update.go findUpdatedPodsOnNode).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from kubectl_ds.placement.pods import is_available, is_terminating, oldest_first, pods_by_node
from kubectl_ds.placement.revisions import RevisionIndex
from kubectl_ds.resources import Obj

# Per-node states of the status view; every wanted node is in exactly one (EXCLUDED: not wanted).
UPDATED = "updated"  # an available pod of the goal revision
OLD = "old"  # only pods of an older revision
MISSING = "missing"  # should run the pod, has no live one (none yet, or only a terminating one)
UNAVAILABLE = "unavailable"  # a pod of the goal revision that is not available yet
EXCLUDED = "excluded"  # the controller's predicate says the pod should not run here
STATES = (UPDATED, OLD, MISSING, UNAVAILABLE, EXCLUDED)


@dataclass(frozen=True)
class NodePods:
    """The live pods on one node, split by revision (each list oldest first), and their availability."""

    name: str
    new: tuple[Obj, ...]
    old: tuple[Obj, ...]
    new_available: bool
    old_available: bool
    terminating: tuple[Obj, ...] = ()  # on their way out (deletionTimestamp set): they count for nothing else

    @property
    def empty(self) -> bool:
        return not self.new and not self.old

    @property
    def duplicates(self) -> bool:
        """More than one new or one old pod: the controller counts the node unavailable and lets manage()
        prune the extra pods."""
        return len(self.new) > 1 or len(self.old) > 1

    @property
    def needs_update(self) -> bool:
        """An old pod still runs here: the plan has to replace it."""
        return bool(self.old)

    @property
    def unavailable(self) -> bool:
        """The controller's budget (docs/rules.md#r-rolling-no-surge): empty, mid-transition, duplicated, or
        its only pod not available."""
        if self.duplicates or self.empty or (self.new and self.old):
            return True
        return not (self.new_available if self.new else self.old_available)

    @property
    def surging(self) -> bool:
        """docs/rules.md#r-rolling-surge: the node uses surge budget while its new pod, next to the old one, is
        not available yet."""
        return self.duplicates or (len(self.new) == 1 and len(self.old) == 1 and not self.new_available)

    @property
    def done(self) -> bool:
        """The runner's test that a node finished its step: an available new pod AND no live old pod.
        Stricter than the status view's UPDATED, because a surge step is only over once the controller has
        removed the old pod (until then the node still costs surge budget)."""
        return self.new_available and not self.old

    @property
    def state(self) -> str:
        """The status view: a live pod of the goal revision decides, even next to an old one; during a surge
        the new pod is the news and the old one is on its way out."""
        if self.new:
            return UPDATED if self.new_available else UNAVAILABLE
        return OLD if self.old else MISSING

    def state_pod(self) -> Obj | None:
        """The pod that decided `state` (the oldest new pod, else the oldest old one)."""
        pods = self.new or self.old
        return pods[0] if pods else None


def node_pods(name: str, pods: Iterable[Obj], goal: RevisionIndex, min_ready_seconds: int, now: datetime) -> NodePods:
    pods = list(pods)
    live = oldest_first([pod for pod in pods if not is_terminating(pod)])
    new = tuple(pod for pod in live if goal.is_updated(pod))
    old = tuple(pod for pod in live if not goal.is_updated(pod))
    return NodePods(
        name=name,
        new=new,
        old=old,
        new_available=any(is_available(pod, min_ready_seconds, now) for pod in new),
        old_available=any(is_available(pod, min_ready_seconds, now) for pod in old),
        terminating=tuple(pod for pod in pods if is_terminating(pod)),
    )


def pods_on_nodes(
    names: Sequence[str], pods: Iterable[Obj], goal: RevisionIndex, min_ready_seconds: int, now: datetime
) -> dict[str, NodePods]:
    """NodePods for each of `names` (a node without pods is empty)."""
    grouped: Mapping[str, Sequence[Obj]] = pods_by_node(pods)
    return {name: node_pods(name, grouped.get(name, ()), goal, min_ready_seconds, now) for name in names}
