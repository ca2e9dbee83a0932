"""How a simulated container behaves, decided by its image name (or a pod annotation), and the kubelet's
back-off arithmetic: what a container shows `elapsed` seconds after its kubelet took the pod on.

Conventions (a substring of the image reference, checked in this order):
  * `nonexistent` or `bad`: every pull fails: ErrImagePull, then ImagePullBackOff, for ever;
  * `flaky-pull`: the first pull fails (ErrImagePull, then ImagePullBackOff until the back-off ends), the
    second succeeds;
  * `crash-after-<N>s` (e.g. `agent:v2-crash-after-30s`): the first run stays up (and Ready) N seconds, then
    exits once; the kubelet restarts it at once (restartCount 1) and it stays up (a restart during a bake);
  * `unready-after-<N>s`: runs for ever, but is not Ready from N to N + 10 seconds after the kubelet took the
    pod on (a readiness probe failing for a while; the simulation has no probes, the image says it);
  * `crash-once`: the first run exits; the kubelet restarts it at once (restartCount 1) and it stays up;
  * `crash-twice`: the first two runs exit; after the second exit it waits out CrashLoopBackOff with
    restartCount 1 ("back-off 10s"), then the third run stays up (restartCount 2);
  * `crash`: every run exits (CrashLoopBackOff for ever);
  * `slow-stop`: the container ignores SIGTERM, so a deleted pod takes its whole grace period;
  * anything else pulls at once, runs, and stops promptly on SIGTERM.
Per node and pod (pull_refusal), whatever the above says: an image with `no-arm64` in its name has no manifest
for linux/arm64 and fails to pull on nodes labelled kubernetes.io/arch=arm64; an image whose registry host
starts with `private` answers 401 unless the pod names an imagePullSecret that exists (a missing one is only a
warning to the kubelet). Both fail every pull, for ever, with containerd's message.
What an image holds (has_executable): `sh`, `true` and their /bin paths, except images with `distroless` or
`scratch` in their name, which hold no shell at all; nothing else. A container whose `command` names an
executable the image lacks never starts (StartError, exit code 128), after its image was pulled.
The pod annotation `simulator.kubectl-ds.io/stop-seconds: "<n>"` makes every container of that pod stop n
seconds after SIGTERM (never later than the grace period, when SIGKILL comes).

Kubelet rules (pkg/kubelet/kuberuntime/kuberuntime_manager.go doBackOff, pkg/kubelet/images/image_manager.go
EnsureImageExists, k8s.io/client-go util/flowcontrol Backoff): restarts and pulls back off 10 s, doubling up
to 5 min. The first exit of a container is restarted at once (the back-off entry only starts then), so
CrashLoopBackOff first shows after the second exit, with restartCount 1. A failed pull shows ErrImagePull and
arms a 10 s back-off, during which the kubelet answers ImagePullBackOff without pulling.

One-shot pods (restartPolicy Never, run_once): a container that exits is not restarted; an explicit command
that exists runs `run_for` seconds and exits 0 (the simulation knows no other commands); the image's own
entrypoint behaves as above, and a crashing one exits 1 once.

Deviations: no jitter; a run that exits lasts `run_for` seconds (the simulation's ready_after); ErrImagePull
shows for `run_for` seconds after each failed pull (the pod worker's next sync), ImagePullBackOff for the rest
of the back-off; every container of a pod pulls and runs in step.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

BACKOFF_INITIAL = 10.0  # kubelet backOffPeriod
BACKOFF_MAX = 300.0  # kubelet MaxContainerBackOff
STOP_SECONDS_ANNOTATION = "simulator.kubectl-ds.io/stop-seconds"


@dataclass(frozen=True)
class Behaviour:
    """What a container does: failed pulls before one succeeds, runs that exit before one stays up (None:
    for ever), and whether it ignores SIGTERM."""

    failed_pulls: int | None = 0
    exits: int | None = 0
    ignores_sigterm: bool = False
    first_run: float | None = None  # the first run lasts this long (None: run_for)
    unready: tuple[float, float] | None = None  # not Ready from .. to (seconds after the kubelet took the pod on)


UNREADY_FOR = 10.0  # how long an `unready-after-<N>s` container is not Ready


def behaviour_of(image: str) -> Behaviour:
    crash_after = re.search(r"crash-after-(\d+)s", image)
    if crash_after:
        return Behaviour(exits=1, first_run=float(crash_after.group(1)))
    unready_after = re.search(r"unready-after-(\d+)s", image)
    if unready_after:
        start = float(unready_after.group(1))
        return Behaviour(unready=(start, start + UNREADY_FOR))
    if "nonexistent" in image or "bad" in image:
        return Behaviour(failed_pulls=None)
    if "flaky-pull" in image:
        return Behaviour(failed_pulls=1)
    if "crash-once" in image:
        return Behaviour(exits=1)
    if "crash-twice" in image:
        return Behaviour(exits=2)
    if "crash" in image:
        return Behaviour(exits=None)
    return Behaviour(ignores_sigterm="slow-stop" in image)


def pull_refusal(image: str, node_labels: Mapping[str, str], has_credentials: bool) -> str | None:
    """Why every pull of `image` fails on this node for this pod (containerd's words after the image
    reference), or None. Sources: containerd's platform matcher ("no match for platform in manifest") and the
    registry's 401 through the resolver ("pull access denied ... authorization failed")."""
    if "no-arm64" in image and node_labels.get("kubernetes.io/arch") == "arm64":
        return "no match for platform in manifest: not found"
    if image.split("/", 1)[0].startswith("private") and not has_credentials:
        return (
            f'failed to resolve reference "{image}": pull access denied, repository does not exist or may require '
            "authorization: server message: insufficient_scope: authorization failed"
        )
    return None


_SHELL = frozenset({"sh", "/bin/sh", "true", "/bin/true"})


def has_executable(image: str, path: str) -> bool:
    """Whether the image holds this executable (see the module's conventions)."""
    if "distroless" in image or "scratch" in image:
        return False
    return path in _SHELL


def start_error(path: str) -> str:
    """containerd's message for a command the image lacks (runc's exec in the container fails)."""
    return (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create "
        f'failed: unable to start container process: exec: "{path}": stat {path}: no such file or directory: '
        "unknown"
    )


def stop_seconds(images: list[str], annotations: Mapping[str, str], grace: float, default: float) -> float:
    """How long after SIGTERM a pod's containers are all gone: the annotation, else `default`, else the whole
    grace period for a container that ignores SIGTERM; SIGKILL at the end of the grace period caps it."""
    wanted = default
    written = annotations.get(STOP_SECONDS_ANNOTATION)
    if written is not None:
        with contextlib.suppress(ValueError):  # an unreadable annotation is ignored
            wanted = float(written)
    if any(behaviour_of(image).ignores_sigterm for image in images):
        wanted = grace
    return max(0.0, min(wanted, grace))


def backoff(step: int, scale: float = 1.0) -> float:
    """The back-off after the step-th (1-based) failure in a row: 10 s doubling to 5 min, times `scale`
    (1 on a real cluster; real-time tests compress it, a deliberate deviation named where they do)."""
    return min(BACKOFF_INITIAL * 2 ** (step - 1), BACKOFF_MAX) * scale


@dataclass(frozen=True)
class State:
    """A container `elapsed` seconds in: its waiting reason (None when running), restarts so far, when the
    current run started and the last one ended (seconds since the kubelet took the pod), and when the state
    next changes by itself (None: never, or never again without a write)."""

    waiting: str | None
    message: str
    restarts: int
    running_since: float | None
    last_exit: tuple[float, float] | None  # (started, finished) of the last run that exited
    changes_at: float | None
    back_off: float = 0.0


def state_at(behaviour: Behaviour, elapsed: float, run_for: float, scale: float = 1.0) -> State:
    """The container's state `elapsed` seconds after the kubelet took the pod on (back-offs times `scale`)."""
    pulled = _pulled_at(behaviour, elapsed, run_for, scale)
    if isinstance(pulled, State):
        return pulled
    started, restarts, last_exit = pulled, 0, None
    while behaviour.exits is None or restarts < behaviour.exits:
        lasts = behaviour.first_run if restarts == 0 and behaviour.first_run is not None else run_for
        finished = started + lasts
        if elapsed < finished:
            break  # this run is still up
        last_exit = (started, finished)
        wait = 0.0 if restarts == 0 else backoff(restarts, scale)  # the first exit restarts at once
        if elapsed < finished + wait:
            end = finished + wait
            return State("CrashLoopBackOff", "", restarts, None, last_exit, end, back_off=wait)
        started, restarts = finished + wait, restarts + 1
    exits_again = behaviour.exits is None or restarts < behaviour.exits
    lasts = behaviour.first_run if restarts == 0 and behaviour.first_run is not None else run_for
    return State(None, "", restarts, started, last_exit, started + lasts if exits_again else None)


def unready_now(behaviour: Behaviour, elapsed: float) -> bool:
    """Inside the window in which an `unready-after-<N>s` container is not Ready."""
    return behaviour.unready is not None and behaviour.unready[0] <= elapsed < behaviour.unready[1]


def _pulled_at(behaviour: Behaviour, elapsed: float, run_for: float, scale: float) -> float | State:
    """When the image was pulled, or the waiting state of a pull that has not succeeded yet."""
    attempt, failures = 0.0, 0
    while behaviour.failed_pulls is None or failures < behaviour.failed_pulls:
        failures += 1
        wait = backoff(failures, scale)
        if elapsed < attempt + wait:
            if elapsed < attempt + min(run_for, wait):
                return State("ErrImagePull", "", 0, None, None, attempt + min(run_for, wait))
            return State("ImagePullBackOff", "", 0, None, None, attempt + wait)
        attempt += wait
    return attempt


@dataclass(frozen=True)
class Exit:
    """A one-shot container that ran and exited (seconds since the kubelet took the pod on)."""

    started: float
    finished: float
    exit_code: int
    reason: str


def run_once(
    behaviour: Behaviour, image: str, command: list[str] | None, elapsed: float, run_for: float, scale: float = 1.0
) -> State | Exit:
    """A container of a restartPolicy Never pod `elapsed` seconds in: pulling, running, or exited."""
    pulled = _pulled_at(behaviour, elapsed, run_for, scale)
    if isinstance(pulled, State):
        return pulled
    if command and not has_executable(image, command[0]):
        return Exit(pulled, pulled, 128, "StartError")
    if not command and behaviour.exits == 0:
        return State(None, "", 0, pulled, None, None)  # the image's own entrypoint: a daemon runs on
    finished = pulled + run_for
    if elapsed < finished:
        return State(None, "", 0, pulled, None, finished)
    return Exit(pulled, finished, 0 if command else 1, "Completed" if command else "Error")


def crash_restarts(elapsed: float, run_for: float) -> int:
    """restartCount of a container that always exits, `elapsed` seconds after its first start."""
    return state_at(Behaviour(exits=None), elapsed, run_for).restarts
