"""Gates between the steps of a managed rollout, on manual time (tests/rollout_harness.py): the canary group
as one step whatever the budget, --check (a command run between steps), --bake (watching the updated pods
for a while) and what a resume does with each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from kubectl_ds.errors import RolloutHalted, UsageError
from kubectl_ds.render.rollout import event_line, outcome_message
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.gates import (
    CHECK_EXEC_FLAG,
    CHECK_FLAG,
    DEFAULT_CONTAINER_ANNOTATION,
    CheckResult,
    StepContext,
    check_environment,
    check_failure,
    exec_container,
    trimmed_output,
)
from kubectl_ds.rollout.runner import Rollout
from kubectl_ds.rollout.state import RolloutOptions
from tests import rollout_harness
from tests.rollout_harness import Harness, Wait
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


def gated_rollout(h: Harness, check: FakeCheck | None = None, owner: str = rollout_harness.OWNER) -> Rollout:
    driver = h.driver(owner)
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


def test_a_surge_steps_check_sees_the_nodes_the_controller_surged() -> None:
    h = manual_cluster(nodes=3, max_surge=1, max_unavailable=0)
    check = FakeCheck(h, fails_at_step(0))
    options = RolloutOptions(max_unavailable=0, max_surge=1, check="./check.sh")
    assert outcome_message(gated_rollout(h, check).start(image(NEW), options)) == FINISHED
    nodes = [env["KUBECTL_DS_NODES"] for _, env, _ in check.runs]
    assert sorted(nodes) == ["node-0", "node-1", "node-2"]  # one surged node per step, each checked once


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


# --- --bake ----------------------------------------------------------------------------------------------------


def watching(pods: int) -> str:
    return f"watching {pods} updated {'pod' if pods == 1 else 'pods'} for restarts, readiness losses and pods leaving"


def baked(pods: int) -> str:
    return f"{pods} updated {'pod' if pods == 1 else 'pods'} without a restart, readiness loss or departure"


def test_a_clean_bake_watches_the_updated_pods_for_its_whole_duration_after_each_step() -> None:
    h = manual_cluster(nodes=2)
    outcome = gated_rollout(h).start(image(NEW), RolloutOptions(bake=60))
    assert outcome_message(outcome) == FINISHED
    assert h.said[1:] == [
        (0.2, "step 1 of 2: node-0"),
        (1.2, "step 1 of 2 done: node-0 updated (1 of 2 nodes done)"),
        (1.2, f"step 1 of 2: baking 1m00s: {watching(1)}"),
        (61.2, f"step 1 of 2: baked 1m00s: {baked(1)}"),
        (61.2, "step 2 of 2: node-1"),
        (62.2, "step 2 of 2 done: node-1 updated (2 of 2 nodes done)"),
        (62.2, f"step 2 of 2: baking 1m00s: {watching(2)}"),  # every updated pod, not only the step's
        (122.2, f"step 2 of 2: baked 1m00s: {baked(2)}"),
    ]
    assert h.state() == {}


def test_a_bake_begun_late_in_a_second_is_a_whole_bake_not_one_partly_past() -> None:
    h = manual_cluster(nodes=1, ready_after=1.5)  # the step ends at 1.7 s; the state keeps the bake's start as 1 s
    assert outcome_message(gated_rollout(h).start(image(NEW), RolloutOptions(bake=10))) == FINISHED
    assert h.said[3:] == [
        (1.7, f"step 1 of 1: baking 10s: {watching(1)}"),
        (11.7, f"step 1 of 1: baked 10s: {baked(1)}"),
    ]


def test_the_canary_step_bakes_for_canary_bake_the_others_for_bake() -> None:
    h = manual_cluster(nodes=3)
    outcome = gated_rollout(h).start(
        image(NEW), RolloutOptions(canary="kubernetes.io/hostname=node-2", bake=30, canary_bake=300)
    )
    assert outcome_message(outcome) == FINISHED
    assert [line for _, line in h.said if "baking" in line] == [
        f"step 1 of 3: baking 5m00s: {watching(1)}",
        f"step 2 of 3: baking 30s: {watching(2)}",
        f"step 3 of 3: baking 30s: {watching(3)}",
    ]


def test_a_container_restart_during_the_bake_halts_naming_the_pod_and_resume_bakes_that_step_again() -> None:
    h = manual_cluster(nodes=3)
    crashing = image("agent:v2-crash-after-30s")  # Ready after 1 s, exits at 30 s, restarted at once
    message = halt_message(lambda: gated_rollout(h).start(crashing, RolloutOptions(bake=60)))
    pod = h.pod_on("node-0")
    reason = (
        f"the bake after step 1 of 3 failed after 29s of 1m00s: pod {pod} on node-0: container agent restarted "
        "(restartCount 1; last run ended with exit code 1, Error)"
    )
    assert message == f'rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}'
    assert h.said[-1] == (1.2, f"step 1 of 3: baking 1m00s: {watching(1)}")
    assert h.elapsed() == 30.2
    state = h.state()
    assert (state["phase"], state["reason"], state["gate_step"], state["bake_started"]) == ("halted", reason, 1, "")
    # After a halt, resume bakes the step again from the start: the restart it halted on is not held against it.
    h.restart_clock()
    message = halt_message(lambda: gated_rollout(h).resume())
    assert h.said == [
        # Its restarted container is Ready 1 s after the restart: the step's pods are available again first.
        (1.0, f"step 1 of 3: baking 1m00s: {watching(1)}"),
        (61.0, f"step 1 of 3: baked 1m00s: {baked(1)}"),
        (61.0, "step 2 of 3: node-1"),
        (62.0, "step 2 of 3 done: node-1 updated (2 of 3 nodes done)"),
        (62.0, f"step 2 of 3: baking 1m00s: {watching(2)}"),
    ]
    assert f"the bake after step 2 of 3 failed after 29s of 1m00s: pod {h.pod_on('node-1')} on node-1" in message


def test_a_readiness_loss_during_the_bake_halts() -> None:
    h = manual_cluster(nodes=3)
    unready = image("agent:v2-unready-after-20s")  # Ready after 1 s, not Ready from 20 s to 30 s
    message = halt_message(lambda: gated_rollout(h).start(unready, RolloutOptions(bake=60)))
    assert message.startswith(
        'rollout of daemonset "agent" halted: the bake after step 1 of 3 failed after 19s of 1m00s: '
        f"pod {h.pod_on('node-0')} on node-0: is not Ready: containers with unready status: [agent];"
    )


def test_a_pod_leaving_during_the_bake_halts() -> None:
    h = manual_cluster(nodes=3)
    victim: list[str] = []

    def evict_at_40s(wait: Wait) -> None:
        if not victim and h.elapsed() >= 40:
            victim.append(h.pod_on("node-0"))
            h.cluster.evict_pod(namespace=NAMESPACE, name=victim[0])  # someone drains the node

    h.cluster.on_wait.append(evict_at_40s)
    message = halt_message(lambda: gated_rollout(h).start(image(NEW), RolloutOptions(bake=60)))
    assert f"pod {victim[0]} on node-0: left" in message


def interrupt_at(h: Harness, seconds: float) -> None:
    """Ctrl-C at the first wait at or after `seconds` (once)."""

    def hook(wait: Wait) -> None:
        if h.elapsed() >= seconds:
            h.cluster.on_wait.remove(hook)
            raise KeyboardInterrupt

    h.cluster.on_wait.append(hook)


def test_ctrl_c_during_the_bake_leaves_it_resumable_and_resume_continues_it_where_it_began() -> None:
    h = manual_cluster(nodes=2)
    interrupt_at(h, 20)
    with pytest.raises(KeyboardInterrupt):
        gated_rollout(h).start(image(NEW), RolloutOptions(bake=60))
    state = h.state()
    assert (state["phase"], state["gate_step"], state["bake_started"]) == ("paused", 1, h.stamp(1))
    h.cluster.run_for(30)  # nobody watches meanwhile
    h.restart_clock()
    assert outcome_message(gated_rollout(h).resume()) == FINISHED
    assert h.said[:3] == [
        (0.0, f"step 1 of 2: baking 1m00s, 50s of it already past: {watching(1)}"),
        # Interrupted at 21.2 s, resumed 30 s later: the bake began at 1.2 s, kept as 1 s (whole seconds), so
        # it ends at 61 s, 9.8 s after the resume.
        (9.8, f"step 1 of 2: baked 1m00s: {baked(1)}"),
        (9.8, "step 2 of 2: node-1"),
    ]


def test_a_restart_while_nobody_watched_is_found_on_resume_in_the_containers_last_state() -> None:
    h = manual_cluster(nodes=2)
    interrupt_at(h, 10)
    with pytest.raises(KeyboardInterrupt):
        gated_rollout(h).start(image("agent:v2-crash-after-30s"), RolloutOptions(bake=120))
    h.cluster.run_for(60)  # the container exits at 30 s and is restarted: Ready again, restartCount 1
    message = halt_message(lambda: gated_rollout(h).resume())
    reason = (
        f"the bake after step 1 of 2 failed after 1m10s of 2m00s: pod {h.pod_on('node-0')} on node-0: container "
        "agent restarted (restartCount 1; last run ended with exit code 1, Error)"
    )
    assert message == f'rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}'


def test_pause_during_the_bake_stops_there_and_resume_continues_it() -> None:
    h = manual_cluster(nodes=2)
    paused: list[Any] = []

    def pause_at_30s(wait: Wait) -> None:
        if not paused and h.elapsed() >= 30:
            paused.append(gated_rollout(h, owner="kubectl-ds/other").pause())

    h.cluster.on_wait.append(pause_at_30s)
    outcome = gated_rollout(h).start(image(NEW), RolloutOptions(bake=60))
    assert outcome_message(outcome) == (
        "daemonset.apps/agent paused: paused by request; continue with: kubectl ds rollout resume agent"
    )
    assert (h.state()["gate_step"], h.state()["bake_started"]) == (1, h.stamp(1))
    h.restart_clock()
    assert outcome_message(gated_rollout(h).resume()) == FINISHED
    assert h.said[0][1].startswith("step 1 of 2: baking 1m00s, ")


# --- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(RolloutOptions(check="x", check_timeout=0), "--check-timeout must be positive", id="timeout-zero"),
        pytest.param(RolloutOptions(bake=-1), "--bake and --canary-bake must not be negative", id="negative-bake"),
        pytest.param(
            RolloutOptions(check_exec="agent 'status"),
            'invalid --check-exec "agent \'status": No closing quotation',
            id="check-exec-unbalanced-quote",
        ),
        pytest.param(RolloutOptions(check_exec="  "), "--check-exec needs a command", id="check-exec-blank"),
    ],
)
def test_bad_gate_options_are_refused_before_any_write(options: RolloutOptions, message: str) -> None:
    h = manual_cluster(nodes=2)
    before = h.daemonset()
    with pytest.raises(UsageError) as caught:
        gated_rollout(h).start(image(NEW), options)
    assert caught.value.message == message
    assert h.daemonset() == before


# --- the pure rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "quoted"),
    [
        pytest.param("", "no output", id="nothing"),
        pytest.param("\n  \nerror: x\n", 'output: "error: x"', id="blank-lines-dropped"),
        pytest.param(
            "".join(f"line {i}\n" for i in range(12)),
            'output: (2 earlier lines) "' + " | ".join(f"line {i}" for i in range(2, 12)) + '"',
            id="last-10-lines-kept",
        ),
        pytest.param("x" * 250, 'output: "' + "x" * 199 + '…"', id="long-line-cut-at-200"),
    ],
)
def test_a_failed_checks_output_is_quoted_from_its_end(output: str, quoted: str) -> None:
    assert trimmed_output(output) == quoted


CONTEXT = StepContext(2, 4, ("node-1",), ("agent-x",), 2, "default", "agent")


@pytest.mark.parametrize(
    ("flag", "result", "pod", "reason"),
    [
        pytest.param(CHECK_FLAG, CheckResult(0, "fine"), "", None, id="exit-0-passes"),
        pytest.param(
            CHECK_FLAG,
            CheckResult(2, "bad"),
            "",
            '--check "c" failed with exit code 2 after step 2 of 4; output: "bad"',
            id="non-zero-exit-halts",
        ),
        pytest.param(
            CHECK_FLAG,
            CheckResult(None, ""),
            "",
            '--check "c" did not finish within 30s (killed, --check-timeout) after step 2 of 4; no output',
            id="timeout-killed",
        ),
        pytest.param(
            CHECK_EXEC_FLAG,
            CheckResult(None, ""),
            "agent-x",
            '--check-exec "c" in pod agent-x did not finish within 30s (--check-timeout; its stream was closed) after '
            "step 2 of 4; no output",
            id="exec-timeout-abandoned",
        ),
        pytest.param(
            CHECK_EXEC_FLAG,
            CheckResult(-1, "HTTP 403: forbidden"),
            "agent-x",
            '--check-exec "c" in pod agent-x could not run after step 2 of 4; output: "HTTP 403: forbidden"',
            id="exec-refused",
        ),
    ],
)
def test_check_failure(flag: str, result: CheckResult, pod: str, reason: str | None) -> None:
    assert check_failure(flag, "c", result, 30, CONTEXT, pod) == reason


def test_check_environment_names_the_step() -> None:
    assert check_environment(CONTEXT) == {
        "KUBECTL_DS_STEP": "2",
        "KUBECTL_DS_STEPS": "4",
        "KUBECTL_DS_NODES": "node-1",
        "KUBECTL_DS_PODS": "agent-x",
        "KUBECTL_DS_REVISION": "2",
        "KUBECTL_DS_NAMESPACE": "default",
        "KUBECTL_DS_NAME": "agent",
    }


@pytest.mark.parametrize(
    ("annotations", "containers", "chosen"),
    [
        pytest.param({}, ["agent", "sidecar"], "agent", id="first-container"),
        pytest.param({DEFAULT_CONTAINER_ANNOTATION: "sidecar"}, ["agent", "sidecar"], "sidecar", id="kubectl-default"),
        pytest.param({DEFAULT_CONTAINER_ANNOTATION: "gone"}, ["agent"], "agent", id="unknown-default-ignored"),
    ],
)
def test_exec_container_is_the_one_kubectl_exec_picks(
    annotations: dict[str, str], containers: list[str], chosen: str
) -> None:
    pod = {"metadata": {"annotations": annotations}, "spec": {"containers": [{"name": c} for c in containers]}}
    assert exec_container(pod) == chosen
