"""The controller's placement predicate, NodeShouldRunDaemonPod (docs/rules.md#r-predicate), node by node,
with every reason and its code.

Sources: case group A (1–11, TestNodeShouldRunDaemonPod, run for both update strategies; docs/rules.md#test-cases),
the placement cases of section B (daemon_controller_test.go) and the derived edge cases of section M.

Section B cases are sync results ("c creates, d deletes"). They are expressed here through our own
pieces, composed the way `manage()`/`podsShouldBeOnNode` composes them (docs/rules.md#r-manage, no surge): the
verdict per node,
the claimed pods grouped by target node (`pods_by_node`), and the oldest pod kept (`oldest_first`).
Claimed = controlled by the DaemonSet and matching its selector (what `kubectl ds explain` lists); pods the
DaemonSet owns whose labels no longer match are released and not counted.

Section B cases left out, and why:
- B14, B15 (create errors, slow start, expectations), B17 (status-update errors), B40 (observedGeneration):
  the controller's sync machinery, not placement.
- B24, B25 (DaemonSet being deleted, deletion race during adoption): the sync returns early; the verdicts
  are unchanged, there is nothing placement-related to pin.
- B28 (empty selector → SelectingAll event): a validation/event rule; the API rejects such a selector.
- B16, B39 (status numbers): covered as controller counts in test_report.py.
- B22's "0 events" part (no event for insufficient resources): events are controller output; only its
  verdicts are pinned here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubectl_ds import resources as r
from kubectl_ds.labelselector import selector_matches
from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.pods import is_terminating, oldest_first, pods_by_node
from kubectl_ds.placement.predicate import node_should_run_daemon_pod
from tests.builders import (
    EARLIER,
    NOW,
    expr,
    make_daemonset,
    make_node,
    make_pod,
    node_affinity,
    rolling_update,
    taint,
    term,
    toleration,
)

SIMPLE_DAEMON = {"name": "simple-daemon", "type": "production"}  # simpleDaemonSetLabel
SIMPLE_DAEMON_2 = {"name": "simple-daemon", "type": "test"}  # simpleDaemonSetLabel2: does not match the selector
SIMPLE_NODE = {"color": "blue", "speed": "fast"}  # simpleNodeLabel
SIMPLE_NODE_2 = {"color": "red", "speed": "fast"}  # simpleNodeLabel2
NO_SCHEDULE = [taint("dedicated", "NoSchedule", "user1")]
NO_EXECUTE = [taint("dedicated", "NoExecute", "user1")]
TOLERATE_NO_SCHEDULE = [toleration("dedicated", value="user1", effect="NoSchedule")]
STRATEGIES = [pytest.param("OnDelete", id="ondelete"), pytest.param(rolling_update(max_unavailable=1), id="rolling")]


def verdict_of(daemonset: dict[str, Any], node: dict[str, Any]) -> tuple[bool, bool]:
    result = node_should_run_daemon_pod(daemonset, node)
    return result.should_run, result.should_continue_running


# --- section A ---------------------------------------------------------------------------------------------


def a_node(**overrides: Any) -> dict[str, Any]:
    """The common node of TestNodeShouldRunDaemonPod."""
    fields: dict[str, Any] = {"labels": SIMPLE_DAEMON, "allocatable": {"memory": "100M", "cpu": "1", "pods": "100"}}
    return make_node("test-node", **{**fields, **overrides})


A_CASES = [
    pytest.param(
        {"requests": {"memory": "50M", "cpu": "500m"}}, a_node(), (True, True), id="should-run"
    ),  # A1 ShouldRunDaemonPod
    pytest.param(
        {"requests": {"memory": "200M"}}, a_node(), (True, True), id="resources-ignored-by-controller"
    ),  # A2 InsufficientResourceError
    pytest.param(
        {"node_name": "other-node"}, a_node(), (False, False), id="template-nodename-other-node"
    ),  # A3 ErrPodNotMatchHostName
    pytest.param(
        {"host_ports": [666]}, a_node(), (True, True), id="host-ports-ignored-by-controller"
    ),  # A4 ErrPodNotFitsHostPorts
    pytest.param(
        {"requests": {"memory": "100M", "cpu": "500m"}, "host_ports": [666]},
        a_node(),
        (True, True),
        id="resources-and-ports-ignored",
    ),  # A5 InsufficientResourceError #2
    pytest.param(
        {"requests": {"memory": "50M", "cpu": "500m"}}, a_node(), (True, True), id="fits-next-to-other-pod"
    ),  # A6 ShouldRunDaemonPod #3
    pytest.param(
        {"node_selector": SIMPLE_DAEMON_2}, a_node(), (False, False), id="node-selector-mismatch"
    ),  # A7 ErrNodeSelectorNotMatch
    pytest.param(
        {"node_selector": SIMPLE_DAEMON}, a_node(), (True, True), id="node-selector-match"
    ),  # A8 ShouldRunDaemonPod #4
    pytest.param(
        {"affinity": node_affinity(term(expr("type", "In", "test")))},
        a_node(),
        (False, False),
        id="required-affinity-mismatch",
    ),  # A9 ErrPodAffinityNotMatch
    pytest.param(
        {"affinity": node_affinity(term(expr("type", "In", "production")))},
        a_node(),
        (True, True),
        id="required-affinity-match",
    ),  # A10 ShouldRunDaemonPod #5
    pytest.param(
        {"requests": {"memory": "50M", "cpu": "500m"}},
        a_node(unschedulable=True),
        (True, True),
        id="unschedulable-node-without-taint",
    ),  # A11 ShouldRunDaemonPodOnUnschedulableNode
]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("ds_fields", "node", "verdict"), A_CASES)
def test_node_should_run_daemon_pod(
    ds_fields: dict[str, Any], node: dict[str, Any], verdict: tuple[bool, bool], strategy: Any
) -> None:
    assert verdict_of(make_daemonset(strategy=strategy, **ds_fields), node) == verdict


# --- section B, as manage() would act on our verdicts --------------------------------------------------------


def manage(
    daemonset: dict[str, Any], nodes: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """(nodes to create a pod on, pods to delete) for a DaemonSet without surge (podsShouldBeOnNode,
    docs/rules.md#r-manage)."""
    selector = daemonset["spec"]["selector"]
    claimed = [pod for pod in pods if r.is_controlled_by(pod, daemonset) and selector_matches(selector, r.labels(pod))]
    by_node = pods_by_node(claimed)
    creates: list[str] = []
    deletes: list[str] = []
    for node in nodes:
        verdict = node_should_run_daemon_pod(daemonset, node)
        on_node = by_node.get(r.name(node))
        if verdict.should_run and on_node is None:
            creates.append(r.name(node))
        elif verdict.should_continue_running:
            running = [pod for pod in on_node or [] if not is_terminating(pod)]
            deletes += [r.name(pod) for pod in oldest_first(running)[1:]]
        elif on_node is not None:
            deletes += [r.name(pod) for pod in on_node if not is_terminating(pod)]
    return creates, deletes


def nodes(count: int, labels: dict[str, str] | None = None, start: int = 0) -> list[dict[str, Any]]:
    return [make_node(f"node-{i}", labels=labels) for i in range(start, start + count)]


def pods_on(
    daemonset: dict[str, Any], node: str, count: int, labels: dict[str, str] | None = None, **fields: Any
) -> list[dict[str, Any]]:
    """addPods: `count` pods owned by the DaemonSet, bound to `node`, created one minute apart (oldest first)."""
    tag = "released" if labels is not None else "pod"
    return [
        make_pod(
            f"{node}-{tag}-{i}",
            node=node,
            owner=daemonset,
            labels=labels,
            creation_timestamp=EARLIER - timedelta(minutes=60 - i),
            **fields,
        )
        for i in range(count)
    ]


def with_nodes(*parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [node for part in parts for node in part]


DS = make_daemonset()
DS_SELECTING = make_daemonset(node_selector=SIMPLE_NODE)


def test_plain_nodes_all_get_a_pod() -> None:
    # B12 TestSimpleDaemonSetLaunchesPods: 5 plain nodes → 5 creates.
    assert manage(DS, nodes(5), []) == ([f"node-{i}" for i in range(5)], [])


def test_pending_pods_pinned_by_matchfields_fill_their_nodes() -> None:
    # B13 TestSimpleDaemonSetScheduleDaemonSetPodsLaunchesPods: created pods have no nodeName, only the
    # matchFields pin; they are attributed to their node, so the next sync creates nothing.
    pending = [make_pod(f"p{i}", owner=DS, phase="Pending", ready=False, target_node=f"node-{i}") for i in range(5)]
    assert sorted(pods_by_node(pending)) == [f"node-{i}" for i in range(5)]
    assert manage(DS, nodes(5), pending) == ([], [])


SYNC_CASES = [
    # (daemonset, nodes, pods, creates, number of deletes)
    pytest.param(DS, [], [], [], 0, id="no-nodes-nothing-to-do"),  # B18 TestNoNodesDoesNothing
    pytest.param(DS, nodes(1), [], ["node-0"], 0, id="one-node-one-pod"),  # B19 TestOneNodeDaemonLaunchesPod
    pytest.param(
        DS, [make_node("node-0", ready=False)], [], ["node-0"], 0, id="not-ready-condition-ignored"
    ),  # B20 TestNotReadyNodeDaemonDoesLaunchPod
    pytest.param(
        make_daemonset(node_name="too-much-mem", requests={"memory": "75M", "cpu": "75m"}),
        [make_node("too-much-mem", allocatable={"memory": "100M", "cpu": "200m"})],
        [],
        ["too-much-mem"],
        0,
        id="insufficient-capacity-still-creates",
    ),  # B21
    pytest.param(
        make_daemonset(node_selector=SIMPLE_NODE, requests={"memory": "50M", "cpu": "75m"}),
        [
            make_node("node1", allocatable={"memory": "10M", "cpu": "20m"}),
            make_node("node2", labels=SIMPLE_NODE, allocatable={"memory": "100M", "cpu": "200m"}),
        ],
        [],
        ["node2"],
        0,
        id="selector-picks-node-capacity-ignored",
    ),  # B22
    pytest.param(
        DS,
        [make_node("node-0", conditions={"NetworkUnavailable": "True"})],
        [],
        ["node-0"],
        0,
        id="network-unavailable-condition-ignored",
    ),  # B23
    pytest.param(
        make_daemonset(host_ports=[666]),
        nodes(1),
        [make_pod("own", node="node-0", owner=make_daemonset(host_ports=[666]), host_ports=[666])],
        [],
        0,
        id="own-pod-holding-host-port-kept",
    ),  # B26 TestPortConflictWithSameDaemonPodDoesNotDeletePod
    pytest.param(
        make_daemonset(host_ports=[6662]),
        nodes(1),
        [make_pod("other", node="node-0", host_ports=[6661])],
        ["node-0"],
        0,
        id="other-pod-other-port-creates",
    ),  # B27 (the non-DS pod is not claimed)
    pytest.param(
        DS_SELECTING,
        with_nodes(nodes(4), nodes(3, SIMPLE_NODE, start=4)),
        [],
        ["node-4", "node-5", "node-6"],
        0,
        id="node-selector-launches-on-labelled",
    ),  # B30
    pytest.param(
        make_daemonset(node_selector=SIMPLE_NODE_2),
        with_nodes(nodes(4), nodes(3, SIMPLE_NODE, start=4)),
        [],
        [],
        0,
        id="node-selector-matching-nothing",
    ),  # B33 TestBadSelectorDaemonDoesNothing
    pytest.param(
        make_daemonset(node_name="node-0"), nodes(5), [], ["node-0"], 0, id="template-nodename-one-node"
    ),  # B34 TestNameDaemonSetLaunchesPods
    pytest.param(
        make_daemonset(node_name="node-10"), nodes(5), [], [], 0, id="template-nodename-missing-node"
    ),  # B35 TestBadNameDaemonSetDoesNothing
    pytest.param(
        make_daemonset(node_selector=SIMPLE_NODE, node_name="node-6"),
        with_nodes(nodes(4), nodes(3, SIMPLE_NODE, start=4)),
        [],
        ["node-6"],
        0,
        id="nodename-and-selector-agree",
    ),  # B36
    pytest.param(
        make_daemonset(node_selector=SIMPLE_NODE, node_name="node-0"),
        with_nodes(nodes(4), nodes(3, SIMPLE_NODE, start=4)),
        [],
        [],
        0,
        id="nodename-and-selector-disagree",
    ),  # B37 TestInconsistentNameSelectorDaemonSetDoesNothing
    pytest.param(
        make_daemonset(affinity=node_affinity(term(expr("color", "In", "blue")))),
        with_nodes(nodes(4), nodes(3, SIMPLE_NODE, start=4)),
        [],
        ["node-4", "node-5", "node-6"],
        0,
        id="node-affinity-launches-on-matching",
    ),  # B38
    pytest.param(
        DS,
        [make_node("node-0", taints=NO_SCHEDULE)],
        pods_on(DS, "node-0", 1),
        [],
        0,
        id="noschedule-taint-keeps-running-pod",
    ),  # B41 (F,T)
    pytest.param(
        DS,
        [make_node("node-0", taints=NO_EXECUTE)],
        pods_on(DS, "node-0", 1),
        [],
        1,
        id="noexecute-taint-deletes-running-pod",
    ),  # B42 (F,F)
    pytest.param(DS, [make_node("node-0", taints=NO_SCHEDULE)], [], [], 0, id="noschedule-taint-no-new-pod"),  # B43
    pytest.param(
        make_daemonset(tolerations=TOLERATE_NO_SCHEDULE),
        [make_node("node-0", taints=NO_SCHEDULE)],
        [],
        ["node-0"],
        0,
        id="tolerated-taint-creates",
    ),  # B44
    pytest.param(
        DS,
        [make_node("node-0", ready=False, taints=[taint("node.kubernetes.io/not-ready", "NoExecute")])],
        [],
        ["node-0"],
        0,
        id="not-ready-noexecute-auto-tolerated",
    ),  # B45
    pytest.param(
        DS,
        [make_node("node-0", ready="Unknown", taints=[taint("node.kubernetes.io/unreachable", "NoExecute")])],
        [],
        ["node-0"],
        0,
        id="unreachable-noexecute-auto-tolerated",
    ),  # B46
    pytest.param(
        make_daemonset(tolerations=TOLERATE_NO_SCHEDULE), nodes(1), [], ["node-0"], 0, id="unneeded-toleration-harmless"
    ),  # B47
    pytest.param(
        DS,
        [make_node("node-0", labels=SIMPLE_NODE)],
        pods_on(DS, "node-0", 1, deletion_timestamp=NOW),
        [],
        0,
        id="terminating-pod-not-replaced-yet",
    ),  # B48 TestDaemonSetRespectsTermination
    pytest.param(
        make_daemonset(namespace="kube-system"),
        [
            make_node(
                "node-0",
                conditions={"DiskPressure": "True", "MemoryPressure": "True", "PIDPressure": "True"},
                taints=[
                    taint(f"node.kubernetes.io/{kind}-pressure", "NoSchedule") for kind in ("disk", "memory", "pid")
                ],
            )
        ],
        [],
        ["node-0"],
        0,
        id="pressure-taints-auto-tolerated",
    ),  # B49
]


@pytest.mark.parametrize(("daemonset", "node_list", "pods", "creates", "deletes"), SYNC_CASES)
def test_sync_placement(
    daemonset: dict[str, Any],
    node_list: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    creates: list[str],
    deletes: int,
) -> None:
    created, deleted = manage(daemonset, node_list, pods)
    assert (created, len(deleted)) == (creates, deletes)


def test_existing_pods_extra_copies_and_released_pods() -> None:
    # B29 TestDealsWithExistingPods: node-1 ×1, node-2 ×2, node-3 ×5, node-4 ×2 released → 2 creates, 5 deletes;
    # the oldest pod on each node is kept.
    pods = (
        pods_on(DS, "node-1", 1)
        + pods_on(DS, "node-2", 2)
        + pods_on(DS, "node-3", 5)
        + pods_on(DS, "node-4", 2, labels=SIMPLE_DAEMON_2)
    )
    creates, deletes = manage(DS, nodes(5), pods)
    assert creates == ["node-0", "node-4"]
    assert deletes == ["node-2-pod-1", "node-3-pod-1", "node-3-pod-2", "node-3-pod-3", "node-3-pod-4"]


def test_selector_deletes_unselected_pods() -> None:
    # B31 TestSelectorDaemonDeletesUnselectedPods: 5 creates (nodes 5–9), 4 deletes (node-1 ×3, node-4 ×1).
    pods = (
        pods_on(DS_SELECTING, "node-0", 2, labels=SIMPLE_DAEMON_2)
        + pods_on(DS_SELECTING, "node-1", 3)
        + pods_on(DS_SELECTING, "node-1", 1, labels=SIMPLE_DAEMON_2)
        + pods_on(DS_SELECTING, "node-4", 1)
    )
    creates, deletes = manage(DS_SELECTING, with_nodes(nodes(5), nodes(5, SIMPLE_NODE, start=5)), pods)
    assert creates == [f"node-{i}" for i in range(5, 10)]
    assert sorted(deletes) == ["node-1-pod-0", "node-1-pod-1", "node-1-pod-2", "node-4-pod-0"]


def test_selector_deals_with_existing_pods() -> None:
    # B32 TestSelectorDaemonDealsWithExistingPods: 3 creates (nodes 5, 7, 8), 20 deletes.
    ds = DS_SELECTING
    pods = (
        pods_on(ds, "node-0", 1)
        + pods_on(ds, "node-1", 3)
        + pods_on(ds, "node-1", 2, labels=SIMPLE_DAEMON_2)
        + pods_on(ds, "node-2", 4)
        + pods_on(ds, "node-6", 13)
        + pods_on(ds, "node-7", 4, labels=SIMPLE_DAEMON_2)
        + pods_on(ds, "node-9", 1)
        + pods_on(ds, "node-9", 1, labels=SIMPLE_DAEMON_2)
    )
    creates, deletes = manage(ds, with_nodes(nodes(5), nodes(5, SIMPLE_NODE, start=5)), pods)
    assert creates == ["node-5", "node-7", "node-8"]
    assert len(deletes) == 20
    assert "node-6-pod-0" not in deletes  # the oldest of the 13 stays


def test_pods_of_another_daemonset_are_not_counted() -> None:
    # E62: pods owned by another DaemonSet (even with matching labels) are not this DaemonSet's.
    other = make_daemonset(name="other")
    assert manage(DS, nodes(1), pods_on(other, "node-0", 1)) == (["node-0"], [])


# --- section M: derived edge cases -----------------------------------------------------------------------

NOT_READY_TAINTS = [
    taint("node.kubernetes.io/not-ready", "NoSchedule"),
    taint("node.kubernetes.io/not-ready", "NoExecute"),
]
M_CASES = [
    pytest.param(
        DS, make_node(ready=False, taints=NOT_READY_TAINTS), (False, True), id="not-ready-node-keeps-but-no-new-pod"
    ),  # M164
    pytest.param(
        make_daemonset(tolerations=[toleration(operator="Exists")]),
        make_node(ready=False, taints=NOT_READY_TAINTS),
        (True, True),
        id="tolerate-everything-runs-on-not-ready",
    ),  # M165
    pytest.param(
        DS,
        make_node(unschedulable=True, taints=[taint("node.kubernetes.io/unschedulable", "NoSchedule")]),
        (True, True),
        id="cordoned-node-runs",
    ),  # M166
    pytest.param(
        DS,
        make_node(taints=[taint("node-role.kubernetes.io/control-plane", "NoSchedule")]),
        (False, True),
        id="control-plane-taint-keeps-but-no-new-pod",
    ),  # M167
    pytest.param(
        make_daemonset(tolerations=[toleration("maintenance", "Exists", effect="NoExecute", seconds=60)]),
        make_node(taints=[taint("maintenance", "NoExecute", "true")]),
        (True, True),
        id="toleration-seconds-ignored-by-controller",
    ),  # M168
    pytest.param(
        make_daemonset(
            tolerations=[toleration("node.kubernetes.io/not-ready", "Exists", effect="NoExecute", seconds=300)]
        ),
        make_node(ready=False, taints=[taint("node.kubernetes.io/not-ready", "NoExecute")]),
        (True, True),
        id="user-not-ready-toleration-made-infinite",
    ),  # M169
    pytest.param(
        make_daemonset(host_network=True, host_ports=[{"containerPort": 9100}]),
        make_node(),
        (True, True),
        id="host-network-port-ignored-by-controller",
    ),  # M170
    pytest.param(
        DS, make_node(allocatable={"pods": "110"}), (True, True), id="pod-count-ignored-by-controller"
    ),  # M171
    pytest.param(
        DS, make_node(labels={"kubernetes.io/os": "windows"}), (True, True), id="no-os-selector-runs-on-windows"
    ),  # M172
    pytest.param(
        make_daemonset(node_selector={"kubernetes.io/os": "linux"}),
        make_node(labels={"kubernetes.io/os": "windows"}),
        (False, False),
        id="os-selector-excludes-windows",
    ),  # M172
]


@pytest.mark.parametrize(("daemonset", "node", "verdict"), M_CASES)
def test_edge_cases(daemonset: dict[str, Any], node: dict[str, Any], verdict: tuple[bool, bool]) -> None:
    assert verdict_of(daemonset, node) == verdict


# --- reasons: every excluding rule, with its code --------------------------------------------------------


def controller_codes(daemonset: dict[str, Any], node: dict[str, Any]) -> list[str]:
    return [
        reason.code
        for reason in node_should_run_daemon_pod(daemonset, node).reasons
        if reason.code in codes.CONTROLLER_CODES
    ]


@pytest.mark.parametrize(
    ("daemonset", "node", "expected"),
    [
        pytest.param(make_daemonset(node_name="other-node"), make_node(), ["NodeName"], id="code-nodename"),
        pytest.param(
            make_daemonset(node_selector={"disk": "ssd"}), make_node(), ["NodeSelector"], id="code-nodeselector"
        ),
        pytest.param(
            make_daemonset(affinity=node_affinity(term(expr("zone", "In", "a")))),
            make_node(),
            ["NodeAffinity"],
            id="code-nodeaffinity",
        ),
        pytest.param(DS, make_node(taints=NO_SCHEDULE), ["TaintNoSchedule"], id="code-taint-noschedule"),
        pytest.param(DS, make_node(taints=NO_EXECUTE), ["TaintNoExecute"], id="code-taint-noexecute"),
        pytest.param(
            make_daemonset(node_selector={"disk": "ssd"}),
            make_node(taints=NO_SCHEDULE),
            ["NodeSelector", "TaintNoSchedule"],
            id="selector-and-taint-both-listed",
        ),
        pytest.param(
            make_daemonset(node_selector={"disk": "ssd", "zone": "a"}),
            make_node(),
            ["NodeSelector", "NodeSelector"],
            id="one-reason-per-failing-selector-key",
        ),
        pytest.param(
            DS,
            make_node(taints=[*NO_SCHEDULE, taint("other", "NoSchedule"), *NO_EXECUTE]),
            ["TaintNoSchedule", "TaintNoSchedule", "TaintNoExecute"],
            id="every-untolerated-taint-listed",
        ),
        pytest.param(
            make_daemonset(
                node_name="other-node",
                node_selector={"disk": "ssd"},
                affinity=node_affinity(term(expr("zone", "In", "a"))),
            ),
            make_node(taints=[*NO_SCHEDULE, *NO_EXECUTE]),
            ["NodeName", "NodeSelector", "NodeAffinity", "TaintNoSchedule", "TaintNoExecute"],
            id="all-rules-listed-in-controller-order",
        ),
        pytest.param(DS, make_node(taints=[taint("soft", "PreferNoSchedule")]), [], id="prefernoschedule-no-reason"),
        pytest.param(DS, make_node(), [], id="fitting-node-no-reason"),
    ],
)
def test_every_excluding_rule_is_listed(daemonset: dict[str, Any], node: dict[str, Any], expected: list[str]) -> None:
    assert controller_codes(daemonset, node) == expected


def test_named_results_for_a_node_failing_selector_and_taint() -> None:
    verdict = node_should_run_daemon_pod(
        make_daemonset(node_selector={"disk": "ssd"}), make_node("n1", taints=NO_SCHEDULE)
    )
    assert (
        verdict.node,
        verdict.fits_node_name,
        verdict.fits_node_selector,
        verdict.fits_node_affinity,
        verdict.fits_taints,
        verdict.should_run,
        verdict.should_continue_running,
    ) == ("n1", True, False, True, False, False, False)


def test_selector_failure_with_noschedule_taint_is_should_not_run() -> None:
    # docs/rules.md#r-predicate: a selector/affinity failure returns (False, False) before taints are weighed.
    assert verdict_of(make_daemonset(node_selector={"disk": "ssd"}), make_node(taints=NO_SCHEDULE)) == (False, False)


@pytest.mark.parametrize(
    ("daemonset", "node", "expected"),
    [
        pytest.param(
            make_daemonset(node_name="other-node"),
            make_node(),
            (
                "NodeName",
                "spec.nodeName=other-node",
                "template spec.nodeName=other-node: pods only go to node other-node",
                "remove spec.nodeName from the pod template to run on every node",
            ),
            id="nodename-reason",
        ),
        pytest.param(
            make_daemonset(node_selector={"kubernetes.io/os": "linux"}),
            make_node("win-1", labels={"kubernetes.io/os": "windows"}),
            (
                "NodeSelector",
                "nodeSelector kubernetes.io/os=linux",
                "nodeSelector kubernetes.io/os=linux: node has kubernetes.io/os=windows",
                "kubectl label node win-1 kubernetes.io/os=linux --overwrite",
            ),
            id="nodeselector-reason",
        ),
        pytest.param(
            make_daemonset(affinity=node_affinity(term(expr("zone", "In", "a", "b")))),
            make_node(labels={"zone": "c"}),
            (
                "NodeAffinity",
                "affinity zone In [a,b]",
                "affinity term 1: zone In [a,b]: node has zone=c",
                "label the node so that one nodeSelectorTerm matches, or widen the DaemonSet's affinity",
            ),
            id="nodeaffinity-reason",
        ),
        pytest.param(
            DS,
            make_node("gpu-1", taints=[taint("dedicated", "NoSchedule", "gpu")]),
            (
                "TaintNoSchedule",
                "taint dedicated=gpu:NoSchedule",
                "taint dedicated=gpu:NoSchedule not tolerated: no new pod is created",
                "add toleration {key: dedicated, operator: Equal, value: gpu, effect: NoSchedule} "
                "or: kubectl taint node gpu-1 dedicated=gpu:NoSchedule-",
            ),
            id="noschedule-reason",
        ),
        pytest.param(
            DS,
            make_node("node-9", taints=[taint("maintenance", "NoExecute", "true")]),
            (
                "TaintNoExecute",
                "taint maintenance=true:NoExecute",
                "taint maintenance=true:NoExecute not tolerated: running pods are evicted",
                "add toleration {key: maintenance, operator: Equal, value: true, effect: NoExecute} "
                "or: kubectl taint node node-9 maintenance=true:NoExecute-",
            ),
            id="noexecute-reason",
        ),
    ],
)
def test_reason_texts(daemonset: dict[str, Any], node: dict[str, Any], expected: tuple[str, str, str, str]) -> None:
    (reason,) = node_should_run_daemon_pod(daemonset, node).reasons
    assert (reason.code, reason.rule, reason.message, reason.hint_for(r.name(node))) == expected


@pytest.mark.parametrize(
    ("node", "verdict", "info"),
    [
        pytest.param(make_node(ready=False), (True, True), ["NodeNotReady"], id="not-ready-is-info-only"),  # B20
        pytest.param(make_node(unschedulable=True), (True, True), ["NodeCordoned"], id="cordoned-is-info-only"),  # A11
        pytest.param(
            make_node(ready="Unknown", unschedulable=True),
            (True, True),
            ["NodeNotReady", "NodeCordoned"],
            id="both-facts-listed",
        ),
    ],
)
def test_node_facts_do_not_change_the_verdict(
    node: dict[str, Any], verdict: tuple[bool, bool], info: list[str]
) -> None:
    result = node_should_run_daemon_pod(DS, node)
    assert (result.should_run, result.should_continue_running) == verdict
    assert [reason.code for reason in result.reasons] == info
    assert all(reason.is_info for reason in result.reasons)


def test_not_ready_fact_message_names_condition() -> None:
    (fact,) = node_should_run_daemon_pod(DS, make_node(ready="Unknown")).reasons
    assert fact.message == (
        "node is not ready (Ready=Unknown); the controller ignores conditions, only taints keep DaemonSet pods away"
    )
