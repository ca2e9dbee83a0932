"""Pure. `kubectl ds audit`: every DaemonSet in scope judged on every node exactly as `explain` judges one
(placement/report.assess_nodes, the scheduler checks, placement/summary.summarize), from objects read ONCE for
the whole scope: the cluster's lists are indexed here (pods and revisions by controller uid, events by
namespace, non-terminal pods by node) so that no DaemonSet costs a request or a pass over every pod.

Stages, so that the command reads the other pods only when a node needs the scheduler checks:
`Fleet.index` → per DaemonSet `assess` → `nodes_to_check` → `finish` (scheduler checks, summary, findings),
one DaemonSet at a time, so that only one full assessment is alive at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from kubectl_ds import resources as r
from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.pods import is_terminal
from kubectl_ds.placement.report import (
    MISSING,
    RUNNING,
    Assessment,
    NodeReport,
    add_scheduler_checks,
    assess_nodes,
    other_pods_on_nodes,
)
from kubectl_ds.placement.requests import ParseQuantity
from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.placement.scheduling import events_for
from kubectl_ds.placement.summary import Summary, needs_attention, short_reason, summarize
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.findings import ERROR, Finding, findings
from kubectl_ds.rollout.ledger import budget_ledger


@dataclass(frozen=True)
class Fleet:
    """What was read for the whole scope, indexed once. `pods_by_owner` None: pods could not be listed."""

    nodes: tuple[Obj, ...]
    pods_by_owner: Mapping[str, list[Obj]] | None
    revisions_by_owner: Mapping[str, list[Obj]]
    events_by_namespace: Mapping[str, list[Obj]]
    budgets_by_namespace: Mapping[str, list[Obj]] | None

    @staticmethod
    def index(
        nodes: Sequence[Obj],
        pods: Sequence[Obj] | None,
        revisions: Sequence[Obj],
        events: Sequence[Obj],
        budgets: Sequence[Obj] | None,
    ) -> Fleet:
        return Fleet(
            nodes=tuple(nodes),
            pods_by_owner=None if pods is None else _by_controller(pods),
            revisions_by_owner=_by_controller(revisions),
            events_by_namespace=_by_namespace(events),
            budgets_by_namespace=None if budgets is None else _by_namespace(budgets),
        )

    def pods_of(self, daemonset: Obj) -> list[Obj] | None:
        return None if self.pods_by_owner is None else self.pods_by_owner.get(r.uid(daemonset), [])


def pending_unscheduled(pods: Sequence[Obj]) -> list[Obj]:
    """Pods the scheduler has said something about (or will): Pending and not bound."""
    return [pod for pod in pods if r.status(pod).get("phase") == "Pending" and not r.spec(pod).get("nodeName")]


def assess(daemonset: Obj, fleet: Fleet, *, now: datetime) -> Assessment:
    pods = fleet.pods_of(daemonset)
    revisions = index_revisions(daemonset, fleet.revisions_by_owner.get(r.uid(daemonset), []))
    pending = pending_unscheduled(pods or [])
    messages = events_for(pending, fleet.events_by_namespace.get(r.namespace(daemonset), [])) if pending else {}
    return assess_nodes(daemonset, fleet.nodes, pods, revisions, now=now, scheduler_messages=messages)


def active_pods_by_node(pods: Sequence[Obj]) -> dict[str, list[Obj]]:
    """Non-terminal pods bound to each node: the other pods the scheduler checks count, indexed once."""
    grouped: dict[str, list[Obj]] = {}
    for pod in pods:
        node = r.spec(pod).get("nodeName")
        if node and not is_terminal(pod):
            grouped.setdefault(str(node), []).append(pod)
    return grouped


@dataclass(frozen=True)
class DaemonSetAudit:
    daemonset: Obj
    assessment: Assessment
    summary: Summary
    findings: tuple[Finding, ...]

    @property
    def namespace(self) -> str:
        return r.namespace(self.daemonset)

    @property
    def name(self) -> str:
        return r.name(self.daemonset)

    @property
    def failing(self) -> bool:
        """What --exit-code exits 3 for: a wanted node without a ready, up-to-date pod, or an error finding."""
        return bool(self.summary.unhealthy_wanted) or any(found.severity == ERROR for found in self.findings)


def finish(
    assessment: Assessment,
    fleet: Fleet,
    checks: Sequence[str],
    active_by_node: Mapping[str, Sequence[Obj]] | None,
    parse_quantity: ParseQuantity,
    *,
    now: datetime,
    every_node: bool = False,
) -> DaemonSetAudit:
    """Add the scheduler checks for the nodes in `checks` (when the other pods are known), then summarize and
    add the findings about the DaemonSet itself. Once summarized, only the problem nodes are kept (all of them
    with `every_node`): what the views show, and what keeps an audit of 10 DaemonSets on 2,000 nodes small."""
    daemonset = assessment.daemonset
    if checks and active_by_node is not None:
        nearby = [pod for name in checks for pod in active_by_node.get(name, [])]
        assessment = add_scheduler_checks(assessment, other_pods_on_nodes(nearby, daemonset, checks), parse_quantity)
    budgets = None if fleet.budgets_by_namespace is None else fleet.budgets_by_namespace.get(r.namespace(daemonset))
    pods = fleet.pods_of(daemonset)
    ledger = None if pods is None else budget_ledger(daemonset, fleet.nodes, pods, assessment.revisions, now=now)
    found = findings(daemonset, pods or [], budgets, now=now, stuck=ledger.finding() if ledger else None)
    summary = summarize(assessment)
    if not every_node:
        kept = tuple(node for node in assessment.nodes if needs_attention(node))
        assessment = replace(assessment, nodes=kept, node_objects={})
    return DaemonSetAudit(daemonset, assessment, summary, tuple(found))


# --- grouping for the table -----------------------------------------------------------------------------


def problem_label(node: NodeReport) -> str:
    """The one reason a problem node is grouped under: "Pending (Insufficient memory)", "crash-looping", "old
    revision", "taint dedicated=gpu:NoSchedule not tolerated (pod kept, misscheduled)"."""
    if not node.should_run:
        rules = [
            f"{reason.rule} not tolerated"
            if reason.code in (codes.TAINT_NO_SCHEDULE, codes.TAINT_NO_EXECUTE)
            else reason.rule
            for reason in node.reasons
            if reason.code in codes.CONTROLLER_CODES
        ]
        fate = "pod kept, misscheduled" if node.verdict.should_continue_running else "pod deleted by the controller"
        return f"{' + '.join(rules) or 'not wanted'} ({fate})"
    short = short_reason(node)
    if node.state == RUNNING:
        outdated = any(reason.code == codes.POD_OUTDATED for reason in node.reasons)
        return short or ("old revision" if outdated else RUNNING)
    state = "missing a pod" if node.state == MISSING else node.state
    # As explain's summary words it: "Pending (Insufficient memory)", "missing a pod (hostPort 9100/TCP)".
    return f"{state} ({short})" if short and short not in (node.state, "no pod") else state


def node_groups(assessment: Assessment, *, every_node: bool) -> list[tuple[str, list[str]]]:
    """(label, node names) for the problem nodes (every node with `every_node`): wanted nodes without a
    working pod first, then old revisions, then pods where none should run, then healthy nodes; within each,
    the largest group first."""
    groups: dict[tuple[int, str], list[str]] = {}
    for node in assessment.nodes:
        if needs_attention(node):
            rank = 2 if not node.should_run else (1 if node.state == RUNNING else 0)
            groups.setdefault((rank, problem_label(node)), []).append(node.name)
        elif every_node:
            groups.setdefault((3, "healthy" if node.should_run else "not wanted, no pod"), []).append(node.name)
    ordered = sorted(groups.items(), key=lambda item: (item[0][0], -len(item[1])))
    return [(label, names) for (_, label), names in ordered]


def problem_kinds(summary: Summary) -> list[tuple[str, int]]:
    """(kind, nodes) by the summary's states, then old revisions and misscheduled pods: the PROBLEMS column."""
    kinds = [(state, len(nodes)) for state, nodes in summary.states if state != RUNNING]
    if summary.outdated:
        kinds.append(("old revision", len(summary.outdated)))
    if summary.misscheduled:
        kinds.append(("misscheduled", len(summary.misscheduled)))
    return kinds


def _by_controller(objects: Sequence[Obj]) -> dict[str, list[Obj]]:
    grouped: dict[str, list[Obj]] = {}
    for obj in objects:
        owner = r.controller_owner_uid(obj)
        if owner:
            grouped.setdefault(owner, []).append(obj)
    return grouped


def _by_namespace(objects: Sequence[Obj]) -> dict[str, list[Obj]]:
    grouped: dict[str, list[Obj]] = {}
    for obj in objects:
        grouped.setdefault(r.namespace(obj) or "default", []).append(obj)
    return grouped
