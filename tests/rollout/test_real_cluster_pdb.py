"""Rollouts under PodDisruptionBudgets (docs/rules.md#r-eviction), against the simulator's disruption controller
and the API server's eviction subresource: pinned on manual time (see tests/rollout_harness.py), and the exit
code of a refused `kubectl ds rollout start` end to end over HTTP.

What a PDB does to a DaemonSet's pods: `maxUnavailable` or a percentage `minAvailable` needs the owner's scale
subresource, which a DaemonSet lacks, so it never allows an eviction (start refuses, before any write); an
integer `minAvailable` works (each eviction waits, 429, until enough pods are healthy again); two PDBs on a pod
make every eviction a 500 (start refuses). `--delete` (evict=False) bypasses them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubectl_ds.errors import Refused
from kubectl_ds.render.rollout import outcome_message
from kubectl_ds.rollout.state import RolloutOptions
from tests.conftest import Invoke
from tests.rollout.test_runner import FINISHED, NEW, OLD, RESUME_HINT, V2, halt_message, image, images, manual_cluster
from tests.rollout_harness import Harness
from tests.rollout_support import NAME, NAMESPACE, simulated_cluster

Obj = dict[str, Any]
SCALE = "daemonsets.apps does not implement the scale subresource"
LACKS = (
    "needs the owner's scale subresource, which a DaemonSet lacks, so the disruption controller fails to sync it "
    "(SyncFailed) and allows no eviction"
)
FIX = (
    "fix the PodDisruptionBudget (an integer minAvailable works for a DaemonSet), or use --delete, which bypasses "
    "PodDisruptionBudgets"
)
REFUSING = 'refusing to start the rollout of daemonset "agent" (nothing was changed): '


def budget(name: str = "agents", **spec: Any) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, **spec},
    }


def under(h: Harness, *pdbs: Obj, synced: bool = True) -> Harness:
    """The PDBs created; `synced`: the disruption controller has written their status (else not yet)."""
    for pdb in pdbs:
        h.server.add(pdb, defaults=True)
    if synced:
        h.cluster.run_for(1)
        h.restart_clock()
    return h


def old_pods(h: Harness) -> dict[str, str]:
    """Pod name -> node, of the pods running now (the old ones, before a rollout)."""
    return {p["metadata"]["name"]: p["spec"]["nodeName"] for p in h.server.objects("Pod", NAMESPACE)}


def evictions(h: Harness, node_of: dict[str, str]) -> list[tuple[float, str, int]]:
    """(seconds, node, HTTP status) of each eviction the driver asked for."""
    return [
        (round((moment - h.start).total_seconds(), 1), node_of[request.path.split("/")[6]], request.status)
        for moment, request in h.cluster.log
        if request.path.endswith("/eviction")
    ]


def writes(h: Harness) -> list[str]:
    return [f"{request.method} {request.path}" for _, request in h.cluster.log if request.method != "GET"]


# --- PDBs that never allow an eviction: start refuses -------------------------------------------------------------

NEVER = "PodDisruptionBudget agents never allows evicting these pods: "


@pytest.mark.parametrize(
    ("pdbs", "synced", "refusal"),
    [
        pytest.param(
            [budget(maxUnavailable=1)], True, f"{NEVER}its status says SyncFailed ({SCALE})", id="max-unavailable"
        ),
        pytest.param(
            [budget(maxUnavailable=1)],
            False,
            f"{NEVER}maxUnavailable 1 {LACKS}",
            id="max-unavailable-before-the-controller-saw-it",
        ),
        pytest.param(
            [budget(minAvailable="50%")],
            True,
            f"{NEVER}its status says SyncFailed ({SCALE})",
            id="percentage-min-available",
        ),
        pytest.param(
            [budget(minAvailable="50%")],
            False,
            f"{NEVER}minAvailable 50% (a percentage) {LACKS}",
            id="percentage-min-available-before-the-controller-saw-it",
        ),
        pytest.param(
            [budget("a", minAvailable=1), budget("b", minAvailable=1)],
            True,
            "more than one PodDisruptionBudget (a, b) selects 3 of these pods (e.g. {pod}): the eviction API "
            "answers 500 for every such pod",
            id="two-pdbs-on-the-same-pods",
        ),
    ],
)
def test_r_eviction_a_pdb_that_never_allows_an_eviction_refuses_the_start_before_any_write(
    pdbs: list[Obj], synced: bool, refusal: str
) -> None:
    h = under(manual_cluster(nodes=3), *pdbs, synced=synced)
    before = h.daemonset()["metadata"]["resourceVersion"]
    with pytest.raises(Refused) as caught:
        h.rollout().start(V2, RolloutOptions())
    message = caught.value.message
    example = message.split("(e.g. ")[1].split(")")[0] if "(e.g. " in message else ""
    assert example in {"", *(p["metadata"]["name"] for p in h.server.objects("Pod", NAMESPACE))}
    assert message == f"{REFUSING}{refusal.format(pod=example)}; {FIX}"
    assert (writes(h), h.daemonset()["metadata"]["resourceVersion"], h.said) == ([], before, [])


def test_r_eviction_an_integer_min_available_of_every_pod_refuses_the_start() -> None:
    h = under(manual_cluster(nodes=3), budget(minAvailable=3))
    with pytest.raises(Refused):
        h.rollout().start(V2, RolloutOptions(step_timeout=10))


def test_r_eviction_a_surge_rollout_is_not_refused_for_a_pdb_it_never_asks() -> None:
    h = under(manual_cluster(nodes=3, max_unavailable=0, max_surge=1), budget(maxUnavailable=1))
    assert outcome_message(h.rollout().start(V2, RolloutOptions(max_unavailable=0, max_surge=1))) == FINISHED


def test_r_eviction_delete_bypasses_a_pdb_that_never_allows_an_eviction() -> None:
    h = under(manual_cluster(nodes=3), budget(maxUnavailable=1))
    h.invariants.armed = True
    node_of = old_pods(h)
    assert outcome_message(h.rollout().start(V2, RolloutOptions(evict=False))) == FINISHED
    assert h.said[0] == (0.0, f"warning (PDBNeverAllowsEviction): {NEVER}its status says SyncFailed ({SCALE})")
    deleted = [line.split() for line in writes(h) if "/pods/" in line]
    assert sorted((method, path.rsplit("/", 1)[1]) for method, path in deleted) == sorted(
        ("DELETE", name) for name in node_of
    )
    assert images(h) == {f"node-{i}": NEW for i in range(3)}
    assert h.invariants.violations == []


# --- an integer minAvailable: one at a time ------------------------------------------------------------------------

LIMITS = (
    "warning (PDBLimitsEvictions): PodDisruptionBudget agents (minAvailable 3) allows an eviction only while "
    "more than 3 of the 4 pods it selects are healthy; it allows 1 now: a step waits for it"
)


def test_r_eviction_an_integer_min_available_pdb_lets_a_rollout_go_one_pod_at_a_time() -> None:
    """A budget of 2 nodes, but the PDB keeps 3 of 4 pods healthy: the second eviction of each step is refused
    (429) until the first node's new pod is Ready and the disruption controller has counted it, then retried."""
    h = under(manual_cluster(nodes=4, max_unavailable=1), budget(minAvailable=3))  # the PDB's limit, not the budget's
    h.invariants.armed = True
    node_of = old_pods(h)
    assert outcome_message(h.rollout().start(V2, RolloutOptions(max_unavailable=2))) == FINISHED
    assert h.said == [
        (0.0, LIMITS),
        (0.0, "daemonset.apps/agent parked (updateStrategy OnDelete) and changed: image agent=agent:v2"),
        (0.2, "step 1 of 2: node-0, node-1"),
        (3.2, "step 1 of 2 done: node-0, node-1 updated (2 of 4 nodes done)"),
        (3.2, "step 2 of 2: node-2, node-3"),
        (6.2, "step 2 of 2 done: node-2, node-3 updated (4 of 4 nodes done)"),
    ]
    assert evictions(h, node_of) == [
        (0.2, "node-0", 201),
        (0.2, "node-1", 429),
        (2.2, "node-1", 201),
        (3.2, "node-2", 201),
        (3.2, "node-3", 429),
        (5.2, "node-3", 201),
    ]
    assert images(h) == {f"node-{i}": NEW for i in range(4)}
    assert h.invariants.violations == []  # never two nodes without an available pod


def test_r_eviction_a_crash_loop_in_the_step_is_the_halt_reason_not_the_pdb_that_refuses_meanwhile() -> None:
    h = under(manual_cluster(nodes=4, max_unavailable=2), budget(minAvailable=3))
    h.invariants.armed = True
    node_of = old_pods(h)
    message = halt_message(lambda: h.rollout().start(image("agent:crash"), RolloutOptions(max_unavailable=2)))
    reason = "node-0: container agent is crash-looping (3 restarts, last exit code 1 (Error))"
    assert message == f'rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}'
    assert h.elapsed() == 34.2  # the crash loop's third restart, seen at a retry of the refused eviction
    assert evictions(h, node_of) == [(0.2, "node-0", 201)] + [(round(0.2 + 2 * i, 1), "node-1", 429) for i in range(18)]
    assert images(h) == {"node-0": "agent:crash", "node-1": OLD, "node-2": OLD, "node-3": OLD}
    assert h.invariants.violations == []


# --- the command, over HTTP --------------------------------------------------------------------------------------


def test_r_eviction_start_refused_by_a_pdb_exits_5_and_changes_nothing(
    invoke: Invoke, tmp_path: Path, isolated_env: Path
) -> None:
    with simulated_cluster(tmp_path, nodes=3) as sim:
        sim.server.add(budget(maxUnavailable=1), defaults=True)
        sim.simulator.settle()  # the disruption controller has written its status

        def rollout(*args: str) -> tuple[int, str, str]:
            result = invoke("rollout", *args, "--kubeconfig", sim.kubeconfig, "-n", NAMESPACE)
            return result.exit_code, result.stdout, result.stderr

        before = sim.daemonset()["metadata"]["resourceVersion"]
        refusal = f"{REFUSING}{NEVER}its status says SyncFailed ({SCALE}); {FIX}"
        assert rollout("start", NAME, "--image", "agent=agent:v2") == (5, "", f"error: {refusal}\n")
        assert sim.daemonset()["metadata"]["resourceVersion"] == before
        code, out, _ = rollout("plan", NAME, "--image", "agent=agent:v2")
        assert code == 0 and f"start would refuse, before any write: {NEVER}" in out
        sim.invariants.armed = True
        code, out, err = rollout("start", NAME, "--image", "agent=agent:v2", "--delete")
        assert (code, err) == (0, "")
        assert out.rstrip().endswith(FINISHED)
        assert sim.invariants.violations == []
