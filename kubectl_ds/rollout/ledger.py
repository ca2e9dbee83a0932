"""Pure. The budget ledger of a RollingUpdate the DaemonSet controller drives by itself: how many nodes it
may have unavailable (or surging), which nodes use that budget and why, whether its next pass can move,
what it will do, and whether the rollout is stuck.

It walks the nodes exactly as the controller's rolling-update pass does (docs/rules.md#r-budget,
docs/rules.md#r-rolling-no-surge, docs/rules.md#r-rolling-surge): the wanted nodes plus any node that has
a pod, live pods only, split into new and old by revision. What it adds is the cause of each budget use,
and whether that cause lasts (a crash loop, an unschedulable pod, a pod terminating on an unreachable node:
docs/rules.md#r-ledger) or clears by itself (a pod starting, a pod terminating within its grace period).
A rollout is stuck when the next pass can delete (or surge) nothing and every node holding the budget is
held for a lasting cause: nothing changes until someone acts.

Sources: pkg/controller/daemon/update.go rollingUpdate, updatedDesiredNodeCounts, findUpdatedPodsOnNode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from kubectl_ds import resources as r
from kubectl_ds.placement.pods import (
    container_problem,
    is_available,
    is_ready,
    is_terminating,
    is_unschedulable,
    oldest_first,
    pods_by_node,
)
from kubectl_ds.placement.reasons import POD_CRASH_LOOPING, POD_IMAGE_PULL
from kubectl_ds.placement.report import natural_key
from kubectl_ds.placement.revisions import RevisionIndex
from kubectl_ds.placement.scheduling import short_scheduler_reason
from kubectl_ds.render.text import moment, some_names
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.budget import compute_budget, wanted_nodes
from kubectl_ds.strategy import ROLLING_UPDATE, allows_surge, rolling_update_values, update_strategy_type

# The audit finding a stuck ledger becomes (a stable code for -o json).
STUCK_FINDING = "RollingUpdateStuck"

# Verdicts.
COMPLETE = "complete"
PROGRESSING = "progressing"
STUCK = "stuck"

# Why a node holds budget. Lasting causes do not clear without someone acting.
CRASH_LOOPING = "crash-looping"
IMAGE_PULL = "image pull error"
CONTAINER_WAITING = "container waiting"
UNSCHEDULABLE = "unschedulable"
NODE_UNREACHABLE = "node unreachable"
NODE_NOT_READY = "node not ready"
TERMINATING_UNREACHABLE = "terminating on an unreachable node"
TERMINATING = "terminating"
NOT_SCHEDULED_YET = "not scheduled yet"
STARTING = "starting"
NOT_AVAILABLE_YET = "not yet available"
FAILED = "failed"
NO_POD = "no pod"
OLD_UNAVAILABLE = "old pod unavailable"
EXTRA_PODS = "extra pods"
SURGING = "surging"
NODE_GONE = "node gone"
LASTING = frozenset(
    {
        CRASH_LOOPING,
        IMAGE_PULL,
        CONTAINER_WAITING,
        UNSCHEDULABLE,
        NODE_UNREACHABLE,
        NODE_NOT_READY,
        TERMINATING_UNREACHABLE,
    }
)


@dataclass(frozen=True)
class BudgetUse:
    """One node that counts against the budget, and why."""

    node: str
    cause: str  # one of the causes above
    message: str
    pod: str | None = None

    @property
    def lasting(self) -> bool:
        return self.cause in LASTING


@dataclass(frozen=True)
class Ledger:
    """The controller's books for one pass. `limit` is maxUnavailable (maxSurge in surge mode) as a node count,
    `spec` the value it was scaled from; `users` hold it; `waiting` are nodes with an available old pod that
    wait their turn; `free` are nodes the controller replaces at once outside the budget (an unavailable old
    pod); `next_count` of `waiting` go next (which ones is Go's random map order)."""

    namespace: str
    name: str
    surge: bool
    desired: int
    limit: int
    spec: str
    users: tuple[BudgetUse, ...]
    waiting: tuple[str, ...]
    free: tuple[BudgetUse, ...]
    updated: int
    verdict: str
    reason: str

    @property
    def used(self) -> int:
        return len(self.users)

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def next_count(self) -> int:
        return min(self.left, len(self.waiting))

    @property
    def stuck(self) -> bool:
        return self.verdict == STUCK

    @property
    def budget_name(self) -> str:
        return "maxSurge" if self.surge else "maxUnavailable"

    def finding(self) -> tuple[str, str] | None:
        """(code, message) for an audit finding: only a stuck rollout with old pods still to replace is one. With
        none left, nothing is being rolled out: the failing nodes are the audit's node problems already."""
        return (STUCK_FINDING, self.reason) if self.stuck and self.waiting else None


def budget_ledger(
    daemonset: Obj, nodes: Sequence[Obj], pods: Sequence[Obj], index: RevisionIndex, *, now: datetime
) -> Ledger | None:
    """The ledger of a RollingUpdate DaemonSet (None for OnDelete). `pods` are the DaemonSet's own pods and
    `index` its revisions, the current one being the goal."""
    if update_strategy_type(daemonset) != ROLLING_UPDATE:
        return None
    by_name = {r.name(node): node for node in nodes}
    wanted = set(wanted_nodes(daemonset, nodes))
    grouped = pods_by_node(pods)
    max_unavailable, max_surge = rolling_update_values(daemonset)
    budget = compute_budget(max_unavailable, max_surge, len(wanted))
    surge = allows_surge(daemonset)
    walk = sorted(wanted | {name for name, group in grouped.items() if group}, key=natural_key)
    min_ready = r.min_ready_seconds(daemonset)
    users: list[BudgetUse] = []
    waiting: list[str] = []
    free: list[BudgetUse] = []
    updated = 0
    old_left = False
    for name in walk:
        node = by_name.get(name)
        group = oldest_first(grouped.get(name, []))
        live = [pod for pod in group if not is_terminating(pod)]
        new = [pod for pod in live if index.is_updated(pod)]
        old = [pod for pod in live if not index.is_updated(pod)]
        old_left = old_left or bool(old)
        if len(new) > 1 or len(old) > 1:
            users.append(BudgetUse(name, EXTRA_PODS, _extra_message(new, old)))
            continue
        new_ok = bool(new) and is_available(new[0], min_ready, now)
        old_ok = bool(old) and is_available(old[0], min_ready, now)
        if new and not old:
            if new_ok:
                updated += 1
            elif not surge:  # surge mode counts a lone new pod against nothing
                users.append(_pod_use(name, new[0], node, now, min_ready))
            continue
        if surge:
            _surge_entry(name, new, old, new_ok, old_ok, node, now, min_ready, name in wanted, users, waiting, free)
        elif not new and not old:
            users.append(_empty_use(name, group, node, now))
        elif new:  # a new and an old pod: mid-transition
            users.append(BudgetUse(name, SURGING, f"new pod {r.name(new[0])} and old pod {r.name(old[0])} both run"))
        elif not old_ok:
            use = _pod_use(name, old[0], node, now, min_ready)
            free.append(use)
            users.append(BudgetUse(name, OLD_UNAVAILABLE, f"old pod {r.name(old[0])} is unavailable ({use.message})"))
        else:
            # A candidate while the budget lasts; the pass deletes min(left, candidates) of them, which is
            # the same number whatever the order (Go's map order picks which).
            waiting.append(name)
    limit = budget.max_surge if surge else budget.max_unavailable
    spec = str(max_surge if surge else max_unavailable)
    ledger = Ledger(
        namespace=r.namespace(daemonset),
        name=r.name(daemonset),
        surge=surge,
        desired=len(wanted),
        limit=limit,
        spec=spec,
        users=tuple(users),
        waiting=tuple(waiting),
        free=tuple(free),
        updated=updated,
        verdict="",
        reason="",
    )
    verdict, reason = _verdict(ledger, complete=not users and not old_left and updated == len(wanted))
    return replace(ledger, verdict=verdict, reason=reason)


def _surge_entry(
    name: str,
    new: list[Obj],
    old: list[Obj],
    new_ok: bool,
    old_ok: bool,
    node: Obj | None,
    now: datetime,
    min_ready: int,
    should_run: bool,
    users: list[BudgetUse],
    waiting: list[str],
    free: list[BudgetUse],
) -> None:
    """rollingUpdate's surge branch for a node with an old pod (a node without one is manage()'s)."""
    if not old:
        return  # empty, or a lone new pod: manage()'s business, free of surge
    if new:
        if not new_ok:
            users.append(_pod_use(name, new[0], node, now, min_ready))
        return  # an available new pod: the old one goes now
    if not old_ok:
        if should_run:
            free.append(_pod_use(name, old[0], node, now, min_ready))
        return
    if should_run:
        waiting.append(name)


def _verdict(ledger: Ledger, *, complete: bool) -> tuple[str, str]:
    if complete:
        return COMPLETE, ""
    if ledger.next_count or ledger.free or not ledger.users or any(not use.lasting for use in ledger.users):
        return PROGRESSING, ""
    holders = "; ".join(f"{use.node}: {use.message}" for use in ledger.users)
    if not ledger.waiting:
        # Every old pod is gone, but the nodes left will never get an available one without help.
        return STUCK, f"the rollout cannot complete: nodes that will not recover by themselves ({holders})"
    return STUCK, (
        f"{budget_text(ledger)} is used up by nodes that will not recover by themselves ({holders}); "
        f"{len(ledger.waiting)} {'node waits' if len(ledger.waiting) == 1 else 'nodes wait'} with an old pod "
        f"({some_names(ledger.waiting)})"
    )


def budget_text(ledger: Ledger) -> str:
    """ "maxUnavailable 1", "maxUnavailable 25% (2 of 5 nodes, rounded up)"."""
    if ledger.spec.endswith("%"):
        return f"{ledger.budget_name} {ledger.spec} ({ledger.limit} of {ledger.desired} nodes, rounded up)"
    return f"{ledger.budget_name} {ledger.spec}"


def _extra_message(new: Sequence[Obj], old: Sequence[Obj]) -> str:
    names = ", ".join(r.name(pod) for pod in [*new, *old])
    return f"more than one {'new' if len(new) > 1 else 'old'} pod ({names}): the controller deletes the extra ones"


def _empty_use(name: str, group: Sequence[Obj], node: Obj | None, now: datetime) -> BudgetUse:
    """A node without a live pod: none yet, or only terminating ones."""
    terminating = [pod for pod in group if is_terminating(pod)]
    if not terminating:
        return BudgetUse(name, NO_POD, "no pod yet: the controller creates one")
    pod = terminating[0]
    if node is not None and r.is_node_unreachable(node):
        return BudgetUse(
            name,
            TERMINATING_UNREACHABLE,
            f"pod {r.name(pod)} is terminating on a node unreachable since {moment(r.node_ready_since(node))}: "
            "its kubelet never confirms the deletion, so no new pod comes until the node returns, is deleted, "
            "or is tainted node.kubernetes.io/out-of-service",
            r.name(pod),
        )
    return BudgetUse(
        name, TERMINATING, f"pod {r.name(pod)} is terminating; the new pod comes once it is gone", r.name(pod)
    )


def _pod_use(name: str, pod: Obj, node: Obj | None, now: datetime, min_ready: int) -> BudgetUse:
    """Why a live pod is not available, lasting causes first."""
    pod_name = r.name(pod)
    if node is None:
        return BudgetUse(name, NODE_GONE, f"node {name} no longer exists; pod {pod_name} goes with it", pod_name)
    if r.is_node_unreachable(node):
        return BudgetUse(
            name,
            NODE_UNREACHABLE,
            f"node unreachable since {moment(r.node_ready_since(node))}: pod {pod_name} cannot become ready",
            pod_name,
        )
    phase = r.status(pod).get("phase")
    if phase == "Pending" and not r.spec(pod).get("nodeName"):
        if is_unschedulable(pod):
            said = str((r.condition(pod, "PodScheduled") or {}).get("message") or "Unschedulable")
            return BudgetUse(
                name, UNSCHEDULABLE, f"pod {pod_name} is Pending: {short_scheduler_reason(said)}", pod_name
            )
        return BudgetUse(name, NOT_SCHEDULED_YET, f"pod {pod_name} is not scheduled yet", pod_name)
    if phase == "Failed":
        return BudgetUse(
            name, FAILED, f"pod {pod_name} failed; the controller deletes it and creates another", pod_name
        )
    problem = container_problem(pod)
    if problem is not None and problem.reason is not None and not is_ready(pod):
        cause = {POD_CRASH_LOOPING: CRASH_LOOPING, POD_IMAGE_PULL: IMAGE_PULL}.get(
            problem.reason.code, CONTAINER_WAITING
        )
        return BudgetUse(name, cause, f"pod {pod_name}: {problem.reason.message}", pod_name)
    if not r.is_node_ready(node):
        return BudgetUse(name, NODE_NOT_READY, f"node is NotReady: pod {pod_name} cannot become ready", pod_name)
    if not is_ready(pod):
        return BudgetUse(name, STARTING, f"pod {pod_name} is starting (not ready yet)", pod_name)
    return BudgetUse(
        name, NOT_AVAILABLE_YET, f"pod {pod_name} is ready, not yet for minReadySeconds ({min_ready}s)", pod_name
    )
