"""`kubectl ds rollout` against a real kind cluster (run with KUBECTL_DS_E2E=1; see conftest.py).

A DaemonSet on every node (it tolerates everything) is rolled out managed, once with --max-unavailable 1
and once with --max-surge 1; the first one is interrupted (SIGINT) mid-way and resumed from a second
process. At the end every node runs the newest revision and the original strategy is back.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .cluster import KindCluster

pytestmark = pytest.mark.e2e

NAMESPACE = "kubectl-ds-e2e-rollout"
NAME = "roller"
MANIFEST = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": NAME, "namespace": NAMESPACE},
    "spec": {
        "selector": {"matchLabels": {"app": NAME}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"app": NAME}},
            "spec": {
                "tolerations": [{"operator": "Exists"}],
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9"}],
            },
        },
    },
}


def plugin(cluster: KindCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kubectl_ds",
            "rollout",
            *args,
            NAME,
            "-n",
            NAMESPACE,
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def roller(kind_cluster: KindCluster) -> Iterator[KindCluster]:
    kind_cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    subprocess.run(
        [kind_cluster.kubectl_path, "--kubeconfig", str(kind_cluster.kubeconfig), "apply", "-f", "-"],
        input=json.dumps(MANIFEST),
        text=True,
        check=True,
        capture_output=True,
    )
    kind_cluster.kubectl("rollout", "status", f"daemonset/{NAME}", "-n", NAMESPACE, "--timeout=300s", timeout=330)
    yield kind_cluster
    kind_cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def assert_fully_updated(cluster: KindCluster) -> None:
    daemonset = cluster.get("daemonset", NAME, "-n", NAMESPACE)
    annotations = daemonset["metadata"].get("annotations") or {}
    assert not any(key.startswith("kubectl-ds.io/") for key in annotations)
    assert daemonset["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    revisions = cluster.get("controllerrevisions", "-n", NAMESPACE, "-l", f"app={NAME}")["items"]
    newest = max(revisions, key=lambda rev: rev["revision"])["metadata"]["labels"]["controller-revision-hash"]
    pods: list[dict[str, Any]] = cluster.get("pods", "-n", NAMESPACE, "-l", f"app={NAME}")["items"]
    nodes = {node["metadata"]["name"] for node in cluster.get("nodes")["items"]}
    live = [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]
    assert {pod["spec"].get("nodeName") for pod in live} == nodes
    assert {pod["metadata"]["labels"]["controller-revision-hash"] for pod in live} == {newest}


def test_managed_rollout_interrupted_and_resumed(roller: KindCluster) -> None:
    process = subprocess.Popen(
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
            str(roller.kubeconfig),
            "--image",
            "pause=registry.k8s.io/pause:3.10",
            "--max-unavailable",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(8)  # somewhere in the first steps
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode in (0, 130), err
    if process.returncode == 130:
        daemonset = roller.get("daemonset", NAME, "-n", NAMESPACE)
        assert daemonset["spec"]["updateStrategy"]["type"] == "OnDelete"  # parked while interrupted
        resumed = plugin(roller, "resume")
        assert resumed.returncode == 0, resumed.stderr
    assert_fully_updated(roller)


def test_managed_surge_rollout(roller: KindCluster) -> None:
    result = plugin(
        roller, "start", "--image", "pause=registry.k8s.io/pause:3.10", "--max-surge", "1", "--max-unavailable", "0"
    )
    assert result.returncode == 0, result.stderr
    assert_fully_updated(roller)
