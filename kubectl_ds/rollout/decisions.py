"""Pure. The decisions of a running managed rollout, each a function of what the runner just read:
which of a step's nodes the budget allows now, which old pods to remove, which nodes are done, must the
rollout halt, and did someone else change the DaemonSet.

The runner (rollout/runner.py) only reads, calls these, and writes. The wording of the reasons that are
stored in the rollout's state (and so shown by `status` from any terminal) lives here, next to the
decision, as explain's reasons live next to their rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from kubectl_ds import resources as r
from kubectl_ds.errors import DsError
from kubectl_ds.placement.pods import container_problem, is_unschedulable, pods_by_node
from kubectl_ds.placement.predicate import node_should_run_daemon_pod, pod_tolerations
from kubectl_ds.placement.report import natural_key
from kubectl_ds.placement.revisions import RevisionIndex
from kubectl_ds.placement.scheduling import scheduler_message, short_scheduler_reason
from kubectl_ds.render.text import moment, plural
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.nodepods import NodePods, pods_on_nodes
from kubectl_ds.rollout.state import RolloutState

# Container states that mean the new pod is failing, not merely starting (docs/rules.md#r-container-states),
# once they persist: a crash loop for RolloutOptions.max_restarts restarts, a pull error for
# image_pull_timeout. An invalid image name never gets better.
CRASH_LOOP = "CrashLoopBackOff"
PULL_ERRORS = ("ImagePullBackOff", "ErrImagePull")
PERMANENT = ("InvalidImageName",)


@dataclass(frozen=True)
class Patience:
    """How long a new pod's trouble may last before it is a failure, not a first attempt."""

    max_restarts: int = 3
    image_pull_timeout: float = 60.0
    unschedulable_timeout: float = 30.0


def held_pods(
    daemonset: Obj, pods: Sequence[Obj], goal: RevisionIndex, now: datetime, names: Sequence[str] | None = None
) -> dict[str, NodePods]:
    """The NodePods of `names` (default: every node that holds a pod of the DaemonSet)."""
    chosen = list(pods_by_node(pods)) if names is None else list(names)
    return pods_on_nodes(chosen, pods, goal, r.min_ready_seconds(daemonset), now)


def done_nodes(held: Mapping[str, NodePods]) -> list[str]:
    """Nodes whose step is over (NodePods.done), in natural name order."""
    return sorted((name for name, node in held.items() if node.done), key=natural_key)


def nodes_with_new_pods(held: Mapping[str, NodePods]) -> list[str]:
    """Nodes where a new pod exists: the ones to watch for failures."""
    return [name for name, node in held.items() if node.new]


def within_budget(step_nodes: Sequence[str], already_unavailable: Sequence[str], max_unavailable: int) -> list[str]:
    """The step's nodes that may be replaced now: those already unavailable cost nothing; the others only
    while fewer than `max_unavailable` nodes are unavailable (the controller's budget,
    docs/rules.md#r-rolling-no-surge). Empty: wait."""
    free = set(already_unavailable)
    costly = [node for node in step_nodes if node not in free]
    room = max_unavailable - len(already_unavailable)
    return [node for node in step_nodes if node in free] + costly[: max(0, room)]


def old_pods_to_remove(held: Mapping[str, NodePods], nodes: Sequence[str]) -> list[Obj]:
    """The live old pods of `nodes`: evicting them is what lets the parked controller create new ones."""
    return [pod for node in nodes if node in held for pod in held[node].old]


def wanted_nodes(daemonset: Obj, nodes: Sequence[Obj]) -> set[str]:
    tolerations = pod_tolerations(daemonset)
    return {
        r.name(node)
        for node in nodes
        if node_should_run_daemon_pod(daemonset, node, tolerations=tolerations).should_run
    }


def pending_nodes(
    held: Mapping[str, NodePods],
    step_nodes: Sequence[str],
    wanted: set[str],
    unreachable: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """The step's nodes that are not done yet. A node that stopped qualifying meanwhile (NotReady taints, a
    label removed) gets no new pod from the controller, so waiting for it would only time out: it drops out
    of the step, as the controller's own rolling update drops it from the desired set. So does a node that
    became unreachable before its new pod came: its old pod never finishes terminating, and the controller
    gives it the new pod when it returns (a new pod there already is a failure: see lost_nodes)."""
    return [
        node
        for node in step_nodes
        if node in wanted and node not in unreachable and not (node in held and held[node].done)
    ]


def unreachable_nodes(nodes: Sequence[Obj]) -> set[str]:
    return {r.name(node) for node in nodes if r.is_node_unreachable(node)}


def lost_nodes(held: Mapping[str, NodePods], nodes: Sequence[Obj]) -> list[str]:
    """Nodes that run a new pod but went NotReady or unreachable: after an update that is a failure signal
    (the new agent may have cut the node off), not something to wait out."""
    by_name = {r.name(node): node for node in nodes}
    return sorted(
        (
            name
            for name, node in held.items()
            if name in by_name and not r.is_node_ready(by_name[name]) and _ran_before(node, by_name[name])
        ),
        key=natural_key,
    )


def _ran_before(node: NodePods, node_object: Obj) -> bool:
    """A new pod the kubelet started (status.startTime) before the node stopped being Ready: the update did
    reach the node. A node down before its new pod came (with surge, the controller creates one there at
    once) has none, and stays out of the rollout like any unreachable node."""
    down_since = r.node_ready_since(node_object)
    for pod in node.new:
        started = r.parse_time(r.status(pod).get("startTime"))
        if started is not None and (down_since is None or started <= down_since):
            return True
    return False


def lost_reason(lost: Sequence[str], nodes: Sequence[Obj]) -> str:
    by_name = {r.name(node): node for node in nodes}
    parts = []
    for name in lost[:5]:
        node = by_name[name]
        what = "unreachable" if r.is_node_unreachable(node) else "NotReady"
        parts.append(f"{name} went {what} (since {moment(r.node_ready_since(node))}) after its pod was updated")
    return "; ".join(parts) + "; a node lost after an update is a failure signal"


def availability_deadline(node: NodePods | None, step_started: datetime, timeout: float) -> datetime:
    """When a node of the step must have an available new pod. The timer starts when the new pod exists
    (its creationTimestamp): under OnDelete the replacement comes only once the old pod is gone, and the old
    one may take its whole terminationGracePeriodSeconds (ingress-nginx: 300 s) to go
    (docs/rules.md#r-termination). Before the new pod exists, the timer starts when the old pod's grace ends
    (the deletionTimestamp the API server set), never before the step began."""
    start = step_started
    if node is not None and node.new:
        created = r.parse_time(r.metadata(node.new[0]).get("creationTimestamp"))
        start = max(start, created) if created is not None else start
    elif node is not None:
        ends = [end for pod in node.terminating if (end := r.parse_time(r.metadata(pod).get("deletionTimestamp")))]
        if ends:
            start = max(start, max(ends))
    return start + timedelta(seconds=timeout)


@dataclass(frozen=True)
class Terminating:
    node: str
    pod: str
    grace_ends: datetime | None  # its deletionTimestamp: by then the kubelet has killed it
    grace_seconds: int | None


# A pod still terminating after this long is worth naming: most stop within a second or two of SIGTERM.
SLOW_TO_STOP = timedelta(seconds=5)


def terminating_old_pods(held: Mapping[str, NodePods], nodes: Sequence[str], now: datetime) -> list[Terminating]:
    """Old pods the step has been waiting on to go away for a while (a pending node with no new pod yet)."""
    waits = []
    for name in nodes:
        node = held.get(name)
        if node is None or node.new:
            continue
        for pod in node.terminating:
            grace = r.metadata(pod).get("deletionGracePeriodSeconds")
            ends = r.parse_time(r.metadata(pod).get("deletionTimestamp"))
            since = ends - timedelta(seconds=int(grace)) if ends is not None and grace is not None else None
            if since is None or now - since >= SLOW_TO_STOP:
                waits.append(Terminating(name, r.name(pod), ends, int(grace) if grace is not None else None))
    return waits


@dataclass(frozen=True)
class PodFailure:
    node: str
    pod: Obj
    message: str  # "" for an unschedulable pod: its message comes from the scheduler's events


def failing_pods(
    held: Mapping[str, NodePods], nodes: Sequence[str], patience: Patience, now: datetime
) -> list[PodFailure]:
    """New pods on `nodes` whose trouble persists: a crash loop of `max_restarts` restarts (agents often exit
    once while a dependency on the node restarts), pull errors for `image_pull_timeout` since the pod started
    (registries throttle hundreds of parallel pulls), Unschedulable for `unschedulable_timeout` with no node
    nominated (the scheduler writes Unschedulable on the very attempt that preempts room for the pod)."""
    failures = []
    for node in nodes:
        for pod in held[node].new if node in held else ():
            problem = container_problem(pod)
            if (
                problem is not None
                and problem.reason is not None
                and (
                    problem.status in PERMANENT
                    or (problem.status == CRASH_LOOP and restarts(pod) >= patience.max_restarts)
                    or (problem.status in PULL_ERRORS and _lasted(started_at(pod), now, patience.image_pull_timeout))
                )
            ):
                failures.append(PodFailure(node, pod, problem.reason.message))
            elif (
                is_unschedulable(pod)
                and not r.status(pod).get("nominatedNodeName")
                and _lasted(
                    r.parse_time((r.condition(pod, "PodScheduled") or {}).get("lastTransitionTime")) or started_at(pod),
                    now,
                    patience.unschedulable_timeout,
                )
            ):
                failures.append(PodFailure(node, pod, ""))
    return failures


def restarts(pod: Obj) -> int:
    statuses = [*(r.status(pod).get("initContainerStatuses") or []), *(r.status(pod).get("containerStatuses") or [])]
    return max((int(status.get("restartCount") or 0) for status in statuses), default=0)


def started_at(pod: Obj) -> datetime | None:
    """When the kubelet took the pod on (status.startTime), else when it was created."""
    return r.parse_time(r.status(pod).get("startTime")) or r.parse_time(r.metadata(pod).get("creationTimestamp"))


def _lasted(since: datetime | None, now: datetime, seconds: float) -> bool:
    return since is None or (now - since).total_seconds() >= seconds


def halt_reason(failures: Sequence[PodFailure], events: Sequence[Obj]) -> str:
    """One reason naming every failing node, with the scheduler's words for unschedulable pods."""
    parts = []
    for failure in failures:
        if failure.message:
            parts.append(f"{failure.node}: {failure.message}")
        else:
            message = scheduler_message(failure.pod, events) or "unschedulable"
            parts.append(f"{failure.node}: pod {r.name(failure.pod)} is Pending: {short_scheduler_reason(message)}")
    return "; ".join(parts)


def unmanaged(daemonset: Obj) -> Obj:
    """The DaemonSet, checked again just before the first write: two `start`s racing must not both win."""
    state = st.read_state(daemonset)
    if state is not None:
        name = r.name(daemonset)
        raise DsError(
            f'daemonset "{name}" already has a managed rollout ({state.phase}); use kubectl ds rollout '
            f"resume or abort {name}"
        )
    return daemonset


def same_template(stored: object, snapshot: object) -> bool:
    """Whether a revision's template is `stored` as the API server now stores it: every field of `stored`
    holds the same value in `snapshot`, which may carry fields the server defaults since (an upgrade, a
    mutating webhook). The controller matches revisions by bytes, so it snapshots such a template again
    under a new hash (docs/rules.md#r-revisions)."""
    if isinstance(stored, dict):
        return isinstance(snapshot, dict) and all(
            key in snapshot and same_template(value, snapshot[key]) for key, value in stored.items()
        )
    if isinstance(stored, list):
        return (
            isinstance(snapshot, list)
            and len(stored) == len(snapshot)
            and all(same_template(a, b) for a, b in zip(stored, snapshot, strict=True))
        )
    return stored == snapshot


def foreign_change(daemonset: Obj, state: RolloutState, current: tuple[str, int], *, surging: bool) -> str | None:
    """What someone else changed behind the rollout's back, or None. Two things would make the controller
    act on its own: a strategy other than the parked OnDelete (except while we hand it a surge step), and a
    template that is no longer the goal (once the controller has observed it and snapshotted a revision)."""
    if not surging and not st.is_parked(daemonset):
        return f"its updateStrategy was changed to {json.dumps(r.spec(daemonset).get('updateStrategy'))}"
    # A contained halt put the starting template back on purpose.
    goal = state.start_hash if state.contained else st.goal_hash(state)
    observed = int(r.status(daemonset).get("observedGeneration") or 0) >= int(
        r.metadata(daemonset).get("generation") or 0
    )
    if goal and current[0] and current[0] != goal and observed:
        expected = state.start_revision if state.direction == st.ROLLBACK or state.contained else state.target_revision
        return f"its pod template was changed (revision {expected} -> {current[1]})"
    return None


def resnapshotted(state: RolloutState, current: tuple[str, int]) -> RolloutState:
    """The state with its goal moved to `current`, the controller's new snapshot of the same template; pods on
    the goal's earlier hash count as on the goal (docs/rules.md#r-revisions)."""
    earlier = st.goal_hash(state)
    if state.direction == st.ROLLBACK:
        moved = replace(state, start_hash=current[0], start_revision=current[1])
    else:
        moved = replace(state, target_hash=current[0], target_revision=current[1])
    return replace(moved, equivalents=(*state.equivalents, earlier))


def stuck_notes(daemonset: Obj, nodes: Sequence[Obj], names: Sequence[str]) -> str:
    """The controller-side reasons (explain's) why stuck nodes get no pod, as " (node: why; ...)" or ""."""
    by_name = {r.name(node): node for node in nodes}
    notes = []
    for name in names[:5]:
        if name in by_name:
            reasons = [reason.message for reason in node_should_run_daemon_pod(daemonset, by_name[name]).reasons]
            if reasons:
                notes.append(f"{name}: {'; '.join(reasons)}")
    return (" (" + "; ".join(notes) + ")") if notes else ""


# --- the reasons a rollout stops with (stored in its state) ----------------------------------------------


def budget_exhausted(already_unavailable: Sequence[str], max_unavailable: int) -> str:
    count = len(already_unavailable)
    return (
        f"budget exhausted: {count} {plural(count, 'node')} unavailable ({', '.join(already_unavailable[:5])}) "
        f"and --max-unavailable is {max_unavailable}"
    )


def not_available_in_time(timeout: float, pending: Sequence[str], notes: str) -> str:
    return f"new pods not available within {timeout:g}s on {', '.join(pending[:5])}" + notes


def surge_incomplete(timeout: float, done: int, wanted: int) -> str:
    return f"surge step not complete after {timeout:g}s ({done} of {wanted} nodes updated and available)"


def eviction_refused(pod: Obj, refusal: str) -> str:
    return (
        f"cannot evict pod {r.name(pod)}: a PodDisruptionBudget forbids it ({refusal}); retry later, or use "
        "--delete to bypass it"
    )


def eviction_blocked(pod: Obj, why: str) -> str:
    return f"cannot evict pod {r.name(pod)}: {why}"


def stopped_after_steps(count: int) -> str:
    return f"stopped after {count} {plural(count, 'step')} (--steps)"


def partition_holds(partitioned: Sequence[str], start_revision: int) -> str:
    count = len(partitioned)
    return f"--partition: {count} {plural(count, 'node')} stay on revision {start_revision}"


def scope_holds(out_of_scope: Sequence[str], selector: str, start_revision: int) -> str:
    count = len(out_of_scope)
    return (
        f"--nodes {selector}: {count} {plural(count, 'node')} outside it stay on revision {start_revision}; "
        "resume with another --nodes, or --nodes '' for every node"
    )


def stopped_by_error(error: Exception, name: str) -> str:
    """The reason stored when an error ends the driver: the error in one line, and what to do."""
    what = error.message if isinstance(error, DsError) else f"unexpected {type(error).__name__}: {error}"
    return f"the driver stopped on an error: {what}; once it is fixed, continue with: kubectl ds rollout resume {name}"


DECLINED = "declined at the confirmation prompt"
PAUSED_BY_REQUEST = "paused by request"
PAUSED_BY_PAUSE = "paused by kubectl ds rollout pause"
INTERRUPTED = "interrupted"
