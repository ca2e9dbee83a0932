"""Pure. Gates between the steps of a managed rollout: after a step's new pods are available and before the
next step starts, a command run by the driver (--check), a command run inside each new pod of the step
(--check-exec, the pods/exec subresource), and a bake (--bake, --canary-bake): the updated pods are watched
for a while, and a container restart, a readiness loss or a pod leaving halts the rollout.

The gates of a step are recorded in the rollout state (gate_step, gate_nodes, bake_started) before they run,
so an interrupted rollout runs them again on `resume` (a bake in progress continues from when it started: what
happened while nobody watched is read from the pods' own timestamps, see `bake_troubles`).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from kubectl_ds import resources as r
from kubectl_ds.errors import UsageError
from kubectl_ds.placement.report import natural_key
from kubectl_ds.render.text import duration
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.nodepods import NodePods
from kubectl_ds.rollout.state import FORWARD, RolloutOptions, RolloutState

CHECK_FLAG = "--check"
CHECK_EXEC_FLAG = "--check-exec"
# How much of a failed check's output a halt quotes: its last lines (where the error usually is), each cut.
OUTPUT_LINES = 10
OUTPUT_LINE_CHARS = 200
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"  # kubectl exec's choice of container


@dataclass(frozen=True)
class CheckResult:
    """How a check ended: its exit code (None when it was killed at its timeout) and its output (stdout and
    stderr as written)."""

    exit_code: int | None  # -1: it could not run at all (--check-exec: exec refused, no such executable)
    output: str = ""

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


# run_check(command, environment, timeout seconds, tick): run `command` through the shell with `environment`
# added to the driver's own, calling `tick` every second or so while it runs (heartbeat; a Ctrl-C raises
# there, and the check's process group is killed).
RunCheck = Callable[[str, Mapping[str, str], float, Callable[[], None]], CheckResult]
# exec_in_pod(namespace, pod, container, argv, timeout seconds, tick): run argv in the container through the
# pods/exec subresource; (exit code, None at the timeout; stdout and stderr).
ExecInPod = Callable[[str, str, str, Sequence[str], float, Callable[[], None]], tuple[int | None, str]]


@dataclass(frozen=True)
class StepContext:
    """The step whose gates run, as a check sees it."""

    number: int
    total: int
    nodes: tuple[str, ...]
    pods: tuple[str, ...]
    revision: int
    namespace: str
    name: str

    @property
    def label(self) -> str:
        return f"step {self.number} of {self.total}"


def gated(options: RolloutOptions) -> bool:
    return bool(options.check or options.check_exec or options.bake > 0 or (options.canary_bake or 0) > 0)


def bake_seconds(options: RolloutOptions, canary: bool) -> float:
    """The bake after a step: --canary-bake after the canary step (when given), --bake otherwise."""
    if canary and options.canary_bake is not None:
        return options.canary_bake
    return options.bake


def bake_total(options: RolloutOptions, canary_steps: Sequence[bool]) -> float:
    """Seconds the bakes add to a rollout of steps (each: canary or not)."""
    return sum(bake_seconds(options, canary) for canary in canary_steps)


def validate_gates(options: RolloutOptions) -> None:
    if options.check_timeout <= 0:
        raise UsageError("--check-timeout must be positive")
    if options.bake < 0 or (options.canary_bake or 0) < 0:
        raise UsageError("--bake and --canary-bake must not be negative")
    if options.check_exec:
        exec_command(options.check_exec)


def exec_command(text: str) -> list[str]:
    """--check-exec's command as the argv exec runs (split as a shell would, but run without one: agents'
    images often have no shell; `sh -c '...'` gives one where there is)."""
    try:
        argv = shlex.split(text)
    except ValueError as error:
        raise UsageError(f'invalid {CHECK_EXEC_FLAG} "{text}": {error}') from None
    if not argv:
        raise UsageError(f"{CHECK_EXEC_FLAG} needs a command")
    return argv


def after_step(state: RolloutState, nodes: Sequence[str], canary: bool) -> RolloutState:
    """The state once a step's pods are available: its gates pending, when there are any (a rollback runs none:
    it goes back to what was known to work, as fast as the budget allows)."""
    if not gated(state.options) or state.direction != FORWARD:
        return state
    return replace(state, gate_step=state.steps_done, gate_nodes=tuple(nodes), gate_canary=canary, bake_started="")


def gates_passed(state: RolloutState) -> RolloutState:
    return replace(state, gate_step=0, gate_nodes=(), gate_canary=False, bake_started="")


def pending(state: RolloutState) -> bool:
    return bool(state.gate_step) and state.direction == FORWARD


def check_environment(context: StepContext) -> dict[str, str]:
    return {
        "KUBECTL_DS_STEP": str(context.number),
        "KUBECTL_DS_STEPS": str(context.total),
        "KUBECTL_DS_NODES": ",".join(context.nodes),
        "KUBECTL_DS_PODS": ",".join(context.pods),
        "KUBECTL_DS_REVISION": str(context.revision),
        "KUBECTL_DS_NAMESPACE": context.namespace,
        "KUBECTL_DS_NAME": context.name,
    }


def exec_container(pod: Obj) -> str:
    """The container kubectl exec picks: the default-container annotation, else the first."""
    named = r.annotations_of(pod).get(DEFAULT_CONTAINER_ANNOTATION)
    containers = [str(c.get("name") or "") for c in r.spec(pod).get("containers") or []]
    if named and named in containers:
        return named
    return containers[0] if containers else ""


def trimmed_output(text: str) -> str:
    """The end of a check's output, quoted on one line: its last OUTPUT_LINES non-empty lines, each cut to
    OUTPUT_LINE_CHARS, joined by " | ", with how many lines were left out."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no output"
    shown = [line if len(line) <= OUTPUT_LINE_CHARS else line[: OUTPUT_LINE_CHARS - 1] + "…" for line in lines]
    kept = shown[-OUTPUT_LINES:]
    dropped = len(shown) - len(kept)
    earlier = f"({dropped} earlier {'line' if dropped == 1 else 'lines'}) " if dropped else ""
    return f'output: {earlier}"{" | ".join(kept)}"'


def check_failure(
    flag: str, command: str, result: CheckResult, timeout: float, context: StepContext, pod: str = ""
) -> str | None:
    """Why the check halts the rollout, or None when it passed (exit code 0)."""
    if result.exit_code == 0:
        return None
    where = f" in pod {pod}" if pod else ""
    if result.timed_out and flag == CHECK_EXEC_FLAG:
        # Closing the exec stream does not stop the command in the container (the kubelet lets it run).
        how = f"did not finish within {duration(timeout)} (--check-timeout; its stream was closed)"
    elif result.timed_out:
        how = f"did not finish within {duration(timeout)} (killed, --check-timeout)"
    elif result.exit_code is not None and result.exit_code < 0:
        how = "could not run"  # exec refused (RBAC, a pod not running) or the executable missing
    else:
        how = f"failed with exit code {result.exit_code}"
    return f'{flag} "{command}"{where} {how} after {context.label}; {trimmed_output(result.output)}'


# --- bake ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baked:
    """A pod under bake, as it was when the watch began."""

    node: str
    pod: str
    uid: str
    restarts: Mapping[str, int]  # container name -> restartCount


@dataclass(frozen=True)
class BakeTrouble:
    node: str
    pod: str
    what: str


def bake_baseline(held: Mapping[str, NodePods]) -> dict[str, Baked]:
    """The updated pods to watch: every node's new pod that is done (available, no old pod left)."""
    baseline = {}
    for name, node in held.items():
        if node.done and node.new:
            pod = node.new[0]
            restarts = {str(s.get("name")): int(s.get("restartCount") or 0) for s in _container_statuses(pod)}
            baseline[name] = Baked(name, r.name(pod), r.uid(pod), restarts)
    return baseline


def bake_troubles(
    baseline: Mapping[str, Baked], held: Mapping[str, NodePods], nodes: Sequence[Obj], since: datetime
) -> list[BakeTrouble]:
    """What went wrong with the baked pods since the bake started (`since`, on the API server's clock).

    Seen live: a restartCount above the baseline, Ready not True, the pod gone, terminating or terminal, its node
    not Ready. Seen afterwards in the pod's own timestamps (what a resume finds, and changes that came and went
    between two watch events): a container whose last run ended after `since` (lastState.terminated.finishedAt),
    a Ready condition that moved after `since` (lastTransitionTime: lost, maybe regained), a pod created after
    `since` (the one that was baked left). Timestamps have whole seconds: a change in the very second the bake
    started is seen live only (docs/rules.md#r-bake).
    """
    by_name = {r.name(node): node for node in nodes}
    troubles = []
    for name in sorted(baseline, key=natural_key):
        baked = baseline[name]
        node_object = by_name.get(name)
        if node_object is not None and not r.is_node_ready(node_object):
            troubles.append(BakeTrouble(name, baked.pod, f"its node {name} is no longer Ready"))
            continue
        what = _pod_trouble(baked, held.get(name), since)
        if what:
            troubles.append(BakeTrouble(name, baked.pod, what))
    return troubles


def _pod_trouble(baked: Baked, node: NodePods | None, since: datetime) -> str:
    pods = (*node.new, *node.old, *node.terminating) if node is not None else ()
    pod = next((p for p in pods if r.uid(p) == baked.uid), None)
    if pod is None:
        return "left (deleted)"
    if node is not None and pod in node.terminating:
        return "left (deleted or evicted: it is terminating)"
    status = r.status(pod)
    if status.get("phase") in ("Failed", "Succeeded"):
        reason = f" ({status.get('reason')}: {status.get('message')})" if status.get("reason") else ""
        return f"left: phase {status.get('phase')}{reason}"
    created = r.parse_time(r.metadata(pod).get("creationTimestamp"))
    if created is not None and created > since:
        return "replaced a pod that left during the bake"
    for container in _container_statuses(pod):
        name = str(container.get("name"))
        count = int(container.get("restartCount") or 0)
        last = ((container.get("lastState") or {}).get("terminated")) or {}
        finished = r.parse_time(last.get("finishedAt"))
        if count > baked.restarts.get(name, count) or (finished is not None and finished > since):
            exit_code = f"exit code {last.get('exitCode')}" if last.get("exitCode") is not None else "no exit code"
            reason = f", {last.get('reason')}" if last.get("reason") else ""
            return f"container {name} restarted (restartCount {count}; last run ended with {exit_code}{reason})"
    ready = r.condition(pod, "Ready") or {}
    if ready.get("status") != "True":
        why = f": {ready.get('message') or ready.get('reason')}" if ready.get("message") or ready.get("reason") else ""
        return f"is not Ready{why}"
    moved = r.parse_time(ready.get("lastTransitionTime"))
    if moved is not None and moved > since:
        return f"lost readiness during the bake (Ready again since {ready.get('lastTransitionTime')})"
    return ""


def _container_statuses(pod: Obj) -> list[Obj]:
    return list(r.status(pod).get("containerStatuses") or [])


def bake_failed(context: StepContext, seconds: float, elapsed: float, troubles: Sequence[BakeTrouble]) -> str:
    listed = "; ".join(f"pod {t.pod} on {t.node}: {t.what}" for t in troubles[:5])
    more = f"; and {len(troubles) - 5} more" if len(troubles) > 5 else ""
    return f"the bake after {context.label} failed after {duration(elapsed)} of {duration(seconds)}: {listed}{more}"
