"""Taints against tolerations (docs/rules.md#r-tolerates; case group I, 132–141, docs/rules.md#test-cases), the
tolerations the DaemonSet controller adds by itself and how they merge with the user's
(docs/rules.md#r-auto-tolerations), and the tolerationSeconds cases M168/M169 (docs/rules.md#r-taint-eviction).
"""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_ds.placement.predicate import node_should_run_daemon_pod
from kubectl_ds.placement.taints import (
    BLOCKING_EFFECTS,
    Taint,
    daemonset_pod_tolerations,
    tolerates,
    toleration_for,
    untolerated_taints,
)
from tests.builders import make_daemonset, make_node, taint, toleration


def as_taint(key: str, effect: str, value: str = "") -> Taint:
    return Taint.from_api(taint(key, effect, value))


TOLERATES_CASES = [
    # (toleration, taint, tolerated)
    pytest.param(
        toleration("foo", "Exists", effect="NoSchedule"),
        as_taint("foo", "NoSchedule"),
        True,
        id="exists-same-key-and-effect",
    ),  # I132
    pytest.param(
        toleration("foo", "Exists", effect="NoSchedule"),
        as_taint("foo", "NoSchedule", "bar"),
        True,
        id="exists-ignores-taint-value",
    ),  # I133
    pytest.param(
        toleration("", "Exists", effect="NoSchedule"),
        as_taint("foo", "NoSchedule", "bar"),
        True,
        id="empty-key-exists-matches-every-key",
    ),  # I134
    pytest.param(
        toleration("foo", "Equal", "bar", "NoSchedule"),
        as_taint("foo", "NoSchedule", "bar"),
        True,
        id="equal-same-value",
    ),  # I135
    pytest.param(
        toleration("foo", "Equal", "value1", "NoSchedule"),
        as_taint("foo", "NoSchedule", "value2"),
        False,
        id="equal-different-value",
    ),  # I136
    pytest.param(
        toleration("foo", "Equal", "bar", "NoSchedule"), as_taint("foo", "NoExecute", "bar"), False, id="effect-differs"
    ),  # I137
    # docs/rules.md#r-tolerates: an empty operator means Equal; an empty effect matches all effects; keys must be
    # equal.
    pytest.param(
        toleration("foo", value="bar", effect="NoSchedule"),
        as_taint("foo", "NoSchedule", "bar"),
        True,
        id="omitted-operator-is-equal",
    ),
    pytest.param(
        toleration("foo", value="bar"),
        as_taint("foo", "NoSchedule", "other"),
        False,
        id="omitted-operator-compares-values",
    ),
    pytest.param(
        toleration("foo", "Exists"), as_taint("foo", "NoExecute", "bar"), True, id="empty-effect-matches-every-effect"
    ),
    pytest.param(
        toleration("foo", "Exists", effect="NoSchedule"), as_taint("bar", "NoSchedule"), False, id="different-key"
    ),
    pytest.param(
        toleration("", "Exists"), as_taint("anything", "NoExecute", "x"), True, id="bare-exists-tolerates-everything"
    ),
    pytest.param(
        toleration("foo", "Equal", effect="NoSchedule"),
        as_taint("foo", "NoSchedule"),
        True,
        id="equal-empty-value-matches-valueless-taint",
    ),
    pytest.param(
        toleration("foo", "Matches", "bar", "NoSchedule"),
        as_taint("foo", "NoSchedule", "bar"),
        False,
        id="unknown-operator-tolerates-nothing",
    ),
]


@pytest.mark.parametrize(("tol", "node_taint", "tolerated"), TOLERATES_CASES)
def test_tolerates(tol: dict[str, Any], node_taint: Taint, tolerated: bool) -> None:
    assert tolerates(tol, node_taint) is tolerated


# I138: the Gt/Lt operators sit behind the alpha gate TaintTolerationComparisonOperators (v1.35), off by
# default in the controller. We model the gate as off, so every comparison tolerates nothing, including
# the rows that tolerate with the gate on ("Gt 750 vs 950", "Lt 950 vs 800").
@pytest.mark.parametrize(
    ("operator", "tol_value", "taint_value"),
    [
        pytest.param("Gt", "950", "800", id="gt-950-vs-800"),
        pytest.param("Gt", "750", "950", id="gt-750-vs-950-gate-on-would-tolerate"),
        pytest.param("Lt", "800", "950", id="lt-800-vs-950"),
        pytest.param("Lt", "950", "800", id="lt-950-vs-800-gate-on-would-tolerate"),
        pytest.param("Gt", "950", "950", id="gt-equal-values"),
        pytest.param("Gt", "950", "high", id="gt-non-numeric-taint"),
        pytest.param("Gt", "-100", "-200", id="gt-negative"),
        pytest.param("Gt", "9223372036854775806", "100", id="gt-near-int64-max"),
    ],
)
def test_comparison_operators_are_gated_off(operator: str, tol_value: str, taint_value: str) -> None:
    assert (
        tolerates(toleration("sla", operator, tol_value, "NoSchedule"), as_taint("sla", "NoSchedule", taint_value))
        is False
    )


UNTOLERATED_CASES = [
    # (taints, tolerations, effects, untolerated)
    pytest.param([], [], BLOCKING_EFFECTS, [], id="no-taints-no-tolerations"),  # I139 row 1
    pytest.param(
        [], [toleration("foo", "Exists", effect="NoSchedule")], BLOCKING_EFFECTS, [], id="no-taints-some-tolerations"
    ),  # I139 row 2
    pytest.param(
        [taint("bar", "NoSchedule")],
        [toleration("foo", "Exists", effect="NoSchedule")],
        set(),
        [],
        id="filter-drops-every-taint",
    ),  # I140 row 4
    pytest.param(
        [taint("bar", "NoSchedule")],
        [toleration("foo", "Exists", effect="NoSchedule")],
        {"NoSchedule", "NoExecute", "PreferNoSchedule"},
        ["bar:NoSchedule"],
        id="no-filter-untolerated",
    ),  # I140 row 5
    pytest.param(
        [taint("foo", "NoExecute"), taint("bar", "NoSchedule")],
        [toleration("foo", "Exists", effect="NoExecute")],
        {"NoExecute"},
        [],
        id="noexecute-filter-ignores-noschedule",
    ),  # I141 (how shouldContinueRunning is computed)
    pytest.param(
        [taint("a", "NoSchedule"), taint("b", "PreferNoSchedule"), taint("c", "NoExecute", "1")],
        [],
        BLOCKING_EFFECTS,
        ["a:NoSchedule", "c=1:NoExecute"],
        id="prefernoschedule-never-blocks-and-all-are-listed-in-node-order",
    ),  # r-not-checked
]


@pytest.mark.parametrize(("taints", "tolerations", "effects", "untolerated"), UNTOLERATED_CASES)
def test_untolerated_taints(
    taints: list[dict[str, Any]], tolerations: list[dict[str, Any]], effects: Any, untolerated: list[str]
) -> None:
    assert [str(t) for t in untolerated_taints(taints, tolerations, effects)] == untolerated


@pytest.mark.parametrize(
    ("node_taint", "text"),
    [
        pytest.param(as_taint("dedicated", "NoSchedule", "gpu"), "dedicated=gpu:NoSchedule", id="key-value-effect"),
        pytest.param(
            as_taint("node-role.kubernetes.io/control-plane", "NoSchedule"),
            "node-role.kubernetes.io/control-plane:NoSchedule",
            id="key-effect",
        ),
        pytest.param(Taint("dedicated", "", ""), "dedicated", id="key-only"),
        pytest.param(Taint("dedicated", "gpu", ""), "dedicated=gpu:", id="key-value-no-effect-keeps-colon"),
    ],
)
def test_taint_display(node_taint: Taint, text: str) -> None:
    assert str(node_taint) == text


@pytest.mark.parametrize(
    ("node_taint", "hint"),
    [
        pytest.param(
            as_taint("dedicated", "NoSchedule", "gpu"),
            "{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}",
            id="valued-taint-equal",
        ),
        pytest.param(
            as_taint("node-role.kubernetes.io/control-plane", "NoSchedule"),
            "{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}",
            id="valueless-taint-exists",
        ),
    ],
)
def test_toleration_hint_tolerates_the_taint(node_taint: Taint, hint: str) -> None:
    assert toleration_for(node_taint) == hint


# --- docs/rules.md#r-auto-tolerations: the tolerations the controller adds ---------------------------------

AUTO = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
NETWORK_UNAVAILABLE = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


def test_automatic_tolerations_without_host_network() -> None:
    assert daemonset_pod_tolerations([], host_network=False) == AUTO


def test_network_unavailable_toleration_only_with_host_network() -> None:
    assert daemonset_pod_tolerations([], host_network=True) == [*AUTO, NETWORK_UNAVAILABLE]


NOT_READY = "node.kubernetes.io/not-ready"

MERGE_CASES = [
    # (user tolerations, expected merged list)   AddOrUpdateTolerationInPodSpec
    pytest.param(
        [toleration(NOT_READY, "Exists", effect="NoExecute", seconds=300)],
        AUTO,
        id="same-key-operator-value-effect-replaced-by-infinite",
    ),  # M169
    pytest.param([dict(AUTO[0])], AUTO, id="deep-equal-toleration-kept-once"),
    pytest.param(
        [toleration(NOT_READY, "Equal", effect="NoExecute")],
        [toleration(NOT_READY, "Equal", effect="NoExecute"), *AUTO],
        id="different-operator-kept-next-to-auto",
    ),
    pytest.param(
        [toleration(NOT_READY, "Exists", effect="NoSchedule")],
        [toleration(NOT_READY, "Exists", effect="NoSchedule"), *AUTO],
        id="different-effect-kept-next-to-auto",
    ),
    pytest.param(
        [toleration("dedicated", "Equal", "gpu", "NoSchedule")],
        [toleration("dedicated", "Equal", "gpu", "NoSchedule"), *AUTO],
        id="unrelated-user-toleration-first-auto-appended",
    ),
    pytest.param(
        [toleration("dedicated", "Exists"), toleration(NOT_READY, "Exists", effect="NoExecute", seconds=5)],
        [toleration("dedicated", "Exists"), *AUTO],
        id="replaced-in-place-keeps-user-order",
    ),
]


@pytest.mark.parametrize(("user", "merged"), MERGE_CASES)
def test_merge_with_user_tolerations(user: list[dict[str, Any]], merged: list[dict[str, Any]]) -> None:
    before = [dict(t) for t in user]
    assert daemonset_pod_tolerations(user, host_network=False) == merged
    assert user == before  # the DaemonSet's own list is never changed


# --- through the predicate: what the automatic tolerations mean for a node ----------------------------------

AUTO_TAINT_CASES = [
    # (node taint, hostNetwork, (shouldRun, shouldContinueRunning))
    pytest.param(taint(NOT_READY, "NoExecute"), False, (True, True), id="not-ready-noexecute-auto-tolerated"),  # B45
    pytest.param(
        taint("node.kubernetes.io/unreachable", "NoExecute"),
        False,
        (True, True),
        id="unreachable-noexecute-auto-tolerated",
    ),  # B46
    pytest.param(
        taint("node.kubernetes.io/disk-pressure", "NoSchedule"), False, (True, True), id="disk-pressure-auto-tolerated"
    ),  # B49
    pytest.param(
        taint("node.kubernetes.io/memory-pressure", "NoSchedule"),
        False,
        (True, True),
        id="memory-pressure-auto-tolerated",
    ),  # B49
    pytest.param(
        taint("node.kubernetes.io/pid-pressure", "NoSchedule"), False, (True, True), id="pid-pressure-auto-tolerated"
    ),  # B49
    pytest.param(
        taint("node.kubernetes.io/unschedulable", "NoSchedule"), False, (True, True), id="unschedulable-auto-tolerated"
    ),  # M166
    pytest.param(
        taint("node.kubernetes.io/network-unavailable", "NoSchedule"),
        False,
        (False, True),
        id="network-unavailable-not-tolerated-without-host-network",
    ),  # r-auto-tolerations
    pytest.param(
        taint("node.kubernetes.io/network-unavailable", "NoSchedule"),
        True,
        (True, True),
        id="network-unavailable-tolerated-with-host-network",
    ),  # r-auto-tolerations
    pytest.param(
        taint(NOT_READY, "NoSchedule"), False, (False, True), id="not-ready-noschedule-has-no-auto-toleration"
    ),  # r-auto-tolerations gaps / M164
    pytest.param(
        taint("node.kubernetes.io/unreachable", "NoSchedule"),
        False,
        (False, True),
        id="unreachable-noschedule-has-no-auto-toleration",
    ),  # r-auto-tolerations gaps
    pytest.param(
        taint("node.kubernetes.io/out-of-service", "NoExecute", "nodeshutdown"),
        False,
        (False, False),
        id="out-of-service-has-no-auto-toleration",
    ),  # r-auto-tolerations gaps
]


@pytest.mark.parametrize(("node_taint", "host_network", "verdict"), AUTO_TAINT_CASES)
def test_automatic_tolerations_in_the_predicate(
    node_taint: dict[str, Any], host_network: bool, verdict: tuple[bool, bool]
) -> None:
    result = node_should_run_daemon_pod(make_daemonset(host_network=host_network), make_node(taints=[node_taint]))
    assert (result.should_run, result.should_continue_running) == verdict


def test_toleration_seconds_counts_as_full_toleration() -> None:
    # M168 / docs/rules.md#r-taint-eviction: the controller ignores tolerationSeconds, so the pod is created (and
    # later evicted by the taint-eviction controller, then recreated: a loop).
    ds = make_daemonset(tolerations=[toleration("maintenance", "Exists", effect="NoExecute", seconds=60)])
    result = node_should_run_daemon_pod(ds, make_node(taints=[taint("maintenance", "NoExecute", "true")]))
    assert (result.should_run, result.should_continue_running, result.reasons) == (True, True, ())


def test_user_not_ready_toleration_seconds_become_infinite() -> None:
    # M169: the user's 300s not-ready toleration is replaced by the automatic one, which has no seconds.
    user = [toleration(NOT_READY, "Exists", effect="NoExecute", seconds=300)]
    merged = daemonset_pod_tolerations(user, host_network=False)
    not_ready = [t for t in merged if t.get("key") == NOT_READY]
    assert not_ready == [{"key": NOT_READY, "operator": "Exists", "effect": "NoExecute"}]
