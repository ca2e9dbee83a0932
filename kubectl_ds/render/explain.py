"""Pure. The explain view: turn explain reports into the table, wide table, JSON or YAML a user reads. No I/O.

The JSON/YAML shape is a documented, stable schema (README "JSON schema"): change it only additively.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.correlation import Correlation
from kubectl_ds.placement.manifest import MISSING_SELECTOR, REMOVED_API_VERSION, SERVED_VERSION, ManifestWarning
from kubectl_ds.placement.reasons import Reason
from kubectl_ds.placement.report import (
    CRASH_LOOPING,
    FAILED,
    IMAGE_PULL,
    MISSING,
    NOT_AVAILABLE,
    NOT_READY,
    PENDING,
    RUNNING,
    TERMINATING,
    UNKNOWN,
    WOULD_CREATE,
    WOULD_PEND,
    Assessment,
    NodeReport,
)
from kubectl_ds.placement.summary import Summary, needs_attention
from kubectl_ds.render.output import to_json, to_yaml
from kubectl_ds.render.table import (
    BAD,
    WARN,
    Cell,
    CellLike,
    TableStyle,
    format_table,
    label_cells,
    label_header,
    natural_key,
    sort_column,
)
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
    node_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # by node name, for -L


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


FAILING_STATES = frozenset({CRASH_LOOPING, IMAGE_PULL, FAILED, MISSING})
WAITING_STATES = frozenset({PENDING, NOT_READY, NOT_AVAILABLE, TERMINATING, UNKNOWN})


def table_headers(*, wide: bool = False, label_keys: Sequence[str] = ()) -> list[str]:
    """The explain table's columns: -o wide adds LABELS and TAINTS, -L one column per label key, all
    before WHY (the long one stays last, where a terminal can wrap it)."""
    headers = ["NODE", "WANTED", "POD", "STATUS", "REVISION"]
    if wide:
        headers += ["LABELS", "TAINTS"]
    headers += [label_header(key) for key in label_keys]
    headers.append("WHY")
    return headers


def status_tone(node: NodeReport) -> str:
    """Red for a failing pod (or none where one should run), yellow for one still on its way."""
    if node.state in FAILING_STATES:
        return BAD
    return WARN if node.state in WAITING_STATES and node.should_run else ""


def why_tone(node: NodeReport) -> str:
    """Colour only a node that needs attention: red when something blocks it or its pod fails, yellow
    otherwise (an old revision, a pod on its way); an excluded, empty node is as intended."""
    if not needs_attention(node):
        return ""
    blocking = any(reason.code in codes.CONTROLLER_CODES | codes.SCHEDULER_CODES for reason in node.reasons)
    return BAD if blocking or node.state in FAILING_STATES else WARN


def node_row(node: NodeReport, *, wide: bool, label_keys: Sequence[str], labels: Mapping[str, str]) -> list[CellLike]:
    row: list[CellLike] = [
        node.name,
        wanted_word(node),
        pod_cell(node),
        Cell(status_cell(node), status_tone(node)),
        revision_cell(node),
    ]
    if wide:
        row += [",".join(node.labels_that_matter) or "-", ",".join(node.taints) or "-"]
    row += label_cells(label_keys, labels)
    row.append(Cell(why_cell(node), why_tone(node)))
    return row


def render_table(
    view: ExplainView,
    *,
    wide: bool = False,
    problems_only: bool = False,
    arrow: str = "→",
    style: TableStyle | None = None,
    label_keys: Sequence[str] = (),
    sort_by: str | None = None,
) -> str:
    """The node table, then the summary line, fixes and notes. Without headers (--no-headers) only the rows,
    as `kubectl get --no-headers` prints them for scripts; the command says what was left out elsewhere."""
    style = style or TableStyle()
    nodes = [node for node in view.assessment.nodes if not problems_only or needs_attention(node)]
    headers = table_headers(wide=wide, label_keys=label_keys)
    rows = [
        node_row(node, wide=wide, label_keys=label_keys, labels=view.node_labels.get(node.name, {})) for node in nodes
    ]
    column = sort_column(headers, sort_by) if sort_by else None
    if column is not None:
        order = sorted(range(len(nodes)), key=lambda index: natural_key(rows[index][column]))
        nodes, rows = [nodes[i] for i in order], [rows[i] for i in order]
    if not style.headers:
        text = format_table(headers, rows, style)
        return text + "\n" if text else ""
    lines = []
    if view.source:
        lines.append(f"Explaining {view.source}")
    if rows:
        lines.append(format_table(headers, rows, style))
    elif problems_only:
        lines.append("No node needs attention.")
    else:
        lines.append("No nodes in the cluster.")
    lines += ["", summary_line(view.summary, arrow=arrow)]
    lines += [f"Correlation: {correlation_text(found)}" for found in view.summary.correlations]
    fixes = fix_lines(nodes)
    if fixes:
        lines += ["", "Fixes:"] + [f"  {fix}" for fix in fixes]
    lines += [f"Note: {note}" for note in view.omitted]
    return "\n".join(lines) + "\n"


def render_names(view: ExplainView, *, problems_only: bool = False) -> str:
    """`-o name`: one `node/NAME` a line for the rows the table would show (with --problems, the nodes to
    look at), ready for `xargs kubectl describe`."""
    nodes = [node for node in view.assessment.nodes if not problems_only or needs_attention(node)]
    return "".join(f"node/{node.name}\n" for node in nodes)


def summary_line(summary: Summary, *, arrow: str = "→") -> str:
    """ "12 nodes → 9 should run: 2 excluded by …, 1 by …; 8 running, 1 Pending on node-7 (…)"."""
    head = f"{summary.nodes} {plural(summary.nodes, 'node')} {arrow} {summary.should_run} should run"
    if summary.excluded:
        parts = [
            f"{count} {'excluded by' if i == 0 else 'by'} {rule}" for i, (rule, count) in enumerate(summary.excluded)
        ]
        head += ": " + ", ".join(parts)
    states = [state_phrase(state, nodes, summary) for state, nodes in summary.states]
    tail = []
    if summary.misscheduled:
        count = len(summary.misscheduled)
        tail.append(
            f"{count} {plural(count, 'pod')} on {plural(count, 'a node', 'nodes')} that should not "
            f"run {plural(count, 'it', 'them')} ({some_names(summary.misscheduled)})"
        )
    return head + ("; " + ", ".join(states) if states else "") + ("; " + ", ".join(tail) if tail else "")


def correlation_text(found: Correlation) -> str:
    """ "all 5 crash-looping nodes are kubernetes.io/arch=arm64; 0 of 40 amd64 nodes fail"."""
    group = "nodes missing a pod" if found.state == MISSING else f"{found.state} nodes"
    others = f"{found.other_value} nodes" if found.other_value else "other nodes"
    if found.other_value == "":
        others = f"nodes with an empty {found.key}"
    text = (
        f"all {found.failing} {group} are {found.key}={found.value}; "
        f"{found.others_failing} of {found.others} {others} fail"
    )
    return text + (f" (they also share {', '.join(found.also)})" if found.also else "")


def correlation_data(found: Correlation) -> dict[str, Any]:
    return {
        "state": found.state,
        "label": f"{found.key}={found.value}",
        "failing": found.failing,
        "others": found.others,
        "othersFailing": found.others_failing,
        "alsoShared": list(found.also),
        "text": correlation_text(found),
    }


def state_phrase(state: str, nodes: Sequence[tuple[str, str]], summary: Summary) -> str:
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
    return {
        "apiVersion": SCHEMA_VERSION,
        "daemonSet": {
            "namespace": view.namespace,
            "name": view.name,
            "revision": assessment.revisions.current_revision,
            "hash": assessment.revisions.current_hash,
        },
        "summary": summary_data(summary),
        "nodes": [node_data(node) for node in nodes],
        "omitted": list(view.omitted),
    }


def summary_data(summary: Summary) -> dict[str, Any]:
    """The schema's `summary` object."""
    counts = summary.counts
    return {
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
        "correlations": [correlation_data(found) for found in summary.correlations],
    }


def node_data(node: NodeReport) -> dict[str, Any]:
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
        "reasons": [reason_data(reason, node.name) for reason in node.reasons],
        "blocking": any(reason.code in codes.CONTROLLER_CODES | codes.SCHEDULER_CODES for reason in node.reasons),
    }


def reason_data(reason: Reason, node: str) -> dict[str, str]:
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
