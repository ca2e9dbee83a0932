"""Pure. The lines a managed rollout prints while it runs (its events) and the message each command ends
with (its Outcome), plus the dry-run preview of a start."""

from __future__ import annotations

from collections.abc import Callable

from kubectl_ds.render.text import duration, moment, plural
from kubectl_ds.rollout import events as ev
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.change import RESTARTED_AT
from kubectl_ds.rollout.events import Event, Outcome


def step_label(number: int, total: int) -> str:
    return f"step {number} of {total}"


def event_line(event: Event) -> str:
    if isinstance(event, ev.Parked):
        return f"daemonset.apps/{event.name} parked (updateStrategy OnDelete) and changed: {event.change}"
    if isinstance(event, ev.Warned):
        return f"warning ({event.code}): {event.message}"
    if isinstance(event, ev.DrivenFrom):
        return (
            f"this driver runs in a pod on {event.node}: {event.node} goes in the last step, since replacing "
            "its agents there (kube-proxy, the CNI) could cut this driver off"
        )
    if isinstance(event, ev.RollingBack):
        return f"daemonset.apps/{event.name} rolling back to revision {event.revision}"
    if isinstance(event, ev.StepStarted):
        label = step_label(event.number, event.total)
        if event.surge:
            count = len(event.nodes)
            return f"{label}: surge {count} {plural(count, 'node')} (the controller picks them)"
        return f"{label}: {', '.join(event.nodes)}" + step_tags(event.canary, event.wave)
    if isinstance(event, ev.StepDone):
        return (
            f"{step_label(event.number, event.total)} done: {', '.join(event.updated)} updated "
            f"({event.progress} of {event.desired} {plural(event.desired, 'node')} done)"
        )
    if isinstance(event, ev.WaitingForTermination):
        left = ""
        if event.grace_ends is not None:
            left = f": up to {duration(max((event.grace_ends - event.now).total_seconds(), 0))} more"
        grace = f" (terminationGracePeriodSeconds {event.grace_seconds})" if event.grace_seconds is not None else ""
        return f"{event.node}: waiting for pod {event.pod} to terminate{left}{grace}"
    if isinstance(event, ev.HaltedAborting):
        return f"halted: {event.reason}; --on-failure abort: rolling back"
    # --- pre-pull ---
    if isinstance(event, ev.PrepullStarted):
        return (
            f"pre-pulling {', '.join(event.images)} on {event.nodes} {plural(event.nodes, 'node')} "
            f"(one pod per node, timeout {duration(event.timeout)})"
        )
    if isinstance(event, ev.PrepullProgress):
        return f"pulled on {event.pulled} of {event.total} {plural(event.total, 'node')}"
    if isinstance(event, ev.PrepullDone):
        return f"pre-pull done: the new images are on all {event.nodes} {plural(event.nodes, 'node')}"
    if isinstance(event, ev.PrepullFailed):
        return f"pre-pull failed on {event.failed} of {event.total} {plural(event.total, 'node')}"
    if isinstance(event, ev.Interrupted):
        return f"interrupted: daemonset {event.name} is parked; continue with: kubectl ds rollout resume {event.name}"
    return _gate_line(event)


def _gate_line(event: ev.CheckPassed | ev.Baking | ev.Baked) -> str:
    """The gates between steps (rollout/gates.py)."""
    if isinstance(event, ev.CheckPassed):
        where = f" in {event.pods} {plural(event.pods, 'pod')}" if event.pods else ""
        return f'{step_label(event.number, event.total)}: {event.flag} "{event.command}" passed{where}'
    if isinstance(event, ev.Baking):
        pods = f"{event.pods} updated {plural(event.pods, 'pod')}"
        resumed = f", {duration(event.elapsed)} of it already past" if event.elapsed else ""
        return (
            f"{step_label(event.number, event.total)}: baking {duration(event.seconds)}{resumed}: watching {pods} "
            "for restarts, readiness losses and pods leaving"
        )
    return (
        f"{step_label(event.number, event.total)}: baked {duration(event.seconds)}: {event.pods} updated "
        f"{plural(event.pods, 'pod')} without a restart, readiness loss or departure"
    )


def step_tags(canary: bool, wave: str | None) -> str:
    """ " (canary)", " (wave us-east-1a)": what sets a step apart, as the plan and the progress lines show it."""
    tags = [*(["canary"] if canary else []), *([f"wave {wave or '(no label)'}"] if wave is not None else [])]
    return f" ({', '.join(tags)})" if tags else ""


def confirm_question(event: ev.StepStarted) -> str:
    return f"{step_label(event.number, event.total)}: {', '.join(event.nodes)}. Continue?"


# The message each Outcome kind ends a command with (o: the Outcome).
_MESSAGES: dict[str, Callable[[Outcome], str]] = {
    ev.FINISHED: lambda o: (
        f'daemon set "{o.name}" {"rolled back" if o.rolled_back else "successfully rolled out"}; '
        "updateStrategy restored" + _left_out(o)
    ),
    ev.STOPPED: lambda o: (
        f"daemonset.apps/{o.name} {o.phase}: {o.reason}; continue with: kubectl ds rollout resume {o.name}"
    ),
    ev.UNPARKED: lambda o: f"daemonset.apps/{o.name} resumed: the controller continues its rolling update",
    ev.ALREADY_STOPPED: lambda o: (
        f"daemonset.apps/{o.name} is already {o.phase}" + (f" ({o.reason})" if o.reason else "")
    ),
    ev.PAUSE_REQUESTED: lambda o: f"daemonset.apps/{o.name} will pause at the next step boundary",
    ev.PAUSED_NOW: lambda o: f"daemonset.apps/{o.name} paused",
    ev.PARKED_UNMANAGED: lambda o: (
        f"daemonset.apps/{o.name} paused: parked with updateStrategy OnDelete; the "
        f"controller replaces no more pods until: kubectl ds rollout resume {o.name}"
    ),
    ev.RESTARTED: lambda o: f"daemonset.apps/{o.name} restarted",
    ev.ROLLED_BACK: lambda o: f"daemonset.apps/{o.name} rolled back",
    ev.ROLLBACK_SKIPPED: lambda o: (
        f"daemonset.apps/{o.name} skipped rollback (current template already matches revision {o.revision})"
    ),
    # Dry runs.
    ev.WOULD_START: lambda o: start_preview(o),
    ev.WOULD_RESUME: lambda o: (
        f"would resume the rollout of daemonset {o.name} ({o.phase}) with {o.steps_left} "
        f"{plural(o.steps_left, 'step')} left"
    ),
    ev.WOULD_UNPARK: lambda o: f"would restore the original updateStrategy of daemonset {o.name}",
    ev.WOULD_PAUSE: lambda o: f"would ask the rollout of daemonset {o.name} to pause at the next step boundary",
    ev.WOULD_PARK: lambda o: f"would park daemonset {o.name} (updateStrategy OnDelete) until rollout resume",
    ev.WOULD_ABORT: lambda o: (
        f"would return daemonset {o.name} to revision {o.revision} (hash {o.revision_hash}) "
        "node by node, then restore its updateStrategy"
    ),
    ev.WOULD_RESTART: lambda o: (
        f"daemonset.apps/{o.name} restarted (dry run): would set the pod template annotation {RESTARTED_AT}"
    ),
    ev.WOULD_ROLL_BACK: lambda o: (
        f"daemonset.apps/{o.name} will roll back to revision {o.revision} (images: {', '.join(o.images)}) (dry run)"
    ),
    # kubectl ds prepull.
    ev.PREPULLED: lambda o: (
        f"daemonset.apps/{o.name}: {', '.join(o.images)} pulled on {o.pulled_on} {plural(o.pulled_on, 'node')}"
        if o.images
        else f"daemonset.apps/{o.name}: nothing to pull, no container's image changes"
    ),
    ev.WOULD_PREPULL: lambda o: "\n".join(
        [*prepull_preview(o.prepull), f"daemonset.apps/{o.name} is not changed (dry run)"]
        if o.prepull
        else [f"daemonset.apps/{o.name}: nothing to pre-pull"]
    ),
}


def _left_out(outcome: Outcome) -> str:
    if not outcome.left_out:
        return ""
    count = len(outcome.left_out)
    listed = ", ".join(f"{name} (unreachable since {moment(since)})" for name, since in outcome.left_out[:5])
    more = f" and {count - 5} more" if count > 5 else ""
    return (
        f"; left out {count} unreachable {plural(count, 'node')}: {listed}{more}; the controller updates "
        f"{'it' if count == 1 else 'them'} when {'it returns' if count == 1 else 'they return'}"
    )


def outcome_message(outcome: Outcome) -> str:
    return _MESSAGES[outcome.kind](outcome)


def start_preview(outcome: Outcome) -> str:
    """`start --dry-run`: the write it would make, then the steps and the plan's warnings."""
    plan = outcome.plan
    assert plan is not None  # WOULD_START carries its plan
    count = len(plan.steps)
    lines = [
        f"would park daemonset {outcome.name} (updateStrategy OnDelete, the original saved in annotation "
        f"{st.STRATEGY_ANNOTATION}) and change: {outcome.change}",
        f"then replace pods in {count} {plural(count, 'step')}:",
    ]
    lines += [f"  step {step.number}: {', '.join(step.nodes)}" for step in plan.steps]
    lines += [f"warning: {warning.message}" for warning in plan.warnings]
    if outcome.prepull is not None:
        lines = [*prepull_preview(outcome.prepull), *lines]
    return "\n".join(lines)


def prepull_preview(pulls: ev.PrepullPreview) -> list[str]:
    """--dry-run of a pre-pull: the pods it would create (xxxxx: the run's id), and what they pull."""
    if not pulls.pods:
        return ["would pre-pull nothing: no container's image changes"]
    count = len(pulls.pods)
    return [
        f"would first pre-pull {', '.join(pulls.images)}: create {count} {plural(count, 'pod')} (restartPolicy "
        f"Never, activeDeadlineSeconds, owned by the DaemonSet), each deleted once its node pulled "
        f"(timeout {duration(pulls.timeout)}):",
        *(f"  pod {pod} on {node}" for pod, node in zip(pulls.pods, pulls.nodes, strict=True)),
    ]
