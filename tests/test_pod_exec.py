"""--check-exec's transport (kube/podexec.py, docs/rules.md#r-pod-exec): the kubernetes client's stream() over a
real WebSocket to the test API server's pods/exec (tests/apiserver_exec.py, the v4.channel.k8s.io protocol),
and --check's process runner (kube/process.py): exit codes, output, timeouts that kill the whole process group,
and a Ctrl-C during a check."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubectl_ds.kube.cluster import Cluster
from kubectl_ds.kube.config import KubeFlags, resolve
from kubectl_ds.kube.process import run_shell
from tests.apiserver import ApiServer

Obj = dict[str, Any]


def pod(name: str, phase: str = "Running", containers: tuple[str, ...] = ("agent",)) -> Obj:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "agent"}},
        "spec": {"containers": [{"name": c, "image": "agent:v2"} for c in containers], "nodeName": "n1"},
        "status": {"phase": phase},
    }


@pytest.fixture
def server(isolated_env: Path) -> Iterator[ApiServer]:
    with ApiServer() as api:
        api.load([pod("a"), pod("pending", phase="Pending"), pod("two", containers=("agent", "sidecar"))])
        yield api


@pytest.fixture
def cluster(server: ApiServer, tmp_path: Path) -> Cluster:
    flags = KubeFlags(kubeconfig=server.write_kubeconfig(tmp_path / "kubeconfig"), request_timeout=5.0)
    return Cluster.connect(flags, resolve(flags, environ={}))


def answer(code: int, out: str, err: str = "") -> Any:
    seen: list[tuple[str, str, list[str]]] = []

    def handler(pod: Obj, container: str, argv: list[str]) -> tuple[int, str, str]:
        seen.append((pod["metadata"]["name"], container, argv))
        return code, out, err

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def nothing() -> None:
    pass


@pytest.mark.parametrize(
    ("code", "out", "err", "expected"),
    [
        pytest.param(0, "status: ok\n", "", (0, "status: ok\n"), id="success-exit-0"),
        pytest.param(3, "2 peers unreachable\n", "warn\n", (3, "2 peers unreachable\nwarn\n"), id="non-zero-exit-code"),
        pytest.param(0, "x" * 70_000, "", (0, "x" * 70_000), id="output-over-64k-frames"),
    ],
)
def test_exec_returns_the_exit_code_from_the_error_channel_status(
    server: ApiServer, cluster: Cluster, code: int, out: str, err: str, expected: tuple[int, str]
) -> None:
    server.exec_handler = answer(code, out, err)
    assert cluster.exec_in_pod("default", "a", "agent", ["agent", "status", "--brief"], 10, nothing) == expected
    assert server.exec_handler.seen == [("a", "agent", ["agent", "status", "--brief"])]
    assert [(r.method, r.path, r.status) for r in server.requests if r.path.endswith("/exec")] == [
        ("GET", "/api/v1/namespaces/default/pods/a/exec", 101)
    ]


@pytest.mark.parametrize(
    ("pod_name", "container", "deny", "expected"),
    [
        pytest.param(
            "pending",
            "agent",
            None,
            "HTTP 400: unable to upgrade connection: pod pending is not running",
            id="pod-not-running",
        ),
        pytest.param("two", "nope", None, "HTTP 400: container nope is not valid for pod two", id="unknown-container"),
        pytest.param(
            "a",
            "agent",
            "create",
            'HTTP 403: pods "a" is forbidden: User "test-user" cannot create resource '
            '"pods/exec" in API group "" in the namespace "default"',
            id="rbac-create-pods-exec-since-1.35",
        ),
        pytest.param(
            "a",
            "agent",
            "get",
            'HTTP 403: pods "a" is forbidden: User "test-user" cannot get resource '
            '"pods/exec" in API group "" in the namespace "default"',
            id="rbac-get-pods-exec-websocket-upgrade",
        ),
    ],
)
def test_exec_that_cannot_run_is_minus_one_with_the_servers_reason(
    server: ApiServer, cluster: Cluster, pod_name: str, container: str, deny: str | None, expected: str
) -> None:
    if deny:
        server.deny(deny, "pods/exec")
    assert cluster.exec_in_pod("default", pod_name, container, ["true"], 10, nothing) == (-1, expected)


def test_exec_still_running_at_its_timeout_is_abandoned(server: ApiServer, cluster: Cluster) -> None:
    release = threading.Event()

    def hangs(pod: Obj, container: str, argv: list[str]) -> tuple[int, str, str]:
        release.wait(60)  # answers only once the test has seen the timeout
        return 0, "late\n", ""

    server.exec_handler = hangs
    try:
        assert cluster.exec_in_pod("default", "a", "agent", ["agent", "status"], 0.3, nothing) == (None, "")
    finally:
        release.set()


# --- --check's process runner ------------------------------------------------------------------------------------


def test_a_check_gets_the_environment_and_its_output_and_exit_code_are_kept(tmp_path: Path) -> None:
    code, output = run_shell(
        'echo "step $KUBECTL_DS_STEP"; echo oops >&2; exit 3', {"KUBECTL_DS_STEP": "2"}, 10, nothing
    )
    assert (code, output) == (3, "step 2\noops\n")


def gone(pid: int, within: float = 30.0) -> bool:
    """The process stops running within `within` seconds (gone, or a zombie waiting for whoever reaps orphans):
    a signal is delivered at once, but a loaded machine may take a moment to run the process to its end."""
    deadline = time.monotonic() + within
    while True:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def test_a_check_past_its_timeout_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    def until_started() -> None:
        """Hold the runner (it calls this while the check runs) until the check has started its child: the
        timeout then finds it running, however slowly a loaded machine started it."""
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)

    began = time.monotonic()
    script = f"echo started; sleep 60 & echo $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; wait"
    code, output = run_shell(script, {}, 0.5, until_started)
    assert (code, output) == (None, "started\n")
    assert time.monotonic() - began < 30  # not the 60 s the check would have taken
    assert gone(int(pidfile.read_text()))


def test_ctrl_c_during_a_check_kills_its_process_group_and_is_raised(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    def ctrl_c() -> None:
        if pidfile.exists() and pidfile.read_text().strip():
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_shell(f"sleep 60 & echo $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; wait", {}, 60, ctrl_c)
    assert gone(int(pidfile.read_text()))


def test_a_check_killed_by_a_signal_exits_128_plus_the_signal() -> None:
    assert run_shell("kill -TERM $$", {}, 10, nothing)[0] == 128 + 15
    assert os.environ.get("KUBECTL_DS_STEP") is None  # the check's environment is its own
