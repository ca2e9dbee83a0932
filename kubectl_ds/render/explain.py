"""Pure. The explain view: turn explain reports into the table, wide table, JSON or YAML a user reads. No I/O.

The JSON/YAML shape is a documented, stable schema (README "JSON schema"): change it only additively.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.manifest import MISSING_SELECTOR, REMOVED_API_VERSION, SERVED_VERSION, ManifestWarning
from kubectl_ds.placement.reasons import Reason
from kubectl_ds.placement.report import (
    MISSING,
    RUNNING,
    UNKNOWN,
    WOULD_CREATE,
    WOULD_PEND,
    Assessment,
    NodeReport,
)
from kubectl_ds.placement.summary import Summary, needs_attention
from kubectl_ds.render.output import to_json, to_yaml
from kubectl_ds.render.text import MAX_NAMES, plural, some_names

SCHEMA_VERSION = "kubectl-ds/v1"


@dataclass(frozen=True)
class ExplainView:
    """Everything the renderers need, in one value."""

    namespace: str
    name: str
    assessment: Assessment
    summary: Summary
    omitted: tuple[str, ...] = ()
    source: str = ""  # "" for a live DaemonSet, else e.g. "manifest ds.yaml (not applied)"


def wanted_word(node: NodeReport) -> str:
    if node.verdict.should_run:
        return "yes"
    return "no (keep)" if node.verdict.should_continue_running else "no"


def pod_cell(node: NodeReport) -> str:
    primary = node.primary_pod
    if primary is None:
        return "-"
    extra = len(node.pods) - 1
    return f"{primary.name} (+{extra})" if extra else primary.name


def status_cell(node: NodeReport) -> str:
    if node.state == UNKNOWN:
        return "?"
    primary = node.primary_pod
    if primary is None:
        return "Missing" if node.should_run and node.state not in (WOULD_CREATE, WOULD_PEND) else "-"
    return primary.status


def revision_cell(node: NodeReport) -> str:
    primary = node.primary_pod
    if primary is None:
        return "-"
    number = str(primary.revision) if primary.revision is not None else "?"
    return number if primary.updated else f"{number} (old)"


def why_cell(node: NodeReport) -> str:
    return "; ".join(reason.message for reason in node.reasons) or "-"


def render_table(view: ExplainView, *, wide: bool = False, problems_only: bool = False, arrow: str = "→") -> str:
    nodes = [node for node in view.assessment.nodes if not problems_only or needs_attention(node)]
    headers = ["NODE", "WANTED", "POD", "STATUS", "REVISION"]
    if wide:
        headers += ["LABELS", "TAINTS"]
    headers.append("WHY")
    rows = []
    for node in nodes:
        row = [node.name, wanted_word(node), pod_cell(node), status_cell(node), revision_cell(node)]
        if wide:
            row += [",".join(node.labels_that_matter) or "-", ",".join(node.taints) or "-"]
        row.append(why_cell(node))
        rows.append(row)
    lines = []
    if view.source:
        lines.append(f"Explaining {view.source}")
    if rows:
        from tabulate import tabulate  # only a table pays for it (it loads importlib.metadata): not --help

        lines.append(tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True))
    elif problems_only:
        lines.append("No node needs attention.")
    else:
        lines.append("No nodes in the cluster.")
    lines += ["", summary_line(view.summary, arrow=arrow)]
    fixes = fix_lines(nodes)
    if fixes:
        lines += ["", "Fixes:"] + [f"  {fix}" for fix in fixes]
    lines += [f"Note: {note}" for note in view.omitted]
    return "\n".join(lines) + "\n"


def summary_line(summary: Summary, *, arrow: str = "→") -> str:
    """ "12 nodes → 9 should run: 2 excluded by …, 1 by …; 8 running, 1 Pending on node-7 (…)"."""
    head = f"{summary.nodes} {plural(summary.nodes, 'node')} {arrow} {summary.should_run} should run"
    if summary.excluded:
        parts = [
            f"{count} {'excluded by' if i == 0 else 'by'} {rule}" for i, (rule, count) in enumerate(summary.excluded)
        ]
        head += ": " + ", ".join(parts)
    states = [_state_phrase(state, nodes, summary) for state, nodes in summary.states]
    tail = []
    if summary.misscheduled:
        count = len(summary.misscheduled)
        tail.append(
            f"{count} {plural(count, 'pod')} on {plural(count, 'a node', 'nodes')} that should not "
            f"run {plural(count, 'it', 'them')} ({some_names(summary.misscheduled)})"
        )
    return head + ("; " + ", ".join(states) if states else "") + ("; " + ", ".join(tail) if tail else "")


def _state_phrase(state: str, nodes: Sequence[tuple[str, str]], summary: Summary) -> str:
    count = len(nodes)
    if state == RUNNING:
        phrase = f"{count} running"
        if summary.outdated:
            phrase += f" ({len(summary.outdated)} on an old revision)"
        return phrase
    if state == UNKNOWN:
        return f"{count} with unknown pod state"
    if state == WOULD_CREATE:
        return f"{count} would get a new pod"
    label = "missing a pod" if state == MISSING else state
    shown = [name + (f" ({reason})" if reason and reason != state else "") for name, reason in nodes[:MAX_NAMES]]
    more = f" and {count - MAX_NAMES} more" if count > MAX_NAMES else ""
    return f"{count} {label} on {', '.join(shown)}{more}"


def fix_lines(nodes: Sequence[NodeReport]) -> list[str]:
    """One fix hint per rule, naming the nodes it would admit."""
    by_rule: dict[tuple[str, str], tuple[Reason, list[str]]] = {}
    for node in nodes:
        for reason in node.reasons:
            if reason.hint:
                by_rule.setdefault((reason.code, reason.rule), (reason, []))[1].append(node.name)
    lines = []
    for (_, rule), (reason, names) in by_rule.items():
        hint = reason.hint_for(names[0] if len(names) == 1 else "NODE")
        lines.append(f"{rule} ({some_names(names)}): {hint}")
    return lines


# --- data output -----------------------------------------------------------------------------------


def to_data(view: ExplainView, *, problems_only: bool = False) -> dict[str, Any]:
    assessment = view.assessment
    summary = view.summary
    nodes = [node for node in assessment.nodes if not problems_only or needs_attention(node)]
    counts = summary.counts
    return {
        "apiVersion": SCHEMA_VERSION,
        "daemonSet": {
            "namespace": view.namespace,
            "name": view.name,
            "revision": assessment.revisions.current_revision,
            "hash": assessment.revisions.current_hash,
        },
        "summary": {
            "nodes": summary.nodes,
            "shouldRun": summary.should_run,
            "excluded": [{"rule": rule, "nodes": count} for rule, count in summary.excluded],
            "states": [
                {"state": state, "nodes": [{"name": name, "reason": reason} for name, reason in nodes]}
                for state, nodes in summary.states
            ],
            "outdated": list(summary.outdated),
            "misscheduled": list(summary.misscheduled),
            "problems": summary.problems,
            "status": {
                "desiredNumberScheduled": counts.desired,
                "currentNumberScheduled": counts.current,
                "numberReady": counts.ready,
                "updatedNumberScheduled": counts.updated,
                "numberAvailable": counts.available,
                "numberMisscheduled": counts.misscheduled,
            },
            "text": summary_line(summary, arrow="->"),
        },
        "nodes": [_node_data(node) for node in nodes],
        "omitted": list(view.omitted),
    }


def _node_data(node: NodeReport) -> dict[str, Any]:
    return {
        "name": node.name,
        "shouldRun": node.verdict.should_run,
        "shouldContinueRunning": node.verdict.should_continue_running,
        "state": node.state or None,
        "pods": [
            {
                "name": pod.name,
                "phase": pod.phase,
                "ready": pod.ready,
                "available": pod.available,
                "revision": pod.revision,
                "updated": pod.updated,
                "status": pod.status,
                "terminating": pod.terminating,
            }
            for pod in node.pods
        ],
        "reasons": [_reason_data(reason, node.name) for reason in node.reasons],
        "blocking": any(reason.code in codes.CONTROLLER_CODES | codes.SCHEDULER_CODES for reason in node.reasons),
    }


def _reason_data(reason: Reason, node: str) -> dict[str, str]:
    data = {"code": reason.code, "message": reason.message}
    if reason.hint:
        data["hint"] = reason.hint_for(node)
    if reason.detail:
        data["detail"] = reason.detail
    return data


def render_json(view: ExplainView, *, problems_only: bool = False) -> str:
    return to_json(to_data(view, problems_only=problems_only))


def render_yaml(view: ExplainView, *, problems_only: bool = False) -> str:
    return to_yaml(to_data(view, problems_only=problems_only))


def manifest_warning_lines(warnings: Sequence[ManifestWarning]) -> list[str]:
    """kubectl's `Warning: ...` lines (on stderr) for a manifest the API server would reject as written."""
    lines = []
    for warning in warnings:
        if warning.code == REMOVED_API_VERSION:
            lines.append(
                f'Warning: DaemonSet "{warning.name}" is {warning.api_version}, which the API server no longer '
                f"serves (removed in Kubernetes {warning.removed_in}) and would reject; "
                f"use apiVersion: {SERVED_VERSION}"
            )
        elif warning.code == MISSING_SELECTOR:
            labels = ", ".join(f"{key}: {value}" for key, value in warning.labels)
            lines.append(
                f'Warning: DaemonSet "{warning.name}" has no spec.selector, which {SERVED_VERSION} requires: the API '
                f"server would reject it; add spec.selector.matchLabels {{{labels}}} (the pod template's labels, "
                "which this explanation used)"
            )
    return lines
