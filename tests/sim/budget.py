"""maxUnavailable and maxSurge, turned into node counts the way the DaemonSet controller does it.

Sources: k8s.io/apimachinery pkg/util/intstr/intstr.go (GetScaledValueFromIntOrPercent), pkg/apis/apps/v1/
defaults.go (SetDefaults_DaemonSet), pkg/controller/daemon/util/daemonset_util.go (SurgeCount,
UnavailableCount, AllowsSurge) and pkg/controller/daemon/update.go (updatedDesiredNodeCounts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.sim import objects as o
from tests.sim.objects import View

ROLLING_UPDATE, ON_DELETE = "RollingUpdate", "OnDelete"
_ATOI = re.compile(r"[+-]?[0-9]+")


class InvalidIntOrPercent(ValueError):
    """A value GetScaledValueFromIntOrPercent rejects; the controller's sync fails on it."""


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """GetScaledValueFromIntOrPercent: an int is itself, "N%" is N% of `total`. A string without "%" is an
    error, even one made of digits (the API never stores such a value: validation rejects it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise InvalidIntOrPercent(f"invalid type: neither int nor percentage: {value!r}")
    if not value.endswith("%"):
        raise InvalidIntOrPercent(f"invalid type: string is not a percentage: {value!r}")
    if not _ATOI.fullmatch(value[:-1]):
        raise InvalidIntOrPercent(f"invalid value {value!r}")
    numerator = int(value[:-1]) * total
    return -(-numerator // 100) if round_up else numerator // 100


@dataclass(frozen=True)
class Strategy:
    """spec.updateStrategy as the API server stores it: SetDefaults_DaemonSet fills a missing type with
    RollingUpdate and, for RollingUpdate, missing values with maxUnavailable 1 and maxSurge 0."""

    type: str
    max_unavailable: Any = None
    max_surge: Any = None


def strategy_of(daemonset: View) -> Strategy:
    written = o.spec_of(daemonset).get("updateStrategy") or {}
    kind = str(written.get("type") or ROLLING_UPDATE)
    if kind != ROLLING_UPDATE:
        return Strategy(kind)
    values = written.get("rollingUpdate") or {}
    unavailable, surge = values.get("maxUnavailable"), values.get("maxSurge")
    return Strategy(kind, 1 if unavailable is None else unavailable, 0 if surge is None else surge)


def surge_count(daemonset: View, nodes: int) -> int:
    """SurgeCount: how many extra pods `nodes` may have (0 unless RollingUpdate), percents rounded up."""
    strategy = strategy_of(daemonset)
    if strategy.type != ROLLING_UPDATE or strategy.max_surge is None:
        return 0
    return scaled_value(strategy.max_surge, nodes, round_up=True)


def unavailable_count(daemonset: View, nodes: int) -> int:
    """UnavailableCount: how many of `nodes` may be without an available pod, percents rounded UP (unlike
    a Deployment's maxUnavailable)."""
    strategy = strategy_of(daemonset)
    if strategy.type != ROLLING_UPDATE:
        return 0
    return scaled_value(strategy.max_unavailable, nodes, round_up=True)


def allows_surge(daemonset: View) -> bool:
    """AllowsSurge: a surge against a single node is positive, so even "1%" allows two pods on a node."""
    try:
        return surge_count(daemonset, 1) > 0
    except InvalidIntOrPercent:
        return False


@dataclass(frozen=True)
class Budget:
    max_surge: int
    max_unavailable: int
    desired: int


def rolling_update_budget(daemonset: View, desired: int) -> Budget:
    """updatedDesiredNodeCounts, given the number of nodes that should run the pod. A DaemonSet allowing
    neither surge nor unavailability (possible through percents of few nodes) gets maxUnavailable 1, so that
    its rollout still moves. Raises InvalidIntOrPercent as the controller fails the sync."""
    try:
        unavailable = unavailable_count(daemonset, desired)
    except InvalidIntOrPercent as error:
        raise InvalidIntOrPercent(f"invalid value for MaxUnavailable: {error}") from error
    try:
        surge = surge_count(daemonset, desired)
    except InvalidIntOrPercent as error:
        raise InvalidIntOrPercent(f"invalid value for MaxSurge: {error}") from error
    if desired > 0 and unavailable == 0 and surge == 0:
        unavailable = 1
    return Budget(max_surge=surge, max_unavailable=unavailable, desired=desired)
