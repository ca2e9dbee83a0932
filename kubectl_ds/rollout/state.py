"""Pure. The state of a managed rollout, kept in annotations on the DaemonSet itself.

Keeping it on the object (not on a laptop) is what lets any terminal read, resume or abort a rollout,
and what makes an interrupted rollout safe: the DaemonSet stays parked (updateStrategy OnDelete), so the
controller moves nothing, and the state says where things stand. Progress itself is never trusted from
the annotation: which nodes are done is read from the pods (their revision hash) and the node order is
a pure function of the nodes (rollout.plan), so a resume can neither repeat nor skip a node.

Annotations (documented in the README):
- `kubectl-ds.io/rollout`: JSON, the RolloutState below.
- `kubectl-ds.io/original-strategy`: JSON, the updateStrategy to restore at the end.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.errors import DsError
from kubectl_ds.placement.revisions import RevisionIndex
from kubectl_ds.resources import Obj
from kubectl_ds.strategy import is_on_delete

STATE_ANNOTATION = r.MANAGED_ROLLOUT_ANNOTATION
STRATEGY_ANNOTATION = "kubectl-ds.io/original-strategy"
PARKED_STRATEGY: dict[str, Any] = {"type": "OnDelete"}
SCHEMA = 1

# Phases of a managed rollout.
RUNNING = "running"  # a process drives it (see owner/heartbeat)
PAUSED = "paused"  # stopped at a step boundary on purpose (--steps, pause, partition); resume continues
HALTED = "halted"  # stopped by a failure; resume retries, abort rolls back
PARKED = "parked"  # `rollout pause` on an unmanaged RollingUpdate: only parked, nothing planned

FORWARD = "forward"  # towards the target revision
ROLLBACK = "rollback"  # abort: back to the starting revision

# A driver renews its heartbeat at least this often; a heartbeat older than STALE_AFTER is a dead driver.
HEARTBEAT_EVERY = timedelta(seconds=5)
STALE_AFTER = timedelta(seconds=30)


class StateError(DsError):
    """The annotations do not hold a state we can use."""


@dataclass(frozen=True)
class RolloutOptions:
    """The options the rollout was started with, so `resume` needs none."""

    max_unavailable: int | str = 1
    max_surge: int | str = 0
    step_size: int | str | None = None
    canary: str | None = None
    partition: int = 0
    step_timeout: float = 300.0
    on_failure: str = "halt"  # or "abort"
    evict: bool = True  # False: --delete, bypassing PodDisruptionBudgets
    pause_between: float = 0.0
    skip_unreachable: bool = False  # unreachable nodes use no budget either
    allow_preemption: bool = False  # a surge may preempt lower-priority pods to fit
    # When a new pod's trouble is persistent, not a first attempt (docs/rules.md#r-container-states):
    max_restarts: int = 3  # a crash loop halts at this many restarts
    image_pull_timeout: float = 60.0  # pull errors halt once the pod has existed this long
    unschedulable_timeout: float = 30.0  # Unschedulable (with no nominated node) halts after this long
    # Which nodes, in what order, how many (rollout/ordering.py); kept as the flags' text, so the state is plain
    # JSON and `status` can show them as typed:
    canary_spread: str | None = None  # label keys: the canary step takes one node per distinct value of each
    nodes: str | None = None  # a label selector (kubectl syntax): nodes outside it stay on their revision
    wave_by: str | None = None  # a label key: one value per wave
    # --- pre-pull (issue 10, rollout/prepull.py): before the first write, and before resume's first eviction
    prepull: bool = False
    prepull_timeout: float = 300.0  # nodes that have not reported a pull by then count as failed
    # --- gates between steps (rollout/gates.py): run after a step's pods are available, before the next step ---
    check: str = ""  # --check: a shell command run by the driver with the step in its environment
    check_exec: str = ""  # --check-exec: a command run inside each new pod of the step (pods/exec)
    check_timeout: float = 300.0  # --check-timeout: a check still running then is killed, and halts
    bake: float = 0.0  # --bake: seconds to watch the updated pods after each step
    canary_bake: float | None = None  # --canary-bake: the bake after the canary step (None: --bake)


@dataclass(frozen=True)
class RolloutState:
    rollout_id: str
    phase: str
    direction: str
    start_hash: str
    start_revision: int
    target_hash: str
    target_revision: int
    steps_done: int = 0
    options: RolloutOptions = field(default_factory=RolloutOptions)
    reason: str = ""  # why paused/halted
    owner: str = ""  # "host/pid/id" of the driving process, "" when none
    heartbeat: str = ""  # RFC 3339
    started_at: str = ""
    change: str = ""  # what the rollout changes, for status ("image fluentd=fluent/fluentd:v1.18")
    surging: bool = False  # a surge step is handed to the controller (the DaemonSet is not parked meanwhile)
    contained: bool = False  # halted with the starting template put back: new and recreated pods get it
    # Hashes of earlier snapshots of the goal's own template (a re-snapshot after defaulting): their pods count
    # as updated.
    equivalents: tuple[str, ...] = ()
    sized_steps: int = 0  # steps taken that were not canary steps: where growing --step-size sizes resume
    # --- gates (rollout/gates.py): the step whose pods are available but whose gates have not passed yet -------
    gate_step: int = 0  # its number (0: none); `resume` runs its gates before anything else
    gate_nodes: tuple[str, ...] = ()  # the nodes it updated (the checks' KUBECTL_DS_NODES, --check-exec's pods)
    gate_canary: bool = False  # it was the canary step (--canary-bake)
    bake_started: str = ""  # RFC 3339: its checks passed and its bake runs since then; a halt clears it

    def with_phase(self, phase: str, reason: str = "") -> RolloutState:
        # A halt forgets a bake in progress: after a failure, `resume` checks and bakes the step again from the
        # start (a pause or an interruption keeps it: `resume` continues the bake; docs in README "Gates").
        bake_started = "" if phase == HALTED else self.bake_started
        return replace(self, phase=phase, reason=reason, bake_started=bake_started)

    def owned_by(self, owner: str, now: datetime) -> RolloutState:
        return replace(self, owner=owner, heartbeat=rfc3339(now))

    def released(self) -> RolloutState:
        return replace(self, owner="", heartbeat="")

    def driver_alive(self, now: datetime) -> bool:
        """Whether another process still drives the rollout (its heartbeat is fresh)."""
        if not self.owner or not self.heartbeat:
            return False
        beat = r.parse_time(self.heartbeat)
        return beat is not None and now - beat < STALE_AFTER


def goal_hash(state: RolloutState) -> str:
    """The revision the pods are driven to: the new one, or the starting one while rolling back."""
    return state.start_hash if state.direction == ROLLBACK else state.target_hash


def goal_index(index: RevisionIndex, state: RolloutState) -> RevisionIndex:
    """The revision index with the goal revision as "current": a pod is updated when it carries the goal's
    hash (the legacy template-generation label does not count, since the goal may be an older revision)."""
    goal = goal_hash(state)
    return RevisionIndex(
        by_hash=index.by_hash,
        current_hash=goal,
        current_revision=index.by_hash.get(goal),
        template_generation=None,
        also_current=frozenset(state.equivalents),
    )


def rfc3339(moment: datetime) -> str:
    """UTC with a Z, as the API server writes times (a naive datetime is taken as UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode(state: RolloutState) -> str:
    data = asdict(state)
    data["schema"] = SCHEMA
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def decode(text: str, *, daemonset: str) -> RolloutState:
    try:
        data = json.loads(text)
        if data.pop("schema", None) != SCHEMA:
            raise ValueError("unknown schema")
        options = RolloutOptions(**data.pop("options"))
        data["equivalents"] = tuple(data.get("equivalents") or ())
        data["gate_nodes"] = tuple(data.get("gate_nodes") or ())
        return RolloutState(options=options, **data)
    except (ValueError, TypeError, KeyError) as error:
        raise StateError(
            f'the {STATE_ANNOTATION} annotation of daemonset "{daemonset}" is not a state this '
            f"version understands ({error}); remove it with: kubectl annotate ds {daemonset} "
            f"{STATE_ANNOTATION}- {STRATEGY_ANNOTATION}-"
        ) from error


def read_state(daemonset: Obj) -> RolloutState | None:
    text = r.annotations_of(daemonset).get(STATE_ANNOTATION)
    return decode(text, daemonset=r.name(daemonset)) if text else None


def original_strategy(daemonset: Obj) -> dict[str, Any] | None:
    text = r.annotations_of(daemonset).get(STRATEGY_ANNOTATION)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise StateError(
            f'the {STRATEGY_ANNOTATION} annotation of daemonset "{r.name(daemonset)}" is not JSON'
        ) from error
    return value if isinstance(value, dict) else None


def is_parked(daemonset: Obj) -> bool:
    return is_on_delete(daemonset)


# --- transforms: each returns the new object, written back whole (PUT) with its resourceVersion --------
# A PUT of the object we read fails with 409 if anyone changed it meanwhile, which is the precondition
# every rollout write needs; and unlike a merge patch it can drop template keys (a removed nodeSelector).


def _copy(daemonset: Obj) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(daemonset))
    return copied


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.setdefault("metadata", {})
    if not isinstance(metadata.get("annotations"), dict):
        metadata["annotations"] = {}
    annotations: dict[str, Any] = metadata["annotations"]
    return annotations


def parked(daemonset: Obj, state: RolloutState | None, template: Obj | None = None) -> dict[str, Any]:
    """Park the DaemonSet, remember its strategy and (optionally) change its template — in ONE write, so
    there is no moment at which the controller could roll the change out by itself."""
    result = _copy(daemonset)
    annotations = _annotations(result)
    if STRATEGY_ANNOTATION not in annotations:
        strategy = result.get("spec", {}).get("updateStrategy") or {"type": "RollingUpdate"}
        annotations[STRATEGY_ANNOTATION] = json.dumps(strategy, sort_keys=True)
    if state is not None:
        annotations[STATE_ANNOTATION] = encode(state)
    result.setdefault("spec", {})["updateStrategy"] = dict(PARKED_STRATEGY)
    if template is not None:
        result["spec"]["template"] = _copy(template)
    return result


def contained(daemonset: Obj, state: RolloutState, start_template: Obj) -> dict[str, Any]:
    """A halted rollout, kept from spreading: parked still, with the starting template back. While parked the
    controller gives the CURRENT template to every node without a pod (nodes that join, pods recreated after
    going Failed), so a halted bad version would otherwise reach them; updated nodes keep their new pod for
    diagnosis (docs/rules.md#r-on-delete)."""
    result = parked(daemonset, replace(state, contained=True), start_template)
    return result


def with_state(daemonset: Obj, state: RolloutState) -> dict[str, Any]:
    result = _copy(daemonset)
    _annotations(result)[STATE_ANNOTATION] = encode(state)
    return result


def stepped(state: RolloutState, now: datetime, *, canary: bool) -> RolloutState:
    """One more step done (and one more growing --step-size size used, unless it was the canary step)."""
    return replace(
        state,
        steps_done=state.steps_done + 1,
        sized_steps=state.sized_steps + (0 if canary else 1),
        heartbeat=rfc3339(now),
    )


def surging(daemonset: Obj, max_surge: int) -> dict[str, Any]:
    """Hand one surge step to the controller (only it can run a second pod on a node), and say so in the
    state in the same write, so that whoever resumes after a crash knows to park it again."""
    result = _copy(daemonset)
    result.setdefault("spec", {})["updateStrategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": 0},
    }
    state = read_state(daemonset)
    if state is not None:
        _annotations(result)[STATE_ANNOTATION] = encode(replace(state, surging=True))
    return result


def reparked(daemonset: Obj) -> dict[str, Any]:
    """Park again after a surge step. OnDelete keeps only the oldest pod on a node, so a surge pod that is
    not available yet is cancelled and the old pod stays."""
    result = _copy(daemonset)
    result.setdefault("spec", {})["updateStrategy"] = dict(PARKED_STRATEGY)
    state = read_state(daemonset)
    if state is not None:
        _annotations(result)[STATE_ANNOTATION] = encode(replace(state, surging=False))
    return result


def finished(daemonset: Obj) -> dict[str, Any]:
    """Restore the original strategy and remove our annotations, in one write."""
    result = _copy(daemonset)
    strategy = original_strategy(daemonset) or {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    result.setdefault("spec", {})["updateStrategy"] = strategy
    annotations = _annotations(result)
    annotations.pop(STATE_ANNOTATION, None)
    annotations.pop(STRATEGY_ANNOTATION, None)
    return result
