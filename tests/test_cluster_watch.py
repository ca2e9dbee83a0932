"""The HTTP adapter's pod watch (kube/cluster.py::Cluster.watch_pods, docs/rules.md#r-list-watch) against the
test API server: a burst ends at the first pause, not at the timeout; timeout 0 only catches up; and every
failure is the stream's last item, ("ERROR", Status), so the rollout's informer knows to list again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubectl_ds.kube.cluster import Cluster
from kubectl_ds.kube.config import KubeFlags, resolve
from tests.apiserver import ApiServer

SELECTOR = {"matchLabels": {"app": "agent"}}
Obj = dict[str, Any]


def pod(name: str, app: str = "agent") -> Obj:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
        "spec": {"containers": [{"name": "agent", "image": "agent:v1"}], "nodeName": "n1"},
        "status": {"phase": "Running"},
    }


@pytest.fixture
def server(isolated_env: Path) -> Iterator[ApiServer]:
    with ApiServer() as api:
        api.load([pod("a"), pod("b"), pod("other", app="x")])
        yield api


def connect(server: ApiServer, tmp_path: Path) -> Cluster:
    flags = KubeFlags(kubeconfig=server.write_kubeconfig(tmp_path / "kubeconfig"), request_timeout=5.0)
    return Cluster.connect(flags, resolve(flags, environ={}))


def watch(cluster: Cluster, version: str, timeout: float) -> tuple[list[tuple[str, Obj]], float]:
    began = time.monotonic()
    events = list(cluster.watch_pods(namespace="default", selector=SELECTOR, resource_version=version, timeout=timeout))
    return events, time.monotonic() - began


def relabel(server: ApiServer, name: str, **labels: str) -> None:
    current = server.get("pods", "default", name)
    assert current is not None
    current["metadata"]["labels"].update(labels)
    server.update_object(current)


def test_what_already_happened_comes_as_one_burst_that_ends_at_the_first_pause(
    server: ApiServer, tmp_path: Path
) -> None:
    cluster = connect(server, tmp_path)
    version = server.resource_version
    relabel(server, "a", tier="1")
    server.delete_object("Pod", "default", "b")
    relabel(server, "other", tier="1")  # not selected: not sent
    events, took = watch(cluster, version, 10.0)
    assert [(kind, obj["metadata"]["name"]) for kind, obj in events] == [("MODIFIED", "a"), ("DELETED", "b")]
    assert took < 5.0  # ended by the pause after the burst, not by the 10 s timeout


def test_timeout_zero_only_catches_up(server: ApiServer, tmp_path: Path) -> None:
    cluster = connect(server, tmp_path)
    events, took = watch(cluster, server.resource_version, 0)
    assert (events, took < 1.0) == ([], True)


def test_a_version_the_history_no_longer_has_is_410_gone(server: ApiServer, tmp_path: Path) -> None:
    cluster = connect(server, tmp_path)
    version = server.resource_version
    relabel(server, "a", tier="1")
    server.compact()
    events, _ = watch(cluster, version, 2.0)
    [(kind, status)] = events
    assert (kind, status["code"], status["reason"]) == ("ERROR", 410, "Expired")


@pytest.mark.parametrize(
    ("fault", "count", "code"),
    [
        pytest.param(410, 1, 410, id="410-answer"),
        pytest.param(500, 1, 500, id="server-error"),
        pytest.param("drop", 10, 0, id="no-connection"),  # more drops than the client's own connection retries
    ],
)
def test_a_failed_watch_ends_with_an_error_item(
    server: ApiServer, tmp_path: Path, fault: int | str, count: int, code: int
) -> None:
    cluster = connect(server, tmp_path)
    server.inject_fault(status=fault, count=count, method="GET", path_contains="watch=1")
    events, _ = watch(cluster, server.resource_version, 2.0)
    [(kind, status)] = events
    assert (kind, status["kind"], status["code"]) == ("ERROR", "Status", code)
