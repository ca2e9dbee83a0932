"""The runner's decisions (rollout/decisions.py), each pure and table-driven: what the budget allows now,
which pods go, which nodes are done or pending, when to halt, and what counts as a foreign change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubectl_ds.errors import DsError
from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.rollout import decisions as d
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.state import RolloutState
from tests.builders import NOW, make_daemonset, make_node, make_pod, make_revision, taint

DS = make_daemonset(strategy="OnDelete")
GOAL = index_revisions(DS, [make_revision(DS, 1, "old"), make_revision(DS, 2, "new")])


def pod(name: str, node: str, revision: str, **kwargs: Any) -> dict[str, Any]:
    return make_pod(name, node=node, owner=DS, revision_hash=revision, **kwargs)


@pytest.mark.parametrize(
    ("step", "unavailable", "budget", "chosen"),
    [
        pytest.param(["a", "b"], [], 2, ["a", "b"], id="room-for-the-whole-step"),
        pytest.param(["a", "b"], [], 1, ["a"], id="budget-caps-the-step"),
        pytest.param(["a", "b"], ["b"], 1, ["b"], id="an-unavailable-node-is-free-and-goes-first"),
        pytest.param(["a", "b"], ["x"], 1, [], id="budget-used-up-elsewhere-means-wait"),
        pytest.param(["a", "b", "c"], ["c"], 2, ["c", "a"], id="free-nodes-plus-what-the-budget-allows"),
    ],
)
def test_within_budget(step: list[str], unavailable: list[str], budget: int, chosen: list[str]) -> None:
    assert d.within_budget(step, unavailable, budget) == chosen


def test_only_live_old_pods_of_the_chosen_nodes_are_removed() -> None:
    pods = [
        pod("a-old", "a", "old"),
        pod("a-gone", "a", "old", deletion_timestamp=NOW),
        pod("b-new", "b", "new"),
        pod("c-old", "c", "old"),
    ]
    held = d.held_pods(DS, pods, GOAL, NOW, ["a", "b"])
    assert [p["metadata"]["name"] for p in d.old_pods_to_remove(held, ["a", "b"])] == ["a-old"]


def test_done_nodes_are_sorted_as_people_count() -> None:
    pods = [pod(f"p{i}", f"node-{i}", "new") for i in (10, 2, 1)]
    assert d.done_nodes(d.held_pods(DS, pods, GOAL, NOW)) == ["node-1", "node-2", "node-10"]


def test_a_node_that_stopped_qualifying_drops_out_of_the_step() -> None:
    nodes = [make_node("a"), make_node("b", taints=[taint("gone", "NoExecute")])]
    held = d.held_pods(DS, [pod("a-old", "a", "old")], GOAL, NOW, ["a", "b"])
    assert d.pending_nodes(held, ["a", "b"], d.wanted_nodes(DS, nodes)) == ["a"]


PATIENCE = d.Patience(max_restarts=3, image_pull_timeout=60, unschedulable_timeout=30)


def new_pod(
    *,
    waiting: str | None = None,
    restarts: int = 0,
    age: float = 0,
    unschedulable_for: float | None = None,
    nominated: bool = False,
) -> dict[str, Any]:
    made = pod(
        "new",
        "a",
        "new",
        ready=False,
        container_waiting=waiting,
        restart_count=restarts,
        creation_timestamp=NOW - timedelta(seconds=age),
    )
    made["status"]["startTime"] = made["metadata"]["creationTimestamp"]
    if unschedulable_for is not None:
        since = (NOW - timedelta(seconds=unschedulable_for)).strftime("%Y-%m-%dT%H:%M:%SZ")
        made["status"]["conditions"].append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "lastTransitionTime": since,
                "message": "0/3 nodes are available: 1 Insufficient cpu.",
            }
        )
    if nominated:
        made["status"]["nominatedNodeName"] = "a"
    return made


@pytest.mark.parametrize(
    ("new", "failing"),
    [
        pytest.param(new_pod(waiting="CrashLoopBackOff", restarts=1), False, id="a-first-crash-is-not-a-failure"),
        pytest.param(new_pod(waiting="CrashLoopBackOff", restarts=3), True, id="three-restarts-are-a-crash-loop"),
        pytest.param(new_pod(waiting="ErrImagePull", age=5), False, id="a-first-pull-error-is-not-a-failure"),
        pytest.param(new_pod(waiting="ImagePullBackOff", age=60), True, id="pull-errors-for-60s-are"),
        pytest.param(new_pod(waiting="InvalidImageName"), True, id="an-invalid-image-name-halts-at-once"),
        pytest.param(new_pod(waiting="ContainerCreating", age=600), False, id="creating-is-progress"),
        pytest.param(new_pod(unschedulable_for=5), False, id="unschedulable-briefly-is-not-a-failure"),
        pytest.param(new_pod(unschedulable_for=30), True, id="unschedulable-for-30s-is"),
        pytest.param(
            new_pod(unschedulable_for=300, nominated=True), False, id="a-nominated-node-means-preemption-is-making-room"
        ),
        pytest.param(new_pod(), False, id="a-healthy-pod-is-not"),
    ],
)
def test_only_persistent_trouble_is_a_failure(new: dict[str, Any], failing: bool) -> None:
    failures = d.failing_pods(d.held_pods(DS, [new], GOAL, NOW, ["a"]), ["a"], PATIENCE, NOW)
    assert bool(failures) is failing


def test_an_unschedulable_pod_is_reported_in_the_schedulers_words() -> None:
    failures = d.failing_pods(d.held_pods(DS, [new_pod(unschedulable_for=30)], GOAL, NOW, ["a"]), ["a"], PATIENCE, NOW)
    assert d.halt_reason(failures, []).startswith("a: pod new is Pending: ")


def test_an_old_pod_failing_is_not_the_rollouts_failure() -> None:
    broken_old = pod("old", "a", "old", ready=False, container_waiting="CrashLoopBackOff")
    broken_old["status"]["containerStatuses"][0]["restartCount"] = 9
    assert d.failing_pods(d.held_pods(DS, [broken_old], GOAL, NOW, ["a"]), ["a"], PATIENCE, NOW) == []


STATE = RolloutState(
    rollout_id="r",
    phase=st.RUNNING,
    direction=st.FORWARD,
    start_hash="old",
    start_revision=1,
    target_hash="new",
    target_revision=2,
)


def observed(daemonset: dict[str, Any]) -> dict[str, Any]:
    return {**daemonset, "metadata": {**daemonset["metadata"], "generation": 3}, "status": {"observedGeneration": 3}}


@pytest.mark.parametrize(
    ("daemonset", "current", "surging", "changed"),
    [
        pytest.param(observed(DS), ("new", 2), False, None, id="parked-on-the-goal-is-ours"),
        pytest.param(observed(make_daemonset()), ("new", 2), False, "updateStrategy", id="strategy-changed"),
        pytest.param(observed(make_daemonset()), ("new", 2), True, None, id="a-surge-step-is-not-a-foreign-change"),
        pytest.param(
            observed(DS),
            ("other", 3),
            False,
            "pod template was changed (revision 2 -> 3)",
            id="template-changed-once-observed",
        ),
        pytest.param(
            {**DS, "metadata": {**DS["metadata"], "generation": 4}, "status": {"observedGeneration": 3}},
            ("other", 3),
            False,
            None,
            id="not-yet-observed-is-not-judged",
        ),
    ],
)
def test_foreign_change(
    daemonset: dict[str, Any], current: tuple[str, int], surging: bool, changed: str | None
) -> None:
    found = d.foreign_change(daemonset, STATE, current, surging=surging)
    assert (found is None) if changed is None else (found is not None and changed in found)


def test_a_rollback_judges_against_the_starting_revision() -> None:
    rollback = RolloutState(**{**STATE.__dict__, "direction": st.ROLLBACK})
    assert d.foreign_change(observed(DS), rollback, ("old", 1), surging=False) is None
    assert d.foreign_change(observed(DS), rollback, ("new", 2), surging=False) is not None


def test_a_second_start_is_refused_before_its_write() -> None:
    with pytest.raises(DsError, match="already has a managed rollout"):
        d.unmanaged(st.with_state(DS, STATE))
    assert d.unmanaged(DS) is DS


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        pytest.param(
            d.budget_exhausted(["n1", "n2"], 1),
            "budget exhausted: 2 nodes unavailable (n1, n2) and --max-unavailable is 1",
            id="budget-exhausted-names-the-nodes",
        ),
        pytest.param(d.stopped_after_steps(1), "stopped after 1 step (--steps)", id="steps-singular"),
        pytest.param(d.partition_holds(["a", "b"], 3), "--partition: 2 nodes stay on revision 3", id="partition"),
        pytest.param(
            d.surge_incomplete(30, 1, 2),
            "surge step not complete after 30s (1 of 2 nodes updated and available)",
            id="surge-incomplete",
        ),
    ],
)
def test_stored_reasons(reason: str, expected: str) -> None:
    assert reason == expected


def test_stuck_notes_name_the_controller_side_reason() -> None:
    nodes = [make_node("a", taints=[taint("dedicated", "NoSchedule", "gpu")]), make_node("b")]
    notes = d.stuck_notes(DS, nodes, ["a", "b"])
    assert notes.startswith(" (a: ") and "dedicated" in notes and "b:" not in notes
    assert d.stuck_notes(DS, nodes, ["b"]) == ""
