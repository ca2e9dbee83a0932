"""Pure. The `kubectl ds diff` view: what applying a manifest changes, node by node, and the rollout the
controller then runs; as a table or as data (JSON/YAML, the schema in the README)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_ds.placement.diff import BLOCKED, CHANGES, GAINED, LOST, UNCHANGED, DaemonSetDiff, NodeChange
from kubectl_ds.placement.predicate import NodeVerdict
from kubectl_ds.render.output import to_data_text
from kubectl_ds.render.text import count, some_names
from kubectl_ds.rollout.forecast import NO_NEW_REVISION, ON_DELETE_WAITS, Forecast

SCHEMA_VERSION = "kubectl-ds/v1"
MAX_PATHS = 5


@dataclass(frozen=True)
class DiffView:
    diff: DaemonSetDiff
    forecast: Forecast
    source: str  # the manifest's path, or "standard input"
    images: tuple[str, ...] = ()
    omitted: tuple[str, ...] = ()
    managed: bool = False  # a managed rollout (kubectl ds rollout) holds the live DaemonSet parked


def verdict_word(verdict: NodeVerdict | None) -> str:
    if verdict is None or not (verdict.should_run or verdict.should_continue_running):
        return "no"
    return "yes" if verdict.should_run else "no (keep)"


def render_table(view: DiffView) -> str:
    from tabulate import tabulate

    diff = view.diff
    lines = [f"daemonset.apps/{diff.name} in {diff.namespace}: what applying {view.source} changes"]
    lines += _spec_lines(view)
    rows = [
        [node.node, verdict_word(node.before), verdict_word(node.after), node.change, why(node, view.forecast)]
        for node in diff.nodes
    ]
    if rows:
        lines += ["", tabulate(rows, headers=["NODE", "NOW", "AFTER", "CHANGE", "WHY"], tablefmt="plain")]
    lines += ["", summary_line(diff), *forecast_lines(view)]
    lines += [f"note: {note}" for note in view.omitted]
    if view.managed:
        lines.append(
            f"note: a managed rollout (kubectl ds rollout) holds daemonset.apps/{diff.name} parked; applying a "
            "changed DaemonSet halts it (see: kubectl ds rollout status)"
        )
    return "\n".join(lines) + "\n"


def _spec_lines(view: DiffView) -> list[str]:
    spec = view.diff.spec
    if not view.diff.exists:
        return ["not applied yet: the DaemonSet is created"]
    lines = []
    if spec.new_revision:
        images = f"image {', '.join(view.images)}; " if view.images else ""
        lines.append(f"pod template: changed, a new revision: {images}{_paths(spec.template_paths)}")
    else:
        lines.append("pod template: unchanged (no new revision)")
    if spec.rollout_paths:
        lines.append(f"rollout settings: {_paths(spec.rollout_paths)}")
    if spec.basis == "live":
        lines.append(
            "note: no kubectl.kubernetes.io/last-applied-configuration on the live DaemonSet: compared with the "
            "live object, so a field removed from the manifest is not seen"
        )
    return lines


def _paths(paths: tuple[str, ...]) -> str:
    return some_names(list(paths), limit=MAX_PATHS)


def why(node: NodeChange, forecast: Forecast) -> str:
    if node.change == LOST:
        said = "; ".join(reason.message for reason in node.reasons)
        if not node.has_pod:
            consequence = "no pod is created there any more"
        elif not node.after.should_continue_running:
            consequence = "its pod is deleted"
        elif forecast.kind == ON_DELETE_WAITS or forecast.kind == NO_NEW_REVISION:
            consequence = "no new pod; the running one stays until deleted (misscheduled)"
        else:
            consequence = "no new pod; the rolling update deletes the running one"
        return f"{said}; {consequence}" if said else consequence
    if node.change == GAINED and node.reasons:
        return "until now: " + "; ".join(reason.message for reason in node.reasons)
    if node.change == BLOCKED:
        return "; ".join(reason.message for reason in node.reasons) + ("" if node.has_pod else " (newly wanted here)")
    return "-"


def summary_line(diff: DaemonSetDiff) -> str:
    before = sum(1 for node in diff.nodes if node.before is not None and node.before.should_run)
    after = sum(1 for node in diff.nodes if node.after.should_run)
    parts = []
    for change, label in ((GAINED, "gained"), (LOST, "lost"), (BLOCKED, "newly blocked"), (UNCHANGED, "unchanged")):
        names = diff.named(change)
        if names:
            parts.append(f"{len(names)} {label}" + (f" ({some_names(list(names))})" if change != UNCHANGED else ""))
    head = f"{count(before, 'node')} want the pod now, {after} after"
    return head + (": " + ", ".join(parts) if parts else "")


def forecast_lines(view: DiffView) -> list[str]:
    fc = view.forecast
    if not view.diff.exists:
        lines = ["rollout: none: every node that wants the pod gets one at once"]
    elif fc.kind == NO_NEW_REVISION:
        lines = ["rollout: none: the pod template does not change, no pod is replaced"]
    elif fc.kind == ON_DELETE_WAITS:
        lines = [
            f"rollout: none by itself: updateStrategy OnDelete replaces a pod only once it is deleted; "
            f"{count(len(fc.kept_old), 'node')} keep the old revision until then"
            + (f" ({some_names(list(fc.kept_old))})" if fc.kept_old else "")
        ]
    else:
        name = "maxSurge" if fc.surge else "maxUnavailable"
        how = "a new pod next to the old one" if fc.surge else "old pod deleted, then the new one created"
        scale = (
            f"({fc.limit} of {count(fc.desired, 'node')}, rounded up)"
            if fc.spec.endswith("%")
            else f"(of {count(fc.desired, 'node')})"
        )
        lines = [
            f"rollout: RollingUpdate, {name} {fc.spec} {scale}: "
            f"{count(len(fc.budgeted), 'available old pod')} replaced {fc.limit} at a time ({how}), "
            f"in {count(fc.waves, 'wave')}"
        ]
        if fc.at_once:
            lines.append(f"replaced at once, outside the budget (not available now): {some_names(list(fc.at_once))}")
    if fc.created and view.diff.exists:
        lines.append(f"a new pod at once on: {some_names(list(fc.created))}")
    if fc.deleted:
        lines.append(f"pods deleted at once on: {some_names(list(fc.deleted))}")
    lines += _stall_lines(fc)
    return lines


def _stall_lines(fc: Forecast) -> list[str]:
    lines = []
    if fc.host_port_surge:
        lines.append(
            "stalls: the new pods need a host port their old pod holds on the same node, so no surge pod can "
            "start; use maxUnavailable instead of maxSurge"
        )
    if fc.blocked and fc.kind != NO_NEW_REVISION:
        names = some_names(list(fc.blocked))
        if fc.stalls and not fc.host_port_surge:
            budget = f"{'maxSurge' if fc.surge else 'maxUnavailable'} {fc.spec}"
            lines.append(
                f"stalls: the new pods on {names} cannot be scheduled; once the rollout reaches them they use up "
                f"{budget} for good and it stops (the nodes not reached by then keep the old revision)"
            )
        elif not fc.host_port_surge:
            lines.append(f"never completes: the new pods on {names} cannot be scheduled (they stay Pending)")
    return lines


def diff_data(view: DiffView) -> dict[str, Any]:
    diff, fc = view.diff, view.forecast
    return {
        "apiVersion": SCHEMA_VERSION,
        "kind": "DaemonSetDiff",
        "daemonSet": {"namespace": diff.namespace, "name": diff.name, "exists": diff.exists},
        "differs": diff.differs,
        "template": {
            "newRevision": diff.spec.new_revision,
            "paths": list(diff.spec.template_paths),
            "images": list(view.images),
            "comparedWith": diff.spec.basis,
        },
        "rolloutSettings": list(diff.spec.rollout_paths),
        "summary": {change: list(diff.named(change)) for change in CHANGES},
        "nodes": [
            {
                "name": node.node,
                "now": verdict_word(node.before),
                "after": verdict_word(node.after),
                "change": node.change,
                "why": why(node, fc),
                "reasons": [{"code": reason.code, "message": reason.message} for reason in node.reasons],
            }
            for node in diff.nodes
        ],
        "rollout": {
            "kind": fc.kind,
            "surge": fc.surge,
            "value": fc.spec,
            "nodesAtATime": fc.limit,
            "waves": fc.waves,
            "replacedInWaves": list(fc.budgeted),
            "replacedAtOnce": list(fc.at_once),
            "created": list(fc.created),
            "deleted": list(fc.deleted),
            "keptOld": list(fc.kept_old),
            "blocked": list(fc.blocked),
            "stalls": fc.stalls,
        },
        "omitted": list(view.omitted),
        "managedRollout": view.managed,
    }


def render_data(view: DiffView, output: str) -> str:
    return to_data_text(diff_data(view), output)
