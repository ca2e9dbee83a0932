"""One node seen from every DaemonSet (kubectl_ds/placement/node_report.py): which pods are the DaemonSet's on
this node (bound there, or Pending and pinned there by matchFields: docs/rules.md#r-pod-node), the scheduler-side
checks against the other pods bound there, DaemonSets kept off only by taints a component removes
(docs/rules.md#r-managed-taints), and the node's facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pytest

from kubectl_ds.kube.quantity import parse_quantity
from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.node_report import assess_node, node_facts
from tests.builders import make_daemonset, make_node, make_pod, make_revision, taint

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
AGENT = make_daemonset("agent", uid="uid-agent", labels={"app": "agent"}, host_ports=[9100])
TWIN = make_daemonset("twin", uid="uid-twin", labels={"app": "agent"})  # same labels, another owner


def judge(node: dict[str, Any], bound: list[dict[str, Any]] | None, unscheduled: Sequence[dict[str, Any]] = ()) -> Any:
    return assess_node(
        node,
        [AGENT, TWIN],
        bound,
        list(unscheduled),
        [make_revision(AGENT, 1, "h1"), make_revision(TWIN, 1, "t1")],
        now=NOW,
        parse_quantity=parse_quantity,
    )


def by_name(assessment: Any) -> dict[str, Any]:
    return {ds.name: ds for ds in assessment.daemonsets}


def test_r_pod_node_pending_pods_count_for_the_node_they_are_pinned_to() -> None:
    here = make_pod("agent-here", owner=AGENT, phase="Pending", ready=False, target_node="n1", revision_hash="h1")
    elsewhere = make_pod("agent-there", owner=AGENT, phase="Pending", ready=False, target_node="n2")
    result = by_name(judge(make_node("n1"), [], [here, elsewhere]))
    assert [pod.name for pod in result["agent"].report.pods] == ["agent-here"]
    assert result["agent"].report.state == "Pending"


def test_pods_are_attributed_by_controller_owner_not_by_labels() -> None:
    pod = make_pod("agent-1", node="n1", owner=AGENT, revision_hash="h1")
    result = by_name(judge(make_node("n1"), [pod]))
    assert [p.name for p in result["agent"].report.pods] == ["agent-1"]
    assert result["twin"].report.pods == () and result["twin"].report.state == "missing"


def test_scheduler_checks_use_the_other_pods_bound_to_the_node() -> None:
    holder = make_pod("exporter", node="n1", namespace="monitoring", host_ports=[9100])
    result = by_name(judge(make_node("n1"), [holder]))
    [conflict] = [reason for reason in result["agent"].report.reasons if reason.code == codes.HOST_PORT_CONFLICT]
    assert "monitoring/exporter" in conflict.message
    assert not [reason for reason in result["twin"].report.reasons if reason.code == codes.HOST_PORT_CONFLICT]


def test_unknown_pods_make_every_state_unknown() -> None:
    result = by_name(judge(make_node("n1"), None))
    assert {ds.report.state for ds in result.values()} == {"unknown"}


@pytest.mark.parametrize(
    ("taints", "labels", "once_up"),
    [
        pytest.param([taint("node.kubernetes.io/not-ready", "NoSchedule")], {}, True, id="not-ready-only"),
        pytest.param(
            [
                taint("node.cilium.io/agent-not-ready", "NoSchedule", "true"),
                taint("karpenter.sh/unregistered", "NoExecute"),
            ],
            {},
            True,
            id="bootstrapper-taints",
        ),
        pytest.param(
            [taint("node.kubernetes.io/not-ready", "NoSchedule"), taint("dedicated", "NoSchedule", "gpu")],
            {},
            False,
            id="an-operator-taint-too",
        ),
        pytest.param([], {}, False, id="wanted-now"),
        pytest.param(
            [
                taint("node.kubernetes.io/not-ready", "NoSchedule"),
                taint("ToBeDeletedByClusterAutoscaler", "NoSchedule"),
            ],
            {},
            False,
            id="a-node-on-its-way-out-is-not-waited-for",
        ),
    ],
)
def test_r_managed_taints_daemonsets_that_run_once_the_node_is_up(
    taints: list[dict[str, Any]], labels: dict[str, str], once_up: bool
) -> None:
    result = judge(make_node("n1", taints=taints, labels=labels), [])
    agent = by_name(result)["agent"]
    assert agent.once_up is once_up
    assert (agent in result.expected) is (once_up or agent.report.should_run)


def test_a_selector_exclusion_is_not_waited_for() -> None:
    selective = make_daemonset("gpu", uid="uid-gpu", node_selector={"gpu": "true"})
    node = make_node("n1", taints=[taint("node.kubernetes.io/not-ready", "NoSchedule")])
    result = assess_node(node, [selective], [], [], [], now=NOW, parse_quantity=parse_quantity)
    [ds] = result.daemonsets
    assert not ds.once_up and not ds.relevant and result.expected == ()
    assert ds.exclusion == "nodeSelector gpu=true + taint node.kubernetes.io/not-ready:NoSchedule"


@pytest.mark.parametrize(
    ("node", "ready_text", "managed"),
    [
        pytest.param(make_node("n1"), "Ready", [], id="ready"),
        pytest.param(make_node("n1", ready=False), "NotReady", [], id="not-ready"),
        pytest.param(make_node("n1", ready="Unknown"), "NotReady (Ready=Unknown)", [], id="unknown"),
        pytest.param(
            make_node("n1", taints=[taint("node.kubernetes.io/unreachable", "NoExecute"), taint("a", "NoSchedule")]),
            "Ready",
            ["the node lifecycle controller", None],
            id="managed-and-operator-taints",
        ),
    ],
)
def test_node_facts(node: dict[str, Any], ready_text: str, managed: list[str | None]) -> None:
    facts = node_facts(node)
    assert facts.ready_text == ready_text
    assert [fact.managed_by for fact in facts.taints] == managed
