"""Pure. Assemble the per-node explanation: controller verdict, pod state, scheduler-side blockers.

The command drives it in stages so that it can fetch only what is needed:
`assess_nodes` (verdicts + the DaemonSet's pods), then `nodes_to_check` tells which nodes need the
other pods on them (for the resource and host-port checks), `add_scheduler_checks` adds those, and
`summarize` reconciles the counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from kubectl_ds import resources as r
from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.hostports import port_conflicts
from kubectl_ds.placement.nodeside import NodeSide, judge_nodes
from kubectl_ds.placement.pods import (
    container_problem,
    is_available,
    is_ready,
    is_terminating,
    oldest_first,
    pods_by_node,
)
from kubectl_ds.placement.predicate import NodeVerdict
from kubectl_ds.placement.reasons import Reason
from kubectl_ds.placement.requests import NO_ALLOCATABLE, ParseQuantity, reports_no_allocatable, resource_shortfalls
from kubectl_ds.placement.revisions import RevisionIndex
from kubectl_ds.placement.scheduling import short_scheduler_reason
from kubectl_ds.resources import Obj
from kubectl_ds.strategy import allows_surge

# Per-node states of a node that should run the pod; each such node is in exactly one.
RUNNING = "running"
NOT_READY = "not ready"
NOT_AVAILABLE = "not yet available"
CRASH_LOOPING = "crash-looping"
IMAGE_PULL = "image pull error"
PENDING = "Pending"
FAILED = "failed"
TERMINATING = "terminating"
MISSING = "missing"
UNKNOWN = "unknown"  # pods could not be listed
WOULD_CREATE = "would get a pod"  # explaining a manifest that is not applied: no pods exist yet
WOULD_PEND = "would stay Pending"  # ... and the scheduler could not place the new pod there


@dataclass(frozen=True, slots=True)
class PodReport:
    name: str
    namespace: str
    phase: str
    ready: bool
    available: bool
    revision: int | None
    updated: bool
    status: str  # kubectl-like STATUS word: Running, NotReady, Pending, CrashLoopBackOff, ...
    terminating: bool
    bound: bool  # spec.nodeName is set (the scheduler placed it)


@dataclass(frozen=True, slots=True)
class NodeReport:
    name: str
    verdict: NodeVerdict
    pods: tuple[PodReport, ...]
    reasons: tuple[Reason, ...]
    state: str  # one of the states above for a node that should run the pod, else "" (or UNKNOWN)
    labels_that_matter: tuple[str, ...] = ()
    taints: tuple[str, ...] = ()

    @property
    def should_run(self) -> bool:
        return self.verdict.should_run

    @property
    def primary_pod(self) -> PodReport | None:
        live = [pod for pod in self.pods if not pod.terminating]
        return live[0] if live else (self.pods[0] if self.pods else None)

    @property
    def healthy(self) -> bool:
        """Wanted with one ready, available, up-to-date pod; or not wanted and empty."""
        if self.state == UNKNOWN:
            return False
        if self.state in (WOULD_CREATE, WOULD_PEND):
            return self.state == WOULD_CREATE
        if not self.should_run:
            return not self.pods
        live = [pod for pod in self.pods if not pod.terminating]
        return len(live) == 1 and live[0].available and live[0].updated

    @property
    def ready_and_updated(self) -> bool:
        return any(pod.ready and pod.updated and not pod.terminating for pod in self.pods)

    def with_reasons(self, extra: Sequence[Reason]) -> NodeReport:
        return replace(self, reasons=self.reasons + tuple(extra))


@dataclass(frozen=True)
class Assessment:
    """Inputs the stages share."""

    daemonset: Obj
    revisions: RevisionIndex
    nodes: tuple[NodeReport, ...]
    pods_known: bool
    node_objects: Mapping[str, Obj] = field(default_factory=dict)


def assess_nodes(
    daemonset: Obj,
    nodes: Sequence[Obj],
    daemonset_pods: Sequence[Obj] | None,
    revisions: RevisionIndex,
    *,
    now: datetime,
    scheduler_messages: Mapping[str, str] | None = None,
    applied: bool = True,
    judged: Mapping[str, NodeSide] | None = None,
    reported: Mapping[str, PodReport] = {},  # noqa: B006 - read only
) -> Assessment:
    """Verdict and pod state for every node. `daemonset_pods` None means they could not be listed;
    `applied` False means the DaemonSet does not exist yet (a what-if), so no pod is missing anywhere.
    `judged` and `reported`: the nodes' side and pod reports (report_pods), when the caller made them while
    it read (the same values assess_nodes would make)."""
    grouped = pods_by_node(daemonset_pods or [])
    min_ready = r.min_ready_seconds(daemonset)
    reports = []
    sides = judged if judged is not None else judge_nodes(daemonset, nodes)
    for node in sorted(nodes, key=lambda node: natural_key(r.name(node))):
        side = sides[r.name(node)]
        verdict = side.verdict
        pods = oldest_first(grouped.get(r.name(node), []))
        pod_reports = tuple(reported.get(r.name(pod)) or _pod_report(pod, revisions, min_ready, now) for pod in pods)
        pod_reasons: list[Reason] = []
        if daemonset_pods is None:
            state = UNKNOWN
        else:
            state, pod_reasons = _pod_state(
                daemonset, verdict, pods, pod_reports, revisions, scheduler_messages or {}, applied=applied
            )
        reports.append(
            NodeReport(
                name=r.name(node),
                verdict=verdict,
                pods=pod_reports,
                reasons=verdict.reasons + tuple(pod_reasons),
                state=state,
                labels_that_matter=side.labels_that_matter,
                taints=side.taints,
            )
        )
    return Assessment(
        daemonset=daemonset,
        revisions=revisions,
        nodes=tuple(reports),
        pods_known=daemonset_pods is not None,
        node_objects={r.name(n): n for n in nodes},
    )


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """node-2 before node-10, as people count."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def report_pods(daemonset: Obj, pods: Iterable[Obj], revisions: RevisionIndex, now: datetime) -> dict[str, PodReport]:
    """Each pod's report, by pod name (the DaemonSet's pods share its namespace)."""
    min_ready = r.min_ready_seconds(daemonset)
    return {r.name(pod): _pod_report(pod, revisions, min_ready, now) for pod in pods}


def _pod_report(pod: Obj, revisions: RevisionIndex, min_ready: int, now: datetime) -> PodReport:
    phase = str(r.status(pod).get("phase") or "Unknown")
    ready = is_ready(pod)
    return PodReport(
        name=r.name(pod),
        namespace=r.namespace(pod),
        phase=phase,
        ready=ready,
        available=is_available(pod, min_ready, now),
        revision=revisions.revision_of(pod),
        updated=revisions.is_updated(pod),
        status=_status_word(pod, phase, ready),
        terminating=is_terminating(pod),
        bound=bool(r.spec(pod).get("nodeName")),
    )


def _status_word(pod: Obj, phase: str, ready: bool) -> str:
    if is_terminating(pod):
        return "Terminating"
    problem = container_problem(pod)
    if problem is not None:
        return problem.status
    if phase == "Running":
        return "Running" if ready else "NotReady"
    if phase == "Failed":
        return str(r.status(pod).get("reason") or "Failed")
    return phase


def _pod_state(
    daemonset: Obj,
    verdict: NodeVerdict,
    pods: Sequence[Obj],
    reports: Sequence[PodReport],
    revisions: RevisionIndex,
    scheduler_messages: Mapping[str, str],
    *,
    applied: bool = True,
) -> tuple[str, list[Reason]]:
    live = [(pod, rep) for pod, rep in zip(pods, reports, strict=True) if not rep.terminating]
    terminating = [rep for rep in reports if rep.terminating]
    reasons: list[Reason] = [
        Reason(code=codes.POD_TERMINATING, rule="terminating", message=f"pod {rep.name} is terminating")
        for rep in terminating
    ]
    if not verdict.should_run:
        reasons += _misscheduled(verdict, [rep for _, rep in live])
        return "", reasons
    reasons += _extra_pods(daemonset, [rep for _, rep in live])
    if not live:
        if not applied:
            return WOULD_CREATE, reasons
        if terminating:
            return TERMINATING, reasons  # without surge the controller waits for the pod to be gone
        reasons.append(
            Reason(
                code=codes.POD_MISSING,
                rule="no pod",
                message="no DaemonSet pod on this node although one should run",
                hint=f"see the DaemonSet's events: kubectl describe ds -n {r.namespace(daemonset)} {r.name(daemonset)}",
            )
        )
        return MISSING, reasons
    pod, rep = live[0]
    state, pod_reasons = _single_pod_state(daemonset, pod, rep, scheduler_messages)
    reasons += pod_reasons
    if not rep.updated:
        reasons.append(_outdated(daemonset, rep, revisions))
    return state, reasons


def _single_pod_state(
    daemonset: Obj, pod: Obj, rep: PodReport, scheduler_messages: Mapping[str, str]
) -> tuple[str, list[Reason]]:
    if rep.phase == "Pending" and not rep.bound:
        message = scheduler_messages.get(rep.name)
        if message:
            short = short_scheduler_reason(message)
            return PENDING, [
                Reason(
                    code=codes.FAILED_SCHEDULING,
                    rule=short,
                    detail=message,
                    message=f"pod {rep.name} is Pending; the scheduler says: {short}",
                )
            ]
        return PENDING, [
            Reason(
                code=codes.FAILED_SCHEDULING,
                rule="not scheduled yet",
                message=f"pod {rep.name} is Pending and not yet scheduled",
            )
        ]
    if rep.phase == "Failed":
        status = r.status(pod)
        detail = str(status.get("message") or status.get("reason") or "")
        return FAILED, [
            Reason(
                code=codes.POD_FAILED,
                rule=f"failed: {status.get('reason') or 'Failed'}",
                message=f"pod {rep.name} failed"
                + (f": {detail}" if detail else "")
                + "; the controller deletes it and creates another (with backoff)",
            )
        ]
    problem = container_problem(pod)
    if problem is not None and problem.reason is not None and not rep.ready:
        state = {codes.POD_CRASH_LOOPING: CRASH_LOOPING, codes.POD_IMAGE_PULL: IMAGE_PULL}.get(
            problem.reason.code, NOT_READY
        )
        return state, [problem.reason]
    if not rep.ready:
        return NOT_READY, [
            Reason(code=codes.POD_NOT_READY, rule="not ready", message=f"pod {rep.name} is {rep.phase} but not ready")
        ]
    if not rep.available:
        min_ready = r.min_ready_seconds(daemonset)
        return NOT_AVAILABLE, [
            Reason(
                code=codes.POD_NOT_AVAILABLE,
                rule="not yet available",
                message=f"pod {rep.name} is ready but not yet for minReadySeconds ({min_ready}s)",
            )
        ]
    return RUNNING, []


def _outdated(daemonset: Obj, rep: PodReport, revisions: RevisionIndex) -> Reason:
    strategy = (r.spec(daemonset).get("updateStrategy") or {}).get("type") or "RollingUpdate"
    have = f"revision {rep.revision}" if rep.revision is not None else "an unknown revision"
    want = f"revision {revisions.current_revision}" if revisions.current_revision is not None else "the new template"
    if revisions.current_revision is None:
        hint = "applying the new template replaces this pod"
    elif r.MANAGED_ROLLOUT_ANNOTATION in r.annotations_of(daemonset):
        hint = (
            f"a managed rollout is in progress (the DaemonSet is parked): kubectl ds rollout status -n "
            f"{r.namespace(daemonset)} {r.name(daemonset)}"
        )
    elif strategy == "OnDelete":
        hint = (
            "updateStrategy is OnDelete: delete the pod to update it "
            f"(kubectl delete pod -n {rep.namespace} {rep.name})"
        )
    else:
        hint = "the rolling update has not reached the node yet"
    return Reason(
        code=codes.POD_OUTDATED,
        rule="old revision",
        message=f"pod {rep.name} runs {have}, current is {want}",
        hint=hint,
    )


def _extra_pods(daemonset: Obj, live: Sequence[PodReport]) -> list[Reason]:
    if len(live) <= 1:
        return []
    names = ", ".join(rep.name for rep in live)
    surge = allows_surge(daemonset)
    if surge and len(live) == 2 and live[0].updated != live[1].updated:
        return [
            Reason(
                code=codes.EXTRA_PODS,
                rule="surge",
                message=f"2 pods during a surge update ({names}); the old one goes once the new one is available",
            )
        ]
    keep = "one old and one new pod" if surge else f"the oldest ({live[0].name})"
    return [
        Reason(
            code=codes.EXTRA_PODS,
            rule="extra pods",
            message=f"{len(live)} pods on this node ({names}); the controller keeps {keep} and deletes the rest",
        )
    ]


def _misscheduled(verdict: NodeVerdict, live: Sequence[PodReport]) -> list[Reason]:
    if not live:
        return []
    names = ", ".join(rep.name for rep in live)
    if verdict.should_continue_running:
        message = f"pod {names} keeps running although no new pod would be placed here (counted as misscheduled)"
    else:
        message = f"pod {names} is on a node that should not run it; the controller deletes it"
    return [Reason(code=codes.MISSCHEDULED, rule="misscheduled", message=message)]


# --- scheduler-side checks -------------------------------------------------------------------------


def nodes_to_check(assessment: Assessment, *, every_wanted_node: bool = False) -> list[str]:
    """Nodes where the scheduler's view matters: wanted, but without an available DaemonSet pod.

    With `every_wanted_node` (explaining a manifest that is not applied yet) every wanted node is
    checked, since the new pod would replace whatever runs there.
    """
    names = []
    for node in assessment.nodes:
        if not node.should_run:
            continue
        if every_wanted_node or not any(pod.available and not pod.terminating for pod in node.pods):
            names.append(node.name)
    return names


def add_scheduler_checks(
    assessment: Assessment,
    other_pods_by_node: Mapping[str, Sequence[Obj]],
    parse_quantity: ParseQuantity,
) -> Assessment:
    """Add resource and host-port blockers to the nodes in `other_pods_by_node`."""
    pod_spec = r.template_pod_spec(assessment.daemonset)
    updated = []
    for node in assessment.nodes:
        if node.name not in other_pods_by_node:
            updated.append(node)
            continue
        others = other_pods_by_node[node.name]
        extra = scheduler_reasons(pod_spec, assessment.node_objects[node.name], others, parse_quantity)
        node = node.with_reasons(extra)
        if node.state == WOULD_CREATE and extra:
            node = replace(node, state=WOULD_PEND)  # any scheduler-side reason blocks binding
        updated.append(node)
    return replace(assessment, nodes=tuple(updated))


def scheduler_reasons(pod_spec: Obj, node: Obj, other_pods: Sequence[Obj], parse: ParseQuantity) -> list[Reason]:
    if reports_no_allocatable(node):
        return [NO_ALLOCATABLE]
    reasons = []
    for shortfall in resource_shortfalls(pod_spec, node, other_pods, parse):
        reasons.append(
            Reason(
                code=codes.INSUFFICIENT_RESOURCES,
                rule="Too many pods" if shortfall.resource == "pods" else f"Insufficient {shortfall.resource}",
                message=shortfall.message,
                hint="free capacity on the node, lower the DaemonSet's requests, or give it a priorityClassName "
                "that may preempt (e.g. system-node-critical)",
            )
        )
    for conflict in port_conflicts(pod_spec, other_pods):
        reasons.append(
            Reason(
                code=codes.HOST_PORT_CONFLICT,
                rule=f"hostPort {conflict.wanted}",
                message=conflict.message,
                hint=f"move or stop {conflict.holder}, or change the DaemonSet's hostPort",
            )
        )
    return reasons


def other_pods_on_nodes(pods: Iterable[Obj], daemonset: Obj | None, node_names: Iterable[str]) -> dict[str, list[Obj]]:
    """Non-terminal pods bound to each node that `daemonset` (if any) does not own."""
    wanted: dict[str, list[Obj]] = {name: [] for name in node_names}
    for pod in pods:
        node = r.spec(pod).get("nodeName")
        if node not in wanted or r.status(pod).get("phase") in ("Succeeded", "Failed"):
            continue
        if daemonset is not None and r.is_controlled_by(pod, daemonset):
            continue
        wanted[node].append(pod)
    return wanted


# --- summary ---------------------------------------------------------------------------------------
