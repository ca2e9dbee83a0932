"""Driving from inside the cluster: the node under the driver's own pod goes in the last step, alone, since
replacing its kube-proxy or CNI pod can cut the driver off (kubectl_ds/kube/incluster.py, the plan's order)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubectl_ds.errors import NotFound
from kubectl_ds.kube.incluster import own_node
from kubectl_ds.render.rollout import event_line
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.runner import Rollout
from kubectl_ds.rollout.session import Driver
from kubectl_ds.rollout.state import RolloutOptions
from tests import rollout_harness
from tests.rollout_harness import NAME, NAMESPACE


class Pods:
    def __init__(self, node: str | None) -> None:
        self.node = node
        self.asked: list[tuple[str, str]] = []

    def get_pod(self, *, namespace: str, name: str) -> dict[str, Any]:
        self.asked.append((namespace, name))
        if self.node is None:
            raise NotFound(f'pod "{name}" not found')
        return {"spec": {"nodeName": self.node}}


@pytest.fixture
def service_account(tmp_path: Path) -> Path:
    (tmp_path / "namespace").write_text("tools\n")
    return tmp_path


IN_A_POD = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "HOSTNAME": "driver-7f9c"}


@pytest.mark.parametrize(
    ("environ", "pod_node", "expected", "asked"),
    [
        pytest.param({"HOSTNAME": "laptop"}, "node-3", None, [], id="outside-a-pod-no-node"),
        pytest.param(
            {**IN_A_POD, "NODE_NAME": "node-5"}, "node-3", "node-5", [], id="the-downward-apis-node-name-wins"
        ),
        pytest.param(IN_A_POD, "node-3", "node-3", [("tools", "driver-7f9c")], id="else-its-own-pod-says"),
        pytest.param(IN_A_POD, None, None, [("tools", "driver-7f9c")], id="an-unreadable-pod-is-no-node"),
    ],
)
def test_the_node_under_the_driver(
    service_account: Path,
    environ: dict[str, str],
    pod_node: str | None,
    expected: str | None,
    asked: list[tuple[str, str]],
) -> None:
    pods = Pods(pod_node)
    assert own_node(pods, environ, service_account) == expected
    assert pods.asked == asked


def test_the_drivers_own_node_goes_last_alone() -> None:
    h = rollout_harness.manual_cluster(nodes=4, words=event_line)
    driver = Driver(
        cluster=h.cluster,
        clock=h.clock,
        sleep=h.cluster.sleep,
        say=lambda event: h.events.append((h.elapsed(), event)),
        own_node="node-0",
    )
    Rollout(driver, namespace=NAMESPACE, name=NAME).start(
        Change(images=(("agent", "agent:v2"),), description="image agent=agent:v2"), RolloutOptions(max_unavailable=2)
    )
    assert h.lines()[1] == (
        "this driver runs in a pod on node-0: node-0 goes in the last step, since replacing its "
        "agents there (kube-proxy, the CNI) could cut this driver off"
    )
    assert [line for line in h.lines() if line.startswith("step ") and " done" not in line] == [
        "step 1 of 3: node-1, node-2",
        "step 2 of 3: node-3",
        "step 3 of 3: node-0",
    ]
