"""The rollout order and scope, driven end to end on manual time (tests/rollout_harness.py): growing steps,
spread canaries, waves and the --nodes scope, each kept in the rollout state so that `resume` needs no flag.
The plans themselves are pinned in tests/rollout/test_ordering.py."""

from __future__ import annotations

from kubectl_ds.render.rollout import outcome_message
from kubectl_ds.rollout.state import RolloutOptions
from tests.rollout.test_runner import NEW, OLD, V2, assert_finished, images, manual_cluster, phase
from tests.rollout_harness import Harness

ZONE, ARCH = "topology.kubernetes.io/zone", "kubernetes.io/arch"


def label(h: Harness, labels: dict[str, dict[str, str]]) -> None:
    """Give nodes labels (as a node's kubelet or a cloud provider would), before the rollout starts."""
    for node in h.server.objects("Node"):
        extra = labels.get(node["metadata"]["name"])
        if extra:
            node["metadata"].setdefault("labels", {}).update(extra)
            h.server.update_object(node)
    h.cluster.run_for(0)


def starts(h: Harness) -> list[str]:
    return [line for line in h.lines() if line.startswith("step ") and " done: " not in line]


def test_growing_steps_take_each_size_in_turn_and_resume_continues_the_sizes() -> None:
    h = manual_cluster(nodes=8, max_unavailable=8)
    h.invariants.armed = True
    outcome = h.rollout().start(V2, RolloutOptions(max_unavailable=8, step_size="1,2,4"), steps=2)
    assert outcome.paused
    assert starts(h) == ["step 1 of 4: node-0", "step 2 of 4: node-1, node-2"]
    assert h.state()["sized_steps"] == 2
    h.restart_clock()
    assert (
        outcome_message(h.rollout().resume()) == 'daemon set "agent" successfully rolled out; updateStrategy restored'
    )
    # Not a step of 1 again: the sizes go on where the first run left them (4, then the last size repeats).
    assert starts(h) == ["step 3 of 4: node-3, node-4, node-5, node-6", "step 4 of 4: node-7"]
    assert_finished(h, 8)


def test_spread_canaries_are_one_node_per_zone_and_arch_and_steps_1_stops_after_them() -> None:
    h = manual_cluster(nodes=6, max_unavailable=3)
    zones = ["a", "a", "b", "b", "c", "c"]
    label(h, {f"node-{i}": {ZONE: zone, ARCH: "arm64" if i == 3 else "amd64"} for i, zone in enumerate(zones)})
    h.invariants.armed = True
    outcome = h.rollout().start(V2, RolloutOptions(max_unavailable=3, canary_spread=f"{ZONE},{ARCH}"), steps=1)
    assert outcome.paused
    assert starts(h) == ["step 1 of 2: node-0, node-3, node-4 (canary)"]
    assert images(h) == {
        "node-0": NEW,
        "node-1": OLD,
        "node-2": OLD,
        "node-3": NEW,  # the only arm64 node
        "node-4": NEW,
        "node-5": OLD,
    }
    h.restart_clock()
    h.rollout().resume()  # the spread is kept in the state: the same canaries count as done, none is added
    assert starts(h) == ["step 2 of 2: node-1, node-2, node-5"]


def test_waves_update_one_zone_at_a_time() -> None:
    h = manual_cluster(nodes=5, max_unavailable=2)
    label(h, {"node-0": {ZONE: "b"}, "node-1": {ZONE: "a"}, "node-2": {ZONE: "b"}, "node-3": {ZONE: "a"}})
    h.invariants.armed = True
    h.rollout().start(V2, RolloutOptions(max_unavailable=2, wave_by=ZONE))
    assert starts(h) == [
        "step 1 of 3: node-1, node-3 (wave a)",
        "step 2 of 3: node-0, node-2 (wave b)",
        "step 3 of 3: node-4 (wave (no label))",
    ]
    assert_finished(h, 5)


def test_node_scope_holds_the_rest_parked_until_resumed_with_another_selector_or_none() -> None:
    h = manual_cluster(nodes=6)
    label(h, {f"node-{i}": {ZONE: "abc"[i % 3]} for i in range(6)})
    h.invariants.armed = True
    outcome = h.rollout().start(V2, RolloutOptions(nodes=f"{ZONE}=a"))
    reason = (
        f"--nodes {ZONE}=a: 4 nodes outside it stay on revision 1; resume with another --nodes, "
        "or --nodes '' for every node"
    )
    assert (outcome.paused, outcome.reason) == (True, reason)
    assert starts(h) == ["step 1 of 2: node-0", "step 2 of 2: node-3"]
    assert images(h) == {f"node-{i}": NEW if i in (0, 3) else OLD for i in range(6)}
    assert h.daemonset()["spec"]["updateStrategy"] == {"type": "OnDelete"}  # parked: nothing else moves
    assert phase(h) == ("paused", reason, "")
    h.cluster.run_for(600)
    assert images(h) == {f"node-{i}": NEW if i in (0, 3) else OLD for i in range(6)}

    h.restart_clock()
    outcome = h.rollout().resume(nodes=f"{ZONE} in (b)")
    assert starts(h) == ["step 3 of 4: node-1", "step 4 of 4: node-4"]
    assert outcome.reason == reason.replace(f"{ZONE}=a: 4", f"{ZONE} in (b): 2")

    h.restart_clock()
    h.rollout().resume(nodes="")  # the empty selector: every node
    assert starts(h) == ["step 5 of 6: node-2", "step 6 of 6: node-5"]
    assert_finished(h, 6)
