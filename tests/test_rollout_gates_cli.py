"""The gates between steps end to end (CLI → official client → HTTP → test API server with the simulated cluster):
`plan` shows them, `start` runs a real --check script (it fails at step 2) and --check-exec over the pods/exec
WebSocket, and `resume` needs none of the flags again."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke
from tests.rollout_support import NAME, NAMESPACE, SimCluster, simulated_cluster
from tests.test_pod_exec import gone

Obj = dict[str, Any]
RESUME_HINT = (
    "the DaemonSet stays parked. Fix it and run: kubectl ds rollout resume agent, or roll back with: "
    "kubectl ds rollout abort agent"
)


@pytest.fixture
def cluster(tmp_path: Path, isolated_env: Path) -> Iterator[SimCluster]:
    with simulated_cluster(tmp_path, nodes=3) as sim:
        yield sim


def rollout(invoke: Invoke, sim: SimCluster, *args: str) -> tuple[int, str, str]:
    result = invoke("rollout", *args, "--kubeconfig", sim.kubeconfig, "-n", NAMESPACE)
    return result.exit_code, result.stdout, result.stderr


def state(sim: SimCluster) -> Obj:
    annotations = sim.daemonset()["metadata"].get("annotations") or {}
    found: Obj = json.loads(annotations.get("kubectl-ds.io/rollout", "{}"))
    return found


def pod_on(sim: SimCluster, node: str) -> str:
    (name,) = [
        pod["metadata"]["name"]
        for pod in sim.server.objects("Pod", NAMESPACE)
        if pod["spec"].get("nodeName") == node and not pod["metadata"].get("deletionTimestamp")
    ]
    return str(name)


def test_plan_shows_the_gates_in_text_and_json(invoke: Invoke, cluster: SimCluster) -> None:
    flags = ["--image", "agent=agent:v2", "--check", "./check.sh", "--check-exec", "agent status --brief"]
    flags += [
        "--check-timeout",
        "1m",
        "--bake",
        "2m",
        "--canary-bake",
        "10m",
        "--canary",
        "kubernetes.io/hostname=node-2",
    ]
    code, out, _ = rollout(invoke, cluster, "plan", NAME, *flags)
    assert code == 0
    assert out.splitlines()[5] == (
        'Gates after each step: --check "./check.sh" (timeout 1m00s); --check-exec "agent status --brief" in each '
        "new pod (timeout 1m00s); bake 2m00s, 10m00s after the canary step (watching the updated pods)"
    )
    code, out, _ = rollout(invoke, cluster, "plan", NAME, *flags, "-o", "json")
    assert json.loads(out)["gates"] == {
        "check": "./check.sh",
        "checkExec": "agent status --brief",
        "checkTimeoutSeconds": 60.0,
        "bakeSeconds": 120.0,
        "canaryBakeSeconds": 600.0,
    }
    # The bakes are in the estimate: 10 min after the canary step, 2 min after each of the two others.
    assert json.loads(out)["estimatedSeconds"] >= 600 + 2 * 120


CHECK = """\
echo "step $KUBECTL_DS_STEP of $KUBECTL_DS_STEPS: $KUBECTL_DS_NODES $KUBECTL_DS_PODS rev $KUBECTL_DS_REVISION \
$KUBECTL_DS_NAMESPACE/$KUBECTL_DS_NAME" >> "$(dirname "$0")/log"
if [ "$KUBECTL_DS_STEP" = 2 ] && [ ! -e "$(dirname "$0")/fixed" ]; then
  echo "checking peers"
  echo "error: node-1 sees 2 of 3 peers" >&2
  exit 7
fi
"""


def test_a_check_script_failing_at_step_2_halts_with_exit_4_and_resume_runs_it_again(
    invoke: Invoke, cluster: SimCluster, tmp_path: Path
) -> None:
    script = tmp_path / "check.sh"
    script.write_text(CHECK)
    code, out, err = rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--check", f"sh {script}")
    reason = (
        f'--check "sh {script}" failed with exit code 7 after step 2 of 3; output: '
        '"checking peers | error: node-1 sees 2 of 3 peers"'
    )
    assert (code, err.strip()) == (4, f'error: rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}')
    assert f'step 1 of 3: --check "sh {script}" passed' in out.splitlines()
    assert (tmp_path / "log").read_text().splitlines() == [
        f"step 1 of 3: node-0 {pod_on(cluster, 'node-0')} rev 2 {NAMESPACE}/{NAME}",
        f"step 2 of 3: node-1 {pod_on(cluster, 'node-1')} rev 2 {NAMESPACE}/{NAME}",
    ]
    assert (state(cluster)["phase"], state(cluster)["gate_step"]) == ("halted", 2)
    code, out, _ = rollout(invoke, cluster, "status", NAME)
    assert out.splitlines()[2] == f"halted: {reason}"
    assert out.splitlines()[4] == "gates of step 2 (node-1) not passed yet; they run first on resume"
    (tmp_path / "fixed").touch()
    code, out, _ = rollout(invoke, cluster, "resume", NAME)  # no --check: the state has it
    assert code == 0
    assert out.splitlines()[:2] == [f'step 2 of 3: --check "sh {script}" passed', "step 3 of 3: node-2"]
    assert [line.split(":")[0] for line in (tmp_path / "log").read_text().splitlines()] == [
        "step 1 of 3",
        "step 2 of 3",
        "step 2 of 3",
        "step 3 of 3",
    ]


def test_check_exec_runs_in_each_new_pod_and_a_failing_pod_halts(invoke: Invoke, cluster: SimCluster) -> None:
    ran: list[tuple[str, str, list[str]]] = []

    def agent_status(pod: Obj, container: str, argv: list[str]) -> tuple[int, str, str]:
        ran.append((pod["spec"]["nodeName"], container, argv))
        if pod["spec"]["nodeName"] == "node-1":
            return 1, "", "agent: 3 endpoints not programmed\n"
        return 0, "ok\n", ""

    cluster.server.exec_handler = agent_status
    code, out, err = rollout(
        invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--check-exec", "agent status --brief"
    )
    assert code == 4
    assert err.strip() == (
        f'error: rollout of daemonset "agent" halted: --check-exec "agent status --brief" in pod '
        f"{pod_on(cluster, 'node-1')} failed with exit code 1 after step 2 of 3; output: "
        f'"agent: 3 endpoints not programmed"; {RESUME_HINT}'
    )
    assert ran == [
        ("node-0", "agent", ["agent", "status", "--brief"]),
        ("node-1", "agent", ["agent", "status", "--brief"]),
    ]
    assert 'step 1 of 3: --check-exec "agent status --brief" passed in 1 pod' in out.splitlines()


def test_ctrl_c_during_a_check_kills_it_and_leaves_the_rollout_resumable(tmp_path: Path, isolated_env: Path) -> None:
    with simulated_cluster(tmp_path, nodes=2) as sim:
        pidfile = tmp_path / "pid"
        # Step 1's check waits for ever (a child in the background, as a real check's curl or kubectl would be);
        # once the pid file is written, a later run (after the resume) passes.
        check = f"if [ -e {pidfile} ]; then exit 0; fi; sleep 300 & echo $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}"
        check += "; wait"
        command = [sys.executable, "-m", "kubectl_ds", "rollout", "start", NAME, "-n", NAMESPACE]
        command += ["--kubeconfig", sim.kubeconfig, "--image", "agent=agent:v2", "--check", check]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not pidfile.exists() and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)  # waiting on a condition: the check has started its child
            assert pidfile.exists(), process.communicate(timeout=5)
            process.send_signal(signal.SIGINT)  # the terminal's Ctrl-C reaches the driver only
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert (process.returncode, err) == (130, "error: interrupted\n"), out
        assert out.splitlines()[-1] == (
            "interrupted: daemonset agent is parked; continue with: kubectl ds rollout resume agent"
        )
        child = int(pidfile.read_text())
        assert gone(child)  # the check's whole process group was stopped
        got = state(sim)
        assert (got["phase"], got["reason"], got["gate_step"], got["owner"]) == ("paused", "interrupted", 1, "")
        resumed = subprocess.run([*command[:4], "resume", *command[5:10]], capture_output=True, text=True, timeout=60)
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stdout.splitlines()[0] == f'step 1 of 2: --check "{check}" passed'
