"""What happens to nodes, and to the pods on them, outside the kubelet: nodes joining, kubelets that stop
posting (unreachable nodes) and come back, the node lifecycle controller's taints and MarkPodsNotReady, and
the taint-eviction controller (docs/rules.md#r-node-lifecycle, #r-taint-eviction).

  * An unreachable node (ClusterSimulator.make_unreachable) gets Ready=Unknown and the
    `node.kubernetes.io/unreachable` NoSchedule and NoExecute taints; its kubelet is gone, so nothing there
    starts, reports or finishes a deletion (tests/sim/kubelet.py) until make_reachable() brings it back
    (Ready=True, taints removed).
  * A node that joins (ClusterSimulator.add_node) is created the way a kubelet registers one: NotReady, with
    the `node.kubernetes.io/not-ready:NoSchedule` taint the TaintNodesByCondition admission plugin adds; its
    kubelet reports Ready `join_after` seconds later and the taint goes.
  * Pods bound to a node whose Ready condition is not True are marked Ready=False.
  * NoExecute taints evict the pods that do not tolerate them at once, and those whose tolerations carry
    tolerationSeconds after the smallest of them (a toleration without seconds among the matching ones does
    not make it infinite, as getMinTolerationTime has it); eviction is a pod event TaintManagerEviction, the
    condition DisruptionTarget=True (DeletionByTaintManager), then an ordinary graceful delete. DaemonSet pods
    tolerate `not-ready` and `unreachable` NoExecute for ever, so they stay.

Sources: pkg/controller/nodelifecycle/node_lifecycle_controller.go (nodeConditionToTaintKeyStatusMap,
monitorNodeHealth, MarkPodsNotReady), plugin/pkg/admission/nodetaint/admission.go,
pkg/controller/tainteviction/taint_eviction.go (processPodOnNode, getMinTolerationTime,
addConditionAndDeletePod).

Deviations: Ready=Unknown is written at once, not after the 40 s node-monitor grace period; no eviction rate
limiting by zone; the DefaultTolerationSeconds admission plugin is not simulated, so a pod without tolerations
is evicted from an unreachable node at once instead of after 300 s (DaemonSet pods are unaffected).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.apiserver import rfc3339
from tests.sim import objects as o
from tests.sim import pods, taints
from tests.sim.objects import Obj, View
from tests.sim.writer import Writer, set_condition

NODE_LIFECYCLE = "node-lifecycle-controller"
TAINT_EVICTION = "taint-eviction-controller"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"


def node_readiness(node: Obj, ready: bool, now: datetime) -> Obj:
    """What the node-lifecycle controller writes when a kubelet stops (or resumes) posting status: the Ready
    condition Unknown plus the `unreachable` NoSchedule and NoExecute taints, or Ready=True without the
    `unreachable` and `not-ready` taints."""
    status = node.setdefault("status", {})
    if ready:
        conditions = set_condition(
            list(status.get("conditions") or []),
            "Ready",
            "True",
            now,
            reason="KubeletReady",
            message="kubelet is posting ready status",
        )
    else:
        conditions = set_condition(
            list(status.get("conditions") or []),
            "Ready",
            "Unknown",
            now,
            reason="NodeStatusUnknown",
            message="Kubelet stopped posting node status.",
        )
    # Node conditions carry no lastProbeTime when there is none.
    status["conditions"] = [
        {k: v for k, v in c.items() if not (k == "lastProbeTime" and v is None)} for c in conditions
    ]
    spec = node.setdefault("spec", {})
    node_taints = list(spec.get("taints") or [])
    if ready:
        node_taints = [t for t in node_taints if t.get("key") not in (UNREACHABLE_TAINT, NOT_READY_TAINT)]
    else:
        for effect in ("NoSchedule", "NoExecute"):
            if not any(t.get("key") == UNREACHABLE_TAINT and t.get("effect") == effect for t in node_taints):
                added = {"timeAdded": rfc3339(now)} if effect == "NoExecute" else {}
                node_taints.append({"key": UNREACHABLE_TAINT, "effect": effect, **added})
    if node_taints:
        spec["taints"] = node_taints
    else:
        spec.pop("taints", None)
    return node


def joining_node(node: Obj, now: datetime) -> Obj:
    """A node as its kubelet registers it: NotReady, tainted not-ready:NoSchedule by admission."""
    result = {**node, "apiVersion": "v1", "kind": "Node"}
    spec = result.setdefault("spec", {})
    spec["taints"] = [*(spec.get("taints") or []), {"key": NOT_READY_TAINT, "effect": "NoSchedule"}]
    status = result.setdefault("status", {})
    status["conditions"] = [
        {
            "type": "Ready",
            "status": "False",
            "lastHeartbeatTime": rfc3339(now),
            "lastTransitionTime": rfc3339(now),
            "reason": "KubeletNotReady",
            "message": "container runtime status check may not have completed yet",
        }
    ]
    return result


def min_toleration_seconds(used: list[View]) -> float | None:
    """getMinTolerationTime over the tolerations that match the NoExecute taints: None for ever, else the
    smallest tolerationSeconds (<= 0: at once); tolerations without seconds are skipped."""
    if not used:
        return 0.0
    seconds = [float(t["tolerationSeconds"]) for t in used if t.get("tolerationSeconds") is not None]
    if not seconds:
        return None
    return max(0.0, min(seconds))


class NodeLifecycle:
    """The node lifecycle and taint-eviction controllers, and which kubelets are posting."""

    def __init__(self, writer: Writer, join_after: float) -> None:
        self.writer = writer
        self.join_after = join_after
        self.unreachable: set[str] = set()
        self.marked_not_ready: set[str] = set()  # pod uids this controller marked NotReady (the kubelet reverts)
        self._joining: dict[str, datetime] = {}
        self._tolerated_since: dict[str, datetime] = {}  # pod uid -> when a tolerated NoExecute taint was seen

    def posting(self, node: View) -> bool:
        """Whether the node's kubelet is alive: not made unreachable, and not reported Unknown."""
        ready = o.condition(node, "Ready")
        return o.name(node) not in self.unreachable and (ready is None or ready.get("status") != "Unknown")

    def set_reachable(self, node: str, reachable: bool) -> None:
        (self.unreachable.discard if reachable else self.unreachable.add)(node)
        now = self.writer.clock()
        self.writer.mutate(
            "nodes",
            None,
            node,
            lambda obj: node_readiness(obj, reachable, now),
            f"{NODE_LIFECYCLE}: Ready={'True' if reachable else 'Unknown'}",
        )

    def join(self, node: Obj) -> Obj | None:
        now = self.writer.clock()
        created = self.writer.create(joining_node(node, now), f"{NODE_LIFECYCLE}: node registered")
        if created is not None:
            self._joining[o.name(created)] = now + timedelta(seconds=self.join_after)
        return created

    def run_pass(self) -> None:
        now = self.writer.clock()
        nodes = {o.name(node): node for node in self.writer.server.objects("nodes")}
        for name, due in list(self._joining.items()):
            if name not in nodes:
                del self._joining[name]
            elif now < due:
                self.writer.wait_until(due)
            else:
                del self._joining[name]
                self.writer.mutate(
                    "nodes",
                    None,
                    name,
                    lambda obj: node_readiness(obj, True, now),
                    f"{NODE_LIFECYCLE}: kubelet ready, not-ready taint removed",
                )
        nodes = {o.name(node): node for node in self.writer.server.objects("nodes")}
        all_pods = self.writer.server.objects("pods")
        live = {o.uid(pod) for pod in all_pods}
        self.marked_not_ready &= live
        self._tolerated_since = {uid: t for uid, t in self._tolerated_since.items() if uid in live}
        for pod in all_pods:
            node = nodes.get(str(o.spec_of(pod).get("nodeName") or ""))
            if node is None or o.is_terminating(pod):
                continue
            if not o.condition_is_true(node, "Ready") and not o.is_terminal(pod):
                self._mark_not_ready(pod)
            self._taint_eviction(pod, node, now)

    def _mark_not_ready(self, pod: Obj) -> None:
        """MarkPodsNotReady: a pod on a node that is not Ready is not Ready either."""
        if not pods.is_ready(pod):
            return
        self.marked_not_ready.add(o.uid(pod))
        self.writer.set_pod_condition(pod, "Ready", "False", f"{NODE_LIFECYCLE}: pod not ready")

    def _taint_eviction(self, pod: Obj, node: View, now: datetime) -> None:
        """processPodOnNode: evict at once for an untolerated NoExecute taint, after the smallest
        tolerationSeconds for tolerated ones, never when every matching toleration is for ever."""
        no_execute = [t for t in o.spec_of(node).get("taints") or [] if t.get("effect") == taints.NO_EXECUTE]
        if not no_execute:
            self._tolerated_since.pop(o.uid(pod), None)
            return
        tolerations = list(o.spec_of(pod).get("tolerations") or [])
        used = []
        for taint in no_execute:
            matching = [t for t in tolerations if taints.tolerates(t, taint)]
            if not matching:
                self._evict(pod)
                return
            used += matching
        seconds = min_toleration_seconds(used)
        if seconds is None:
            return
        due = self._tolerated_since.setdefault(o.uid(pod), now) + timedelta(seconds=seconds)
        if now < due:
            self.writer.wait_until(due)
        else:
            self._evict(pod)

    def _evict(self, pod: Obj) -> None:
        """addConditionAndDeletePod, with the TaintManagerEviction event first."""
        self.writer.event(
            pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {o.ref(pod)}", TAINT_EVICTION
        )
        marked = self.writer.set_pod_condition(
            pod,
            "DisruptionTarget",
            "True",
            f"{TAINT_EVICTION}: disruption target",
            reason="DeletionByTaintManager",
            message="Taint manager: deleting due to NoExecute taint",
        )
        self.writer.delete("pods", marked or pod, f"{TAINT_EVICTION}: NoExecute taint")
