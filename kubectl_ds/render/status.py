"""Pure. The `rollout status` view: headline, detail lines, the per-node table, the --watch progress bar
and one-line form, and the JSON shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubectl_ds.render.ledger import ledger_data, ledger_lines
from kubectl_ds.render.table import (
    BAD,
    Cell,
    CellLike,
    TableStyle,
    format_table,
    label_cells,
    label_header,
    rows_only,
    sorted_by,
)
from kubectl_ds.render.text import plural, some_names
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.nodepods import MISSING, OLD, UNAVAILABLE, UPDATED
from kubectl_ds.rollout.status import RolloutStatus


@dataclass(frozen=True)
class StatusText:
    headline: str
    detail: tuple[str, ...]


def managed_progress_message(plan_total_steps: int, step_done: int, counts: Mapping[str, int]) -> str:
    """One line for the managed rollout, e.g. `step 2 of 5: 4 of 10 nodes updated, 1 unavailable`.

    "updated" counts every node on the current revision, available or not; the nodes among them that are
    not available yet, and wanted nodes without a pod, are then named as such. Excluded nodes are not counted.
    """
    on_new = counts.get(UPDATED, 0) + counts.get(UNAVAILABLE, 0)
    wanted = on_new + counts.get(OLD, 0) + counts.get(MISSING, 0)
    parts = [f"step {step_done} of {plan_total_steps}: {on_new} of {wanted} {plural(wanted, 'node')} updated"]
    if counts.get(UNAVAILABLE, 0):
        parts.append(f"{counts[UNAVAILABLE]} unavailable")
    if counts.get(MISSING, 0):
        parts.append(f"{counts[MISSING]} without a pod")
    return ", ".join(parts)


def status_text(status: RolloutStatus) -> StatusText:
    name = status.name
    state = status.state
    if state is None:
        if status.kubectl_message:
            return StatusText(status.kubectl_message, tuple(ledger_lines(status.ledger)) if status.ledger else ())
        return StatusText(
            f'daemon set "{name}" uses OnDelete: {status.counts[UPDATED]} of {status.wanted} nodes run '
            "the newest revision; old pods are replaced only when deleted (or run: kubectl ds rollout "
            f"start {name} --restart)",
            (),
        )
    if state.phase == st.PARKED:
        return StatusText(
            f"daemonset.apps/{name} parked by kubectl ds rollout pause; resume with: kubectl ds rollout resume {name}",
            (),
        )
    direction = "rolling back to" if state.direction == st.ROLLBACK else "rolling out"
    target = state.start_revision if state.direction == st.ROLLBACK else state.target_revision
    headline = f"managed rollout of daemonset.apps/{name}: {direction} revision {target}" + (
        f" ({state.change})" if state.change and state.direction == st.FORWARD else ""
    )
    detail = [managed_progress_message(status.steps or 0, status.step or 0, status.counts)]
    if state.phase == st.RUNNING:
        detail.append(
            f"running, driven by {state.owner} (heartbeat {state.heartbeat})"
            if status.driver_alive
            else f"running, but its driver's heartbeat is stale ({state.heartbeat or 'never'}); take over "
            f"with: kubectl ds rollout resume {name}"
        )
    else:
        detail.append(f"{state.phase}: {state.reason}" if state.reason else state.phase)
    if state.contained:
        detail.append(
            f"contained: the template is revision {state.start_revision}'s again while parked, so nodes "
            "that join or recreate a pod get the known-good one; resume re-applies the target, abort "
            "rolls back"
        )
    if state.gate_step and state.direction == st.FORWARD:  # rollout/gates.py
        bake = f"; its bake began at {state.bake_started}" if state.bake_started else ""
        detail.append(
            f"gates of step {state.gate_step} ({some_names(state.gate_nodes)}) not passed yet{bake}; they run "
            "first on resume"
        )
    if status.joined:
        detail.append(f"joined during the rollout: {some_names(status.joined)}")
    if status.partitioned:
        detail.append(f"--partition keeps {status.partitioned} nodes on the old revision")
    return StatusText(headline, tuple(detail))


STATUS_HEADERS = ("NODE", "STATE", "REVISION", "WHY")


def status_headers(label_keys: Sequence[str] = ()) -> list[str]:
    """The node table's columns; -L label columns go before WHY."""
    return [*STATUS_HEADERS[:-1], *(label_header(key) for key in label_keys), STATUS_HEADERS[-1]]


def render_status(
    status: RolloutStatus,
    *,
    bar_width: int = 0,
    style: TableStyle | None = None,
    label_keys: Sequence[str] = (),
    labels: Mapping[str, Mapping[str, str]] | None = None,
    sort_by: str | None = None,
) -> str:
    """Headline, detail, bar and the node table; --no-headers prints the rows alone. A node without an
    available pod (unavailable, missing) is red where colour is on: the words already say it is failing."""
    style = style or TableStyle()
    headers = status_headers(label_keys)
    rows: list[Sequence[CellLike]] = []
    for line in status.nodes:
        tone = BAD if line.state in (UNAVAILABLE, MISSING) else ""
        revision = "-" if line.revision is None else str(line.revision)
        rows.append(
            [
                line.node,
                Cell(line.state, tone),
                revision,
                *label_cells(label_keys, (labels or {}).get(line.node, {})),
                Cell(line.reason or "-", tone if line.reason else ""),
            ]
        )
    rows = sorted_by(headers, rows, sort_by)
    if not style.headers:
        return rows_only(headers, rows, style)
    text = status_text(status)
    lines = [text.headline, *text.detail]
    if bar_width:
        lines.append(progress_bar(status.counts, bar_width))
    if rows:
        lines += ["", format_table(headers, rows, style)]
    return "\n".join(lines) + "\n"


def progress_bar(counts: Mapping[str, int], width: int) -> str:
    wanted = counts[UPDATED] + counts[UNAVAILABLE] + counts[OLD] + counts[MISSING]
    filled = 0 if wanted == 0 else round(width * counts[UPDATED] / wanted)
    return f"[{'#' * filled}{'.' * (width - filled)}] {counts[UPDATED]}/{wanted} updated"


def status_data(status: RolloutStatus) -> dict[str, Any]:
    text = status_text(status)
    return {
        "daemonSet": status.name,
        "kind": status.kind,
        "message": text.headline,
        "detail": list(text.detail),
        "done": status.done,
        "phase": status.phase,
        "step": status.step,
        "steps": status.steps,
        "counts": status.counts,
        "ledger": ledger_data(status.ledger) if status.ledger else None,
        "nodes": [{"name": n.node, "state": n.state, "revision": n.revision, "reason": n.reason} for n in status.nodes],
    }


def one_line(status: RolloutStatus) -> str:
    """What --watch prints per change when output is not a terminal."""
    counts = status.counts
    text = status_text(status)
    return (
        f"{text.headline} | {counts[UPDATED]} updated, {counts[UNAVAILABLE]} unavailable, {counts[OLD]} old, "
        f"{counts[MISSING]} missing" + (f" | {text.detail[-1]}" if text.detail else "")
    )


def not_done_message(status: RolloutStatus, timeout: str) -> str:
    """The error line past `rollout status --timeout`: what it waited for, and the blocker when there is one."""
    name = status.name
    if status.ledger is not None and status.ledger.stuck:
        why = f"stuck: {status.ledger.reason}"
    else:
        counts = status.counts
        why = f"{counts[UPDATED]} of {status.wanted} nodes updated and available"
    return f'timed out after {timeout} waiting for daemon set "{name}" to roll out: {why}'
