"""Pure. The lines a managed rollout prints while it runs (its events) and the message each command ends
with (its Outcome), plus the dry-run preview of a start."""

from __future__ import annotations

from kubectl_ds.render.text import plural
from kubectl_ds.rollout import events as ev
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.change import RESTARTED_AT
from kubectl_ds.rollout.events import Event, Outcome


def step_label(number: int, total: int) -> str:
    return f"step {number} of {total}"


def event_line(event: Event) -> str:
    if isinstance(event, ev.Parked):
        return f"daemonset.apps/{event.name} parked (updateStrategy OnDelete) and changed: {event.change}"
    if isinstance(event, ev.RollingBack):
        return f"daemonset.apps/{event.name} rolling back to revision {event.revision}"
    if isinstance(event, ev.StepStarted):
        label = step_label(event.number, event.total)
        if event.surge:
            count = len(event.nodes)
            return f"{label}: surge {count} {plural(count, 'node')} (the controller picks them)"
        return f"{label}: {', '.join(event.nodes)}" + (" (canary)" if event.canary else "")
    if isinstance(event, ev.StepDone):
        return (f"{step_label(event.number, event.total)} done: {', '.join(event.updated)} updated "
                f"({event.progress} of {event.desired} {plural(event.desired, 'node')} done)")
    if isinstance(event, ev.HaltedAborting):
        return f"halted: {event.reason}; --on-failure abort: rolling back"
    return (f"interrupted: daemonset {event.name} is parked; continue with: kubectl ds rollout resume "
            f"{event.name}")


def confirm_question(event: ev.StepStarted) -> str:
    return f"{step_label(event.number, event.total)}: {', '.join(event.nodes)}. Continue?"


def outcome_message(outcome: Outcome) -> str:
    name = outcome.name
    kind = outcome.kind
    if kind == ev.FINISHED:
        verb = "rolled back" if outcome.rolled_back else "successfully rolled out"
        return f'daemon set "{name}" {verb}; updateStrategy restored'
    if kind == ev.STOPPED:
        return (f"daemonset.apps/{name} {outcome.phase}: {outcome.reason}; continue with: kubectl ds rollout resume "
                f"{name}")
    if kind == ev.UNPARKED:
        return f"daemonset.apps/{name} resumed: the controller continues its rolling update"
    if kind == ev.ALREADY_STOPPED:
        return (f"daemonset.apps/{name} is already {outcome.phase}"
                + (f" ({outcome.reason})" if outcome.reason else ""))
    if kind == ev.PAUSE_REQUESTED:
        return f"daemonset.apps/{name} will pause at the next step boundary"
    if kind == ev.PAUSED_NOW:
        return f"daemonset.apps/{name} paused"
    if kind == ev.PARKED_UNMANAGED:
        return (f"daemonset.apps/{name} paused: parked with updateStrategy OnDelete; the controller replaces no "
                f"more pods until: kubectl ds rollout resume {name}")
    if kind == ev.RESTARTED:
        return f"daemonset.apps/{name} restarted"
    if kind == ev.ROLLED_BACK:
        return f"daemonset.apps/{name} rolled back"
    if kind == ev.ROLLBACK_SKIPPED:
        return (f"daemonset.apps/{name} skipped rollback (current template already matches revision "
                f"{outcome.revision})")
    return _dry_run_message(outcome)


def _dry_run_message(outcome: Outcome) -> str:
    name = outcome.name
    kind = outcome.kind
    if kind == ev.WOULD_START:
        return start_preview(outcome)
    if kind == ev.WOULD_RESUME:
        return (f"would resume the rollout of daemonset {name} ({outcome.phase}) with {outcome.steps_left} "
                f"{plural(outcome.steps_left, 'step')} left")
    if kind == ev.WOULD_UNPARK:
        return f"would restore the original updateStrategy of daemonset {name}"
    if kind == ev.WOULD_PAUSE:
        return f"would ask the rollout of daemonset {name} to pause at the next step boundary"
    if kind == ev.WOULD_PARK:
        return f"would park daemonset {name} (updateStrategy OnDelete) until rollout resume"
    if kind == ev.WOULD_ABORT:
        return (f"would return daemonset {name} to revision {outcome.revision} (hash {outcome.revision_hash}) "
                "node by node, then restore its updateStrategy")
    if kind == ev.WOULD_RESTART:
        return (f"daemonset.apps/{name} restarted (dry run): would set the pod template annotation "
                f"{RESTARTED_AT}")
    if kind == ev.WOULD_ROLL_BACK:
        return (f"daemonset.apps/{name} will roll back to revision {outcome.revision} "
                f"(images: {', '.join(outcome.images)}) (dry run)")
    raise ValueError(f"no message for outcome {kind}")


def start_preview(outcome: Outcome) -> str:
    """`start --dry-run`: the write it would make, then the steps and the plan's warnings."""
    plan = outcome.plan
    assert plan is not None  # WOULD_START carries its plan
    count = len(plan.steps)
    lines = [f"would park daemonset {outcome.name} (updateStrategy OnDelete, the original saved in annotation "
             f"{st.STRATEGY_ANNOTATION}) and change: {outcome.change}",
             f"then replace pods in {count} {plural(count, 'step')}:"]
    lines += [f"  step {step.number}: {', '.join(step.nodes)}" for step in plan.steps]
    lines += [f"warning: {warning.message}" for warning in plan.warnings]
    return "\n".join(lines)
