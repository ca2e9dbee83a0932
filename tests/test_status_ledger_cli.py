"""`kubectl ds rollout status` on a RollingUpdate the controller drives by itself, end to end over HTTP against
the test API server and the simulated controller, which gets stuck as a real one does: a crash-looping new
pod holds maxUnavailable (docs/rules.md#r-ledger). Exact strings pinned; the pod and node the controller
picked (Go's random map order) are read back from the cluster."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke
from tests.rollout_support import NAME, NAMESPACE, SimCluster, _pinned, simulated_cluster

Obj = dict[str, Any]


class CrashLooping:
    """Set once a pod of `image` reports CrashLoopBackOff; the simulator then freezes, so that what the test
    reads (restart counts) is what the command reads. Waits on the server's change stream, never a sleep."""

    def __init__(self, sim: SimCluster, image: str) -> None:
        self.sim, self.image = sim, image
        self.seen = threading.Event()
        sim.server.add_listener(self)

    def __call__(self, event_type: str, obj: Obj) -> None:
        if obj.get("kind") != "Pod" or obj["spec"]["containers"][0]["image"] != self.image:
            return
        statuses = (obj.get("status") or {}).get("containerStatuses") or []
        if any(((s.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff" for s in statuses):
            self.sim.simulator.paused = True
            self.seen.set()


@pytest.fixture
def stuck(tmp_path: Path, isolated_env: Path) -> Iterator[tuple[SimCluster, Obj]]:
    """Four nodes, maxUnavailable 1, the template changed to a crash-looping image: frozen once stuck."""
    with simulated_cluster(tmp_path, nodes=4) as sim:
        hold = CrashLooping(sim, "agent:crash")
        daemonset = sim.daemonset()
        daemonset["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:crash"
        sim.server.update_object(daemonset)
        assert hold.seen.wait(60), "no pod crash-looped"
        pods = [p for p in sim.server.objects("Pod", NAMESPACE) if p["spec"]["containers"][0]["image"] == "agent:crash"]
        assert len(pods) == 1
        yield sim, pods[0]


def status(invoke: Invoke, sim: SimCluster, *args: str) -> tuple[int, str, str]:
    result = invoke("rollout", "status", NAME, *args, "--kubeconfig", sim.kubeconfig, "-n", NAMESPACE)
    return result.exit_code, result.stdout, result.stderr


def crash_text(pod: Obj) -> str:
    restarts = pod["status"]["containerStatuses"][0]["restartCount"]
    return (
        f"pod {pod['metadata']['name']}: container agent is crash-looping ({restarts} "
        f"restart{'' if restarts == 1 else 's'}, last exit code 1 (Error))"
    )


def test_status_shows_who_holds_max_unavailable_and_that_the_rollout_is_stuck(
    invoke: Invoke, stuck: tuple[SimCluster, Obj]
) -> None:
    sim, pod = stuck
    node = pod["spec"].get("nodeName") or _pinned(pod)
    others = ", ".join(f"node-{i}" for i in range(4) if f"node-{i}" != node)
    code, out, err = status(invoke, sim)
    assert (code, err) == (0, "")
    assert out.splitlines()[:7] == [
        'Waiting for daemon set "agent" rollout to finish: 1 out of 4 new pods have been updated...',
        "budget: maxUnavailable 1: 1 used, 0 left",
        f"  {node}  {crash_text(pod)}",
        f"waiting with an old pod: 3 nodes ({others})",
        "next: nothing more until a node holding the budget has an available new pod",
        "stuck: the controller will not replace another old pod by itself; fix the new template, or go back to "
        "the previous one: kubectl rollout undo ds/agent -n default; or raise maxUnavailable",
        "",
    ]


def test_status_json_carries_the_ledger(invoke: Invoke, stuck: tuple[SimCluster, Obj]) -> None:
    sim, pod = stuck
    node = pod["spec"].get("nodeName") or _pinned(pod)
    code, out, _ = status(invoke, sim, "-o", "json")
    ledger = json.loads(out)["ledger"]
    assert code == 0
    assert ledger == {
        "budget": "maxUnavailable",
        "value": "1",
        "limit": 1,
        "desired": 4,
        "used": 1,
        "left": 0,
        "holders": [
            {
                "node": node,
                "cause": "crash-looping",
                "lasting": True,
                "pod": pod["metadata"]["name"],
                "message": crash_text(pod),
            }
        ],
        "waiting": [f"node-{i}" for i in range(4) if f"node-{i}" != node],
        "replacedAtOnce": [],
        "next": "nothing more until a node holding the budget has an available new pod",
        "verdict": "stuck",
        "stuck": True,
        "reason": f"maxUnavailable 1 is used up by nodes that will not recover by themselves ({node}: "
        f"{crash_text(pod)}); 3 nodes wait with an old pod ({ledger['waiting'][0]}, {ledger['waiting'][1]}, "
        f"{ledger['waiting'][2]})",
    }


def test_status_timeout_exits_3_naming_what_holds_the_rollout(invoke: Invoke, stuck: tuple[SimCluster, Obj]) -> None:
    sim, pod = stuck
    node = pod["spec"].get("nodeName") or _pinned(pod)
    code, out, err = status(invoke, sim, "--timeout", "1s")
    assert code == 3
    assert out.splitlines()[0].startswith('Waiting for daemon set "agent" rollout to finish: 1 out of 4')
    assert err == (
        f'error: timed out after 1s waiting for daemon set "agent" to roll out: stuck: maxUnavailable 1 is used up '
        f"by nodes that will not recover by themselves ({node}: {crash_text(pod)}); 3 nodes wait with an old pod "
        f"({', '.join(f'node-{i}' for i in range(4) if f'node-{i}' != node)})\n"
    )


def test_status_timeout_of_a_finished_rollout_exits_0_at_once(
    invoke: Invoke, tmp_path: Path, isolated_env: Path
) -> None:
    with simulated_cluster(tmp_path, nodes=2) as sim:
        code, out, err = status(invoke, sim, "--timeout", "10m")
        assert (code, err) == (0, "")
        assert out.splitlines()[0] == 'daemon set "agent" successfully rolled out'


def test_status_timeout_rejects_a_bad_duration(invoke: Invoke, tmp_path: Path, isolated_env: Path) -> None:
    result = invoke("rollout", "status", NAME, "--timeout", "soon")
    assert (result.exit_code, result.stderr) == (
        2,
        'error: invalid duration "soon" for --timeout; use e.g. 30s, 1m30s or 10\n',
    )
