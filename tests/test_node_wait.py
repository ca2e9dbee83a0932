"""`kubectl ds node --wait` for a node's bring-up, on the simulated cluster and its manual clock: a node joins
(NotReady, tainted not-ready:NoSchedule), turns Ready, and the DaemonSets' pods are created, scheduled and
turn ready, each at an exact moment. The waiter reads over real HTTP (kube.Cluster against the test API
server); its waits run the simulator instead of a pod watch, so every progress line and the moment of the
outcome are exact. The live watch path is pinned in tests/test_node_cli.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kubectl_ds.commands.node import NodeOptions, Round, read_round, wait_for_nodes
from kubectl_ds.kube.cluster import Cluster
from kubectl_ds.kube.config import KubeFlags
from kubectl_ds.kube.quantity import parse_quantity
from kubectl_ds.placement.node_change import NodeChange
from tests.apiserver import ApiServer
from tests.node_support import daemonset
from tests.rollout_harness import EPOCH
from tests.simulator import ClusterSimulator, ManualClock

Obj = dict[str, Any]


class BringUp:
    """A two-node cluster with a CNI agent that tolerates everything and a log agent that does not."""

    def __init__(self, server: ApiServer, tmp_path: Path, log_image: str) -> None:
        self.server = server
        self.clock = ManualClock(EPOCH)
        self.simulator = ClusterSimulator(server, clock=self.clock, ready_after=5.0)
        cni = daemonset("cni", "cni:v1", tolerations=[{"operator": "Exists"}], hostNetwork=True)
        server.load([cni, daemonset("logs", log_image)])
        for name in ("node-0", "node-1"):
            self.simulator.add_node(name)
        self.simulator.settle()
        flags = KubeFlags(kubeconfig=server.write_kubeconfig(str(tmp_path / "kubeconfig")))
        self.cluster = Cluster.connect(flags, local_clock=self.clock)
        self.said: list[tuple[float, str]] = []
        self.start = self.clock()

    def read(self, node: str) -> Callable[[], Round]:
        options = NodeOptions(nodes=(node,), namespace=None, wait=True)
        return lambda: read_round(
            self.cluster,
            options,
            NodeChange(),
            now=self.clock(),
            parse_quantity=parse_quantity,
        )

    def run_until_change(self, _current: Round, seconds: float) -> None:
        """The cluster lives up to `seconds` of manual time, stopping at the first moment it wrote something
        (what a watch of the node's pods, or the next read, would notice)."""
        end = self.clock() + timedelta(seconds=seconds)
        while True:
            if self.simulator.reconcile_once():
                while self.simulator.reconcile_once():  # everything that happens at this instant
                    pass
                return
            due = self.simulator._next_due
            if due is None or due > end:
                self.clock.advance_to(end)
                return
            self.clock.advance_to(due)

    def say(self, line: str) -> None:
        self.said.append(((self.clock() - self.start).total_seconds(), line))

    def wait(self, node: str, timeout: float) -> tuple[bool, Round]:
        return wait_for_nodes(self.read(node), self.run_until_change, clock=self.clock, timeout=timeout, say=self.say)


@pytest.fixture
def bring_up(apiserver: ApiServer, tmp_path: Path) -> Iterator[Callable[[str], BringUp]]:
    yield lambda log_image: BringUp(apiserver, tmp_path, log_image)


def test_waits_through_bring_up_until_every_daemonset_has_a_ready_pod(bring_up: Callable[[str], BringUp]) -> None:
    cluster = bring_up("logs:v1")
    cluster.simulator.add_node("node-new")
    done, _ = cluster.wait("node-new", timeout=120)
    assert done
    # Pod names come from the simulator's seeded random generator.
    assert cluster.said == [
        (
            0.0,
            "node-new: 0 of 2 DaemonSets ready (node NotReady); waiting for kube-system/cni (missing: no DaemonSet "
            "pod on this node although one should run), kube-system/logs (until taint "
            "node.kubernetes.io/not-ready:NoSchedule goes)",
        ),
        (
            0.0,
            "node-new: 0 of 2 DaemonSets ready (node NotReady); waiting for kube-system/cni (not ready: pod "
            "cni-prnz2 is Pending but not ready), kube-system/logs (until taint "
            "node.kubernetes.io/not-ready:NoSchedule goes)",
        ),
        (
            5.0,
            "node-new: 0 of 2 DaemonSets ready; waiting for kube-system/cni (not ready: pod cni-prnz2 is Running but "
            "not ready), kube-system/logs (not ready: pod logs-59842 is Running but not ready)",
        ),
        (10.0, "node-new: 2 of 2 DaemonSets ready"),
    ]


def test_times_out_at_the_deadline_naming_what_is_missing_and_why(bring_up: Callable[[str], BringUp]) -> None:
    cluster = bring_up("logs:nonexistent")
    cluster.simulator.add_node("node-new")
    done, result = cluster.wait("node-new", timeout=60)
    assert not done
    assert (cluster.clock() - cluster.start).total_seconds() == 60
    [waiting] = result.views[0].assessment.waiting_for
    assert (waiting.key, waiting.report.state) == ("kube-system/logs", "image pull error")
    assert cluster.said[-1][1].startswith(
        "node-new: 1 of 2 DaemonSets ready; waiting for kube-system/logs (image pull error: "
    )


def test_waits_for_a_node_that_has_not_registered_yet(bring_up: Callable[[str], BringUp]) -> None:
    cluster = bring_up("logs:v1")
    joined: list[bool] = []

    def join_later(current: Round, seconds: float) -> None:
        if not joined:
            cluster.clock.advance(seconds)  # nothing happens for a while, then the machine registers
            cluster.simulator.add_node("node-late")
            joined.append(True)
            return
        cluster.run_until_change(current, seconds)

    done, _ = wait_for_nodes(cluster.read("node-late"), join_later, clock=cluster.clock, timeout=120, say=cluster.say)
    assert done
    assert cluster.said[0] == (0.0, "node-late: waiting for the node to register")
    assert cluster.said[-1] == (15.0, "node-late: 2 of 2 DaemonSets ready")


def test_waits_for_every_named_node(bring_up: Callable[[str], BringUp]) -> None:
    cluster = bring_up("logs:v1")
    cluster.simulator.add_node("node-a")
    options = NodeOptions(nodes=("node-a", "node-b"), namespace=None, wait=True)

    def read() -> Round:
        return read_round(cluster.cluster, options, NodeChange(), now=cluster.clock(), parse_quantity=parse_quantity)

    def join_b_later(current: Round, seconds: float) -> None:
        cluster.run_until_change(current, seconds)
        if current.views[0].assessment.waiting_for == () and current.unregistered:
            cluster.simulator.add_node("node-b")  # node-a is up before node-b registers

    done, result = wait_for_nodes(read, join_b_later, clock=cluster.clock, timeout=120, say=cluster.say)
    assert done and [view.assessment.facts.name for view in result.views] == ["node-a", "node-b"]
    assert any(
        line == "node-b: waiting for the node to register; node-a: 2 of 2 DaemonSets ready" for _, line in cluster.said
    )
    assert cluster.said[-1][1] == "node-a: 2 of 2 DaemonSets ready; node-b: 2 of 2 DaemonSets ready"
