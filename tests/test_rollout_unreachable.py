"""Managed rollouts and unreachable nodes (docs/rules.md#r-node-lifecycle): a node whose kubelet stopped
posting never finishes a graceful delete, so a rollout must never evict there. It leaves such nodes out of
its steps, names them, finishes (exit 0) with the original strategy restored, and refuses before any write
when they alone use up the budget. A node lost after its pod was updated is a failure: halt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubectl_ds.rollout.state import STATE_ANNOTATION
from tests.conftest import Invoke
from tests.rollout_support import NAME, NAMESPACE, SimCluster, simulated_cluster


@pytest.fixture
def cluster(tmp_path: Path, isolated_env: Path) -> SimCluster:
    # An agent that tolerates every taint (kube-proxy, CNIs) still wants an unreachable node.
    with simulated_cluster(tmp_path, nodes=5, max_unavailable=2, tolerations=[{"operator": "Exists"}]) as sim:
        yield sim


def rollout(invoke: Invoke, sim: SimCluster, *args: str) -> tuple[int, str, str]:
    result = invoke("rollout", *args, "--kubeconfig", sim.kubeconfig, "-n", NAMESPACE)
    return result.exit_code, result.stdout, result.stderr


def evictions_on(sim: SimCluster, node: str) -> list[str]:
    pods_there = {
        p["metadata"]["name"] for p in sim.server.objects("Pod", NAMESPACE) if p["spec"].get("nodeName") == node
    }
    return [r.path for r in sim.server.requests if r.path.endswith("/eviction") and r.path.split("/")[6] in pods_there]


def test_an_unreachable_node_is_left_out_and_the_rollout_finishes(invoke: Invoke, cluster: SimCluster) -> None:
    cluster.simulator.set_node_ready("node-2", False)
    cluster.simulator.settle()
    code, out, err = rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--max-unavailable", "2")
    assert (code, err) == (0, "")
    last = out.splitlines()[-1]
    assert last.startswith(
        'daemon set "agent" successfully rolled out; updateStrategy restored; left out 1 '
        "unreachable node: node-2 (unreachable since 20"
    )
    assert last.endswith("the controller updates it when it returns")
    assert evictions_on(cluster, "node-2") == []
    assert not [r for r in cluster.server.requests if r.method == "DELETE" and "/pods/" in r.path]
    daemonset = cluster.daemonset()
    assert daemonset["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    assert STATE_ANNOTATION not in (daemonset["metadata"].get("annotations") or {})


def test_plan_names_unreachable_nodes_and_since_when(invoke: Invoke, cluster: SimCluster) -> None:
    cluster.simulator.set_node_ready("node-4", False)
    cluster.simulator.settle()
    code, out, _ = rollout(invoke, cluster, "plan", NAME, "--image", "agent=agent:v2", "--max-unavailable", "2")
    assert code == 0
    assert "node-4" not in "".join(line for line in out.splitlines() if line.startswith("  step"))
    assert "warning (UnreachableNodes): 1 node unreachable: node-4 (since 20" in out


@pytest.mark.parametrize("extra", [[], ["--dry-run"]], ids=["start", "dry-run"])
def test_unreachable_nodes_that_use_up_the_budget_refuse_the_start_before_any_write(
    invoke: Invoke, cluster: SimCluster, extra: list[str]
) -> None:
    cluster.simulator.set_node_ready("node-1", False)
    cluster.simulator.settle()
    before = cluster.daemonset()["metadata"]["resourceVersion"]
    code, out, err = rollout(
        invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--max-unavailable", "1", *extra
    )
    assert (code, out) == (5, "")
    assert err.startswith(
        'error: refusing to start the rollout of daemonset "agent" (nothing was changed): 1 '
        "unreachable node uses up --max-unavailable 1: node-1 (unreachable since "
    )
    assert err.endswith(
        "Use a larger --max-unavailable, or --skip-unreachable to leave unreachable nodes out of the budget\n"
    )
    assert cluster.daemonset()["metadata"]["resourceVersion"] == before


def test_skip_unreachable_leaves_them_out_of_the_budget_too(invoke: Invoke, cluster: SimCluster) -> None:
    cluster.simulator.set_node_ready("node-1", False)
    cluster.simulator.settle()
    code, out, err = rollout(
        invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--max-unavailable", "1", "--skip-unreachable"
    )
    assert (code, err) == (0, "")
    assert "left out 1 unreachable node: node-1" in out
    assert evictions_on(cluster, "node-1") == []


def test_a_node_lost_after_its_pod_was_updated_halts_the_rollout(invoke: Invoke, cluster: SimCluster) -> None:
    def lose_node_0_after_step_1(event_type: str, obj: dict[str, Any], fired: list[bool] = []) -> None:  # noqa: B006
        state = ((obj.get("metadata") or {}).get("annotations") or {}).get(STATE_ANNOTATION)
        if not fired and obj.get("kind") == "DaemonSet" and state and json.loads(state).get("steps_done") == 1:
            fired.append(True)
            cluster.simulator.set_node_ready("node-0", False)

    cluster.server.add_listener(lose_node_0_after_step_1)
    code, _, err = rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--max-unavailable", "1")
    assert code == 4
    assert err.startswith('error: rollout of daemonset "agent" halted: node-0 went unreachable (since 20')
    assert "after its pod was updated; a node lost after an update is a failure signal" in err
    state = json.loads(cluster.daemonset()["metadata"]["annotations"][STATE_ANNOTATION])
    assert (state["phase"], state["steps_done"]) == ("halted", 1)
