"""Rollouts of pods that take their time, pinned on manual time against the unkind simulator (see
tests/rollout_harness.py): transient container states that are not failures (docs/rules.md#r-container-states),
a pod that preempts room on a full node (docs/rules.md#r-preemption), and old pods that take their whole grace
period to stop (docs/rules.md#r-termination).

Numbers to read them by: a pod is Ready one second after its kubelet starts it; the kubelet restarts a
container's first exit at once, then backs off 10 s doubling, and a failed pull backs off the same way; a
watch waits at most 2 s, so a halt is seen at the first look after its patience ran out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pytest

from kubectl_ds.commands.rollout.views import PlanOptions, run_plan
from kubectl_ds.kube.config import KubeFlags
from kubectl_ds.render.rollout import outcome_message
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.state import RolloutOptions
from tests.builders import make_pod
from tests.rollout.test_runner import FINISHED, NEW, OLD, RESUME_HINT, V2, halt_message, image, images, manual_cluster
from tests.rollout_harness import Harness, ManualCluster

# --- transient and persistent container states -----------------------------------------------------------------

CRASH_LOOP = "node-0: container agent is crash-looping ({restarts}, last exit code 1 (Error))"
PULL = 'node-0: container agent cannot pull image {image}: ImagePullBackOff (Back-off pulling image "{image}")'


@pytest.mark.parametrize(
    ("tag", "options", "ended_at", "reason"),
    [
        # Exits once, restarted at once, up: each step takes one more second.
        pytest.param("agent:crash-once", RolloutOptions(), 4.2, None, id="crash-once-finishes"),
        # Exits twice, waits out one 10 s CrashLoopBackOff (restartCount 1), then stays up: 13 s a step.
        pytest.param("agent:crash-twice", RolloutOptions(), 26.2, None, id="crash-twice-finishes"),
        # ErrImagePull, ImagePullBackOff for 10 s, then pulled: 11 s a step.
        pytest.param("agent:flaky-pull", RolloutOptions(), 22.2, None, id="flaky-pull-finishes"),
        # Restarts at once, after 10 s and after 20 s: the third restart is at 34.2 s.
        pytest.param(
            "agent:crash",
            RolloutOptions(),
            34.2,
            CRASH_LOOP.format(restarts="3 restarts"),
            id="crash-halts-at-the-third-restart",
        ),
        pytest.param(
            "agent:crash-twice",
            RolloutOptions(max_restarts=2),
            26.2,
            None,
            id="crash-twice-finishes-under-max-restarts-2",
        ),
        # Pull errors for 60 s since the kubelet took the pod on (0.2 s), seen at the next look.
        pytest.param(
            "agent:nonexistent",
            RolloutOptions(),
            61.2,
            PULL.format(image="agent:nonexistent"),
            id="nonexistent-halts-after-the-image-pull-timeout",
        ),
        pytest.param(
            "agent:flaky-pull",
            RolloutOptions(image_pull_timeout=5),
            5.2,
            PULL.format(image="agent:flaky-pull"),
            id="flaky-pull-halts-under-a-shorter-image-pull-timeout",
        ),
    ],
)
def test_r_container_states_transient_troubles_do_not_halt_persistent_ones_do(
    tag: str, options: RolloutOptions, ended_at: float, reason: str | None
) -> None:
    h = manual_cluster(nodes=2)
    h.invariants.armed = True
    if reason is None:
        assert outcome_message(h.rollout().start(image(tag), options)) == FINISHED
        assert images(h) == {"node-0": tag, "node-1": tag}
    else:
        assert halt_message(lambda: h.rollout().start(image(tag), options)) == (
            f'rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}'
        )
        assert images(h) == {"node-0": tag, "node-1": OLD}
    assert h.elapsed() == ended_at
    assert h.invariants.violations == []


def test_r_container_states_a_single_restart_is_worded_in_the_singular() -> None:
    h = manual_cluster(nodes=2)
    message = halt_message(lambda: h.rollout().start(image("agent:crash-twice"), RolloutOptions(max_restarts=1)))
    assert CRASH_LOOP.format(restarts="1 restart") in message


# --- preemption ------------------------------------------------------------------------------------------------

CRITICAL = "system-node-critical"


def critical_agent(h: Harness) -> Change:
    """The agent, now requesting 500m cpu at priority system-node-critical (node-1 has 200m left)."""
    template = h.daemonset()["spec"]["template"]
    template["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "500m"}}
    template["spec"]["priorityClassName"] = CRITICAL
    return Change(template=template, description="requests cpu 500m, priorityClassName system-node-critical")


def with_hog(priority_class: str | None) -> Harness:
    """Two nodes; on node-1 a batch pod (not the DaemonSet's) requests 3800m of its 4 cpu, and ignores SIGTERM
    for its 60 s grace period."""
    h = manual_cluster(nodes=2)
    hog = make_pod("hog", node="node-1", requests={"cpu": "3800m"}, namespace="batch")
    hog["spec"]["containers"][0]["image"] = "hog:slow-stop"
    hog["spec"]["terminationGracePeriodSeconds"] = 60
    if priority_class:
        hog["spec"]["priorityClassName"] = priority_class
    h.server.add(hog, defaults=True)
    h.cluster.run_for(1)
    h.restart_clock()
    h.invariants.armed = True
    return h


def pending_states(h: Harness) -> list[tuple[float, str | None, str]]:
    """(seconds, nominatedNodeName, PodScheduled reason) of the DaemonSet's Pending pod at each wait."""
    seen: list[tuple[float, str | None, str]] = []

    def look(_: object) -> None:
        for pod in h.server.objects("Pod", "default"):
            if not pod["spec"].get("nodeName"):
                scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
                seen.append((round(h.elapsed(), 1), pod["status"].get("nominatedNodeName"), scheduled["reason"]))

    h.cluster.on_wait.append(look)
    return seen


def test_r_preemption_a_pod_with_a_nominated_node_is_waited_for_while_its_victim_terminates() -> None:
    """The scheduler writes Unschedulable on the very attempt that preempts; the victim then takes its 60 s grace,
    twice the unschedulable timeout. The rollout waits, and goes on once the pod is bound."""
    h = with_hog(None)
    seen = pending_states(h)
    assert outcome_message(h.rollout().start(critical_agent(h), RolloutOptions())) == FINISHED
    assert h.said[1:] == [
        (0.2, "step 1 of 2: node-0"),
        (1.2, "step 1 of 2 done: node-0 updated (1 of 2 nodes done)"),
        (1.2, "step 2 of 2: node-1"),
        (62.2, "step 2 of 2 done: node-1 updated (2 of 2 nodes done)"),
    ]
    assert seen[0] == (1.2, "node-1", "Unschedulable") and seen[-1] == (59.2, "node-1", "Unschedulable")
    assert {(nominated, reason) for _, nominated, reason in seen} == {("node-1", "Unschedulable")}
    assert h.server.get("Pod", "batch", "hog") is None
    assert [e["message"].split(" on ")[1] for e in h.server.objects("Event") if e["reason"] == "Preempted"] == [
        "node node-1"
    ]
    assert h.invariants.violations == []


def test_r_preemption_a_pod_that_cannot_preempt_halts_after_the_unschedulable_timeout() -> None:
    h = with_hog(CRITICAL)  # no lower priority: no victim
    seen = pending_states(h)
    message = halt_message(lambda: h.rollout().start(critical_agent(h), RolloutOptions()))
    pending = h.pod_on("node-1")
    assert message == (
        f'rollout of daemonset "agent" halted: node-1: pod {pending} is Pending: Insufficient cpu; {RESUME_HINT}'
    )
    assert h.elapsed() == 31.2  # 30 s after the first Unschedulable, at 1.2 s
    assert {(nominated, reason) for _, nominated, reason in seen} == {(None, "Unschedulable")}
    assert images(h) == {"node-0": OLD, "node-1": OLD}  # node-1's new pod is Pending: it runs nothing
    assert h.server.get("Pod", "batch", "hog") is not None


# --- graceful termination --------------------------------------------------------------------------------------

GRACE = 120
SLOW = {"image": "agent:slow-stop", "pod_spec": {"terminationGracePeriodSeconds": GRACE}}


def slow_stoppers(nodes: int, **options: Any) -> Harness:
    """Old pods that ignore SIGTERM, so a deleted one takes its whole 120 s grace period."""
    h = manual_cluster(nodes=nodes, **SLOW, **options)
    h.invariants.armed = True
    return h


def test_r_termination_the_availability_timer_starts_when_the_new_pod_exists() -> None:
    h = slow_stoppers(2)
    old = {node: h.pod_on(node) for node in ("node-0", "node-1")}
    assert outcome_message(h.rollout().start(V2, RolloutOptions(step_timeout=60))) == FINISHED
    # Evicted at 0.2 s, the old pod is killed 120 s later; the new pod comes then and is Ready a second later. Its
    # deletionTimestamp (whole seconds) says 120 s, so 1m54s are left when the wait is said, once, 6 s into it.
    assert h.said[1:] == [
        (0.2, "step 1 of 2: node-0"),
        (
            6.2,
            f"node-0: waiting for pod {old['node-0']} to terminate: up to 1m54s more "
            f"(terminationGracePeriodSeconds {GRACE})",
        ),
        (121.2, "step 1 of 2 done: node-0 updated (1 of 2 nodes done)"),
        (121.2, "step 2 of 2: node-1"),
        (
            127.2,
            f"node-1: waiting for pod {old['node-1']} to terminate: up to 1m54s more "
            f"(terminationGracePeriodSeconds {GRACE})",
        ),
        (242.2, "step 2 of 2 done: node-1 updated (2 of 2 nodes done)"),
    ]
    assert images(h) == {"node-0": NEW, "node-1": NEW}
    assert h.invariants.violations == []


def test_r_termination_a_new_pod_that_never_becomes_available_halts_a_step_timeout_after_it_exists() -> None:
    h = slow_stoppers(2, min_ready_seconds=300)
    h.cluster.run_for(300)  # the old pods are available
    h.restart_clock()
    message = halt_message(lambda: h.rollout().start(V2, RolloutOptions(step_timeout=60)))
    reason = "new pods not available within 60s on node-0"
    assert message == f'rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}'
    assert h.elapsed() == 180.0  # 60 s after the new pod's creationTimestamp (120.2 s, written in whole seconds)


class PlanReader:
    """What `rollout plan` reads, from the manual-time cluster (the command reads through kube.Cluster)."""

    def __init__(self, cluster: ManualCluster) -> None:
        self.cluster = cluster

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cluster, name)

    def server_now(self) -> datetime:
        return self.cluster.clock()

    def list_daemonset_pods(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.cluster.list_pods_versioned(namespace=namespace, selector=selector)[0]


def test_r_termination_plan_estimates_up_to_the_grace_period_per_step_and_the_rollout_lands_in_it() -> None:
    h = slow_stoppers(3)
    options = PlanOptions(name="agent", kube=KubeFlags(), change=V2, budget=RolloutOptions())
    shown = run_plan(options, PlanReader(h.cluster), "default")  # type: ignore[arg-type]
    assert shown.splitlines()[-2] == (
        "Estimated duration: 3s to 6m03s (observed start-up 1s, minReadySeconds 0, up to "
        f"terminationGracePeriodSeconds {GRACE} per step for old pods to stop)"
    )
    h.restart_clock()
    h.rollout().start(V2, RolloutOptions())
    assert h.elapsed() == 363.2  # 3 steps of 120 s of grace and 1 s of start-up, after the 0.2 s revision poll
