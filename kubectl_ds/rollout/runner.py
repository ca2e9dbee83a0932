"""SHELL. Drives a managed rollout step by step through a RolloutCluster, with an injected clock and sleep.

The one impure module outside kube/. Every decision comes from the pure modules (plan, budget, state);
this loop only applies them, waits on pod watches, and keeps the state annotation honest.

Safety, whatever happens to this process:
- the DaemonSet is parked (updateStrategy OnDelete) before anything changes, in the same write as the
  change itself, so the controller never rolls anything by itself;
- progress is read from the pods, never from a counter, so a resume neither repeats nor skips a node;
- every write is a PUT of the object just read (409 if anyone changed it: re-read and retry), and
  transient failures (5xx, timeouts, 429) are retried with backoff;
- Ctrl-C or SIGTERM ends the current wait, re-parks a surge step, releases ownership and exits 130; a
  killed process leaves a stale heartbeat that the next `resume` may take over.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

from kubectl_ds import resources as r
from kubectl_ds.errors import TRANSIENT, Conflict, DsError, NotFound, RolloutHalted, TooManyRequests, UsageError
from kubectl_ds.placement.pods import container_problem, is_available, is_terminating, pods_by_node
from kubectl_ds.placement.predicate import node_should_run_daemon_pod, pod_tolerations
from kubectl_ds.placement.report import natural_key
from kubectl_ds.placement.revisions import RevisionIndex, index_revisions, owned_revisions, revision_hash
from kubectl_ds.placement.scheduling import scheduler_message, short_scheduler_reason
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.budget import scaled, validate_rolling_update
from kubectl_ds.rollout.history import revision_template
from kubectl_ds.rollout.plan import Plan, PlanOptions, parse_canary, plan_rollout, validate_plan_options
from kubectl_ds.rollout.state import RolloutOptions, RolloutState

T = TypeVar("T")
Obj = dict[str, Any]
Pod = Mapping[str, Any]

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_RETRIES = 8
_WAIT_SLICE = 2.0  # seconds a single watch may block before we look at the DaemonSet again


class RolloutCluster(Protocol):
    """What a rollout reads and writes (kube.Cluster implements it)."""

    def get_daemonset(self, *, namespace: str, name: str) -> dict[str, Any]: ...

    def replace_daemonset(self, daemonset: Mapping[str, Any]) -> dict[str, Any]: ...

    def list_nodes(self) -> list[dict[str, Any]]: ...

    def list_pods_versioned(self, *, namespace: str, selector: Mapping[str, Any]) -> tuple[
        list[dict[str, Any]], str]: ...

    def list_controller_revisions(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]: ...

    def list_scheduling_events(self, *, namespace: str) -> list[dict[str, Any]]: ...

    def watch_pods(self, *, namespace: str, selector: Mapping[str, Any], resource_version: str,
                   timeout: float) -> Iterator[tuple[str, dict[str, Any]]]: ...

    def evict_pod(self, *, namespace: str, name: str) -> None: ...

    def delete_pod(self, *, namespace: str, name: str, uid: str | None = None) -> None: ...


@dataclass(frozen=True)
class Change:
    """What a rollout changes in the pod template."""

    images: tuple[tuple[str, str], ...] = ()  # (container, image)
    restart: bool = False
    template: Pod | None = None  # from a manifest (-f)
    description: str = ""

    def apply(self, daemonset: Obj, now: datetime) -> Obj:
        template: Obj = json.loads(json.dumps(r.pod_template(daemonset)))
        if self.template is not None:
            template = json.loads(json.dumps(self.template))
        if self.images:
            containers = {c.get("name"): c for c in (template.get("spec") or {}).get("containers") or []}
            containers.update({c.get("name"): c for c in (template.get("spec") or {}).get("initContainers") or []})
            for container, image in self.images:
                if container not in containers:
                    known = ", ".join(str(name) for name in containers)
                    raise DsError(f'container "{container}" not found in daemonset "{r.name(daemonset)}" '
                                  f"(containers: {known}); use --image CONTAINER=IMAGE")
                containers[container]["image"] = image
        if self.restart:
            metadata = template.setdefault("metadata", {})
            metadata.setdefault("annotations", {})[RESTARTED_AT] = st.rfc3339(now)
        return template


@dataclass(frozen=True)
class Outcome:
    message: str
    done: bool = False
    paused: bool = False


@dataclass
class Driver:
    """Collaborators of a rollout; every one of them can be swapped in tests."""

    cluster: RolloutCluster
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    say: Callable[[str], None]
    owner: str = ""
    confirm: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        self.owner = self.owner or f"kubectl-ds/{uuid.uuid4().hex[:12]}"


class Rollout:
    """One managed rollout of one DaemonSet."""

    def __init__(self, driver: Driver, *, namespace: str, name: str) -> None:
        self.driver = driver
        self.namespace = namespace
        self.name = name
        self._last_beat = datetime.min.replace(tzinfo=None)
        self._surging = False
        # One pod list serves every question asked between two changes (a write, or a watch event):
        # on 1,000 nodes that is what keeps a rollout at a few requests per node.
        self._epoch = 0
        self._pods_cache: tuple[int, list[Pod], str] | None = None
        self._nodes_cache: tuple[datetime, list[Obj]] | None = None

    # --- entry points --------------------------------------------------------------------------------

    def start(self, change: Change, options: RolloutOptions, *, steps: int | None = None,
              dry_run: bool = False) -> Outcome:
        validate_options(options)
        daemonset = self._get()
        existing = st.read_state(daemonset)
        if existing is not None:
            raise DsError(f'daemonset "{self.name}" already has a managed rollout ({existing.phase}); continue it '
                          f"with: kubectl ds rollout resume {self.name}, or roll it back with: kubectl ds rollout "
                          f"abort {self.name}")
        template = change.apply(daemonset, self.driver.clock())
        if template == r.pod_template(daemonset):
            raise DsError(f'nothing to roll out: the pod template of daemonset "{self.name}" already matches')
        start = self._current_revision(daemonset)
        if dry_run:
            return Outcome(self._describe_start(daemonset, change, options, template))
        now = self.driver.clock()
        state = RolloutState(
            rollout_id=uuid.uuid4().hex[:12], phase=st.RUNNING, direction=st.FORWARD,
            start_hash=start[0], start_revision=start[1], target_hash="", target_revision=0,
            options=options, owner=self.driver.owner, heartbeat=st.rfc3339(now), started_at=st.rfc3339(now),
            change=change.description)
        daemonset = self._write(lambda ds: st.parked(_unmanaged(ds, self.name), state, template))
        self.driver.say(f'daemonset.apps/{self.name} parked (updateStrategy OnDelete) and changed: '
                        f"{change.description}")
        self._adopt_new_revision(daemonset, options.step_timeout)
        return self._drive(steps)

    def resume(self, *, steps: int | None = None, force: bool = False, dry_run: bool = False,
               step_timeout: float | None = None, partition: int | None = None) -> Outcome:
        daemonset = self._get()
        state = self._state(daemonset, "resume")
        if state.phase == st.PARKED:
            if dry_run:
                return Outcome(f"would restore the original updateStrategy of daemonset {self.name}")
            self._write(lambda ds: st.finished(ds))
            return Outcome(f"daemonset.apps/{self.name} resumed: the controller continues its rolling update",
                           done=True)
        self._check_driver(state, force)
        if dry_run:
            return Outcome(self._describe_resume(daemonset, state))
        self._take_over(step_timeout, partition)
        if state.direction == st.FORWARD and not state.target_hash:
            # The driver died between the change and recording its revision: record it now.
            self._adopt_new_revision(self._get(), state.options.step_timeout)
        return self._drive(steps)

    def _take_over(self, step_timeout: float | None = None, partition: int | None = None) -> None:
        """Become the driver (with any options overridden); park again a surge step that a dead driver left
        with the controller."""
        if partition is not None and partition < 0:
            raise UsageError(f"invalid --partition {partition}: must be greater than or equal to 0")

        def change(ds: Obj) -> Obj:
            current = self._state(ds, "resume")
            if step_timeout is not None:
                current = replace(current, options=replace(current.options, step_timeout=step_timeout))
            if partition is not None:
                current = replace(current, options=replace(current.options, partition=partition))
            base = st.reparked(ds) if current.surging else ds
            return st.with_state(base, replace(current, surging=False).owned_by(
                self.driver.owner, self.driver.clock()).with_phase(st.RUNNING))
        self._write(change)

    def pause(self, *, dry_run: bool = False) -> Outcome:
        daemonset = self._get()
        state = st.read_state(daemonset)
        if state is None:
            return self._park_unmanaged(daemonset, dry_run)
        if state.phase in (st.PAUSED, st.HALTED, st.PARKED):
            return Outcome(f"daemonset.apps/{self.name} is already {state.phase}"
                           + (f" ({state.reason})" if state.reason else ""), paused=True)
        if dry_run:
            return Outcome(f"would ask the rollout of daemonset {self.name} to pause at the next step boundary")
        self._write(lambda ds: st.with_state(ds, self._state(ds, "pause").with_phase(st.PAUSED, "paused by request")))
        message = f"daemonset.apps/{self.name} will pause at the next step boundary"
        if not state.driver_alive(self.driver.clock()):
            message = f"daemonset.apps/{self.name} paused"
        return Outcome(message, paused=True)

    def abort(self, *, force: bool = False, dry_run: bool = False, steps: int | None = None,
              step_timeout: float | None = None) -> Outcome:
        daemonset = self._get()
        state = st.read_state(daemonset)
        if state is None:
            raise DsError(f'no managed rollout of daemonset "{self.name}" to abort (it is finished or was never '
                          "started); to go back to an earlier revision use: kubectl ds rollout undo "
                          f"{self.name}")
        if state.phase == st.PARKED:
            return self.resume(dry_run=dry_run)
        self._check_driver(state, force)
        if state.direction == st.ROLLBACK:
            return self.resume(steps=steps, force=True, dry_run=dry_run, step_timeout=step_timeout)
        if step_timeout is not None:
            state = replace(state, options=replace(state.options, step_timeout=step_timeout))
        if state.surging and not dry_run:
            self._take_over()
        if not state.start_hash:
            raise DsError(f'cannot abort the rollout of daemonset "{self.name}": its starting revision is unknown')
        template = self._template_of(daemonset, state.start_hash)
        if dry_run:
            return Outcome(f"would return daemonset {self.name} to revision {state.start_revision} "
                           f"(hash {state.start_hash}) node by node, then restore its updateStrategy")
        rollback = replace(state, direction=st.ROLLBACK, phase=st.RUNNING, reason="", surging=False,
                           owner=self.driver.owner, heartbeat=st.rfc3339(self.driver.clock()))
        daemonset = self._write(lambda ds: st.parked(ds, rollback, template))
        self.driver.say(f"daemonset.apps/{self.name} rolling back to revision {state.start_revision}")
        self._adopt_new_revision(daemonset, state.options.step_timeout, expect_hash=state.start_hash)
        return self._drive(steps)

    # --- the loop --------------------------------------------------------------------------------------

    def _drive(self, steps: int | None) -> Outcome:
        done_now = 0
        try:
            while True:
                daemonset = self._get()
                state = self._own_state(daemonset)
                if state.phase == st.PAUSED:
                    return self._stop(st.PAUSED, state.reason or "paused")
                nodes = self._nodes()
                pods, _ = self._pods(daemonset)
                plan = self._plan(daemonset, state, nodes, pods)
                if not plan.steps:
                    return self._finish_or_hold(daemonset, state, plan, nodes)
                if steps is not None and done_now >= steps:
                    return self._stop(st.PAUSED, f"stopped after {done_now} {_plural(done_now, 'step')} "
                                                 "(--steps)")
                step = plan.steps[0]
                total = state.steps_done + len(plan.steps)
                label = f"step {state.steps_done + 1} of {total}"
                if self.driver.confirm is not None and not self.driver.confirm(
                        f"{label}: {', '.join(step.nodes)}. Continue?"):
                    return self._stop(st.PAUSED, "declined at the confirmation prompt")
                if plan.surge:
                    self.driver.say(f"{label}: surge {len(step.nodes)} {_plural(len(step.nodes), 'node')} "
                                    "(the controller picks them)")
                    updated = self._surge_step(daemonset, state, plan, step.nodes)
                else:
                    self.driver.say(f"{label}: {', '.join(step.nodes)}" + (" (canary)" if step.canary else ""))
                    updated = self._unavailable_step(daemonset, state, plan, step.nodes)
                done_now += 1
                self._write(lambda ds: st.with_state(ds, self._after_step(ds)))
                progress = len(self._updated_available(daemonset, state))
                self.driver.say(f"{label} done: {', '.join(updated)} updated ({progress} of {plan.desired} "
                                f"{_plural(plan.desired, 'node')} done)")
                if state.options.pause_between > 0:
                    self._sleep_with_heartbeat(state.options.pause_between)
        except KeyboardInterrupt:
            self._interrupted()
            raise

    def _after_step(self, daemonset: Obj) -> RolloutState:
        current = self._own_state(daemonset)
        return replace(current, steps_done=current.steps_done + 1, heartbeat=st.rfc3339(self.driver.clock()))

    def _finish_or_hold(self, daemonset: Obj, state: RolloutState, plan: Plan, nodes: list[Obj]) -> Outcome:
        if plan.partitioned:
            return self._stop(st.PAUSED, f"--partition: {len(plan.partitioned)} "
                                         f"{_plural(len(plan.partitioned), 'node')} stay on revision "
                                         f"{state.start_revision}")
        if plan.create_only:
            # Nodes without a pod get the new one from the controller; wait for them like a step.
            self._wait_available(daemonset, state, list(plan.create_only), state.options.step_timeout)
        self._write(lambda ds: st.finished(ds))
        verb = "rolled back" if state.direction == st.ROLLBACK else "successfully rolled out"
        return Outcome(f'daemon set "{self.name}" {verb}; updateStrategy restored', done=True)

    def _unavailable_step(self, daemonset: Obj, state: RolloutState, plan: Plan, nodes: Sequence[str]) -> list[str]:
        """Replace the old pods of `nodes`: evict (or delete), then wait for available new pods."""
        chosen = self._within_budget(daemonset, state, plan, nodes)
        pods, _ = self._pods(daemonset)
        grouped = pods_by_node(pods)
        target = self._target_hash(state)
        for node in chosen:
            for pod in grouped.get(node, []):
                if is_terminating(pod) or r.labels(pod).get(r.REVISION_HASH_LABEL) == target:
                    continue
                self._remove_pod(pod, state)
        self._wait_available(daemonset, state, chosen, state.options.step_timeout)
        return chosen

    def _within_budget(self, daemonset: Obj, state: RolloutState, plan: Plan, nodes: Sequence[str]) -> list[str]:
        """The step's nodes the unavailability budget allows now; waits for room if there is none."""
        deadline = self.driver.clock() + timedelta(seconds=state.options.step_timeout)
        while True:
            free = set(plan.already_unavailable)
            costly = [node for node in nodes if node not in free]
            room = plan.budget.max_unavailable - len(plan.already_unavailable)
            chosen = [node for node in nodes if node in free] + costly[:max(0, room)]
            if chosen:
                return chosen
            if self.driver.clock() >= deadline:
                self._halt(state, f"budget exhausted: {len(plan.already_unavailable)} "
                                  f"{_plural(len(plan.already_unavailable), 'node')} unavailable "
                                  f"({', '.join(plan.already_unavailable[:5])}) and --max-unavailable is "
                                  f"{plan.budget.max_unavailable}")
            self._wait_for_pods(daemonset, _WAIT_SLICE)
            daemonset = self._get()
            state = self._own_state(daemonset)
            pods, _ = self._pods(daemonset)
            plan = self._plan(daemonset, state, self._nodes(), pods)

    def _surge_step(self, daemonset: Obj, state: RolloutState, plan: Plan, nodes: Sequence[str]) -> list[str]:
        """Only the controller can run a second pod on a node: let it surge `len(nodes)` nodes, then park.

        The controller chooses which nodes surge. Parking again cancels a surge pod that is not yet
        available (OnDelete keeps only the oldest pod on a node, i.e. the old one).
        """
        before = self._updated_available(daemonset, state)
        wanted = min(len(before) + len(nodes), plan.desired)
        self._write(lambda ds: st.surging(ds, len(nodes)))
        self._surging = True
        try:
            updated = self._wait_for_surge(daemonset, state, before, wanted)
        except (Exception, KeyboardInterrupt):
            # Park again on any failure we live through (a killed process cannot: resume does it then).
            if self._surging:
                with contextlib.suppress(DsError):
                    self._write(lambda ds: st.reparked(ds))
                self._surging = False
            raise
        self._write(lambda ds: st.reparked(ds))
        self._surging = False
        return updated

    def _wait_for_surge(self, daemonset: Obj, state: RolloutState, before: Sequence[str], wanted: int) -> list[str]:
        deadline = self.driver.clock() + timedelta(seconds=state.options.step_timeout)
        while True:
            done = self._updated_available(daemonset, state)
            if len(done) >= wanted:
                return [node for node in done if node not in before]
            self._check_failures(daemonset, state, self._updating_nodes(daemonset, state))
            if self.driver.clock() >= deadline:
                self._halt(state, f"surge step not complete after {state.options.step_timeout:g}s "
                                  f"({len(done)} of {wanted} nodes updated and available)")
            self._beat()
            self._wait_for_pods(daemonset, _WAIT_SLICE)

    # --- waiting ----------------------------------------------------------------------------------------

    def _wait_available(self, daemonset: Obj, state: RolloutState, nodes: Sequence[str], timeout: float) -> None:
        deadline = self.driver.clock() + timedelta(seconds=timeout)
        while True:
            pending = self._not_yet_available(daemonset, state, nodes)
            if not pending:
                return
            self._check_failures(daemonset, state, pending)
            if self.driver.clock() >= deadline:
                self._halt(state, f"new pods not available within {timeout:g}s on {', '.join(pending[:5])}"
                                  + self._explain_nodes(daemonset, state, pending))
            self._beat()
            self._wait_for_pods(daemonset, _WAIT_SLICE)

    def _not_yet_available(self, daemonset: Obj, state: RolloutState, nodes: Sequence[str]) -> list[str]:
        pods, _ = self._pods(daemonset)
        grouped = pods_by_node(pods)
        target = self._target_hash(state)
        min_ready = int(r.spec(daemonset).get("minReadySeconds") or 0)
        now = self.driver.clock()
        # A node that stopped qualifying meanwhile (NotReady taints, a label removed) gets no new pod from the
        # controller; waiting for it would only time out. It drops out of the step, like the controller's own
        # rolling update drops it from the desired set.
        tolerations = pod_tolerations(daemonset)
        wanted = {r.name(node) for node in self._nodes()
                  if node_should_run_daemon_pod(daemonset, node, tolerations=tolerations).should_run}
        pending = []
        for node in nodes:
            if node not in wanted:
                continue
            live = [p for p in grouped.get(node, []) if not is_terminating(p)]
            new = [p for p in live if r.labels(p).get(r.REVISION_HASH_LABEL) == target]
            old = [p for p in live if r.labels(p).get(r.REVISION_HASH_LABEL) != target]
            if not new or old or not is_available(new[0], min_ready, now):
                pending.append(node)
        return pending

    def _wait_for_pods(self, daemonset: Obj, seconds: float) -> None:
        """Return when a pod of the DaemonSet changes, or after `seconds` (a watch, not a poll)."""
        _, version = self._pods(daemonset)
        selector = r.spec(daemonset).get("selector") or {}
        started = self.driver.clock()
        self._changed_since_listing()
        events = self.driver.cluster.watch_pods(namespace=self.namespace, selector=selector,
                                                resource_version=version, timeout=seconds)
        try:
            for _ in events:
                return
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        # A watch that ended early without an event (dropped, 410): do not spin.
        if (self.driver.clock() - started).total_seconds() < seconds / 2:
            self.driver.sleep(min(0.5, seconds))

    def _sleep_with_heartbeat(self, seconds: float) -> None:
        end = self.driver.clock() + timedelta(seconds=seconds)
        while self.driver.clock() < end:
            self._beat()
            self.driver.sleep(min(1.0, (end - self.driver.clock()).total_seconds()))

    # --- failures ----------------------------------------------------------------------------------------

    def _check_failures(self, daemonset: Obj, state: RolloutState, nodes: Sequence[str]) -> None:
        """Halt at once when a new pod crash-loops, cannot pull its image, or cannot be scheduled."""
        pods, _ = self._pods(daemonset)
        grouped = pods_by_node(pods)
        target = self._target_hash(state)
        failures = []
        events: Sequence[Pod] | None = None
        for node in nodes:
            for pod in grouped.get(node, []):
                if r.labels(pod).get(r.REVISION_HASH_LABEL) != target or is_terminating(pod):
                    continue
                problem = container_problem(pod)
                if problem is not None and problem.reason is not None and problem.status in (
                        "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
                    failures.append(f"{node}: {problem.reason.message}")
                elif _unschedulable(pod):
                    if events is None:
                        events = self._scheduling_events()
                    message = scheduler_message(pod, events) or "unschedulable"
                    failures.append(f"{node}: pod {r.name(pod)} is Pending: {short_scheduler_reason(message)}")
        if failures:
            self._halt(state, "; ".join(failures))

    def _scheduling_events(self) -> list[Obj]:
        try:
            return self.driver.cluster.list_scheduling_events(namespace=self.namespace)
        except DsError:
            return []

    def _explain_nodes(self, daemonset: Obj, state: RolloutState, nodes: Sequence[str]) -> str:
        """The controller-side reasons (from explain) for stuck nodes, when there are any."""
        by_name = {r.name(node): node for node in self._nodes()}
        notes = []
        for node in nodes[:5]:
            if node in by_name:
                verdict = node_should_run_daemon_pod(daemonset, by_name[node])
                reasons = [reason.message for reason in verdict.reasons]
                if reasons:
                    notes.append(f"{node}: {'; '.join(reasons)}")
        return (" (" + "; ".join(notes) + ")") if notes else ""

    def _halt(self, state: RolloutState, reason: str) -> None:
        """Stop on a failure: stay parked, say why, and roll back if asked to."""
        if self._surging:
            self._write(lambda ds: st.reparked(ds))
            self._surging = False
        self._write(lambda ds: st.with_state(ds, self._own_state(ds).with_phase(st.HALTED, reason).released()))
        if state.options.on_failure == "abort" and state.direction == st.FORWARD:
            self.driver.say(f"halted: {reason}; --on-failure abort: rolling back")
            self.abort(force=True)
            raise RolloutHalted(f'rollout of daemonset "{self.name}" failed and was rolled back: {reason}')
        raise RolloutHalted(f'rollout of daemonset "{self.name}" halted: {reason}; the DaemonSet stays parked. '
                            f"Fix it and run: kubectl ds rollout resume {self.name}, or roll back with: "
                            f"kubectl ds rollout abort {self.name}")

    def _interrupted(self) -> None:
        """Ctrl-C / SIGTERM: leave the DaemonSet parked and the rollout resumable from anywhere."""
        try:
            if self._surging:
                self._write(lambda ds: st.reparked(ds))
                self._surging = False
            self._write(lambda ds: st.with_state(ds, self._own_state(ds).with_phase(
                st.PAUSED, "interrupted").released()))
        except DsError:
            pass  # the heartbeat goes stale; `resume` takes over then
        self.driver.say(f"interrupted: daemonset {self.name} is parked; continue with: kubectl ds rollout resume "
                        f"{self.name}")

    def _stop(self, phase: str, reason: str) -> Outcome:
        self._write(lambda ds: st.with_state(ds, self._own_state(ds).with_phase(phase, reason).released()))
        return Outcome(f"daemonset.apps/{self.name} {phase}: {reason}; continue with: kubectl ds rollout resume "
                       f"{self.name}", paused=True)

    # --- helpers ----------------------------------------------------------------------------------------

    def _get(self) -> Obj:
        return self._retry(lambda: self.driver.cluster.get_daemonset(namespace=self.namespace, name=self.name))

    def _pods(self, daemonset: Obj) -> tuple[list[Pod], str]:
        if self._pods_cache is not None and self._pods_cache[0] == self._epoch:
            return self._pods_cache[1], self._pods_cache[2]
        selector = r.spec(daemonset).get("selector") or {}
        items, version = self._retry(lambda: self.driver.cluster.list_pods_versioned(
            namespace=self.namespace, selector=selector))
        owned: list[Pod] = [pod for pod in items if r.is_controlled_by(pod, daemonset)]
        self._pods_cache = (self._epoch, owned, version)
        return owned, version

    def _changed_since_listing(self) -> None:
        self._epoch += 1

    def _nodes(self) -> list[Obj]:
        """Nodes, re-read at most every few seconds: their labels and taints change rarely, and a node
        going NotReady matters within seconds, not milliseconds."""
        now = self.driver.clock()
        if self._nodes_cache is None or now - self._nodes_cache[0] > timedelta(seconds=5):
            self._nodes_cache = (now, self._retry(lambda: self.driver.cluster.list_nodes()))
        return self._nodes_cache[1]

    def _retry(self, call: Callable[[], T]) -> T:
        delay = 0.2
        for attempt in range(_RETRIES):
            try:
                return call()
            except TRANSIENT:
                if attempt == _RETRIES - 1:
                    raise
                self.driver.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def _write(self, change: Callable[[Obj], Obj]) -> Obj:
        """Read, change, PUT; on 409 read again and re-apply the change (it is a function of the object)."""
        for _ in range(_RETRIES):
            updated = change(self._get())
            try:
                written = self._retry(lambda: self.driver.cluster.replace_daemonset(updated))  # noqa: B023
            except Conflict:
                continue
            self._changed_since_listing()
            return written
        raise DsError(f'daemonset "{self.name}" keeps changing under us (409 Conflict {_RETRIES} times); '
                      "try again")

    def _state(self, daemonset: Obj, verb: str) -> RolloutState:
        state = st.read_state(daemonset)
        if state is None:
            raise DsError(f'no managed rollout of daemonset "{self.name}" to {verb}; start one with: kubectl ds '
                          f"rollout start {self.name} --image CONTAINER=IMAGE")
        return state

    def _own_state(self, daemonset: Obj) -> RolloutState:
        """The state, checked: still ours, and nobody changed the DaemonSet behind our back."""
        state = st.read_state(daemonset)
        if state is None:
            raise RolloutHalted(f'the managed rollout of daemonset "{self.name}" was removed by someone else')
        if state.owner and state.owner != self.driver.owner:
            raise RolloutHalted(f'another process ({state.owner}) took over the rollout of daemonset "{self.name}"')
        if not self._surging and not st.is_parked(daemonset):
            strategy = json.dumps(r.spec(daemonset).get("updateStrategy"))
            raise self._changed(state, f"its updateStrategy was changed to {strategy}")
        target = self._target_hash(state)
        current = self._current_revision(daemonset)
        observed = int(r.status(daemonset).get("observedGeneration") or 0) >= int(
            r.metadata(daemonset).get("generation") or 0)
        if target and current[0] and current[0] != target and observed:
            expected = state.start_revision if state.direction == st.ROLLBACK else state.target_revision
            raise self._changed(state, f"its pod template was changed (revision {expected} -> {current[1]})")
        return state

    def _changed(self, state: RolloutState, what: str) -> RolloutHalted:
        reason = f"changed by someone else: {what}"
        with contextlib.suppress(DsError):
            self._write(lambda ds: st.with_state(ds, replace(st.read_state(ds) or state, phase=st.HALTED,
                                                             reason=reason).released()))
        return RolloutHalted(f'rollout of daemonset "{self.name}" halted: {reason}; inspect it, then resume or '
                             f"abort (kubectl ds rollout abort {self.name})")

    def _check_driver(self, state: RolloutState, force: bool) -> None:
        now = self.driver.clock()
        if state.owner and state.owner != self.driver.owner and state.driver_alive(now) and not force:
            beat = st.parse_time(state.heartbeat)
            age = f"{int((now - beat).total_seconds())}s ago" if beat else "recently"
            raise DsError(f'the rollout of daemonset "{self.name}" is being driven by {state.owner} (heartbeat '
                          f"{age}); wait for it, or take over with --force if that process is gone")

    def _beat(self) -> None:
        now = self.driver.clock()
        if now - self._last_beat.replace(tzinfo=now.tzinfo) < st.HEARTBEAT_EVERY:
            return
        self._last_beat = now
        self._write(lambda ds: st.with_state(ds, replace(self._own_state(ds), heartbeat=st.rfc3339(now))))

    def _revisions(self, daemonset: Obj) -> list[Obj]:
        selector = r.spec(daemonset).get("selector") or {}
        return self._retry(lambda: self.driver.cluster.list_controller_revisions(
            namespace=self.namespace, selector=selector))

    def _current_revision(self, daemonset: Obj) -> tuple[str, int]:
        owned = owned_revisions(daemonset, self._revisions(daemonset))
        if not owned:
            return "", 0
        return revision_hash(owned[-1]), int(owned[-1].get("revision") or 0)

    def _template_of(self, daemonset: Obj, wanted_hash: str) -> Pod:
        for revision in owned_revisions(daemonset, self._revisions(daemonset)):
            if revision_hash(revision) == wanted_hash:
                return revision_template(revision)
        raise DsError(f'the starting revision (hash {wanted_hash}) of daemonset "{self.name}" no longer exists; '
                      "roll back with: kubectl ds rollout undo --to-revision N")

    def _adopt_new_revision(self, daemonset: Obj, timeout: float, expect_hash: str | None = None) -> None:
        """Wait for the controller to record the new template as the newest ControllerRevision."""
        deadline = self.driver.clock() + timedelta(seconds=timeout)
        generation = int(r.metadata(daemonset).get("generation") or 0)
        while True:
            current = self._get()
            observed = int(r.status(current).get("observedGeneration") or 0)
            revision = self._current_revision(current)
            if observed >= generation and revision[0] and (expect_hash is None or revision[0] == expect_hash):
                break
            if self.driver.clock() >= deadline:
                raise RolloutHalted(f'the DaemonSet controller did not pick up the change of daemonset "{self.name}"'
                                    f" within {timeout:g}s; is kube-controller-manager running? The DaemonSet stays "
                                    f"parked: kubectl ds rollout resume {self.name}")
            self.driver.sleep(0.2)
        if expect_hash is None:
            self._write(lambda ds: st.with_state(ds, replace(
                self._state(ds, "resume"), target_hash=revision[0], target_revision=revision[1],
                heartbeat=st.rfc3339(self.driver.clock()))))

    def _target_hash(self, state: RolloutState) -> str:
        """The revision the pods are driven to: the new one, or the starting one while rolling back."""
        return st.goal_hash(state)

    def _index(self, daemonset: Obj, state: RolloutState) -> RevisionIndex:
        index = index_revisions(daemonset, self._revisions(daemonset))
        return RevisionIndex(by_hash=index.by_hash, current_hash=self._target_hash(state),
                             current_revision=index.by_hash.get(self._target_hash(state)), template_generation=None)

    def _plan(self, daemonset: Obj, state: RolloutState, nodes: Sequence[Obj], pods: Sequence[Pod]) -> Plan:
        return plan_rollout(daemonset, nodes, pods, self._index(daemonset, state), plan_options(state.options),
                            now=self.driver.clock())

    def _updated_available(self, daemonset: Obj, state: RolloutState) -> list[str]:
        pods, _ = self._pods(daemonset)
        min_ready = int(r.spec(daemonset).get("minReadySeconds") or 0)
        now = self.driver.clock()
        return sorted({node for node, group in pods_by_node(pods).items()
                       if any(r.labels(p).get(r.REVISION_HASH_LABEL) == self._target_hash(state)
                              and is_available(p, min_ready, now) for p in group)
                       and not any(r.labels(p).get(r.REVISION_HASH_LABEL) != self._target_hash(state)
                                   and not is_terminating(p) for p in group)}, key=natural_key)

    def _updating_nodes(self, daemonset: Obj, state: RolloutState) -> list[str]:
        pods, _ = self._pods(daemonset)
        return [node for node, group in pods_by_node(pods).items()
                if any(r.labels(p).get(r.REVISION_HASH_LABEL) == self._target_hash(state) for p in group)]

    def _remove_pod(self, pod: Pod, state: RolloutState) -> None:
        """Evict (PodDisruptionBudgets apply; 429 means wait) or, with --delete, delete the old pod."""
        deadline = self.driver.clock() + timedelta(seconds=state.options.step_timeout)
        while True:
            try:
                if state.options.evict:
                    self._retry_without_429(lambda: self.driver.cluster.evict_pod(
                        namespace=self.namespace, name=r.name(pod)))
                else:
                    self._retry(lambda: self.driver.cluster.delete_pod(
                        namespace=self.namespace, name=r.name(pod), uid=r.uid(pod) or None))
                self._changed_since_listing()
                return
            except NotFound:
                return  # already gone
            except TooManyRequests as error:
                if self.driver.clock() >= deadline:
                    self._halt(state, f"cannot evict pod {r.name(pod)}: a PodDisruptionBudget forbids it "
                                      f"({error.message}); retry later, or use --delete to bypass it")
                self._beat()
                self.driver.sleep(2.0)

    def _retry_without_429(self, call: Callable[[], None]) -> None:
        """Like _retry, but a 429 from the eviction API is a PDB's answer, not a transient failure."""
        delay = 0.2
        for attempt in range(_RETRIES):
            try:
                call()
                return
            except TooManyRequests:
                raise
            except TRANSIENT:
                if attempt == _RETRIES - 1:
                    raise
                self.driver.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _park_unmanaged(self, daemonset: Obj, dry_run: bool) -> Outcome:
        strategy = r.spec(daemonset).get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete":
            raise DsError(f'daemonset "{self.name}" uses updateStrategy OnDelete: the controller never replaces '
                          "pods by itself, so there is nothing to pause")
        if dry_run:
            return Outcome(f"would park daemonset {self.name} (updateStrategy OnDelete) until rollout resume")
        now = self.driver.clock()
        current = self._current_revision(daemonset)
        state = RolloutState(rollout_id=uuid.uuid4().hex[:12], phase=st.PARKED, direction=st.FORWARD,
                             start_hash="", start_revision=0, target_hash=current[0], target_revision=current[1],
                             reason="paused by kubectl ds rollout pause", started_at=st.rfc3339(now))
        self._write(lambda ds: st.parked(_unmanaged(ds, self.name), state))
        return Outcome(f"daemonset.apps/{self.name} paused: parked with updateStrategy OnDelete; the controller "
                       f"replaces no more pods until: kubectl ds rollout resume {self.name}", paused=True)

    def _describe_start(self, daemonset: Obj, change: Change, options: RolloutOptions, template: Obj) -> str:
        nodes = self._nodes()
        pods, _ = self._pods(daemonset)
        current = self._current_revision(daemonset)
        index = RevisionIndex(by_hash={current[0]: current[1]} if current[0] else {}, current_hash="(new)",
                              current_revision=None, template_generation=None)
        preview = json.loads(json.dumps(daemonset))
        preview["spec"]["template"] = template
        plan = plan_rollout(preview, nodes, pods, index, plan_options(options), now=self.driver.clock())
        lines = [f"would park daemonset {self.name} (updateStrategy OnDelete, the original saved in annotation "
                 f"{st.STRATEGY_ANNOTATION}) and change: {change.description}",
                 f"then replace pods in {len(plan.steps)} {_plural(len(plan.steps), 'step')}:"]
        lines += [f"  step {step.number}: {', '.join(step.nodes)}" for step in plan.steps]
        lines += [f"warning: {warning.message}" for warning in plan.warnings]
        return "\n".join(lines)

    def _describe_resume(self, daemonset: Obj, state: RolloutState) -> str:
        pods, _ = self._pods(daemonset)
        plan = self._plan(daemonset, state, self._nodes(), pods)
        return (f"would resume the rollout of daemonset {self.name} ({state.phase}) with {len(plan.steps)} "
                f"{_plural(len(plan.steps), 'step')} left")


def _unmanaged(daemonset: Obj, name: str) -> Obj:
    """The DaemonSet, checked again just before a write: two `start`s racing must not both win."""
    state = st.read_state(daemonset)
    if state is not None:
        raise DsError(f'daemonset "{name}" already has a managed rollout ({state.phase}); use kubectl ds rollout '
                      f"resume or abort {name}")
    return daemonset


def _unschedulable(pod: Pod) -> bool:
    for condition in r.status(pod).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False" \
                and condition.get("reason") == "Unschedulable":
            return True
    return False


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def plan_options(options: RolloutOptions) -> PlanOptions:
    return PlanOptions(max_unavailable=options.max_unavailable, max_surge=options.max_surge,
                       step_size=options.step_size, canary=parse_canary(options.canary) if options.canary else None,
                       partition=options.partition)


def validate_options(options: RolloutOptions) -> None:
    """Flags checked the way the API server checks them, plus what a managed rollout cannot do."""
    validate_rolling_update(options.max_unavailable, options.max_surge)
    validate_plan_options(plan_options(options))
    surge = scaled(options.max_surge, 1) > 0
    if surge and (options.canary or options.partition):
        raise UsageError("--canary and --partition need the plugin to choose the nodes, but with --max-surge the "
                      "controller chooses which nodes surge; use --max-unavailable instead")
    if options.on_failure not in ("halt", "abort"):
        raise UsageError(f'invalid --on-failure "{options.on_failure}": use halt or abort')
    if options.step_timeout <= 0:
        raise UsageError("--step-timeout must be positive")


def image_flags(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        container, sep, image = value.partition("=")
        if not sep or not container or not image:
            raise UsageError(f'invalid --image "{value}": use CONTAINER=IMAGE, '
                             "e.g. --image fluentd=fluent/fluentd:v1.17")
        pairs.append((container, image))
    return tuple(pairs)


# --- kubectl's own (controller-driven) undo and restart, optionally managed ---------------------------

def restart(cluster: RolloutCluster, namespace: str, name: str, *, dry_run: bool, managed: Rollout | None,
            options: RolloutOptions) -> Outcome:
    """kubectl rollout restart: set the template annotation restartedAt; the controller rolls it (or we do)."""
    if managed is not None:
        return managed.start(Change(restart=True, description="restart"), options, dry_run=dry_run)
    daemonset = cluster.get_daemonset(namespace=namespace, name=name)
    _refuse_if_parked(daemonset, name, "restart")
    if dry_run:
        return Outcome(f"daemonset.apps/{name} restarted (dry run): would set the pod template annotation "
                       f"{RESTARTED_AT}")
    now = datetime.now(timezone.utc)
    updated = json.loads(json.dumps(daemonset))
    template = updated["spec"]["template"].setdefault("metadata", {})
    annotations = template.setdefault("annotations", {})
    if annotations.get(RESTARTED_AT) == st.rfc3339(now):
        raise DsError(f"failed to create patch for {name}: if restart has already been triggered within the past "
                      "second, please wait before attempting to trigger another")
    annotations[RESTARTED_AT] = st.rfc3339(now)
    cluster.replace_daemonset(updated)
    return Outcome(f"daemonset.apps/{name} restarted")


def undo(cluster: RolloutCluster, namespace: str, name: str, *, to_revision: int, dry_run: bool,
         managed: Rollout | None, options: RolloutOptions) -> Outcome:
    """kubectl rollout undo, with its messages: back to `to_revision` (0: the previous revision)."""
    daemonset = cluster.get_daemonset(namespace=namespace, name=name)
    revisions = owned_revisions(daemonset, cluster.list_controller_revisions(
        namespace=namespace, selector=r.spec(daemonset).get("selector") or {}))
    if to_revision < 0:
        raise DsError(f"unable to find specified revision {to_revision} in history")
    if to_revision == 0:
        if len(revisions) <= 1:
            raise DsError("no last revision to roll back to")
        chosen = revisions[-2]
    else:
        matching = [rev for rev in revisions if int(rev.get("revision") or 0) == to_revision]
        if not matching:
            raise DsError(f"unable to find specified revision {to_revision} in history")
        chosen = matching[0]
    number = int(chosen.get("revision") or 0)
    template = revision_template(chosen)
    if revisions and revision_hash(chosen) == revision_hash(revisions[-1]):
        return Outcome(f"daemonset.apps/{name} skipped rollback (current template already matches revision "
                       f"{number})")
    if managed is not None:
        return managed.start(Change(template=template, description=f"rollback to revision {number}"), options,
                             dry_run=dry_run)
    _refuse_if_parked(daemonset, name, "undo")
    if dry_run:
        images = ", ".join(c.get("image", "") for c in (template.get("spec") or {}).get("containers") or [])
        return Outcome(f"daemonset.apps/{name} will roll back to revision {number} (images: {images}) (dry run)")
    updated = json.loads(json.dumps(daemonset))
    updated["spec"]["template"] = template
    cluster.replace_daemonset(updated)
    return Outcome(f"daemonset.apps/{name} rolled back")


def _refuse_if_parked(daemonset: Obj, name: str, verb: str) -> None:
    state = st.read_state(daemonset)
    if state is not None:
        raise DsError(f'daemonset "{name}" has a managed rollout ({state.phase}); finish it (kubectl ds rollout '
                      f"resume {name}) or abort it before {verb}, or pass --managed")
