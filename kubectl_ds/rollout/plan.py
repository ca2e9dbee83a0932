"""Pure. A managed, step-wise rollout plan: which nodes get the new pod template, in which steps.

The plugin parks the DaemonSet with updateStrategy OnDelete and replaces pods node by node itself, so the
plan must respect the same budget the controller would (update.go rollingUpdate; docs/rules.md#r-budget,
docs/rules.md#r-rolling-no-surge, docs/rules.md#r-rolling-surge): nodes that are already unavailable use up
budget, and old pods that are not available anyway are replaced first and for free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.errors import UsageError
from kubectl_ds.labelselector import label_problem, selector_matches, selector_query
from kubectl_ds.placement.hostports import host_ports
from kubectl_ds.placement.pods import is_terminating, pods_by_node
from kubectl_ds.placement.predicate import NodeVerdict, node_should_run_daemon_pod, pod_tolerations
from kubectl_ds.placement.report import natural_key
from kubectl_ds.placement.requests import ParseQuantity, resource_shortfalls
from kubectl_ds.placement.revisions import RevisionIndex
from kubectl_ds.render.text import moment
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.budget import MAX_UNAVAILABLE_FLAG, Budget, compute_budget, validate_rolling_update
from kubectl_ds.rollout.nodepods import node_pods
from kubectl_ds.rollout.ordering import (
    CANARY_SPREAD_FLAG,
    WAVE_BY_FLAG,
    Candidate,
    Step,
    chunk,
    order,
    parse_label_keys,
    parse_step_sizes,
    spread_canaries,
    step_size_of,
    wave_of,
)
from kubectl_ds.rollout.state import original_strategy
from kubectl_ds.strategy import ROLLING_UPDATE, surges, update_strategy_type

CANARY_FLAG = "--canary"
PARTITION_FLAG = "--partition"

# Warning codes (stable: scripts and JSON output may match on them).
HOST_PORT_WITH_SURGE = "HostPortWithSurge"
NOT_READY_USES_BUDGET = "NotReadyUsesBudget"
NO_SURGE_HEADROOM = "NoSurgeHeadroom"
EXCLUDED_NODES = "ExcludedNodes"
CANARY_MATCHES_NO_NODE = "CanaryMatchesNoNode"
UNREACHABLE_NODES = "UnreachableNodes"


@dataclass(frozen=True)
class PlanOptions:
    """What the user asked for. Defaults are the API's own (maxUnavailable 1, maxSurge 0)."""

    max_unavailable: int | str = 1
    max_surge: int | str = 0
    step_size: int | str | None = None  # None: as many nodes as the budget allows
    canary: Mapping[str, Any] | None = None  # a LabelSelector ({"matchLabels": {...}}) picking the canary nodes
    partition: int = 0  # leave this many nodes (the last ones in the order) on the old revision
    skip_unreachable: bool = False  # unreachable nodes use no budget either (--skip-unreachable)
    last: tuple[str, ...] = ()  # nodes that go alone in the last step (the node the driver itself runs on)
    # Which nodes, in what order, how many (rollout/ordering.py):
    canary_spread: tuple[str, ...] = ()  # label keys: the canary step takes one node per distinct value of each
    wave_by: str | None = None  # a label key: one value per wave, steps never mix two waves
    nodes: Mapping[str, Any] | None = None  # a LabelSelector: nodes outside it stay on their revision (--nodes)
    sized_steps_done: int = 0  # non-canary steps already taken: where the growing --step-size sizes resume


@dataclass(frozen=True)
class PlanWarning:
    code: str
    message: str
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    create_only: tuple[str, ...]  # wanted nodes without a pod: the controller creates the new pod there anyway
    already_unavailable: tuple[str, ...]  # wanted nodes the controller counts as unavailable now (r-rolling-no-surge)
    partitioned: tuple[str, ...]  # nodes that need the update but stay on the old revision (--partition)
    budget: Budget
    surge: bool
    warnings: tuple[PlanWarning, ...]
    desired: int
    step_size: int = 0  # available nodes per step (steps after the first)
    first_step_allowance: int = 0  # available nodes the first step may take, after what is already unavailable
    unreachable: tuple[str, ...] = ()  # wanted nodes left out: their kubelet cannot finish a delete
    out_of_scope: tuple[str, ...] = ()  # nodes that need the update but do not match --nodes: they stay

    @property
    def nodes_to_update(self) -> tuple[str, ...]:
        return tuple(node for step in self.steps for node in step.nodes)


# --- options ---------------------------------------------------------------------------------------------


def parse_canary(text: str) -> dict[str, Any]:
    """`key=value,key2=value2` → {"matchLabels": {...}} (an empty value is allowed: it matches `key=`)."""
    usage = f'invalid {CANARY_FLAG} "{text}": expected key=value[,key=value...]'
    labels: dict[str, str] = {}
    for pair in text.split(","):
        key, sep, value = pair.strip().partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or value.startswith("="):
            raise UsageError(usage)
        problem = label_problem(key, value)
        if problem:
            raise UsageError(f'invalid {CANARY_FLAG} "{text}": {problem}')
        if labels.get(key, value) != value:
            raise UsageError(f'invalid {CANARY_FLAG} "{text}": label {key} is given two values')
        labels[key] = value
    return {"matchLabels": labels}


def validate_plan_options(options: PlanOptions) -> None:
    """Raise UsageError, naming the flag, for any option the plan cannot use."""
    validate_rolling_update(options.max_unavailable, options.max_surge)
    if options.step_size is not None:
        parse_step_sizes(options.step_size)
    if options.canary_spread:
        parse_label_keys(",".join(options.canary_spread), flag=CANARY_SPREAD_FLAG)
    if options.wave_by is not None:
        parse_label_keys(options.wave_by, flag=WAVE_BY_FLAG)
    if options.partition < 0:
        raise UsageError(f'invalid {PARTITION_FLAG} "{options.partition}": must be greater than or equal to 0')


# --- the plan ----------------------------------------------------------------------------------------------


def plan_rollout(
    daemonset: Obj,
    nodes: Sequence[Obj],
    pods: Iterable[Obj],
    revisions: RevisionIndex,
    options: PlanOptions,
    *,
    now: datetime,
    parse_quantity: ParseQuantity | None = None,
    other_pods_by_node: Mapping[str, Sequence[Obj]] | None = None,
) -> Plan:
    """Plan the rollout of the DaemonSet's current template over `nodes`, given its `pods`.

    `parse_quantity` and `other_pods_by_node` (pods not owned by the DaemonSet, bound to each node) are only
    needed for the NoSurgeHeadroom check; without them it is skipped.
    """
    validate_plan_options(options)
    grouped = pods_by_node(pods)
    tolerations = pod_tolerations(daemonset)
    verdicts = {r.name(node): node_should_run_daemon_pod(daemonset, node, tolerations=tolerations) for node in nodes}
    by_name = {r.name(node): node for node in nodes}
    names = sorted(by_name, key=natural_key)

    wanted = [
        node_pods(name, grouped.get(name, []), revisions, r.min_ready_seconds(daemonset), now)
        for name in names
        if verdicts[name].should_run
    ]
    budget = compute_budget(
        options.max_unavailable, options.max_surge, len(wanted), [node.name for node in wanted if node.empty]
    )
    surge = surges(options.max_surge)
    limit = budget.max_surge if surge else budget.max_unavailable
    size_of = step_size_of(options.step_size, len(wanted), limit, options.sized_steps_done)
    step_size = size_of(0)

    # An unreachable node's kubelet never finishes a graceful delete, and under OnDelete no replacement comes
    # while the old pod terminates: evicting there wedges the rollout. Such nodes are left out of the steps;
    # the controller updates them when they return (docs/rules.md#r-node-lifecycle).
    unreachable = tuple(node.name for node in wanted if r.is_node_unreachable(by_name[node.name]))
    already_unavailable = tuple(
        node.name for node in wanted if node.unavailable and not (options.skip_unreachable and node.name in unreachable)
    )
    # What uses budget: every unavailable node without surge (r-rolling-no-surge); with surge only nodes whose new pod
    # is not available yet next to the old one (r-rolling-surge) — empty and not-ready nodes surge for free.
    using_budget = tuple(node.name for node in wanted if node.surging) if surge else already_unavailable
    room = max(0, limit - len(using_budget))
    first_allowance = min(step_size, room)

    def in_scope(name: str) -> bool:
        return options.nodes is None or selector_matches(options.nodes, r.labels(by_name[name]))

    canary = options.canary
    # --canary-spread picks among the nodes --canary selects (all nodes without it), updated or not: the choice
    # must not move as nodes get updated, or a resumed rollout would pick new canaries.
    spread = (
        spread_canaries(
            {
                node.name: r.labels(by_name[node.name])
                for node in wanted
                if node.name not in options.last
                and node.name not in unreachable
                and in_scope(node.name)
                and (canary is None or selector_matches(canary, r.labels(by_name[node.name])))
            },
            options.canary_spread,
        )
        if options.canary_spread
        else None
    )

    def is_canary(name: str) -> bool:
        if name in options.last:
            return False
        if spread is not None:
            return name in spread
        return canary is not None and selector_matches(canary, r.labels(by_name[name]))

    needing = [node for node in wanted if node.needs_update and node.name not in unreachable]
    scoped = {node.name for node in needing if in_scope(node.name)}
    candidates = order(
        Candidate(
            node.name,
            canary=is_canary(node.name),
            cost=0 if node.unavailable else 1,
            last=node.name in options.last,
            wave=wave_of(r.labels(by_name[node.name]), options.wave_by),
        )
        for node in needing
        if node.name in scoped
    )
    kept = len(candidates) - min(options.partition, len(candidates))
    # Unreachable nodes stay unavailable for the whole rollout: every step, not just the first, has that much
    # less room (when they count against the budget at all).
    lasting = 0 if surge else sum(1 for name in unreachable if name in already_unavailable)
    steady = max(1, limit - lasting)
    steps = chunk(candidates[:kept], lambda k: min(size_of(k), steady), room, steady)

    warnings = [
        *_host_port_warning(daemonset, surge),
        *_budget_warning(using_budget, limit, first_allowance, surge),
        *_headroom_warning(daemonset, steps, by_name, grouped, surge, parse_quantity, other_pods_by_node),
        *_excluded_warning(names, verdicts, grouped, revisions, _ends_with_rolling_update(daemonset)),
        *_canary_warning(canary, spread, candidates),
        *_unreachable_warning(unreachable, by_name, options.skip_unreachable),
    ]
    return Plan(
        steps=tuple(steps),
        create_only=tuple(node.name for node in wanted if node.empty and node.name not in unreachable),
        already_unavailable=already_unavailable,
        partitioned=tuple(c.name for c in candidates[kept:]),
        budget=budget,
        surge=surge,
        warnings=tuple(warnings),
        desired=len(wanted),
        step_size=step_size,
        first_step_allowance=first_allowance,
        unreachable=unreachable,
        out_of_scope=tuple(node.name for node in needing if node.name not in scoped),
    )


# --- pre-flight warnings -----------------------------------------------------------------------------------


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _host_port_warning(daemonset: Obj, surge: bool) -> list[PlanWarning]:
    ports = host_ports(r.template_pod_spec(daemonset))  # includes hostNetwork containerPorts
    if not surge or not ports:
        return []
    listed = ", ".join(str(port) for port in ports)
    noun = "host port" if len(ports) == 1 else "host ports"
    return [
        PlanWarning(
            HOST_PORT_WITH_SURGE,
            f"the pod template claims {noun} {listed}: the surge pod cannot bind the same host port "
            f"next to the old one; the rollout would deadlock; use {MAX_UNAVAILABLE_FLAG} instead",
        )
    ]


def _budget_warning(using_budget: Sequence[str], limit: int, allowance: int, surge: bool) -> list[PlanWarning]:
    if not using_budget:
        return []
    if surge:
        what = (
            f"already surging: {_count(len(using_budget), 'node')} with a new pod that is not available yet, "
            f"against a budget of {_count(limit, 'surge pod')}"
        )
    else:
        what = (
            f"already unavailable: {_count(len(using_budget), 'node')}, "
            f"against a budget of {_count(limit, 'unavailable node')}"
        )
    then = (
        f"the first step takes at most {_count(allowance, 'available node')}"
        if allowance
        else "no available node is taken until they are available again"
    )
    return [PlanWarning(NOT_READY_USES_BUDGET, f"{what}; {then}", tuple(using_budget))]


def _headroom_warning(
    daemonset: Obj,
    steps: Sequence[Step],
    nodes: Mapping[str, Obj],
    grouped: Mapping[str, Sequence[Obj]],
    surge: bool,
    parse_quantity: ParseQuantity | None,
    other_pods_by_node: Mapping[str, Sequence[Obj]] | None,
) -> list[PlanWarning]:
    """With surge the new pod must fit next to the old one (and everything else on the node)."""
    if not surge or parse_quantity is None or other_pods_by_node is None:
        return []
    pod_spec = r.template_pod_spec(daemonset)
    short: dict[str, str] = {}
    for step in steps:
        for name in step.nodes:
            neighbours = [
                *other_pods_by_node.get(name, []),
                *(pod for pod in grouped.get(name, []) if not is_terminating(pod)),
            ]
            shortfalls = resource_shortfalls(pod_spec, nodes[name], neighbours, parse_quantity)
            if shortfalls:
                short[name] = "; ".join(shortfall.message for shortfall in shortfalls)
    if not short:
        return []
    first = next(iter(short))
    return [
        PlanWarning(
            NO_SURGE_HEADROOM,
            f"the surge pod does not fit next to the old one on {_count(len(short), 'node')} "
            f"({first}: {short[first]}): it would stay Pending and the step would not finish; "
            f"use {MAX_UNAVAILABLE_FLAG} instead",
            tuple(short),
        )
    ]


def _ends_with_rolling_update(daemonset: Obj) -> bool:
    """Whether the strategy the rollout restores at its end (the original, saved while parked) is RollingUpdate."""
    original = original_strategy(daemonset)
    if original is None:
        return update_strategy_type(daemonset) == ROLLING_UPDATE
    return (original.get("type") or ROLLING_UPDATE) == ROLLING_UPDATE


def _excluded_warning(
    names: Sequence[str],
    verdicts: Mapping[str, NodeVerdict],
    grouped: Mapping[str, Sequence[Obj]],
    revisions: RevisionIndex,
    ends_with_rolling_update: bool,
) -> list[PlanWarning]:
    """Nodes that should not run the new template but still hold an old pod: the plan never touches them."""
    deleted: list[str] = []
    kept: list[str] = []
    for name in names:
        verdict = verdicts[name]
        old = [pod for pod in grouped.get(name, []) if not is_terminating(pod) and not revisions.is_updated(pod)]
        if verdict.should_run or not old:
            continue
        # (False, False): manage() deletes the pod; (False, True), e.g. a NoSchedule taint: it keeps running.
        (kept if verdict.should_continue_running else deleted).append(name)
    if not deleted and not kept:
        return []
    parts = []
    if deleted:
        parts.append(f"the controller deletes it on {', '.join(deleted)}")
    if kept and ends_with_rolling_update:
        # The rolling update counts an old pod on a node that should not run it as one to replace, and manage()
        # creates none there (docs/rules.md#r-rolling-no-surge): parked, it stays; restored, it goes.
        parts.append(
            f"it keeps running while the DaemonSet is parked, then the controller deletes it once the "
            f"RollingUpdate strategy is restored and creates none there (misscheduled), on {', '.join(kept)}"
        )
    elif kept:
        parts.append(f"it keeps running there, never updated (misscheduled), on {', '.join(kept)}")
    total = len(deleted) + len(kept)
    return [
        PlanWarning(
            EXCLUDED_NODES,
            f"{_count(total, 'node')} should not run the new pod but {'has' if total == 1 else 'have'} "
            f"an old one: {'; '.join(parts)}",
            tuple(sorted([*deleted, *kept], key=natural_key)),
        )
    ]


def _canary_warning(
    canary: Mapping[str, Any] | None, spread: frozenset[str] | None, candidates: Sequence[Candidate]
) -> list[PlanWarning]:
    if (canary is None and spread is None) or any(c.canary for c in candidates):
        return []
    asked = " ".join(
        part
        for part in (
            f"{CANARY_FLAG} {selector_query(canary)}" if canary is not None else "",
            f"{CANARY_SPREAD_FLAG} (picking {', '.join(sorted(spread, key=natural_key))})"
            if spread is not None
            else "",
        )
        if part
    )
    return [
        PlanWarning(
            CANARY_MATCHES_NO_NODE, f"{asked} matches no node that needs the update; the plan has no canary step"
        )
    ]


def _unreachable_warning(unreachable: Sequence[str], nodes: Mapping[str, Obj], skipped: bool) -> list[PlanWarning]:
    if not unreachable:
        return []
    listed = ", ".join(f"{name} (since {moment(r.node_ready_since(nodes[name]))})" for name in unreachable[:5])
    more = f" and {len(unreachable) - 5} more" if len(unreachable) > 5 else ""
    budget = (
        "they use no budget (--skip-unreachable)"
        if skipped
        else "their pods are not available, so they use up budget (--skip-unreachable leaves them out of it)"
    )
    return [
        PlanWarning(
            UNREACHABLE_NODES,
            (
                f"{_count(len(unreachable), 'node')} unreachable: {listed}{more}: a pod there cannot be replaced until "
                f"its kubelet is back, so the rollout leaves {'it' if len(unreachable) == 1 else 'them'} out and the "
                f"controller updates {'it' if len(unreachable) == 1 else 'them'} on return; {budget}"
            ),
            tuple(unreachable),
        )
    ]
