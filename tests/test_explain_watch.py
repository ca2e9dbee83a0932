"""`kubectl ds explain --watch` over real HTTP against the test API server: the first answer, then one line
per node that changed, driven by the pod and node watches; a fresh list after a failed watch (410 Gone after
compaction); Ctrl-C ends it with exit 130. Each step waits on the output it expects, never on a clock."""

from __future__ import annotations

import os
import pty
import queue
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubectl_ds.commands.explain_watch import CLEAR
from tests.apiserver import ApiServer
from tests.conftest import Invoke
from tests.test_explain_live import healthy_cluster

ROOT = Path(__file__).resolve().parent.parent
ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "pods": "110"}
PATIENCE = 60.0  # seconds before a missing line fails the test (a loaded machine is slow, not wrong)


class Watcher:
    """`kubectl ds explain agent --watch` in its own process, its stdout read line by line."""

    def __init__(self, kubeconfig: str, home: Path, *args: str) -> None:
        env = {**os.environ, "HOME": str(home), "KUBECONFIG": ""}
        command = [sys.executable, "-m", "kubectl_ds", "explain", "agent", "--watch", "--kubeconfig", kubeconfig]
        self.process = subprocess.Popen(
            [*command, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, last: str) -> list[str]:
        """The lines printed up to and including the first that starts with `last`."""
        seen = []
        while True:
            try:
                line = self.lines.get(timeout=PATIENCE)
            except queue.Empty:
                raise AssertionError(f"no line starting with {last!r} after {seen!r}") from None
            seen.append(line)
            if line.startswith(last):
                return seen

    def interrupt(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        _, stderr = self.process.communicate(timeout=PATIENCE)
        return self.process.returncode, stderr


def small_cluster(server: ApiServer, nodes: int) -> None:
    """`nodes` nodes with room for pods, each with a ready, up-to-date pod of default/agent."""
    healthy_cluster(server, nodes)
    for node in server.objects("node"):
        server.update_object({**node, "status": {**node["status"], "allocatable": ALLOCATABLE}})


@pytest.fixture
def watcher(apiserver: ApiServer, tmp_path: Path) -> Iterator[tuple[ApiServer, Watcher]]:
    small_cluster(apiserver, 3)
    watcher = Watcher(apiserver.write_kubeconfig(str(tmp_path / "kc")), tmp_path)
    try:
        yield apiserver, watcher
    finally:
        if watcher.process.poll() is None:
            watcher.process.kill()
            watcher.process.wait()


def set_ready(server: ApiServer, pod: str, ready: bool) -> None:
    stored = server.get("pod", "default", pod)
    assert stored is not None
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    server.update_object({**stored, "status": {**stored["status"], "conditions": conditions}})


def pod_lists(server: ApiServer) -> int:
    return sum(1 for request in server.requests if request.path.endswith("/pods") and "watch" not in request.query)


def test_watch_prints_the_answer_then_a_line_per_changed_node_and_stops_on_ctrl_c(
    watcher: tuple[ApiServer, Watcher],
) -> None:
    server, watch = watcher
    assert watch.until("3 nodes") == [
        "NODE    WANTED    POD      STATUS    REVISION    WHY",
        "n0      yes       agent-0  Running   1           -",
        "n1      yes       agent-1  Running   1           -",
        "n2      yes       agent-2  Running   1           -",
        "",
        "3 nodes → 3 should run; 3 running",
    ]
    set_ready(server, "agent-1", False)
    assert watch.until("3 nodes") == [
        "n1: STATUS Running -> NotReady, WHY - -> pod agent-1 is Running but not ready",
        "3 nodes → 3 should run; 2 running, 1 not ready on n1",
    ]
    lists = pod_lists(server)
    server.compact()  # the watches' versions are gone: 410 Gone, then a fresh list
    server.delete_object("pod", "default", "agent-2")
    assert watch.until("3 nodes") == [
        "n2: POD agent-2 -> -, STATUS Running -> Missing, REVISION 1 -> -, "
        "WHY - -> no DaemonSet pod on this node although one should run",
        "3 nodes → 3 should run; 1 running, 1 not ready on n1, 1 missing a pod on n2 (no pod)",
    ]
    assert pod_lists(server) == lists + 1
    ready = [{"type": "Ready", "status": "True"}]
    server.add(
        {"kind": "Node", "metadata": {"name": "n3"}, "status": {"conditions": ready, "allocatable": ALLOCATABLE}}
    )
    assert watch.until("4 nodes") == [
        "n3: new node: WANTED yes, POD -, STATUS Missing, REVISION -, "
        "WHY no DaemonSet pod on this node although one should run",
        "4 nodes → 4 should run; 1 running, 1 not ready on n1, 2 missing a pod on n2 (no pod), n3 (no pod)",
    ]
    server.delete_object("node", None, "n3")
    assert watch.until("3 nodes") == [
        "n3: node removed",
        "3 nodes → 3 should run; 1 running, 1 not ready on n1, 1 missing a pod on n2 (no pod)",
    ]
    assert watch.interrupt() == (130, "error: interrupted\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--from-file", "dump.yaml"], "--from-file", id="from-file"),
        pytest.param(["-f", "ds.yaml"], "-f/--filename", id="manifest"),
        pytest.param(["--exit-code"], "--exit-code", id="exit-code"),
    ],
)
def test_watch_follows_a_live_daemonset_only(invoke: Invoke, isolated_env: Path, args: list[str], message: str) -> None:
    result = invoke("explain", "agent", "--watch", *args)
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: --watch follows a live DaemonSet; it cannot be combined with {message}\n",
    )


def _complete(drawn: bytes) -> bool:
    return b"should run" in drawn and drawn.endswith(b"\n")


def test_watch_redraws_the_whole_answer_on_a_terminal(apiserver: ApiServer, tmp_path: Path) -> None:
    small_cluster(apiserver, 2)
    primary, secondary = pty.openpty()
    command = [sys.executable, "-m", "kubectl_ds", "explain", "agent", "-w", "--kubeconfig"]
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": ""}
    process = subprocess.Popen(
        [*command, apiserver.write_kubeconfig(str(tmp_path / "kc"))], cwd=ROOT, env=env, stdout=secondary
    )
    os.close(secondary)
    screen = b""

    def until(count: int) -> bytes:
        """The output once it holds `count` redraws, the last one up to its summary line."""
        nonlocal screen
        while screen.count(CLEAR.encode()) < count or not _complete(screen.split(CLEAR.encode())[-1]):
            ready, _, _ = select.select([primary], [], [], PATIENCE)
            assert ready, f"no redraw {count} in {screen!r}"
            screen += os.read(primary, 65536)
        return screen

    try:
        until(1)
        set_ready(apiserver, "agent-1", False)
        last = until(2).split(CLEAR.encode())[-1].decode().replace("\r\n", "\n")
        assert last.splitlines()[-1] == "2 nodes → 2 should run; 1 running, 1 not ready on n1"
        assert "n1      yes       agent-1  NotReady" in last
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=PATIENCE) == 130
        os.close(primary)


def test_watch_without_rbac_watch_on_pods_is_one_error_not_a_stream_of_lists(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    small_cluster(apiserver, 1)
    apiserver.deny("watch", "pods")
    watch = Watcher(apiserver.write_kubeconfig(str(tmp_path / "kc")), tmp_path)
    assert watch.process.wait(timeout=PATIENCE) == 1
    assert watch.process.stderr is not None
    stderr = watch.process.stderr.read()
    assert stderr.startswith('error: forbidden: RBAC does not allow you to watch pods in namespace "default" (')
    assert stderr.endswith("); ask for 'watch' on pods\n")
    assert stderr.count("\n") == 1


def test_a_ctrl_c_whose_exception_python_dropped_still_ends_the_watch() -> None:
    """The signal handler sets INTERRUPTED before it raises; a KeyboardInterrupt raised while a finalizer runs
    (a watch stream closed by the garbage collector) is dropped by Python, so each round checks the flag."""
    from typing import Any, cast

    from kubectl_ds.commands.explain_watch import WatchedReader

    nothing = cast(Any, None)  # never reached: the flag is checked before any watch
    reader = WatchedReader(
        cluster=nothing, nodes=nothing, pods=nothing, sleep=lambda _s: None, interrupted=lambda: True
    )
    with pytest.raises(KeyboardInterrupt):
        reader.wait()
