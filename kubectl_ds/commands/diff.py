"""`kubectl ds diff -f MANIFEST`: flags -> DiffOptions -> validate() -> run(options, reader, ...).

It judges the live DaemonSet and the manifest with the placement engine (the same stages as `explain -f`:
assess_nodes, then the scheduler checks against the other pods), compares them node by node
(placement/diff.py), and forecasts the rollout the controller then runs (rollout/forecast.py). Read-only.

Exit codes follow `kubectl diff`: 0 no difference, 1 differences, and every error above 1 (2), so that a
script can tell "it changes something" from "it could not tell".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import click

from kubectl_ds import resources as r
from kubectl_ds.commands.common import (
    check_output,
    from_file_option,
    interruptible,
    kube_flag_options,
    merged_kube_flags,
    open_reader,
    parse_quantity,
    pop_kube_flags,
)
from kubectl_ds.commands.help import GroupedCommand
from kubectl_ds.errors import DsError, ExitCode, Forbidden, NotFound, UsageError
from kubectl_ds.placement.diff import DaemonSetDiff, diff_nodes, image_changes, spec_diff
from kubectl_ds.placement.report import Assessment, add_scheduler_checks, assess_nodes, other_pods_on_nodes
from kubectl_ds.placement.requests import ParseQuantity
from kubectl_ds.placement.revisions import RevisionIndex, index_revisions
from kubectl_ds.reader import ClusterReader
from kubectl_ds.render.diff import DiffView, render_data, render_table
from kubectl_ds.rollout.forecast import forecast, strategy_after
from kubectl_ds.strategy import allows_surge

DIFF_OUTPUTS = ("table", "json", "yaml")
# kubectl diff's convention: 1 is not an error here but the answer "applying it changes something".
NO_DIFFERENCE = 0
DIFFERENCES = 1


@dataclass(frozen=True)
class DiffOptions:
    manifest: str | None
    namespace: str
    output: str = "table"
    from_files: tuple[str, ...] = ()

    def validate(self) -> None:
        check_output(self.output, DIFF_OUTPUTS)
        if not self.manifest:
            raise UsageError("pass the changed DaemonSet with -f/--filename MANIFEST")
        if self.manifest == "-" and "-" in self.from_files:
            raise UsageError("standard input (-) can be read only once: use it for either --from-file or -f")


@dataclass(frozen=True)
class DiffResult:
    text: str
    exit_code: int  # NO_DIFFERENCE or DIFFERENCES


def run(
    options: DiffOptions,
    reader: ClusterReader,
    manifest: dict[str, Any],
    *,
    now: datetime,
    parse_quantity: ParseQuantity,
) -> DiffResult:
    omitted: list[str] = []
    namespace = r.namespace(manifest) or options.namespace
    wanted = {**manifest, "metadata": {**r.metadata(manifest), "namespace": namespace}}  # as kubectl apply would
    try:
        live: dict[str, Any] | None = reader.get_daemonset(namespace=namespace, name=r.name(manifest))
    except NotFound:
        live = None
    nodes = reader.list_nodes()
    before = _assess_live(reader, live, nodes, now, omitted) if live is not None else None
    after = assess_nodes(wanted, nodes, [], _no_revisions(), now=now, applied=False)
    before, after = _with_scheduler_checks(reader, live, before, after, parse_quantity, omitted)
    changes, excluded = diff_nodes(before, after)
    diff = DaemonSetDiff(
        namespace=namespace,
        name=r.name(manifest),
        exists=live is not None,
        spec=spec_diff(live if live is not None else {}, wanted),
        nodes=changes,
        excluded=excluded,
    )
    view = DiffView(
        diff=diff,
        forecast=forecast(diff, live, wanted),
        source="standard input" if options.manifest == "-" else str(options.manifest),
        images=image_changes(live, wanted) if live is not None else (),
        omitted=tuple(omitted),
        managed=live is not None and r.MANAGED_ROLLOUT_ANNOTATION in r.annotations_of(live),
    )
    text = render_table(view) if options.output == "table" else render_data(view, options.output)
    return DiffResult(text, DIFFERENCES if diff.differs else NO_DIFFERENCE)


def _no_revisions() -> RevisionIndex:
    return RevisionIndex(by_hash={}, current_hash=None, current_revision=None, template_generation=None)


def _assess_live(
    reader: ClusterReader, live: dict[str, Any], nodes: list[dict[str, Any]], now: datetime, omitted: list[str]
) -> Assessment:
    namespace, selector = r.namespace(live), r.spec(live).get("selector") or {}
    try:
        pods: list[dict[str, Any]] | None = [
            pod
            for pod in reader.list_daemonset_pods(namespace=namespace, selector=selector)
            if r.is_controlled_by(pod, live)
        ]
    except Forbidden as error:
        omitted.append(f"the live pods left out (every node counted as without a pod): {error.message}")
        pods = None
    try:
        index = index_revisions(live, reader.list_controller_revisions(namespace=namespace, selector=selector))
    except Forbidden:
        index = index_revisions(live, [])
    return assess_nodes(live, nodes, pods, index, now=now)


def _with_scheduler_checks(
    reader: ClusterReader,
    live: dict[str, Any] | None,
    before: Assessment | None,
    after: Assessment,
    parse_quantity: ParseQuantity,
    omitted: list[str],
) -> tuple[Assessment | None, Assessment]:
    """Both templates against the same other pods (those the DaemonSet does not own: its own pod is the one
    the new pod replaces), on every node that wants the pod after the change."""
    names = [node.name for node in after.nodes if node.should_run]
    if not names:
        return before, after
    try:
        active = reader.list_active_pods()
    except Forbidden as error:
        omitted.append(f"resource and host-port checks left out: {error.message}")
        return before, after
    others = other_pods_on_nodes(active, live, names)
    checked_before = add_scheduler_checks(before, others, parse_quantity) if before is not None else None
    if allows_surge(strategy_after(live, after.daemonset)):
        # A surge pod starts next to the old one: the old pod's requests and host ports count against it.
        others = other_pods_on_nodes(active, None, names)
    return checked_before, add_scheduler_checks(after, others, parse_quantity)


# --- the click command -------------------------------------------------------------------------------

DIFF_HELP = """Show what applying a changed DaemonSet would do to the live one, node by node, before kubectl apply.

\b
Nodes gained, lost (their pods deleted), newly blocked (the new requests or host ports do not fit
next to the other pods: the holder is named) and unchanged; whether the pod template changes (a new
revision: pods are replaced) and the rollout the controller then runs with its strategy: how many
nodes at a time, in how many waves, and whether it would stall. Read-only.

\b
Exit codes, as kubectl diff: 0 no difference, 1 differences, 2 an error (nothing was compared).

\b
Examples:
  kubectl ds diff -f fluentd.yaml
  kubectl ds diff -f fluentd.yaml -o json
  kubectl ds diff -f fluentd.yaml --from-file dump.yaml
"""


@click.command(
    "diff", cls=GroupedCommand, help=DIFF_HELP, short_help="What applying a changed DaemonSet would do, node by node."
)
@click.option("-f", "--filename", "manifest", metavar="MANIFEST", help="The changed DaemonSet (- for stdin).")
@click.option("-o", "--output", default="table", metavar="FORMAT", show_default=True, help="table, json or yaml.")
@from_file_option("Compare against a dump instead of the cluster (repeatable; - for stdin).")
@kube_flag_options
@click.pass_context
@interruptible
def diff_command(ctx: click.Context, /, **params: Any) -> int:
    try:
        flags = merged_kube_flags(ctx, pop_kube_flags(params))
        return execute(flags, params)
    except DsError as error:
        if error.exit_code == ExitCode.ERROR:
            error.exit_code = ExitCode.USAGE  # 1 means "differences" here (kubectl diff): errors are above 1
        raise


def execute(flags: Any, params: dict[str, Any]) -> int:
    from datetime import timezone

    from kubectl_ds.kube.dump import read_manifest

    options = DiffOptions(
        manifest=params["manifest"],
        namespace=flags.namespace or "default",
        output=params["output"],
        from_files=tuple(params["from_files"]),
    )
    options.validate()
    assert options.manifest is not None  # validate() guarantees it
    manifest = read_manifest(options.manifest)
    if flags.namespace and r.namespace(manifest) and r.namespace(manifest) != flags.namespace:
        # kubectl apply refuses the same way, so the diff would describe an apply that cannot happen.
        raise UsageError(
            f'the namespace from the provided object "{r.namespace(manifest)}" does not match the namespace '
            f'"{flags.namespace}"; pass --namespace={r.namespace(manifest)} or drop -n'
        )
    reader, namespace = open_reader(flags, options.from_files)
    options = replace(options, namespace=namespace)
    result = run(options, reader, manifest, now=datetime.now(timezone.utc), parse_quantity=parse_quantity)
    click.echo(result.text, nl=False)
    return result.exit_code
