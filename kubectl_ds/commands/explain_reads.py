"""What `kubectl ds explain NAME` reads, and the judging done while it reads: the DaemonSet, the nodes and
its pods always; the other pods only when a wanted node lacks an available DaemonSet pod; scheduling events
only when a DaemonSet pod is Pending. The reads overlap (commands/background.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kubectl_ds import resources as r
from kubectl_ds.commands.background import Background, settle
from kubectl_ds.errors import Forbidden, NotFound, UsageError

if TYPE_CHECKING:
    from kubectl_ds.commands.explain import ExplainOptions
    from kubectl_ds.placement.report import Assessment
    from kubectl_ds.placement.requests import ParseQuantity
    from kubectl_ds.placement.revisions import RevisionIndex
    from kubectl_ds.reader import ClusterReader


def assess(
    options: ExplainOptions,
    reader: ClusterReader,
    now: datetime,
    parse_quantity: ParseQuantity,
    manifest: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any] | None, Assessment, list[str], dict[str, Mapping[str, str]]]:
    """Read and judge: the DaemonSet explained, the applied one, the assessment (without the node objects)
    and what was left out, and the nodes' labels when -L asks for them. The reads overlap
    (commands/background.py): the nodes while the DaemonSet is
    read, then its pods and revisions side by side, and the nodes are judged while the pods still come.
    What each read leaves out is collected apart, so `omitted` keeps a fixed order."""
    from kubectl_ds.commands.explain_pages import PagedJudging

    # A live cluster hands each page over as it comes (commands/explain_pages.py); a dump is judged after.
    paging = PagedJudging() if getattr(reader, "pages_reads", False) else None
    paged: Any = reader
    all_nodes = Background(lambda: paged.list_nodes(on_page=paging.nodes_page) if paging else reader.list_nodes())
    started: list[Background[Any]] = [all_nodes]
    try:
        daemonset, live = _target(options, reader, manifest)
    except BaseException as error:
        if paging is not None:
            paging.know(None)  # the node pages need not wait for a DaemonSet that will not come
        if isinstance(error, Exception):  # not on Ctrl-C: that ends the process, daemon threads with it
            settle(started)
        raise
    try:
        namespace = r.namespace(daemonset) or options.namespace
        selector = r.spec(daemonset).get("selector") or {}
        pods_omitted: list[str] = []
        revisions_omitted: list[str] = []
        revisions_read = Background(
            lambda: _revisions(reader, live, namespace, selector, revisions_omitted, what_if=manifest is not None)
        )
        started.append(revisions_read)
        if paging is not None:
            paging.know(daemonset, live, revisions_read.result, now)
        on_page = paging.pods_page if paging is not None else None
        pods_read = Background(lambda: _daemonset_pods(reader, live, namespace, selector, pods_omitted, on_page))
        started.append(pods_read)
        from kubectl_ds.placement.nodeside import judge_nodes  # while the reads are in flight
        from kubectl_ds.placement.report import assess_nodes
        from kubectl_ds.render.explain import ExplainView  # noqa: F401 - imported now, used by run()

        nodes = _select_nodes(all_nodes.result(), options.nodes)
        labels = {r.name(node): r.labels(node) for node in nodes} if options.table.label_columns else {}
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
    except Exception:
        settle(started)  # no read left in flight once explain has answered
        raise
    # Only the nodes' labels are kept (the summary's failure correlation reads them), not the whole objects.
    slim = {
        name: {"metadata": {"name": name, "labels": dict(r.labels(node))}}
        for name, node in assessment.node_objects.items()
    }
    return daemonset, live, replace(assessment, node_objects=slim), omitted, labels


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
