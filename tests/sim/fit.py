"""The default scheduler's Filter plugins, as far as they can stop a DaemonSet pod on its target node, and
the FailedScheduling message they add up to.

Sources (pkg/scheduler/ in kubernetes/kubernetes): apis/config/v1/default_plugins.go (the Filter order:
NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit; the first plugin
that fails decides), framework/plugins/nodeunschedulable, tainttoleration, nodeaffinity and nodeports
(Filter), framework/plugins/noderesources/fit.go (fitsRequest), framework/types.go (Resource.Add,
HostPortInfo, FitError.Error), util/utils.go (GetHostPorts), and k8s.io/component-helpers resource/
helpers.go (PodRequests). Volume, topology and inter-pod affinity plugins are not simulated.

Deviation: a node without any status.allocatable has room for anything (a hand-written fixture; a real
node always reports its allocatable).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from tests.sim import labels as lbl
from tests.sim import nodeaffinity, quantity, taints
from tests.sim import objects as o
from tests.sim.objects import View

# What the NodeAffinity PreFilter says of every node but the one a DaemonSet pod is pinned to.
PINNED_ELSEWHERE = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
_ANY_IP = "0.0.0.0"
_COUNTED_AS_IS = ("memory", "ephemeral-storage", "pods")


# --- NodeResourcesFit ---------------------------------------------------------------------------------------


def _is_scalar(resource: str) -> bool:
    """schedutil.IsScalarResourceName: extended (domain-qualified), hugepages-*, attachable-volumes-* or a
    kubernetes.io/ resource. Anything else that is not cpu, memory, ephemeral-storage or pods is ignored."""
    if resource.startswith(("hugepages-", "attachable-volumes-")) or "kubernetes.io/" in resource:
        return True
    return (
        "/" in resource
        and not resource.startswith("requests.")
        and lbl.qualified_name_problem("requests." + resource) is None
    )


def _add(total: dict[str, Fraction], more: Mapping[str, Any]) -> None:
    for resource, amount in more.items():
        total[str(resource)] = total.get(str(resource), Fraction(0)) + quantity.parse_quantity(amount)


def pod_requests(pod_spec: View) -> dict[str, Fraction]:
    """PodRequests: the containers and sidecars (restartable init containers) add up; a run-once init
    container runs alone next to the sidecars started before it, so only the peak counts; overhead on top."""
    total: dict[str, Fraction] = {}
    for container in pod_spec.get("containers") or []:
        _add(total, (container.get("resources") or {}).get("requests") or {})
    sidecars: dict[str, Fraction] = {}
    init_peak: dict[str, Fraction] = {}
    for container in pod_spec.get("initContainers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        if container.get("restartPolicy") == "Always":
            _add(total, requests)
            _add(sidecars, requests)
            running = dict(sidecars)
        else:
            running = dict(sidecars)
            _add(running, requests)
        for resource, amount in running.items():
            init_peak[resource] = max(init_peak.get(resource, Fraction(0)), amount)
    for resource, amount in init_peak.items():
        total[resource] = max(total.get(resource, Fraction(0)), amount)
    _add(total, pod_spec.get("overhead") or {})
    return total


def scheduler_units(amounts: Mapping[str, Fraction]) -> dict[str, int]:
    """Resource.Add: cpu in millicores, the rest in whole units, each rounded up; unknown names dropped."""
    units: dict[str, int] = {}
    for resource, amount in amounts.items():
        if resource == "cpu":
            units[resource] = quantity.milli_units(amount)
        elif resource in _COUNTED_AS_IS or _is_scalar(resource):
            units[resource] = quantity.whole_units(amount)
    return units


def _insufficient(pod_spec: View, node: View, others: Sequence[View]) -> list[str]:
    """fitsRequest: the pod count first (checked even for a pod that requests nothing), then every resource
    the pod requests more of than allocatable minus what the pods already bound there request."""
    allocatable = scheduler_units(
        {str(k): quantity.parse_quantity(v) for k, v in (o.status_of(node).get("allocatable") or {}).items()}
    )
    reasons = ["Too many pods"] if len(others) + 1 > allocatable.get("pods", 0) else []
    wanted = scheduler_units(pod_requests(pod_spec))
    wanted.pop("pods", None)
    used: dict[str, int] = {}
    for other in others:
        for resource, amount in scheduler_units(pod_requests(o.spec_of(other))).items():
            used[resource] = used.get(resource, 0) + amount
    native: list[str] = [r for r in ("cpu", "memory", "ephemeral-storage") if r in wanted]
    ordered = native + sorted(r for r in wanted if r not in native)  # Go walks scalar resources in map order
    for resource in ordered:
        if wanted[resource] > 0 and wanted[resource] > allocatable.get(resource, 0) - used.get(resource, 0):
            reasons.append(f"Insufficient {resource}")
    return reasons


# --- NodePorts ----------------------------------------------------------------------------------------------


def host_ports(pod_spec: View) -> list[tuple[str, str, int]]:
    """GetHostPorts as (hostIP, protocol, hostPort), normalised like HostPortInfo: no IP is 0.0.0.0, no
    protocol TCP. Sidecars hold their ports; run-once init containers have exited. A hostNetwork pod's
    containerPorts are host ports (API defaulting copies containerPort into a zero hostPort)."""
    containers = [c for c in pod_spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    containers += list(pod_spec.get("containers") or [])
    claimed = []
    for container in containers:
        for port in container.get("ports") or []:
            number = int(port.get("hostPort") or 0)
            if number == 0 and pod_spec.get("hostNetwork"):
                number = int(port.get("containerPort") or 0)
            if number > 0:
                claimed.append((str(port.get("hostIP") or _ANY_IP), str(port.get("protocol") or "TCP"), number))
    return claimed


def _port_taken(wanted: tuple[str, str, int], held: Iterable[tuple[str, str, int]]) -> bool:
    """HostPortInfo.CheckConflict: 0.0.0.0 clashes with every IP on the same port and protocol."""
    ip, protocol, port = wanted
    return any((i, p, n) == wanted or ((p, n) == (protocol, port) and _ANY_IP in (ip, i)) for i, p, n in held)


# --- the Filter chain ---------------------------------------------------------------------------------------


def filter_failures(pod: View, node: View, pods_on_node: Sequence[View]) -> list[str]:
    """The reasons of the first Filter plugin that rejects the target node; empty when the pod fits."""
    spec = o.spec_of(pod)
    tolerations = list(spec.get("tolerations") or [])
    # NodeUnschedulable: tolerating the unschedulable taint also waives spec.unschedulable.
    if o.spec_of(node).get("unschedulable") and not any(
        taints.tolerates(toleration, taints.UNSCHEDULABLE_TAINT) for toleration in tolerations
    ):
        return ["node(s) were unschedulable"]
    taint = taints.first_untolerated(
        o.spec_of(node).get("taints") or [], tolerations, taints.with_effects(taints.NO_SCHEDULE, taints.NO_EXECUTE)
    )
    if taint is not None:
        return [f"node(s) had untolerated taint {{{taint.get('key') or ''}: {taint.get('value') or ''}}}"]
    if not nodeaffinity.pod_matches_node(spec, node):
        return ["node(s) didn't match Pod's node affinity/selector"]
    held = [port for other in pods_on_node for port in host_ports(o.spec_of(other))]
    if any(_port_taken(wanted, held) for wanted in host_ports(spec)):
        return ["node(s) didn't have free ports for the requested pod ports"]
    if "allocatable" not in o.status_of(node):
        return []
    return _insufficient(spec, node, pods_on_node)


def fit_error_message(total_nodes: int, target_reasons: Sequence[str]) -> str:
    """FitError.Error for a pod pinned to one node: `0/N nodes are available: ` and each reason with the
    number of nodes giving it, sorted as strings, then `.`. The other nodes fail the NodeAffinity PreFilter."""
    counts = dict.fromkeys(target_reasons, 1)
    if total_nodes > 1:
        counts[PINNED_ELSEWHERE] = counts.get(PINNED_ELSEWHERE, 0) + total_nodes - 1
    return (
        f"0/{total_nodes} nodes are available: "
        + ", ".join(sorted(f"{count} {reason}" for reason, count in counts.items()))
        + "."
    )
