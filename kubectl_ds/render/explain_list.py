"""Pure. `kubectl ds explain` without NAME: one line per DaemonSet with the controller's counts, as
`kubectl get ds` prints them, and what `kubectl get ds` lacks: WHY the counts fall short, in the words of
explain's summary (failing states with their nodes, old revisions, misscheduled pods)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_ds.placement.report import CRASH_LOOPING, FAILED, IMAGE_PULL, MISSING, RUNNING, WOULD_CREATE
from kubectl_ds.placement.summary import Summary
from kubectl_ds.render.explain import SCHEMA_VERSION, state_phrase, summary_data
from kubectl_ds.render.output import to_data_text
from kubectl_ds.render.table import BAD, WARN, Cell, CellLike, TableStyle, format_table, rows_only, sorted_by
from kubectl_ds.render.text import plural, some_names

_FAILING = frozenset({CRASH_LOOPING, IMAGE_PULL, FAILED, MISSING})


@dataclass(frozen=True)
class DaemonSetLine:
    namespace: str
    name: str
    summary: Summary


@dataclass(frozen=True)
class ExplainListView:
    lines: tuple[DaemonSetLine, ...]
    namespace: str  # "" with -A
    omitted: tuple[str, ...] = ()


def list_headers(*, all_namespaces: bool) -> list[str]:
    """kubectl get ds's counts (DESIRED is NODES: should run / all nodes), then WHY."""
    headers = ["NAME", "NODES", "READY", "UP-TO-DATE", "AVAILABLE", "WHY"]
    return ["NAMESPACE", *headers] if all_namespaces else headers


def why_line(summary: Summary) -> str:
    """What keeps the DaemonSet from being healthy, or "-": explain's summary less the healthy parts."""
    phrases = [
        state_phrase(state, nodes, summary) for state, nodes in summary.states if state not in (RUNNING, WOULD_CREATE)
    ]
    if summary.outdated:
        count = len(summary.outdated)
        phrases.append(f"{count} {plural(count, 'node')} on an old revision ({some_names(summary.outdated)})")
    if summary.misscheduled:
        count = len(summary.misscheduled)
        phrases.append(
            f"{count} {plural(count, 'pod')} on {plural(count, 'a node', 'nodes')} that should not run "
            f"{plural(count, 'it', 'them')} ({some_names(summary.misscheduled)})"
        )
    return "; ".join(phrases) or "-"


def why_tone(summary: Summary) -> str:
    """Red when a wanted node's pod fails or is missing, yellow for anything else unhealthy."""
    if any(state in _FAILING for state, _ in summary.states):
        return BAD
    return WARN if summary.problems else ""


def line_row(line: DaemonSetLine, *, all_namespaces: bool) -> list[CellLike]:
    counts = line.summary.counts
    row: list[CellLike] = [line.namespace] if all_namespaces else []
    row += [
        line.name,
        f"{line.summary.should_run}/{line.summary.nodes}",
        str(counts.ready),
        str(counts.updated),
        str(counts.available),
        Cell(why_line(line.summary), why_tone(line.summary)),
    ]
    return row


def render_list_table(view: ExplainListView, *, style: TableStyle | None = None, sort_by: str | None = None) -> str:
    style = style or TableStyle()
    every = not view.namespace
    headers = list_headers(all_namespaces=every)
    rows = sorted_by(headers, [line_row(line, all_namespaces=every) for line in view.lines], sort_by)
    if not style.headers:
        return rows_only(headers, rows, style)
    if not rows:
        where = "any namespace" if every else f'namespace "{view.namespace}"'
        lines = [f"No DaemonSets found in {where}."]
    else:
        lines = [format_table(headers, rows, style)]
    lines += [f"Note: {note}" for note in view.omitted]
    return "\n".join(lines) + "\n"


def render_list_names(view: ExplainListView) -> str:
    """`-o name`, as `kubectl get ds -o name` prints it (no namespace, even with -A)."""
    return "".join(f"daemonset.apps/{line.name}\n" for line in view.lines)


def list_data(view: ExplainListView) -> dict[str, Any]:
    """`-o json|yaml`: each DaemonSet with explain's summary (the schema's `daemonSet` and `summary`),
    without the per-node detail `explain NAME` gives."""
    return {
        "apiVersion": SCHEMA_VERSION,
        "kind": "DaemonSetSummaryList",
        "items": [
            {
                "daemonSet": {"namespace": line.namespace, "name": line.name},
                "summary": summary_data(line.summary),
                "why": why_line(line.summary),
            }
            for line in view.lines
        ],
        "omitted": list(view.omitted),
    }


def render_list_data(view: ExplainListView, output: str) -> str:
    return to_data_text(list_data(view), output)
