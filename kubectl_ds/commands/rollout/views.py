"""The read-only rollout commands: plan, status [--watch] and history. They read through the cluster
adapter, hand everything to the pure rollout modules, and print what render/ makes of it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import click

from kubectl_ds import resources as r
from kubectl_ds.commands.common import INTERRUPTED, check_output, interruptible, kube_flags, parse_duration
from kubectl_ds.commands.help import GroupedCommand
from kubectl_ds.commands.rollout.flags import budget_flags, change_flags, connect
from kubectl_ds.commands.table_flags import TableFlags, table_flags, table_style
from kubectl_ds.errors import UsageError

if TYPE_CHECKING:
    from kubectl_ds.kube.cluster import Cluster
    from kubectl_ds.kube.config import KubeFlags
    from kubectl_ds.rollout.change import Change
    from kubectl_ds.rollout.state import RolloutOptions
    from kubectl_ds.rollout.status import RolloutStatus


class StatusReader(Protocol):
    """What `rollout status` reads: kube.cluster.Cluster, or a test's manual-time cluster."""

    def get_daemonset(self, *, namespace: str, name: str) -> dict[str, Any]: ...
    def list_nodes(self) -> list[dict[str, Any]]: ...
    def list_pods_versioned(
        self, *, namespace: str, selector: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], str]: ...
    def list_controller_revisions(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]: ...
    def watch_pods(
        self, *, namespace: str, selector: Mapping[str, Any], resource_version: str, timeout: float
    ) -> Iterator[tuple[str, dict[str, Any]]]: ...


PLAN_OUTPUTS = ("table", "json")
STATUS_OUTPUTS = ("table", "json")
HISTORY_OUTPUTS = ("table", "json", "yaml")


# --- plan -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanOptions:
    name: str
    kube: KubeFlags
    change: Change
    budget: RolloutOptions
    output: str = "table"

    def validate(self) -> None:
        from kubectl_ds.rollout.options import validate_options

        check_output(self.output, PLAN_OUTPUTS)
        validate_options(self.budget)


def run_plan(options: PlanOptions, cluster: Cluster, namespace: str) -> str:
    from kubectl_ds.kube.quantity import parse_quantity
    from kubectl_ds.placement.report import assess_nodes
    from kubectl_ds.render.plan import PlanView, excluded_nodes, render_plan, render_plan_json
    from kubectl_ds.rollout.estimate import (
        estimate_seconds,
        longest_seconds,
        observed_startup,
        termination_grace_seconds,
    )
    from kubectl_ds.rollout.gates import bake_total
    from kubectl_ds.rollout.preflight import checked, read_budgets
    from kubectl_ds.rollout.preview import preview_index, preview_plan, with_template

    daemonset = cluster.get_daemonset(namespace=namespace, name=options.name)
    selector = r.spec(daemonset).get("selector") or {}
    now = cluster.server_now()
    template = options.change.apply(daemonset, now)
    nodes = cluster.list_nodes()
    pods = [
        pod
        for pod in cluster.list_daemonset_pods(namespace=namespace, selector=selector)
        if r.is_controlled_by(pod, daemonset)
    ]
    revisions = cluster.list_controller_revisions(namespace=namespace, selector=selector)
    others, notes = _other_pods_for_headroom(cluster, daemonset, nodes, options.budget)
    plan = preview_plan(
        daemonset,
        template,
        nodes,
        pods,
        revisions,
        options.budget,
        now=now,
        parse_quantity=parse_quantity,
        other_pods_by_node=others,
    )
    budgets, budgets_note = read_budgets(lambda: cluster.list_disruption_budgets(namespace=namespace))
    plan, refusal = checked(
        plan,
        daemonset,
        nodes,
        pods,
        budgets,
        budgets_note,
        others,
        evict=options.budget.evict,
        allow_preemption=options.budget.allow_preemption,
    )
    startup = observed_startup(pods)
    preview = with_template(daemonset, template)
    assessed = assess_nodes(preview, nodes, [], preview_index(daemonset, revisions), now=now).nodes
    # The bakes between steps are part of the estimate (rollout/gates.py).
    floor = estimate_seconds(plan, r.min_ready_seconds(daemonset), startup) + bake_total(
        options.budget, [step.canary for step in plan.steps]
    )
    grace = termination_grace_seconds(preview)
    view = PlanView(
        namespace=namespace,
        name=options.name,
        change=options.change.description,
        plan=plan,
        excluded=excluded_nodes(assessed),
        estimated_seconds=floor,
        estimated_max_seconds=longest_seconds(plan, floor, grace),
        grace_seconds=grace,
        observed_startup=startup,
        min_ready_seconds=r.min_ready_seconds(daemonset),
        notes=tuple(notes),
        refusal=refusal or "",
        options=options.budget,
        prepull=_prepull_preview(daemonset, template, plan, options.budget),
        gates=options.budget,
    )
    return render_plan_json(view) if options.output == "json" else render_plan(view)


def _prepull_preview(daemonset: dict[str, Any], template: Any, plan: Any, budget: RolloutOptions) -> Any:
    from kubectl_ds.rollout.prepuller import plan_nodes, preview

    return preview(daemonset, template, plan_nodes(plan), budget) if budget.prepull else None


def _other_pods_for_headroom(
    cluster: Cluster, daemonset: dict[str, Any], nodes: list[dict[str, Any]], budget: RolloutOptions
) -> tuple[dict[str, list[Any]] | None, list[str]]:
    """Other pods per node, for the surge headroom check: only with --max-surge (a second pod needs room)."""
    from kubectl_ds.rollout.preflight import read_other_pods
    from kubectl_ds.strategy import surges

    if not surges(budget.max_surge):
        return None, []
    others, note = read_other_pods(cluster.list_active_pods, daemonset, nodes)
    return others, [note] if note else []


@click.command("plan", cls=GroupedCommand, short_help="Show the steps a rollout would take (read-only).")
@click.argument("name")
@change_flags
@budget_flags
@click.option("-o", "--output", default="table", metavar="FORMAT", help="table or json.")
@kube_flags
@interruptible
def plan_command(**params: Any) -> int:
    """Show, without changing anything, the ordered steps of a managed rollout and its pre-flight checks:
    nodes that will not get the pod (and why), nodes already unavailable, hostPort with --max-surge,
    surge headroom, and an estimated duration.

    \b
    Examples:
      kubectl ds rollout plan -n logging fluentd --image fluentd=fluent/fluentd:v1.17
      kubectl ds rollout plan -n logging fluentd --restart --canary pool=canary --step-size 10%
    """
    options = PlanOptions(**params)
    options.validate()
    cluster, namespace = connect(options.kube)
    click.echo(run_plan(options, cluster, namespace), nl=False)
    return 0


# --- status -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusOptions:
    name: str
    kube: KubeFlags
    watch: bool = False
    output: str = "table"
    timeout: str | None = None
    table: TableFlags = TableFlags()

    def validate(self) -> None:
        from kubectl_ds.render.status import status_headers

        check_output(self.output, STATUS_OUTPUTS)
        self.table.validate(status_headers(self.table.label_columns), self.output, ("table",))
        self.timeout_seconds  # noqa: B018 - parsed here so that a bad value fails before any request

    @property
    def timeout_seconds(self) -> float | None:
        """--timeout as seconds; None without the flag, 0 for "no limit" (kubectl's meaning of 0)."""
        return None if self.timeout is None else parse_duration(self.timeout, flag="--timeout")

    @property
    def waits(self) -> bool:
        return self.watch or self.timeout_seconds is not None


# Between two looks the status waits on a pod watch for at most this long (a DaemonSet status change that
# moves no pod, such as a new observedGeneration, is seen at the next look).
LOOK_EVERY = 2.0


def _status(
    cluster: StatusReader, namespace: str, name: str, now: datetime
) -> tuple[RolloutStatus, str, dict[str, Any]]:
    """The status, the pod list's resourceVersion (where the watch starts) and the nodes' labels (for -L)."""
    from kubectl_ds.rollout.status import rollout_status

    daemonset = cluster.get_daemonset(namespace=namespace, name=name)
    selector = r.spec(daemonset).get("selector") or {}
    pods, version = cluster.list_pods_versioned(namespace=namespace, selector=selector)
    pods = [pod for pod in pods if r.is_controlled_by(pod, daemonset)]
    nodes = cluster.list_nodes()
    status = rollout_status(
        daemonset, nodes, pods, cluster.list_controller_revisions(namespace=namespace, selector=selector), now=now
    )
    return status, version, {r.name(node): r.labels(node) for node in nodes}


def show_status(
    options: StatusOptions,
    cluster: StatusReader,
    namespace: str,
    *,
    clock: Callable[[], datetime],
    echo: Callable[[str, bool], None] | None = None,
    tty: bool = False,
) -> int:
    """Print the status once; or, with --watch or --timeout, wait until the rollout is done (--watch draws
    each change: redrawn on a terminal, a line per change otherwise; --timeout alone prints the last look).
    Waiting is on pod watches with the deadline read from `clock` (the API server's, or a test's manual
    one), never a sleep. Past --timeout it raises RolloutNotDone (exit 3) after printing the last look."""
    from kubectl_ds.errors import RolloutNotDone
    from kubectl_ds.render.output import to_json
    from kubectl_ds.render.status import not_done_message, one_line, render_status, status_data

    status, version, labels = _status(cluster, namespace, options.name, clock())
    json_output = options.output == "json"
    style = table_style(options.table)
    colour = True if style.colour else None  # click strips escapes outside a terminal; --color always keeps them
    if echo is None:
        echo = lambda text, nl: click.echo(text, nl=nl, color=colour)  # noqa: E731

    def table(bar_width: int = 0) -> str:
        return render_status(
            status,
            bar_width=bar_width,
            style=style,
            label_keys=options.table.label_columns,
            labels=labels,
            sort_by=options.table.sort_by,
        )

    def full(status: RolloutStatus) -> str:
        return to_json(status_data(status)) if json_output else table()

    if not options.waits:
        echo(full(status), False)
        return 0
    limit = options.timeout_seconds
    deadline = clock() + timedelta(seconds=limit) if limit else None
    tty = tty and not json_output
    last = ""
    while True:
        if options.watch:
            text = to_json(status_data(status), compact=True) if json_output else table(40) if tty else one_line(status)
            if text != last:
                echo("\x1b[H\x1b[2J" + text, False) if tty else echo(text, True)
                last = text
        remaining = LOOK_EVERY if deadline is None else (deadline - clock()).total_seconds()
        if status.done or remaining <= 0:
            if not options.watch:
                echo(full(status), False)
            if status.done:
                return 0
            raise RolloutNotDone(not_done_message(status, options.timeout or ""))
        if INTERRUPTED.is_set():  # a Ctrl-C whose KeyboardInterrupt Python dropped (raised in a finalizer)
            raise KeyboardInterrupt
        daemonset = cluster.get_daemonset(namespace=namespace, name=options.name)
        for _ in cluster.watch_pods(
            namespace=namespace,
            selector=r.spec(daemonset).get("selector") or {},
            resource_version=version,
            timeout=min(LOOK_EVERY, remaining),
        ):
            break
        status, version, labels = _status(cluster, namespace, options.name, clock())


@click.command("status", cls=GroupedCommand, short_help="Per-node rollout progress.")
@click.argument("name")
@click.option("-w", "--watch", is_flag=True, help="Keep watching until the rollout is done.")
@click.option("-o", "--output", default="table", metavar="FORMAT", help="table or json.")
@click.option(
    "--timeout",
    metavar="DURATION",
    help="Wait until the rollout is done, at most this long (e.g. 5m; 0: no limit); exit 3 if it is not.",
)
@table_flags
@kube_flags
@interruptible
def status_command(**params: Any) -> int:
    """Show the rollout's progress: step k of N, paused or halted and why (managed), kubectl's message
    (RollingUpdate) or the updated count (OnDelete), and every node's revision state with the reasons of
    nodes that are stuck.

    \b
    Examples:
      kubectl ds rollout status -n logging fluentd
      kubectl ds rollout status -n logging fluentd --watch
      kubectl ds rollout status -n logging fluentd --timeout 10m   # exit 3 if not done by then
    """
    options = StatusOptions(**params)
    options.validate()
    cluster, namespace = connect(options.kube)
    tty = sys.stdout.isatty()
    return show_status(options, cluster, namespace, clock=cluster.server_now, tty=tty)


# --- history ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryOptions:
    name: str
    kube: KubeFlags
    revision: int | None = None
    output: str = "table"
    table: TableFlags = TableFlags()

    def validate(self) -> None:
        from kubectl_ds.render.history import HISTORY_HEADERS

        check_output(self.output, HISTORY_OUTPUTS)
        if self.table.label_columns:
            raise UsageError("-L/--label-columns shows node labels; rollout history lists revisions, not nodes")
        self.table.validate(list(HISTORY_HEADERS), self.output, ("table",))
        if self.revision is not None and self.revision < 0:
            raise UsageError(f"revision must be a positive integer: {self.revision}")


def run_history(options: HistoryOptions, cluster: Cluster, namespace: str) -> str:
    from kubectl_ds.render.history import render_history, render_revision
    from kubectl_ds.rollout.history import history, select_revision

    daemonset = cluster.get_daemonset(namespace=namespace, name=options.name)
    selector = r.spec(daemonset).get("selector") or {}
    revisions = cluster.list_controller_revisions(namespace=namespace, selector=selector)
    pods = cluster.list_daemonset_pods(namespace=namespace, selector=selector)
    entries = history(daemonset, revisions, pods)
    if options.revision:
        return render_revision(options.name, select_revision(entries, options.revision), options.output)
    return render_history(
        namespace,
        options.name,
        entries,
        options.output,
        style=table_style(options.table),
        sort_by=options.table.sort_by,
    )


@click.command("history", cls=GroupedCommand, short_help="Show the revisions of a DaemonSet.")
@click.argument("name")
@click.option("--revision", type=int, default=None, help="Show the pod template of this revision.")
@click.option("-o", "--output", default="table", metavar="FORMAT", help="table, json or yaml.")
@table_flags
@kube_flags
@interruptible
def history_command(**params: Any) -> int:
    """Show the revisions of a DaemonSet (its ControllerRevisions), with change-cause, the images that
    changed, and how many pods still run each revision.

    \b
    Examples:
      kubectl ds rollout history -n logging fluentd
      kubectl ds rollout history -n logging fluentd --revision 2 -o yaml
    """
    options = HistoryOptions(**params)
    options.validate()
    cluster, namespace = connect(options.kube)
    click.echo(run_history(options, cluster, namespace), nl=False)
    return 0
