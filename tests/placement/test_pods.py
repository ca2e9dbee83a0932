"""DaemonSet pods: the node each belongs to (docs/rules.md#r-pod-node; case group E, 61–67), readiness and
availability with minReadySeconds (docs/rules.md#r-availability), the controller's pod order
(docs/rules.md#r-manage), container problems (docs/rules.md#r-container-states), and "is this pod updated?"
(docs/rules.md#r-updated; group J, 142–151) through RevisionIndex. Case groups: docs/rules.md#test-cases.

Not covered: E63 (`includeDeletedTerminal=true`, used only for the controller's history cleanup; we never
need those pods) and E68–E74 (how the controller builds a pod's affinity; we only read it back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from kubectl_ds.placement.pods import (
    container_problem,
    is_available,
    is_ready,
    oldest_first,
    pods_by_node,
    target_node,
)
from kubectl_ds.placement.revisions import index_revisions
from tests.builders import (
    EARLIER,
    NOW,
    expr,
    make_daemonset,
    make_pod,
    make_revision,
    node_affinity,
    term,
)

DS = make_daemonset()


def names(pods: Sequence[Mapping[str, Any]]) -> list[str]:
    return [pod["metadata"]["name"] for pod in pods]


def unbound(name: str, affinity: dict[str, Any] | None) -> dict[str, Any]:
    pod = make_pod(name, owner=DS, phase="Pending", ready=False)
    if affinity is not None:
        pod["spec"]["affinity"] = affinity
    return pod


# --- target node (E64–E67, GetTargetNodeName) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "node"),
    [
        pytest.param(make_pod("p", node="node-1"), "node-1", id="bound-pod-uses-nodename"),  # E64
        pytest.param(
            unbound("p", node_affinity(term(fields=[expr("metadata.name", "In", "node-1")]))),
            "node-1",
            id="pending-pod-uses-matchfields-pin",
        ),  # E65
        pytest.param(
            unbound("p", node_affinity(term(fields=[expr("metadata.name", "In", "node-1", "node-2")]))),
            None,
            id="two-names-is-ambiguous",
        ),  # E66
        pytest.param(unbound("p", None), None, id="neither-nodename-nor-pin"),  # E67
        pytest.param(
            unbound("p", node_affinity(term(expr("kubernetes.io/hostname", "In", "node-1")))),
            None,
            id="hostname-label-expression-is-not-a-pin",
        ),  # E67 (only matchFields count)
        pytest.param(
            unbound("p", node_affinity(term(fields=[expr("metadata.name", "NotIn", "node-1")]))),
            None,
            id="notin-field-is-not-a-pin",
        ),  # GetTargetNodeName needs operator In
        pytest.param(
            unbound(
                "p", node_affinity(term(expr("zone", "In", "a")), term(fields=[expr("metadata.name", "In", "node-3")]))
            ),
            "node-3",
            id="pin-found-in-a-later-term",
        ),
    ],
)
def test_target_node(pod: dict[str, Any], node: str | None) -> None:
    assert target_node(pod) == node


def test_nodename_wins_over_pin() -> None:
    pod = make_pod("p", node="node-1", target_node="node-2")
    assert target_node(pod) == "node-1"


# --- grouping by node (E61, E62, E66) ------------------------------------------------------------------------


def test_pods_by_node_keeps_pods_of_missing_nodes_under_their_target() -> None:
    # E61 TestDeleteUnscheduledPodForNotExistingNode: the controller maps a pod bound to a missing node and an
    # unscheduled pod pinned to a missing node by target; only the unscheduled one is its to delete.
    pods = [
        make_pod("on-0", node="node-0", owner=DS),
        make_pod("bound-1", node="node-1", owner=DS),
        make_pod("pinned-2", owner=DS, phase="Pending", ready=False, target_node="node-2"),
    ]
    grouped = pods_by_node(pods)
    assert {node: names(group) for node, group in grouped.items()} == {
        "node-0": ["on-0"],
        "node-1": ["bound-1"],
        "node-2": ["pinned-2"],
    }
    assert "nodeName" not in grouped["node-2"][0]["spec"]


def test_pods_by_node_drops_only_deleted_terminal_pods() -> None:
    # E62 "exclude deleted terminal pods": Succeeded and Failed pods count until they are being deleted;
    # a running pod being deleted still counts (it is terminating).
    pods = [
        make_pod("running", node="node-0", owner=DS),
        make_pod("succeeded", node="node-0", owner=DS, phase="Succeeded", ready=False),
        make_pod("failed", node="node-1", owner=DS, phase="Failed", ready=False),
        make_pod("failed-deleted", node="node-1", owner=DS, phase="Failed", ready=False, deletion_timestamp=NOW),
        make_pod("succeeded-deleted", node="node-1", owner=DS, phase="Succeeded", ready=False, deletion_timestamp=NOW),
        make_pod("terminating", node="node-1", owner=DS, deletion_timestamp=NOW),
    ]
    grouped = pods_by_node(pods)
    assert {node: names(group) for node, group in grouped.items()} == {
        "node-0": ["running", "succeeded"],
        "node-1": ["failed", "terminating"],
    }


def test_pods_without_a_target_are_skipped() -> None:
    # E66/E67: no usable target node → the pod is left out of the mapping.
    pods = [
        unbound("ambiguous", node_affinity(term(fields=[expr("metadata.name", "In", "a", "b")]))),
        unbound("nowhere", None),
        make_pod("ok", node="node-0"),
    ]
    assert {node: names(group) for node, group in pods_by_node(pods).items()} == {"node-0": ["ok"]}


# --- ordering (podByCreationTimestampAndPhase) ------------------------------------------------------------

T0 = datetime(2024, 1, 1, tzinfo=NOW.tzinfo)


@pytest.mark.parametrize(
    ("pods", "order"),
    [
        pytest.param(
            [
                make_pod("young", node="n", creation_timestamp=T0 + timedelta(minutes=1)),
                make_pod("old", node="n", creation_timestamp=T0),
            ],
            ["old", "young"],
            id="older-first",
        ),
        pytest.param(
            [
                make_pod("pending-old", target_node="n", phase="Pending", ready=False, creation_timestamp=T0),
                make_pod("bound-young", node="n", creation_timestamp=T0 + timedelta(hours=1)),
            ],
            ["bound-young", "pending-old"],
            id="bound-before-unbound-regardless-of-age",
        ),
        pytest.param(
            [make_pod("b", node="n", creation_timestamp=T0), make_pod("a", node="n", creation_timestamp=T0)],
            ["a", "b"],
            id="same-age-by-name",
        ),
    ],
)
def test_oldest_first(pods: list[dict[str, Any]], order: list[str]) -> None:
    assert names(oldest_first(pods)) == order


# --- readiness and availability -----------------------------------------------------------------------------


def test_ready_needs_ready_condition_true() -> None:
    assert is_ready(make_pod("p")) is True
    assert is_ready(make_pod("p", ready=False)) is False
    no_condition = make_pod("p")
    no_condition["status"]["conditions"] = []
    assert is_ready(no_condition) is False


AVAILABILITY_CASES = [
    # (ready, ready since, minReadySeconds, now, available)
    pytest.param(True, NOW, 0, NOW, True, id="min-ready-zero-ready-is-available"),
    pytest.param(False, EARLIER, 0, NOW, False, id="not-ready-never-available"),
    pytest.param(True, NOW - timedelta(seconds=10), 10, NOW, True, id="ltt-plus-min-ready-equal-now-available"),
    pytest.param(True, NOW - timedelta(seconds=9), 10, NOW, False, id="one-second-short-not-available"),
    pytest.param(
        True, T0 + timedelta(seconds=50), 15, T0 + timedelta(seconds=60), False, id="ready-at-50-min-15-clock-60"
    ),  # F79
    pytest.param(
        True, T0 + timedelta(seconds=50), 15, T0 + timedelta(seconds=70), True, id="ready-at-50-min-15-clock-70"
    ),  # F80
]


@pytest.mark.parametrize(("ready", "since", "min_ready", "now", "available"), AVAILABILITY_CASES)
def test_is_available(ready: bool, since: datetime, min_ready: int, now: datetime, available: bool) -> None:
    assert is_available(make_pod("p", ready=ready, ready_since=since), min_ready, now) is available


def test_available_needs_a_transition_time_when_min_ready_is_set() -> None:
    pod = make_pod("p")
    del pod["status"]["conditions"][0]["lastTransitionTime"]
    assert is_available(pod, 10, NOW) is False
    assert is_available(pod, 0, NOW) is True


# --- container problems -------------------------------------------------------------------------------------


def test_crash_loop_names_container_restarts_and_last_exit() -> None:
    pod = make_pod(
        "fluentd-abc", namespace="logging", ready=False, container_waiting="CrashLoopBackOff", restart_count=7
    )
    pod["status"]["containerStatuses"][0]["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
    problem = container_problem(pod)
    assert problem is not None and problem.reason is not None
    assert (problem.status, problem.reason.code, problem.reason.message, problem.reason.hint) == (
        "CrashLoopBackOff",
        "PodCrashLooping",
        "container foo is crash-looping (7 restarts, last exit code 1 (Error))",
        "kubectl logs -n logging fluentd-abc -c foo --previous",
    )


@pytest.mark.parametrize(
    ("waiting", "code", "message"),
    [
        pytest.param(
            "CrashLoopBackOff", "PodCrashLooping", "container foo is crash-looping (3 restarts)", id="crashloop"
        ),
        pytest.param(
            "ImagePullBackOff",
            "PodImagePullError",
            "container foo cannot pull image foo/bar: ImagePullBackOff",
            id="image-pull-backoff",
        ),
        pytest.param(
            "ErrImagePull",
            "PodImagePullError",
            "container foo cannot pull image foo/bar: ErrImagePull",
            id="err-image-pull",
        ),
        pytest.param(
            "CreateContainerConfigError",
            "PodWaiting",
            "container foo is waiting: CreateContainerConfigError",
            id="other-waiting-reason",
        ),
    ],
)
def test_container_problem(waiting: str, code: str, message: str) -> None:
    problem = container_problem(make_pod("p", ready=False, container_waiting=waiting, restart_count=3))
    assert problem is not None and problem.reason is not None
    assert (problem.status, problem.reason.code, problem.reason.message) == (waiting, code, message)


def test_image_pull_message_includes_kubelet_detail() -> None:
    pod = make_pod("p", ready=False, container_waiting="ErrImagePull")
    pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = "manifest unknown"
    problem = container_problem(pod)
    assert problem is not None and problem.reason is not None
    assert problem.reason.message == "container foo cannot pull image foo/bar: ErrImagePull (manifest unknown)"


@pytest.mark.parametrize(
    "waiting",
    [
        pytest.param(None, id="running-container"),
        pytest.param("ContainerCreating", id="container-creating-is-normal"),
        pytest.param("PodInitializing", id="pod-initializing-is-normal"),
    ],
)
def test_no_container_problem(waiting: str | None) -> None:
    assert container_problem(make_pod("p", container_waiting=waiting)) is None


def test_init_container_problem_comes_first() -> None:
    pod = make_pod("p", ready=False, phase="Pending", node="n")
    pod["status"]["initContainerStatuses"] = [
        {"name": "init", "image": "init/img", "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}}
    ]
    problem = container_problem(pod)
    assert problem is not None and problem.reason is not None
    assert problem.reason.message == "container init cannot pull image init/img: ImagePullBackOff"


# --- is the pod updated? (J142–J151, IsPodUpdated) ---------------------------------------------------------

G, H = 12345, "55555"
BOTH = {"pod-template-generation": str(G), "controller-revision-hash": H}
GEN_ONLY = {"pod-template-generation": str(G)}


def index_for(generation: int | None, current_hash: str) -> Any:
    ds = make_daemonset(template_generation=generation)
    return index_revisions(ds, [make_revision(ds, 1, current_hash)] if current_hash else [])


@pytest.mark.parametrize(
    ("labels", "generation", "current_hash", "updated"),
    [
        pytest.param(BOTH, G, H, True, id="generation-and-hash-match"),  # J142
        pytest.param(BOTH, G, H + "123", True, id="generation-matches-hash-differs"),  # J143
        pytest.param(GEN_ONLY, G, H, True, id="generation-label-only-matches"),  # J144
        pytest.param(GEN_ONLY, G, "", True, id="generation-only-no-current-hash"),  # J145
        pytest.param(BOTH, G, "", True, id="both-labels-no-current-hash"),  # J146
        pytest.param(BOTH, G + 1, H, True, id="hash-matches-generation-differs"),  # J147
        pytest.param(BOTH, G + 1, H + "123", False, id="neither-matches"),  # J148
        pytest.param({}, G, "", False, id="empty-labels-no-hash"),  # J149
        pytest.param({}, G, H, False, id="empty-labels"),  # J150
        pytest.param(None, G, H, False, id="nil-labels"),  # J151
        pytest.param(GEN_ONLY, None, "", False, id="no-generation-annotation-generation-label-ignored"),
    ],
)
def test_is_updated(labels: dict[str, str] | None, generation: int | None, current_hash: str, updated: bool) -> None:
    pod = make_pod("p", labels=labels or {})
    if labels is None:
        del pod["metadata"]["labels"]
    assert index_for(generation, current_hash).is_updated(pod) is updated


def test_current_revision_is_the_highest_owned_one() -> None:
    # docs/rules.md#r-revisions: the controller renumbers the current revision above all others.
    ds = make_daemonset()
    other = make_daemonset(name="other")
    index = index_revisions(
        ds, [make_revision(ds, 3, "ccc"), make_revision(ds, 1, "aaa"), make_revision(other, 9, "zzz")]
    )
    assert (index.current_hash, index.current_revision, dict(index.by_hash)) == ("ccc", 3, {"aaa": 1, "ccc": 3})
    assert index.revision_of(make_pod("p", owner=ds, revision_hash="aaa")) == 1
    assert index.revision_of(make_pod("p", owner=ds, revision_hash="zzz")) is None


def test_revision_hash_falls_back_to_name_suffix() -> None:
    ds = make_daemonset()
    revision = make_revision(ds, 2, "7d9f8b")
    del revision["metadata"]["labels"]["controller-revision-hash"]
    assert index_revisions(ds, [revision]).current_hash == "7d9f8b"
