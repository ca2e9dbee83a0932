"""SHELL. Who drives a managed rollout, and whether the DaemonSet is still the one it drives: the owner and
heartbeat in the state annotation, taking over from a dead driver, and the check, before every step, that
nobody removed the rollout, took it over or changed the DaemonSet behind its back."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import datetime

from kubectl_ds import resources as r
from kubectl_ds.errors import DsError, RolloutHalted, UsageError
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import decisions as d
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.session import Session
from kubectl_ds.rollout.state import RolloutState


class Ownership:
    """The driving process's claim on one rollout."""

    def __init__(self, io: Session) -> None:
        self.io = io
        self.name = io.name
        self.driver = io.driver
        self.last_beat = datetime.min
        self.surging = False  # a surge step is handed to the controller: the DaemonSet is not parked now
        self.latest: RolloutState | None = None  # the state as own_state last checked it (goal re-snapshots adopted)

    def take_over(
        self, step_timeout: float | None = None, partition: int | None = None, nodes: str | None = None
    ) -> None:
        """Become the driver (with any options overridden); park again a surge step that a dead driver left
        with the controller."""
        if partition is not None and partition < 0:
            raise UsageError(f"invalid --partition {partition}: must be greater than or equal to 0")

        def change(ds: Obj) -> Obj:
            current = self.state(ds, "resume")
            if step_timeout is not None:
                current = replace(current, options=replace(current.options, step_timeout=step_timeout))
            if partition is not None:
                current = replace(current, options=replace(current.options, partition=partition))
            if nodes is not None:  # "" is the empty selector: every node
                current = replace(current, options=replace(current.options, nodes=nodes or None))
            base = st.reparked(ds) if current.surging else ds
            return st.with_state(
                base, replace(current, surging=False).owned_by(self.driver.owner, self.io.now()).with_phase(st.RUNNING)
            )

        self.io.write(change)

    def check_driver(self, state: RolloutState, force: bool) -> None:
        now = self.io.now()
        if state.owner and state.owner != self.driver.owner and state.driver_alive(now) and not force:
            beat = r.parse_time(state.heartbeat)
            age = f"{int((now - beat).total_seconds())}s ago" if beat else "recently"
            raise DsError(
                f'the rollout of daemonset "{self.name}" is being driven by {state.owner} (heartbeat '
                f"{age}); wait for it, or take over with --force if that process is gone"
            )

    def beat(self) -> None:
        now = self.io.now()
        if now - self.last_beat.replace(tzinfo=now.tzinfo) < st.HEARTBEAT_EVERY:
            return
        self.last_beat = now
        self.io.write(lambda ds: st.with_state(ds, replace(self.own_state(ds), heartbeat=st.rfc3339(now))))

    def state(self, daemonset: Obj, verb: str) -> RolloutState:
        state = st.read_state(daemonset)
        if state is None:
            raise DsError(
                f'no managed rollout of daemonset "{self.name}" to {verb}; start one with: kubectl ds '
                f"rollout start {self.name} --image CONTAINER=IMAGE"
            )
        return state

    def own_state(self, daemonset: Obj) -> RolloutState:
        """The state, checked: still ours, and nobody changed the DaemonSet behind our back."""
        state = st.read_state(daemonset)
        if state is None:
            raise RolloutHalted(f'the managed rollout of daemonset "{self.name}" was removed by someone else')
        if state.owner and state.owner != self.driver.owner:
            raise RolloutHalted(f'another process ({state.owner}) took over the rollout of daemonset "{self.name}"')
        current = self.io.current_revision(daemonset)
        changed = d.foreign_change(daemonset, state, current, surging=self.surging)
        if changed is not None and self._same_goal_resnapshotted(daemonset, state):
            # The API server defaulted a field (an upgrade, a webhook) when we last wrote: the controller snapshotted
            # our own goal again under a new hash. Adopt it; the caller's next write records it.
            state = d.resnapshotted(state, current)
            changed = d.foreign_change(daemonset, state, current, surging=self.surging)
        if changed is not None:
            raise self.changed(state, changed)
        self.latest = state
        return state

    def freshest(self, state: RolloutState) -> RolloutState:
        """`state`, or the same rollout as own_state last saw it: a wait that began before a re-snapshot of the
        goal was adopted (by a heartbeat's check) then counts the new snapshot's pods as updated too."""
        latest = self.latest
        if latest is not None and (latest.rollout_id, latest.direction) == (state.rollout_id, state.direction):
            return latest
        return state

    def _same_goal_resnapshotted(self, daemonset: Obj, state: RolloutState) -> bool:
        goal = st.goal_hash(state)
        if state.contained or not goal:
            return False
        try:
            return d.same_template(self.io.template_of(daemonset, goal), r.pod_template(daemonset))
        except DsError:
            return False  # the goal's revision is gone: nothing to compare, so it is a change

    def changed(self, state: RolloutState, what: str) -> RolloutHalted:
        reason = f"changed by someone else: {what}"
        with contextlib.suppress(DsError):
            self.io.write(
                lambda ds: st.with_state(
                    ds, replace(st.read_state(ds) or state, phase=st.HALTED, reason=reason).released()
                )
            )
        return RolloutHalted(
            f'rollout of daemonset "{self.name}" halted: {reason}; inspect it, then resume or '
            f"abort (kubectl ds rollout abort {self.name})"
        )
