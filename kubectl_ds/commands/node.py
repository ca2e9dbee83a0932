"""`kubectl ds node NODE...`: flags -> NodeOptions -> validate() -> run.

Every DaemonSet in scope judged on the named nodes, as `explain` judges a node (placement/node_report.py).
Reads stay small whatever the cluster's size: each named node, the DaemonSets in scope, the pods bound to
each named node (field selector spec.nodeName=NODE), the unscheduled pods (spec.nodeName=, where a Pending
DaemonSet pod waits, pinned to its node by a matchFields affinity), the ControllerRevisions in scope, and
FailedScheduling events only when a DaemonSet pod is Pending. Never the whole pod list, never a request per
node of the cluster. It never writes: --taint, --label and --cordon change the node in memory only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import click

from kubectl_ds import resources as r
from kubectl_ds.commands.common import (
    from_file_option,
    interruptible,
    kube_flag_options,
    merged_kube_flags,
    open_reader,
    parse_duration,
    parse_quantity,
    pop_kube_flags,
)
from kubectl_ds.commands.help import GroupedCommand
from kubectl_ds.errors import ExitCode, Forbidden, NotFound, UsageError
from kubectl_ds.placement.node_change import NodeChange, apply_change, node_change
from kubectl_ds.placement.node_report import NodeAssessment, assess_node
from kubectl_ds.placement.pods import target_node
from kubectl_ds.placement.requests import ParseQuantity
from kubectl_ds.placement.scheduling import events_for
from kubectl_ds.reader import NodeReader
from kubectl_ds.render.node import (
    NodeView,
    not_registered_line,
    render_node_data,
    render_node_table,
    timeout_line,
    waiting_line,
)

OUTPUT_FORMATS = ("table", "wide", "json", "yaml")
DEFAULT_TIMEOUT = 300.0
WAIT_CAP = 5.0  # seconds a wait lasts at most without a pod event: node and Pending-pod changes are read then


@dataclass(frozen=True)
class NodeOptions:
    nodes: tuple[str, ...]
    namespace: str | None  # None: every namespace (-A)
    output: str = "table"
    wait: bool = False
    timeout: float | None = None
    taints: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    cordon: bool = False
    from_files: tuple[str, ...] = ()

    def validate(self) -> NodeChange:
        """Checks the flags before any request; returns the what-if change (empty without one)."""
        if self.output not in OUTPUT_FORMATS:
            raise UsageError(f'unknown output format "{self.output}" for -o; use one of: {", ".join(OUTPUT_FORMATS)}')
        if not self.nodes:
            raise UsageError("name the node(s) to show: kubectl ds node NODE...")
        change = node_change(self.taints, self.labels, self.cordon)
        if self.wait and not change.empty:
            raise UsageError("--wait waits for the node as it is: drop --taint, --label and --cordon")
        if self.wait and self.from_files:
            raise UsageError("--wait needs a live cluster: drop --from-file")
        if self.timeout is not None and not self.wait:
            raise UsageError("--timeout applies to --wait: add --wait or drop --timeout")
        if self.timeout is not None and self.timeout < 0:
            raise UsageError("--timeout must not be negative")
        return change


@dataclass(frozen=True)
class Round:
    """One read of the named nodes: a view of each node that exists, and the names not registered yet."""

    views: tuple[NodeView, ...]
    unregistered: tuple[str, ...]
    omitted: tuple[str, ...]
    versions: dict[str, str]  # node -> resourceVersion of its pod list

    @property
    def done(self) -> bool:
        return not self.unregistered and all(not view.assessment.waiting_for for view in self.views)

    def progress(self) -> str:
        lines = [not_registered_line(name) for name in self.unregistered]
        lines += [waiting_line(view.assessment) for view in self.views]
        return "; ".join(lines)


def read_round(
    reader: NodeReader,
    options: NodeOptions,
    change: NodeChange,
    *,
    now: datetime,
    parse_quantity: ParseQuantity,
) -> Round:
    omitted: list[str] = []
    nodes, unregistered = [], []
    for name in dict.fromkeys(options.nodes):
        try:
            nodes.append(reader.get_node(name=name))
        except NotFound:
            if not options.wait:
                raise NotFound(f'node "{name}" not found; kubectl get nodes lists them') from None
            unregistered.append(name)
    daemonsets = reader.list_daemonsets(namespace=options.namespace)
    bound: dict[str, list[dict[str, Any]] | None] = {}
    versions: dict[str, str] = {}
    for node in nodes:
        try:
            bound[r.name(node)], versions[r.name(node)] = reader.pods_on_node_versioned(node=r.name(node))
        except Forbidden as error:
            omitted.append(f"pod states left out: {error.message}")
            bound[r.name(node)] = None
    unscheduled = _read_or_note(
        lambda: reader.list_unscheduled_pods(namespace=options.namespace), omitted, "Pending pods"
    )
    revisions = _read_or_note(lambda: reader.list_revisions(namespace=options.namespace), omitted, "revision numbers")
    messages = _scheduler_messages(reader, unscheduled, {r.name(node) for node in nodes}, omitted)

    def judge(node: Mapping[str, Any]) -> NodeAssessment:
        return assess_node(
            node,
            daemonsets,
            bound[r.name(node)],
            unscheduled,
            revisions,
            now=now,
            parse_quantity=parse_quantity,
            scheduler_messages=messages,
        )

    views = []
    for node in nodes:
        if change.empty:
            views.append(NodeView(assessment=judge(node), scope=_scope(options)))
        else:
            views.append(
                NodeView(
                    assessment=judge(node),
                    changed=judge(apply_change(node, change)),
                    change=change,
                    scope=_scope(options),
                )
            )
    return Round(tuple(views), tuple(unregistered), tuple(dict.fromkeys(omitted)), versions)


def _scope(options: NodeOptions) -> str:
    return "in all namespaces" if options.namespace is None else f'in namespace "{options.namespace}"'


def _read_or_note(read: Callable[[], list[dict[str, Any]]], omitted: list[str], what: str) -> list[dict[str, Any]]:
    try:
        return read()
    except Forbidden as error:
        omitted.append(f"{what} left out: {error.message}")
        return []


def _scheduler_messages(
    reader: NodeReader, unscheduled: Sequence[dict[str, Any]], nodes: set[str], omitted: list[str]
) -> dict[str, str]:
    """FailedScheduling messages of the Pending pods pinned to these nodes: one list per namespace they are in."""
    pending = [pod for pod in unscheduled if target_node(pod) in nodes]
    messages: dict[str, str] = {}
    for namespace in sorted({r.namespace(pod) for pod in pending}):
        try:
            events = reader.list_scheduling_events(namespace=namespace)
        except Forbidden as error:
            omitted.append(f"scheduler events left out: {error.message}")
            continue
        messages.update(events_for([pod for pod in pending if r.namespace(pod) == namespace], events))
    return messages


def render(result: Round, output: str) -> str:
    if output in ("json", "yaml"):
        return render_node_data(result.views, output, result.omitted)
    text = render_node_table(result.views, wide=output == "wide") if result.views else ""
    text += "".join(f"Note: {note}\n" for note in result.omitted)
    return text


# --- --wait ---------------------------------------------------------------------------------------------------


def wait_for_nodes(
    read: Callable[[], Round],
    wait_for_change: Callable[[Round, float], None],
    *,
    clock: Callable[[], datetime],
    timeout: float,
    say: Callable[[str], None],
) -> tuple[bool, Round]:
    """Read, say what changed, and wait for the next change until every expected DaemonSet has a ready pod on
    every named node (True) or `timeout` seconds of `clock` have passed (False). Each wait lasts at most
    WAIT_CAP seconds, so what a pod watch does not see (the node's taints, a Pending pod) is read again."""
    deadline = clock() + timedelta(seconds=timeout)
    last = ""
    while True:
        current = read()
        line = current.progress()
        if line != last:
            say(line)
            last = line
        if current.done:
            return True, current
        remaining = (deadline - clock()).total_seconds()
        if remaining <= 0:
            return False, current
        wait_for_change(current, min(remaining, WAIT_CAP))


# --- the click command -------------------------------------------------------------------------------

NODE_HELP = """Show every DaemonSet that should run, runs, or keeps a pod on a node, and why not.

\b
For each node: its facts first (Ready, cordon, its taints and which of them a component manages),
then each DaemonSet with the controller's verdict, its pod's state and revision, and explain's
reasons and fixes. --wait waits for a node's bring-up; --taint, --label and --cordon show what a
change would do to the DaemonSet pods there, in memory only. Read-only: it never writes.

\b
Examples:
  # Which agents does node-7 run, and why not the others?
  kubectl ds node node-7 -A
\b
  # Wait until every DaemonSet that should run on a new node has a ready pod there (exit 3 on timeout)
  kubectl ds node node-7 -A --wait --timeout 10m
\b
  # Before maintenance: which DaemonSet pods would this taint evict?
  kubectl ds node node-7 -A --taint maintenance=true:NoExecute
\b
  # Offline, from a dump
  kubectl ds node node-7 -A --from-file dump.yaml
"""


@click.command("node", cls=GroupedCommand, help=NODE_HELP, short_help="Every DaemonSet on a node, and why not.")
@click.argument("nodes", nargs=-1, metavar="NODE...")
@click.option("-A", "--all-namespaces", is_flag=True, help="DaemonSets of every namespace.")
@click.option("-o", "--output", default="table", metavar="FORMAT", show_default=True, help="table, wide, json or yaml.")
@click.option("--wait", is_flag=True, help="Wait until every DaemonSet that should run there has a ready pod.")
@click.option("--timeout", metavar="DURATION", help="How long --wait waits (default 5m); then exit 3.")
@click.option(
    "--taint", "taints", multiple=True, metavar="K=V:EFFECT", help="What-if: with this taint (K:EFFECT- removes)."
)
@click.option("--label", "labels", multiple=True, metavar="K=V", help="What-if: with this label (K- removes).")
@click.option("--cordon", is_flag=True, help="What-if: cordoned.")
@from_file_option("Read a dump instead of the cluster (repeatable).")
@kube_flag_options
@click.pass_context
@interruptible
def node_command(ctx: click.Context, /, **params: Any) -> int:
    flags = merged_kube_flags(ctx, pop_kube_flags(params))
    return execute(flags, params)


def execute(flags: Any, params: dict[str, Any]) -> int:
    import sys
    from dataclasses import replace
    from datetime import timezone

    timeout = parse_duration(params["timeout"], flag="--timeout") if params["timeout"] is not None else None
    options = NodeOptions(
        nodes=tuple(params["nodes"]),
        namespace=None if params["all_namespaces"] else (flags.namespace or "default"),
        output=params["output"],
        wait=params["wait"],
        timeout=timeout,
        taints=tuple(params["taints"]),
        labels=tuple(params["labels"]),
        cordon=params["cordon"],
        from_files=tuple(params["from_files"]),
    )
    change = options.validate()
    reader: NodeReader
    reader, namespace = open_reader(flags, options.from_files)
    cluster: Any = None if options.from_files else reader  # --wait watches the live cluster
    if not params["all_namespaces"]:
        options = replace(options, namespace=namespace)

    def now() -> datetime:
        return datetime.now(timezone.utc)

    def read() -> Round:
        return read_round(reader, options, change, now=now(), parse_quantity=parse_quantity)

    if not options.wait:
        click.echo(render(read(), options.output), nl=False)
        return int(ExitCode.OK)
    data_output = options.output in ("json", "yaml")
    tty = sys.stdout.isatty() and not data_output

    def say(line: str) -> None:
        if tty:
            click.echo("\r\x1b[K" + line, nl=False)  # one live line, redrawn
        else:
            click.echo(line, err=data_output)

    seconds = DEFAULT_TIMEOUT if options.timeout is None else options.timeout
    done, result = wait_for_nodes(read, watch_wait(cluster), clock=now, timeout=seconds, say=say)
    if tty:
        click.echo()
    click.echo(render(result, options.output), nl=False)
    if not done:
        click.echo(timeout_line(result.views, result.unregistered, seconds), err=data_output)
        return int(ExitCode.UNHEALTHY)
    return int(ExitCode.OK)


def watch_wait(cluster: Any) -> Callable[[Round, float], None]:
    """Wait on a watch of the pods bound to the first node still waiting, from its pod list's version: it
    ends at the first burst of pod events, or after `seconds`."""

    def wait(current: Round, seconds: float) -> None:
        from kubectl_ds.commands.common import INTERRUPTED

        if INTERRUPTED.is_set():  # a Ctrl-C whose KeyboardInterrupt Python dropped (raised in a finalizer)
            raise KeyboardInterrupt
        waiting = [view.assessment.facts.name for view in current.views if view.assessment.waiting_for]
        node = (waiting or list(current.unregistered))[0]
        events = cluster.watch_pods(
            namespace="",
            selector={},
            resource_version=current.versions.get(node, ""),
            timeout=seconds,
            field_selector=f"spec.nodeName={node}",
        )
        for _ in events:
            break
        events.close()

    return wait
