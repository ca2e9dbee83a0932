"""Pure. The audit view: a row per DaemonSet, then each DaemonSet's problem nodes grouped by reason, its
failure correlations and findings; or the JSON/YAML document whose `summary` and `nodes[]` are exactly
`explain -o json`'s (render/explain.to_data builds both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_ds.render.explain import SCHEMA_VERSION, ExplainView, correlation_text, to_data
from kubectl_ds.render.output import to_data_text
from kubectl_ds.render.text import count, plural, some_names
from kubectl_ds.rollout.audit import DaemonSetAudit, node_groups, problem_kinds
from kubectl_ds.rollout.findings import ERROR

NAMES_SHOWN = 5  # node names per group in the table; -o wide shows them all


@dataclass(frozen=True)
class AuditView:
    audits: tuple[DaemonSetAudit, ...]
    scope: str  # 'namespace "logging"' or "all namespaces"
    every_node: bool = False  # --all
    omitted: tuple[str, ...] = ()


def render_table(view: AuditView, *, wide: bool = False) -> str:
    if not view.audits:
        return "\n".join([f"No DaemonSets found in {view.scope}.", *[f"Note: {note}" for note in view.omitted]]) + "\n"
    from tabulate import tabulate  # only a table pays for it

    headers = ["NAMESPACE", "NAME", "SHOULD RUN", "READY", "UP-TO-DATE", "PROBLEMS", "TOP REASON"]
    rows = [_row(audit) for audit in view.audits]
    lines = [tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True)]
    for audit in view.audits:
        block = _details(audit, every_node=view.every_node, wide=wide)
        if block:
            lines += ["", *block]
    lines += [f"Note: {note}" for note in view.omitted]
    return "\n".join(lines) + "\n"


def _row(audit: DaemonSetAudit) -> list[str]:
    counts = audit.summary.counts
    kinds = ", ".join(f"{number} {kind}" for kind, number in problem_kinds(audit.summary)) or "-"
    groups = node_groups(audit.assessment, every_node=False)
    top = f"{groups[0][0]} ({count(len(groups[0][1]), 'node')})" if groups else "-"
    return [audit.namespace, audit.name, str(counts.desired), str(counts.ready), str(counts.updated), kinds, top]


def _details(audit: DaemonSetAudit, *, every_node: bool, wide: bool) -> list[str]:
    groups = node_groups(audit.assessment, every_node=every_node)
    if not groups and not audit.findings and not audit.summary.correlations:
        return []
    problems = audit.summary.problems
    head = f"{audit.namespace}/{audit.name}: "
    if problems:
        head += f"{problems} of {count(audit.summary.nodes, 'node')} {plural(problems, 'needs', 'need')} attention"
    else:
        head += "no node needs attention"
    errors = sum(1 for found in audit.findings if found.severity == ERROR)
    warnings = len(audit.findings) - errors
    said = [count(number, noun) for number, noun in ((errors, "error"), (warnings, "warning")) if number]
    if said:
        head += "; " + " and ".join(said)
    lines = [head]
    for label, names in groups:
        shown = ", ".join(names) if wide else some_names(names, NAMES_SHOWN)
        lines.append(f"  {count(len(names), 'node')}: {label}: {shown}")
    lines += [f"  correlation: {correlation_text(found)}" for found in audit.summary.correlations]
    lines += [f"  {found.severity} {found.code}: {found.message}" for found in audit.findings]
    return lines


def to_audit_data(view: AuditView) -> dict[str, Any]:
    return {
        "apiVersion": SCHEMA_VERSION,
        "kind": "Audit",
        "daemonSets": [_daemonset_data(audit, every_node=view.every_node) for audit in view.audits],
        "omitted": list(view.omitted),
    }


def _daemonset_data(audit: DaemonSetAudit, *, every_node: bool) -> dict[str, Any]:
    explained = to_data(
        ExplainView(audit.namespace, audit.name, audit.assessment, audit.summary), problems_only=not every_node
    )
    return {
        "namespace": audit.namespace,
        "name": audit.name,
        "summary": explained["summary"],
        "nodes": explained["nodes"],
        "findings": [
            {"code": found.code, "severity": found.severity, "message": found.message} for found in audit.findings
        ],
    }


def render_data(view: AuditView, output: str) -> str:
    return to_data_text(to_audit_data(view), output)
