"""Randomized managed rollouts with injected faults (tests/test_rollout_faults.py), on a cluster that is unkind
as well: a node that is unreachable from the start or becomes so mid-rollout (docs/rules.md#r-node-lifecycle),
a node that joins (docs/rules.md#r-on-delete), and an integer-minAvailable PodDisruptionBudget that refuses
evictions (docs/rules.md#r-eviction). Real time, over HTTP; the safety invariants are asserted on every change.

Whatever happens: never more nodes without an available pod than the budget (than the PDB allows, under a
PDB), never two pods on a node, and in the end every Ready node updated, the original strategy restored and
no state left; a node unreachable at the end may stay old, is never evicted, and is updated by the controller
once it is back.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from kubectl_ds.rollout.state import RolloutOptions
from tests.rollout_support import NAMESPACE, SimCluster, simulated_cluster
from tests.test_rollout_faults import SURGE_SEEDS, assert_final, inject_random_faults, run_to_completion

SEEDS = SURGE_SEEDS  # 3 by default; KUBECTL_DS_FAULT_SEEDS=50 for a soak
EVERY_TAINT = [{"operator": "Exists"}]
Obj = dict[str, Any]


def survive(sim: SimCluster, options: RolloutOptions, rng: random.Random) -> None:
    """Faults, a driver killed at random (then resumed with --force), and the safety invariants throughout."""
    inject_random_faults(sim, rng)
    run_to_completion(sim, options, rng, kill=rng.random() < 0.7)
    assert sim.invariants.violations == []
    assert sim.invariants.moved_while_parked() == []
    assert_final(sim)


def on_pod_deleted(sim: SimCluster, count: int, action: Any) -> None:
    """Run `action` once, when the `count`-th DaemonSet pod is gone (an old pod the rollout removed)."""
    gone: list[str] = []

    def listener(event_type: str, obj: Obj) -> None:
        if obj.get("kind") == "Pod" and event_type == "DELETED" and len(gone) < count:
            gone.append(obj["metadata"]["name"])
            if len(gone) == count:
                action()

    sim.server.add_listener(listener)


def pods_on(sim: SimCluster, node: str, *, objects: bool = False) -> list[Any]:
    """The names (or the objects) of the pods on `node`, terminating ones included."""
    found = [p for p in sim.server.objects("Pod", NAMESPACE) if p["spec"].get("nodeName") == node]
    return found if objects else [p["metadata"]["name"] for p in found]


def hash_of(pod: Obj) -> str:
    return str(pod["metadata"]["labels"].get("controller-revision-hash"))


def removals_of(sim: SimCluster, pod: str) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in sim.server.requests
        if f"/pods/{pod}" in r.path and (r.method == "DELETE" or r.path.endswith("/eviction"))
    ]


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed-{s}" for s in SEEDS])
def test_r_node_lifecycle_rollout_around_an_unreachable_node_survives_faults_and_kills(
    tmp_path: Path, isolated_env: Path, seed: int
) -> None:
    rng = random.Random(300 + seed)
    nodes, budget = rng.randint(4, 6), rng.choice([1, 2])
    with simulated_cluster(tmp_path, nodes=nodes, max_unavailable=budget, tolerations=EVERY_TAINT) as sim:
        lost = f"node-{nodes - 1}"  # last in the order: lost before any step reaches it
        [pod] = pods_on(sim, lost)
        start = sim.current_hash()
        if rng.random() < 0.5:
            sim.simulator.make_unreachable(lost)
            sim.simulator.settle()
        else:
            on_pod_deleted(sim, 1, lambda: sim.simulator.make_unreachable(lost))
        sim.invariants.armed = True
        # With a budget of 1 the unreachable node alone would use it up: leave it out of the budget too.
        survive(sim, RolloutOptions(max_unavailable=budget, step_timeout=20.0, skip_unreachable=budget == 1), rng)
        assert removals_of(sim, pod) == []
        # Left out; the restored RollingUpdate may delete the old pod there, which then terminates until it is back.
        assert [hash_of(p) for p in pods_on(sim, lost, objects=True)] == [start]
        sim.simulator.make_reachable(lost)
        sim.simulator.settle()
        assert sim.pod_hashes()[lost] == sim.current_hash()  # the restored strategy updates it


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed-{s}" for s in SEEDS])
def test_r_on_delete_rollout_with_a_joining_node_survives_faults_and_kills(
    tmp_path: Path, isolated_env: Path, seed: int
) -> None:
    rng = random.Random(400 + seed)
    nodes, budget = rng.randint(4, 6), rng.choice([1, 2])
    with simulated_cluster(tmp_path, nodes=nodes, max_unavailable=budget) as sim:
        joined = "node-9"
        sim.invariants.baseline_unavailable.add(joined)  # a node waiting for its first pod is not the rollout's doing
        when = rng.randint(0, 2)  # before the start, or once the first or second old pod is gone
        if when == 0:
            sim.simulator.add_node(joined)
            sim.simulator.settle()
        else:
            on_pod_deleted(sim, when, lambda: sim.simulator.add_node(joined))
        sim.invariants.armed = True
        survive(sim, RolloutOptions(max_unavailable=budget, step_timeout=20.0), rng)
        assert joined in sim.pod_hashes()  # ... and updated: assert_final checks every Ready node


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed-{s}" for s in SEEDS])
def test_r_eviction_rollout_under_an_integer_min_available_pdb_survives_faults_and_kills(
    tmp_path: Path, isolated_env: Path, seed: int
) -> None:
    rng = random.Random(500 + seed)
    nodes, budget = rng.randint(4, 6), rng.choice([1, 2])
    # The PDB keeps all pods but one healthy: whatever the rollout's budget, one node at a time is the limit.
    with simulated_cluster(tmp_path, nodes=nodes, max_unavailable=1) as sim:
        sim.server.add(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "agents", "namespace": NAMESPACE},
                "spec": {"selector": {"matchLabels": {"app": "agent"}}, "minAvailable": nodes - 1},
            },
            defaults=True,
        )
        sim.simulator.settle()
        sim.invariants.armed = True
        survive(sim, RolloutOptions(max_unavailable=budget, step_timeout=20.0), rng)
        if budget == 2:
            assert any(r.status == 429 for r in sim.server.requests if r.path.endswith("/eviction"))
