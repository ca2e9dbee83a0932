"""Pure. Taints against tolerations, with the tolerations the DaemonSet controller adds by itself.

Sources: k8s.io/api core/v1 toleration.go (ToleratesTaint), component-helpers
FindMatchingUntoleratedTaint, and pkg/controller/daemon/util AddOrUpdateDaemonPodTolerations
(docs/rules.md#r-auto-tolerations, docs/rules.md#r-tolerates).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kubectl_ds.resources import Obj

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
# The controller checks only these two effects; PreferNoSchedule never blocks a DaemonSet pod.
BLOCKING_EFFECTS = frozenset({NO_SCHEDULE, NO_EXECUTE})


def _auto(key: str, effect: str) -> dict[str, str]:
    return {"key": key, "operator": "Exists", "effect": effect}


# Added to every DaemonSet pod (and to the pod the controller simulates), never written to the DaemonSet.
# None carries tolerationSeconds, so they tolerate forever.
DAEMONSET_TOLERATIONS: tuple[dict[str, str], ...] = (
    _auto("node.kubernetes.io/not-ready", NO_EXECUTE),
    _auto("node.kubernetes.io/unreachable", NO_EXECUTE),
    _auto("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
    _auto("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
    _auto("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
    _auto("node.kubernetes.io/unschedulable", NO_SCHEDULE),
)
# Only pods with hostNetwork can run before the node's network is configured.
HOST_NETWORK_TOLERATION = _auto("node.kubernetes.io/network-unavailable", NO_SCHEDULE)


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    @classmethod
    def from_api(cls, taint: Obj) -> Taint:
        return cls(
            key=str(taint.get("key") or ""), value=str(taint.get("value") or ""), effect=str(taint.get("effect") or "")
        )

    def __str__(self) -> str:
        """Taint.ToString: key=value:Effect, key:Effect, key=value: or key."""
        if self.value:
            return f"{self.key}={self.value}:{self.effect}"
        return f"{self.key}:{self.effect}" if self.effect else self.key


def daemonset_pod_tolerations(tolerations: Sequence[Obj], *, host_network: bool) -> list[Obj]:
    """The template's tolerations merged with the automatic ones, the way the controller merges them.

    AddOrUpdateTolerationInPodSpec: a user toleration with the same key, operator, value and effect is
    replaced by the automatic one (so a user's tolerationSeconds on not-ready:NoExecute is dropped);
    anything else is kept and the automatic toleration is appended.
    """
    merged: list[Obj] = list(tolerations)
    automatic = list(DAEMONSET_TOLERATIONS) + ([HOST_NETWORK_TOLERATION] if host_network else [])
    for auto in automatic:
        merged = _add_or_update(merged, auto)
    return merged


def _same_identity(a: Obj, b: Obj) -> bool:
    return all((a.get(field) or "") == (b.get(field) or "") for field in ("key", "operator", "value", "effect"))


def _add_or_update(tolerations: list[Obj], toleration: Obj) -> list[Obj]:
    result: list[Obj] = []
    replaced = False
    for existing in tolerations:
        if _same_identity(existing, toleration):
            result.append(toleration)
            replaced = True
        else:
            result.append(existing)
    if not replaced:
        result.append(toleration)
    return result


def tolerates(toleration: Obj, taint: Taint) -> bool:
    """ToleratesTaint. The alpha Gt/Lt operators (gate TaintTolerationComparisonOperators, off by
    default) are treated as the gate being off: they tolerate nothing."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.effect:
        return False
    key = toleration.get("key") or ""
    if key and key != taint.key:
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Equal":
        return (toleration.get("value") or "") == taint.value
    return operator == "Exists"


def untolerated_taints(taints: Iterable[Obj], tolerations: Sequence[Obj], effects: Iterable[str]) -> list[Taint]:
    """Every taint with one of `effects` that no toleration tolerates, in the node's order."""
    wanted_effects = frozenset(effects)
    result = []
    for raw in taints:
        taint = Taint.from_api(raw)
        if taint.effect in wanted_effects and not any(tolerates(tol, taint) for tol in tolerations):
            result.append(taint)
    return result


def toleration_for(taint: Taint) -> str:
    """A toleration that admits `taint`, written as YAML flow for a fix hint."""
    if taint.value:
        return f"{{key: {taint.key}, operator: Equal, value: {taint.value}, effect: {taint.effect}}}"
    return f"{{key: {taint.key}, operator: Exists, effect: {taint.effect}}}"
