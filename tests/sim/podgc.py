"""The pod garbage collector: the only thing that removes a pod whose kubelet will never finish deleting it
(docs/rules.md#r-node-lifecycle).

Every `period` seconds (20 in kube-controller-manager) it force-deletes (grace period 0, after marking the pod
Failed):
  * gcTerminating: terminating pods on a node that is not Ready and carries the
    `node.kubernetes.io/out-of-service` taint (what an operator adds once the node is known to be down);
  * gcOrphaned: pods bound to a node that no longer exists, once the node has been missing for the
    `quarantine` (40 s), with the condition DisruptionTarget=True (DeletionByPodGC, "PodGC: node no longer
    exists");
  * gcUnscheduledTerminating: terminating pods that were never bound.
A terminating pod on an unreachable node without that taint stays for ever: the stall of a client-driven
rollout that waits for it (kubernetes#63465).

Source: pkg/controller/podgc/gc_controller.go (gc, gcTerminating, gcOrphaned, discoverDeletedNodes,
gcUnscheduledTerminating, markFailedAndDeletePodWithCondition).

Deviations: terminated pods over --terminated-pod-gc-threshold (12500) are not collected; the first run is
one period after the simulation starts; a finalizer keeps a force-deleted pod until it is removed (as on a
real server) but the pod is not marked deleted meanwhile.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.sim import objects as o
from tests.sim.nodelifecycle import OUT_OF_SERVICE_TAINT
from tests.sim.objects import Obj
from tests.sim.writer import Writer, set_condition

POD_GC = "pod-garbage-collector"


class PodGC:
    def __init__(self, writer: Writer, period: float, quarantine: float) -> None:
        self.writer = writer
        self.period = timedelta(seconds=period)
        self.quarantine = timedelta(seconds=quarantine)
        self._next_run: datetime | None = None
        self._missing_since: dict[str, datetime] = {}  # node name -> when a pod was first seen bound to it

    def run_pass(self) -> None:
        now = self.writer.clock()
        if self._next_run is None:
            self._next_run = now + self.period
        pending = self._candidates(now)
        if now < self._next_run:
            if pending:
                self.writer.wait_until(self._next_run)
            return
        self._next_run = now + self.period
        for pod, condition in pending:
            self._force_delete(pod, condition, now)
        if self._candidates(now):
            self.writer.wait_until(self._next_run)

    def _candidates(self, now: datetime) -> list[tuple[Obj, tuple[str, str] | None]]:
        """The pods to collect at the next run, with the DisruptionTarget condition (reason, message) to add."""
        nodes = {o.name(node): node for node in self.writer.server.objects("nodes")}
        bound_to_missing = set()
        found: list[tuple[Obj, tuple[str, str] | None]] = []
        for pod in self.writer.server.objects("pods"):
            node_name = str(o.spec_of(pod).get("nodeName") or "")
            if not node_name:
                if o.is_terminating(pod):
                    found.append((pod, None))
                continue
            node = nodes.get(node_name)
            if node is None:
                bound_to_missing.add(node_name)
                since = self._missing_since.setdefault(node_name, now)
                if now >= since + self.quarantine:
                    found.append((pod, ("DeletionByPodGC", "PodGC: node no longer exists")))
                else:
                    self.writer.wait_until(since + self.quarantine)
            elif (
                o.is_terminating(pod)
                and not o.condition_is_true(node, "Ready")
                and any(t.get("key") == OUT_OF_SERVICE_TAINT for t in o.spec_of(node).get("taints") or [])
            ):
                found.append((pod, None))
        self._missing_since = {name: t for name, t in self._missing_since.items() if name in bound_to_missing}
        return found

    def _force_delete(self, pod: Obj, condition: tuple[str, str] | None, now: datetime) -> None:
        """markFailedAndDeletePodWithCondition: phase Failed (the kubelet will never say so), then delete with
        grace period 0."""
        if not o.is_terminal(pod):

            def fail(obj: Obj) -> Obj:
                status = obj.setdefault("status", {})
                status["phase"] = "Failed"
                if condition is not None:
                    status["conditions"] = set_condition(
                        list(status.get("conditions") or []),
                        "DisruptionTarget",
                        "True",
                        now,
                        reason=condition[0],
                        message=condition[1],
                    )
                return obj

            pod = (
                self.writer.mutate(
                    "pods", o.namespace(pod), o.name(pod), fail, f"{POD_GC}: mark Failed", uid=o.uid(pod)
                )
                or pod
            )
        if o.meta(pod).get("finalizers"):
            return
        self.writer.remove("pods", pod, f"{POD_GC}: force delete")
