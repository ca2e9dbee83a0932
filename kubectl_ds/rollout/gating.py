"""SHELL. Runs the gates of a step (rollout/gates.py decides; this module reads, waits and starts nothing
itself): --check through the injected `Driver.run_check`, --check-exec through `Driver.exec_in_pod`, then the
bake on pod watches. A failing gate halts the rollout (or rolls it back with --on-failure abort) through the
runner's `halt`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from kubectl_ds import resources as r
from kubectl_ds.errors import DsError
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import decisions as d
from kubectl_ds.rollout import events as ev
from kubectl_ds.rollout import gates as g
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.plan import Plan
from kubectl_ds.rollout.state import RolloutState

if TYPE_CHECKING:
    from kubectl_ds.rollout.runner import Rollout

WAIT_SLICE = 2.0  # seconds one watch may block during a bake before the DaemonSet is read again (a pause request)


class GateRunner:
    """The gates of one Rollout's steps."""

    def __init__(self, rollout: Rollout) -> None:
        self.rollout = rollout
        self.io = rollout.io
        self.own = rollout.own
        self.driver = rollout.driver

    @staticmethod
    def pending(state: RolloutState) -> bool:
        return g.pending(state)

    def step_done(self, daemonset: Obj, updated: Sequence[str], canary: bool) -> RolloutState:
        """The state once a step's pods are available: one more step done, and its gates pending (if any)."""
        current = self.own.own_state(daemonset)
        return g.after_step(st.stepped(current, self.io.now(), canary=canary), updated, canary)

    def run(self, daemonset: Obj, state: RolloutState, plan: Plan) -> None:
        """Run the pending gates of `state.gate_step`. Returns once they passed (the state says so), or when a
        pause was requested during the bake (the state keeps the bake: `resume` continues it); halts on a
        failure."""
        # The step's pods are available when it ends; on a resume (after a halt, say) they must be again first.
        self.rollout.steps.wait_available(daemonset, state, state.gate_nodes, state.options.step_timeout)
        pods, _ = self.io.pods(daemonset)
        held = d.held_pods(daemonset, pods, self.rollout.goal(daemonset, state), self.io.now(), state.gate_nodes)
        new_pods = {name: node.new[0] for name, node in held.items() if node.new}
        context = g.StepContext(
            number=state.gate_step,
            total=state.steps_done + len(plan.steps),
            nodes=state.gate_nodes,
            pods=tuple(r.name(new_pods[name]) for name in state.gate_nodes if name in new_pods),
            revision=state.target_revision,
            namespace=self.io.namespace,
            name=self.io.name,
        )
        options = state.options
        seconds = g.bake_seconds(options, state.gate_canary)
        began = None  # the exact moment a bake begins here (the state keeps whole seconds)
        if not state.bake_started:
            if options.check:
                self._check(state, context)
            if options.check_exec:
                self._check_exec(state, context, [new_pods[name] for name in state.gate_nodes if name in new_pods])
            if seconds > 0:
                began = self.io.now()
                state = self._write(lambda current: replace(current, bake_started=st.rfc3339(began)))
        if seconds > 0 and not self._bake(state, context, seconds, began):
            return
        self._write(g.gates_passed)

    def _write(self, change: Callable[[RolloutState], RolloutState]) -> RolloutState:
        written = self.io.write(lambda ds: st.with_state(ds, change(self.own.own_state(ds))))
        return self.own.own_state(written)

    def _tick(self) -> None:
        """While a check runs: a Ctrl-C raises here, and the heartbeat stays fresh."""
        self.io.checkpoint()
        self.own.beat()

    def _check(self, state: RolloutState, context: g.StepContext) -> None:
        if self.driver.run_check is None:
            raise DsError(f"{g.CHECK_FLAG} needs a driver that can run commands")
        options = state.options
        result = self.driver.run_check(options.check, g.check_environment(context), options.check_timeout, self._tick)
        failure = g.check_failure(g.CHECK_FLAG, options.check, result, options.check_timeout, context)
        if failure:
            self.rollout.halt(state, failure)
        self.driver.say(ev.CheckPassed(context.number, context.total, g.CHECK_FLAG, options.check))

    def _check_exec(self, state: RolloutState, context: g.StepContext, pods: list[Obj]) -> None:
        if self.driver.exec_in_pod is None:
            raise DsError(f"{g.CHECK_EXEC_FLAG} needs a driver that can reach the pods/exec subresource")
        options = state.options
        argv = g.exec_command(options.check_exec)
        for pod in pods:
            exit_code, output = self.driver.exec_in_pod(
                self.io.namespace, r.name(pod), g.exec_container(pod), argv, options.check_timeout, self._tick
            )
            result = g.CheckResult(exit_code, output)
            failure = g.check_failure(
                g.CHECK_EXEC_FLAG, options.check_exec, result, options.check_timeout, context, r.name(pod)
            )
            if failure:
                self.rollout.halt(state, failure)
        self.driver.say(ev.CheckPassed(context.number, context.total, g.CHECK_EXEC_FLAG, options.check_exec, len(pods)))

    def _bake(self, state: RolloutState, context: g.StepContext, seconds: float, began: datetime | None) -> bool:
        """Watch the updated pods until the bake is over (True), or a pause is requested (False); halt on trouble.
        `began`: when it began in this process (else it continues the bake the state records)."""
        since = r.parse_time(state.bake_started) or self.io.now()
        end = (began or since) + timedelta(seconds=seconds)
        daemonset = self.io.get()
        pods, _ = self.io.pods(daemonset, fresh=True)
        baseline = g.bake_baseline(d.held_pods(daemonset, pods, self.rollout.goal(daemonset, state), self.io.now()))
        elapsed = 0.0 if began is not None else max(0.0, (self.io.now() - since).total_seconds())
        self.driver.say(ev.Baking(context.number, context.total, seconds, len(baseline), round(elapsed)))
        while True:
            daemonset = self.io.get()
            state = self.own.own_state(daemonset)
            if state.phase == st.PAUSED:
                return False
            pods, _ = self.io.pods(daemonset)
            now = self.io.now()
            held = d.held_pods(daemonset, pods, self.rollout.goal(daemonset, state), now, list(baseline))
            troubles = g.bake_troubles(baseline, held, self.io.nodes(), since)
            if troubles:
                self.rollout.halt(state, g.bake_failed(context, seconds, (now - since).total_seconds(), troubles))
            if now >= end:
                self.driver.say(ev.Baked(context.number, context.total, seconds, len(baseline)))
                return True
            self.own.beat()
            self.io.wait_for_pods(daemonset, max(min(WAIT_SLICE, (end - now).total_seconds()), 0.001))
