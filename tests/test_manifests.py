"""`explain -f MANIFEST` on manifests as vendors ship them (docs/rules.md#r-manifest), and a node whose kubelet
never posted its allocatable resources (docs/rules.md#r-no-allocatable), over HTTP against the test API
server with the exact words pinned."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver import ApiServer
from tests.conftest import Invoke
from tests.test_explain_live import healthy_cluster


def daemonset(name: str, *, api_version: str = "apps/v1", selector: bool = True, port: int = 0) -> dict[str, Any]:
    labels = {"app": name}
    container: dict[str, Any] = {"name": name, "image": f"{name}:1"}
    if port:
        container["ports"] = [{"containerPort": port, "hostPort": port}]
    spec: dict[str, Any] = {"template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}
    if selector:
        spec["selector"] = {"matchLabels": labels}
    return {"apiVersion": api_version, "kind": "DaemonSet", "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def kubeconfig(apiserver: ApiServer, tmp_path: Path) -> str:
    healthy_cluster(apiserver, 3)
    for index in range(3):
        node = apiserver.get("nodes", None, f"n{index}")
        assert node is not None
        node["status"]["allocatable"] = {"cpu": "2", "memory": "4Gi", "pods": "110"}
        apiserver.update_object(node)
    return apiserver.write_kubeconfig(str(tmp_path / "kubeconfig"))


def write(tmp_path: Path, *documents: dict[str, Any]) -> str:
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return str(path)


def test_name_picks_one_of_several_daemonsets(invoke: Invoke, kubeconfig: str, tmp_path: Path) -> None:
    """Vendor manifests often ship two DaemonSets (a Linux and a Windows agent) and more objects."""
    manifest = write(
        tmp_path,
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "vendor"}},
        daemonset("vendor-linux"),
        daemonset("vendor-windows"),
    )
    result = invoke("explain", "vendor-windows", "-f", manifest, "--kubeconfig", kubeconfig)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == f'Explaining DaemonSet "vendor-windows" from {manifest} (not applied yet)'
    assert result.stdout.splitlines()[-1] == "3 nodes → 3 should run; 3 would get a new pod"


def test_several_daemonsets_without_a_name_is_one_line_listing_them(
    invoke: Invoke, kubeconfig: str, tmp_path: Path
) -> None:
    manifest = write(tmp_path, daemonset("vendor-linux"), daemonset("vendor-windows"))
    result = invoke("explain", "-f", manifest, "--kubeconfig", kubeconfig)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f'error: "{manifest}" holds 2 DaemonSets (vendor-linux, vendor-windows); name the one to explain: '
        f"kubectl ds explain vendor-linux -f {manifest}\n",
    )


@pytest.mark.parametrize(
    ("api_version", "selector", "warnings"),
    [
        pytest.param(
            "extensions/v1beta1",
            True,
            [
                'Warning: DaemonSet "agent" is extensions/v1beta1, which the API server no longer serves (removed '
                "in Kubernetes 1.16) and would reject; use apiVersion: apps/v1"
            ],
            id="removed-extensions-v1beta1",
        ),
        pytest.param(
            "apps/v1beta2",
            True,
            [
                'Warning: DaemonSet "agent" is apps/v1beta2, which the API server no longer serves (removed '
                "in Kubernetes 1.16) and would reject; use apiVersion: apps/v1"
            ],
            id="removed-apps-v1beta2",
        ),
        pytest.param(
            "apps/v1",
            False,
            [
                'Warning: DaemonSet "agent" has no spec.selector, which apps/v1 requires: the API server would '
                "reject it; add spec.selector.matchLabels {app: agent} (the pod template's labels, which this "
                "explanation used)"
            ],
            id="selector-required-in-apps-v1",
        ),
        pytest.param(
            "extensions/v1beta1",
            False,
            [
                'Warning: DaemonSet "agent" is extensions/v1beta1, which the API server no longer serves (removed '
                "in Kubernetes 1.16) and would reject; use apiVersion: apps/v1",
                'Warning: DaemonSet "agent" has no spec.selector, which apps/v1 requires: the API server would '
                "reject it; add spec.selector.matchLabels {app: agent} (the pod template's labels, which this "
                "explanation used)",
            ],
            id="removed-version-relied-on-selector-defaulting",
        ),
    ],
)
def test_a_manifest_the_api_server_would_reject_is_explained_with_a_warning(
    invoke: Invoke, kubeconfig: str, tmp_path: Path, api_version: str, selector: bool, warnings: list[str]
) -> None:
    """The applied agent's pods are found through the defaulted selector and shown as old."""
    manifest = write(tmp_path, daemonset("agent", api_version=api_version, selector=selector))
    result = invoke("explain", "-f", manifest, "--kubeconfig", kubeconfig, "-o", "json")
    assert (result.exit_code, result.stderr.splitlines()) == (0, warnings)
    data = json.loads(result.stdout)
    assert [node["pods"][0]["name"] for node in data["nodes"]] == ["agent-0", "agent-1", "agent-2"]


def add_unregistered_node(server: ApiServer, name: str = "n3") -> None:
    """A Node object whose kubelet never posted status (created ahead of the machine, or a kubelet that
    failed on its first start): no allocatable, no conditions."""
    server.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {}}})


def test_node_without_allocatable_says_so_for_a_live_daemonset(
    invoke: Invoke, apiserver: ApiServer, kubeconfig: str
) -> None:
    add_unregistered_node(apiserver)
    result = invoke("explain", "agent", "--kubeconfig", kubeconfig)
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if line.startswith("n3 "))
    assert row.endswith(
        "no DaemonSet pod on this node although one should run; node reports no allocatable resources "
        "(status.allocatable not posted): the scheduler places no pod here until its kubelet registers and posts "
        "them"
    )
    assert "too many pods" not in result.stdout.lower() and "free capacity" not in result.stdout
    assert "; 3 running, 1 missing a pod on n3 (no allocatable resources)\n" in result.stdout
    assert "  no allocatable resources (n3): check the kubelet on n3: kubectl describe node n3\n" in result.stdout


def test_node_without_allocatable_is_not_counted_as_getting_a_pod(
    invoke: Invoke, apiserver: ApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    add_unregistered_node(apiserver)
    manifest = write(tmp_path, daemonset("newcomer"))
    result = invoke("explain", "-f", manifest, "--kubeconfig", kubeconfig, "-o", "json")
    data = json.loads(result.stdout)
    assert data["summary"]["text"] == (
        "4 nodes -> 4 should run; 3 would get a new pod, 1 would stay Pending on n3 (no allocatable resources)"
    )
    assert [(state["state"], [node["name"] for node in state["nodes"]]) for state in data["summary"]["states"]] == [
        ("would get a pod", ["n0", "n1", "n2"]),
        ("would stay Pending", ["n3"]),
    ]
    n3 = next(node for node in data["nodes"] if node["name"] == "n3")
    assert (n3["state"], [reason["code"] for reason in n3["reasons"]], n3["blocking"]) == (
        "would stay Pending",
        ["NodeNotReady", "NodeNoAllocatable"],
        True,
    )


def test_a_what_if_pod_that_does_not_fit_would_stay_pending(
    invoke: Invoke, apiserver: ApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    """The same state for any scheduler-side blocker: a host port another pod holds."""
    holder = copy.deepcopy(apiserver.get("pods", "default", "agent-1"))
    assert holder is not None
    holder["metadata"] = {"name": "exporter", "namespace": "default"}
    holder["spec"]["containers"][0]["ports"] = [{"containerPort": 9100, "hostPort": 9100}]
    apiserver.add(holder)
    manifest = write(tmp_path, daemonset("newcomer", port=9100))
    data = json.loads(invoke("explain", "-f", manifest, "--kubeconfig", kubeconfig, "-o", "json").stdout)
    assert data["summary"]["text"] == (
        "3 nodes -> 3 should run; 2 would get a new pod, 1 would stay Pending on n1 (hostPort 9100/TCP)"
    )


def test_a_manifest_with_modest_yaml_aliases_reads_as_written(invoke: Invoke, kubeconfig: str, tmp_path: Path) -> None:
    """Anchors and merge keys people write by hand (the labels once, the selector and template pointing at them)
    are not an alias bomb: the limit is on expansion, not on aliases."""
    manifest = tmp_path / "anchored.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\n"
        "kind: DaemonSet\n"
        "metadata: {name: anchored, labels: &labels {app: anchored}}\n"
        "spec:\n"
        "  selector: {matchLabels: *labels}\n"
        "  template:\n"
        "    metadata: {labels: *labels}\n"
        "    spec:\n"
        "      containers:\n"
        "      - &container {name: a, image: 'a:1', resources: {requests: {cpu: 10m}}}\n"
        "      - {<<: *container, name: b}\n"
    )
    result = invoke("explain", "-f", str(manifest), "--kubeconfig", kubeconfig)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == "3 nodes → 3 should run; 3 would get a new pod"
