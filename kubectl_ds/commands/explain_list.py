"""`kubectl ds explain` without NAME: every DaemonSet of the namespace (-A: of the cluster, -l: with these
labels) judged on one read of the world: one list of DaemonSets, nodes, pods and ControllerRevisions for all
of them (never a request per DaemonSet), plus one list of the cluster's other pods only when some wanted node
lacks an available pod. It reads no events (`explain NAME` quotes the scheduler for a Pending pod)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.errors import Forbidden
from kubectl_ds.labelselector import parse_selector
from kubectl_ds.placement.report import add_scheduler_checks, assess_nodes, nodes_to_check, other_pods_on_nodes
from kubectl_ds.placement.requests import ParseQuantity
from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.placement.summary import summarize
from kubectl_ds.reader import FleetReader
from kubectl_ds.render.explain_list import DaemonSetLine, ExplainListView


def _owned_by(objects: Sequence[dict[str, Any]], owner: dict[str, Any]) -> list[dict[str, Any]]:
    return [obj for obj in objects if r.is_controlled_by(obj, owner)]


def _read(read: Callable[[], list[dict[str, Any]]], what: str, omitted: list[str]) -> list[dict[str, Any]] | None:
    try:
        return read()
    except Forbidden as error:
        omitted.append(f"{what} left out: {error.message}")
        return None


def list_view(
    reader: FleetReader,
    *,
    namespace: str | None,
    selector: str | None,
    now: datetime,
    parse_quantity: ParseQuantity,
) -> ExplainListView:
    """Judge every DaemonSet of `namespace` (None: all) matching `selector` against the same nodes and pods."""
    omitted: list[str] = []
    wanted = parse_selector(selector, flag="-l") if selector else None
    daemonsets = reader.list_daemonsets(namespace=namespace, selector=wanted)
    if not daemonsets:
        return ExplainListView(lines=(), namespace=namespace or "")
    nodes = reader.list_nodes()
    pods = _read(lambda: reader.list_pods(namespace=namespace), "pod states", omitted)
    revisions = _read(lambda: reader.list_revisions(namespace=namespace), "revision numbers", omitted) or []
    assessments = []
    for daemonset in daemonsets:
        own = None if pods is None else _owned_by(pods, daemonset)
        index = index_revisions(daemonset, _owned_by(revisions, daemonset))
        assessments.append((daemonset, assess_nodes(daemonset, nodes, own, index, now=now)))
    checks = [nodes_to_check(assessment) for _, assessment in assessments]
    if any(checks):
        active = _read(reader.list_active_pods, "resource and host-port checks", omitted)
        if active is not None:
            assessments = [
                (ds, add_scheduler_checks(assessment, other_pods_on_nodes(active, ds, names), parse_quantity))
                if names
                else (ds, assessment)
                for (ds, assessment), names in zip(assessments, checks, strict=True)
            ]
    lines = tuple(
        DaemonSetLine(namespace=r.namespace(ds) or "default", name=r.name(ds), summary=summarize(assessment))
        for ds, assessment in assessments
    )
    return ExplainListView(lines=lines, namespace=namespace or "", omitted=tuple(omitted))
