"""Pure. `kubectl ds rollout status`: what one look at a DaemonSet tells, for managed, RollingUpdate and
OnDelete DaemonSets alike. The words are render/status.py's.

Managed: the step k of N, phase and reason, from the state annotation and a fresh plan. RollingUpdate:
kubectl's own status line. OnDelete: how many nodes run the newest revision. Always: the per-node
revision map, with the explain reasons for nodes that are stuck.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kubectl_ds import resources as r
from kubectl_ds.placement.report import assess_nodes
from kubectl_ds.placement.revisions import RevisionIndex, index_revisions
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.ledger import Ledger, budget_ledger
from kubectl_ds.rollout.nodepods import EXCLUDED, MISSING, UNAVAILABLE, UPDATED
from kubectl_ds.rollout.options import plan_options
from kubectl_ds.rollout.plan import plan_rollout
from kubectl_ds.rollout.progress import count_states, daemonset_status_message, node_revision_map
from kubectl_ds.rollout.state import RolloutState
from kubectl_ds.strategy import ROLLING_UPDATE, update_strategy_type

MANAGED = "managed"


@dataclass(frozen=True)
class NodeLine:
    node: str
    state: str
    revision: int | None
    reason: str


@dataclass(frozen=True)
class RolloutStatus:
    name: str
    kind: str  # "managed", "RollingUpdate", "OnDelete"
    nodes: tuple[NodeLine, ...]
    counts: dict[str, int]
    done: bool
    kubectl_message: str = ""  # RollingUpdate: the line kubectl rollout status prints
    state: RolloutState | None = None  # managed
    step: int | None = None
    steps: int | None = None
    partitioned: int = 0  # managed: nodes --partition keeps on the old revision
    driver_alive: bool = False  # managed, running: its driver's heartbeat is fresh
    joined: tuple[str, ...] = ()  # managed: nodes created after the rollout started
    ledger: Ledger | None = None  # RollingUpdate driven by the controller: its budget (docs/rules.md#r-ledger)

    @property
    def phase(self) -> str | None:
        return self.state.phase if self.state is not None else None

    @property
    def wanted(self) -> int:
        return sum(count for state, count in self.counts.items() if state != EXCLUDED)


def rollout_status(
    daemonset: Obj, nodes: Sequence[Obj], pods: Sequence[Obj], revisions: Sequence[Obj], *, now: datetime
) -> RolloutStatus:
    state = st.read_state(daemonset)
    index = index_revisions(daemonset, revisions)
    if state is not None and state.phase != st.PARKED and st.goal_hash(state):
        index = st.goal_index(index, state)
    progress = node_revision_map(daemonset, nodes, pods, index, now=now)
    counts = count_states(progress)
    lines = tuple(NodeLine(p.node, p.state, p.revision, "") for p in progress)
    lines = _with_reasons(daemonset, nodes, pods, index, lines, now)
    name = r.name(daemonset)
    if state is not None:
        return _managed(daemonset, state, nodes, pods, index, lines, counts, now)
    kind = update_strategy_type(daemonset)
    if kind == ROLLING_UPDATE:
        message = daemonset_status_message(daemonset)
        return RolloutStatus(
            name,
            kind,
            lines,
            counts,
            message.done,
            kubectl_message=message.message.rstrip("\n"),
            ledger=budget_ledger(daemonset, nodes, pods, index, now=now),
        )
    wanted = sum(count for state_name, count in counts.items() if state_name != EXCLUDED)
    return RolloutStatus(name, kind, lines, counts, done=counts[UPDATED] == wanted)


def _managed(
    daemonset: Obj,
    state: RolloutState,
    nodes: Sequence[Obj],
    pods: Sequence[Obj],
    index: RevisionIndex,
    lines: tuple[NodeLine, ...],
    counts: dict[str, int],
    now: datetime,
) -> RolloutStatus:
    name = r.name(daemonset)
    if state.phase == st.PARKED:
        return RolloutStatus(name, MANAGED, lines, counts, False, state=state)
    plan = plan_rollout(daemonset, nodes, pods, index, plan_options(state.options), now=now)
    started = r.parse_time(state.started_at)
    joined = tuple(
        r.name(node)
        for node in nodes
        if started is not None
        and (created := r.parse_time(r.metadata(node).get("creationTimestamp"))) is not None
        and created > started
    )
    return RolloutStatus(
        name,
        MANAGED,
        lines,
        counts,
        done=False,
        state=state,
        step=state.steps_done,
        steps=state.steps_done + len(plan.steps),
        partitioned=len(plan.partitioned),
        driver_alive=state.driver_alive(now),
        joined=joined,
    )


def _with_reasons(
    daemonset: Obj,
    nodes: Sequence[Obj],
    pods: Sequence[Obj],
    index: RevisionIndex,
    lines: tuple[NodeLine, ...],
    now: datetime,
) -> tuple[NodeLine, ...]:
    """Explain's reasons for the nodes that are not where they should be (missing, unavailable)."""
    stuck = {line.node for line in lines if line.state in (MISSING, UNAVAILABLE)}
    if not stuck:
        return lines
    stuck_nodes = [node for node in nodes if r.name(node) in stuck]
    assessment = assess_nodes(daemonset, stuck_nodes, list(pods), index, now=now)
    reasons = {
        node.name: "; ".join(reason.message for reason in node.reasons if not reason.is_info)
        for node in assessment.nodes
    }
    return tuple(NodeLine(line.node, line.state, line.revision, reasons.get(line.node, "")) for line in lines)
