"""Pure. `kubectl ds rollout status`: one view for managed, RollingUpdate and OnDelete DaemonSets.

Managed: the step k of N, phase and reason, from the state annotation and a fresh plan. RollingUpdate:
kubectl's own status line. OnDelete: how many nodes run the newest revision. Always: the per-node
revision map, with the explain reasons for nodes that are stuck.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.placement.report import assess_nodes
from kubectl_ds.placement.revisions import RevisionIndex, index_revisions
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.budget import update_strategy_type
from kubectl_ds.rollout.plan import PlanOptions, parse_canary, plan_rollout
from kubectl_ds.rollout.progress import (
    EXCLUDED,
    MISSING,
    OLD,
    UNAVAILABLE,
    UPDATED,
    count_states,
    daemonset_status_message,
    managed_progress_message,
    node_revision_map,
)
from kubectl_ds.rollout.state import RolloutState


@dataclass(frozen=True)
class NodeLine:
    node: str
    state: str
    revision: int | None
    reason: str


@dataclass(frozen=True)
class StatusView:
    name: str
    kind: str  # "managed", "RollingUpdate", "OnDelete"
    headline: str
    detail: tuple[str, ...]
    nodes: tuple[NodeLine, ...]
    counts: dict[str, int]
    done: bool
    phase: str | None = None
    step: int | None = None
    steps: int | None = None


def rollout_status(daemonset: Obj, nodes: Sequence[Obj], pods: Sequence[Obj], revisions: Sequence[Obj], *,
                   now: datetime) -> StatusView:
    state = st.read_state(daemonset)
    index = index_revisions(daemonset, revisions)
    if state is not None and state.phase != st.PARKED and st.goal_hash(state):
        goal = st.goal_hash(state)
        index = RevisionIndex(by_hash=index.by_hash, current_hash=goal, current_revision=index.by_hash.get(goal),
                              template_generation=None)
    progress = node_revision_map(daemonset, nodes, pods, index, now=now)
    counts = count_states(progress)
    lines = tuple(NodeLine(p.node, p.state, p.revision, "") for p in progress)
    lines = _with_reasons(daemonset, nodes, pods, index, lines, now)
    name = r.name(daemonset)
    if state is not None:
        return _managed(daemonset, state, nodes, pods, index, lines, counts, now)
    kind = update_strategy_type(daemonset)
    if kind == "RollingUpdate":
        message = daemonset_status_message(daemonset)
        return StatusView(name, kind, message.message.rstrip("\n"), (), lines, counts, message.done)
    wanted = sum(count for state_name, count in counts.items() if state_name != EXCLUDED)
    done = counts[UPDATED] == wanted
    headline = (f'daemon set "{name}" uses OnDelete: {counts[UPDATED]} of {wanted} nodes run the newest revision; '
                "old pods are replaced only when deleted (or run: kubectl ds rollout start " + name + " --restart)")
    return StatusView(name, kind, headline, (), lines, counts, done)


def _managed(daemonset: Obj, state: RolloutState, nodes: Sequence[Obj], pods: Sequence[Obj], index: RevisionIndex,
             lines: tuple[NodeLine, ...], counts: dict[str, int], now: datetime) -> StatusView:
    name = r.name(daemonset)
    if state.phase == st.PARKED:
        return StatusView(name, "managed", f"daemonset.apps/{name} parked by kubectl ds rollout pause; resume with: "
                                           f"kubectl ds rollout resume {name}", (), lines, counts, False,
                          phase=state.phase)
    options = PlanOptions(max_unavailable=state.options.max_unavailable, max_surge=state.options.max_surge,
                          step_size=state.options.step_size,
                          canary=parse_canary(state.options.canary) if state.options.canary else None,
                          partition=state.options.partition)
    plan = plan_rollout(daemonset, nodes, pods, index, options, now=now)
    total = state.steps_done + len(plan.steps)
    direction = "rolling back to" if state.direction == st.ROLLBACK else "rolling out"
    target = state.start_revision if state.direction == st.ROLLBACK else state.target_revision
    headline = (f"managed rollout of daemonset.apps/{name}: {direction} revision {target}"
                + (f" ({state.change})" if state.change and state.direction == st.FORWARD else ""))
    detail = [managed_progress_message(total, state.steps_done, counts)]
    phase = state.phase
    if phase == st.RUNNING:
        alive = state.driver_alive(now)
        detail.append(f"running, driven by {state.owner} (heartbeat {state.heartbeat})" if alive else
                      f"running, but its driver's heartbeat is stale ({state.heartbeat or 'never'}); take over "
                      f"with: kubectl ds rollout resume {name}")
    else:
        detail.append(f"{phase}: {state.reason}" if state.reason else phase)
    if plan.partitioned:
        detail.append(f"--partition keeps {len(plan.partitioned)} nodes on the old revision")
    return StatusView(name, "managed", headline, tuple(detail), lines, counts, done=False, phase=phase,
                      step=state.steps_done, steps=total)


def _with_reasons(daemonset: Obj, nodes: Sequence[Obj], pods: Sequence[Obj], index: RevisionIndex,
                  lines: tuple[NodeLine, ...], now: datetime) -> tuple[NodeLine, ...]:
    """Explain's reasons for the nodes that are not where they should be (missing, unavailable, excluded with
    a pod)."""
    stuck = {line.node for line in lines if line.state in (MISSING, UNAVAILABLE)}
    if not stuck:
        return lines
    stuck_nodes = [node for node in nodes if r.name(node) in stuck]
    assessment = assess_nodes(daemonset, stuck_nodes, list(pods), index, now=now)
    reasons = {node.name: "; ".join(reason.message for reason in node.reasons if not reason.is_info)
               for node in assessment.nodes}
    return tuple(NodeLine(line.node, line.state, line.revision, reasons.get(line.node, "")) for line in lines)


def render_status(view: StatusView, *, bar_width: int = 0) -> str:
    lines = [view.headline, *view.detail]
    if bar_width:
        lines.append(progress_bar(view.counts, bar_width))
    from tabulate import tabulate

    rows = [[line.node, line.state, "-" if line.revision is None else str(line.revision), line.reason or "-"]
            for line in view.nodes]
    if rows:
        lines += ["", tabulate(rows, headers=["NODE", "STATE", "REVISION", "WHY"], tablefmt="plain",
                               disable_numparse=True)]
    return "\n".join(lines) + "\n"


def progress_bar(counts: dict[str, int], width: int) -> str:
    wanted = counts[UPDATED] + counts[UNAVAILABLE] + counts[OLD] + counts[MISSING]
    filled = 0 if wanted == 0 else round(width * counts[UPDATED] / wanted)
    return f"[{'#' * filled}{'.' * (width - filled)}] {counts[UPDATED]}/{wanted} updated"


def status_data(view: StatusView) -> dict[str, Any]:
    return {"daemonSet": view.name, "kind": view.kind, "message": view.headline, "detail": list(view.detail),
            "done": view.done, "phase": view.phase, "step": view.step, "steps": view.steps, "counts": view.counts,
            "nodes": [{"name": n.node, "state": n.state, "revision": n.revision, "reason": n.reason}
                      for n in view.nodes]}


def one_line(view: StatusView) -> str:
    """What --watch prints per change when output is not a terminal."""
    counts = view.counts
    return (f"{view.headline} | {counts[UPDATED]} updated, {counts[UNAVAILABLE]} unavailable, {counts[OLD]} old, "
            f"{counts[MISSING]} missing" + (f" | {view.detail[-1]}" if view.detail else ""))
