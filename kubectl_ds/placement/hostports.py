"""Pure. The scheduler's NodePorts check, which the DaemonSet controller skips.

Rules (kube-scheduler framework/types.go HostPortInfo, docs/rules.md#r-host-ports): an empty hostIP is 0.0.0.0 and an
empty protocol TCP; ports <= 0 are ignored; 0.0.0.0:P/proto conflicts with any IP holding P/proto,
and IP:P/proto with the same IP or 0.0.0.0. With hostNetwork every containerPort is a host port.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubectl_ds import resources as r
from kubectl_ds.resources import Obj

_ANY_IP = "0.0.0.0"


@dataclass(frozen=True)
class HostPort:
    ip: str
    protocol: str
    port: int

    def __str__(self) -> str:
        prefix = "" if self.ip == _ANY_IP else f"{self.ip}:"
        return f"{prefix}{self.port}/{self.protocol}"

    def conflicts_with(self, other: HostPort) -> bool:
        if self.port != other.port or self.protocol != other.protocol:
            return False
        return self.ip == _ANY_IP or other.ip == _ANY_IP or self.ip == other.ip


@dataclass(frozen=True)
class PortConflict:
    wanted: HostPort
    holder: str  # namespace/name of the pod that holds the port

    @property
    def message(self) -> str:
        return f"hostPort {self.wanted} held by {self.holder}"


def host_ports(pod_spec: Obj) -> list[HostPort]:
    """The host ports a pod claims, normalised as the scheduler normalises them."""
    host_network = bool(pod_spec.get("hostNetwork"))
    ports = []
    # Run-once init containers have exited before the pod runs; only sidecars (restartPolicy Always)
    # hold their ports (scheduler util GetHostPorts).
    sidecars = [c for c in pod_spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    containers = sidecars + list(pod_spec.get("containers") or [])
    for container in containers:
        for port in container.get("ports") or []:
            number = int(port.get("hostPort") or 0)
            if number <= 0 and host_network:
                # API defaulting copies containerPort into hostPort for hostNetwork pods.
                number = int(port.get("containerPort") or 0)
            if number > 0:
                ports.append(
                    HostPort(
                        ip=str(port.get("hostIP") or _ANY_IP), protocol=str(port.get("protocol") or "TCP"), port=number
                    )
                )
    return ports


def port_conflicts(pod_spec: Obj, other_pods: Iterable[Obj]) -> list[PortConflict]:
    """Each wanted host port that a pod already on the node holds, naming that pod."""
    held = [(port, r.qualified_name(pod)) for pod in other_pods for port in host_ports(r.spec(pod))]
    conflicts = []
    for wanted in host_ports(pod_spec):
        for port, holder in held:
            if wanted.conflicts_with(port):
                conflicts.append(PortConflict(wanted=wanted, holder=holder))
                break
    return conflicts
