"""Pure. The node view (`kubectl ds node`): the node's facts, then one row per DaemonSet that should run
there, runs there or keeps a pod there, with explain's words for each; the what-if column; the --wait
progress lines; and the NodeReport JSON/YAML, whose daemonSets[] entries are explain's node entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubectl_ds.placement import node_change as change_outcomes
from kubectl_ds.placement.node_change import NodeChange
from kubectl_ds.placement.node_report import DaemonSetOnNode, NodeAssessment, NodeFacts
from kubectl_ds.placement.report import NodeReport
from kubectl_ds.render.explain import (
    SCHEMA_VERSION,
    node_data,
    pod_cell,
    reason_data,
    revision_cell,
    status_cell,
    wanted_word,
)
from kubectl_ds.render.output import to_data_text
from kubectl_ds.render.text import MAX_NAMES, count, duration, plural, some_names

KIND = "NodeReport"
UNTIL_UP_WANTED = "no (until up)"  # excluded only by taints a component removes once the node is up


@dataclass(frozen=True)
class NodeView:
    """One node: now, and (what-if) after the change."""

    assessment: NodeAssessment
    changed: NodeAssessment | None = None
    change: NodeChange | None = None
    scope: str = ""  # 'in namespace "logging"', "in all namespaces"

    def rows(self) -> list[tuple[DaemonSetOnNode, DaemonSetOnNode | None]]:
        after = {ds.key: ds for ds in self.changed.daemonsets} if self.changed else {}
        return [
            (ds, after.get(ds.key))
            for ds in self.assessment.daemonsets
            if ds.relevant or (ds.key in after and after[ds.key].relevant)
        ]


def facts_lines(facts: NodeFacts) -> list[str]:
    state = facts.ready_text + (", cordoned" if facts.unschedulable else "")
    taints = [
        f"{fact.taint}" + (f" (managed by {fact.managed_by})" if fact.managed_by else "") for fact in facts.taints
    ]
    lines = [f"Node {facts.name}: {state}", f"Taints: {', '.join(taints) if taints else '<none>'}"]
    if facts.legacy_labels:
        lines.append(f"Labels: {facts.legacy_labels}")
    return lines


def _why(report: NodeReport) -> str:
    """explain's WHY without the node facts the header already states (NotReady, cordoned)."""
    return "; ".join(reason.message for reason in report.reasons if not reason.is_info) or "-"


def _wanted(ds: DaemonSetOnNode) -> str:
    return UNTIL_UP_WANTED if ds.once_up else wanted_word(ds.report)


def _outcome(before: DaemonSetOnNode, after: DaemonSetOnNode | None) -> str:
    if after is None:
        return "-"
    return change_outcomes.outcome(before.report, after.report) or "-"


def render_node_table(views: Sequence[NodeView], *, wide: bool = False) -> str:
    from tabulate import tabulate  # only a table pays for it

    blocks = []
    for view in views:
        lines = facts_lines(view.assessment.facts)
        what_if = view.change is not None and view.changed is not None
        if what_if:
            assert view.change is not None
            lines.append(f"What if: {view.change.describe()} (in memory only; nothing is written)")
        headers = ["NAMESPACE", "DAEMONSET", "WANTED", "POD", "STATUS", "REVISION"]
        headers += ["LABELS"] if wide else []
        headers += ["IF CHANGED", "WHY THEN"] if what_if else ["WHY"]
        rows = []
        for before, after in view.rows():
            report = before.report
            row = [before.namespace, before.name, _wanted(before), pod_cell(report), status_cell(report)]
            row.append(revision_cell(report))
            if wide:
                row.append(",".join(report.labels_that_matter) or "-")
            if what_if and after is not None:
                row += [_outcome(before, after), _why(after.report)]
            else:
                row.append(_why(report))
            rows.append(row)
        lines.append("")
        if rows:
            lines.append(tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True))
        else:
            lines.append("No DaemonSet runs or should run here.")
        lines += ["", summary_line(view.assessment, view.scope)]
        if what_if:
            assert view.changed is not None
            lines.append(what_if_line(view))
        fixes = fix_lines(view.assessment)
        if fixes:
            lines += ["", "Fixes:"] + [f"  {fix}" for fix in fixes]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def summary_line(assessment: NodeAssessment, scope: str = "") -> str:
    """ "6 DaemonSets in all namespaces: 4 should run here, 3 with a ready pod, 1 Pending (logging/fluentd); ..."."""
    total = len(assessment.daemonsets)
    wanted = [ds for ds in assessment.daemonsets if ds.report.should_run]
    ready = [ds for ds in wanted if ds.has_ready_pod]
    head = f"{count(total, 'DaemonSet')} {scope or 'in scope'}: {len(wanted)} should run here"
    parts = [head + (f", {len(ready)} with a ready pod" if wanted else "")]
    by_state: dict[str, list[str]] = {}
    for ds in wanted:
        if not ds.has_ready_pod:
            by_state.setdefault(ds.report.state or "unknown", []).append(ds.key)
    parts += [f"{len(keys)} {state} ({some_names(keys)})" for state, keys in by_state.items()]
    later = [ds.key for ds in assessment.daemonsets if ds.once_up]
    if later:
        parts.append(f"{len(later)} once the node is up ({some_names(later)})")
    kept = [ds.key for ds in assessment.daemonsets if not ds.report.should_run and ds.report.pods]
    if kept:
        parts.append(f"{len(kept)} {plural(len(kept), 'pod')} where no new one would be placed ({some_names(kept)})")
    excluded = [ds for ds in assessment.daemonsets if not ds.relevant]
    if excluded:
        named = ", ".join(f"{ds.key} ({ds.exclusion})" for ds in excluded[:MAX_NAMES])
        more = f" and {len(excluded) - MAX_NAMES} more" if len(excluded) > MAX_NAMES else ""
        parts.append(f"{len(excluded)} not for this node: {named}{more}")
    return "; ".join(parts)


def what_if_line(view: NodeView) -> str:
    groups: dict[str, list[str]] = {}
    for before, after in view.rows():
        result = _outcome(before, after)
        if result not in ("-", change_outcomes.KEPT, change_outcomes.STILL_WANTED):
            groups.setdefault(result, []).append(before.key)
    if not groups:
        return "If changed: no DaemonSet pod would be created, evicted or deleted here."
    parts = [f"{len(keys)} {state} ({some_names(keys)})" for state, keys in groups.items()]
    return "If changed: " + "; ".join(parts)


def fix_lines(assessment: NodeAssessment) -> list[str]:
    """One line per hint, naming the DaemonSets it applies to."""
    by_hint: dict[tuple[str, str], list[str]] = {}
    for ds in assessment.relevant:
        for reason in ds.report.reasons:
            if reason.hint:
                by_hint.setdefault((reason.rule, reason.hint_for(assessment.facts.name)), []).append(ds.key)
    return [f"{rule} ({some_names(keys)}): {hint}" for (rule, hint), keys in by_hint.items()]


# --- --wait -------------------------------------------------------------------------------------------------


def waiting_line(assessment: NodeAssessment) -> str:
    """ "node-7: 3 of 5 DaemonSets ready; waiting for kube-system/cilium (Pending), ..."."""
    expected = assessment.expected
    waiting = assessment.waiting_for
    head = f"{assessment.facts.name}: {len(expected) - len(waiting)} of {count(len(expected), 'DaemonSet')} ready"
    if not assessment.facts.ready:
        head += f" (node {assessment.facts.ready_text})"
    if not waiting:
        return head
    return head + "; waiting for " + ", ".join(f"{ds.key} ({_why_waiting(ds)})" for ds in waiting)


def _why_waiting(ds: DaemonSetOnNode) -> str:
    if ds.once_up:
        taints = [reason.rule for reason in ds.report.reasons if reason.code.startswith("Taint")]
        return "until " + ", ".join(taints) + " goes"
    state = ds.report.state or "missing"
    details = [reason.message for reason in ds.report.reasons if not reason.is_info and reason.code != "PodOutdated"]
    return f"{state}: {details[0]}" if details else state


def not_registered_line(name: str) -> str:
    return f"{name}: waiting for the node to register"


def timeout_line(views: Sequence[NodeView], unregistered: Sequence[str], seconds: float) -> str:
    """ "timed out after 5m00s waiting for: node-7 (kube-system/cilium, logging/fluentd)"."""
    waiting = [f"{name} (not registered)" for name in unregistered]
    for view in views:
        keys = [ds.key for ds in view.assessment.waiting_for]
        if keys:
            waiting.append(f"{view.assessment.facts.name} ({', '.join(keys)})")
    return f"timed out after {duration(seconds)} waiting for: {'; '.join(waiting)}"


# --- data output --------------------------------------------------------------------------------------------


def to_data(views: Sequence[NodeView], omitted: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "apiVersion": SCHEMA_VERSION,
        "kind": KIND,
        "nodes": [_node(view) for view in views],
        "omitted": list(omitted),
    }


def _node(view: NodeView) -> dict[str, Any]:
    facts = view.assessment.facts
    data: dict[str, Any] = {
        "name": facts.name,
        "ready": facts.ready,
        "unschedulable": facts.unschedulable,
        "taints": [
            {
                "key": fact.taint.key,
                "value": fact.taint.value,
                "effect": fact.taint.effect,
                "managedBy": fact.managed_by,
            }
            for fact in facts.taints
        ],
        "daemonSets": [],
    }
    if view.change is not None:
        data["whatIf"] = view.change.describe()
    for before, after in view.rows():
        entry = {"namespace": before.namespace, **node_data(before.report), "name": before.name}
        entry["onceUp"] = before.once_up
        if after is not None:
            entry["ifChanged"] = {
                "outcome": _outcome(before, after),
                "shouldRun": after.report.should_run,
                "shouldContinueRunning": after.report.verdict.should_continue_running,
                "reasons": [reason_data(reason, facts.name) for reason in after.report.reasons],
            }
        data["daemonSets"].append(entry)
    shown = {before.key for before, _ in view.rows()}
    data["excluded"] = [  # the DaemonSets in scope that have nothing to do with this node, and why
        {"namespace": ds.namespace, "name": ds.name, "rule": ds.exclusion}
        for ds in view.assessment.daemonsets
        if ds.key not in shown
    ]
    return data


def render_node_data(views: Sequence[NodeView], output: str, omitted: Sequence[str] = ()) -> str:
    return to_data_text(to_data(views, omitted), output)
