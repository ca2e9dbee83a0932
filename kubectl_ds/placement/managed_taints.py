"""Pure. Taints a component puts on nodes and takes off again by itself (docs/rules.md#r-managed-taints).

Removing such a taint by hand (`kubectl taint node NODE KEY-`) does not last: the component re-adds it on
its next pass, or the node stays broken underneath. So the hint for one of them names the node condition
or the component to fix, never the taint command. Everything else is an operator's taint, whose hint may
say how to remove it.

Sources: k8s.io/api core/v1 well_known_taints.go and the node lifecycle controller's
nodeConditionToTaintKeyStatusMap (kubernetes/kubernetes); k8s.io/cloud-provider api/well_known_taints.go
(uninitialized, shutdown); the Cilium, Karpenter, cluster-autoscaler, Cluster API, AWS CSI drivers' and
node-readiness-controller's documented startup and readiness taints.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ManagedTaint:
    """Who puts the taint on and takes it off, and what to fix so that it goes ("{node}" is the node)."""

    key: str  # the exact key, or a prefix ending in "/" or a suffix starting with "/"
    manager: str
    fix: str
    # The node is on its way out (shut down, being drained and removed): the taint is not one that goes once the
    # node is up, so DaemonSets it keeps away are not waited for.
    node_leaving: bool = False

    def matches(self, key: str) -> bool:
        if self.key.endswith("/"):
            return key.startswith(self.key)
        if self.key.startswith("/"):
            return key.endswith(self.key)
        return key == self.key

    def hint(self) -> str:
        return f"{self.manager} sets and removes this taint; {self.fix} (removing the taint by hand does not last)"


_DESCRIBE = "kubectl describe node {node}"

MANAGED_TAINTS: tuple[ManagedTaint, ...] = (
    # The node lifecycle controller, from the node's conditions (TaintNodesByCondition), and the NodeTaint
    # admission plugin, which puts not-ready:NoSchedule on every node that registers.
    ManagedTaint(
        "node.kubernetes.io/not-ready",
        "the node lifecycle controller",
        f"make the node Ready (its kubelet, container runtime and network plugin: {_DESCRIBE})",
    ),
    ManagedTaint(
        "node.kubernetes.io/unreachable",
        "the node lifecycle controller",
        "the node's kubelet stopped reporting: bring the machine, its network or its kubelet back",
    ),
    ManagedTaint(
        "node.kubernetes.io/memory-pressure",
        "the node lifecycle controller",
        f"free memory on the node (condition MemoryPressure: {_DESCRIBE})",
    ),
    ManagedTaint(
        "node.kubernetes.io/disk-pressure",
        "the node lifecycle controller",
        f"free disk space on the node (condition DiskPressure: {_DESCRIBE})",
    ),
    ManagedTaint(
        "node.kubernetes.io/pid-pressure",
        "the node lifecycle controller",
        f"lower the number of processes on the node (condition PIDPressure: {_DESCRIBE})",
    ),
    ManagedTaint(
        "node.kubernetes.io/network-unavailable",
        "the node lifecycle controller",
        "the node's network is not configured (condition NetworkUnavailable): fix the network plugin or the "
        "cloud routes, or run the pod with hostNetwork",
    ),
    ManagedTaint(
        "node.kubernetes.io/unschedulable",
        "the node lifecycle controller (from spec.unschedulable)",
        "uncordon the node when it is ready: kubectl uncordon {node}",
    ),
    ManagedTaint(
        "node.kubernetes.io/out-of-service",
        "whoever handles the node's non-graceful shutdown",
        "it marks a node known to be down, so that its pods are force-deleted; bring the node back first",
        node_leaving=True,
    ),
    ManagedTaint(
        "node.cloudprovider.kubernetes.io/uninitialized",
        "the cloud-controller-manager",
        "it initializes the node and then removes it: check that the cloud-controller-manager runs",
    ),
    ManagedTaint(
        "node.cloudprovider.kubernetes.io/shutdown",
        "the cloud-controller-manager",
        "the node's machine is shut down: start it again, or delete the node",
        node_leaving=True,
    ),
    # Node bootstrappers: readiness and startup taints, removed once their agent runs on the node.
    ManagedTaint(
        "node.cilium.io/agent-not-ready",
        "Cilium",
        "it goes once the Cilium agent runs on the node: see the cilium pod there (kubectl ds node {node} -A)",
    ),
    ManagedTaint(
        "/agent-not-ready",
        "the agent this taint is named after",
        "it goes once that agent's pod is ready on the node (e.g. a CSI node plugin)",
    ),
    ManagedTaint(
        "karpenter.sh/unregistered",
        "Karpenter",
        "it goes once the node registers with its NodeClaim: check the node's kubelet and Karpenter's logs",
    ),
    ManagedTaint(
        "karpenter.sh/disrupted",
        "Karpenter",
        "the node is being disrupted (drained and removed): nothing to fix; a new node takes its place",
        node_leaving=True,
    ),
    ManagedTaint(
        "karpenter.sh/disruption",
        "Karpenter",
        "the node is being disrupted (drained and removed): nothing to fix; a new node takes its place",
        node_leaving=True,
    ),
    ManagedTaint(
        "ToBeDeletedByClusterAutoscaler",
        "the cluster-autoscaler",
        "the node is being scaled down: nothing to fix; a new node takes its place",
        node_leaving=True,
    ),
    ManagedTaint(
        "node.cluster.x-k8s.io/uninitialized",
        "Cluster API",
        "it goes once the node is linked to its Machine: check the Machine and its provider",
    ),
    ManagedTaint(
        "readiness.k8s.io/",
        "the node readiness controller (a NodeReadinessRule)",
        f"it goes once the rule's node conditions hold: see the conditions ({_DESCRIBE})",
    ),
    ManagedTaint(
        "nidhogg.uswitch.com/",
        "nidhogg",
        "it goes once the DaemonSet it names has a ready pod on the node",
    ),
)


def managed_taint(key: str) -> ManagedTaint | None:
    """The component that manages a taint with this key, or None for an operator's own taint."""
    for entry in MANAGED_TAINTS:
        if entry.matches(key):
            return entry
    return None
