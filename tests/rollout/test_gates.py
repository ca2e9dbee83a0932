"""Gates between the steps of a managed rollout, on manual time (tests/rollout_harness.py): the canary group
as one step whatever the budget, --check (a command run between steps), --bake (watching the updated pods
for a while) and what a resume does with each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from kubectl_ds.errors import RolloutHalted
from kubectl_ds.render.rollout import event_line, outcome_message
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.gates import CheckResult
from kubectl_ds.rollout.runner import Rollout
from kubectl_ds.rollout.state import RolloutOptions
from tests import rollout_harness
from tests.rollout_harness import Harness
from tests.rollout_support import NAME, NAMESPACE

OLD, NEW = "agent:v1", "agent:v2"
FINISHED = 'daemon set "agent" successfully rolled out; updateStrategy restored'
RESUME_HINT = (
    "the DaemonSet stays parked. Fix it and run: kubectl ds rollout resume agent, or roll back with: "
    "kubectl ds rollout abort agent"
)


def manual_cluster(**options: Any) -> Harness:
    return rollout_harness.manual_cluster(words=event_line, **options)


def image(tag: str) -> Change:
    return Change(images=(("agent", tag),), description=f"image agent={tag}")


def halt_message(run: Callable[[], object]) -> str:
    with pytest.raises(RolloutHalted) as caught:
        run()
    return caught.value.message


def label_nodes(h: Harness, names: list[str], labels: dict[str, str]) -> None:
    for node in h.server.objects("Node"):
        if node["metadata"]["name"] in names:
            node["metadata"].setdefault("labels", {}).update(labels)
            h.server.update_object(node)


# --- the canary group is one step ------------------------------------------------------------------------------


def test_canary_group_is_one_step_replaced_within_the_budget_and_steps_1_stops_with_every_canary_updated() -> None:
    h = manual_cluster(nodes=4)
    label_nodes(h, ["node-1", "node-3"], {"pool": "canary"})
    h.invariants.armed = True  # never more than one node without an available pod
    outcome = h.rollout().start(image(NEW), RolloutOptions(max_unavailable=1, canary="pool=canary"), steps=1)
    assert h.said[1:] == [
        (0.2, "step 1 of 3: node-1, node-3 (canary)"),
        (2.2, "step 1 of 3 done: node-1, node-3 updated (2 of 4 nodes done)"),
    ]
    assert outcome_message(outcome) == (
        "daemonset.apps/agent paused: stopped after 1 step (--steps); continue with: kubectl ds rollout resume agent"
    )
    assert h.node_images() == {"node-0": OLD, "node-1": NEW, "node-2": OLD, "node-3": NEW}
    assert h.invariants.violations == []


# --- --check ---------------------------------------------------------------------------------------------------


class FakeCheck:
    """A --check command on manual time: records each run's environment and answers what `answer` says; a run
    lasts `seconds` of cluster time."""

    def __init__(self, h: Harness, answer: Callable[[dict[str, str]], CheckResult], seconds: float = 0.0) -> None:
        self.h = h
        self.answer = answer
        self.seconds = seconds
        self.runs: list[tuple[str, dict[str, str], float]] = []

    def __call__(self, command: str, env: Mapping[str, str], timeout: float, tick: Callable[[], None]) -> CheckResult:
        self.runs.append((command, dict(env), timeout))
        tick()
        if self.seconds:
            self.h.cluster.sleep(self.seconds)
        return self.answer(dict(env))


def gated_rollout(h: Harness, check: FakeCheck | None = None) -> Rollout:
    driver = h.driver()
    driver.run_check = check
    return Rollout(driver, namespace=NAMESPACE, name=NAME)


def fails_at_step(step: int) -> Callable[[dict[str, str]], CheckResult]:
    def answer(env: dict[str, str]) -> CheckResult:
        if env["KUBECTL_DS_STEP"] == str(step):
            return CheckResult(3, "checking agents\nerror: 2 agents report unhealthy peers\n")
        return CheckResult(0, "ok\n")

    return answer


def test_check_runs_after_each_step_with_the_step_in_its_environment() -> None:
    h = manual_cluster(nodes=3)
    check = FakeCheck(h, fails_at_step(0))
    outcome = gated_rollout(h, check).start(image(NEW), RolloutOptions(check="./check.sh", check_timeout=30))
    assert outcome_message(outcome) == FINISHED
    assert [(command, timeout) for command, _, timeout in check.runs] == [("./check.sh", 30.0)] * 3
    assert check.runs[1][1] == {
        "KUBECTL_DS_STEP": "2",
        "KUBECTL_DS_STEPS": "3",
        "KUBECTL_DS_NODES": "node-1",
        "KUBECTL_DS_PODS": h.pod_on("node-1"),
        "KUBECTL_DS_REVISION": "2",  # the target: the DaemonSet's second ControllerRevision
        "KUBECTL_DS_NAMESPACE": NAMESPACE,
        "KUBECTL_DS_NAME": NAME,
    }
    assert h.lines()[1:4] == [
        "step 1 of 3: node-0",
        "step 1 of 3 done: node-0 updated (1 of 3 nodes done)",
        'step 1 of 3: --check "./check.sh" passed',
    ]


def test_a_check_failing_at_step_2_halts_before_step_3_quoting_its_output() -> None:
    h = manual_cluster(nodes=4)
    check = FakeCheck(h, fails_at_step(2))
    message = halt_message(lambda: gated_rollout(h, check).start(image(NEW), RolloutOptions(check="./check.sh")))
    reason = (
        '--check "./check.sh" failed with exit code 3 after step 2 of 4; output: '
        '"checking agents | error: 2 agents report unhealthy peers"'
    )
    assert message == f'rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}'
    assert h.node_images() == {"node-0": NEW, "node-1": NEW, "node-2": OLD, "node-3": OLD}
    state = h.state()
    assert (state["phase"], state["reason"], state["gate_step"], state["gate_nodes"]) == (
        "halted",
        reason,
        2,
        ["node-1"],
    )
    # Resume runs the failed step's check again first, and goes on once it passes.
    h.restart_clock()
    check.answer = fails_at_step(0)
    assert outcome_message(gated_rollout(h, check).resume()) == FINISHED
    assert [env["KUBECTL_DS_STEP"] for _, env, _ in check.runs] == ["1", "2", "2", "3", "4"]
    assert h.lines()[:2] == ['step 2 of 4: --check "./check.sh" passed', "step 3 of 4: node-2"]


def test_a_failing_check_with_on_failure_abort_rolls_back() -> None:
    h = manual_cluster(nodes=3)
    check = FakeCheck(h, fails_at_step(2))
    message = halt_message(
        lambda: gated_rollout(h, check).start(image(NEW), RolloutOptions(check="./check.sh", on_failure="abort"))
    )
    assert message.startswith('rollout of daemonset "agent" failed and was rolled back: --check "./check.sh" failed')
    assert h.node_images() == {"node-0": OLD, "node-1": OLD, "node-2": OLD}
    assert h.state() == {}
    assert [env["KUBECTL_DS_STEP"] for _, env, _ in check.runs] == ["1", "2"]  # no check while rolling back


def test_a_check_killed_at_its_timeout_halts() -> None:
    h = manual_cluster(nodes=2)
    check = FakeCheck(h, lambda env: CheckResult(None, "waiting for peers\n"))
    message = halt_message(
        lambda: gated_rollout(h, check).start(image(NEW), RolloutOptions(check="sleep 600", check_timeout=20))
    )
    assert (
        '--check "sleep 600" did not finish within 20s (killed, --check-timeout) after step 1 of 2; '
        'output: "waiting for peers"' in message
    )


def test_ctrl_c_during_a_check_leaves_the_rollout_resumable_and_resume_checks_that_step_again() -> None:
    h = manual_cluster(nodes=2)

    def interrupted(env: dict[str, str]) -> CheckResult:
        raise KeyboardInterrupt

    check = FakeCheck(h, interrupted)
    with pytest.raises(KeyboardInterrupt):
        gated_rollout(h, check).start(image(NEW), RolloutOptions(check="./check.sh"))
    state = h.state()
    assert (state["phase"], state["reason"], state["gate_step"], state["owner"]) == (
        "paused",
        "interrupted",
        1,
        "",
    )
    check.answer = fails_at_step(0)
    assert outcome_message(gated_rollout(h, check).resume()) == FINISHED
    assert [env["KUBECTL_DS_STEP"] for _, env, _ in check.runs] == ["1", "1", "2"]
