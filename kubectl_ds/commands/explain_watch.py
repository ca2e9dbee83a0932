"""`kubectl ds explain --watch`: the answer again after every change, driven by watches, not polling.

The nodes and the DaemonSet's pods are kept as an informer keeps them (rollout/informer.py: one list, then
watch events applied to a local store, a fresh list after a failed watch: 410 Gone, an ERROR event, a broken
stream); each round judges them again through the same run() as one `explain`, reading the DaemonSet, its
revisions and, when needed, events and other pods afresh (small reads). A terminal gets the whole answer
redrawn; a pipe gets the first answer, then a line per node that changed (render/explain_watch.py); -o json
or yaml print the whole document again, one per change. Ctrl-C ends it (exit 130, commands/common.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from kubectl_ds import resources as r
from kubectl_ds.resources import Obj

if TYPE_CHECKING:
    from kubectl_ds.commands.explain import ExplainOptions, ExplainResult
    from kubectl_ds.kube.cluster import Cluster
    from kubectl_ds.rollout.informer import PodInformer

CLEAR = "\x1b[H\x1b[2J"
POD_WAIT = 1.0  # seconds a round waits on the pod watch; the node watch is then asked for what it has


@dataclass
class WatchedReader:
    """A ClusterReader whose nodes and DaemonSet pods come from informers; the rest from the cluster."""

    cluster: Cluster
    nodes: PodInformer
    pods: PodInformer
    sleep: Callable[[float], None]
    failures: int = 0  # watches that failed in a row
    # Ctrl-C seen by the signal handler: a KeyboardInterrupt raised while a finalizer runs (a watch stream closed
    # by the garbage collector) is dropped by Python, so each round of waiting also checks the flag.
    interrupted: Callable[[], bool] = lambda: False

    def get_daemonset(self, *, namespace: str, name: str) -> dict[str, Any]:
        return self.cluster.get_daemonset(namespace=namespace, name=name)

    def list_nodes(self) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.nodes.pods()[0])

    def list_daemonset_pods(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.pods.pods()[0])

    def list_active_pods(self) -> list[dict[str, Any]]:
        return self.cluster.list_active_pods()

    def list_controller_revisions(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.cluster.list_controller_revisions(namespace=namespace, selector=selector)

    def list_scheduling_events(self, *, namespace: str) -> list[dict[str, Any]]:
        return self.cluster.list_scheduling_events(namespace=namespace)

    def wait(self) -> None:
        """Until a watch brings a change, or fails: the next read then lists again (at once after one
        failure, such as 410 Gone after compaction; after a growing pause, as a reflector backs off, when
        they keep failing, so that a broken watch does not become a stream of lists)."""
        while True:
            if self.interrupted():
                raise KeyboardInterrupt
            pods = self.pods.wait(POD_WAIT)
            nodes = self.nodes.wait(0.0)
            if pods < 0 or nodes < 0:
                self.failures += 1
                if self.failures > 1:
                    self.sleep(min(0.5 * 2 ** (self.failures - 2), 8.0))
                return
            if pods or nodes:
                self.failures = 0
                return


def _refused(
    events: Iterator[tuple[str, Obj]], resource: str, namespace: str | None, server: str
) -> Iterator[tuple[str, Obj]]:
    """The watch's events; a 401 or 403 is our error (RBAC lacks `watch`), not a reason to list again."""
    from kubectl_ds.kube.errors import Attempt, error_for_status

    for kind, obj in events:
        code = obj.get("code") if kind == "ERROR" else None
        if code in (401, 403):
            raise error_for_status(int(code), json.dumps(obj).encode(), Attempt("watch", resource, namespace), server)
        yield kind, obj


def watch_explain(
    options: ExplainOptions,
    cluster: Cluster,
    once: Callable[[ExplainOptions, WatchedReader], ExplainResult],
    echo: Callable[[str], None],
    *,
    tty: bool,
    arrow: str,
    sleep: Callable[[float], None],
    interrupted: Callable[[], bool] = lambda: False,
) -> int:
    """Print the answer, then what changed, until interrupted."""
    from kubectl_ds.render.explain_watch import change_lines
    from kubectl_ds.rollout.informer import PodInformer

    assert options.name is not None  # validate() guarantees it
    daemonset = cluster.get_daemonset(namespace=options.namespace, name=options.name)
    selector = r.spec(daemonset).get("selector") or {}
    namespace = r.namespace(daemonset) or options.namespace
    reader = WatchedReader(
        cluster=cluster,
        nodes=PodInformer(
            lambda: cast("tuple[list[Obj], str]", cluster.list_nodes_versioned()),
            lambda version, seconds: _refused(
                cluster.watch_nodes(resource_version=version, timeout=seconds), "nodes", None, cluster.server
            ),
            lambda node: True,
        ),
        pods=PodInformer(
            lambda: cast("tuple[list[Obj], str]", cluster.list_pods_versioned(namespace=namespace, selector=selector)),
            lambda version, seconds: _refused(
                cluster.watch_pods(namespace=namespace, selector=selector, resource_version=version, timeout=seconds),
                "pods",
                namespace,
                cluster.server,
            ),
            lambda pod: True,  # run() keeps the pods the DaemonSet controls
        ),
        sleep=sleep,
        interrupted=interrupted,
    )
    previous = None
    while True:
        result = once(options, reader)
        if tty:
            echo(CLEAR + result.text)
        elif previous is None or options.output in ("json", "yaml"):
            if previous is None or result.text != previous.text:
                echo(result.text if options.output != "yaml" or previous is None else "---\n" + result.text)
        else:
            assert previous.view is not None and result.view is not None
            for line in change_lines(previous.view, result.view, arrow=arrow):
                echo(line + "\n")
        previous = result
        reader.wait()


def watch_live(options: ExplainOptions, cluster: Cluster, *, arrow: str) -> int:
    """watch_explain wired to the real clock, stdout and terminal."""
    import sys
    import time
    from datetime import datetime, timezone

    import click

    from kubectl_ds.commands.common import parse_quantity
    from kubectl_ds.commands.explain import run

    def once(current: ExplainOptions, reader: WatchedReader) -> ExplainResult:
        return run(current, reader, now=datetime.now(timezone.utc), parse_quantity=parse_quantity, arrow=arrow)

    def echo(text: str) -> None:
        click.echo(text, nl=False)
        sys.stdout.flush()

    tty = sys.stdout.isatty() and options.output in ("table", "wide")
    from kubectl_ds.commands.common import INTERRUPTED

    return watch_explain(
        options, cluster, once, echo, tty=tty, arrow=arrow, sleep=time.sleep, interrupted=INTERRUPTED.is_set
    )
