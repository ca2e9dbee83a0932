"""Pod readiness and availability, and the node a DaemonSet pod belongs to.

Sources: pkg/api/v1/pod/util.go (IsPodReady, GetPodReadyCondition, IsPodAvailable) and
pkg/controller/daemon/util/daemonset_util.go (GetTargetNodeName).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.sim import objects as o
from tests.sim.objects import View


def is_ready(pod: View) -> bool:
    """IsPodReady: the Ready condition is True."""
    return o.condition_is_true(pod, "Ready")


def ready_since(pod: View) -> datetime | None:
    """lastTransitionTime of the Ready condition."""
    ready = o.condition(pod, "Ready")
    return None if ready is None else o.parse_timestamp(ready.get("lastTransitionTime"))


def available_from(pod: View, min_ready_seconds: int) -> datetime | None:
    """When IsPodAvailable turns true for a Ready pod: `LTT + minReadySeconds <= now` is the current rule
    (older releases used a strict `<`). None if it is not Ready or its transition time is unknown."""
    if not is_ready(pod):
        return None
    since = ready_since(pod)
    return None if since is None else since + timedelta(seconds=min_ready_seconds)


def is_available(pod: View, min_ready_seconds: int, now: datetime) -> bool:
    """IsPodAvailable: Ready, and with minReadySeconds for at least that long."""
    if min_ready_seconds <= 0:
        return is_ready(pod)
    moment = available_from(pod, min_ready_seconds)
    return moment is not None and moment <= now


def target_node_name(pod: View) -> str | None:
    """GetTargetNodeName: spec.nodeName, else the value of the first `metadata.name In [...]` matchField of
    the required affinity, which must be the only value; None where Go returns an error."""
    spec = o.spec_of(pod)
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        pin = next(
            (f for f in term.get("matchFields") or [] if f.get("key") == "metadata.name" and f.get("operator") == "In"),
            None,
        )
        if pin is not None:
            values = pin.get("values") or []
            return str(values[0]) if len(values) == 1 else None
    return None
