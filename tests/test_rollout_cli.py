"""`kubectl ds rollout ...` end to end: CLI → official client → HTTP → test API server, with a simulated
DaemonSet controller, scheduler and kubelet. The safety invariants are asserted on every stored change."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kubectl_ds.rollout.state import STATE_ANNOTATION, STRATEGY_ANNOTATION
from tests.conftest import Invoke
from tests.rollout_support import NAME, NAMESPACE, SimCluster, simulated_cluster

RU1 = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}


@pytest.fixture
def cluster(tmp_path: Path, isolated_env: Path) -> SimCluster:
    with simulated_cluster(tmp_path, nodes=5) as sim:
        yield sim


def rollout(invoke: Invoke, sim: SimCluster, *args: str) -> tuple[int, str, str]:
    result = invoke("rollout", *args, "--kubeconfig", sim.kubeconfig, "-n", NAMESPACE)
    return result.exit_code, result.stdout, result.stderr


def assert_finished(sim: SimCluster, strategy: dict[str, object] = RU1) -> None:
    daemonset = sim.daemonset()
    annotations = daemonset["metadata"].get("annotations") or {}
    assert STATE_ANNOTATION not in annotations and STRATEGY_ANNOTATION not in annotations
    assert daemonset["spec"]["updateStrategy"] == strategy
    target = sim.current_hash()
    assert sim.pod_hashes() == {f"node-{i}": target for i in range(5)}


def test_start_rolls_out_node_by_node_within_the_budget(invoke: Invoke, cluster: SimCluster) -> None:
    start_hash = cluster.current_hash()
    cluster.invariants.armed = True
    code, out, err = rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--step-timeout", "20s")
    assert (code, err) == (0, "")
    assert cluster.current_hash() != start_hash
    assert_finished(cluster)
    assert cluster.invariants.violations == []
    assert out.splitlines()[0] == (
        "daemonset.apps/agent parked (updateStrategy OnDelete) and changed: image agent=agent:v2"
    )
    assert "step 1 of 5: node-0" in out and "step 5 of 5: node-4" in out
    assert out.rstrip().endswith('daemon set "agent" successfully rolled out; updateStrategy restored')


def test_steps_stops_parked_and_resume_finishes(invoke: Invoke, cluster: SimCluster) -> None:
    cluster.invariants.armed = True
    code, out, _ = rollout(
        invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--steps", "2", "--max-unavailable", "1"
    )
    assert code == 0
    assert "paused: stopped after 2 steps (--steps)" in out
    daemonset = cluster.daemonset()
    assert daemonset["spec"]["updateStrategy"] == {"type": "OnDelete"}
    hashes = cluster.pod_hashes()
    target = cluster.current_hash()
    assert sorted(node for node, h in hashes.items() if h == target) == ["node-0", "node-1"]
    # Parked: the controller moves nothing by itself.
    cluster.simulator.settle()
    assert cluster.pod_hashes() == hashes
    status = invoke("rollout", "status", NAME, "--kubeconfig", cluster.kubeconfig)
    assert "step 2 of 5: 2 of 5 nodes updated" in status.stdout
    assert "paused: stopped after 2 steps (--steps)" in status.stdout
    code, out, _ = rollout(invoke, cluster, "resume", NAME)
    assert code == 0
    assert "step 3 of 5: node-2" in out
    assert_finished(cluster)
    assert cluster.invariants.violations == []


def test_crashing_image_halts_parked_with_the_reason(invoke: Invoke, cluster: SimCluster) -> None:
    code, _, err = rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:crash", "--step-timeout", "20s")
    assert code == 4
    assert err.startswith('error: rollout of daemonset "agent" halted: node-0: container agent is crash-looping')
    assert err.endswith(
        "the DaemonSet stays parked. Fix it and run: kubectl ds rollout resume agent, or roll back "
        "with: kubectl ds rollout abort agent\n"
    )
    daemonset = cluster.daemonset()
    assert daemonset["spec"]["updateStrategy"] == {"type": "OnDelete"}
    state = json.loads(daemonset["metadata"]["annotations"][STATE_ANNOTATION])
    assert state["phase"] == "halted"
    # Only the first node was touched.
    target = state["target_hash"]
    assert [node for node, h in cluster.pod_hashes().items() if h == target] == ["node-0"]
    # ... and the halt is contained: the template is the starting one again, for nodes that join or recreate.
    assert daemonset["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:v1"
    assert state["contained"] is True


def test_abort_returns_every_node_to_the_start(invoke: Invoke, cluster: SimCluster) -> None:
    start_hash = cluster.current_hash()
    assert rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--steps", "2")[0] == 0
    cluster.invariants.armed = True
    code, out, err = rollout(invoke, cluster, "abort", NAME)
    assert (code, err) == (0, "")
    assert 'daemon set "agent" rolled back; updateStrategy restored' in out
    assert cluster.current_hash() == start_hash
    assert_finished(cluster)
    assert cluster.invariants.violations == []


def test_on_failure_abort_rolls_back(invoke: Invoke, cluster: SimCluster) -> None:
    start_hash = cluster.current_hash()
    code, _, err = rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:crash", "--on-failure", "abort")
    assert code == 4
    assert "failed and was rolled back" in err
    assert cluster.current_hash() == start_hash
    assert_finished(cluster)


def test_surge_rollout_keeps_every_node_available(invoke: Invoke, tmp_path: Path, isolated_env: Path) -> None:
    with simulated_cluster(tmp_path, nodes=5, max_unavailable=0, max_surge=1) as sim:
        sim.invariants.armed = True
        code, out, err = rollout(
            invoke,
            sim,
            "start",
            NAME,
            "--image",
            "agent=agent:v2",
            "--max-surge",
            "1",
            "--max-unavailable",
            "0",
            "--step-timeout",
            "20s",
        )
        assert (code, err) == (0, "")
        assert_finished(sim)
        assert sim.invariants.violations == []


def test_pause_parks_an_unmanaged_rolling_update_and_resume_restores_it(invoke: Invoke, cluster: SimCluster) -> None:
    code, out, _ = rollout(invoke, cluster, "pause", NAME)
    assert code == 0
    assert out == (
        "daemonset.apps/agent paused: parked with updateStrategy OnDelete; the controller replaces no more "
        "pods until: kubectl ds rollout resume agent\n"
    )
    assert cluster.daemonset()["spec"]["updateStrategy"] == {"type": "OnDelete"}
    code, out, _ = rollout(invoke, cluster, "resume", NAME)
    assert (code, out) == (0, "daemonset.apps/agent resumed: the controller continues its rolling update\n")
    assert cluster.daemonset()["spec"]["updateStrategy"] == RU1


def test_dry_run_changes_nothing(invoke: Invoke, cluster: SimCluster) -> None:
    before = cluster.daemonset()["metadata"]["resourceVersion"]
    code, out, _ = rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--dry-run")
    assert code == 0
    assert out.startswith("would park daemonset agent (updateStrategy OnDelete")
    assert "step 1: node-0" in out
    assert cluster.daemonset()["metadata"]["resourceVersion"] == before


def test_plan_lists_steps_and_preflight(invoke: Invoke, cluster: SimCluster) -> None:
    code, out, _ = rollout(
        invoke,
        cluster,
        "plan",
        NAME,
        "--image",
        "agent=agent:v2",
        "--max-unavailable",
        "2",
        "--canary",
        "kubernetes.io/hostname=node-3",
    )
    assert code == 0
    assert out.splitlines()[:5] == [
        "Plan for daemonset.apps/agent: image agent=agent:v2",
        "5 nodes should run the pod; 5 to update in 3 steps; up to 2 nodes without an available pod at once",
        "  step 1 (canary): node-3",
        "  step 2: node-0, node-1",
        "  step 3: node-2, node-4",
    ]


def test_history_after_a_rollout(invoke: Invoke, cluster: SimCluster) -> None:
    assert rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2")[0] == 0
    code, out, _ = rollout(invoke, cluster, "history", NAME)
    assert code == 0
    assert out.splitlines()[-1].split()[:4] == ["2", "<none>", "5", "agent:"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["start", NAME, "--image", "nope=x:1"],
            'error: container "nope" not found in daemonset "agent" (containers: agent); use --image CONTAINER=IMAGE\n',
            id="unknown-container",
        ),
        pytest.param(["start", NAME, "--image", "agent=x", "--max-unavailable", "-1"], None, id="negative-budget"),
        pytest.param(["start", NAME, "--image", "agent=x", "--max-unavailable", "101%"], None, id="over-100-percent"),
        pytest.param(["start", NAME, "--image", "agent=x", "--max-unavailable", "abc"], None, id="not-a-number"),
        pytest.param(["start", NAME, "--image", "agent=x", "--max-unavailable", "0"], None, id="both-zero"),
        pytest.param(
            ["start", NAME, "--image", "agent=x", "--max-unavailable", "1", "--max-surge", "1"],
            None,
            id="both-non-zero",
        ),
        pytest.param(
            ["start", NAME],
            "error: say what to roll out with exactly one of --image CONTAINER=IMAGE, --restart or -f MANIFEST\n",
            id="no-change",
        ),
        pytest.param(
            ["resume", NAME],
            'error: no managed rollout of daemonset "agent" to resume; start one with: '
            "kubectl ds rollout start agent --image CONTAINER=IMAGE\n",
            id="resume-nothing",
        ),
        pytest.param(
            ["abort", NAME],
            'error: no managed rollout of daemonset "agent" to abort (it is finished or was '
            "never started); to go back to an earlier revision use: kubectl ds rollout undo "
            "agent\n",
            id="abort-nothing",
        ),
        pytest.param(
            ["start", "ghost", "--image", "a=b"],
            'error: daemonset "ghost" not found in namespace "default"\n',
            id="unknown-daemonset",
        ),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    invoke: Invoke, cluster: SimCluster, args: list[str], message: str | None
) -> None:
    before = cluster.daemonset()["metadata"]["resourceVersion"]
    code, _, err = rollout(invoke, cluster, *args)
    assert code != 0
    assert err.startswith("error: ") and err.count("\n") == 1
    if message is not None:
        assert err == message
    assert cluster.daemonset()["metadata"]["resourceVersion"] == before


def test_budget_messages_use_the_api_wording(invoke: Invoke, cluster: SimCluster) -> None:
    _, _, err = rollout(
        invoke, cluster, "start", NAME, "--image", "agent=x", "--max-unavailable", "1", "--max-surge", "1"
    )
    assert "may not be set when maxUnavailable is non-zero" in err
    _, _, err = rollout(invoke, cluster, "start", NAME, "--image", "agent=x", "--max-unavailable", "0")
    assert "cannot be 0 when maxSurge is 0" in err
    _, _, err = rollout(invoke, cluster, "start", NAME, "--image", "agent=x", "--max-unavailable", "101%")
    assert "must not be greater than 100%" in err


def test_a_second_driver_is_refused_unless_forced(invoke: Invoke, cluster: SimCluster) -> None:
    assert rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--steps", "1")[0] == 0
    daemonset = cluster.daemonset()
    state = json.loads(daemonset["metadata"]["annotations"][STATE_ANNOTATION])
    # Pretend another process drives it right now.
    from datetime import datetime, timezone

    state.update(
        phase="running", owner="kubectl-ds/other", heartbeat=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    daemonset["metadata"]["annotations"][STATE_ANNOTATION] = json.dumps(state)
    cluster.server.update_object(daemonset)
    code, _, err = rollout(invoke, cluster, "resume", NAME)
    assert code == 1
    assert err.startswith('error: the rollout of daemonset "agent" is being driven by kubectl-ds/other (heartbeat ')
    assert err.endswith("); wait for it, or take over with --force if that process is gone\n")
    code, _, _ = rollout(invoke, cluster, "resume", NAME, "--force")
    assert code == 0
    assert_finished(cluster)


def test_change_by_someone_else_halts(invoke: Invoke, cluster: SimCluster) -> None:
    assert rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--steps", "1")[0] == 0
    daemonset = cluster.daemonset()
    daemonset["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:v3"
    cluster.server.update_object(daemonset)
    cluster.simulator.settle()
    code, _, err = rollout(invoke, cluster, "resume", NAME)
    assert code == 4
    assert "halted: changed by someone else: its pod template was changed (revision 2 -> 3)" in err


def test_restart_and_undo_like_kubectl(invoke: Invoke, cluster: SimCluster) -> None:
    code, out, _ = rollout(invoke, cluster, "restart", NAME)
    assert (code, out) == (0, "daemonset.apps/agent restarted\n")
    cluster.simulator.settle()
    code, out, _ = rollout(invoke, cluster, "undo", NAME)
    assert (code, out) == (0, "daemonset.apps/agent rolled back\n")
    cluster.simulator.settle()
    code, out, _ = rollout(invoke, cluster, "undo", NAME, "--to-revision", "3")
    assert (code, out) == (0, "daemonset.apps/agent skipped rollback (current template already matches revision 3)\n")
    code, _, err = rollout(invoke, cluster, "undo", NAME, "--to-revision", "9")
    assert (code, err) == (1, "error: unable to find specified revision 9 in history\n")


@pytest.mark.parametrize("args", [["restart"], ["undo"]], ids=["restart", "undo"])
def test_unmanaged_undo_and_restart_do_not_fail_on_a_busy_daemonset(
    invoke: Invoke, cluster: SimCluster, args: list[str]
) -> None:
    """The controller writes a busy DaemonSet's status all the time, so a read-modify-PUT races it and gets
    409 Conflict; kubectl PATCHes instead (objectrestarter.go, rollback.go), which no status write affects."""
    if args == ["undo"]:
        assert rollout(invoke, cluster, "restart", NAME)[0] == 0  # a second revision to go back from
        cluster.simulator.settle()
    before = cluster.daemonset()["spec"]["template"]
    cluster.server.inject_fault(status=409, count=3, method="PUT", path_contains="/daemonsets/")
    code, out, err = rollout(invoke, cluster, *args, NAME)
    assert (code, err) == (0, "")
    assert out in ("daemonset.apps/agent restarted\n", "daemonset.apps/agent rolled back\n")
    assert cluster.daemonset()["spec"]["template"] != before


def test_plan_and_start_warn_when_argo_cd_owns_the_daemonset(invoke: Invoke, cluster: SimCluster) -> None:
    daemonset = cluster.daemonset()
    daemonset["metadata"].setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = "agents:apps/DaemonSet"
    cluster.server.update_object(daemonset)
    code, out, _ = rollout(invoke, cluster, "plan", NAME, "--image", "agent=agent:v2")
    assert code == 0 and "warning (ManagedByGitOps): the DaemonSet is managed by Argo CD" in out
    code, out, _ = rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--steps", "1")
    assert code == 0
    assert out.splitlines()[0].startswith("warning (ManagedByGitOps): ")
    assert out.splitlines()[1].startswith("daemonset.apps/agent parked")


def test_status_of_a_plain_rolling_update_uses_kubectl_wording(invoke: Invoke, cluster: SimCluster) -> None:
    code, out, _ = rollout(invoke, cluster, "status", NAME)
    assert code == 0
    assert out.splitlines()[0] == 'daemon set "agent" successfully rolled out'
    assert out.splitlines()[2].split() == ["NODE", "STATE", "REVISION", "WHY"]


class StepHold:
    """Holds a rollout inside a step, whatever the machine's speed: once the driver has recorded `after` steps,
    the simulated cluster freezes (no component runs), so the next step's evicted pod is never replaced and
    the step cannot finish until `release()`. `reached` is set when that pod is evicted: the driver is then
    inside the step, waiting for its new pod. (Tests wait on it, never on a sleep that happens to be long
    enough.)"""

    def __init__(self, sim: SimCluster, *, after: int = 1) -> None:
        self.sim = sim
        self.after = after
        self.reached = threading.Event()
        sim.server.add_listener(self)

    def __call__(self, event_type: str, obj: dict[str, Any]) -> None:
        # Listeners run in the writing request before it is answered, so the freeze lands before the driver
        # can evict the next pod.
        if obj.get("kind") == "DaemonSet":
            state = json.loads((obj["metadata"].get("annotations") or {}).get(STATE_ANNOTATION, "{}"))
            if state.get("steps_done", 0) >= self.after:
                self.sim.simulator.paused = True
        elif (
            obj.get("kind") == "Pod"
            and self.sim.simulator.paused
            and (event_type == "DELETED" or obj["metadata"].get("deletionTimestamp"))
        ):
            # Frozen, nothing but the driver deletes pods: its eviction of the held step (a graceful deletion
            # only sets the deletionTimestamp; the frozen kubelet never finishes it).
            self.reached.set()

    def wait(self, timeout: float = 60) -> None:
        assert self.reached.wait(timeout), f"the driver did not get into step {self.after + 1} within {timeout}s"

    def release(self) -> None:
        with contextlib.suppress(ValueError):
            self.sim.server.remove_listener(self)
        self.sim.simulator.paused = False


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_interrupted_rollout_stays_parked_and_resumes(tmp_path: Path, isolated_env: Path, signal_name: str) -> None:
    with simulated_cluster(tmp_path, nodes=5) as sim:
        sim.invariants.armed = True
        hold = StepHold(sim, after=1)
        command = [
            sys.executable,
            "-m",
            "kubectl_ds",
            "rollout",
            "start",
            NAME,
            "-n",
            NAMESPACE,
            "--kubeconfig",
            sim.kubeconfig,
            "--image",
            "agent=agent:v2",
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            hold.wait()  # the process is in step 2, which cannot finish: the signal lands mid-step
            process.send_signal(getattr(signal, signal_name))
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 130, (out, err)
        assert err == "error: interrupted\n"
        assert out.splitlines()[-2:] == [
            "step 2 of 5: node-1",
            "interrupted: daemonset agent is parked; continue with: kubectl ds rollout resume agent",
        ]
        daemonset = sim.daemonset()
        assert daemonset["spec"]["updateStrategy"] == {"type": "OnDelete"}
        state = json.loads(daemonset["metadata"]["annotations"][STATE_ANNOTATION])
        assert (state["phase"], state["reason"], state["owner"], state["steps_done"]) == (
            "paused",
            "interrupted",
            "",
            1,
        )
        hold.release()
        resumed = subprocess.run([*command[:4], "resume", *command[5:-2]], capture_output=True, text=True, timeout=60)
        assert resumed.returncode == 0, resumed.stderr
        assert_finished(sim)
        assert sim.invariants.violations == []


def _start_in_background(sim: SimCluster) -> tuple[threading.Thread, dict[str, object]]:
    """Drive a rollout in a thread (another "terminal"), in real time; returns the thread and where its outcome
    lands."""
    from datetime import datetime, timezone

    from kubectl_ds.kube.cluster import Cluster
    from kubectl_ds.kube.config import KubeFlags, resolve
    from kubectl_ds.rollout.change import Change
    from kubectl_ds.rollout.runner import Rollout
    from kubectl_ds.rollout.session import Driver
    from kubectl_ds.rollout.state import RolloutOptions

    flags = KubeFlags(kubeconfig=sim.kubeconfig)
    driver = Driver(
        cluster=Cluster.connect(flags, resolve(flags, environ={})),
        clock=lambda: datetime.now(timezone.utc),
        sleep=time.sleep,
        say=lambda line: None,
    )
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["outcome"] = Rollout(driver, namespace=NAMESPACE, name=NAME).start(
                Change(images=(("agent", "agent:v2"),), description="image agent=agent:v2"), RolloutOptions()
            )
        except Exception as error:  # noqa: BLE001 - reported to the test below
            result["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_pause_from_another_terminal_stops_at_the_step_boundary(
    invoke: Invoke, tmp_path: Path, isolated_env: Path
) -> None:
    with simulated_cluster(tmp_path, nodes=5) as sim:
        hold = StepHold(sim, after=1)
        thread, result = _start_in_background(sim)
        try:
            hold.wait()  # the driver is inside step 2 and stays there until released
            code, out, _ = rollout(invoke, sim, "pause", NAME)
        finally:
            hold.release()
        assert (code, out) == (0, "daemonset.apps/agent will pause at the next step boundary\n")
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert "error" not in result
        assert result["outcome"].paused  # type: ignore[attr-defined]
        state = json.loads(sim.daemonset()["metadata"]["annotations"][STATE_ANNOTATION])
        assert (state["phase"], state["reason"], state["owner"]) == ("paused", "paused by request", "")
        assert state["steps_done"] == 2  # the step under way when asked finished; no other began
        assert rollout(invoke, sim, "resume", NAME)[0] == 0
        assert_finished(sim)


def test_status_watch_follows_a_rollout_to_the_end(
    invoke: Invoke, tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubectl_ds.kube.cluster import Cluster

    with simulated_cluster(tmp_path, nodes=4) as sim:
        hold = StepHold(sim, after=1)
        watch_pods = Cluster.watch_pods

        def release_once_status_watches(self: Cluster, **kwargs: Any) -> Any:
            # The status command (in this thread) has printed the rollout mid-way and waits for a change: only
            # now may the rollout move on, so that it cannot have finished before the status first looked.
            if threading.current_thread() is threading.main_thread():
                hold.release()
            return watch_pods(self, **kwargs)

        monkeypatch.setattr(Cluster, "watch_pods", release_once_status_watches)
        thread, result = _start_in_background(sim)
        try:
            hold.wait()
            code, out, _ = rollout(invoke, sim, "status", NAME, "--watch")
        finally:
            hold.release()
        thread.join(timeout=60)
        assert code == 0 and "error" not in result and not thread.is_alive()
        lines = out.splitlines()
        # First seen mid-rollout, held in step 2: node-0 done, node-1's old pod evicted, node-2 and node-3 old.
        assert lines[0].startswith(
            "managed rollout of daemonset.apps/agent: rolling out revision 2 (image "
            "agent=agent:v2) | 1 updated, 0 unavailable, 2 old, 1 missing | running, driven by "
        )
        assert len(lines) >= 2  # one line per change when not on a terminal
        assert lines[-1].startswith('daemon set "agent" successfully rolled out | 4 updated, 0 unavailable')


def test_step_runs_exactly_one_step(invoke: Invoke, cluster: SimCluster) -> None:
    assert rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--steps", "1")[0] == 0
    code, out, _ = rollout(invoke, cluster, "step", NAME)
    assert code == 0
    assert "step 2 of 5: node-1" in out and "step 3" not in out
    target = cluster.current_hash()
    assert sorted(node for node, h in cluster.pod_hashes().items() if h == target) == ["node-0", "node-1"]


def test_partition_leaves_the_last_nodes_on_the_old_revision(invoke: Invoke, cluster: SimCluster) -> None:
    start_hash = cluster.current_hash()
    code, out, _ = rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--partition", "2")
    assert code == 0
    assert "paused: --partition: 2 nodes stay on revision 1" in out
    hashes = cluster.pod_hashes()
    assert [hashes[f"node-{i}"] == start_hash for i in range(5)] == [False, False, False, True, True]
    assert cluster.daemonset()["spec"]["updateStrategy"] == {"type": "OnDelete"}  # parked until resumed
    code, out, _ = rollout(invoke, cluster, "resume", NAME, "--partition", "0")
    assert code == 0 and "step 4 of 5: node-3\n" in out and "step 5 of 5: node-4\n" in out
    assert_finished(cluster)


def test_delete_bypasses_eviction(invoke: Invoke, cluster: SimCluster) -> None:
    cluster.server.reset_requests()
    assert rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--delete")[0] == 0
    methods = {
        (r.method, r.path.rsplit("/", 1)[-1] == "eviction") for r in cluster.server.requests if "/pods/" in r.path
    }
    assert methods == {("DELETE", False)}
    assert_finished(cluster)


def test_eviction_refused_by_a_pdb_is_retried_then_halts(invoke: Invoke, cluster: SimCluster) -> None:
    cluster.server.inject_fault(status=429, count=2, method="POST", path_contains="/eviction")
    assert rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--steps", "1")[0] == 0
    cluster.server.inject_fault(status=429, count=1000, method="POST", path_contains="/eviction")
    code, _, err = rollout(invoke, cluster, "resume", NAME, "--step-timeout", "3s")
    assert code == 4
    assert "cannot evict pod agent-" in err and "a PodDisruptionBudget forbids it" in err
    assert "use --delete to bypass it" in err


@pytest.mark.parametrize(
    ("image", "patience", "reason"),
    [
        pytest.param(
            "agent:bad", ["--image-pull-timeout", "1s"], "cannot pull image agent:bad: ", id="image-pull-error-halts"
        ),  # ErrImagePull or BackOff
        pytest.param("agent:crash", ["--max-restarts", "1"], "is crash-looping", id="crash-loop-halts"),
    ],
)
def test_failing_new_pods_halt_naming_node_and_reason(
    invoke: Invoke, cluster: SimCluster, image: str, patience: list[str], reason: str
) -> None:
    code, _, err = rollout(
        invoke, cluster, "start", NAME, "--image", f"agent={image}", "--step-timeout", "20s", *patience
    )
    assert code == 4
    assert err.startswith('error: rollout of daemonset "agent" halted: node-0: ')
    assert reason in err


def test_unschedulable_new_pod_halts_with_the_scheduler_reason(
    invoke: Invoke, cluster: SimCluster, tmp_path: Path
) -> None:
    manifest = cluster.daemonset()
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"requests": {"memory": "1Ti"}}
    path = tmp_path / "big.yaml"
    path.write_text(json.dumps(manifest))
    code, _, err = rollout(
        invoke, cluster, "start", NAME, "-f", str(path), "--step-timeout", "20s", "--unschedulable-timeout", "1s"
    )
    assert code == 4
    assert "node-0: pod agent-" in err and "is Pending: Insufficient memory" in err


def test_status_of_an_on_delete_daemonset(invoke: Invoke, tmp_path: Path, isolated_env: Path) -> None:
    with simulated_cluster(tmp_path, nodes=3, strategy={"type": "OnDelete"}) as sim:
        code, out, _ = rollout(invoke, sim, "status", NAME)
        assert code == 0
        assert out.splitlines()[0] == (
            'daemon set "agent" uses OnDelete: 3 of 3 nodes run the newest revision; old '
            "pods are replaced only when deleted (or run: kubectl ds rollout start agent "
            "--restart)"
        )
        code, out, _ = rollout(invoke, sim, "pause", NAME)
        assert code == 1


def test_managed_restart_and_managed_undo(invoke: Invoke, cluster: SimCluster) -> None:
    start_hash = cluster.current_hash()
    code, out, _ = rollout(invoke, cluster, "restart", NAME, "--managed", "--max-unavailable", "2")
    assert code == 0 and "changed: restart" in out
    restarted = cluster.current_hash()
    assert restarted != start_hash
    assert_finished(cluster)
    code, out, _ = rollout(invoke, cluster, "undo", NAME, "--managed")
    assert code == 0 and "changed: rollback to revision 1" in out
    assert cluster.current_hash() == start_hash
    assert_finished(cluster)


def test_plan_preflight_warns_about_host_ports_with_surge(invoke: Invoke, tmp_path: Path, isolated_env: Path) -> None:
    with simulated_cluster(tmp_path, nodes=3, host_port=9100) as sim:
        code, out, _ = rollout(
            invoke, sim, "plan", NAME, "--image", "agent=agent:v2", "--max-surge", "1", "--max-unavailable", "0"
        )
        assert code == 0
        assert "warning (HostPortWithSurge): " in out


def test_plan_json(invoke: Invoke, cluster: SimCluster) -> None:
    code, out, _ = rollout(invoke, cluster, "plan", NAME, "--restart", "--step-size", "40%", "-o", "json")
    data = json.loads(out)
    assert code == 0
    assert [step["nodes"] for step in data["steps"]] == [["node-0"], ["node-1"], ["node-2"], ["node-3"], ["node-4"]]
    assert data["budget"] == {"maxUnavailable": 1, "maxSurge": 0, "desired": 5}


def test_confirm_needs_a_terminal(invoke: Invoke, cluster: SimCluster) -> None:
    code, _, err = rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--confirm")
    assert (code, err) == (
        2,
        "error: --confirm asks before each step and needs a terminal; drop it, or use --steps N\n",
    )


def test_failing_surge_step_parks_again_and_keeps_the_old_pods(
    invoke: Invoke, tmp_path: Path, isolated_env: Path
) -> None:
    with simulated_cluster(tmp_path, nodes=4, max_unavailable=0, max_surge=1) as sim:
        start_hash = sim.current_hash()
        sim.invariants.armed = True
        code, _, err = rollout(
            invoke,
            sim,
            "start",
            NAME,
            "--image",
            "agent=agent:crash",
            "--max-surge",
            "1",
            "--max-unavailable",
            "0",
            "--step-timeout",
            "20s",
        )
        assert code == 4 and "is crash-looping" in err
        assert sim.daemonset()["spec"]["updateStrategy"] == {"type": "OnDelete"}
        sim.simulator.settle()
        # Parking cancelled the unavailable surge pod: every node still runs its old, available pod.
        assert sim.pod_hashes() == {f"node-{i}": start_hash for i in range(4)}
        assert sim.invariants.violations == []


def test_plan_lists_other_pods_only_for_surge_and_degrades_without_rbac(invoke: Invoke, cluster: SimCluster) -> None:
    cluster.server.reset_requests()
    assert rollout(invoke, cluster, "plan", NAME, "--restart")[0] == 0
    assert not any(r.path == "/api/v1/pods" for r in cluster.server.requests)
    cluster.server.deny("list", "pods", "kube-system")  # no cluster-wide pod list any more
    code, out, _ = rollout(invoke, cluster, "plan", NAME, "--restart", "--max-surge", "1", "--max-unavailable", "0")
    assert code == 0
    assert "note: surge headroom check left out: forbidden: RBAC does not allow you to list pods" in out


def test_explain_points_at_a_managed_rollout_for_old_pods(invoke: Invoke, cluster: SimCluster) -> None:
    assert rollout(invoke, cluster, "start", NAME, "--image", "agent=agent:v2", "--steps", "1")[0] == 0
    result = invoke("explain", NAME, "-n", NAMESPACE, "--kubeconfig", cluster.kubeconfig, "--node", "node-3")
    assert result.exit_code == 0
    assert (
        "old revision (node-3): a managed rollout is in progress (the DaemonSet is parked): kubectl ds rollout "
        "status -n default agent"
    ) in result.stdout


def _run_on_a_terminal(command: list[str], answers: list[str], timeout: float = 30) -> tuple[int, str]:
    """Run `command` with a pseudo-terminal as stdin/stdout (as a person would), answering each prompt."""
    import os
    import pty
    import select
    import subprocess
    import time

    main, secondary = pty.openpty()
    process = subprocess.Popen(command, stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True)
    os.close(secondary)
    output, pending = b"", list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if pending and output.rstrip().endswith(b"[Y/n]:"):
                os.write(main, pending.pop(0).encode() + b"\n")
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(main)
    return process.returncode, output.decode(errors="replace").replace("\r\n", "\n")


def test_confirm_asks_on_a_terminal_before_each_step(tmp_path: Path, isolated_env: Path) -> None:
    import sys

    with simulated_cluster(tmp_path, nodes=3) as sim:
        code, out = _run_on_a_terminal(
            [
                sys.executable,
                "-m",
                "kubectl_ds",
                "rollout",
                "start",
                NAME,
                "-n",
                NAMESPACE,
                "--kubeconfig",
                sim.kubeconfig,
                "--image",
                "agent=agent:v2",
                "--confirm",
            ],
            answers=["y", "n"],
        )
        assert code == 0, out
        assert "step 1 of 3: node-0. Continue? [Y/n]: y" in out
        assert "step 2 of 3: node-1. Continue? [Y/n]: n" in out
        assert "paused: declined at the confirmation prompt" in out


def test_status_watch_on_a_terminal_redraws_with_a_progress_bar(tmp_path: Path, isolated_env: Path) -> None:
    import sys

    with simulated_cluster(tmp_path, nodes=3) as sim:
        code, out = _run_on_a_terminal(
            [
                sys.executable,
                "-m",
                "kubectl_ds",
                "rollout",
                "status",
                NAME,
                "-n",
                NAMESPACE,
                "--kubeconfig",
                sim.kubeconfig,
                "--watch",
            ],
            answers=[],
        )
        assert code == 0, out
        assert out.startswith("\x1b[H\x1b[2J")  # clear and redraw, not a line per change
        assert "[########################################] 3/3 updated" in out
