"""`kubectl ds explain` against the real DaemonSet controller and scheduler in a kind cluster.

For each DaemonSet in manifests/, after the controller has settled: every node the report says should
run the pod (shouldRun true) has a DaemonSet pod created for it, every node with shouldRun false has
none, and the reasons name the rule (nodeSelector, affinity, taint) or the scheduler-side blocker
(InsufficientResources, HostPortConflict) that the cluster really shows.

The `-o json` fields relied on: summary.shouldRun; nodes[].name, .shouldRun, .pods[].name,
.reasons[].code and .reasons[].message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .cluster import KindCluster

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
MANIFESTS = HERE / "manifests"
NAMESPACE = "kubectl-ds-e2e"
DAEMONSETS = ("ssd-only", "hdd-affinity", "no-toleration", "port-holder", "port-taker", "too-big")
GPU_LABEL = "e2e.kubectl-ds.io/gpu"


# --- reading the cluster (pure helpers over `kubectl get -o json`) --------------------------------


def node_of(pod: dict[str, Any]) -> str | None:
    """The node a DaemonSet pod was created for: nodeName once bound, else the controller's
    required node affinity (matchFields metadata.name In [node]) that pins it there."""
    if pod["spec"].get("nodeName"):
        return str(pod["spec"]["nodeName"])
    affinity = pod["spec"].get("affinity", {}).get("nodeAffinity", {})
    terms = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms", [])
    for term in terms:
        for field in term.get("matchFields", []):
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and field.get("values"):
                return str(field["values"][0])
    return None


def owned_pods(pods: list[dict[str, Any]], daemonset: dict[str, Any]) -> list[dict[str, Any]]:
    uid = daemonset["metadata"]["uid"]
    return [
        pod
        for pod in pods
        if any(ref.get("uid") == uid and ref.get("controller") for ref in pod["metadata"].get("ownerReferences", []))
    ]


def pods_by_node(pods: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for pod in pods:
        node = node_of(pod)
        assert node is not None, f"pod {pod['metadata']['name']} has neither nodeName nor node affinity"
        found.setdefault(node, []).append(pod["metadata"]["name"])
    return {node: sorted(names) for node, names in found.items()}


def settled(pod: dict[str, Any]) -> bool:
    """Ready, or the scheduler has given up on it for now (PodScheduled False, Unschedulable)."""
    conditions = {c["type"]: c for c in pod.get("status", {}).get("conditions", [])}
    if conditions.get("Ready", {}).get("status") == "True":
        return True
    scheduled = conditions.get("PodScheduled", {})
    return bool(scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable")


def daemonset_settled(daemonset: dict[str, Any], pods: list[dict[str, Any]]) -> bool:
    status = daemonset.get("status", {})
    mine = owned_pods(pods, daemonset)
    return (
        not any(pod["metadata"].get("deletionTimestamp") for pod in mine)
        and status.get("observedGeneration", 0) >= daemonset["metadata"]["generation"]
        and status.get("currentNumberScheduled", -1) == status.get("desiredNumberScheduled")
        and len(mine) == status.get("desiredNumberScheduled")
        and all(settled(pod) for pod in mine)
    )


# --- the cluster fixture -------------------------------------------------------------------------


class Workloads:
    """The applied DaemonSets, with fresh reads of the cluster and kubectl-ds reports."""

    def __init__(self, cluster: KindCluster) -> None:
        self.cluster = cluster

    def daemonset(self, name: str) -> dict[str, Any]:
        return self.cluster.get("daemonset", name, "-n", NAMESPACE)

    def pods(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.cluster.get("pods", "-n", NAMESPACE)["items"]
        return items

    def nodes(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.cluster.get("nodes")["items"]
        return items

    def settled(self, *names: str) -> bool:
        pods = self.pods()
        return all(daemonset_settled(self.daemonset(name), pods) for name in names)

    def explain(self, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "kubectl_ds",
                "explain",
                name,
                "-n",
                NAMESPACE,
                "--kubeconfig",
                str(self.cluster.kubeconfig),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def report(self, name: str) -> dict[str, Any]:
        result = self.explain(name, "-o", "json")
        assert result.returncode == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data


@pytest.fixture(scope="module")
def workloads(kind_cluster: KindCluster) -> Iterator[Workloads]:
    cluster = Workloads(kind_cluster)
    kind_cluster.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true")
    kind_cluster.kubectl("apply", "-f", str(MANIFESTS / "00-namespace.yaml"))
    for manifest in (
        "10-node-selector.yaml",
        "11-affinity.yaml",
        "12-taint.yaml",
        "20-port-holder.yaml",
        "30-too-big.yaml",
    ):
        kind_cluster.kubectl("apply", "-f", str(MANIFESTS / manifest))
    # The port holder must own the port before the taker asks for it, or the two race per node.
    kind_cluster.kubectl("rollout", "status", "daemonset/port-holder", "-n", NAMESPACE, "--timeout=300s", timeout=330)
    kind_cluster.kubectl("apply", "-f", str(MANIFESTS / "21-port-taker.yaml"))
    kind_cluster.wait_for("the DaemonSets to settle", lambda: cluster.settled(*DAEMONSETS), timeout=300)
    yield cluster
    kind_cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def labelled(nodes: list[dict[str, Any]], key: str, value: str | None = None) -> set[str]:
    return {
        node["metadata"]["name"]
        for node in nodes
        if key in node["metadata"].get("labels", {}) and (value is None or node["metadata"]["labels"][key] == value)
    }


def workers(nodes: list[dict[str, Any]]) -> set[str]:
    return {
        node["metadata"]["name"]
        for node in nodes
        if "node-role.kubernetes.io/control-plane" not in node["metadata"].get("labels", {})
    }


def codes(node: dict[str, Any]) -> set[str]:
    return {reason["code"] for reason in node["reasons"]}


# --- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DAEMONSETS)
def test_verdicts_agree_with_the_pods_the_controller_created(workloads: Workloads, name: str) -> None:
    report = workloads.report(name)
    daemonset = workloads.daemonset(name)
    real = pods_by_node(owned_pods(workloads.pods(), daemonset))
    all_nodes = {node["metadata"]["name"] for node in workloads.nodes()}

    assert {node["name"] for node in report["nodes"]} == all_nodes
    for node in report["nodes"]:
        if node["shouldRun"]:
            assert node["name"] in real, f"{name}: {node['name']} should run the pod but has none"
        else:
            assert node["name"] not in real, f"{name}: {node['name']} should not run the pod but has {real}"
        assert sorted(pod["name"] for pod in node["pods"]) == real.get(node["name"], [])
    assert report["summary"]["shouldRun"] == daemonset["status"]["desiredNumberScheduled"] == len(real)


def test_node_selector_verdicts(workloads: Workloads) -> None:
    nodes = workloads.nodes()
    report = {node["name"]: node for node in workloads.report("ssd-only")["nodes"]}
    assert {name for name, node in report.items() if node["shouldRun"]} == labelled(nodes, "disktype", "ssd")
    for name in labelled(nodes, "disktype", "hdd"):
        assert "NodeSelector" in codes(report[name])


def test_affinity_verdicts(workloads: Workloads) -> None:
    nodes = workloads.nodes()
    report = {node["name"]: node for node in workloads.report("hdd-affinity")["nodes"]}
    assert {name for name, node in report.items() if node["shouldRun"]} == labelled(nodes, "disktype", "hdd")
    for name in labelled(nodes, "disktype", "ssd"):
        assert "NodeAffinity" in codes(report[name])


def test_taint_verdicts(workloads: Workloads) -> None:
    nodes = workloads.nodes()
    gpu = labelled(nodes, GPU_LABEL)
    report = {node["name"]: node for node in workloads.report("no-toleration")["nodes"]}
    assert {name for name, node in report.items() if node["shouldRun"]} == workers(nodes) - gpu
    for name in gpu:
        assert "TaintNoSchedule" in codes(report[name])


def test_pending_pods_show_insufficient_resources(workloads: Workloads) -> None:
    report = workloads.report("too-big")
    wanted = [node for node in report["nodes"] if node["shouldRun"]]
    assert wanted, "too-big should be wanted on the untainted workers"
    for node in wanted:
        assert [pod["phase"] for pod in node["pods"]] == ["Pending"]
        assert "InsufficientResources" in codes(node), node["reasons"]
        assert any("memory" in reason["message"] for reason in node["reasons"])


def test_port_conflict_shows_host_port_conflict(workloads: Workloads) -> None:
    report = workloads.report("port-taker")
    wanted = [node for node in report["nodes"] if node["shouldRun"]]
    assert wanted, "port-taker should be wanted on the ssd workers"
    for node in wanted:
        assert [pod["phase"] for pod in node["pods"]] == ["Pending"]
        assert "HostPortConflict" in codes(node), node["reasons"]
        assert any(
            "18080" in reason["message"] and "port-holder" in reason["message"]
            for reason in node["reasons"]
            if reason["code"] == "HostPortConflict"
        )


def test_exit_code_tells_healthy_from_unhealthy(workloads: Workloads) -> None:
    assert workloads.explain("ssd-only", "--exit-code").returncode == 0
    unhealthy = workloads.explain("too-big", "--exit-code")
    assert unhealthy.returncode == 3, unhealthy.stderr
    assert unhealthy.stdout.startswith("NODE")
