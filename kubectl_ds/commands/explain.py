"""`kubectl ds explain`: flags -> ExplainOptions -> validate() -> run(options, reader, ...).

run() fetches in stages so that it reads only what the answer needs: the DaemonSet, the nodes and
the DaemonSet's pods always; the other pods only when a wanted node lacks an available DaemonSet pod;
scheduling events only when a DaemonSet pod is Pending. It never writes to the cluster. Without NAME it
lists the DaemonSets with one summary line each (commands/explain_list.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import click

from kubectl_ds import resources as r
from kubectl_ds.commands.common import (
    from_file_option,
    interruptible,
    kube_flag_options,
    merged_kube_flags,
    parse_quantity,
    pop_kube_flags,
)
from kubectl_ds.commands.help import GroupedCommand
from kubectl_ds.commands.table_flags import Scope, TableFlags, scope_flags, table_flags, table_style
from kubectl_ds.errors import ExitCode, UsageError

# The judging and rendering modules are imported where they are used, not here: `kubectl ds --help` does
# not need them, and `explain` imports them while its first reads are in flight (run()).
if TYPE_CHECKING:
    from kubectl_ds.placement.requests import ParseQuantity
    from kubectl_ds.reader import ClusterReader, FleetReader
    from kubectl_ds.render.explain import ExplainView
    from kubectl_ds.render.table import TableStyle

OUTPUT_FORMATS = ("table", "wide", "json", "yaml", "name")
TABLE_OUTPUTS = ("table", "wide")


@dataclass(frozen=True)
class ExplainOptions:
    name: str | None
    namespace: str
    nodes: tuple[str, ...] = ()
    problems_only: bool = False
    output: str = "table"
    from_files: tuple[str, ...] = ()
    manifest: str | None = None
    exit_code: bool = False
    table: TableFlags = TableFlags()
    scope: Scope = Scope()
    watch: bool = False

    @property
    def listing(self) -> bool:
        """Without NAME or -f: one summary line per DaemonSet (render/explain_list.py)."""
        return not self.name and not self.manifest

    def validate(self) -> None:
        from kubectl_ds.render.explain import table_headers
        from kubectl_ds.render.explain_list import list_headers

        if self.output not in OUTPUT_FORMATS:
            raise UsageError(f'unknown output format "{self.output}" for -o; use one of: {", ".join(OUTPUT_FORMATS)}')
        self.scope.validate()
        if self.listing:
            if self.nodes:
                raise UsageError("--node needs a DaemonSet: kubectl ds explain NAME --node NODE")
            if self.watch:
                raise UsageError("--watch follows one DaemonSet: kubectl ds explain NAME --watch")
            headers = list_headers(all_namespaces=self.scope.all_namespaces)
            if self.table.label_columns:
                raise UsageError("-L/--label-columns adds node labels to explain NAME's table; name a DaemonSet")
        else:
            if self.scope.all_namespaces:
                raise UsageError(
                    "a DaemonSet cannot be explained by name across all namespaces: drop -A, or drop NAME and -f"
                )
            if self.scope.selector is not None:
                raise UsageError("-l/--selector picks DaemonSets to list: drop NAME or -f, or drop -l")
            headers = table_headers(wide=self.output == "wide", label_keys=self.table.label_columns)
        self.table.validate(headers, self.output, TABLE_OUTPUTS)
        if self.watch and (self.from_files or self.manifest or self.exit_code):
            flag = "--from-file" if self.from_files else "-f/--filename" if self.manifest else "--exit-code"
            raise UsageError(f"--watch follows a live DaemonSet; it cannot be combined with {flag}")
        if sum(1 for path in self.from_files if path == "-") + (self.manifest == "-") > 1:
            raise UsageError("standard input (-) can be read only once: use it for either --from-file or -f")


@dataclass(frozen=True)
class ExplainResult:
    text: str
    exit_code: ExitCode
    notes: tuple[str, ...] = ()  # what was left out (RBAC), for stderr when --no-headers prints rows only
    view: ExplainView | None = None  # what the text shows (explain --watch compares them)


def run(
    options: ExplainOptions,
    reader: ClusterReader,
    *,
    now: datetime,
    parse_quantity: ParseQuantity,
    manifest: dict[str, Any] | None = None,
    arrow: str = "→",
    style: TableStyle | None = None,
) -> ExplainResult:
    if options.listing:
        # The live cluster and a dump read the whole scope too; only --watch's reader (NAME only) does not.
        fleet = cast("FleetReader", reader)
        return _run_list(options, fleet, now=now, parse_quantity=parse_quantity, style=style)
    # The API objects die with assess()'s frame: only the reports are left when the output is built.
    from kubectl_ds.commands.explain_reads import assess

    daemonset, live, assessment, omitted, labels = assess(options, reader, now, parse_quantity, manifest)
    from kubectl_ds.placement.summary import summarize
    from kubectl_ds.render.explain import ExplainView

    source = ""
    if manifest is not None:
        state = "the applied DaemonSet's pods shown as old" if live else "not applied yet"
        source = f'DaemonSet "{r.name(daemonset)}" from {options.manifest} ({state})'
    view = ExplainView(
        namespace=r.namespace(daemonset) or options.namespace,
        name=r.name(daemonset),
        assessment=assessment,
        summary=summarize(assessment),
        omitted=tuple(omitted),
        source=source,
        node_labels=labels,
    )
    return ExplainResult(
        text=_render(view, options, arrow, style),
        exit_code=_exit_code(view, options),
        notes=view.omitted,
        view=view,
    )


def _run_list(
    options: ExplainOptions,
    reader: FleetReader,
    *,
    now: datetime,
    parse_quantity: ParseQuantity,
    style: TableStyle | None,
) -> ExplainResult:
    from kubectl_ds.commands.explain_list import list_view
    from kubectl_ds.render.explain_list import render_list_data, render_list_names, render_list_table

    namespace = None if options.scope.all_namespaces else options.namespace
    view = list_view(
        reader, namespace=namespace, selector=options.scope.selector, now=now, parse_quantity=parse_quantity
    )
    if options.problems_only:
        view = replace(view, lines=tuple(line for line in view.lines if line.summary.problems))
    if options.output in ("json", "yaml"):
        text = render_list_data(view, options.output)
    elif options.output == "name":
        text = render_list_names(view)
    else:
        text = render_list_table(view, style=style, sort_by=options.table.sort_by)
    unhealthy = options.exit_code and any(line.summary.unhealthy_wanted for line in view.lines)
    return ExplainResult(text=text, exit_code=ExitCode.UNHEALTHY if unhealthy else ExitCode.OK, notes=view.omitted)


def _render(view: ExplainView, options: ExplainOptions, arrow: str, style: TableStyle | None) -> str:
    from kubectl_ds.render.explain import render_json, render_names, render_table, render_yaml

    problems_only = options.problems_only
    renderers: dict[str, Callable[[], str]] = {
        "json": lambda: render_json(view, problems_only=problems_only),
        "yaml": lambda: render_yaml(view, problems_only=problems_only),
        "name": lambda: render_names(view, problems_only=problems_only),
    }
    if options.output in renderers:
        return renderers[options.output]()
    return render_table(
        view,
        wide=options.output == "wide",
        problems_only=problems_only,
        arrow=arrow,
        style=style,
        label_keys=options.table.label_columns,
        sort_by=options.table.sort_by,
    )


def _exit_code(view: ExplainView, options: ExplainOptions) -> ExitCode:
    if options.exit_code and view.summary.unhealthy_wanted:
        return ExitCode.UNHEALTHY
    return ExitCode.OK


# --- the click command -------------------------------------------------------------------------------

EXPLAIN_HELP = """Explain, node by node, whether a DaemonSet's pod should run there, whether one does, and why not.

\b
For every node: the controller's verdict (nodeName, nodeSelector, required node affinity, taints
with the automatic DaemonSet tolerations), the pod's state and revision, and the scheduler-side
blockers a wanted pod still meets (insufficient cpu/memory/pods, host-port conflicts, the
FailedScheduling message). Without NAME: one line per DaemonSet of the namespace (-A: of every
namespace, -l: with these labels), with what keeps it from being healthy. Read-only: it never writes
to the cluster.

\b
Examples:
  # Why does fluentd not run on every node?
  kubectl ds explain -n logging fluentd
\b
  # Only the nodes that need attention, with the labels and taints that mattered
  kubectl ds explain -n logging fluentd --problems -o wide
\b
  # Offline, from a dump
  kubectl get nodes,pods,ds,controllerrevisions,events -A -o yaml > dump.yaml
  kubectl ds explain -n logging fluentd --from-file dump.yaml
\b
  # What-if: where would this manifest run, before kubectl apply?
  kubectl ds explain -f fluentd.yaml
\b
  # In CI: exit 3 unless every node that should run the pod has a ready, up-to-date one
  kubectl ds explain -n logging fluentd --exit-code -o json
\b
  # Every DaemonSet of the cluster that needs attention, and why
  kubectl ds explain -A --problems
\b
  # Follow it while a rollout or a node bring-up goes on
  kubectl ds explain -n logging fluentd --watch
\b
  # The nodes to look at, for other commands
  kubectl ds explain -n logging fluentd --problems -o name | xargs kubectl describe
"""


@click.command(
    "explain", cls=GroupedCommand, help=EXPLAIN_HELP, short_help="Explain where a DaemonSet's pods run, and why not."
)
@click.argument("name", required=False)
@click.option("--node", "nodes", multiple=True, metavar="NODE", help="Only this node (repeatable).")
@click.option(
    "--problems",
    "problems_only",
    is_flag=True,
    help="Only the nodes (without NAME: the DaemonSets) that need attention.",
)
@click.option(
    "-o", "--output", default="table", metavar="FORMAT", show_default=True, help="table, wide, json, yaml or name."
)
@from_file_option(
    "Read nodes, pods, DaemonSets and ControllerRevisions from a dump instead of the cluster: a file or "
    "directory of kubectl get -o yaml|json, kubectl cluster-info dump, must-gather (repeatable; - for stdin)."
)
@click.option(
    "-f",
    "--filename",
    "manifest",
    metavar="MANIFEST",
    help="Explain this DaemonSet manifest (not applied yet) against the nodes (- for stdin); NAME picks one "
    "of several.",
)
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit 3 when a node that should run the pod lacks a ready, up-to-date one (in any listed DaemonSet).",
)
@click.option(
    "-w",
    "--watch",
    is_flag=True,
    help="After the answer, follow changes (watches): redrawn on a terminal, a line per changed node in a pipe.",
)
@table_flags
@scope_flags
@kube_flag_options
@click.pass_context
@interruptible
def explain_command(ctx: click.Context, /, **params: Any) -> int:
    flags = merged_kube_flags(ctx, pop_kube_flags(params))
    return execute(flags, params)


def execute(flags: Any, params: dict[str, Any]) -> int:
    """Resolve where to read from, run, print; returns the exit code."""
    from datetime import timezone

    from kubectl_ds.kube.documents import label_of
    from kubectl_ds.kube.dump import DumpReader, read_manifest
    from kubectl_ds.placement.manifest import check_manifest
    from kubectl_ds.render.explain import manifest_warning_lines

    from_files = tuple(params["from_files"])
    options = ExplainOptions(
        name=params["name"],
        namespace=flags.namespace or "default",
        nodes=tuple(params["nodes"]),
        problems_only=params["problems_only"],
        output=params["output"],
        from_files=from_files,
        manifest=params["manifest"],
        exit_code=params["exit_code"],
        table=params["table"],
        scope=params["scope"],
        watch=params["watch"],
    )
    options.validate()
    manifest = None
    if params["manifest"]:
        manifest, warnings = check_manifest(
            read_manifest(params["manifest"], params["name"]), label_of(params["manifest"])
        )
        for line in manifest_warning_lines(warnings):
            click.echo(line, err=True)
    reader: ClusterReader
    if from_files:
        reader = DumpReader.from_files(from_files)
    else:
        from kubectl_ds.kube.cluster import Cluster
        from kubectl_ds.kube.config import resolve

        resolved = resolve(flags)
        cluster = Cluster.connect(flags, resolved, plain_reads=True)
        reader = cluster
        options = replace(options, namespace=resolved.namespace)
        if options.watch:
            from kubectl_ds.commands.explain_watch import watch_live

            return watch_live(options, cluster, arrow=_arrow())
    style = table_style(options.table)
    import gc

    # One explain allocates a few objects per field of every node and pod it reads and makes no garbage cycles
    # worth collecting; the cycle collector would scan that whole heap again and again (a fifth of the CPU
    # after the reads at 5,000 nodes). --watch, which runs for long, keeps it.
    gc.disable()
    try:
        result = run(
            options,
            reader,
            now=datetime.now(timezone.utc),
            parse_quantity=parse_quantity,
            manifest=manifest,
            arrow=_arrow(),
            style=style,
        )
    finally:
        gc.enable()
    # click strips escapes when stdout is not a terminal; --color always means them anyway.
    click.echo(result.text, nl=False, color=True if style.colour else None)
    if options.table.no_headers and options.output in TABLE_OUTPUTS:
        for note in result.notes:  # the rows alone went to stdout; what they lack still has to be said
            click.echo(f"Note: {note}", err=True)
    return int(result.exit_code)


def _arrow() -> str:
    """→ where the terminal can print it, -> elsewhere."""
    import sys

    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "→".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return "->"
    return "→"
