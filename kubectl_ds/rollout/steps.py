"""SHELL. How one step of a managed rollout runs: within the budget, remove the old pods (evict, or delete
with --delete), then wait on pod watches until the new pods are available, halting on a failure; or, with
surge, hand the step to the controller and park again. Every decision is rollout/decisions.py's."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from kubectl_ds import resources as r
from kubectl_ds.errors import DisruptionBudgetBlocked, DsError, EvictionRefused, NotFound
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import decisions as d
from kubectl_ds.rollout import events as ev
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.nodepods import NodePods
from kubectl_ds.rollout.plan import Plan
from kubectl_ds.rollout.state import RolloutState

if TYPE_CHECKING:
    from kubectl_ds.rollout.runner import Rollout

WAIT_SLICE = 2.0  # seconds a single watch may block before we look at the DaemonSet again
NODES_SUSPECT_FOR = timedelta(seconds=5)  # how old a node list may be while an old pod is slow to stop
EVICTION_RETRY = 2.0  # seconds between evictions a PodDisruptionBudget refused


class StepRunner:
    """The steps of one Rollout (its session, ownership and halts)."""

    def __init__(self, rollout: Rollout) -> None:
        self.rollout = rollout
        self.io = rollout.io
        self.own = rollout.own
        self.driver = rollout.driver

    def unavailable_step(self, daemonset: Obj, state: RolloutState, plan: Plan, nodes: Sequence[str]) -> list[str]:
        """Replace the old pods of `nodes`: evict (or delete), then wait for available new pods; in as many
        batches as the budget needs (a canary step is one step whatever the budget: rollout/plan.py _chunk)."""
        remaining = list(nodes)
        updated: list[str] = []
        while True:
            chosen = self._within_budget(daemonset, state, plan, remaining)
            updated += self._replace(daemonset, state, chosen)
            remaining = [node for node in remaining if node not in chosen]
            if not remaining:
                return updated
            # The budget is counted afresh for the next batch; nodes that left the plan meanwhile (unreachable,
            # no longer wanted, updated by someone else) are dropped from the step.
            daemonset = self.io.get()
            state = self.own.own_state(daemonset)
            pods, _ = self.io.pods(daemonset)
            plan = self.rollout.plan(daemonset, state, self.io.nodes(), pods)
            remaining = [node for node in remaining if node in plan.nodes_to_update]
            if not remaining:
                return updated

    def _replace(self, daemonset: Obj, state: RolloutState, chosen: Sequence[str]) -> list[str]:
        """One batch: remove the old pods of `chosen`, wait for their new pods; the nodes updated."""
        pods, _ = self.io.pods(daemonset)
        held = d.held_pods(daemonset, pods, self.rollout.goal(daemonset, state), self.io.now(), chosen)
        replaced: list[str] = []
        for node in chosen:
            for pod in d.old_pods_to_remove(held, [node]):
                self._remove_pod(daemonset, pod, state, replaced)
            replaced.append(node)
        self.wait_available(daemonset, state, chosen, state.options.step_timeout)
        # The nodes that dropped out of the step (unreachable, no longer wanted) were not updated.
        pods, _ = self.io.pods(daemonset)
        held = d.held_pods(daemonset, pods, self.rollout.goal(daemonset, state), self.io.now(), chosen)
        return [node for node in chosen if node in d.done_nodes(held)]

    def _within_budget(self, daemonset: Obj, state: RolloutState, plan: Plan, nodes: Sequence[str]) -> list[str]:
        """The step's nodes the unavailability budget allows now; waits for room if there is none.

        What uses up the budget may be this rollout's own new pods, failing (a resume after a halt, before the fix
        took): the wait gives them the step timeout to recover, halts at once if one crashes again meanwhile, and
        names their failure, not an exhausted budget."""
        deadline = self.io.now() + timedelta(seconds=state.options.step_timeout)
        restarts_before: dict[str, int] | None = None
        while True:
            chosen = d.within_budget(nodes, plan.already_unavailable, plan.budget.max_unavailable)
            if chosen:
                return chosen
            failures = self._failing(daemonset, state, plan.already_unavailable)
            restarts = {r.uid(failure.pod): d.restarts(failure.pod) for failure in failures}
            restarts_before = restarts if restarts_before is None else restarts_before
            again = any(count > restarts_before.get(uid, count) for uid, count in restarts.items())
            if failures and (again or self.io.now() >= deadline):
                self._halt_failing(state, failures)
            if self.io.now() >= deadline:
                self.rollout.halt(state, d.budget_exhausted(plan.already_unavailable, plan.budget.max_unavailable))
            self.io.wait_for_pods(daemonset, self._slice(deadline))
            daemonset = self.io.get()
            state = self.own.own_state(daemonset)
            pods, _ = self.io.pods(daemonset)
            plan = self.rollout.plan(daemonset, state, self.io.nodes(), pods)

    def surge_step(self, daemonset: Obj, state: RolloutState, plan: Plan, nodes: Sequence[str]) -> list[str]:
        """Only the controller can run a second pod on a node: let it surge `len(nodes)` nodes, then park.

        The controller chooses which nodes surge. Parking again cancels a surge pod that is not yet
        available (OnDelete keeps only the oldest pod on a node, i.e. the old one).
        """
        before = self.rollout.done_nodes(daemonset, state)
        wanted = min(len(before) + len(nodes), plan.desired)
        self.io.write(lambda ds: st.surging(ds, len(nodes)))
        self.own.surging = True
        try:
            updated = self._wait_for_surge(daemonset, state, before, wanted)
        except (Exception, KeyboardInterrupt):
            # Park again on any failure we live through (a killed process cannot: resume does it then).
            if self.own.surging:
                with contextlib.suppress(DsError):
                    self.io.write(lambda ds: st.reparked(ds))
                self.own.surging = False
            raise
        self.io.write(lambda ds: st.reparked(ds))
        self.own.surging = False
        return updated

    def _wait_for_surge(self, daemonset: Obj, state: RolloutState, before: Sequence[str], wanted: int) -> list[str]:
        deadline = self.io.now() + timedelta(seconds=state.options.step_timeout)
        while True:
            pods, _ = self.io.pods(daemonset)
            held = d.held_pods(daemonset, pods, self.rollout.goal(daemonset, state), self.io.now())
            done = d.done_nodes(held)
            if len(done) >= wanted:
                return [node for node in done if node not in before]
            self._halt_on_failures(state, held, d.nodes_with_new_pods(held))
            if self.io.now() >= deadline:
                self.rollout.halt(state, d.surge_incomplete(state.options.step_timeout, len(done), wanted))
            self.own.beat()
            self.io.wait_for_pods(daemonset, self._slice(deadline))

    # --- waiting ----------------------------------------------------------------------------------------

    def wait_available(self, daemonset: Obj, state: RolloutState, nodes: Sequence[str], timeout: float) -> None:
        step_started = self.io.now()
        announced: set[str] = set()
        while True:
            pods, _ = self.io.pods(daemonset)
            held = d.held_pods(daemonset, pods, self.rollout.goal(daemonset, state), self.io.now(), nodes)
            # An old pod slow to stop is what a node that went unreachable looks like (its kubelet never finishes
            # the deletion): then the nodes are read again every few seconds, not every 30.
            slow = d.terminating_old_pods(held, nodes, self.io.now())
            current = self.io.nodes(max_age=NODES_SUSPECT_FOR) if slow else self.io.nodes()
            pending = d.pending_nodes(held, nodes, d.wanted_nodes(daemonset, current), d.unreachable_nodes(current))
            if not pending:
                return
            self._halt_on_failures(state, held, pending)
            for waiting in (waiting for waiting in slow if waiting.node in pending):
                if waiting.pod not in announced:
                    announced.add(waiting.pod)
                    self.driver.say(
                        ev.WaitingForTermination(
                            waiting.node, waiting.pod, waiting.grace_ends, waiting.grace_seconds, self.io.now()
                        )
                    )
            deadlines = {node: d.availability_deadline(held.get(node), step_started, timeout) for node in pending}
            late = [node for node in pending if self.io.now() >= deadlines[node]]
            if late:
                notes = d.stuck_notes(daemonset, self.io.nodes(), late)
                self.rollout.halt(state, d.not_available_in_time(timeout, late, notes))
            self.own.beat()
            self.io.wait_for_pods(daemonset, self._slice(min(deadlines.values())))

    def _slice(self, deadline: datetime) -> float:
        """How long one watch may block: a slice, but never past the deadline, so a step halts on time."""
        left = (deadline - self.io.now()).total_seconds()
        return max(min(WAIT_SLICE, left), 0.001)

    def sleep_with_heartbeat(self, seconds: float) -> None:
        end = self.io.now() + timedelta(seconds=seconds)
        while self.io.now() < end:
            self.io.checkpoint()
            self.own.beat()
            self.io.sleep(min(1.0, (end - self.io.now()).total_seconds()))

    def _remove_pod(self, daemonset: Obj, pod: Obj, state: RolloutState, replaced: Sequence[str]) -> None:
        """Evict (PodDisruptionBudgets apply; their 429 means wait) or, with --delete, delete the old pod.

        While a budget refuses, the nodes this step already replaced are still watched: a crash loop there is
        the reason to report, not the PDB (docs/rules.md#r-eviction)."""
        deadline = self.io.now() + timedelta(seconds=state.options.step_timeout)
        namespace = self.io.namespace
        while True:
            try:
                if state.options.evict:
                    self.io.retry(lambda: self.io.cluster.evict_pod(namespace=namespace, name=r.name(pod)))
                else:
                    self.io.retry(
                        lambda: self.io.cluster.delete_pod(
                            namespace=namespace, name=r.name(pod), uid=r.uid(pod) or None
                        )
                    )
                self.io.changed()
                return
            except NotFound:
                return  # already gone
            except DisruptionBudgetBlocked as error:
                self.rollout.halt(state, d.eviction_blocked(pod, error.message))
            except EvictionRefused as error:
                if replaced:
                    pods, _ = self.io.pods(daemonset)
                    held = d.held_pods(daemonset, pods, self.rollout.goal(daemonset, state), self.io.now(), replaced)
                    self._halt_on_failures(state, held, replaced)
                if self.io.now() >= deadline:
                    self.rollout.halt(state, d.eviction_refused(pod, error.message))
                self.own.beat()
                self.io.sleep(EVICTION_RETRY)

    def _failing(self, daemonset: Obj, state: RolloutState, nodes: Sequence[str]) -> list[d.PodFailure]:
        """This rollout's new pods on `nodes` whose trouble persists (see decisions.failing_pods)."""
        pods, _ = self.io.pods(daemonset)
        held = d.held_pods(daemonset, pods, self.rollout.goal(daemonset, state), self.io.now(), nodes)
        options = state.options
        patience = d.Patience(options.max_restarts, options.image_pull_timeout, options.unschedulable_timeout)
        return d.failing_pods(held, nodes, patience, self.io.now())

    def _halt_failing(self, state: RolloutState, failures: Sequence[d.PodFailure]) -> None:
        needs_events = any(not failure.message for failure in failures)
        self.rollout.halt(state, d.halt_reason(failures, self.io.scheduling_events() if needs_events else []))

    def _halt_on_failures(self, state: RolloutState, held: Mapping[str, NodePods], nodes: Sequence[str]) -> None:
        """Halt at once when a new pod crash-loops, cannot pull its image, or cannot be scheduled, or when a node
        that runs a new pod is lost."""
        lost = d.lost_nodes(held, self.io.nodes())
        if lost:
            self.rollout.halt(state, d.lost_reason(lost, self.io.nodes()))
        options = state.options
        patience = d.Patience(options.max_restarts, options.image_pull_timeout, options.unschedulable_timeout)
        failures = d.failing_pods(held, nodes, patience, self.io.now())
        if failures:
            self._halt_failing(state, failures)
