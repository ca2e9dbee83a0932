"""Taints against tolerations, and the tolerations the DaemonSet controller gives every pod it makes.

Sources: k8s.io/api core/v1 toleration.go (Toleration.ToleratesTaint, MatchToleration),
k8s.io/component-helpers scheduling/corev1/helpers.go (FindMatchingUntoleratedTaint,
TolerationsTolerateTaint), pkg/apis/core/v1/helper (AddOrUpdateTolerationInPodSpec) and
pkg/controller/daemon/util/daemonset_util.go (AddOrUpdateDaemonPodTolerations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

NO_SCHEDULE, PREFER_NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "PreferNoSchedule", "NoExecute"
Toleration = Mapping[str, Any]
Taint = Mapping[str, Any]

# AddOrUpdateDaemonPodTolerations, in its order: (taint key, effect), each tolerated with operator Exists
# and no tolerationSeconds, so forever. Node problems must not evict a node's own daemons.
_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", NO_EXECUTE),
    ("node.kubernetes.io/unreachable", NO_EXECUTE),
    ("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/unschedulable", NO_SCHEDULE),
)
# Only host-network pods can start before the node's network is up.
_HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", NO_SCHEDULE)
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": NO_SCHEDULE}


def _text(obj: Mapping[str, Any], key: str) -> str:
    return str(obj.get(key) or "")


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """ToleratesTaint. An empty effect or key matches any; an empty operator is Equal. The alpha Gt/Lt
    operators (gate TaintTolerationComparisonOperators, off by default) tolerate nothing here."""
    effect, key = _text(toleration, "effect"), _text(toleration, "key")
    if (effect and effect != _text(taint, "effect")) or (key and key != _text(taint, "key")):
        return False
    operator = _text(toleration, "operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and _text(toleration, "value") == _text(taint, "value")


def first_untolerated(
    taints: Iterable[Taint], tolerations: Sequence[Toleration], considered: Callable[[Taint], bool]
) -> Taint | None:
    """FindMatchingUntoleratedTaint: the first taint `considered` keeps that no toleration tolerates."""
    for taint in taints:
        if considered(taint) and not any(tolerates(toleration, taint) for toleration in tolerations):
            return taint
    return None


def with_effects(*effects: str) -> Callable[[Taint], bool]:
    return lambda taint: _text(taint, "effect") in effects


def _identity(toleration: Toleration) -> tuple[str, str, str, str]:
    """MatchToleration compares these four fields as they are written (so "" is not "Equal")."""
    return (
        _text(toleration, "key"),
        _text(toleration, "operator"),
        _text(toleration, "value"),
        _text(toleration, "effect"),
    )


def _semantically_equal(a: Toleration, b: Toleration) -> bool:
    return _identity(a) == _identity(b) and a.get("tolerationSeconds") == b.get("tolerationSeconds")


def add_or_update(tolerations: list[dict[str, Any]], wanted: dict[str, Any]) -> list[dict[str, Any]]:
    """AddOrUpdateTolerationInPodSpec: tolerations with the same key, operator, value and effect as `wanted`
    (e.g. the same one with a tolerationSeconds) are replaced by it, unless one already equals it, which
    leaves the list alone; with none of them, `wanted` is appended."""
    result: list[dict[str, Any]] = []
    updated = False
    for existing in tolerations:
        if _identity(existing) != _identity(wanted):
            result.append(existing)
        elif _semantically_equal(existing, wanted):
            return tolerations
        else:
            result.append(dict(wanted))
            updated = True
    return result if updated else [*result, dict(wanted)]


def daemon_pod_tolerations(pod_spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pod spec's tolerations after AddOrUpdateDaemonPodTolerations."""
    result = [dict(toleration) for toleration in pod_spec.get("tolerations") or []]
    automatic = list(_DAEMON_TOLERATIONS) + ([_HOST_NETWORK_TOLERATION] if pod_spec.get("hostNetwork") else [])
    for key, effect in automatic:
        result = add_or_update(result, {"key": key, "operator": "Exists", "effect": effect})
    return result
