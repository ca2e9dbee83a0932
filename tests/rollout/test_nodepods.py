"""The one model of a node's pods (rollout/nodepods.py): each question the controller, the runner and the
status view ask of a node, table-driven, one case per rule (docs/rules.md#r-rolling-no-surge,
docs/rules.md#r-rolling-surge, docs/rules.md#r-rollout-progress)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.rollout.nodepods import MISSING, OLD, UNAVAILABLE, UPDATED, node_pods
from tests.builders import NOW, make_daemonset, make_pod, make_revision

DS = make_daemonset(strategy="OnDelete")
GOAL = index_revisions(DS, [make_revision(DS, 1, "old"), make_revision(DS, 2, "new")])


def new(name: str = "new", **kwargs: Any) -> dict[str, Any]:
    return make_pod(name, node="n", owner=DS, revision_hash="new", **kwargs)


def old(name: str = "old", **kwargs: Any) -> dict[str, Any]:
    return make_pod(name, node="n", owner=DS, revision_hash="old", **kwargs)


GONE = {"deletion_timestamp": NOW - timedelta(seconds=1)}

# (pods, unavailable, surging, done, state)
CASES = [
    pytest.param([old()], False, False, False, OLD, id="only-an-available-old-pod-is-available-and-not-done"),
    pytest.param([old(ready=False)], True, False, False, OLD, id="an-old-pod-not-available-makes-the-node-unavailable"),
    pytest.param([], True, False, False, MISSING, id="an-empty-node-is-unavailable-and-missing"),
    pytest.param([old(**GONE)], True, False, False, MISSING, id="a-terminating-pod-counts-as-nothing"),
    pytest.param([new()], False, False, True, UPDATED, id="an-available-new-pod-alone-is-done"),
    pytest.param([new(ready=False)], True, False, False, UNAVAILABLE, id="a-new-pod-not-ready-is-neither"),
    pytest.param(
        [old(), new(ready=False)], True, True, False, UNAVAILABLE, id="a-surge-pod-not-yet-available-uses-surge-budget"
    ),
    pytest.param(
        [old(), new()],
        True,
        False,
        False,
        UPDATED,
        id="new-next-to-old-is-updated-for-status-but-not-done-for-the-runner",
    ),
    pytest.param([old(**GONE), new()], False, False, True, UPDATED, id="an-old-pod-on-its-way-out-does-not-count"),
    pytest.param([old("a"), old("b")], True, True, False, OLD, id="duplicate-old-pods-make-the-node-unavailable"),
]


@pytest.mark.parametrize(("pods", "unavailable", "surging", "done", "state"), CASES)
def test_each_question_about_a_node(
    pods: list[dict[str, Any]], unavailable: bool, surging: bool, done: bool, state: str
) -> None:
    held = node_pods("n", pods, GOAL, 0, NOW)
    assert (held.unavailable, held.surging, held.done, held.state) == (unavailable, surging, done, state)


def test_min_ready_seconds_delays_availability() -> None:
    pods = [new(ready_since=NOW - timedelta(seconds=5))]
    assert node_pods("n", pods, GOAL, 10, NOW).done is False
    assert node_pods("n", pods, GOAL, 10, NOW + timedelta(seconds=5)).done is True


def test_the_state_pod_is_the_oldest_new_pod() -> None:
    held = node_pods(
        "n",
        [old(), new("b", creation_timestamp=NOW), new("a", creation_timestamp=NOW - timedelta(minutes=1))],
        GOAL,
        0,
        NOW,
    )
    pod = held.state_pod()
    assert pod is not None and pod["metadata"]["name"] == "a"
    assert held.needs_update and held.duplicates  # two new pods: the controller prunes one
