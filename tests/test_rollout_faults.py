"""Randomized managed rollouts with injected faults; the safety invariants are asserted on every change.

Faults: 409 conflicts and 5xx on writes, timeouts and dropped connections on reads, dropped watches, a
node going NotReady mid-rollout, and the driving process "killed" at a random point (an exception no
handler catches, so nothing is cleaned up — like SIGKILL), after which another driver resumes with
--force. Whatever happens: never more nodes without an available pod than the budget, never more than
maxSurge nodes with two pods, and in the end every node updated and the original strategy restored.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kubectl_ds.errors import DsError
from kubectl_ds.kube.cluster import Cluster
from kubectl_ds.kube.config import KubeFlags, resolve
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.runner import Rollout
from kubectl_ds.rollout.session import Driver
from kubectl_ds.rollout.state import STATE_ANNOTATION, STRATEGY_ANNOTATION, RolloutOptions
from tests.rollout_support import NAME, NAMESPACE, SimCluster, simulated_cluster

# More seeds for a soak: KUBECTL_DS_FAULT_SEEDS=50 python -m pytest tests/test_rollout_faults.py
SEEDS = list(range(int(os.environ.get("KUBECTL_DS_FAULT_SEEDS", "6"))))
SURGE_SEEDS = SEEDS[: max(3, len(SEEDS) // 2)]


class Killed(BaseException):
    """The driving process dies here: not an Exception, so no `except` in the runner cleans up."""


def connect(sim: SimCluster) -> Cluster:
    flags = KubeFlags(kubeconfig=sim.kubeconfig, request_timeout=2.0)
    return Cluster.connect(flags, resolve(flags, environ={}))


class MortalCluster(Cluster):
    """The real adapter, except that the process dies at its `kill_at`-th write: before the request is
    sent, or just after it landed, chosen at random."""

    def __init__(self, inner: Cluster, kill_at: int, after: bool) -> None:
        self.__dict__.update(inner.__dict__)
        self.kill_at, self.after, self.writes = kill_at, after, 0

    def request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "GET":
            return super().request(method, path, *args, **kwargs)
        self.writes += 1
        if self.writes == self.kill_at and not self.after:
            raise Killed
        try:
            result = super().request(method, path, *args, **kwargs)
        except Exception:
            if self.writes == self.kill_at:
                raise Killed from None  # died right after the (failed) answer
            raise
        if self.writes == self.kill_at:
            raise Killed
        return result


def driver(sim: SimCluster, *, kill_at: int | None = None, after: bool = False) -> Driver:
    cluster = connect(sim)
    if kill_at is not None:
        cluster = MortalCluster(cluster, kill_at, after)
    return Driver(
        cluster=cluster,
        clock=lambda: datetime.now(timezone.utc),
        sleep=lambda seconds: time.sleep(min(seconds, 0.05)),
        say=lambda line: None,
        owner="",
    )


def inject_random_faults(sim: SimCluster, rng: random.Random) -> None:
    server = sim.server
    for _ in range(rng.randint(1, 3)):
        server.inject_fault(status=409, count=1, method="PUT", path_contains="/daemonsets/")
    for _ in range(rng.randint(0, 2)):
        server.inject_fault(status=rng.choice([500, 503]), count=1, method=rng.choice(["PUT", "GET", "POST"]))
    if rng.random() < 0.5:
        server.inject_fault(status="drop", count=rng.randint(1, 2), method="GET", path_contains="watch")
    if rng.random() < 0.5:
        server.inject_fault(status="timeout", count=1, method="GET", path_contains="/pods")


def assert_final(sim: SimCluster) -> None:
    daemonset = sim.daemonset()
    annotations = daemonset["metadata"].get("annotations") or {}
    assert STATE_ANNOTATION not in annotations and STRATEGY_ANNOTATION not in annotations
    assert daemonset["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    target = sim.current_hash()
    ready_nodes = [
        n["metadata"]["name"]
        for n in sim.server.objects("Node")
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    ]
    hashes = sim.pod_hashes()
    assert {node: hashes.get(node) for node in ready_nodes} == {node: target for node in ready_nodes}


def run_to_completion(sim: SimCluster, options: RolloutOptions, rng: random.Random, *, kill: bool) -> None:
    # Even the smallest rollout here makes more than 8 writes (park, target, evictions, steps, finish).
    kill_at = rng.randint(1, 8) if kill else None
    first = Rollout(driver(sim, kill_at=kill_at, after=rng.random() < 0.5), namespace=NAMESPACE, name=NAME)
    killed = False
    try:
        first.start(Change(images=(("agent", "agent:v2"),), description="image agent=agent:v2"), options)
    except Killed:
        killed = True
    assert killed == kill
    # Whatever the dead driver left: nothing at all (it died before its first write), or a DaemonSet that is
    # parked or surging under a recorded state. Either way a user runs the command again.
    for _ in range(5):
        daemonset = sim.daemonset()
        state = (daemonset["metadata"].get("annotations") or {}).get(STATE_ANNOTATION)
        rollout = Rollout(driver(sim), namespace=NAMESPACE, name=NAME)
        try:
            if state is None and daemonset["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:v1":
                rollout.start(Change(images=(("agent", "agent:v2"),), description="image agent=agent:v2"), options)
            elif state is not None:
                assert json.loads(state)["phase"] in ("running", "paused", "halted")
                rollout.resume(force=True)
            break
        except DsError as error:  # a fault hit this run itself; only a halt would be a failure here
            if "halted" in str(error):
                raise
    sim.simulator.settle()


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed-{s}" for s in SEEDS])
def test_unavailability_rollout_survives_faults_and_kills(tmp_path: Path, isolated_env: Path, seed: int) -> None:
    rng = random.Random(seed)
    budget = rng.choice([1, 2])
    with simulated_cluster(tmp_path, nodes=rng.randint(4, 7), max_unavailable=budget) as sim:
        sim.invariants.armed = True
        inject_random_faults(sim, rng)
        if rng.random() < 0.5:
            node = f"node-{rng.randint(0, 3)}"

            def not_ready_later(event_type: str, obj: dict[str, Any], fired: list[bool] = []) -> None:  # noqa: B006
                if not fired and obj.get("kind") == "Pod" and event_type == "DELETED":
                    fired.append(True)
                    sim.invariants.baseline_unavailable.add(node)  # not the rollout's doing
                    sim.simulator.set_node_ready(node, False)

            sim.server.add_listener(not_ready_later)
        options = RolloutOptions(max_unavailable=budget, step_timeout=20.0)
        run_to_completion(sim, options, rng, kill=rng.random() < 0.7)
        for node in list(sim.invariants.baseline_unavailable):
            sim.simulator.set_node_ready(node, True)
        sim.simulator.settle()
        assert sim.invariants.violations == []
        assert sim.invariants.moved_while_parked() == []
        assert_final(sim)
        assert any(request.status == 409 for request in sim.server.requests)  # the faults were met


@pytest.mark.parametrize("seed", SURGE_SEEDS, ids=[f"seed-{s}" for s in SURGE_SEEDS])
def test_surge_rollout_survives_faults_and_kills(tmp_path: Path, isolated_env: Path, seed: int) -> None:
    rng = random.Random(100 + seed)
    with simulated_cluster(tmp_path, nodes=rng.randint(4, 6), max_unavailable=0, max_surge=1) as sim:
        sim.invariants.armed = True
        inject_random_faults(sim, rng)
        options = RolloutOptions(max_unavailable=0, max_surge=1, step_timeout=20.0)
        run_to_completion(sim, options, rng, kill=rng.random() < 0.7)
        assert sim.invariants.violations == []
        assert sim.invariants.moved_while_parked() == []
        assert_final(sim)


@pytest.mark.parametrize("seed", SURGE_SEEDS, ids=[f"seed-{s}" for s in SURGE_SEEDS])
def test_crashing_rollout_halts_and_aborts_back_to_the_start(tmp_path: Path, isolated_env: Path, seed: int) -> None:
    """A new image that crash-loops: the rollout halts with at most the budget of nodes broken, and an abort
    (after faults and perhaps a killed driver) brings every node back to the starting revision."""
    from kubectl_ds.errors import RolloutHalted

    rng = random.Random(200 + seed)
    budget = rng.choice([1, 2])
    with simulated_cluster(tmp_path, nodes=rng.randint(4, 6), max_unavailable=budget) as sim:
        start = sim.current_hash()
        sim.invariants.armed = True
        inject_random_faults(sim, rng)
        options = RolloutOptions(max_unavailable=budget, step_timeout=20.0)
        kill_at = rng.randint(1, 6) if rng.random() < 0.6 else None
        first = Rollout(driver(sim, kill_at=kill_at, after=rng.random() < 0.5), namespace=NAMESPACE, name=NAME)
        with contextlib.suppress(Killed, RolloutHalted):
            first.start(Change(images=(("agent", "agent:crash"),), description="image agent=agent:crash"), options)
        broken = [node for node, h in sim.pod_hashes().items() if h != start]
        assert len(broken) <= budget
        for _ in range(5):
            try:
                Rollout(driver(sim), namespace=NAMESPACE, name=NAME).abort(force=True)
                break
            except RolloutHalted:
                raise
            except DsError as error:
                if "no managed rollout" in str(error):
                    break  # the driver died before its first write: nothing to undo
        sim.simulator.settle()
        assert sim.invariants.violations == []
        assert sim.invariants.moved_while_parked() == []
        assert sim.current_hash() == start
        assert_final(sim)


@pytest.mark.parametrize("status", [500, 503])
def test_no_exit_leaves_the_state_running(tmp_path: Path, isolated_env: Path, status: int) -> None:
    """A server error that does not go away ends the driver after its first write; the state must then say
    halted, with the reason and no owner, not `running` under a heartbeat that only goes stale later."""
    with simulated_cluster(tmp_path, nodes=3) as sim:
        rollout = Rollout(driver(sim), namespace=NAMESPACE, name=NAME)
        # Every pod read after the park fails (the informer's watch, then the list it falls back to), for good.
        sim.server.add_listener(lambda event, obj: _fail_pod_lists_once_parked(sim, obj, status))
        with pytest.raises(DsError):
            rollout.start(Change(images=(("agent", "agent:v2"),), description="image agent=agent:v2"), RolloutOptions())
        sim.server.clear_faults()
        state = json.loads(sim.daemonset()["metadata"]["annotations"][STATE_ANNOTATION])
        assert (state["phase"], state["owner"]) == ("halted", "")
        assert f"{status}" in state["reason"] or "server" in state["reason"].lower()
        # ... and `resume` continues from there.
        assert Rollout(driver(sim), namespace=NAMESPACE, name=NAME).resume().done


def _fail_pod_lists_once_parked(sim: SimCluster, obj: dict[str, Any], status: int) -> None:
    if (
        obj.get("kind") == "DaemonSet"
        and (obj["spec"].get("updateStrategy") or {}).get("type") == "OnDelete"
        and not getattr(sim, "_faulted", False)
    ):
        sim._faulted = True  # type: ignore[attr-defined]
        sim.server.inject_fault(status=status, count=1000, method="GET", path_contains="/pods?")


LAPTOP_AHEAD = timedelta(minutes=2)


def skewed_cluster(sim: SimCluster) -> Cluster:
    """The real adapter on a laptop whose clock runs two minutes ahead of the API server's."""
    flags = KubeFlags(kubeconfig=sim.kubeconfig, request_timeout=2.0)
    return Cluster.connect(
        flags, resolve(flags, environ={}), local_clock=lambda: datetime.now(timezone.utc) + LAPTOP_AHEAD
    )


def test_the_adapter_tells_the_servers_time_from_its_date_header(tmp_path: Path, isolated_env: Path) -> None:
    with simulated_cluster(tmp_path, nodes=1) as sim:
        cluster = skewed_cluster(sim)
        cluster.list_nodes()
        assert abs(cluster.server_now() - datetime.now(timezone.utc)) < timedelta(seconds=1.5)


def test_availability_is_judged_on_the_servers_clock(tmp_path: Path, isolated_env: Path) -> None:
    """minReadySeconds counts from the Ready transition stamped with the cluster's time; on a laptop two
    minutes ahead every Ready pod would look available at once and each step would end too early (with the
    laptop's clock this rollout takes well under a second). Load can only make it slower, never faster."""
    with simulated_cluster(tmp_path, nodes=2, min_ready_seconds=2) as sim:
        cluster = skewed_cluster(sim)
        driver = Driver(
            cluster=cluster,
            clock=cluster.server_now,
            sleep=lambda seconds: time.sleep(min(seconds, 0.05)),
            say=lambda event: None,
        )
        started = time.monotonic()
        Rollout(driver, namespace=NAMESPACE, name=NAME).start(
            Change(images=(("agent", "agent:v2"),), description="image agent=agent:v2"), RolloutOptions()
        )
        # Two steps, each waiting out minReadySeconds (2 s, less the Date header's half-second resolution).
        assert time.monotonic() - started >= 2.0


def test_the_command_drives_on_the_servers_clock() -> None:
    from kubectl_ds.commands.rollout.flags import make_rollout

    class Fake:
        def server_now(self) -> datetime:
            return datetime(2030, 1, 1, tzinfo=timezone.utc)

    rollout = make_rollout(Fake(), NAMESPACE, NAME)  # type: ignore[arg-type]
    assert rollout.driver.clock() == datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_a_laptop_ahead_does_not_take_over_a_live_driver(tmp_path: Path, isolated_env: Path) -> None:
    with simulated_cluster(tmp_path, nodes=3) as sim:
        first = Rollout(driver(sim), namespace=NAMESPACE, name=NAME)
        first.start(
            Change(images=(("agent", "agent:v2"),), description="image agent=agent:v2"), RolloutOptions(), steps=1
        )
        daemonset = sim.daemonset()  # pretend the first driver is alive and beating right now
        state = json.loads(daemonset["metadata"]["annotations"][STATE_ANNOTATION])
        state.update(
            phase="running",
            owner="kubectl-ds/alive",
            heartbeat=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        daemonset["metadata"]["annotations"][STATE_ANNOTATION] = json.dumps(state)
        sim.server.update_object(daemonset)
        cluster = skewed_cluster(sim)
        second = Rollout(
            Driver(cluster=cluster, clock=cluster.server_now, sleep=time.sleep, say=lambda event: None),
            namespace=NAMESPACE,
            name=NAME,
        )
        with pytest.raises(DsError, match="is being driven by kubectl-ds/alive"):
            second.resume()
