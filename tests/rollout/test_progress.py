"""Rollout progress: kubectl's DaemonSetStatusViewer lines verbatim (docs/rules.md#r-rollout-progress; case group
K 152–156,
kubectl rollout_status_test.go TestDaemonSetStatusViewerStatus), the per-node revision map, and the managed
rollout's one-line progress message.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubectl_ds.errors import UsageError
from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.render.status import managed_progress_message
from kubectl_ds.rollout.nodepods import EXCLUDED, MISSING, OLD, UNAVAILABLE, UPDATED
from kubectl_ds.rollout.progress import (
    NodeProgress,
    Progress,
    count_states,
    daemonset_status_message,
    node_revision_map,
)
from tests.builders import NOW, make_daemonset, make_node, make_pod, make_revision, rolling_update, taint


def with_status(
    strategy: Any = None, *, generation: int, observed: int, updated: int, desired: int, available: int
) -> dict[str, Any]:
    daemonset = make_daemonset("foo", strategy=rolling_update() if strategy is None else strategy)
    daemonset["metadata"]["generation"] = generation
    daemonset["status"] = {
        "observedGeneration": observed,
        "updatedNumberScheduled": updated,
        "desiredNumberScheduled": desired,
        "numberAvailable": available,
    }
    return daemonset


# --- kubectl rollout status (K) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("daemonset", "expected"),
    [
        pytest.param(
            with_status(generation=0, observed=1, updated=0, desired=1, available=0),
            Progress(
                'Waiting for daemon set "foo" rollout to finish: 0 out of 1 new pods have been updated...\n', done=False
            ),
            id="waits-for-pods-to-be-updated",
        ),  # K152
        pytest.param(
            with_status(generation=1, observed=1, updated=2, desired=2, available=1),
            Progress(
                'Waiting for daemon set "foo" rollout to finish: 1 of 2 updated pods are available...\n', done=False
            ),
            id="waits-for-updated-pods-to-be-available",
        ),  # K153
        pytest.param(
            with_status(generation=1, observed=1, updated=2, desired=2, available=2),
            Progress('daemon set "foo" successfully rolled out\n', done=True),
            id="done",
        ),  # K154
        pytest.param(
            with_status(generation=2, observed=1, updated=2, desired=2, available=2),
            Progress("Waiting for daemon set spec update to be observed...\n", done=False),
            id="newer-generation-not-observed-yet",
        ),  # K155
        pytest.param(
            with_status({}, generation=1, observed=1, updated=1, desired=1, available=1),
            Progress('daemon set "foo" successfully rolled out\n', done=True),
            id="missing-strategy-is-the-rolling-update-default",
        ),  # L157 (API default)
        pytest.param(
            with_status(generation=3, observed=3, updated=0, desired=0, available=0),
            Progress('daemon set "foo" successfully rolled out\n', done=True),
            id="no-desired-nodes-is-done",
        ),
    ],
)
def test_daemonset_status_message(daemonset: dict[str, Any], expected: Progress) -> None:
    assert daemonset_status_message(daemonset) == expected


def test_status_of_on_delete_daemonset_is_an_error() -> None:
    # K156 (TestDaemonSetStatusViewerStatusWithWrongUpdateStrategyType)
    daemonset = with_status("OnDelete", generation=1, observed=1, updated=1, desired=1, available=1)
    with pytest.raises(UsageError) as caught:
        daemonset_status_message(daemonset)
    assert caught.value.message == "rollout status is only available for RollingUpdate strategy type"


# --- the per-node revision map -----------------------------------------------------------------------------

DS = make_daemonset(strategy="OnDelete", node_selector={"role": "worker"}, min_ready_seconds=30, template_generation=2)
REVISIONS = index_revisions(DS, [make_revision(DS, 1, "old"), make_revision(DS, 2, "new")])
WORKER = {"role": "worker"}


def pod(name: str, node: str, revision: str, **kwargs: Any) -> dict[str, Any]:
    return make_pod(name, node=node, owner=DS, revision_hash=revision, **kwargs)


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        pytest.param([pod("p", "n", "new")], NodeProgress("n", UPDATED, 2), id="available-new-pod-is-updated"),
        pytest.param(
            [pod("p", "n", "new", ready=False)],
            NodeProgress("n", UNAVAILABLE, 2),
            id="new-pod-not-ready-is-unavailable",
        ),
        pytest.param(
            [pod("p", "n", "new", ready_since=NOW - timedelta(seconds=10))],
            NodeProgress("n", UNAVAILABLE, 2),
            id="new-pod-ready-for-less-than-min-ready-seconds-is-unavailable",
        ),  # r-availability
        pytest.param(
            [pod("p", "n", "new", ready_since=NOW - timedelta(seconds=30))],
            NodeProgress("n", UPDATED, 2),
            id="ready-exactly-min-ready-seconds-is-available",
        ),  # LTT + minReadySeconds <= now
        pytest.param([pod("p", "n", "old")], NodeProgress("n", OLD, 1), id="old-pod-is-old"),
        pytest.param([pod("p", "n", "old", ready=False)], NodeProgress("n", OLD, 1), id="unready-old-pod-is-still-old"),
        pytest.param([], NodeProgress("n", MISSING), id="no-pod-is-missing"),
        pytest.param(
            [pod("p", "n", "new", deletion_timestamp=NOW)],
            NodeProgress("n", MISSING),
            id="only-a-terminating-pod-is-missing",
        ),  # terminating pods count as nothing (r-termination)
        pytest.param(
            [pod("a", "n", "old"), pod("b", "n", "new")],
            NodeProgress("n", UPDATED, 2),
            id="surge-new-pod-available-decides",
        ),
        pytest.param(
            [pod("a", "n", "old"), pod("b", "n", "new", ready=False)],
            NodeProgress("n", UNAVAILABLE, 2),
            id="surge-new-pod-not-available-decides",
        ),
        pytest.param(
            [make_pod("p", node="n", owner=DS, labels={"pod-template-generation": "2"})],
            NodeProgress("n", UPDATED, None),
            id="legacy-template-generation-label-is-updated",
        ),  # J144
    ],
)
def test_node_state(pods: list[dict[str, Any]], expected: NodeProgress) -> None:
    assert node_revision_map(DS, [make_node("n", labels=WORKER)], pods, REVISIONS, now=NOW) == [expected]


@pytest.mark.parametrize(
    ("node", "pods"),
    [
        pytest.param(make_node("n"), [pod("p", "n", "old")], id="node-selector-mismatch-is-excluded"),  # (F,F)
        pytest.param(
            make_node("n", labels=WORKER, taints=[taint("dedicated", "NoSchedule", "user1")]),
            [pod("p", "n", "old")],
            id="noschedule-taint-kept-pod-is-excluded",
        ),  # (F,T), M167
    ],
)
def test_node_that_should_not_run_is_excluded(node: dict[str, Any], pods: list[dict[str, Any]]) -> None:
    assert node_revision_map(DS, [node], pods, REVISIONS, now=NOW) == [NodeProgress("n", EXCLUDED)]


def test_nodes_in_natural_order_and_counted() -> None:
    nodes = [make_node(name, labels=WORKER) for name in ("node-10", "node-2", "node-1")] + [make_node("infra")]
    pods = [pod("a", "node-10", "new"), pod("b", "node-2", "old")]
    result = node_revision_map(DS, nodes, pods, REVISIONS, now=NOW)
    assert [(n.node, n.state) for n in result] == [
        ("infra", EXCLUDED),
        ("node-1", MISSING),
        ("node-2", OLD),
        ("node-10", UPDATED),
    ]
    assert count_states(result) == {UPDATED: 1, OLD: 1, MISSING: 1, UNAVAILABLE: 0, EXCLUDED: 1}


# --- the managed rollout's progress line -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "done", "counts", "message"),
    [
        pytest.param(
            5,
            2,
            {UPDATED: 3, UNAVAILABLE: 1, OLD: 6, MISSING: 0, EXCLUDED: 2},
            "step 2 of 5: 4 of 10 nodes updated, 1 unavailable",
            id="unavailable-new-pods-count-as-updated-and-are-named",
        ),
        pytest.param(
            5,
            5,
            {UPDATED: 10, EXCLUDED: 3},
            "step 5 of 5: 10 of 10 nodes updated",
            id="nothing-unavailable-no-suffix-excluded-not-counted",
        ),
        pytest.param(
            3,
            1,
            {UPDATED: 1, OLD: 1, MISSING: 1},
            "step 1 of 3: 1 of 3 nodes updated, 1 without a pod",
            id="missing-nodes-named",
        ),
        pytest.param(1, 0, {OLD: 1}, "step 0 of 1: 0 of 1 node updated", id="one-node-is-singular"),
        pytest.param(
            4,
            1,
            {UPDATED: 0, UNAVAILABLE: 2, MISSING: 1, OLD: 3},
            "step 1 of 4: 2 of 6 nodes updated, 2 unavailable, 1 without a pod",
            id="both-suffixes-in-order",
        ),
    ],
)
def test_managed_progress_message(total: int, done: int, counts: dict[str, int], message: str) -> None:
    assert managed_progress_message(total, done, counts) == message
