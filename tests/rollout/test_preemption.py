"""Surge and preemption (docs/rules.md#r-preemption): a surge pod is pinned to its node; when it does not fit
next to the old one and its priority is higher (system-node-critical agents), the scheduler preempts
lower-priority pods there. `start --max-surge` names them and refuses unless --allow-preemption; with it, a
surge pod the scheduler nominated a node for is progress, not a failure."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_ds.errors import Refused
from kubectl_ds.kube.quantity import parse_quantity
from kubectl_ds.render.rollout import event_line, outcome_message
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.state import RolloutOptions
from tests import rollout_harness
from tests.rollout_harness import Harness

V2 = Change(images=(("agent", "agent:v2"),), description="image agent=agent:v2")


def critical_agent_next_to_a_web_pod() -> Harness:
    """Two 4-cpu nodes; the agent asks 2 cpu at system-node-critical; a 1.5-cpu web pod shares node-0, so a
    second agent pod fits on node-1 only."""
    h = rollout_harness.manual_cluster(nodes=2, max_unavailable=0, max_surge=1, words=event_line)

    def critical(daemonset: dict[str, Any]) -> None:
        spec = daemonset["spec"]["template"]["spec"]
        spec["priorityClassName"] = "system-node-critical"
        spec["containers"][0]["resources"] = {"requests": {"cpu": "2"}}

    h.update_daemonset(critical)
    h.cluster.run_for(60)  # the controller rolls it (RollingUpdate): both nodes run the critical agent
    h.server.add(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "nodeName": "node-0",
                "containers": [{"name": "web", "image": "web:1", "resources": {"requests": {"cpu": "1500m"}}}],
            },
            "status": {"phase": "Running"},
        }
    )
    h.cluster.run_for(1)
    return h


def test_a_surge_that_would_preempt_is_refused_before_any_write() -> None:
    h = critical_agent_next_to_a_web_pod()
    before = h.daemonset()["metadata"]["resourceVersion"]
    with pytest.raises(Refused) as refused:
        h.rollout(parse_quantity=parse_quantity).start(V2, RolloutOptions(max_unavailable=0, max_surge=1))
    assert (
        "the surge pod (priority 2000001000) does not fit on 1 node, so the scheduler would preempt "
        "lower-priority pods there: node-0: default/web" in refused.value.message
    )
    assert refused.value.message.endswith("use --max-unavailable instead, or --allow-preemption to accept it")
    assert h.daemonset()["metadata"]["resourceVersion"] == before


def test_with_allow_preemption_a_nominated_surge_pod_is_progress_not_a_failure() -> None:
    h = critical_agent_next_to_a_web_pod()
    outcome = h.rollout(parse_quantity=parse_quantity).start(
        V2, RolloutOptions(max_unavailable=0, max_surge=1, allow_preemption=True, unschedulable_timeout=1)
    )
    assert outcome_message(outcome) == 'daemon set "agent" successfully rolled out; updateStrategy restored'
    assert h.lines()[0].startswith("warning (PreemptionRisk): the surge pod (priority 2000001000)")
    assert h.server.get("Pod", "default", "web") is None  # preempted
