"""The rollout runner's decisions, pinned exactly on manual time (see tests/rollout_harness.py).

Each test drives `Rollout` through an in-process simulated cluster whose clock only moves when the runner
waits, so it asserts the exact lines said and the exact moment (manual seconds since the start) of each,
the exact messages, and how long each wait took. Numbers to read them by: every pod turns Ready one second
(`ready_after`) after the kubelet starts it, adopting the new revision takes one 0.2 s poll, and a watch
waits at most 2 s (the runner's slice) before the runner looks again.

The real-time, over-HTTP, end-to-end tests of the same commands are in tests/test_rollout_cli.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kubectl_ds.errors import DsError, RolloutHalted
from kubectl_ds.render.rollout import confirm_question, event_line, outcome_message
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.events import StepStarted
from kubectl_ds.rollout.state import STATE_ANNOTATION, STRATEGY_ANNOTATION, RolloutOptions
from tests import rollout_harness
from tests.rollout_harness import OWNER, Harness, Wait

OTHER = "kubectl-ds/other"
PARKED = {"type": "OnDelete"}
RU1 = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
OLD, NEW = "agent:v1", "agent:v2"  # what each node runs is told by its pods' image
RESUME_HINT = (
    "the DaemonSet stays parked. Fix it and run: kubectl ds rollout resume agent, or roll back with: "
    "kubectl ds rollout abort agent"
)
FINISHED = 'daemon set "agent" successfully rolled out; updateStrategy restored'
SURGE = RolloutOptions(max_unavailable=0, max_surge=1)


class Killed(BaseException):
    """The driving process dies here (SIGKILL): not an Exception, so the runner cleans nothing up."""


def manual_cluster(**options: Any) -> Harness:
    """The harness, reading what drivers say in the words the CLI prints."""
    return rollout_harness.manual_cluster(words=event_line, **options)


def image(tag: str) -> Change:
    return Change(images=(("agent", tag),), description=f"image agent={tag}")


V2 = image("agent:v2")


def halt_message(run: Callable[[], object]) -> str:
    with pytest.raises(RolloutHalted) as caught:
        run()
    return caught.value.message


def at_wait(h: Harness, after_line: str, action: Callable[[], None], *, kind: str | None = None) -> None:
    """Run `action` once, at the first wait (of `kind`, if given) after a driver said `after_line`: an exact
    point in the rollout at which to interrupt it, kill it, or change the cluster under it."""
    done = False

    def hook(wait: Wait) -> None:
        nonlocal done
        if not done and after_line in h.lines() and (kind is None or wait.kind == kind):
            done = True
            action()

    h.cluster.on_wait.append(hook)


def interrupt() -> None:
    raise KeyboardInterrupt


def kill() -> None:
    raise Killed


def images(h: Harness) -> dict[str, str]:
    return h.node_images()


def assert_finished(h: Harness, nodes: int, strategy: dict[str, Any] = RU1, running: str = NEW) -> None:
    daemonset = h.daemonset()
    annotations = daemonset["metadata"].get("annotations") or {}
    assert STATE_ANNOTATION not in annotations and STRATEGY_ANNOTATION not in annotations
    assert daemonset["spec"]["updateStrategy"] == strategy
    assert images(h) == {f"node-{i}": running for i in range(nodes)}
    assert h.invariants.violations == []
    assert h.invariants.moved_while_parked() == []


def phase(h: Harness) -> tuple[str, str, str]:
    state = h.state()
    return state["phase"], state["reason"], state["owner"]


# --- steps -----------------------------------------------------------------------------------------------


def test_each_step_evicts_its_nodes_then_waits_until_their_new_pods_are_available() -> None:
    h = manual_cluster(nodes=4)
    h.invariants.armed = True
    outcome = h.rollout().start(V2, RolloutOptions())
    assert (outcome_message(outcome), outcome.done) == (FINISHED, True)
    assert h.said == [
        (0.0, "daemonset.apps/agent parked (updateStrategy OnDelete) and changed: image agent=agent:v2"),
        (0.2, "step 1 of 4: node-0"),
        (1.2, "step 1 of 4 done: node-0 updated (1 of 4 nodes done)"),
        (1.2, "step 2 of 4: node-1"),
        (2.2, "step 2 of 4 done: node-1 updated (2 of 4 nodes done)"),
        (2.2, "step 3 of 4: node-2"),
        (3.2, "step 3 of 4 done: node-2 updated (3 of 4 nodes done)"),
        (3.2, "step 4 of 4: node-3"),
        (4.2, "step 4 of 4 done: node-3 updated (4 of 4 nodes done)"),
    ]
    assert h.elapsed() == 4.2
    evicted = [
        ((moment - h.start).total_seconds(), request.path.split("/")[6])
        for moment, request in h.cluster.log
        if request.path.endswith("/eviction")
    ]
    assert [moment for moment, _ in evicted] == [0.2, 1.2, 2.2, 3.2]  # one old pod per node, each evicted once
    assert len({name for _, name in evicted}) == 4
    assert_finished(h, 4)


@pytest.mark.parametrize(
    ("budget", "options", "steps"),
    [
        pytest.param(
            2, RolloutOptions(max_unavailable=2), [["node-0", "node-1"], ["node-2", "node-3"]], id="two-nodes-at-a-time"
        ),
        pytest.param(
            2,
            RolloutOptions(max_unavailable="40%"),
            [["node-0", "node-1"], ["node-2", "node-3"]],
            id="percent-of-desired-rounded-up",
        ),  # 1.6 nodes: a DaemonSet rounds up
        pytest.param(
            3,
            RolloutOptions(max_unavailable=3, step_size=2),
            [["node-0", "node-1"], ["node-2", "node-3"]],
            id="step-size-below-the-budget",
        ),
    ],
)
def test_steps_are_as_large_as_the_budget_and_step_size_allow(
    budget: int, options: RolloutOptions, steps: list[list[str]]
) -> None:
    h = manual_cluster(nodes=4, max_unavailable=budget)
    h.invariants.armed = True  # never more than `budget` nodes without an available pod
    h.rollout().start(V2, options)
    starts = [line for line in h.lines() if line.startswith("step ") and " done: " not in line]
    assert starts == [f"step {i} of {len(steps)}: {', '.join(nodes)}" for i, nodes in enumerate(steps, 1)]
    assert h.elapsed() == 0.2 + len(steps)  # each step, however large, takes one pod start
    assert_finished(h, 4)


def test_canary_nodes_go_first_in_a_step_of_their_own() -> None:
    h = manual_cluster(nodes=4, max_unavailable=2)
    h.invariants.armed = True
    h.rollout().start(V2, RolloutOptions(max_unavailable=2, canary="kubernetes.io/hostname=node-3"))
    assert h.said[1:] == [
        (0.2, "step 1 of 3: node-3 (canary)"),
        (1.2, "step 1 of 3 done: node-3 updated (1 of 4 nodes done)"),
        (1.2, "step 2 of 3: node-0, node-1"),
        (2.2, "step 2 of 3 done: node-0, node-1 updated (3 of 4 nodes done)"),
        (2.2, "step 3 of 3: node-2"),
        (3.2, "step 3 of 3 done: node-2 updated (4 of 4 nodes done)"),
    ]
    assert_finished(h, 4)


def test_steps_flag_stops_parked_after_n_steps_and_resume_continues_where_it_stopped() -> None:
    h = manual_cluster(nodes=4)
    h.invariants.armed = True
    outcome = h.rollout().start(V2, RolloutOptions(), steps=2)
    assert (outcome_message(outcome), outcome.paused) == (
        "daemonset.apps/agent paused: stopped after 2 steps (--steps); continue with: kubectl ds rollout resume agent",
        True,
    )
    assert h.said[-1] == (2.2, "step 2 of 4 done: node-1 updated (2 of 4 nodes done)")
    assert h.daemonset()["spec"]["updateStrategy"] == PARKED
    assert (*phase(h), h.state()["steps_done"]) == ("paused", "stopped after 2 steps (--steps)", "", 2)
    parked = images(h)
    assert parked == {"node-0": NEW, "node-1": NEW, "node-2": OLD, "node-3": OLD}
    h.cluster.run_for(600)  # parked: the controller moves nothing by itself, however long it waits
    assert images(h) == parked
    h.restart_clock()
    h.rollout().resume(steps=1)  # what `rollout step` does
    assert h.said == [(0.0, "step 3 of 4: node-2"), (1.0, "step 3 of 4 done: node-2 updated (3 of 4 nodes done)")]
    h.restart_clock()
    assert outcome_message(h.rollout().resume()) == FINISHED
    assert h.lines()[0] == "step 4 of 4: node-3"
    assert_finished(h, 4)


def test_partition_leaves_the_last_nodes_on_the_old_revision_until_it_is_lowered() -> None:
    h = manual_cluster(nodes=4)
    h.invariants.armed = True
    outcome = h.rollout().start(V2, RolloutOptions(partition=2))
    assert outcome_message(outcome) == (
        "daemonset.apps/agent paused: --partition: 2 nodes stay on revision 1; "
        "continue with: kubectl ds rollout resume agent"
    )
    assert [line for line in h.lines() if " done: " not in line][1:] == ["step 1 of 2: node-0", "step 2 of 2: node-1"]
    assert images(h) == {"node-0": NEW, "node-1": NEW, "node-2": OLD, "node-3": OLD}
    assert h.daemonset()["spec"]["updateStrategy"] == PARKED  # parked until resumed
    assert phase(h) == ("paused", "--partition: 2 nodes stay on revision 1", "")
    h.restart_clock()
    assert outcome_message(h.rollout().resume(partition=0)) == FINISHED
    assert h.said == [
        (0.0, "step 3 of 4: node-2"),
        (1.0, "step 3 of 4 done: node-2 updated (3 of 4 nodes done)"),
        (1.0, "step 4 of 4: node-3"),
        (2.0, "step 4 of 4 done: node-3 updated (4 of 4 nodes done)"),
    ]
    assert_finished(h, 4)


def test_declining_the_confirmation_prompt_pauses_before_the_step() -> None:
    h = manual_cluster(nodes=5)
    questions: list[str] = []
    answers = iter([True, False])

    def confirm(step: StepStarted) -> bool:
        questions.append(confirm_question(step))
        return next(answers)

    outcome = h.rollout(confirm=confirm).start(V2, RolloutOptions())
    assert questions == ["step 1 of 5: node-0. Continue?", "step 2 of 5: node-1. Continue?"]
    assert outcome.paused
    assert outcome_message(outcome) == (
        "daemonset.apps/agent paused: declined at the confirmation prompt; "
        "continue with: kubectl ds rollout resume agent"
    )
    assert (*phase(h), h.state()["steps_done"]) == ("paused", "declined at the confirmation prompt", "", 1)
    assert h.elapsed() == 1.2  # no time passes at the prompt's refusal


def test_pause_between_waits_between_steps_and_keeps_the_heartbeat() -> None:
    h = manual_cluster(nodes=5)
    h.rollout().start(V2, RolloutOptions(pause_between=0.7), steps=2)
    # The pause is one sleep of the whole 0.7 s (slices are 1 s), between the two steps only: --steps 2 stops
    # after the second without waiting; the only other sleep is the 0.2 s poll.
    assert [w.seconds for w in h.cluster.waits if w.kind == "sleep"] == [0.2, 0.7]
    assert [when for when, line in h.said if line.startswith("step 2 of 5:")] == [1.9]
    # A longer pause sleeps in 1 s slices and renews the heartbeat meanwhile.
    h = manual_cluster(nodes=3)
    h.rollout().start(V2, RolloutOptions(pause_between=6), steps=2)
    assert [w.seconds for w in h.cluster.waits if w.kind == "sleep"] == [0.2] + [1.0] * 6
    # Beats keep the 5 s rhythm of the step's waits (the last beat was at 0.2 s), not the pause's start.
    assert [(when, beat) for when, beat in heartbeats_written(h) if 1.2 < when <= 7.2] == [(5.2, h.stamp(5.2))]


def heartbeats_written(h: Harness) -> list[tuple[float, str]]:
    """(manual seconds since the start, heartbeat) of each DaemonSet write of a driver that carries one."""
    written = []
    for moment, request in h.cluster.log:
        if request.method == "PUT" and request.status == 200:
            state = json.loads(request.body["metadata"]["annotations"].get(STATE_ANNOTATION, "{}"))
            if state.get("heartbeat"):
                written.append(((moment - h.start).total_seconds(), state["heartbeat"]))
    return written


def strategies_written(h: Harness) -> list[str]:
    """The updateStrategy types of the drivers' DaemonSet writes, a repeated one listed once."""
    kinds = [
        request.body["spec"]["updateStrategy"]["type"]
        for _, request in h.cluster.log
        if request.method == "PUT" and request.status == 200
    ]
    return [kind for i, kind in enumerate(kinds) if i == 0 or kinds[i - 1] != kind]


# --- halts ---------------------------------------------------------------------------------------------------

# When each trouble has persisted long enough to halt (docs/rules.md#r-container-states), in manual seconds
# from the start: the third restart of the kubelet's crash loop (the first at once, then back-offs of 10 s and
# 20 s); 60 s after the kubelet took the pod on
# (its startTime, 1.2 s); 30 s after the scheduler first said Unschedulable.
HALT_CRASH = 34.2
HALT_PULL = 61.2
HALT_UNSCHEDULABLE = 30.2


def _big_template(h: Harness) -> Change:
    template = h.daemonset()["spec"]["template"]
    template["spec"]["containers"][0]["resources"] = {"requests": {"memory": "1Ti"}}
    return Change(template=template, description="requests memory 1Ti")


@pytest.mark.parametrize(
    ("change", "min_ready", "reason", "halted_at"),
    [
        pytest.param(
            lambda h: image("agent:crash"),
            0,
            "node-0: container agent is crash-looping (3 restarts, last exit code 1 (Error))",
            HALT_CRASH,
            id="crash-loop-halts-at-the-third-restart",
        ),
        pytest.param(
            lambda h: image("agent:bad"),
            0,
            "node-0: container agent cannot pull image agent:bad: ImagePullBackOff (Back-off pulling image "
            '"agent:bad")',
            HALT_PULL,
            id="image-pull-errors-halt-after-60s",
        ),
        pytest.param(
            _big_template,
            0,
            "node-0: pod {pod} is Pending: Insufficient memory",
            HALT_UNSCHEDULABLE,
            id="unschedulable-halts-after-30s-with-the-scheduler-reason",
        ),
        pytest.param(
            lambda h: V2,
            300,
            "new pods not available within 120s on node-0",
            120.2,
            id="not-available-halts-at-the-step-timeout",
        ),
    ],
)
def test_failing_new_pods_halt_the_step_parked_with_the_reason(
    change: Callable[[Harness], Change], min_ready: int, reason: str, halted_at: float
) -> None:
    h = manual_cluster(nodes=2, min_ready_seconds=min_ready)
    h.cluster.run_for(min_ready)  # the old pods are available before the rollout starts
    h.restart_clock()
    h.invariants.armed = True
    before = {node: h.pod_on(node) for node in ("node-0", "node-1")}
    message = halt_message(lambda: h.rollout().start(change(h), RolloutOptions(step_timeout=120)))
    reason = reason.format(pod=h.pod_on("node-0"))  # names come from the simulator's seeded generator
    assert message == f'rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}'
    assert h.elapsed() == halted_at
    assert h.lines()[1:] == ["step 1 of 2: node-0"]
    assert phase(h) == ("halted", reason, "")
    assert h.daemonset()["spec"]["updateStrategy"] == PARKED
    after = {node: h.pod_on(node) for node in ("node-0", "node-1")}
    assert [node for node in before if before[node] != after[node]] == ["node-0"]  # only node-0 was touched
    assert h.invariants.violations == []


def test_a_step_halts_exactly_at_its_timeout() -> None:
    h = manual_cluster(nodes=2, min_ready_seconds=30)
    h.cluster.run_for(30)
    h.restart_clock()
    halt_message(lambda: h.rollout().start(V2, RolloutOptions(step_timeout=10)))
    assert h.elapsed() == 0.2 + 10


def test_on_failure_abort_rolls_the_touched_nodes_back_after_the_halt() -> None:
    h = manual_cluster(nodes=2)
    h.invariants.armed = True
    message = halt_message(lambda: h.rollout().start(image("agent:crash"), RolloutOptions(on_failure="abort")))
    reason = "node-0: container agent is crash-looping (3 restarts, last exit code 1 (Error))"
    assert message == f'rollout of daemonset "agent" failed and was rolled back: {reason}'
    assert h.said[1:] == [
        (0.2, "step 1 of 2: node-0"),
        (HALT_CRASH, f"halted: {reason}; --on-failure abort: rolling back"),
        (HALT_CRASH, "daemonset.apps/agent rolling back to revision 1"),
        (round(HALT_CRASH + 0.2, 1), "step 1 of 1: node-0"),
        (round(HALT_CRASH + 1.2, 1), "step 1 of 1 done: node-0 updated (2 of 2 nodes done)"),
    ]
    assert_finished(h, 2, running=OLD)


def test_eviction_refused_by_a_pdb_is_retried_every_2s_then_halts_at_the_step_timeout() -> None:
    h = manual_cluster(nodes=2)
    h.server.inject_fault(status=429, count=2, method="POST", path_contains="/eviction")
    h.rollout().start(V2, RolloutOptions(), steps=1)
    # Refused at 0.2 and 2.2, evicted at 4.2, Ready at 5.2.
    assert h.said[1:] == [(0.2, "step 1 of 2: node-0"), (5.2, "step 1 of 2 done: node-0 updated (1 of 2 nodes done)")]
    assert [w.seconds for w in h.cluster.waits if w.kind == "sleep"] == [0.2, 2.0, 2.0]
    h.server.inject_fault(status=429, count=1000, method="POST", path_contains="/eviction")
    h.restart_clock()
    refused = h.pod_on("node-1")
    message = halt_message(lambda: h.rollout().resume(step_timeout=10))
    assert message == (
        f'rollout of daemonset "agent" halted: cannot evict pod {refused}: a PodDisruptionBudget forbids it (POST '
        f"/api/v1/namespaces/default/pods/{refused}/eviction failed with HTTP 429: Cannot evict pod as it would "
        f"violate the pod's disruption budget.); retry later, or use --delete to bypass it; {RESUME_HINT}"
    )
    assert h.elapsed() == 10.0
    assert images(h) == {"node-0": NEW, "node-1": OLD}  # the refused pod still runs


def test_delete_bypasses_eviction() -> None:
    h = manual_cluster(nodes=2)
    h.server.inject_fault(status=429, count=1000, method="POST", path_contains="/eviction")  # a PDB, ignored
    h.server.reset_requests()
    assert outcome_message(h.rollout().start(V2, RolloutOptions(evict=False))) == FINISHED
    pods = [(r.method, r.path.rsplit("/", 1)[-1] == "eviction") for r in h.server.requests if "/pods/" in r.path]
    assert pods == [("DELETE", False)] * 2
    assert h.elapsed() == 2.2
    assert_finished(h, 2)


CRASH_LOOP = "node-0: container agent is crash-looping (3 restarts, last exit code 1 (Error))"


def test_our_failing_pod_using_up_the_budget_gets_the_step_timeout_to_recover_then_halts_naming_its_failure() -> None:
    h = manual_cluster(nodes=2)
    halt_message(lambda: h.rollout().start(image("agent:crash"), RolloutOptions()))  # node-0 crash-loops
    h.restart_clock()
    message = halt_message(lambda: h.rollout().resume(step_timeout=10))
    # Not "budget exhausted": what uses the budget up is the rollout's own new pod, still crash-looping.
    reason = CRASH_LOOP
    assert message == f'rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}'
    # The contained halt is lifted first (the target template back on, its revision adopted at 0.2 s); then
    # the step is planned, but nothing evicted.
    assert h.said == [(0.2, "step 1 of 1: node-1")]
    assert h.elapsed() == 10.2
    assert phase(h) == ("halted", reason, "")
    assert images(h)["node-1"] == OLD


def test_our_failing_pod_that_crashes_again_while_the_step_waits_for_budget_halts_at_once() -> None:
    h = manual_cluster(nodes=2)
    halt_message(lambda: h.rollout().start(image("agent:crash"), RolloutOptions()))
    h.restart_clock()
    message = halt_message(lambda: h.rollout().resume(step_timeout=300))
    # The fix did not take: the kubelet's next restart (its back-off is 40 s by the fourth) ends the wait.
    assert (
        message
        == f'rollout of daemonset "agent" halted: {CRASH_LOOP.replace("3 restarts", "4 restarts")}; {RESUME_HINT}'
    )
    assert h.elapsed() == 41.0
    assert images(h)["node-1"] == OLD


# --- surge -----------------------------------------------------------------------------------------------


def test_surge_steps_let_the_controller_pick_each_node_and_park_again_after_it() -> None:
    h = manual_cluster(nodes=2, max_unavailable=0, max_surge=1)
    h.invariants.armed = True
    outcome = h.rollout().start(V2, SURGE)
    assert outcome_message(outcome) == FINISHED
    # The controller picks the node (in Go's random map order, seeded here): each step takes one not done yet.
    picked = [
        line.split(": ")[1].removesuffix(f" updated ({i} of 2 nodes done)")
        for i, line in enumerate((line for line in h.lines() if " done: " in line), 1)
    ]
    assert sorted(picked) == ["node-0", "node-1"]
    assert h.said[1:] == [
        (0.2, "step 1 of 2: surge 1 node (the controller picks them)"),
        (1.2, f"step 1 of 2 done: {picked[0]} updated (1 of 2 nodes done)"),
        (1.2, "step 2 of 2: surge 1 node (the controller picks them)"),
        (2.2, f"step 2 of 2 done: {picked[1]} updated (2 of 2 nodes done)"),
    ]
    # Parked, then each step hands the DaemonSet to the controller (RollingUpdate with maxSurge) and parks it
    # again; the end restores the original RollingUpdate.
    assert strategies_written(h) == ["OnDelete"] + ["RollingUpdate", "OnDelete"] * 2 + ["RollingUpdate"]
    assert_finished(h, 2)


def test_failing_surge_step_parks_again_and_the_controller_cancels_the_surge_pod() -> None:
    h = manual_cluster(nodes=2, max_unavailable=0, max_surge=1)
    h.invariants.armed = True
    message = halt_message(lambda: h.rollout().start(image("agent:crash"), SURGE))
    [surged] = [node for node, running in images(h).items() if "," in running]  # the old and the surge pod
    assert message == (
        f'rollout of daemonset "agent" halted: {surged}: container agent is crash-looping (3 restarts, '
        f"last exit code 1 (Error)); {RESUME_HINT}"
    )
    assert h.elapsed() == HALT_CRASH
    assert h.daemonset()["spec"]["updateStrategy"] == PARKED
    assert (h.state()["surging"], phase(h)[0]) == (False, "halted")
    h.cluster.run_for(1)
    # Parked, the controller keeps only the oldest pod of a node: the old, available one.
    assert images(h) == {"node-0": OLD, "node-1": OLD}
    assert h.invariants.violations == []


# --- pause, abort, interruption ---------------------------------------------------------------------------------


def test_pause_from_another_process_stops_the_driver_at_the_next_step_boundary() -> None:
    h = manual_cluster(nodes=3)
    answers: list[str] = []
    at_wait(h, "step 2 of 3: node-1", lambda: answers.append(outcome_message(h.rollout(owner=OTHER).pause())))
    outcome = h.rollout().start(V2, RolloutOptions())
    assert answers == ["daemonset.apps/agent will pause at the next step boundary"]
    assert outcome_message(outcome) == (
        "daemonset.apps/agent paused: paused by request; continue with: kubectl ds rollout resume agent"
    )
    assert h.said[-1] == (2.2, "step 2 of 3 done: node-1 updated (2 of 3 nodes done)")  # step 2 still finished
    assert (*phase(h), h.state()["steps_done"]) == ("paused", "paused by request", "", 2)
    assert h.daemonset()["spec"]["updateStrategy"] == PARKED
    again = h.rollout(owner=OTHER).pause()
    assert outcome_message(again) == "daemonset.apps/agent is already paused (paused by request)"
    h.restart_clock()
    assert outcome_message(h.rollout(owner=OTHER).resume()) == FINISHED
    assert h.lines()[0] == "step 3 of 3: node-2"
    assert_finished(h, 3)


def test_pause_of_a_rollout_whose_driver_is_gone_pauses_it_at_once() -> None:
    h = manual_cluster(nodes=2)
    at_wait(h, "step 2 of 2: node-1", kill)
    with pytest.raises(Killed):
        h.rollout().start(V2, RolloutOptions())
    h.cluster.on_wait.clear()
    h.cluster.run_for(30)  # the dead driver's heartbeat is stale now
    assert outcome_message(h.rollout(owner=OTHER).pause()) == "daemonset.apps/agent paused"
    assert phase(h) == ("paused", "paused by request", OWNER)


def test_abort_rolls_the_updated_nodes_back_node_by_node_and_restores_the_strategy() -> None:
    h = manual_cluster(nodes=3)
    h.rollout().start(V2, RolloutOptions(), steps=2)
    h.restart_clock()
    h.invariants.armed = True
    outcome = h.rollout().abort()
    assert outcome_message(outcome) == 'daemon set "agent" rolled back; updateStrategy restored'
    assert [line for _, line in h.said if " done: " not in line] == [
        "daemonset.apps/agent rolling back to revision 1",
        "step 1 of 2: node-0",
        "step 2 of 2: node-1",
    ]
    assert h.elapsed() == 2.2
    assert_finished(h, 3, running=OLD)


def test_abort_numbers_its_own_steps_from_one() -> None:
    h = manual_cluster(nodes=3)
    h.rollout().start(V2, RolloutOptions(), steps=2)
    h.rollout().abort()
    assert [line for line in h.lines() if line.startswith("step ") and " done: " not in line][-2:] == [
        "step 1 of 2: node-0",
        "step 2 of 2: node-1",
    ]


def test_abort_is_refused_while_another_driver_is_alive_unless_forced() -> None:
    h = manual_cluster(nodes=2)
    at_wait(h, "step 2 of 2: node-1", kill)
    with pytest.raises(Killed):
        h.rollout().start(V2, RolloutOptions())
    h.cluster.on_wait.clear()
    with pytest.raises(DsError) as refused:
        h.rollout(owner=OTHER).abort()
    assert refused.value.message == (
        f'the rollout of daemonset "agent" is being driven by {OWNER} (heartbeat 0s ago); '
        "wait for it, or take over with --force if that process is gone"
    )
    h.restart_clock()
    outcome = h.rollout(owner=OTHER).abort(force=True)
    assert outcome_message(outcome) == 'daemon set "agent" rolled back; updateStrategy restored'
    assert_finished(h, 2, running=OLD)


INTERRUPTED = "interrupted: daemonset agent is parked; continue with: kubectl ds rollout resume agent"


@pytest.mark.parametrize(
    ("options", "after_line", "kind"),
    [
        pytest.param(RolloutOptions(), "step 2 of 2: node-1", "watch", id="while-a-step-waits-for-its-pods"),
        pytest.param(
            RolloutOptions(pause_between=1),
            "step 1 of 2 done: node-0 updated (1 of 2 nodes done)",
            "sleep",
            id="while-pausing-between-steps",
        ),
        pytest.param(
            SURGE,
            "step 2 of 2: surge 1 node (the controller picks them)",
            "watch",
            id="while-a-surge-step-runs-it-parks-again",
        ),
    ],
)
def test_interruption_leaves_the_rollout_parked_released_and_resumable(
    options: RolloutOptions, after_line: str, kind: str
) -> None:
    h = manual_cluster(nodes=2, max_unavailable=int(options.max_unavailable), max_surge=int(options.max_surge))
    h.invariants.armed = True
    at_wait(h, after_line, interrupt, kind=kind)
    with pytest.raises(KeyboardInterrupt):
        h.rollout().start(V2, options)
    assert h.said[-2:] == [(1.2, after_line), (1.2, INTERRUPTED)]  # at once: nothing waits for the pods
    assert h.daemonset()["spec"]["updateStrategy"] == PARKED
    assert (*phase(h), h.state()["steps_done"], h.state()["surging"]) == ("paused", "interrupted", "", 1, False)
    h.cluster.run_for(1)
    assert "," not in "".join(images(h).values())  # parked: no node keeps a second (surge) pod
    h.cluster.on_wait.clear()
    h.restart_clock()
    # Released: any process resumes at once, without --force, and finishes.
    assert outcome_message(h.rollout(owner=OTHER).resume()) == FINISHED
    assert_finished(h, 2)


def test_interruption_before_the_first_step_leaves_the_rollout_released() -> None:
    h = manual_cluster(nodes=2)
    h.cluster.on_wait.append(lambda wait: interrupt())  # the first wait: the 0.2 s poll for the new revision
    with pytest.raises(KeyboardInterrupt):
        h.rollout().start(V2, RolloutOptions())
    assert h.said == [
        (0.0, "daemonset.apps/agent parked (updateStrategy OnDelete) and changed: image agent=agent:v2"),
        (0.0, INTERRUPTED),
    ]
    assert (*phase(h), h.state()["target_hash"]) == ("paused", "interrupted", "", "")  # revision not yet recorded
    h.cluster.on_wait.clear()
    h.restart_clock()
    # Any process resumes at once: it records the new revision first, then rolls out.
    assert outcome_message(h.rollout(owner=OTHER).resume()) == FINISHED
    assert h.said[0] == (0.2, "step 1 of 2: node-0")
    assert_finished(h, 2)


# --- drivers: heartbeat, take-over ------------------------------------------------------------------------------


def test_a_waiting_driver_renews_its_heartbeat_once_5s_have_passed() -> None:
    h = manual_cluster(nodes=2, min_ready_seconds=30)
    h.cluster.run_for(30)
    h.restart_clock()
    h.rollout().start(V2, RolloutOptions(), steps=1)
    # The new pod is available 31 s into the step; meanwhile each wait (a 2 s watch slice, or less when a pod
    # changes) renews the heartbeat once at least 5 s have passed since the last renewal.
    assert heartbeats_written(h) == [
        (0.0, h.stamp(0.0)),  # start: parked and changed
        (0.2, h.stamp(0.2)),  # the new revision recorded
        (0.2, h.stamp(0.2)),  # the first wait of the step
        (5.2, h.stamp(5.2)),
        (11.2, h.stamp(11.2)),
        (17.2, h.stamp(17.2)),
        (23.2, h.stamp(23.2)),
        (29.2, h.stamp(29.2)),
        (31.2, h.stamp(31.2)),  # step done
    ]
    assert h.said[-1] == (31.2, "step 1 of 2 done: node-0 updated (1 of 2 nodes done)")


@pytest.mark.parametrize(
    ("waited", "refusal"),
    [
        pytest.param(0, "heartbeat 0s ago", id="fresh"),
        pytest.param(29, "heartbeat 29s ago", id="29s-old-is-alive"),
        pytest.param(29.8, None, id="30s-old-is-stale"),  # beat at 1.2 s, written in whole seconds: 1 s; now 31 s
    ],
)
def test_a_killed_driver_is_taken_over_once_its_heartbeat_is_30s_old(waited: float, refusal: str | None) -> None:
    h = manual_cluster(nodes=2)
    at_wait(h, "step 2 of 2: node-1", kill)
    with pytest.raises(Killed):
        h.rollout().start(V2, RolloutOptions())
    h.cluster.on_wait.clear()
    assert (phase(h), h.state()["heartbeat"]) == (("running", "", OWNER), h.stamp(1.2))  # its last beat
    h.cluster.run_for(waited)
    if refusal is not None:
        with pytest.raises(DsError) as refused:
            h.rollout(owner=OTHER).resume()
        assert refused.value.message == (
            f'the rollout of daemonset "agent" is being driven by {OWNER} ({refusal}); '
            "wait for it, or take over with --force if that process is gone"
        )
        h.restart_clock()
        assert outcome_message(h.rollout(owner=OTHER).resume(force=True)) == FINISHED
    else:
        h.restart_clock()
        assert outcome_message(h.rollout(owner=OTHER).resume()) == FINISHED
    assert_finished(h, 2)


def test_taking_over_a_killed_surge_step_parks_it_again_first() -> None:
    h = manual_cluster(nodes=2, max_unavailable=0, max_surge=1)
    h.invariants.armed = True
    at_wait(h, "step 2 of 2: surge 1 node (the controller picks them)", kill)
    with pytest.raises(Killed):
        h.rollout().start(V2, SURGE)
    h.cluster.on_wait.clear()
    # Dead mid-surge: the controller holds the DaemonSet, and the state says so.
    assert h.daemonset()["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert h.state()["surging"] is True
    h.cluster.log.clear()
    h.restart_clock()
    assert outcome_message(h.rollout(owner=OTHER).resume(force=True)) == FINISHED
    assert strategies_written(h)[:2] == ["OnDelete", "RollingUpdate"]  # the take-over parks it before surging
    assert_finished(h, 2)


# --- someone else ------------------------------------------------------------------------------------------------


def _new_template(ds: dict[str, Any]) -> None:
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:v3"


def _new_strategy(ds: dict[str, Any]) -> None:
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}


def _state_removed(ds: dict[str, Any]) -> None:
    del ds["metadata"]["annotations"][STATE_ANNOTATION]


def _new_owner(ds: dict[str, Any]) -> None:
    state = json.loads(ds["metadata"]["annotations"][STATE_ANNOTATION])
    ds["metadata"]["annotations"][STATE_ANNOTATION] = json.dumps({**state, "owner": OTHER})


CHANGED = 'rollout of daemonset "agent" halted: changed by someone else: '
INSPECT = "; inspect it, then resume or abort (kubectl ds rollout abort agent)"


@pytest.mark.parametrize(
    ("change", "message", "halted_at"),
    [
        # Seen at the next write: here the heartbeat, 5 s after the last one (the step itself never ends: the
        # controller gave node-1 a pod of the foreign revision 3).
        pytest.param(
            _new_template, f"{CHANGED}its pod template was changed (revision 2 -> 3){INSPECT}", 6.2, id="pod-template"
        ),
        pytest.param(
            _new_strategy,
            f'{CHANGED}its updateStrategy was changed to {{"type": "RollingUpdate", '
            f'"rollingUpdate": {{"maxUnavailable": 1}}}}{INSPECT}',
            2.2,
            id="update-strategy",
        ),
        pytest.param(
            _state_removed,
            'the managed rollout of daemonset "agent" was removed by someone else',
            2.2,
            id="state-removed",
        ),
        pytest.param(
            _new_owner, f'another process ({OTHER}) took over the rollout of daemonset "agent"', 2.2, id="another-owner"
        ),
    ],
)
def test_a_change_by_someone_else_halts_the_rollout(
    change: Callable[[dict[str, Any]], None], message: str, halted_at: float
) -> None:
    h = manual_cluster(nodes=2)
    at_wait(h, "step 2 of 2: node-1", lambda: h.update_daemonset(change))
    assert halt_message(lambda: h.rollout().start(V2, RolloutOptions())) == message
    assert h.elapsed() == halted_at
    assert h.lines()[-1] == "step 2 of 2: node-1"  # the write that ends the step is where it is seen


def test_resume_after_someone_else_changed_the_template_halts() -> None:
    h = manual_cluster(nodes=2)
    h.rollout().start(V2, RolloutOptions(), steps=1)
    h.update_daemonset(_new_template)
    h.cluster.run_for(1)
    assert halt_message(lambda: h.rollout().resume()) == (
        f"{CHANGED}its pod template was changed (revision 2 -> 3){INSPECT}"
    )
    assert phase(h) == ("halted", "changed by someone else: its pod template was changed (revision 2 -> 3)", "")


# --- transient failures ------------------------------------------------------------------------------------------


def test_transient_failures_are_retried_with_backoff_and_conflicts_are_reapplied() -> None:
    h = manual_cluster(nodes=2)
    h.server.inject_fault(status=500, count=2, method="PUT")
    h.server.inject_fault(status=409, count=1, method="PUT")
    h.server.inject_fault(status="timeout", count=1, method="GET", path_contains="/pods")
    # A watch that waits (for at most the 2 s slice), not the catch-up before a step's decisions.
    h.server.inject_fault(status="drop", count=1, method="GET", path_contains="timeoutSeconds=2")
    assert outcome_message(h.rollout().start(V2, RolloutOptions())) == FINISHED
    # The pre-flight pod list times out: retried after 0.2 s. The park: 500 twice, retried after 0.2 s and
    # 0.4 s, then a 409: read again and re-applied at once. Then the 0.2 s poll for the new revision; the
    # dropped watch: a 0.5 s pause rather than a busy loop (and the pods are listed again after it).
    assert [(w.kind, w.seconds) for w in h.cluster.waits][:5] == [
        ("sleep", 0.2),
        ("sleep", 0.2),
        ("sleep", 0.4),
        ("sleep", 0.2),
        ("sleep", 0.5),
    ]
    assert [when for when, _ in h.said[:2]] == [0.8, 1.0]
    assert [r.status for r in h.server.requests if r.status not in (200, 201)] == [0, 500, 500, 409, 0]
    assert_finished(h, 2)


def test_pause_between_does_not_wait_after_the_last_step() -> None:
    h = manual_cluster(nodes=2)
    assert outcome_message(h.rollout().start(V2, RolloutOptions(pause_between=5))) == FINISHED
    assert h.said[-1] == (7.2, "step 2 of 2 done: node-1 updated (2 of 2 nodes done)")
    assert h.elapsed() == 7.2


def test_an_interruption_whose_exception_python_dropped_still_stops_the_rollout_at_its_next_wait() -> None:
    """A KeyboardInterrupt raised while a finalizer runs is printed and dropped by Python; the signal handler's
    flag makes the next wait raise it again, so the rollout still stops parked and resumable."""
    h = manual_cluster(nodes=2)
    flag: list[bool] = []
    driver = rollout_harness.Driver(
        cluster=h.cluster,
        clock=h.clock,
        sleep=h.cluster.sleep,
        say=lambda event: h.events.append((h.elapsed(), event)),
        owner=OWNER,
        interrupted=lambda: bool(flag),
    )
    at_wait(h, "step 1 of 2: node-0", lambda: flag.append(True))
    with pytest.raises(KeyboardInterrupt):
        rollout_harness.Rollout(driver, namespace="default", name="agent").start(V2, RolloutOptions())
    assert (h.state()["phase"], h.state()["reason"], h.state()["owner"]) == ("paused", "interrupted", "")
