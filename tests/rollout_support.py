"""Shared set-up for rollout tests: a simulated cluster (test API server + DaemonSet controller, scheduler
and kubelet simulation) and the safety invariants, checked on every stored change."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.apiserver import ApiServer
from tests.simulator import ClusterSimulator

Obj = dict[str, Any]
NAMESPACE = "default"
NAME = "agent"
LABELS = {"app": "agent"}


def make_cluster_objects(
    nodes: int,
    *,
    strategy: Obj | None = None,
    image: str = "agent:v1",
    min_ready_seconds: int = 0,
    host_port: int | None = None,
    tolerations: list[Obj] | None = None,
    pod_spec: Obj | None = None,
) -> list[Obj]:
    """A DaemonSet agent/default and `nodes` Ready nodes; `tolerations` [{"operator": "Exists"}] makes it an agent
    that tolerates every taint, as kube-proxy and most CNIs do (so it still wants unreachable nodes); `pod_spec`
    is merged into its template's spec (terminationGracePeriodSeconds, priorityClassName, ...)."""
    container: Obj = {"name": "agent", "image": image}
    if host_port:
        container["ports"] = [{"containerPort": host_port, "hostPort": host_port, "protocol": "TCP"}]
    objects: list[Obj] = [
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "spec": {
                "selector": {"matchLabels": LABELS},
                "minReadySeconds": min_ready_seconds,
                "updateStrategy": strategy
                or {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "template": {
                    "metadata": {"labels": LABELS},
                    "spec": {
                        "containers": [container],
                        **({"tolerations": tolerations} if tolerations else {}),
                        **(pod_spec or {}),
                    },
                },
            },
        }
    ]
    for i in range(nodes):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"node-{i}", "labels": {"kubernetes.io/hostname": f"node-{i}"}},
                "status": {
                    "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
    return objects


@dataclass
class Invariants:
    """Checked after every change the server stores (listeners run in change order)."""

    server: ApiServer
    max_unavailable: int = 1
    max_surge: int = 0
    violations: list[str] = field(default_factory=list)
    armed: bool = False
    baseline_unavailable: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    parked_deletions: list[str] = field(default_factory=list)

    def __call__(self, event_type: str, obj: Obj) -> None:
        if not self.armed or obj.get("kind") not in ("Pod", "DaemonSet"):
            return
        with self.lock:
            if obj.get("kind") == "Pod" and event_type == "DELETED":
                self._note_parked_deletion(obj)
            self._check()

    def _note_parked_deletion(self, pod: Obj) -> None:
        """A Ready pod of an old revision deleted while the DaemonSet is parked: only the plugin may do that."""
        daemonset = self.server.get("DaemonSet", NAMESPACE, NAME) or {}
        if (daemonset.get("spec") or {}).get("updateStrategy", {}).get("type") != "OnDelete" or not _ready(pod):
            return
        state = json.loads(
            ((daemonset.get("metadata") or {}).get("annotations") or {}).get("kubectl-ds.io/rollout", "{}")
        )
        goal = state.get("start_hash") if state.get("direction") == "rollback" else state.get("target_hash")
        if pod["metadata"].get("labels", {}).get("controller-revision-hash") != goal:
            self.parked_deletions.append(pod["metadata"]["name"])

    def moved_while_parked(self) -> list[str]:
        """Ready old pods that went away while parked without the plugin evicting or deleting them."""
        asked = {
            request.path.split("/")[6]
            for request in self.server.requests
            if "/pods/" in request.path
            and (request.method == "DELETE" or request.path.endswith("/eviction"))
            and request.status < 400
        }
        return [name for name in self.parked_deletions if name not in asked]

    def _check(self) -> None:
        nodes = {n["metadata"]["name"]: n for n in self.server.objects("Node")}
        ready_nodes = {name for name, node in nodes.items() if _node_ready(node)}
        pods = [
            p
            for p in self.server.objects("Pod", NAMESPACE)
            if not p["metadata"].get("deletionTimestamp") and is_daemon_pod(p)
        ]
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            target = pod["spec"].get("nodeName") or _pinned(pod)
            if target:
                by_node.setdefault(target, []).append(pod)
        unavailable = {
            name
            for name in ready_nodes - self.baseline_unavailable
            if not any(_ready(p) for p in by_node.get(name, []))
        }
        if len(unavailable) > self.max_unavailable:
            self.violations.append(f"{len(unavailable)} nodes without an available pod: {sorted(unavailable)}")
        doubled = {name for name, group in by_node.items() if len(group) > 1}
        if len(doubled) > self.max_surge:
            self.violations.append(f"{len(doubled)} nodes with two pods: {sorted(doubled)}")


def is_daemon_pod(pod: Obj) -> bool:
    """A pod of a DaemonSet (its controller reference), not a helper pod it merely owns (--prepull's)."""
    return any(ref.get("controller") for ref in pod["metadata"].get("ownerReferences") or [])


def _node_ready(node: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


def _ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _pinned(pod: Obj) -> str | None:
    terms = (
        ((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    for term in terms:
        for expression in term.get("matchFields") or []:
            if expression.get("key") == "metadata.name":
                return str(expression["values"][0])
    return None


@dataclass
class SimCluster:
    server: ApiServer
    simulator: ClusterSimulator
    kubeconfig: str
    invariants: Invariants

    def daemonset(self) -> Obj:
        found = self.server.get("DaemonSet", NAMESPACE, NAME)
        assert found is not None
        return found

    def pod_hashes(self) -> dict[str, str]:
        """Node -> revision hash of its live DaemonSet pod(s), joined when more than one."""
        result: dict[str, list[str]] = {}
        for pod in self.server.objects("Pod", NAMESPACE):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            node = pod["spec"].get("nodeName") or _pinned(pod) or "?"
            result.setdefault(node, []).append(pod["metadata"]["labels"].get("controller-revision-hash", ""))
        return {node: ",".join(sorted(hashes)) for node, hashes in result.items()}

    def current_hash(self) -> str:
        revisions = [rev for rev in self.server.objects("ControllerRevision", NAMESPACE)]
        newest = max(revisions, key=lambda rev: int(rev.get("revision") or 0))
        return str(newest["metadata"]["labels"]["controller-revision-hash"])


@contextmanager
def simulated_cluster(
    tmp_path: Path,
    *,
    nodes: int = 5,
    max_unavailable: int = 1,
    max_surge: int = 0,
    ready_after: float = 0.02,
    settle_timeout: float = 5.0,
    **objects: Any,
) -> Iterator[SimCluster]:
    """`settle_timeout`: real seconds the seeded cluster may take to settle (a benchmark's 1,000 nodes need more)."""
    server = ApiServer().start()
    # Real time: the kubelet's 10 s back-offs compressed to 0.2 s (a deviation for speed, see ClusterSimulator).
    simulator = ClusterSimulator(server, ready_after=ready_after, backoff_scale=0.02)
    invariants = Invariants(server, max_unavailable=max_unavailable, max_surge=max_surge)
    try:
        server.load(make_cluster_objects(nodes, **objects))
        simulator.start()
        simulator.settle(settle_timeout)
        if max_surge:
            # creationTimestamps have one-second resolution, and parking a surge step keeps the OLDEST pod
            # of a node (podByCreationTimestampAndPhase); pods a second old make "oldest" unambiguous, as
            # they are on any real cluster.
            time.sleep(1.1)
        server.add_listener(invariants)
        kubeconfig = server.write_kubeconfig(str(tmp_path / "kubeconfig"))
        yield SimCluster(server, simulator, kubeconfig, invariants)
    finally:
        simulator.stop()
        server.stop()
