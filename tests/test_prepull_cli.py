"""`kubectl ds prepull` and `--prepull` on `rollout plan` / `rollout start`, over real HTTP against the test
API server moved by the simulator (docs/rules.md#r-prepull)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubectl_ds.commands.rollout.flags import terminal_say
from kubectl_ds.rollout import events as ev
from kubectl_ds.rollout.prepull import PREPULL_LABEL
from tests.conftest import Invoke
from tests.rollout_support import NAME, NAMESPACE, SimCluster, simulated_cluster

NODES = [f"node-{i}" for i in range(3)]


@pytest.fixture
def cluster(tmp_path: Path, isolated_env: Path) -> Iterator[SimCluster]:
    with simulated_cluster(tmp_path, nodes=3) as sim:
        yield sim


def run(invoke: Invoke, sim: SimCluster, *args: str) -> tuple[int, str, str]:
    result = invoke(*args, "--kubeconfig", sim.kubeconfig, "-n", NAMESPACE)
    return result.exit_code, result.stdout, result.stderr


def prepull_pods(sim: SimCluster) -> list[str]:
    return [
        pod["metadata"]["name"]
        for pod in sim.server.objects("Pod", NAMESPACE)
        if PREPULL_LABEL in (pod["metadata"].get("labels") or {})
    ]


def test_plan_shows_the_prepull_in_text_and_json(invoke: Invoke, cluster: SimCluster) -> None:
    code, out, _ = run(invoke, cluster, "rollout", "plan", NAME, "--image", "agent=agent:v2", "--prepull")
    assert code == 0
    assert (
        "Pre-pull (--prepull), before the first write: agent:v2 on 3 nodes, one pod per node, timeout 5m00s; a "
        "failed pull stops the rollout with the DaemonSet untouched"
    ) in out.splitlines()
    code, out, _ = run(
        invoke, cluster, "rollout", "plan", NAME, "--image", "agent=agent:v2", "--prepull", "--prepull-timeout", "2m"
    )
    assert "timeout 2m00s" in out
    code, out, _ = run(invoke, cluster, "rollout", "plan", NAME, "--image", "agent=agent:v2", "--prepull", "-o", "json")
    assert json.loads(out)["prepull"] == {"images": ["agent:v2"], "nodes": NODES, "timeoutSeconds": 300.0}
    code, out, _ = run(invoke, cluster, "rollout", "plan", NAME, "--image", "agent=agent:v2", "-o", "json")
    assert json.loads(out)["prepull"] is None
    assert prepull_pods(cluster) == []


def test_start_dry_run_shows_the_pods_it_would_create(invoke: Invoke, cluster: SimCluster) -> None:
    code, out, _ = run(invoke, cluster, "rollout", "start", NAME, "--image", "agent=agent:v2", "--prepull", "--dry-run")
    assert code == 0
    lines = out.splitlines()
    assert lines[:4] == [
        "would first pre-pull agent:v2: create 3 pods (restartPolicy Never, activeDeadlineSeconds, owned by the "
        "DaemonSet), each deleted once its node pulled (timeout 5m00s):",
        "  pod agent-prepull-xxxxx-node-0 on node-0",
        "  pod agent-prepull-xxxxx-node-1 on node-1",
        "  pod agent-prepull-xxxxx-node-2 on node-2",
    ]
    assert not [r for r in cluster.server.requests if r.method == "POST"]


def test_start_prepull_pulls_then_rolls_out(invoke: Invoke, cluster: SimCluster) -> None:
    cluster.invariants.armed = True
    code, out, err = run(invoke, cluster, "rollout", "start", NAME, "--image", "agent=agent:v2", "--prepull")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "pre-pulling agent:v2 on 3 nodes (one pod per node, timeout 5m00s)"
    assert lines[lines.index("pre-pull done: the new images are on all 3 nodes") + 1].startswith(
        "daemonset.apps/agent parked"
    )
    progress = [line for line in lines if line.startswith("pulled on ")]
    assert progress[-1] == "pulled on 3 of 3 nodes" and len(progress) == len(set(progress))  # one per change
    assert lines[-1] == 'daemon set "agent" successfully rolled out; updateStrategy restored'
    assert cluster.invariants.violations == []


def test_prepull_command_stages_the_image_and_changes_nothing(invoke: Invoke, cluster: SimCluster) -> None:
    before = cluster.daemonset()["metadata"]["resourceVersion"]
    code, out, err = run(invoke, cluster, "prepull", NAME, "--image", "agent=agent:v2")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "pre-pulling agent:v2 on 3 nodes (one pod per node, timeout 5m00s)"
    assert lines[-2:] == [
        "pre-pull done: the new images are on all 3 nodes",
        "daemonset.apps/agent: agent:v2 pulled on 3 nodes",
    ]
    assert cluster.daemonset()["metadata"]["resourceVersion"] == before
    creates = [r for r in cluster.server.requests if r.method == "POST" and r.path.endswith("/pods")]
    assert len(creates) == 3


def test_prepull_command_fails_with_exit_4_naming_the_nodes(invoke: Invoke, cluster: SimCluster) -> None:
    before = cluster.daemonset()["metadata"]["resourceVersion"]
    code, out, err = run(
        invoke, cluster, "prepull", NAME, "--image", "agent=agent:nonexistent", "--image-pull-timeout", "1s"
    )
    assert code == 4
    assert out.splitlines()[-1] == "pre-pull failed on 3 of 3 nodes"
    assert err.startswith(
        'error: pre-pull for daemonset "agent" failed: the new image could not be pulled on 3 of 3 nodes: '
        "agent:nonexistent: "
    )
    assert "on node-0, node-1, node-2 (" in err and err.count("\n") == 1
    assert cluster.daemonset()["metadata"]["resourceVersion"] == before
    cluster.simulator.settle()
    assert prepull_pods(cluster) == []


def test_prepull_command_dry_run_and_usage(invoke: Invoke, cluster: SimCluster) -> None:
    code, out, _ = run(invoke, cluster, "prepull", NAME, "--image", "agent=agent:v2", "--dry-run")
    assert code == 0 and "  pod agent-prepull-xxxxx-node-2 on node-2" in out.splitlines()
    assert not [r for r in cluster.server.requests if r.method == "POST"]
    code, _, err = run(invoke, cluster, "prepull", NAME)
    assert (code, err) == (
        2,
        "error: say what to pull with exactly one of --image CONTAINER=IMAGE or -f MANIFEST\n",
    )
    code, _, err = run(invoke, cluster, "prepull", NAME, "--image", "agent=agent:v2", "--prepull-timeout", "0s")
    assert (code, err) == (2, "error: --prepull-timeout must be positive\n")


def test_terminal_progress_redraws_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    say = terminal_say(True)
    for event in (ev.PrepullStarted(("a:2",), 500, 300), ev.PrepullProgress(1, 500), ev.PrepullProgress(412, 500)):
        say(event)
    say(ev.PrepullFailed(88, 500))
    assert capsys.readouterr().out == (
        "pre-pulling a:2 on 500 nodes (one pod per node, timeout 5m00s)\n"
        "\r\x1b[Kpulled on 1 of 500 nodes\r\x1b[Kpulled on 412 of 500 nodes\n"
        "pre-pull failed on 88 of 500 nodes\n"
    )
    pipe = terminal_say(False)
    pipe(ev.PrepullProgress(1, 2))
    pipe(ev.PrepullProgress(2, 2))
    assert capsys.readouterr().out == "pulled on 1 of 2 nodes\npulled on 2 of 2 nodes\n"


def test_prepull_command_reads_the_images_of_a_manifest(invoke: Invoke, cluster: SimCluster, tmp_path: Path) -> None:
    manifest = cluster.daemonset()
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:v3"
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(manifest))
    code, out, err = run(invoke, cluster, "prepull", NAME, "-f", str(path))
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "daemonset.apps/agent: agent:v3 pulled on 3 nodes"
    code, out, err = run(invoke, cluster, "prepull", NAME, "-f", str(path), "--image", "agent=agent:v2")
    assert code == 2
