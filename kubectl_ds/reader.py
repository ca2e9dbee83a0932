"""Pure. What `explain` and `audit` read, as a protocol: the live cluster (kube.Cluster) and a dump
(dump.DumpReader) both provide it, so the command never knows which one it talks to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ClusterReader(Protocol):
    def get_daemonset(self, *, namespace: str, name: str) -> dict[str, Any]: ...

    def list_nodes(self) -> list[dict[str, Any]]: ...

    def list_daemonset_pods(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]: ...

    def list_active_pods(self) -> list[dict[str, Any]]: ...

    def list_controller_revisions(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]: ...

    def list_scheduling_events(self, *, namespace: str) -> list[dict[str, Any]]: ...


class FleetReader(ClusterReader, Protocol):
    """What `audit` and `explain` without NAME read besides: one list each for the whole scope (namespace None:
    every namespace), never one per object."""

    def list_daemonsets(
        self, *, namespace: str | None, selector: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def list_pods(self, *, namespace: str | None) -> list[dict[str, Any]]: ...

    def list_revisions(self, *, namespace: str | None) -> list[dict[str, Any]]: ...

    def list_events(self, *, namespace: str | None) -> list[dict[str, Any]]:
        """FailedScheduling events of pods."""
        ...

    def list_budgets(self, *, namespace: str | None) -> list[dict[str, Any]]:
        """PodDisruptionBudgets (policy/v1)."""
        ...


class NodeReader(Protocol):
    """What `kubectl ds node` reads: never the whole pod list, nothing per node of the cluster. `namespace`
    None means every namespace (-A)."""

    def get_node(self, *, name: str) -> dict[str, Any]: ...

    def list_daemonsets(
        self, *, namespace: str | None, selector: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def pods_on_node_versioned(self, *, node: str) -> tuple[list[dict[str, Any]], str]:
        """The pods bound to `node`, and the resourceVersion a watch of them can start from ("" offline)."""
        ...

    def list_unscheduled_pods(self, *, namespace: str | None) -> list[dict[str, Any]]: ...

    def list_revisions(self, *, namespace: str | None) -> list[dict[str, Any]]: ...

    def list_scheduling_events(self, *, namespace: str) -> list[dict[str, Any]]: ...
