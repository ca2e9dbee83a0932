"""Pure. The `rollout plan` view: the steps, the nodes left out and why, the warnings, an estimate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from kubectl_ds.placement.report import NodeReport
from kubectl_ds.render.output import to_json
from kubectl_ds.render.rollout import step_tags
from kubectl_ds.render.text import duration
from kubectl_ds.rollout.events import PrepullPreview
from kubectl_ds.rollout.gates import bake_seconds, gated
from kubectl_ds.rollout.plan import Plan
from kubectl_ds.rollout.state import RolloutOptions


@dataclass(frozen=True)
class PlanView:
    namespace: str
    name: str
    change: str
    plan: Plan
    excluded: tuple[NodeReport, ...]  # nodes that will not get the pod, with explain's reasons
    estimated_seconds: float
    estimated_max_seconds: float  # if every old pod uses its whole grace period
    grace_seconds: int
    observed_startup: float | None
    min_ready_seconds: int
    notes: tuple[str, ...] = ()  # what was left out (RBAC)
    refusal: str = ""  # why `start` would refuse, before any write
    options: RolloutOptions = field(default_factory=RolloutOptions)  # as `start` would keep them in the state
    # --- pre-pull ---
    prepull: PrepullPreview | None = None  # --prepull: what start would pull first, and where
    gates: RolloutOptions | None = None  # --check, --check-exec, --bake: the gates between steps (rollout/gates.py)


def _why(node: NodeReport) -> str:
    return "; ".join(reason.message for reason in node.reasons if not reason.is_info)


def plan_data(view: PlanView) -> dict[str, Any]:
    plan = view.plan
    return {
        "daemonSet": {"namespace": view.namespace, "name": view.name},
        "change": view.change,
        "surge": plan.surge,
        "budget": {
            "maxUnavailable": plan.budget.max_unavailable,
            "maxSurge": plan.budget.max_surge,
            "desired": plan.desired,
        },
        "steps": [{"number": s.number, "nodes": list(s.nodes), "canary": s.canary, "wave": s.wave} for s in plan.steps],
        "createOnly": list(plan.create_only),
        "alreadyUnavailable": list(plan.already_unavailable),
        "partitioned": list(plan.partitioned),
        "outOfScope": list(plan.out_of_scope),
        "excluded": [
            {"node": n.name, "reasons": [x.message for x in n.reasons if not x.is_info]} for n in view.excluded
        ],
        "warnings": [{"code": w.code, "message": w.message, "nodes": list(w.nodes)} for w in plan.warnings],
        "estimatedSeconds": view.estimated_seconds,
        "estimatedMaxSeconds": view.estimated_max_seconds,
        "refusal": view.refusal or None,
        "options": {_camel(option.name): getattr(view.options, option.name) for option in fields(RolloutOptions)},
        # --- pre-pull ---
        "prepull": (
            {
                "images": list(view.prepull.images),
                "nodes": list(view.prepull.nodes),
                "timeoutSeconds": view.prepull.timeout,
            }
            if view.prepull is not None
            else None
        ),
        "gates": _gates_data(view.gates or RolloutOptions()),
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def options_flags(options: RolloutOptions) -> list[str]:
    """The options that differ from the defaults, as the flags that set them (durations in seconds)."""
    defaults = RolloutOptions()
    flags = []
    for option in fields(RolloutOptions):
        value = getattr(options, option.name)
        if value == getattr(defaults, option.name):
            continue
        if option.name == "evict":
            flags.append("--delete")
        elif value is True:
            flags.append(f"--{option.name.replace('_', '-')}")
        else:
            shown = f"{value:g}s" if isinstance(value, float) else str(value)
            flags.append(f"--{option.name.replace('_', '-')} {shown}")
    return flags


def _gates_data(options: RolloutOptions) -> dict[str, Any]:
    return {
        "check": options.check or None,
        "checkExec": options.check_exec or None,
        "checkTimeoutSeconds": options.check_timeout,
        "bakeSeconds": options.bake,
        "canaryBakeSeconds": bake_seconds(options, canary=True),
    }


def _gates_line(options: RolloutOptions | None) -> list[str]:
    """What runs between steps (after a step's pods are available, before the next step starts)."""
    if options is None or not gated(options):
        return []
    parts = []
    timeout = f"timeout {duration(options.check_timeout)}"
    if options.check:
        parts.append(f'--check "{options.check}" ({timeout})')
    if options.check_exec:
        parts.append(f'--check-exec "{options.check_exec}" in each new pod ({timeout})')
    bake, canary_bake = bake_seconds(options, canary=False), bake_seconds(options, canary=True)
    if bake or canary_bake:
        after_canary = f", {duration(canary_bake)} after the canary step" if canary_bake != bake else ""
        parts.append(f"bake {duration(bake)}{after_canary} (watching the updated pods)")
    return [f"Gates after each step: {'; '.join(parts)}"]


def render_plan_json(view: PlanView) -> str:
    return to_json(plan_data(view))


def render_plan(view: PlanView) -> str:
    plan = view.plan
    mode = (
        f"surge: up to {plan.budget.max_surge} nodes with a second pod at once (the controller picks them)"
        if plan.surge
        else f"up to {plan.budget.max_unavailable} nodes without an available pod at once"
    )
    lines = [
        f"Plan for daemonset.apps/{view.name}: {view.change}",
        f"{plan.desired} nodes should run the pod; {len(plan.nodes_to_update)} to update in "
        f"{len(plan.steps)} steps; {mode}",
    ]
    for step in plan.steps:
        lines.append(f"  step {step.number}{step_tags(step.canary, step.wave)}: {', '.join(step.nodes)}")
    if plan.create_only:
        lines.append(f"  no pod yet, the controller creates the new one: {', '.join(plan.create_only)}")
    if plan.partitioned:
        lines.append(f"  stay on the old revision (--partition): {', '.join(plan.partitioned)}")
    if plan.out_of_scope:
        lines.append(f"  stay on their revision (outside --nodes): {', '.join(plan.out_of_scope)}")
    lines += [f"  will not get the pod: {node.name}: {_why(node)}" for node in view.excluded]
    if view.prepull is not None:
        lines.append(_prepull_line(view.prepull))
    lines += _gates_line(view.gates)
    lines += [f"warning ({w.code}): {w.message}" for w in plan.warnings]
    basis = (
        f"observed start-up {view.observed_startup:.0f}s"
        if view.observed_startup is not None
        else "no observed start-up time"
    )
    span = duration(view.estimated_seconds)
    if view.estimated_max_seconds > view.estimated_seconds:
        span += f" to {duration(view.estimated_max_seconds)}"
        basis += (
            f", minReadySeconds {view.min_ready_seconds}, up to terminationGracePeriodSeconds "
            f"{view.grace_seconds} per step for old pods to stop"
        )
    else:
        basis += f", minReadySeconds {view.min_ready_seconds}"
    lines.append(f"Estimated duration: {span} ({basis})")
    lines += [f"note: {note}" for note in view.notes]
    if view.options != RolloutOptions():
        lines.append(f"Options kept for resume: {' '.join(options_flags(view.options))}")
    if view.refusal:
        lines.append(f"start would refuse, before any write: {view.refusal}")
    else:
        lines.append(f"Start it with: kubectl ds rollout start {view.name} -n {view.namespace} ...same flags")
    return "\n".join(lines) + "\n"


def _prepull_line(pulls: PrepullPreview) -> str:
    if not pulls.nodes:
        return "Pre-pull (--prepull): nothing to pull, no container's image changes"
    count = len(pulls.nodes)
    return (
        f"Pre-pull (--prepull), before the first write: {', '.join(pulls.images)} on {count} "
        f"{'node' if count == 1 else 'nodes'}, one pod per node, timeout {duration(pulls.timeout)}; a failed pull "
        "stops the rollout with the DaemonSet untouched"
    )


def excluded_nodes(nodes: Sequence[NodeReport]) -> tuple[NodeReport, ...]:
    return tuple(node for node in nodes if not node.should_run)
