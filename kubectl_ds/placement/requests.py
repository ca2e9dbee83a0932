"""Pure. The scheduler's NodeResourcesFit check, which the DaemonSet controller skips.

Rules (noderesources/fit.go fitsRequest, docs/rules.md#r-resources): `len(pods)+1 > allocatable.pods` is
"Too many pods"; for cpu, memory, ephemeral-storage and extended resources the pod's request must fit
in allocatable minus the requests of the pods already bound to the node. A pod's request is
max(sum of containers + sidecars, each init container + the sidecars started before it) + overhead.

Quantities are parsed by a function passed in (the client's parse_quantity), so this module stays
free of the kubernetes package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.reasons import Reason
from kubectl_ds.resources import Obj

ParseQuantity = Callable[[Any], Decimal]
Requests = dict[str, Decimal]


@dataclass(frozen=True)
class Shortfall:
    """A resource the node cannot give the pod."""

    resource: str
    requested: Decimal
    free: Decimal
    allocatable: Decimal

    @property
    def message(self) -> str:
        if self.resource == "pods":
            count = int(self.allocatable - self.free)
            return (
                f"too many pods: {count} {'pod' if count == 1 else 'pods'} already on the node, "
                f"allocatable pods {int(self.allocatable)}"
            )
        return (
            f"insufficient {self.resource}: requests {format_quantity(self.resource, self.requested)}, "
            f"free {format_quantity(self.resource, max(self.free, Decimal(0)))} "
            f"of {format_quantity(self.resource, self.allocatable)} allocatable"
        )


def _container_requests(container: Obj, parse: ParseQuantity) -> Requests:
    requests = (container.get("resources") or {}).get("requests") or {}
    return {str(name): parse(value) for name, value in requests.items()}


def _add(total: Requests, more: Mapping[str, Decimal]) -> Requests:
    result = dict(total)
    for name, value in more.items():
        result[name] = result.get(name, Decimal(0)) + value
    return result


def _max(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> Requests:
    return {name: max(a.get(name, Decimal(0)), b.get(name, Decimal(0))) for name in set(a) | set(b)}


def pod_requests(pod_spec: Obj, parse: ParseQuantity) -> Requests:
    """What the scheduler charges for a pod (resource helpers PodRequests, sidecar-aware)."""
    total: Requests = {}
    for container in pod_spec.get("containers") or []:
        total = _add(total, _container_requests(container, parse))
    sidecars: Requests = {}
    init_peak: Requests = {}
    for container in pod_spec.get("initContainers") or []:
        requests = _container_requests(container, parse)
        if container.get("restartPolicy") == "Always":
            # A sidecar keeps running next to everything started after it.
            sidecars = _add(sidecars, requests)
            init_peak = _max(init_peak, sidecars)
        else:
            init_peak = _max(init_peak, _add(requests, sidecars))
    total = _max(_add(total, sidecars), init_peak)
    overhead = {str(k): parse(v) for k, v in (pod_spec.get("overhead") or {}).items()}
    return _add(total, overhead)


def reports_no_allocatable(node: Obj) -> bool:
    """The kubelet has not posted status.allocatable (a node object created before its kubelet registered, or
    one whose kubelet never came up). The scheduler then sees 0 allowed pods and says "Too many pods"; the
    cause is the missing status, not the pods on the node (docs/rules.md#r-no-allocatable)."""
    allocatable = r.status(node).get("allocatable")
    return not allocatable


NO_ALLOCATABLE = Reason(
    code=codes.NODE_NO_ALLOCATABLE,
    rule="no allocatable resources",
    message="node reports no allocatable resources (status.allocatable not posted): the scheduler places no pod "
    "here until its kubelet registers and posts them",
    hint="check the kubelet on {node}: kubectl describe node {node}",
)


def resource_shortfalls(pod_spec: Obj, node: Obj, other_pods: Iterable[Obj], parse: ParseQuantity) -> list[Shortfall]:
    """Every resource for which the DaemonSet pod would not fit next to `other_pods` on `node`."""
    allocatable = {str(k): parse(v) for k, v in (r.status(node).get("allocatable") or {}).items()}
    others = list(other_pods)
    used: Requests = {}
    for pod in others:
        used = _add(used, pod_requests(r.spec(pod), parse))
    shortfalls = []
    # The scheduler checks the pod count even for a pod that requests nothing; no figure means 0.
    allowed_pods = allocatable.get("pods", Decimal(0))
    if len(others) + 1 > allowed_pods:
        shortfalls.append(Shortfall("pods", Decimal(1), allowed_pods - len(others), allowed_pods))
    for resource, requested in sorted(pod_requests(pod_spec, parse).items()):
        if requested <= 0 or resource == "pods":
            continue
        available = allocatable.get(resource, Decimal(0))
        free = available - used.get(resource, Decimal(0))
        if requested > free:
            shortfalls.append(Shortfall(resource, requested, free, available))
    return shortfalls


_BINARY_UNITS = (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


def format_quantity(resource: str, value: Decimal) -> str:
    """A short human quantity: cpu as cores or millicores, bytes in binary units."""
    if resource == "cpu":
        millis = value * 1000
        if millis == millis.to_integral_value() and millis % 1000 == 0:
            return str(int(value))
        return f"{int(millis.to_integral_value())}m"
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        for unit, size in _BINARY_UNITS:
            if value >= size:
                scaled = value / size
                text = f"{scaled:.1f}".rstrip("0").rstrip(".")
                return f"{text}{unit}"
        return str(int(value))
    return str(value.normalize()) if value != value.to_integral_value() else str(int(value))
