"""`rollout plan/start/resume` with --canary-spread, --wave-by, growing --step-size and --nodes, over real HTTP
against the test API server and its simulator (the rules are pinned in tests/rollout/test_ordering.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Invoke
from tests.rollout_support import NAME, SimCluster, simulated_cluster
from tests.test_rollout_cli import assert_finished, rollout

ZONE, ARCH = "topology.kubernetes.io/zone", "kubernetes.io/arch"
LABELS = {
    "node-0": {ZONE: "b", ARCH: "amd64"},
    "node-1": {ZONE: "a", ARCH: "amd64"},
    "node-2": {ZONE: "b", ARCH: "arm64"},
    "node-3": {ZONE: "a", ARCH: "amd64"},
    "node-4": {ZONE: "c", ARCH: "amd64"},
}


@pytest.fixture
def cluster(tmp_path: Path, isolated_env: Path) -> SimCluster:
    with simulated_cluster(tmp_path, nodes=5) as sim:
        for node in sim.server.objects("Node"):
            node["metadata"].setdefault("labels", {}).update(LABELS[node["metadata"]["name"]])
            sim.server.update_object(node)
        yield sim


def test_plan_shows_spread_canaries_waves_growing_steps_and_the_scope(invoke: Invoke, cluster: SimCluster) -> None:
    flags = ["--max-unavailable", "3", "--canary-spread", ARCH, "--wave-by", ZONE, "--step-size", "1,2"]
    code, out, err = rollout(
        invoke, cluster, "plan", NAME, "--image", "agent=agent:v2", *flags, "--nodes", f"{ZONE}!=c"
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[:6] == [
        "Plan for daemonset.apps/agent: image agent=agent:v2",
        "5 nodes should run the pod; 4 to update in 3 steps; up to 3 nodes without an available pod at once",
        "  step 1 (canary, wave b): node-0, node-2",  # one amd64 and the one arm64 node
        "  step 2 (wave a): node-1",  # the first size
        "  step 3 (wave a): node-3",  # the second size, but the wave ends
        "  stay on their revision (outside --nodes): node-4",
    ]
    assert out.splitlines()[-2] == (
        f"Options kept for resume: --max-unavailable 3 --step-size 1,2 --canary-spread {ARCH} --nodes {ZONE}!=c "
        f"--wave-by {ZONE}"
    )
    code, out, _ = rollout(invoke, cluster, "plan", NAME, "--image", "agent=agent:v2", *flags, "-o", "json")
    data = json.loads(out)
    assert code == 0
    assert [(s["nodes"], s["canary"], s["wave"]) for s in data["steps"]] == [
        (["node-0", "node-2"], True, "b"),
        (["node-1"], False, "a"),
        (["node-3"], False, "a"),
        (["node-4"], False, "c"),
    ]
    assert data["outOfScope"] == []
    kept = {key: data["options"][key] for key in ("canarySpread", "waveBy", "nodes", "stepSize", "maxUnavailable")}
    assert kept == {"canarySpread": ARCH, "waveBy": ZONE, "nodes": None, "stepSize": "1,2", "maxUnavailable": 3}


def test_scope_pauses_parked_and_resume_with_the_empty_selector_finishes(invoke: Invoke, cluster: SimCluster) -> None:
    cluster.invariants.armed = True
    code, out, err = rollout(
        invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--nodes", f"{ZONE}=a", "--step-timeout", "20s"
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == (
        f"daemonset.apps/agent paused: --nodes {ZONE}=a: 3 nodes outside it stay on revision 1; resume with another "
        f"--nodes, or --nodes '' for every node; continue with: kubectl ds rollout resume {NAME}"
    )
    target = cluster.current_hash()
    assert {node for node, hash_ in cluster.pod_hashes().items() if hash_ == target} == {"node-1", "node-3"}
    code, out, err = rollout(invoke, cluster, "resume", NAME, "--nodes", "", "--step-timeout", "20s")
    assert (code, err) == (0, "")
    assert out.rstrip().endswith('daemon set "agent" successfully rolled out; updateStrategy restored')
    assert_finished(cluster)
    assert cluster.invariants.violations == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("start", NAME, "--image", "agent=agent:v2", "--nodes", "zone in (a"),
            'error: invalid --nodes "zone in (a": it ends too early; use e.g. app=agent,tier!=canary',
            id="start-bad-scope",
        ),
        pytest.param(
            ("resume", NAME, "--nodes", "zone notin a"),
            'error: invalid --nodes "zone notin a": in and notin take a list in parentheses; '
            "use e.g. app=agent,tier!=canary",
            id="resume-bad-scope",
        ),
        pytest.param(
            ("start", NAME, "--image", "agent=agent:v2", "--canary-spread", "zone=a"),
            'error: invalid --canary-spread "zone=a": expected label keys (KEY[,KEY...]), such as '
            "topology.kubernetes.io/zone",
            id="spread-of-pairs",
        ),
        pytest.param(
            ("plan", NAME, "--image", "agent=agent:v2", "--step-size", "2,0"),
            'error: invalid --step-size "2,0": every size must be greater than 0',
            id="zero-step-in-a-list",
        ),
        pytest.param(
            (
                "start",
                NAME,
                "--image",
                "agent=agent:v2",
                "--wave-by",
                ZONE,
                "--max-surge",
                "1",
                "--max-unavailable",
                "0",
            ),
            "error: --canary, --canary-spread, --partition, --nodes and --wave-by need the plugin to choose the "
            "nodes, but with --max-surge the controller chooses which nodes surge; use --max-unavailable instead",
            id="waves-need-the-plugin-to-choose",
        ),
    ],
)
def test_bad_order_flags_are_refused_before_any_write(
    invoke: Invoke, cluster: SimCluster, args: tuple[str, ...], message: str
) -> None:
    before = cluster.server.traffic()
    code, out, err = rollout(invoke, cluster, *args)
    assert (code, out, err) == (2, "", message + "\n")
    after = cluster.server.traffic()
    assert [after.count(verb) - before.count(verb) for verb in ("create", "update", "patch", "delete")] == [0, 0, 0, 0]
