"""Pure. maxUnavailable / maxSurge: validate them as the API server does, and turn them into node counts.

Sources: pkg/apis/apps/validation/validation.go ValidateRollingUpdateDaemonSet (messages kept verbatim),
pkg/apis/apps/v1/defaults.go, intstr.GetScaledValueFromIntOrPercent, update.go updatedDesiredNodeCounts and
util.AllowsSurge (docs/rules.md#r-budget, docs/rules.md#r-validation).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kubectl_ds import resources as r
from kubectl_ds.errors import UsageError
from kubectl_ds.placement.predicate import node_should_run_daemon_pod, pod_tolerations
from kubectl_ds.resources import Obj
from kubectl_ds.strategy import rolling_update_values

MAX_UNAVAILABLE_FLAG = "--max-unavailable"
MAX_SURGE_FLAG = "--max-surge"

# apimachinery IsValidPercent's own wording; the example list is tidied (upstream has a double space).
INVALID_PERCENT = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%' or '93%'), or a non-negative integer"
)
NEGATIVE = "must be greater than or equal to 0"
OVER_100_PERCENT = "must not be greater than 100%"
BOTH_NON_ZERO = "may not be set when maxUnavailable is non-zero"
BOTH_ZERO = "cannot be 0 when maxSurge is 0"

_INT = re.compile(r"-?[0-9]+")
_PERCENT = re.compile(r"[0-9]+%")


@dataclass(frozen=True)
class IntOrPercent:
    """An intstr.IntOrString restricted to what the API accepts here: a count, or a percent of nodes."""

    value: int
    percent: bool

    def __str__(self) -> str:
        return f"{self.value}%" if self.percent else str(self.value)

    @property
    def is_zero(self) -> bool:
        # getIntOrPercentValue: "0%" is as zero as 0.
        return self.value == 0


@dataclass(frozen=True)
class Budget:
    """updatedDesiredNodeCounts: how many nodes may surge / be unavailable, out of `desired` nodes.

    `empty_nodes` are the wanted nodes without any pod; the controller adds an empty entry for each so that
    its rolling-update pass counts them as unavailable.
    """

    max_surge: int
    max_unavailable: int
    desired: int
    empty_nodes: tuple[str, ...] = ()


def _invalid(field: str, value: object, problem: str, hint: str = "") -> UsageError:
    suffix = f" ({hint})" if hint else ""
    return UsageError(f'invalid {field} "{value}": {problem}{suffix}')


def parse_int_or_percent(value: int | str, *, field: str) -> IntOrPercent:
    """Parse a flag (or spec) value: a non-negative integer or `[0-9]+%`. `field` names it in errors.

    Flags arrive as strings, so "2" is the integer 2 here (the API would keep it a string and reject it).
    """
    if isinstance(value, bool):  # bool is an int to Python, never to the API
        raise _invalid(field, value, INVALID_PERCENT)
    if isinstance(value, int):
        if value < 0:
            raise _invalid(field, value, NEGATIVE)
        return IntOrPercent(value, percent=False)
    text = value.strip()
    if _INT.fullmatch(text):
        return parse_int_or_percent(int(text), field=field)
    if _PERCENT.fullmatch(text):
        return IntOrPercent(int(text[:-1]), percent=True)
    raise _invalid(field, value, INVALID_PERCENT)


def check_not_over_100_percent(parsed: IntOrPercent, *, field: str) -> None:
    """IsNotMoreThan100Percent: only percents are capped; a plain count may exceed the node count."""
    if parsed.percent and parsed.value > 100:
        raise _invalid(field, parsed, OVER_100_PERCENT)


def validate_rolling_update(max_unavailable: int | str, max_surge: int | str) -> None:
    """ValidateRollingUpdateDaemonSet, in the API server's order, raising on the first problem."""
    unavailable = parse_int_or_percent(max_unavailable, field=MAX_UNAVAILABLE_FLAG)
    surge = parse_int_or_percent(max_surge, field=MAX_SURGE_FLAG)
    check_not_over_100_percent(unavailable, field=MAX_UNAVAILABLE_FLAG)
    check_not_over_100_percent(surge, field=MAX_SURGE_FLAG)
    if not unavailable.is_zero and not surge.is_zero:
        raise _invalid(
            MAX_SURGE_FLAG,
            surge,
            BOTH_NON_ZERO,
            "the API allows only one of them to be non-zero; use "
            f"{MAX_UNAVAILABLE_FLAG} {unavailable} or {MAX_SURGE_FLAG} {surge} {MAX_UNAVAILABLE_FLAG} 0",
        )
    if unavailable.is_zero and surge.is_zero:
        raise _invalid(
            MAX_UNAVAILABLE_FLAG,
            unavailable,
            BOTH_ZERO,
            f"one of them must be non-zero; use {MAX_UNAVAILABLE_FLAG} 1 "
            f"or {MAX_SURGE_FLAG} 1 {MAX_UNAVAILABLE_FLAG} 0",
        )


def scaled(value: IntOrPercent | int | str, total: int) -> int:
    """GetScaledValueFromIntOrPercent(value, total, roundUp=true): a DaemonSet rounds percents UP.

    So 10% of 3 nodes is 1 and 1% of one node is 1 (Deployments round maxUnavailable down; DaemonSets do not).
    """
    parsed = value if isinstance(value, IntOrPercent) else parse_int_or_percent(value, field="value")
    if not parsed.percent:
        return parsed.value
    return math.ceil(parsed.value * total / 100)


def compute_budget(
    max_unavailable: int | str, max_surge: int | str, desired: int, empty_nodes: Sequence[str] = ()
) -> Budget:
    """Scale both values against `desired` nodes, with the controller's fallback to one unavailable node."""
    unavailable = scaled(parse_int_or_percent(max_unavailable, field="maxUnavailable"), desired)
    surge = scaled(parse_int_or_percent(max_surge, field="maxSurge"), desired)
    if desired > 0 and unavailable == 0 and surge == 0:
        # The controller logs "not configured for surge or unavailability" and accepts one unavailable node
        # rather than never progressing (e.g. maxUnavailable 0 with maxSurge unset, or a percent of nothing).
        unavailable = 1
    return Budget(max_surge=surge, max_unavailable=unavailable, desired=desired, empty_nodes=tuple(empty_nodes))


def wanted_nodes(daemonset: Obj, nodes: Iterable[Obj]) -> list[str]:
    """Names of the nodes the controller's predicate says should run the pod (desiredNumberScheduled)."""
    tolerations = pod_tolerations(daemonset)
    return [
        r.name(node)
        for node in nodes
        if node_should_run_daemon_pod(daemonset, node, tolerations=tolerations).should_run
    ]


def updated_desired_node_counts(
    daemonset: Obj, nodes: Iterable[Obj], pods_by_node: Mapping[str, Sequence[Obj]]
) -> Budget:
    """updatedDesiredNodeCounts for the DaemonSet's own strategy (defaults: maxUnavailable 1, maxSurge 0)."""
    wanted = wanted_nodes(daemonset, nodes)
    empty = [name for name in wanted if not pods_by_node.get(name)]
    max_unavailable, max_surge = rolling_update_values(daemonset)
    return compute_budget(max_unavailable, max_surge, len(wanted), empty)
