"""What-if on a node (kubectl_ds/placement/node_change.py): kubectl's taint and label syntax, the change applied
in memory, and each DaemonSet's outcome from the controller's verdicts before and after
(docs/rules.md#r-predicate: (T,T) keeps or creates, (F,T) keeps as misscheduled, (F,F) deletes; an untolerated
NoExecute taint evicts)."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kubectl_ds.errors import UsageError
from kubectl_ds.placement import node_change as nc
from kubectl_ds.placement.node_change import NodeChange, apply_change, node_change, outcome, parse_label, parse_taint
from kubectl_ds.placement.report import assess_nodes
from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.placement.taints import Taint
from tests.builders import make_daemonset, make_node, make_pod, taint, toleration

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        pytest.param("dedicated=gpu:NoSchedule", Taint("dedicated", "gpu", "NoSchedule"), id="key-value-effect"),
        pytest.param("example.com/maint:NoExecute", Taint("example.com/maint", "", "NoExecute"), id="key-effect"),
        pytest.param("dedicated:NoSchedule-", ("dedicated", "NoSchedule"), id="remove-one-effect"),
        pytest.param(
            "node.cilium.io/agent-not-ready-", ("node.cilium.io/agent-not-ready", ""), id="remove-every-effect"
        ),
    ],
)
def test_taint_syntax_as_kubectl_taint(text: str, parsed: object) -> None:
    assert parse_taint(text) == parsed


@pytest.mark.parametrize(
    "text", ["dedicated", "dedicated=gpu", "a=b:Sometimes", "=v:NoSchedule", "a b=c:NoSchedule", "a:Maybe-"]
)
def test_bad_taints_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match=f'invalid taint "{text}" for --taint'):
        parse_taint(text)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        pytest.param("kubernetes.io/os=linux", ("kubernetes.io/os", "linux"), id="set"),
        pytest.param("empty=", ("empty", ""), id="empty-value"),
        pytest.param("kubernetes.io/os-", ("kubernetes.io/os", None), id="remove"),
    ],
)
def test_label_syntax_as_kubectl_label(text: str, parsed: tuple[str, str | None]) -> None:
    assert parse_label(text) == parsed


@pytest.mark.parametrize("text", ["nolabel", "a b=c", "a=b c", "a=" + "x" * 64])
def test_bad_labels_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="for --label"):
        parse_label(text)


def test_apply_change_is_in_memory_and_follows_kubectl() -> None:
    node = make_node(
        "n1", labels={"a": "1", "b": "2"}, taints=[taint("x", "NoSchedule", "old"), taint("y", "NoExecute")]
    )
    original = copy.deepcopy(node)
    change = node_change(("x=new:NoSchedule", "y-", "z:PreferNoSchedule"), ("a-", "c=3"), cordon=True)
    changed = apply_change(node, change)
    assert node == original  # untouched
    assert changed["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert changed["spec"]["unschedulable"] is True
    assert changed["spec"]["taints"] == [
        {"key": "x", "value": "new", "effect": "NoSchedule"},  # --overwrite: one taint per key and effect
        {"key": "z", "effect": "PreferNoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},  # the lifecycle controller's mirror
    ]
    assert (
        change.describe()
        == "taint x=new:NoSchedule, taint z:PreferNoSchedule, remove taint y, remove label a, label c=3, cordon"
    )
    assert NodeChange().empty and not change.empty


DS = make_daemonset("agent", uid="uid-agent", node_selector={"role": "worker"})
TOLERANT = make_daemonset("cni", uid="uid-cni", tolerations=[toleration(operator="Exists")])


def verdict_pair(daemonset: dict, labels: dict[str, str], change: NodeChange, *, with_pod: bool) -> str:
    node = make_node("n1", labels=labels)
    pods = [make_pod("p", node="n1", owner=daemonset)] if with_pod else []
    revisions = index_revisions(daemonset, [])
    before = assess_nodes(daemonset, [node], pods, revisions, now=NOW).nodes[0]
    after = assess_nodes(daemonset, [apply_change(node, change)], pods, revisions, now=NOW).nodes[0]
    return outcome(before, after)


WORKER = {"role": "worker"}
OUTCOME_CASES = [
    pytest.param(DS, WORKER, node_change(("m=1:NoExecute",), (), False), True, nc.EVICTED, id="noexecute-evicts"),
    pytest.param(
        DS, WORKER, node_change(("m=1:NoSchedule",), (), False), True, nc.KEPT_MISSCHEDULED, id="noschedule-keeps"
    ),
    pytest.param(
        DS, WORKER, node_change(("m=1:PreferNoSchedule",), (), False), True, nc.KEPT, id="prefer-never-blocks"
    ),
    pytest.param(DS, WORKER, node_change((), ("role-",), False), True, nc.DELETED, id="unselected-deleted"),
    pytest.param(DS, WORKER, node_change((), (), True), True, nc.KEPT, id="cordon-tolerated-automatically"),
    pytest.param(TOLERANT, {}, node_change(("m=1:NoExecute",), (), False), True, nc.KEPT, id="tolerates-everything"),
    pytest.param(DS, {}, node_change((), ("role=worker",), False), False, nc.CREATED, id="label-selects-creates"),
    pytest.param(DS, WORKER, node_change(("m=1:NoSchedule",), (), False), False, nc.NO_LONGER_WANTED, id="no-pod-yet"),
    pytest.param(DS, WORKER, node_change((), (), True), False, nc.STILL_WANTED, id="still-wanted-without-pod"),
    pytest.param(DS, {}, node_change(("m=1:NoSchedule",), (), False), False, nc.UNAFFECTED, id="excluded-stays-so"),
]


@pytest.mark.parametrize(("daemonset", "labels", "change", "with_pod", "expected"), OUTCOME_CASES)
def test_r_predicate_what_if_outcomes(
    daemonset: dict, labels: dict[str, str], change: NodeChange, with_pod: bool, expected: str
) -> None:
    assert verdict_pair(daemonset, labels, change, with_pod=with_pod) == expected
