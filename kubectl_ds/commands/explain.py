"""`kubectl ds explain`: flags -> ExplainOptions -> validate() -> run(options, reader, ...).

run() fetches in stages so that it reads only what the answer needs: the DaemonSet, the nodes and
the DaemonSet's pods always; the other pods only when a wanted node lacks an available DaemonSet pod;
scheduling events only when a DaemonSet pod is Pending. It never writes to the cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from kubectl_ds import resources as r
from kubectl_ds.commands.background import Background
from kubectl_ds.commands.common import interruptible, kube_flag_options, merged_kube_flags, pop_kube_flags
from kubectl_ds.errors import ExitCode, Forbidden, NotFound, UsageError

# The judging and rendering modules are imported where they are used, not here: `kubectl ds --help` does
# not need them, and `explain` imports them while its first reads are in flight (run()).
if TYPE_CHECKING:
    from kubectl_ds.placement.report import Assessment
    from kubectl_ds.placement.requests import ParseQuantity
    from kubectl_ds.placement.revisions import RevisionIndex
    from kubectl_ds.reader import ClusterReader
    from kubectl_ds.render.explain import ExplainView

OUTPUT_FORMATS = ("table", "wide", "json", "yaml")


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
    watch: bool = False

    def validate(self) -> None:
        if self.output not in OUTPUT_FORMATS:
            raise UsageError(f'unknown output format "{self.output}" for -o; use one of: {", ".join(OUTPUT_FORMATS)}')
        if not self.name and not self.manifest:
            raise UsageError(
                "name the DaemonSet to explain (kubectl ds explain NAME), or pass a manifest with -f/--filename"
            )
        if self.watch and (self.from_files or self.manifest or self.exit_code):
            flag = "--from-file" if self.from_files else "-f/--filename" if self.manifest else "--exit-code"
            raise UsageError(f"--watch follows a live DaemonSet; it cannot be combined with {flag}")
        if sum(1 for path in self.from_files if path == "-") + (self.manifest == "-") > 1:
            raise UsageError("standard input (-) can be read only once: use it for either --from-file or -f")


@dataclass(frozen=True)
class ExplainResult:
    text: str
    exit_code: ExitCode
    view: ExplainView | None = None  # what the text shows (explain --watch compares them)


def run(
    options: ExplainOptions,
    reader: ClusterReader,
    *,
    now: datetime,
    parse_quantity: ParseQuantity,
    manifest: dict[str, Any] | None = None,
    arrow: str = "→",
) -> ExplainResult:
    # The API objects die with _assess's frame: only the reports are left when the output is built.
    daemonset, live, assessment, omitted = _assess(options, reader, now, parse_quantity, manifest)
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
    )
    return ExplainResult(text=_render(view, options, arrow), exit_code=_exit_code(view, options), view=view)


def _assess(
    options: ExplainOptions,
    reader: ClusterReader,
    now: datetime,
    parse_quantity: ParseQuantity,
    manifest: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any] | None, Assessment, list[str]]:
    """Read and judge: the DaemonSet explained, the applied one, the assessment (without the node objects)
    and what was left out. The reads overlap (commands/background.py): the nodes while the DaemonSet is
    read, then its pods and revisions side by side, and the nodes are judged while the pods still come.
    What each read leaves out is collected apart, so `omitted` keeps a fixed order."""
    from kubectl_ds.commands.explain_pages import PagedJudging

    # A live cluster hands each page over as it comes (commands/explain_pages.py); a dump is judged after.
    paging = PagedJudging() if getattr(reader, "pages_reads", False) else None
    paged: Any = reader
    all_nodes = Background(lambda: paged.list_nodes(on_page=paging.nodes_page) if paging else reader.list_nodes())
    try:
        daemonset, live = _target(options, reader, manifest)
    except BaseException:
        if paging is not None:
            paging.know(None)  # the node pages need not wait for a DaemonSet that will not come
        raise
    namespace = r.namespace(daemonset) or options.namespace
    selector = r.spec(daemonset).get("selector") or {}
    pods_omitted: list[str] = []
    revisions_omitted: list[str] = []
    revisions_read = Background(
        lambda: _revisions(reader, live, namespace, selector, revisions_omitted, what_if=manifest is not None)
    )
    if paging is not None:
        paging.know(daemonset, live, revisions_read.result, now)
    on_page = paging.pods_page if paging is not None else None
    pods_read = Background(lambda: _daemonset_pods(reader, live, namespace, selector, pods_omitted, on_page))
    from kubectl_ds.placement.nodeside import judge_nodes  # while the reads are in flight
    from kubectl_ds.placement.report import assess_nodes
    from kubectl_ds.render.explain import ExplainView  # noqa: F401 - imported now, used by run()

    nodes = _select_nodes(all_nodes.result(), options.nodes)
    judged = Background(lambda: paging.judged if paging else judge_nodes(daemonset, nodes))
    pods = pods_read.result()
    revisions = revisions_read.result()
    omitted = pods_omitted + revisions_omitted
    messages = _scheduler_messages(reader, pods or [], namespace, omitted)
    assessment = assess_nodes(
        daemonset,
        nodes,
        pods,
        revisions,
        now=now,
        scheduler_messages=messages,
        applied=live is not None,
        judged=judged.result(),
        reported=paging.reported if paging is not None else {},
    )
    assessment = _with_scheduler_checks(
        assessment, reader, parse_quantity, omitted, owner=live, every_wanted_node=manifest is not None
    )
    return daemonset, live, replace(assessment, node_objects={}), omitted


def _target(
    options: ExplainOptions, reader: ClusterReader, manifest: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The DaemonSet to explain, and the applied one whose pods and revisions we read."""
    if manifest is None:
        assert options.name is not None  # validate() guarantees it
        live = reader.get_daemonset(namespace=options.namespace, name=options.name)
        return live, live
    if options.name and options.name != r.name(manifest):
        raise UsageError(
            f'NAME "{options.name}" does not match the manifest\'s DaemonSet "{r.name(manifest)}"; '
            "drop NAME or fix the manifest"
        )
    namespace = r.namespace(manifest) or options.namespace
    placed = {**manifest, "metadata": {**r.metadata(manifest), "namespace": namespace}}  # as kubectl apply would
    try:
        return placed, reader.get_daemonset(namespace=namespace, name=r.name(manifest))
    except NotFound:
        return placed, None


def _select_nodes(nodes: list[dict[str, Any]], wanted: Sequence[str]) -> list[dict[str, Any]]:
    if not wanted:
        return nodes
    by_name = {r.name(node): node for node in nodes}
    missing = [name for name in wanted if name not in by_name]
    if missing:
        raise NotFound(f'node "{missing[0]}" not found; kubectl get nodes lists them')
    return [by_name[name] for name in dict.fromkeys(wanted)]


def _daemonset_pods(
    reader: ClusterReader,
    live: dict[str, Any] | None,
    namespace: str,
    selector: dict[str, Any],
    omitted: list[str],
    on_page: Callable[[list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]] | None:
    """The pods the DaemonSet controls: by controller ownerReference, not by label alone."""
    if live is None:
        return []
    paged: Any = reader
    try:
        if on_page is not None:
            candidates = paged.list_daemonset_pods(namespace=namespace, selector=selector, on_page=on_page)
        else:
            candidates = reader.list_daemonset_pods(namespace=namespace, selector=selector)
    except Forbidden as error:
        omitted.append(f"pod states left out: {error.message}")
        return None
    return [pod for pod in candidates if r.is_controlled_by(pod, live)]


def _revisions(
    reader: ClusterReader,
    live: dict[str, Any] | None,
    namespace: str,
    selector: dict[str, Any],
    omitted: list[str],
    *,
    what_if: bool,
) -> RevisionIndex:
    from kubectl_ds.placement.revisions import RevisionIndex, index_revisions

    if live is None:
        return RevisionIndex(by_hash={}, current_hash=None, current_revision=None, template_generation=None)
    try:
        index = index_revisions(live, reader.list_controller_revisions(namespace=namespace, selector=selector))
    except Forbidden as error:
        omitted.append(f"revision numbers left out: {error.message}")
        index = index_revisions(live, [])
    if what_if:
        # The manifest is a new template: no existing pod runs it yet.
        return RevisionIndex(by_hash=index.by_hash, current_hash=None, current_revision=None, template_generation=None)
    return index


def _scheduler_messages(
    reader: ClusterReader, pods: Sequence[dict[str, Any]], namespace: str, omitted: list[str]
) -> dict[str, str]:
    from kubectl_ds.placement.scheduling import events_for

    pending = [pod for pod in pods if r.status(pod).get("phase") == "Pending" and not r.spec(pod).get("nodeName")]
    if not pending:
        return {}
    try:
        events = reader.list_scheduling_events(namespace=namespace)
    except Forbidden as error:
        omitted.append(f"scheduler events left out: {error.message}")
        events = []
    return events_for(pending, events)


def _with_scheduler_checks(
    assessment: Assessment,
    reader: ClusterReader,
    parse_quantity: ParseQuantity,
    omitted: list[str],
    *,
    owner: dict[str, Any] | None,
    every_wanted_node: bool,
) -> Assessment:
    from kubectl_ds.placement.report import add_scheduler_checks, nodes_to_check, other_pods_on_nodes

    names = nodes_to_check(assessment, every_wanted_node=every_wanted_node)
    if not names:
        return assessment
    try:
        active = reader.list_active_pods()
    except Forbidden as error:
        omitted.append(f"resource and host-port checks left out: {error.message}")
        return assessment
    # "Other pods" are those this DaemonSet does not own; a manifest's pods would replace the live ones.
    others = other_pods_on_nodes(active, owner, names)
    return add_scheduler_checks(assessment, others, parse_quantity)


def _render(view: ExplainView, options: ExplainOptions, arrow: str) -> str:
    from kubectl_ds.render.explain import render_json, render_table, render_yaml

    renderers: dict[str, Callable[[], str]] = {
        "json": lambda: render_json(view, problems_only=options.problems_only),
        "yaml": lambda: render_yaml(view, problems_only=options.problems_only),
        "wide": lambda: render_table(view, wide=True, problems_only=options.problems_only, arrow=arrow),
        "table": lambda: render_table(view, problems_only=options.problems_only, arrow=arrow),
    }
    return renderers[options.output]()


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
FailedScheduling message). Read-only: it never writes to the cluster.

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
"""


@click.command("explain", help=EXPLAIN_HELP, short_help="Explain where a DaemonSet's pods run, and why not.")
@click.argument("name", required=False)
@click.option("--node", "nodes", multiple=True, metavar="NODE", help="Only this node (repeatable).")
@click.option("--problems", "problems_only", is_flag=True, help="Only the nodes that need attention.")
@click.option("-o", "--output", default="table", metavar="FORMAT", show_default=True, help="table, wide, json or yaml.")
@click.option(
    "--from-file",
    "from_files",
    multiple=True,
    metavar="PATH",
    help="Read nodes, pods, DaemonSets and ControllerRevisions from a dump instead of the cluster "
    "(repeatable; - for stdin).",
)
@click.option(
    "-f",
    "--filename",
    "manifest",
    metavar="MANIFEST",
    help="Explain this DaemonSet manifest (not applied yet) against the nodes (- for stdin).",
)
@click.option(
    "--exit-code", is_flag=True, help="Exit 3 when a node that should run the pod lacks a ready, up-to-date one."
)
@click.option(
    "-w",
    "--watch",
    is_flag=True,
    help="After the answer, follow changes (watches): redrawn on a terminal, a line per changed node in a pipe.",
)
@kube_flag_options
@click.pass_context
@interruptible
def explain_command(ctx: click.Context, /, **params: Any) -> int:
    flags = merged_kube_flags(ctx, pop_kube_flags(params))
    return execute(flags, params)


def execute(flags: Any, params: dict[str, Any]) -> int:
    """Resolve where to read from, run, print; returns the exit code."""
    from datetime import timezone

    from kubectl_ds.kube.dump import DumpReader, read_manifest

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
        watch=params["watch"],
    )
    options.validate()
    manifest = read_manifest(params["manifest"]) if params["manifest"] else None
    reader: ClusterReader
    if from_files:
        reader = DumpReader.from_files(from_files)
    else:
        from kubectl_ds.kube.cluster import Cluster
        from kubectl_ds.kube.config import resolve

        resolved = resolve(flags)
        reader = Cluster.connect(flags, resolved, plain_reads=True)
        options = replace(options, namespace=resolved.namespace)
        if options.watch:
            from kubectl_ds.commands.explain_watch import watch_live

            return watch_live(options, reader, arrow=_arrow())
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
            parse_quantity=_parse_quantity,
            manifest=manifest,
            arrow=_arrow(),
        )
    finally:
        gc.enable()
    click.echo(result.text, nl=False)
    return int(result.exit_code)


def _parse_quantity(value: Any) -> Any:
    from kubectl_ds.kube.quantity import parse_quantity

    return parse_quantity(value)


def _arrow() -> str:
    """→ where the terminal can print it, -> elsewhere."""
    import sys

    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "→".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return "->"
    return "→"
