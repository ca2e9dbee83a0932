"""Pure. What a managed rollout reports while it runs (events) and when it returns (an Outcome), as data.
render/rollout.py words them; the runner never builds a line a user reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kubectl_ds.rollout.plan import Plan


@dataclass(frozen=True)
class Parked:
    """The DaemonSet was parked and its template changed, in one write."""

    name: str
    change: str


@dataclass(frozen=True)
class Warned:
    """A pre-flight finding, said before the first write (the same as `plan` shows)."""

    code: str
    message: str


@dataclass(frozen=True)
class DrivenFrom:
    """The driver runs in a pod on this node of the cluster: the node goes in the last step."""

    node: str


@dataclass(frozen=True)
class RollingBack:
    name: str
    revision: int


@dataclass(frozen=True)
class StepStarted:
    number: int  # from 1, counting the steps done before this run too
    total: int
    nodes: tuple[str, ...]  # with surge: the nodes the plan counted; the controller picks its own
    canary: bool = False
    surge: bool = False
    wave: str | None = None  # the --wave-by label value of the step's nodes ("" for nodes without the label)


@dataclass(frozen=True)
class StepDone:
    number: int
    total: int
    updated: tuple[str, ...]
    progress: int  # wanted nodes updated and available, all steps so far
    desired: int


@dataclass(frozen=True)
class WaitingForTermination:
    """A step waits for an old pod to go: the new one comes only after it (up to its grace period)."""

    node: str
    pod: str
    grace_ends: datetime | None
    grace_seconds: int | None
    now: datetime


@dataclass(frozen=True)
class HaltedAborting:
    """A step failed under --on-failure abort: the rollback starts now."""

    reason: str


@dataclass(frozen=True)
class Interrupted:
    name: str


# --- pre-pull (--prepull, kubectl ds prepull) -----------------------------------------------------------


@dataclass(frozen=True)
class PrepullStarted:
    """Pre-pull pods were created: one per node, pulling these images."""

    images: tuple[str, ...]
    nodes: int
    timeout: float


@dataclass(frozen=True)
class PrepullProgress:
    """The images are now pulled on `pulled` of `total` nodes."""

    pulled: int
    total: int


@dataclass(frozen=True)
class PrepullDone:
    nodes: int


@dataclass(frozen=True)
class PrepullFailed:
    """The pull failed on `failed` of `total` nodes (the error that follows names them)."""

    failed: int
    total: int


@dataclass(frozen=True)
class PrepullPreview:
    """What a pre-pull would create (plan, --dry-run); pod names carry a run id, shown as xxxxx."""

    images: tuple[str, ...]
    nodes: tuple[str, ...]
    pods: tuple[str, ...]
    timeout: float


# --- gates between steps (rollout/gates.py) ---------------------------------------------------------------------


@dataclass(frozen=True)
class CheckPassed:
    """--check or --check-exec passed after a step (`pods`: how many pods --check-exec ran in)."""

    number: int
    total: int
    flag: str
    command: str
    pods: int = 0


@dataclass(frozen=True)
class Baking:
    """The bake after a step begins (or continues on resume: `elapsed` seconds of it were already past)."""

    number: int
    total: int
    seconds: float
    pods: int
    elapsed: float = 0.0


@dataclass(frozen=True)
class Baked:
    number: int
    total: int
    seconds: float
    pods: int


Event = (
    Parked
    | Warned
    | DrivenFrom
    | RollingBack
    | StepStarted
    | StepDone
    | WaitingForTermination
    | HaltedAborting
    | Interrupted
    | PrepullStarted
    | PrepullProgress
    | PrepullDone
    | PrepullFailed
    | CheckPassed
    | Baking
    | Baked
)

# What an entry point ended with (Outcome.kind).
FINISHED = "finished"  # the rollout is done and the original strategy restored
STOPPED = "stopped"  # paused at a step boundary: `phase` and `reason` say why
UNPARKED = "unparked"  # resume of a DaemonSet parked by `pause`: the controller continues
ALREADY_STOPPED = "already-stopped"  # pause of a rollout that is paused, halted or parked already
PAUSE_REQUESTED = "pause-requested"  # pause of a running rollout: its driver stops at the step boundary
PAUSED_NOW = "paused-now"  # pause of a rollout whose driver is gone
PARKED_UNMANAGED = "parked-unmanaged"  # pause of the controller's own RollingUpdate
# kubectl's own (controller-driven) restart and undo.
RESTARTED = "restarted"
ROLLED_BACK = "rolled-back"
ROLLBACK_SKIPPED = "rollback-skipped"  # the chosen revision is the current one
# Dry runs.
WOULD_RESTART = "would-restart"
WOULD_ROLL_BACK = "would-roll-back"
WOULD_START = "would-start"
WOULD_RESUME = "would-resume"
WOULD_UNPARK = "would-unpark"
WOULD_PAUSE = "would-pause"
WOULD_PARK = "would-park"
WOULD_ABORT = "would-abort"
# kubectl ds prepull.
PREPULLED = "prepulled"
WOULD_PREPULL = "would-prepull"


@dataclass(frozen=True)
class Outcome:
    kind: str
    name: str
    phase: str = ""
    reason: str = ""
    rolled_back: bool = False  # FINISHED: a rollback (abort) finished, not a rollout
    revision: int = 0  # WOULD_ABORT: the starting revision; undo: the revision chosen
    revision_hash: str = ""
    steps_left: int = 0  # WOULD_RESUME
    change: str = ""  # WOULD_START
    plan: Plan | None = None  # WOULD_START
    images: tuple[str, ...] = ()  # WOULD_ROLL_BACK: the images of the revision
    left_out: tuple[tuple[str, datetime | None], ...] = ()  # FINISHED: unreachable nodes (and since when)
    prepull: PrepullPreview | None = None  # WOULD_START with --prepull, WOULD_PREPULL: the pods it would create
    pulled_on: int = 0  # PREPULLED: the nodes that pulled `images`

    @property
    def done(self) -> bool:
        return self.kind in (FINISHED, UNPARKED)

    @property
    def paused(self) -> bool:
        """The rollout stands still, parked, and `resume` continues it."""
        return self.kind in (STOPPED, ALREADY_STOPPED, PAUSE_REQUESTED, PAUSED_NOW, PARKED_UNMANAGED)
