"""SHELL. Drives a managed rollout step by step: the loop, and nothing else.

Every decision comes from the pure modules (plan and budget: which nodes, in which steps; decisions: what the
budget allows now, which pods go, which nodes are done, halt or not, a foreign change; state: the annotation's
transforms; gates: what runs between steps). This module reads through a Session, applies them, waits on pod
watches, keeps the state annotation honest, and reports events (rollout/events.py) that render/rollout.py words.
--prepull runs rollout/prepuller.py before the first write.

Safety, whatever happens to this process:
- the DaemonSet is parked (updateStrategy OnDelete) before anything changes, in the same write as the change
  itself, so the controller never rolls anything by itself;
- progress is read from the pods, never from a counter, so a resume neither repeats nor skips a node;
- every write is a PUT of the object just read (409 if anyone changed it: re-read and retry), and transient
  failures (5xx, timeouts, 429) are retried with backoff;
- Ctrl-C or SIGTERM ends the current wait, re-parks a surge step, releases ownership and exits 130; a killed
  process leaves a stale heartbeat that the next `resume` may take over.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace

from kubectl_ds import resources as r
from kubectl_ds.errors import DsError, Refused, RolloutHalted
from kubectl_ds.placement.revisions import RevisionIndex, index_revisions
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import decisions as d
from kubectl_ds.rollout import events as ev
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.adoption import adopt_new_revision
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.events import Outcome
from kubectl_ds.rollout.gating import GateRunner
from kubectl_ds.rollout.options import plan_options, validate_options
from kubectl_ds.rollout.ownership import Ownership
from kubectl_ds.rollout.parking import park_unmanaged
from kubectl_ds.rollout.plan import Plan, plan_rollout
from kubectl_ds.rollout.preflight import PREFLIGHT_CODES, checked
from kubectl_ds.rollout.prepuller import before_resume, before_start, plan_nodes, preview
from kubectl_ds.rollout.preview import preview_plan
from kubectl_ds.rollout.session import Driver, Session
from kubectl_ds.rollout.state import RolloutOptions, RolloutState
from kubectl_ds.rollout.steps import StepRunner
from kubectl_ds.strategy import surges


class Rollout:
    """One managed rollout of one DaemonSet."""

    def __init__(self, driver: Driver, *, namespace: str, name: str) -> None:
        self.driver = driver
        self.io = Session(driver, namespace=namespace, name=name)
        self.name = name
        self.own = Ownership(self.io)
        self.steps = StepRunner(self)
        self.gating = GateRunner(self)

    # --- entry points --------------------------------------------------------------------------------

    def start(
        self, change: Change, options: RolloutOptions, *, steps: int | None = None, dry_run: bool = False
    ) -> Outcome:
        validate_options(options)
        daemonset = self.io.get()
        existing = st.read_state(daemonset)
        if existing is not None:
            raise DsError(
                f'daemonset "{self.name}" already has a managed rollout ({existing.phase}); continue it '
                f"with: kubectl ds rollout resume {self.name}, or roll it back with: kubectl ds rollout "
                f"abort {self.name}"
            )
        template = change.apply(daemonset, self.io.now())
        if template == r.pod_template(daemonset):
            raise DsError(f'nothing to roll out: the pod template of daemonset "{self.name}" already matches')
        plan = self._preflight(daemonset, template, options)
        if dry_run:
            pulls = preview(daemonset, template, plan_nodes(plan), options) if options.prepull else None
            return Outcome(ev.WOULD_START, self.name, change=change.description, plan=plan, prepull=pulls)
        for warning in plan.warnings:
            if warning.code in PREFLIGHT_CODES:
                self.driver.say(ev.Warned(warning.code, warning.message))
        before_start(self, daemonset, template, plan, options)  # --prepull, before the first write
        start_hash, start_revision = self.io.current_revision(daemonset)
        now = self.io.now()
        state = RolloutState(
            rollout_id=uuid.uuid4().hex[:12],
            phase=st.RUNNING,
            direction=st.FORWARD,
            start_hash=start_hash,
            start_revision=start_revision,
            target_hash="",
            target_revision=0,
            options=options,
            owner=self.driver.owner,
            heartbeat=st.rfc3339(now),
            started_at=st.rfc3339(now),
            change=change.description,
        )
        daemonset = self.io.write(lambda ds: st.parked(d.unmanaged(ds), state, template))
        self.driver.say(ev.Parked(self.name, change.description))

        def rest() -> Outcome:
            adopt_new_revision(self, daemonset, options.step_timeout)
            return self._drive(steps)

        return self._guarded(rest)

    def _preflight(self, daemonset: Obj, template: Obj, options: RolloutOptions) -> Plan:
        """The plan of the change with every pre-flight finding; Refused, before any write, when it could not
        finish safely (unreachable nodes use up the budget, a PodDisruptionBudget never allows an eviction)."""
        pods, _ = self.io.pods(daemonset)
        nodes = self.io.nodes()
        others, others_note = None, ""
        if surges(options.max_surge) and self.driver.parse_quantity is not None:
            others, others_note = self.io.other_pods_by_node(daemonset, nodes)
        plan = preview_plan(
            daemonset,
            template,
            nodes,
            pods,
            self.io.revisions(daemonset),
            options,
            now=self.io.now(),
            parse_quantity=self.driver.parse_quantity,
            other_pods_by_node=others,
            last=self._last(),
        )
        budgets, note = self.io.disruption_budgets()
        plan, refusal = checked(
            plan,
            daemonset,
            nodes,
            pods,
            budgets,
            "; ".join(filter(None, [note, others_note])),
            others,
            evict=options.evict,
            allow_preemption=options.allow_preemption,
        )
        if refusal is not None:
            raise Refused(f'refusing to start the rollout of daemonset "{self.name}" (nothing was changed): {refusal}')
        return plan

    def resume(
        self,
        *,
        steps: int | None = None,
        force: bool = False,
        dry_run: bool = False,
        step_timeout: float | None = None,
        partition: int | None = None,
        nodes: str | None = None,
    ) -> Outcome:
        daemonset = self.io.get()
        state = self.own.state(daemonset, "resume")
        if state.phase == st.PARKED:
            if dry_run:
                return Outcome(ev.WOULD_UNPARK, self.name)
            self.io.write(lambda ds: st.finished(ds))
            return Outcome(ev.UNPARKED, self.name)
        self.own.check_driver(state, force)
        if dry_run:
            pods, _ = self.io.pods(daemonset)
            plan = self.plan(daemonset, state, self.io.nodes(), pods)
            return Outcome(ev.WOULD_RESUME, self.name, phase=state.phase, steps_left=len(plan.steps))
        self.own.take_over(step_timeout, partition, nodes)

        def rest() -> Outcome:
            if state.contained:
                # Halted and contained: the target template goes back on; its (maybe re-snapshotted) revision too.
                target = self.io.template_of(self.io.get(), state.target_hash)
                written = self.io.write(
                    lambda ds: st.parked(ds, replace(self.own.state(ds, "resume"), contained=False), target)
                )
                adopt_new_revision(self, written, state.options.step_timeout)
            elif state.direction == st.FORWARD and not state.target_hash:
                # The driver died between the change and recording its revision: record it now.
                adopt_new_revision(self, self.io.get(), state.options.step_timeout)
            before_resume(self, self.own.own_state(self.io.get()))  # --prepull, before the first eviction
            return self._drive(steps)

        return self._guarded(rest)

    def pause(self, *, dry_run: bool = False) -> Outcome:
        daemonset = self.io.get()
        state = st.read_state(daemonset)
        if state is None:
            return park_unmanaged(self.io, daemonset, dry_run=dry_run)
        if state.phase in (st.PAUSED, st.HALTED, st.PARKED):
            return Outcome(ev.ALREADY_STOPPED, self.name, phase=state.phase, reason=state.reason)
        if dry_run:
            return Outcome(ev.WOULD_PAUSE, self.name)
        self.io.write(
            lambda ds: st.with_state(ds, self.own.state(ds, "pause").with_phase(st.PAUSED, d.PAUSED_BY_REQUEST))
        )
        alive = state.driver_alive(self.io.now())
        return Outcome(ev.PAUSE_REQUESTED if alive else ev.PAUSED_NOW, self.name)

    def abort(
        self, *, force: bool = False, dry_run: bool = False, steps: int | None = None, step_timeout: float | None = None
    ) -> Outcome:
        daemonset = self.io.get()
        state = st.read_state(daemonset)
        if state is None:
            raise DsError(
                f'no managed rollout of daemonset "{self.name}" to abort (it is finished or was never '
                "started); to go back to an earlier revision use: kubectl ds rollout undo "
                f"{self.name}"
            )
        if state.phase == st.PARKED:
            return self.resume(dry_run=dry_run)
        self.own.check_driver(state, force)
        if state.direction == st.ROLLBACK:
            return self.resume(steps=steps, force=True, dry_run=dry_run, step_timeout=step_timeout)
        if step_timeout is not None:
            state = replace(state, options=replace(state.options, step_timeout=step_timeout))
        if state.surging and not dry_run:
            self.own.take_over()
        if not state.start_hash:
            raise DsError(f'cannot abort the rollout of daemonset "{self.name}": its starting revision is unknown')
        template = self.io.template_of(daemonset, state.start_hash)
        if dry_run:
            return Outcome(ev.WOULD_ABORT, self.name, revision=state.start_revision, revision_hash=state.start_hash)
        rollback = replace(
            state,
            direction=st.ROLLBACK,
            phase=st.RUNNING,
            reason="",
            surging=False,
            steps_done=0,
            sized_steps=0,
            contained=False,
            owner=self.driver.owner,
            heartbeat=st.rfc3339(self.io.now()),
        )
        daemonset = self.io.write(lambda ds: st.parked(ds, rollback, template))
        self.driver.say(ev.RollingBack(self.name, state.start_revision))

        def rest() -> Outcome:
            adopt_new_revision(self, daemonset, state.options.step_timeout, expect_hash=state.start_hash)
            return self._drive(steps)

        return self._guarded(rest)

    # --- the loop --------------------------------------------------------------------------------------

    def _guarded(self, rest: Callable[[], Outcome]) -> Outcome:
        """Run what follows a rollout's first write so that no exit leaves its state `running`: Ctrl-C and
        SIGTERM pause it, any other error halts it with the reason (a halt records itself). Only a killed
        process, or a cluster that cannot be written to at all, leaves a heartbeat to go stale."""
        try:
            return rest()
        except KeyboardInterrupt:
            self._interrupted()
            raise
        except RolloutHalted:
            raise
        except Exception as error:
            self.record_failure(d.stopped_by_error(error, self.name))
            raise

    def _drive(self, steps: int | None) -> Outcome:
        if self.driver.own_node:
            self.driver.say(ev.DrivenFrom(self.driver.own_node))
        done_now = 0
        rested = True  # --pause-between waits between two steps: never before the first, never after the last
        while True:
            daemonset = self.io.get()
            state = self.own.own_state(daemonset)
            if state.phase == st.PAUSED:
                return self._stop(st.PAUSED, state.reason or "paused")
            nodes = self.io.nodes(fresh=True)
            pods, _ = self.io.pods(daemonset, fresh=True)
            plan = self.plan(daemonset, state, nodes, pods)
            held = d.held_pods(daemonset, pods, self.goal(daemonset, state), self.io.now())
            lost = d.lost_nodes(held, nodes)
            if lost:
                self.halt(state, d.lost_reason(lost, nodes))
            if self.gating.pending(state):  # the step just done (or one a resume finds) passes its gates first
                self.gating.run(daemonset, state, plan)
                continue
            if not plan.steps:
                return self._finish_or_hold(daemonset, state, plan)
            if steps is not None and done_now >= steps:
                return self._stop(st.PAUSED, d.stopped_after_steps(done_now))
            if not rested:
                self.steps.sleep_with_heartbeat(state.options.pause_between)
                rested = True
                continue  # the world moved meanwhile: read it again
            step = plan.steps[0]
            started = ev.StepStarted(
                state.steps_done + 1,
                state.steps_done + len(plan.steps),
                step.nodes,
                canary=step.canary,
                surge=plan.surge,
                wave=step.wave,
            )
            if self.driver.confirm is not None and not self.driver.confirm(started):
                return self._stop(st.PAUSED, d.DECLINED)
            self.driver.say(started)
            if plan.surge:
                updated = self.steps.surge_step(daemonset, state, plan, step.nodes)
            else:
                updated = self.steps.unavailable_step(daemonset, state, plan, step.nodes)
            self.io.step_ended()
            done_now += 1
            self.io.write(lambda ds: st.with_state(ds, self.gating.step_done(ds, updated, step.canary)))  # noqa: B023
            progress = len(self.done_nodes(daemonset, state))
            self.driver.say(ev.StepDone(started.number, started.total, tuple(updated), progress, plan.desired))
            rested = state.options.pause_between <= 0

    def _finish_or_hold(self, daemonset: Obj, state: RolloutState, plan: Plan) -> Outcome:
        if plan.partitioned:
            return self._stop(st.PAUSED, d.partition_holds(plan.partitioned, state.start_revision))
        if plan.out_of_scope and state.options.nodes:
            return self._stop(st.PAUSED, d.scope_holds(plan.out_of_scope, state.options.nodes, state.start_revision))
        if plan.create_only:
            # Nodes without a pod get the new one from the controller; wait for them like a step.
            self.steps.wait_available(daemonset, state, list(plan.create_only), state.options.step_timeout)
        self.io.write(lambda ds: st.finished(ds))
        since = {r.name(node): r.node_ready_since(node) for node in self.io.nodes()}
        return Outcome(
            ev.FINISHED,
            self.name,
            rolled_back=state.direction == st.ROLLBACK,
            left_out=tuple((name, since.get(name)) for name in plan.unreachable),
        )

    # --- failures and stops ------------------------------------------------------------------------------

    def halt(self, state: RolloutState, reason: str) -> None:
        """Stop on a failure: stay parked, contain it, say why, and roll back if asked to."""
        if self.own.surging:
            self.io.write(lambda ds: st.reparked(ds))
            self.own.surging = False
        start = self._start_template(state)

        def halted(ds: Obj) -> Obj:
            current = self.own.own_state(ds).with_phase(st.HALTED, reason).released()
            return st.contained(ds, current, start) if start is not None else st.with_state(ds, current)

        self.io.write(halted)
        if state.options.on_failure == "abort" and state.direction == st.FORWARD:
            self.driver.say(ev.HaltedAborting(reason))
            self.abort(force=True)
            raise RolloutHalted(f'rollout of daemonset "{self.name}" failed and was rolled back: {reason}')
        raise RolloutHalted(
            f'rollout of daemonset "{self.name}" halted: {reason}; the DaemonSet stays parked. '
            f"Fix it and run: kubectl ds rollout resume {self.name}, or roll back with: "
            f"kubectl ds rollout abort {self.name}"
        )

    def record_failure(self, reason: str) -> None:
        """Halt the state with `reason` (parked again if a surge step was handed out), if it is still ours."""
        with contextlib.suppress(DsError):
            start = self._start_template(st.read_state(self.io.get()))

            def halted(ds: Obj) -> Obj:
                current = st.read_state(ds)
                if current is None or current.owner != self.driver.owner:
                    return ds
                base = st.reparked(ds) if self.own.surging else ds
                current = replace(current, surging=False).with_phase(st.HALTED, reason).released()
                return st.contained(base, current, start) if start is not None else st.with_state(base, current)

            self.io.write(halted)
            self.own.surging = False

    def _start_template(self, state: RolloutState | None) -> Obj | None:
        """The starting revision's template, to contain a halted forward rollout; None when there is nothing
        to contain (a rollback, an unknown start) or the revision is gone."""
        if state is None or state.direction != st.FORWARD or not state.start_hash:
            return None
        try:
            return self.io.template_of(self.io.get(), state.start_hash)
        except DsError:
            return None

    def _interrupted(self) -> None:
        """Ctrl-C / SIGTERM: leave the DaemonSet parked and the rollout resumable from anywhere."""
        try:
            if self.own.surging:
                self.io.write(lambda ds: st.reparked(ds))
                self.own.surging = False
            self.io.write(
                lambda ds: st.with_state(ds, self.own.own_state(ds).with_phase(st.PAUSED, d.INTERRUPTED).released())
            )
        except DsError:
            pass  # the heartbeat goes stale; `resume` takes over then
        self.driver.say(ev.Interrupted(self.name))

    def _stop(self, phase: str, reason: str) -> Outcome:
        self.io.write(lambda ds: st.with_state(ds, self.own.own_state(ds).with_phase(phase, reason).released()))
        return Outcome(ev.STOPPED, self.name, phase=phase, reason=reason)

    # --- reads the decisions need ---------------------------------------------------------------------------

    def goal(self, daemonset: Obj, state: RolloutState) -> RevisionIndex:
        return st.goal_index(index_revisions(daemonset, self.io.revisions(daemonset)), self.own.freshest(state))

    def plan(self, daemonset: Obj, state: RolloutState, nodes: Sequence[Obj], pods: Sequence[Obj]) -> Plan:
        options = replace(plan_options(state.options), last=self._last(), sized_steps_done=state.sized_steps)
        return plan_rollout(daemonset, nodes, pods, self.goal(daemonset, state), options, now=self.io.now())

    def _last(self) -> tuple[str, ...]:
        return (self.driver.own_node,) if self.driver.own_node else ()

    def done_nodes(self, daemonset: Obj, state: RolloutState) -> list[str]:
        pods, _ = self.io.pods(daemonset)
        return d.done_nodes(d.held_pods(daemonset, pods, self.goal(daemonset, state), self.io.now()))
