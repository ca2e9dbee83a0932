"""The per-node report on a small mixed cluster: node states, misscheduled pods, the controller's status
counts (docs/rules.md#r-status: only the oldest pod on a node counts), and which nodes need the
scheduler-side checks.

Also covers the status cases B16 (pods just created count as current) and B39 (numberReady follows the
Ready condition), see docs/rules.md#test-cases.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubectl_ds.kube.quantity import parse_quantity
from kubectl_ds.placement import report
from kubectl_ds.placement.report import (
    add_scheduler_checks,
    assess_nodes,
    nodes_to_check,
)
from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.placement.summary import ControllerCounts, controller_counts, summarize
from tests.builders import (
    EARLIER,
    NOW,
    make_daemonset,
    make_node,
    make_pod,
    make_revision,
    rolling_update,
    taint,
)

LINUX = {"kubernetes.io/os": "linux"}
DS = make_daemonset(
    "fluentd",
    namespace="logging",
    node_selector=LINUX,
    min_ready_seconds=30,
    strategy=rolling_update(max_unavailable=1),
    requests={"memory": "300Mi"},
)
REVISIONS = index_revisions(DS, [make_revision(DS, 1, "old"), make_revision(DS, 2, "new")])
PENDING_MESSAGE = (
    "0/12 nodes are available: 1 Insufficient memory, 11 node(s) didn't satisfy plugin(s) "
    "[NodeAffinity]. preemption: 0/12 nodes are available: 12 Preemption is not helpful for scheduling."
)


def pod(name: str, node: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("revision_hash", "new")
    return make_pod(f"fluentd-{name}", node=node, owner=DS, **fields)


NODES = [
    make_node("node-1", labels=LINUX),
    make_node("node-2", labels=LINUX, allocatable={"memory": "1Gi"}),
    make_node("node-3", labels=LINUX),
    make_node("node-4", labels=LINUX, allocatable={"memory": "4Gi"}),
    make_node("node-5", labels=LINUX),
    make_node("node-6", labels=LINUX, taints=[taint("dedicated", "NoSchedule", "gpu")]),
    make_node("node-7", labels=LINUX, taints=[taint("maintenance", "NoExecute", "true")]),
    make_node("node-9", labels=LINUX),
    make_node("node-10", labels=LINUX),
    make_node("node-11", labels=LINUX),
    make_node("node-12", labels=LINUX),
    make_node("win-1", labels={"kubernetes.io/os": "windows"}),
]
FAILED = pod("p12", "node-12", phase="Failed", ready=False)
FAILED["status"].update(reason="OutOfcpu", message="Node didn't have enough resource: cpu")
PODS = [
    pod("p1", "node-1"),  # running, ready, available, up to date
    make_pod("fluentd-p2", owner=DS, phase="Pending", ready=False, target_node="node-2", revision_hash="new"),
    pod("p3", "node-3", ready=False, container_waiting="CrashLoopBackOff", restart_count=5),
    # node-4: no pod at all
    pod("p5", "node-5", revision_hash="old", deletion_timestamp=NOW),  # terminating, still Ready
    pod("p6", "node-6"),  # kept by (F,T): misscheduled
    pod("p7", "node-7"),  # (F,F): misscheduled, the controller deletes it
    pod("p9a", "node-9", revision_hash="old", creation_timestamp=EARLIER - timedelta(hours=3)),  # oldest counts
    pod("p9b", "node-9", creation_timestamp=EARLIER - timedelta(hours=2)),
    pod("p10", "node-10", ready_since=NOW - timedelta(seconds=10)),  # ready, but not for 30s yet
    pod("p11", "node-11", revision_hash="old"),  # old revision
    FAILED,
]


@pytest.fixture(scope="module")
def assessment() -> report.Assessment:
    return assess_nodes(DS, NODES, PODS, REVISIONS, now=NOW, scheduler_messages={"fluentd-p2": PENDING_MESSAGE})


def by_name(assessment: report.Assessment) -> dict[str, report.NodeReport]:
    return {node.name: node for node in assessment.nodes}


def codes_of(node: report.NodeReport) -> list[str]:
    return [reason.code for reason in node.reasons]


def test_nodes_are_in_natural_order(assessment: report.Assessment) -> None:
    assert [node.name for node in assessment.nodes] == [
        "node-1",
        "node-2",
        "node-3",
        "node-4",
        "node-5",
        "node-6",
        "node-7",
        "node-9",
        "node-10",
        "node-11",
        "node-12",
        "win-1",
    ]


@pytest.mark.parametrize(
    ("node", "state", "statuses"),
    [
        pytest.param("node-1", "running", ["Running"], id="running"),
        pytest.param("node-2", "Pending", ["Pending"], id="pending-with-scheduler-message"),
        pytest.param("node-3", "crash-looping", ["CrashLoopBackOff"], id="crash-looping"),
        pytest.param("node-4", "missing", [], id="missing"),
        pytest.param("node-5", "terminating", ["Terminating"], id="terminating-not-replaced-yet"),  # B48
        pytest.param("node-6", "", ["Running"], id="misscheduled-noschedule-pod-kept"),  # B41 (F,T)
        pytest.param("node-7", "", ["Running"], id="misscheduled-noexecute-pod-listed"),  # B42 (F,F)
        pytest.param("node-9", "running", ["Running", "Running"], id="extra-pod-state-from-oldest"),
        pytest.param("node-10", "not yet available", ["Running"], id="ready-but-not-min-ready-seconds"),
        pytest.param("node-11", "running", ["Running"], id="running-old-revision"),
        pytest.param("node-12", "failed", ["OutOfcpu"], id="failed-by-kubelet"),
        pytest.param("win-1", "", [], id="excluded-empty"),
    ],
)
def test_node_states(assessment: report.Assessment, node: str, state: str, statuses: list[str]) -> None:
    result = by_name(assessment)[node]
    assert result.state == state
    assert [p.status for p in result.pods] == statuses


@pytest.mark.parametrize(
    ("node", "code", "message"),
    [
        pytest.param(
            "node-2",
            "FailedScheduling",
            "pod fluentd-p2 is Pending; the scheduler says: Insufficient memory",
            id="pending-reason-names-scheduler-words",
        ),
        pytest.param(
            "node-3", "PodCrashLooping", "container foo is crash-looping (5 restarts)", id="crash-loop-reason"
        ),
        pytest.param(
            "node-4", "PodMissing", "no DaemonSet pod on this node although one should run", id="missing-reason"
        ),
        pytest.param("node-5", "PodTerminating", "pod fluentd-p5 is terminating", id="terminating-reason"),
        pytest.param(
            "node-6",
            "Misscheduled",
            "pod fluentd-p6 keeps running although no new pod would be placed here (counted as misscheduled)",
            id="misscheduled-kept-reason",
        ),
        pytest.param(
            "node-7",
            "Misscheduled",
            "pod fluentd-p7 is on a node that should not run it; the controller deletes it",
            id="misscheduled-deleted-reason",
        ),
        pytest.param(
            "node-9",
            "ExtraPods",
            "2 pods on this node (fluentd-p9a, fluentd-p9b); the controller keeps the "
            "oldest (fluentd-p9a) and deletes the rest",
            id="extra-pods-reason",
        ),
        pytest.param(
            "node-10",
            "PodNotAvailable",
            "pod fluentd-p10 is ready but not yet for minReadySeconds (30s)",
            id="not-available-reason",
        ),
        pytest.param(
            "node-11", "PodOutdated", "pod fluentd-p11 runs revision 1, current is revision 2", id="outdated-reason"
        ),
        pytest.param(
            "node-12",
            "PodFailed",
            "pod fluentd-p12 failed: Node didn't have enough resource: cpu; the "
            "controller deletes it and creates another (with backoff)",
            id="failed-reason",
        ),
        pytest.param(
            "win-1",
            "NodeSelector",
            "nodeSelector kubernetes.io/os=linux: node has kubernetes.io/os=windows",
            id="excluded-reason",
        ),
    ],
)
def test_node_reasons(assessment: report.Assessment, node: str, code: str, message: str) -> None:
    messages = [reason.message for reason in by_name(assessment)[node].reasons if reason.code == code]
    assert messages == [message]


def test_pending_reason_keeps_the_raw_scheduler_message(assessment: report.Assessment) -> None:
    (reason,) = [r for r in by_name(assessment)["node-2"].reasons if r.code == "FailedScheduling"]
    assert (reason.rule, reason.detail) == ("Insufficient memory", PENDING_MESSAGE)


def test_missing_pod_hint_points_at_the_daemonset_events(assessment: report.Assessment) -> None:
    (reason,) = [r for r in by_name(assessment)["node-4"].reasons if r.code == "PodMissing"]
    assert reason.hint == "see the DaemonSet's events: kubectl describe ds -n logging fluentd"


def test_controller_counts_follow_the_status_rule(assessment: report.Assessment) -> None:
    # docs/rules.md#r-status: desired = wanted nodes; current = wanted nodes with any pod (terminating and failed
    # included); ready/available/updated look at the oldest pod only; misscheduled = unwanted nodes with a pod.
    assert controller_counts(assessment.nodes) == ControllerCounts(
        desired=9, current=8, ready=5, updated=5, available=4, misscheduled=2
    )


def test_summary(assessment: report.Assessment) -> None:
    summary = summarize(assessment)
    assert (summary.nodes, summary.should_run) == (12, 9)
    assert summary.excluded == (
        ("nodeSelector kubernetes.io/os=linux", 1),
        ("taint dedicated=gpu:NoSchedule", 1),
        ("taint maintenance=true:NoExecute", 1),
    )
    assert summary.states == (
        ("running", (("node-1", ""), ("node-9", "extra pods"), ("node-11", ""))),
        ("not yet available", (("node-10", "not yet available"),)),
        ("crash-looping", (("node-3", "crash-looping"),)),
        ("Pending", (("node-2", "Insufficient memory"),)),
        ("failed", (("node-12", "failed: OutOfcpu"),)),
        ("terminating", (("node-5", "terminating"),)),
        ("missing", (("node-4", "no pod"),)),
    )
    assert summary.outdated == ("node-9", "node-11")
    assert summary.misscheduled == ("node-6", "node-7")
    assert summary.unhealthy_wanted == ("node-2", "node-3", "node-4", "node-5", "node-11", "node-12")
    assert summary.problems == 10
    assert summary.counts == controller_counts(assessment.nodes)


def test_nodes_to_check_are_wanted_nodes_without_an_available_pod(assessment: report.Assessment) -> None:
    assert nodes_to_check(assessment) == ["node-2", "node-3", "node-4", "node-5", "node-10", "node-12"]
    assert nodes_to_check(assessment, every_wanted_node=True) == [
        "node-1",
        "node-2",
        "node-3",
        "node-4",
        "node-5",
        "node-9",
        "node-10",
        "node-11",
        "node-12",
    ]


def test_scheduler_checks_are_added_only_to_the_given_nodes(assessment: report.Assessment) -> None:
    java = make_pod("java", node="node-2", namespace="apps", requests={"memory": "800Mi"})
    checked = add_scheduler_checks(assessment, {"node-2": [java], "node-4": []}, parse_quantity)
    before, after = by_name(assessment), by_name(checked)
    assert codes_of(after["node-2"]) == [*codes_of(before["node-2"]), "InsufficientResources"]
    assert all(codes_of(after[name]) == codes_of(before[name]) for name in before if name != "node-2")
    (shortfall,) = [r for r in after["node-2"].reasons if r.code == "InsufficientResources"]
    assert (shortfall.rule, shortfall.message) == (
        "Insufficient memory",
        "insufficient memory: requests 300Mi, free 224Mi of 1Gi allocatable",
    )
    assert "InsufficientResources" not in codes_of(by_name(assessment)["node-2"])  # the input is not changed


def test_node_facts_shown_next_to_the_verdict(assessment: report.Assessment) -> None:
    nodes = by_name(assessment)
    assert nodes["win-1"].labels_that_matter == ("kubernetes.io/os=windows",)
    assert nodes["node-6"].taints == ("dedicated=gpu:NoSchedule",)
    bare = assess_nodes(make_daemonset(node_selector={"disk": "ssd"}), [make_node("n")], [], REVISIONS, now=NOW)
    assert bare.nodes[0].labels_that_matter == ("disk=<none>",)


ONE_NODE = make_daemonset("agent", strategy="OnDelete")
ONE_NODE_REVISIONS = index_revisions(ONE_NODE, [make_revision(ONE_NODE, 1, "h0"), make_revision(ONE_NODE, 2, "h1")])


@pytest.mark.parametrize(
    ("fields", "state", "reason"),
    [
        pytest.param(
            {"node": "n", "phase": "Pending", "ready": False, "container_waiting": "ImagePullBackOff"},
            "image pull error",
            ("PodImagePullError", "container foo cannot pull image foo/bar: ImagePullBackOff"),
            id="bound-pod-image-pull",
        ),
        pytest.param(
            {"node": "n", "ready": False},
            "not ready",
            ("PodNotReady", "pod agent-x is Running but not ready"),
            id="running-not-ready",
        ),
        pytest.param(
            {"target_node": "n", "phase": "Pending", "ready": False},
            "Pending",
            ("FailedScheduling", "pod agent-x is Pending and not yet scheduled"),
            id="pending-no-scheduler-word",
        ),
        pytest.param(
            {"node": "n", "revision_hash": "h0"},
            "running",
            ("PodOutdated", "pod agent-x runs revision 1, current is revision 2"),
            id="ondelete-outdated",
        ),
    ],
)
def test_single_node_states(fields: dict[str, Any], state: str, reason: tuple[str, str]) -> None:
    fields = {"revision_hash": "h1", **fields}
    pods = [make_pod("agent-x", owner=ONE_NODE, **fields)]
    (node,) = assess_nodes(ONE_NODE, [make_node("n")], pods, ONE_NODE_REVISIONS, now=NOW).nodes
    assert node.state == state
    assert [(r.code, r.message) for r in node.reasons] == [reason]


def test_ondelete_outdated_hint_says_delete_the_pod() -> None:
    pods = [make_pod("agent-x", node="n", owner=ONE_NODE, revision_hash="h0")]
    (node,) = assess_nodes(ONE_NODE, [make_node("n")], pods, ONE_NODE_REVISIONS, now=NOW).nodes
    (outdated,) = node.reasons
    assert outdated.hint == (
        "updateStrategy is OnDelete: delete the pod to update it (kubectl delete pod -n default agent-x)"
    )


def test_unknown_state_when_pods_could_not_be_listed() -> None:
    assessment = assess_nodes(DS, NODES[:2], None, REVISIONS, now=NOW)
    assert assessment.pods_known is False
    assert [node.state for node in assessment.nodes] == ["unknown", "unknown"]
    assert [node.healthy for node in assessment.nodes] == [False, False]


# --- counts: only the oldest pod on a node counts (docs/rules.md#r-status) ---------------------------------


def counts_for(pods: list[dict[str, Any]], nodes: list[dict[str, Any]] | None = None, **ds_fields: Any) -> Any:
    daemonset = make_daemonset(**ds_fields)
    revisions = index_revisions(daemonset, [make_revision(daemonset, 1, "h1")])
    assessment = assess_nodes(
        daemonset, nodes or [make_node("n")], [make_pod(owner=daemonset, **p) for p in pods], revisions, now=NOW
    )
    return controller_counts(assessment.nodes)


@pytest.mark.parametrize(
    ("pods", "counts"),
    [
        pytest.param(
            [
                {
                    "name": "old",
                    "node": "n",
                    "ready": False,
                    "creation_timestamp": EARLIER - timedelta(hours=5),
                    "revision_hash": "h1",
                },
                {"name": "young", "node": "n", "revision_hash": "h1"},
            ],
            ControllerCounts(1, 1, 0, 1, 0, 0),
            id="unready-oldest-hides-ready-younger",
        ),
        pytest.param(
            [
                {"name": "old", "node": "n", "creation_timestamp": EARLIER - timedelta(hours=5), "revision_hash": "h0"},
                {"name": "young", "node": "n", "revision_hash": "h1"},
            ],
            ControllerCounts(1, 1, 1, 0, 1, 0),
            id="updated-waits-for-old-pod-to-go",
        ),  # r-status, surge
        pytest.param(
            [
                {
                    "name": "pending-old",
                    "target_node": "n",
                    "phase": "Pending",
                    "ready": False,
                    "creation_timestamp": EARLIER - timedelta(hours=5),
                    "revision_hash": "h1",
                },
                {"name": "bound-young", "node": "n", "revision_hash": "h0"},
            ],
            ControllerCounts(1, 1, 1, 0, 1, 0),
            id="bound-pod-sorts-before-older-pending",
        ),
    ],
)
def test_only_the_oldest_pod_counts(pods: list[dict[str, Any]], counts: ControllerCounts) -> None:
    assert counts_for(pods) == counts


def test_fresh_pods_count_as_current_not_ready() -> None:
    # B16: right after 5 creates, currentNumberScheduled=5 (pods have no nodeName and no Ready yet).
    nodes = [make_node(f"node-{i}") for i in range(5)]
    pods = [{"name": f"p{i}", "target_node": f"node-{i}", "phase": "Pending", "ready": False} for i in range(5)]
    assert counts_for(pods, nodes) == ControllerCounts(
        desired=5, current=5, ready=0, updated=0, available=0, misscheduled=0
    )


@pytest.mark.parametrize(
    ("ready", "counted"), [pytest.param(False, 0, id="not-ready-pods"), pytest.param(True, 2, id="ready-pods")]
)
def test_number_ready_follows_ready_condition(ready: bool, counted: int) -> None:
    # B39 TestNumberReadyStatus: 2 nodes with one pod each.
    nodes = [make_node("node-0"), make_node("node-1")]
    pods = [{"name": f"p{i}", "node": f"node-{i}", "ready": ready, "revision_hash": "h1"} for i in range(2)]
    assert counts_for(pods, nodes).ready == counted


def test_surge_pair_is_explained_as_surge() -> None:
    daemonset = make_daemonset(strategy=rolling_update(max_unavailable=0, max_surge=1))
    revisions = index_revisions(daemonset, [make_revision(daemonset, 1, "h0"), make_revision(daemonset, 2, "h1")])
    pods = [
        make_pod("old", node="n", owner=daemonset, revision_hash="h0", creation_timestamp=EARLIER - timedelta(hours=5)),
        make_pod("new", node="n", owner=daemonset, revision_hash="h1", ready=False),
    ]
    (node,) = assess_nodes(daemonset, [make_node("n")], pods, revisions, now=NOW).nodes
    (extra,) = [r for r in node.reasons if r.code == "ExtraPods"]
    assert (extra.rule, extra.message) == (
        "surge",
        "2 pods during a surge update (old, new); the old one goes once the new one is available",
    )
