"""Pure. The summary of an explain assessment: the controller's own status counts (only the oldest pod on
a node counts, docs/rules.md#r-status), the exclusion rules by node count, the states of the wanted
nodes with their most telling reason, which nodes --problems shows, and the node labels the failing nodes
share (placement/correlation.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.correlation import Correlation, correlate
from kubectl_ds.placement.report import (
    CRASH_LOOPING,
    FAILED,
    IMAGE_PULL,
    MISSING,
    NOT_AVAILABLE,
    NOT_READY,
    PENDING,
    RUNNING,
    TERMINATING,
    UNKNOWN,
    WOULD_CREATE,
    WOULD_PEND,
    Assessment,
    NodeReport,
)


@dataclass(frozen=True)
class ControllerCounts:
    """The DaemonSet status as the controller computes it (only the oldest pod on a node counts)."""

    desired: int
    current: int
    ready: int
    updated: int
    available: int
    misscheduled: int


@dataclass(frozen=True)
class Summary:
    nodes: int
    should_run: int
    excluded: tuple[tuple[str, int], ...]  # (rule, node count), largest first
    states: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (state, ((node, short reason), ...))
    outdated: tuple[str, ...]
    misscheduled: tuple[str, ...]
    problems: int
    unhealthy_wanted: tuple[str, ...]
    counts: ControllerCounts
    correlations: tuple[Correlation, ...] = ()  # node labels the failing nodes share and the healthy lack


def summarize(assessment: Assessment) -> Summary:
    nodes = assessment.nodes
    wanted = [node for node in nodes if node.should_run]
    excluded = Counter(_exclusion_rule(node) for node in nodes if not node.should_run)
    by_state: dict[str, list[NodeReport]] = {}
    for node in wanted:
        by_state.setdefault(node.state, []).append(node)
    states = tuple(
        (state, tuple((n.name, short_reason(n)) for n in group))
        for state, group in sorted(by_state.items(), key=lambda item: _state_order(item[0]))
    )
    outdated = tuple(
        node.name
        for node in wanted
        if node.state == RUNNING and not all(p.updated for p in node.pods if not p.terminating)
    )
    misscheduled = tuple(node.name for node in nodes if not node.should_run and node.pods)
    return Summary(
        nodes=len(nodes),
        should_run=len(wanted),
        excluded=tuple(sorted(excluded.items(), key=lambda item: (-item[1], item[0]))),
        states=states,
        outdated=outdated,
        misscheduled=misscheduled,
        problems=sum(1 for node in nodes if needs_attention(node)),
        unhealthy_wanted=tuple(node.name for node in wanted if not node.ready_and_updated),
        counts=controller_counts(nodes),
        correlations=correlate(assessment),
    )


_STATE_ORDER = (
    RUNNING,
    NOT_AVAILABLE,
    NOT_READY,
    CRASH_LOOPING,
    IMAGE_PULL,
    PENDING,
    FAILED,
    TERMINATING,
    MISSING,
    WOULD_CREATE,
    WOULD_PEND,
    UNKNOWN,
)


def _state_order(state: str) -> int:
    return _STATE_ORDER.index(state) if state in _STATE_ORDER else len(_STATE_ORDER)


def _exclusion_rule(node: NodeReport) -> str:
    rules = [reason.rule for reason in node.reasons if reason.code in codes.CONTROLLER_CODES]
    return " + ".join(rules) if rules else "unknown"


def short_reason(node: NodeReport) -> str:
    """The most telling reason of a node, as a few words for the summary line."""
    priority = (
        codes.NODE_NO_ALLOCATABLE,
        codes.INSUFFICIENT_RESOURCES,
        codes.HOST_PORT_CONFLICT,
        codes.FAILED_SCHEDULING,
    )
    for code in priority:
        for reason in node.reasons:
            if reason.code == code:
                return reason.rule
    for reason in node.reasons:
        if reason.code not in codes.CONTROLLER_CODES and not reason.is_info and reason.code != codes.POD_OUTDATED:
            return reason.rule
    return ""


def needs_attention(node: NodeReport) -> bool:
    """Shown by --problems: anything but a healthy wanted node or an empty excluded one."""
    return not node.healthy


def controller_counts(nodes: Sequence[NodeReport]) -> ControllerCounts:
    desired = current = ready = updated = available = misscheduled = 0
    for node in nodes:
        if node.should_run:
            desired += 1
            if node.pods:
                current += 1
                oldest = node.pods[0]
                ready += oldest.ready
                available += oldest.ready and oldest.available
                updated += oldest.updated
        elif node.pods:
            misscheduled += 1
    return ControllerCounts(desired, current, ready, updated, available, misscheduled)
