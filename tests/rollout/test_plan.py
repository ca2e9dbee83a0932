"""The managed rollout plan: which nodes are replaced, in which order and steps, under the controller's own
unavailability accounting (docs/rules.md#r-budget, docs/rules.md#r-rolling-no-surge,
docs/rules.md#r-rolling-surge; cases G81–G88, M173, M174 in docs/rules.md#test-cases), plus
pre-flight warnings, option parsing and the duration estimate.

The DaemonSet is parked with OnDelete (the plugin replaces pods itself), so its own strategy is ignored
and the budget comes from the plan options. Pods carry hash "old" (revision 1) or "new" (revision 2).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from kubectl_ds.errors import UsageError
from kubectl_ds.kube.quantity import parse_quantity
from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.budget import Budget
from kubectl_ds.rollout.estimate import estimate_seconds, longest_seconds, observed_startup, termination_grace_seconds
from kubectl_ds.rollout.plan import (
    CANARY_MATCHES_NO_NODE,
    EXCLUDED_NODES,
    HOST_PORT_WITH_SURGE,
    NO_SURGE_HEADROOM,
    NOT_READY_USES_BUDGET,
    Plan,
    PlanOptions,
    PlanWarning,
    Step,
    parse_canary,
    plan_rollout,
)
from tests.builders import NOW, make_daemonset, make_node, make_pod, make_revision, rolling_update, taint, timestamp

Obj = dict[str, Any]
DS = make_daemonset(strategy="OnDelete")
REVISIONS = index_revisions(DS, [make_revision(DS, 1, "old"), make_revision(DS, 2, "new")])


def old(node: str, suffix: str = "", **kwargs: Any) -> Obj:
    return make_pod(f"old-{node}{suffix}", node=node, owner=DS, revision_hash="old", **kwargs)


def new(node: str, suffix: str = "", **kwargs: Any) -> Obj:
    return make_pod(f"new-{node}{suffix}", node=node, owner=DS, revision_hash="new", **kwargs)


def nodes(count: int, **kwargs: Any) -> list[Obj]:
    return [make_node(f"node-{i}", **kwargs) for i in range(count)]


def plan(node_list: list[Obj], pods: list[Obj], daemonset: Obj = DS, **options: Any) -> Plan:
    return plan_rollout(daemonset, node_list, pods, REVISIONS, PlanOptions(**options), now=NOW)


def steps(result: Plan) -> list[tuple[str, ...]]:
    return [step.nodes for step in result.steps]


def codes(result: Plan) -> list[str]:
    return [warning.code for warning in result.warnings]


def all_old(count: int) -> list[Obj]:
    return [old(f"node-{i}") for i in range(count)]


# --- steps and step size -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            {},
            [("node-0",), ("node-1",), ("node-2",), ("node-3",), ("node-4",)],
            id="default-budget-is-one-node-per-step",
        ),  # API default maxUnavailable 1
        pytest.param(
            {"max_unavailable": 2},
            [("node-0", "node-1"), ("node-2", "node-3"), ("node-4",)],
            id="step-size-defaults-to-the-budget",
        ),  # G81: (0,2) (0,2) (0,1)
        pytest.param(
            {"max_unavailable": 3, "step_size": 1}, [(f"node-{i}",) for i in range(5)], id="smaller-step-size-wins"
        ),
        pytest.param(
            {"max_unavailable": 1, "step_size": 3},
            [(f"node-{i}",) for i in range(5)],
            id="step-size-is-capped-by-the-budget",
        ),
        pytest.param(
            {"max_unavailable": 5, "step_size": "40%"},
            [("node-0", "node-1"), ("node-2", "node-3"), ("node-4",)],
            id="step-size-percent-of-desired-rounds-up",
        ),  # ceil(40% of 5) = 2
        pytest.param(
            {"max_unavailable": "30%"},
            [("node-0", "node-1"), ("node-2", "node-3"), ("node-4",)],
            id="budget-percent-rounds-up",
        ),  # ceil(30% of 5) = 2, M173
        pytest.param(
            {"max_unavailable": 0, "max_surge": 2},
            [("node-0", "node-1"), ("node-2", "node-3"), ("node-4",)],
            id="surge-budget-sizes-the-steps",
        ),  # G82: surges of 2, 2, 1
    ],
)
def test_steps_follow_the_budget(options: dict[str, Any], expected: list[tuple[str, ...]]) -> None:
    assert steps(plan(nodes(5), all_old(5), **options)) == expected


def test_plan_reports_budget_and_mode() -> None:
    result = plan(nodes(3), all_old(3), max_unavailable="50%")
    assert result.budget == Budget(max_surge=0, max_unavailable=2, desired=3)  # G98: ceil(1.5)
    assert (result.surge, result.desired, result.step_size, result.first_step_allowance) == (False, 3, 2, 2)
    assert [step.number for step in result.steps] == [1, 2]
    assert result.nodes_to_update == ("node-0", "node-1", "node-2")
    surge = plan(nodes(3), all_old(3), max_unavailable=0, max_surge="1%")
    assert (surge.surge, surge.budget.max_surge, surge.step_size) == (True, 1, 1)  # M173: 1% surges


def test_nodes_sorted_naturally() -> None:
    node_list = [make_node(name) for name in ("node-10", "node-2", "node-1")]
    pods = [old(node["metadata"]["name"]) for node in node_list]
    assert steps(plan(node_list, pods)) == [("node-1",), ("node-2",), ("node-10",)]


def test_only_wanted_nodes_with_an_old_pod_are_steps() -> None:
    daemonset = make_daemonset(strategy="OnDelete", node_selector={"role": "worker"})
    worker = {"role": "worker"}
    node_list = [
        make_node("node-0", labels=worker),
        make_node("node-1", labels=worker),
        make_node("node-2", labels=worker),
        make_node("infra"),
    ]
    pods = [old("node-0"), new("node-1"), make_pod("old-infra", node="infra", owner=daemonset, revision_hash="old")]
    result = plan(node_list, pods, daemonset)
    assert steps(result) == [("node-0",)]  # node-1 is updated; infra should not run the pod
    assert result.create_only == ("node-2",)  # no pod: the controller creates the new one there anyway
    assert result.desired == 3


# --- unavailability accounting (docs/rules.md#r-rolling-no-surge) ------------------------------------------


def test_already_unavailable_old_pod_goes_first_and_free() -> None:
    # node-4's old pod is not ready: it uses 1 of the budget of 2, so the first step takes 1 available node.
    pods = all_old(4) + [old("node-4", ready=False)]
    result = plan(nodes(5), pods, max_unavailable=2)
    assert steps(result) == [("node-4", "node-0"), ("node-1", "node-2"), ("node-3",)]
    assert result.already_unavailable == ("node-4",)
    assert result.first_step_allowance == 1
    assert result.warnings == (
        PlanWarning(
            NOT_READY_USES_BUDGET,
            "already unavailable: 1 node, against a budget of 2 unavailable nodes; "
            "the first step takes at most 1 available node",
            ("node-4",),
        ),
    )


def test_budget_used_up_first_step_only_replaces_unavailable_pods() -> None:
    # M174: 10 nodes, maxUnavailable 3; 2 old unavailable pods, 1 empty node, 7 old available pods.
    # One controller pass deletes 2 + min(max(0, 3-3), 7) = 2 pods: the first step is the 2 unavailable ones.
    pods = [old(f"node-{i}", ready=(i not in (3, 7))) for i in range(9)]
    result = plan(nodes(10), pods, max_unavailable=3)
    assert steps(result) == [
        ("node-3", "node-7"),
        ("node-0", "node-1", "node-2"),
        ("node-4", "node-5", "node-6"),
        ("node-8",),
    ]
    assert result.create_only == ("node-9",)
    assert result.already_unavailable == ("node-3", "node-7", "node-9")
    assert result.first_step_allowance == 0
    assert result.warnings == (
        PlanWarning(
            NOT_READY_USES_BUDGET,
            "already unavailable: 3 nodes, against a budget of 3 unavailable nodes; "
            "no available node is taken until they are available again",
            ("node-3", "node-7", "node-9"),
        ),
    )


def test_all_unavailable_old_pods_replaced_at_once() -> None:
    # G88: pods never ready, maxUnavailable 3 -> all 5 unavailable old pods are deleted in one pass.
    result = plan(nodes(5), [old(f"node-{i}", ready=False) for i in range(5)], max_unavailable=3)
    assert steps(result) == [tuple(f"node-{i}" for i in range(5))]


def test_unavailable_new_pods_use_the_budget() -> None:
    # G87, scaled down: 4 old ready, 1 old unready, 5 new unready, maxUnavailable 2. U = 6 >= 2, so only the
    # unready old pod goes first; the ready old pods follow once the budget is free again.
    pods = [old(f"node-{i}") for i in range(4)] + [old("node-4", ready=False)]
    pods += [new(f"node-{i}", ready=False) for i in range(5, 10)]
    result = plan(nodes(10), pods, max_unavailable=2)
    assert steps(result) == [("node-4",), ("node-0", "node-1"), ("node-2", "node-3")]
    assert result.already_unavailable == ("node-4", "node-5", "node-6", "node-7", "node-8", "node-9")


def test_empty_node_uses_budget_first_step_must_wait() -> None:
    # An empty wanted node is unavailable (docs/rules.md#r-rolling-no-surge); with a budget of 1 nothing available
    # can go now. No leading node is unavailable, so the first step is an ordinary one and the warning says it must
    # wait.
    result = plan(nodes(4), all_old(3))
    assert steps(result) == [("node-0",), ("node-1",), ("node-2",)]
    assert result.first_step_allowance == 0
    assert result.warnings[0].message == (
        "already unavailable: 1 node, against a budget of 1 unavailable node; "
        "no available node is taken until they are available again"
    )


@pytest.mark.parametrize(
    ("pods", "unavailable"),
    [
        pytest.param([old("node-0"), new("node-0", ready=False)], True, id="mid-transition-counts-unavailable"),
        pytest.param([old("node-0"), new("node-0")], True, id="mid-transition-with-available-new-pod-too"),
        pytest.param([old("node-0"), old("node-0", "-b")], True, id="duplicate-old-pods-count-unavailable"),
        pytest.param(
            [old("node-0", ready_since=NOW - timedelta(seconds=5))],
            True,
            id="ready-less-than-min-ready-seconds-is-unavailable",
        ),
        pytest.param(
            [old("node-0", ready_since=NOW - timedelta(seconds=10))],
            False,
            id="ready-for-min-ready-seconds-is-available",
        ),
        pytest.param(
            [old("node-0"), old("node-0", "-b", deletion_timestamp=NOW)],
            False,
            id="terminating-extra-pod-counts-as-nothing",
        ),
    ],
)
def test_what_counts_as_unavailable(pods: list[Obj], unavailable: bool) -> None:
    daemonset = make_daemonset(strategy="OnDelete", min_ready_seconds=10)
    result = plan(nodes(3), pods + [old("node-1"), old("node-2")], daemonset, max_unavailable=2)
    assert (result.already_unavailable == ("node-0",)) is unavailable
    # Either way node-0 still holds an old pod and is replaced; if it is unavailable it uses 1 of the budget of 2.
    assert result.nodes_to_update == ("node-0", "node-1", "node-2")
    assert result.first_step_allowance == (1 if unavailable else 2)


def test_terminating_only_node_is_empty() -> None:
    result = plan(nodes(2), [old("node-0", deletion_timestamp=NOW), old("node-1")])
    assert result.create_only == ("node-0",)
    assert result.already_unavailable == ("node-0",)
    assert steps(result) == [("node-1",)]


def test_surge_counts_only_nodes_waiting_for_their_new_pod() -> None:
    # docs/rules.md#r-rolling-surge: node-0's new pod is not available next to its old one (uses 1 of 2 surge);
    # node-1 is empty (manage() creates, no budget); node-0 itself costs nothing more to finish.
    pods = [old("node-0"), new("node-0", ready=False), old("node-2"), old("node-3"), old("node-4")]
    result = plan(nodes(5), pods, max_unavailable=0, max_surge=2)
    assert steps(result) == [("node-0", "node-2"), ("node-3", "node-4")]
    assert result.already_unavailable == ("node-0", "node-1")
    assert result.warnings == (
        PlanWarning(
            NOT_READY_USES_BUDGET,
            "already surging: 1 node with a new pod that is not available yet, against a "
            "budget of 2 surge pods; the first step takes at most 1 available node",
            ("node-0",),
        ),
    )


def test_surge_with_only_empty_nodes_has_full_first_step() -> None:
    result = plan(nodes(3), all_old(2), max_unavailable=0, max_surge=2)
    assert steps(result) == [("node-0", "node-1")]
    assert NOT_READY_USES_BUDGET not in codes(result)


# --- canary and partition ------------------------------------------------------------------------------------

CANARY = {"matchLabels": {"canary": "true"}}


def labelled(count: int, canary: set[int]) -> list[Obj]:
    return [make_node(f"node-{i}", labels={"canary": "true"} if i in canary else {}) for i in range(count)]


@pytest.mark.parametrize(
    ("canary", "options", "expected"),
    [
        pytest.param(
            {3},
            {},
            [Step(1, ("node-3",), canary=True), Step(2, ("node-0",)), Step(3, ("node-1",)), Step(4, ("node-2",))],
            id="canary-node-first-in-its-own-step",
        ),
        pytest.param(
            {3},
            {"max_unavailable": 2},
            [Step(1, ("node-3",), canary=True), Step(2, ("node-0", "node-1")), Step(3, ("node-2",))],
            id="canary-step-not-filled-with-others",
        ),
        pytest.param(
            {1, 3},
            {},
            [Step(1, ("node-1", "node-3"), canary=True), Step(2, ("node-0",)), Step(3, ("node-2",))],
            id="canary-group-is-one-step-whatever-the-budget",
        ),
        pytest.param(
            {1, 3},
            {"max_unavailable": 2},
            [Step(1, ("node-1", "node-3"), canary=True), Step(2, ("node-0", "node-2"))],
            id="canary-nodes-share-a-step",
        ),
    ],
)
def test_canary(canary: set[int], options: dict[str, Any], expected: list[Step]) -> None:
    result = plan(labelled(4, canary), all_old(4), canary=CANARY, **options)
    assert list(result.steps) == expected


def test_canary_that_matches_no_node_to_update() -> None:
    # node-1 matches, but it already runs the new pod.
    result = plan(labelled(3, {1}), [old("node-0"), new("node-1"), old("node-2")], canary=CANARY)
    assert steps(result) == [("node-0",), ("node-2",)]
    assert result.warnings == (
        PlanWarning(
            CANARY_MATCHES_NO_NODE,
            "--canary canary=true matches no node that needs the update; the plan has no canary step",
        ),
    )


@pytest.mark.parametrize(
    ("partition", "expected_steps", "partitioned"),
    [
        pytest.param(2, [("node-0",), ("node-1",), ("node-2",)], ("node-3", "node-4"), id="last-nodes-stay-old"),
        pytest.param(0, [(f"node-{i}",) for i in range(5)], (), id="no-partition"),
        pytest.param(9, [], tuple(f"node-{i}" for i in range(5)), id="partition-beyond-all-nodes-keeps-all"),
    ],
)
def test_partition(partition: int, expected_steps: list[tuple[str, ...]], partitioned: tuple[str, ...]) -> None:
    result = plan(nodes(5), all_old(5), partition=partition)
    assert (steps(result), result.partitioned) == (expected_steps, partitioned)


def test_partition_takes_from_the_end_of_the_order_not_the_names() -> None:
    # node-4 is unavailable, so it is ordered first and is not among the partitioned ones.
    result = plan(nodes(5), all_old(4) + [old("node-4", ready=False)], max_unavailable=2, partition=2)
    assert result.partitioned == ("node-2", "node-3")


# --- pre-flight warnings ------------------------------------------------------------------------------------

HOST_PORT_MESSAGE = (
    "the pod template claims host port 9100/TCP: the surge pod cannot bind the same host port "
    "next to the old one; the rollout would deadlock; use --max-unavailable instead"
)


@pytest.mark.parametrize(
    ("daemonset", "options", "warned"),
    [
        pytest.param(
            make_daemonset(strategy="OnDelete", host_ports=[9100]),
            {"max_unavailable": 0, "max_surge": 1},
            True,
            id="host-port-with-surge-deadlocks",
        ),  # docs/rules.md#r-host-ports
        pytest.param(
            make_daemonset(strategy="OnDelete", host_network=True, host_ports=[{"containerPort": 9100}]),
            {"max_unavailable": 0, "max_surge": 1},
            True,
            id="host-network-container-port-is-a-host-port",
        ),
        pytest.param(
            make_daemonset(strategy="OnDelete", host_ports=[9100]),
            {"max_unavailable": 1},
            False,
            id="host-port-without-surge-is-fine",
        ),
        pytest.param(
            make_daemonset(strategy="OnDelete", host_ports=[{"containerPort": 9100}]),
            {"max_unavailable": 0, "max_surge": 1},
            False,
            id="container-port-alone-is-no-host-port",
        ),
    ],
)
def test_host_port_with_surge(daemonset: Obj, options: dict[str, Any], warned: bool) -> None:
    result = plan(nodes(2), all_old(2), daemonset, **options)
    expected = (PlanWarning(HOST_PORT_WITH_SURGE, HOST_PORT_MESSAGE),) if warned else ()
    assert result.warnings == expected


def test_host_ports_listed() -> None:
    daemonset = make_daemonset(strategy="OnDelete", host_ports=[80, 443])
    result = plan(nodes(1), all_old(1), daemonset, max_unavailable=0, max_surge=1)
    assert result.warnings[0].message.startswith("the pod template claims host ports 80/TCP, 443/TCP: ")


@pytest.mark.parametrize(
    ("taints", "labels", "message"),
    [
        pytest.param(
            None,
            {},
            "1 node should not run the new pod but has an old one: the controller deletes it on node-9",
            id="selector-mismatch-old-pod-deleted",
        ),  # (F,F), B31
        pytest.param(
            [taint("dedicated", "NoSchedule", "user1")],
            {"role": "worker"},
            "1 node should not run the new pod but has an old one: it keeps running there, never updated "
            "(misscheduled), on node-9",
            id="noschedule-taint-old-pod-kept",
        ),  # (F,T), B41, M167
    ],
)
def test_excluded_nodes(taints: list[Obj] | None, labels: dict[str, str], message: str) -> None:
    daemonset = make_daemonset(strategy="OnDelete", node_selector={"role": "worker"})
    node_list = [make_node("node-0", labels={"role": "worker"}), make_node("node-9", labels=labels, taints=taints)]
    result = plan(node_list, [old("node-0"), old("node-9")], daemonset)
    assert steps(result) == [("node-0",)]
    assert result.warnings == (PlanWarning(EXCLUDED_NODES, message, ("node-9",)),)


@pytest.mark.parametrize("parked", [False, True], ids=["before-start", "while-parked"])
def test_misscheduled_pods_go_once_the_rolling_update_strategy_is_restored(parked: bool) -> None:
    """A NoSchedule-tainted node keeps its old pod while parked; the restored RollingUpdate deletes it and
    manage() creates none there, so the plan must not promise it keeps running (docs/rules.md#r-manage)."""
    daemonset = make_daemonset(strategy=rolling_update(), node_selector={"role": "worker"})
    if parked:
        daemonset = st.parked(daemonset, None)
    node_list = [
        make_node("node-0", labels={"role": "worker"}),
        make_node("node-9", labels={"role": "worker"}, taints=[taint("dedicated", "NoSchedule", "x")]),
    ]
    result = plan(node_list, [old("node-0"), old("node-9")], daemonset)
    assert result.warnings == (
        PlanWarning(
            EXCLUDED_NODES,
            "1 node should not run the new pod but has an old one: it keeps running while the "
            "DaemonSet is parked, then the controller deletes it once the RollingUpdate strategy is restored and "
            "creates none there (misscheduled), on node-9",
            ("node-9",),
        ),
    )


def test_excluded_nodes_both_kinds_and_updated_pods_ignored() -> None:
    daemonset = make_daemonset(strategy="OnDelete", node_selector={"role": "worker"})
    tainted = [taint("dedicated", "NoSchedule", "user1")]
    node_list = [
        make_node("node-10"),
        make_node("node-2", labels={"role": "worker"}, taints=tainted),
        make_node("node-3"),
        make_node("node-1", labels={"role": "worker"}),
    ]
    pods = [old("node-10"), old("node-2"), new("node-3"), old("node-1")]
    result = plan(node_list, pods, daemonset)
    assert result.warnings == (
        PlanWarning(
            EXCLUDED_NODES,
            "2 nodes should not run the new pod but have an old one: the controller deletes it on "
            "node-10; it keeps running there, never updated (misscheduled), on node-2",
            ("node-2", "node-10"),
        ),
    )


def test_no_surge_headroom() -> None:
    daemonset = make_daemonset(strategy="OnDelete", requests={"cpu": "600m"})
    node_list = [make_node("node-0", allocatable={"cpu": "1"}), make_node("node-1", allocatable={"cpu": "2"})]
    pods = [old("node-0", requests={"cpu": "600m"}), old("node-1", requests={"cpu": "600m"})]
    others = {"node-0": [], "node-1": [make_pod("app", node="node-1", requests={"cpu": "500m"})]}
    result = plan_rollout(
        daemonset,
        node_list,
        pods,
        REVISIONS,
        PlanOptions(max_unavailable=0, max_surge=1),
        now=NOW,
        parse_quantity=parse_quantity,
        other_pods_by_node=others,
    )
    assert result.warnings == (
        PlanWarning(
            NO_SURGE_HEADROOM,
            "the surge pod does not fit next to the old one on 1 node (node-0: insufficient cpu: "
            "requests 600m, free 400m of 1 allocatable): it would stay Pending and the step would not finish; "
            "use --max-unavailable instead",
            ("node-0",),
        ),
    )
    skipped = plan_rollout(daemonset, node_list, pods, REVISIONS, PlanOptions(max_unavailable=0, max_surge=1), now=NOW)
    assert skipped.warnings == ()  # without a quantity parser the check is skipped


# --- options ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"step_size": 0}, 'invalid --step-size "0": must be greater than 0', id="zero-step-size"),
        pytest.param({"step_size": "0%"}, 'invalid --step-size "0%": must be greater than 0', id="zero-percent-step"),
        pytest.param(
            {"step_size": "120%"},
            'invalid --step-size "120%": must not be greater than 100%',
            id="step-size-over-100-percent",
        ),
        pytest.param(
            {"step_size": "x"},
            'invalid --step-size "x": a valid percent string must be a numeric string '
            "followed by an ending '%' (e.g. '1%' or '93%'), or a non-negative integer",
            id="step-size-not-a-number",
        ),
        pytest.param(
            {"partition": -1}, 'invalid --partition "-1": must be greater than or equal to 0', id="negative-partition"
        ),
        pytest.param(
            {"max_unavailable": 1, "max_surge": 1},
            'invalid --max-surge "1": may not be set when '
            "maxUnavailable is non-zero (the API allows only one of them to be non-zero; use "
            "--max-unavailable 1 or --max-surge 1 --max-unavailable 0)",
            id="api-validation-applies",
        ),  # L159
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        plan(nodes(2), all_old(2), **options)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("canary=true", {"matchLabels": {"canary": "true"}}, id="one-label"),
        pytest.param("a=1, b=2", {"matchLabels": {"a": "1", "b": "2"}}, id="labels-anded-spaces-ignored"),
        pytest.param("zone=", {"matchLabels": {"zone": ""}}, id="empty-value-allowed"),
        pytest.param("a=1,a=1", {"matchLabels": {"a": "1"}}, id="repeated-same-value-is-fine"),
    ],
)
def test_parse_canary(text: str, expected: dict[str, Any]) -> None:
    assert parse_canary(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", 'invalid --canary "": expected key=value[,key=value...]', id="empty"),
        pytest.param("canary", 'invalid --canary "canary": expected key=value[,key=value...]', id="missing-equals"),
        pytest.param("=x", 'invalid --canary "=x": expected key=value[,key=value...]', id="missing-key"),
        pytest.param("a==b", 'invalid --canary "a==b": expected key=value[,key=value...]', id="double-equals"),
        pytest.param("a=1,", 'invalid --canary "a=1,": expected key=value[,key=value...]', id="trailing-comma"),
        pytest.param("a=1,a=2", 'invalid --canary "a=1,a=2": label a is given two values', id="conflicting-values"),
    ],
)
def test_parse_canary_rejects(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_canary(text)
    assert caught.value.message == message


# --- timing -----------------------------------------------------------------------------------------------------


def started(name: str, startup_seconds: float | None, ready: bool = True) -> Obj:
    ready_at = NOW - timedelta(minutes=5)
    pod = make_pod(name, node="n", owner=DS, ready=ready, ready_since=ready_at)
    if startup_seconds is not None:
        pod["status"]["startTime"] = timestamp(ready_at - timedelta(seconds=startup_seconds))
    return pod


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        pytest.param([started("a", 10), started("b", 60), started("c", 20)], 20.0, id="median-of-ready-pods"),
        pytest.param([started("a", 10), started("b", 20)], 15.0, id="even-count-averages-the-middle"),
        pytest.param([started("a", 10), started("b", 500, ready=False)], 10.0, id="not-ready-pods-ignored"),
        pytest.param([started("a", None), started("b", 30)], 30.0, id="pods-without-start-time-ignored"),
        pytest.param([started("a", None)], None, id="nothing-to-measure"),
        pytest.param([], None, id="no-pods"),
    ],
)
def test_observed_startup(pods: list[Obj], expected: float | None) -> None:
    assert observed_startup(pods) == expected


@pytest.mark.parametrize(
    ("min_ready", "startup", "expected"),
    [
        pytest.param(10, 20.0, 90.0, id="each-step-waits-startup-plus-min-ready"),
        pytest.param(10, None, 30.0, id="unknown-startup-counts-zero"),
        pytest.param(0, -5.0, 0.0, id="negative-startup-clamped"),
    ],
)
def test_estimate_seconds(min_ready: int, startup: float | None, expected: float) -> None:
    three_steps = plan(nodes(3), all_old(3))
    assert len(three_steps.steps) == 3
    assert estimate_seconds(three_steps, min_ready, startup) == expected


@pytest.mark.parametrize(
    ("grace", "surge", "expected"),
    [
        pytest.param(None, False, 90.0 + 3 * 30, id="the-default-grace-of-30s-per-step"),
        pytest.param(300, False, 90.0 + 3 * 300, id="ingress-nginx-300s-per-step"),
        pytest.param(300, True, 90.0, id="a-surge-step-does-not-wait-for-the-old-pod"),
    ],
)
def test_the_estimate_counts_the_grace_period(grace: int | None, surge: bool, expected: float) -> None:
    daemonset = make_daemonset(strategy="OnDelete")
    if grace is not None:
        daemonset["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = grace
    three_steps = plan(nodes(3), all_old(3))
    if surge:
        three_steps = replace(three_steps, surge=True)
    floor = estimate_seconds(three_steps, 10, 20.0)
    assert longest_seconds(three_steps, floor, termination_grace_seconds(daemonset)) == expected
