"""`kubectl ds audit`: flags -> AuditOptions -> validate() -> run(options, reader, ...).

Every DaemonSet in scope on every node, judged as `explain` judges one (rollout/audit.py), from ONE paginated
list each of nodes, DaemonSets, pods, ControllerRevisions and PodDisruptionBudgets for the whole scope; events
only when a DaemonSet pod is Pending and unscheduled; with -n, the cluster's other pods only when a node needs
the scheduler checks (-A has them all already). Never a request per DaemonSet or per node; never a write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kubectl_ds import resources as r
from kubectl_ds.commands.common import (
    check_output,
    from_file_option,
    interruptible,
    kube_flags,
    open_reader,
    parse_quantity,
)
from kubectl_ds.commands.help import GroupedCommand
from kubectl_ds.errors import ExitCode, Forbidden, UsageError
from kubectl_ds.labelselector import parse_selector, selector_matches
from kubectl_ds.placement.report import nodes_to_check
from kubectl_ds.placement.requests import ParseQuantity
from kubectl_ds.reader import FleetReader
from kubectl_ds.resources import Obj

if TYPE_CHECKING:
    from kubectl_ds.rollout.audit import DaemonSetAudit

OUTPUT_FORMATS = ("table", "wide", "json", "yaml")
T = TypeVar("T")


@dataclass(frozen=True)
class AuditOptions:
    namespace: str | None  # None: every namespace (-A)
    selector: str | None = None  # -l, over the DaemonSets' labels
    node_selector: str | None = None  # --node-selector, over the nodes' labels
    every_node: bool = False  # --all
    output: str = "table"
    from_files: tuple[str, ...] = ()
    exit_code: bool = False

    def validate(self) -> None:
        check_output(self.output, OUTPUT_FORMATS)
        if sum(1 for path in self.from_files if path == "-") > 1:
            raise UsageError("standard input (-) can be read only once: pass --from-file - once")
        self.daemonset_selector()
        self.nodes_selector()

    def daemonset_selector(self) -> dict[str, Any] | None:
        return parse_selector(self.selector, flag="-l/--selector") if self.selector else None

    def nodes_selector(self) -> dict[str, Any] | None:
        return parse_selector(self.node_selector, flag="--node-selector") if self.node_selector else None


@dataclass(frozen=True)
class AuditResult:
    text: str
    exit_code: ExitCode


def run(options: AuditOptions, reader: FleetReader, *, now: datetime, parse_quantity: ParseQuantity) -> AuditResult:
    # Imported here, not at the top: `kubectl ds --help` should not pay for the rollout modules.
    from kubectl_ds.render.audit import AuditView, render_data, render_table
    from kubectl_ds.rollout.audit import Fleet, assess, finish, pending_unscheduled

    omitted: list[str] = []
    scope = options.namespace
    node_selector = options.nodes_selector()
    nodes = [
        node for node in reader.list_nodes() if node_selector is None or selector_matches(node_selector, r.labels(node))
    ]
    daemonsets = sorted(
        reader.list_daemonsets(namespace=scope, selector=options.daemonset_selector()),
        key=lambda ds: (r.namespace(ds), r.name(ds)),
    )
    audits: list[DaemonSetAudit] = []
    if daemonsets:
        pods = _read(lambda: reader.list_pods(namespace=scope), "pod states left out", omitted)
        revisions = _read(lambda: reader.list_revisions(namespace=scope), "revision numbers left out", omitted)
        owners = {r.uid(ds) for ds in daemonsets}
        pending = [pod for pod in pending_unscheduled(pods or []) if r.controller_owner_uid(pod) in owners]
        events = (
            _read(lambda: reader.list_events(namespace=scope), "scheduler events left out", omitted) if pending else []
        )
        budgets = _read(lambda: reader.list_budgets(namespace=scope), "PodDisruptionBudget findings left out", omitted)
        fleet = Fleet.index(nodes, pods, revisions or [], events or [], budgets)
        active: Mapping[str, Sequence[Obj]] | None = {}
        read_active = False
        for daemonset in daemonsets:  # one at a time: only one full assessment alive at once
            assessment = assess(daemonset, fleet, now=now)
            checks = nodes_to_check(assessment)
            if checks and not read_active:  # the other pods, once, and only when a node needs them
                active, read_active = _active_pods(reader, scope, pods, omitted), True
            audit = finish(assessment, fleet, checks, active, parse_quantity, now=now, every_node=options.every_node)
            audits.append(audit)
    view = AuditView(
        audits=tuple(audits),
        scope="all namespaces" if scope is None else f'namespace "{scope}"',
        every_node=options.every_node,
        omitted=tuple(dict.fromkeys(omitted)),
    )
    text = (
        render_data(view, options.output)
        if options.output in ("json", "yaml")
        else render_table(view, wide=options.output == "wide")
    )
    failing = options.exit_code and any(audit.failing for audit in audits)
    return AuditResult(text, ExitCode.UNHEALTHY if failing else ExitCode.OK)


def _read(list_them: Callable[[], T], what: str, omitted: list[str]) -> T | None:
    """A list RBAC may forbid: None and a note instead of failing the audit."""
    try:
        return list_them()
    except Forbidden as error:
        omitted.append(f"{what}: {error.message}")
        return None


def _active_pods(
    reader: FleetReader, scope: str | None, pods: Sequence[dict[str, Any]] | None, omitted: list[str]
) -> Mapping[str, Sequence[Obj]] | None:
    """Non-terminal pods by node, for the resource and host-port checks: the scope's pod list when it is the
    whole cluster, else one cluster-wide list of non-terminal pods."""
    from kubectl_ds.rollout.audit import active_pods_by_node

    if scope is None:
        if pods is None:
            return None
        return active_pods_by_node(pods)
    active = _read(reader.list_active_pods, "resource and host-port checks left out", omitted)
    return None if active is None else active_pods_by_node(active)


# --- the click command -------------------------------------------------------------------------------

AUDIT_HELP = """Audit every DaemonSet in scope on every node: which ones miss a pod somewhere, and why.

\b
Each DaemonSet is judged on every node exactly as `kubectl ds explain` judges one; the table has a row
per DaemonSet, then its problem nodes grouped by reason, the node labels its failing nodes share, and
findings about the DaemonSet itself (a PodDisruptionBudget that never allows an eviction, a surge with a
host port, a halted managed rollout, ...). Read-only: it never writes to the cluster.

\b
Examples:
  # Every DaemonSet in every namespace
  kubectl ds audit -A
\b
  # Only DaemonSets labelled tier=node-agent, only on the GPU nodes
  kubectl ds audit -A -l tier=node-agent --node-selector nvidia.com/gpu.present=true
\b
  # In CI or an alert runbook: exit 3 when any DaemonSet misses a ready, up-to-date pod
  kubectl ds audit -A --exit-code -o json
\b
  # Offline, from a dump
  kubectl get nodes,pods,ds,controllerrevisions,events,pdb -A -o yaml > dump.yaml
  kubectl ds audit -A --from-file dump.yaml
"""


@click.command("audit", cls=GroupedCommand, help=AUDIT_HELP, short_help="Audit every DaemonSet on every node.")
@click.option("-A", "--all-namespaces", "all_namespaces", is_flag=True, help="Every namespace.")
@click.option("-l", "--selector", metavar="SELECTOR", help="Only DaemonSets with these labels (kubectl's syntax).")
@click.option("--node-selector", metavar="SELECTOR", help="Only nodes with these labels (kubectl's syntax).")
@click.option("--all", "every_node", is_flag=True, help="List the healthy nodes too.")
@click.option("-o", "--output", default="table", metavar="FORMAT", show_default=True, help="table, wide, json or yaml.")
@from_file_option("Read the objects from a dump instead of the cluster (repeatable; - for stdin).")
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit 3 when a node that should run a pod lacks a ready, up-to-date one, or a finding is an error.",
)
@kube_flags
@interruptible
def audit_command(kube: Any, **params: Any) -> int:
    """Resolve where to read from, run, print; returns the exit code."""
    from datetime import timezone

    options = AuditOptions(
        namespace=None if params["all_namespaces"] else "",  # "": the -n or context namespace, known once resolved
        selector=params["selector"],
        node_selector=params["node_selector"],
        every_node=params["every_node"],
        output=params["output"],
        from_files=tuple(params["from_files"]),
        exit_code=params["exit_code"],
    )
    options.validate()  # before any file or request
    reader, namespace = open_reader(kube, options.from_files)
    if options.namespace is not None:
        options = replace(options, namespace=namespace)
    result = run(options, reader, now=datetime.now(timezone.utc), parse_quantity=parse_quantity)
    click.echo(result.text, nl=False)
    return int(result.exit_code)
