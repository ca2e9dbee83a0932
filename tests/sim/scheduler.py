"""The default scheduler, for the pods the DaemonSet controller creates: it binds a pending pod to the node
its affinity pins it to, or leaves it Pending with a PodScheduled=False condition and a FailedScheduling
event in the real message format (docs/rules.md#r-scheduler-message).

Source: pkg/scheduler/schedule_one.go (the scheduling cycle, handleSchedulingFailure) and
framework/plugins/defaultbinder; the Filter rules are in tests/sim/fit.py.

Deviations: no preemption (so no `preemption:` suffix in the messages), pods are taken oldest first in one
pass rather than from a priority queue, and a FailedScheduling event is written once per pod and message.
"""

from __future__ import annotations

from tests.sim import fit, pods
from tests.sim import objects as o
from tests.sim.objects import Obj, View
from tests.sim.writer import Writer, set_condition

SCHEDULER = "default-scheduler"


def wants_scheduling(pod: View) -> bool:
    """Pending, unbound, not being deleted, and meant for this scheduler."""
    spec = o.spec_of(pod)
    return (not spec.get("nodeName") and not o.is_terminating(pod) and o.phase(pod) in ("", "Pending")
            and spec.get("schedulerName", SCHEDULER) == SCHEDULER)


class Scheduler:
    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self._reported: set[tuple[str, str]] = set()  # (pod uid, message) already in a FailedScheduling event

    def run_pass(self) -> None:
        server = self.writer.server
        nodes = {o.name(node): node for node in server.objects("nodes")}
        all_pods = server.objects("pods")
        live = {o.uid(pod) for pod in all_pods}
        self._reported = {key for key in self._reported if key[0] in live}
        # What the scheduler cache holds per node: bound pods that have not finished.
        bound: dict[str, list[Obj]] = {}
        for pod in all_pods:
            node_name = o.spec_of(pod).get("nodeName")
            if node_name and not o.is_terminal(pod):
                bound.setdefault(str(node_name), []).append(pod)
        pending = sorted((pod for pod in all_pods if wants_scheduling(pod)),
                         key=lambda pod: (str(o.meta(pod).get("creationTimestamp")), o.ref(pod)))
        for pod in pending:
            target = pods.target_node_name(pod)
            node = nodes.get(target or "")
            if target is None or node is None:
                continue  # the DaemonSet controller deletes a pending pod whose node is gone
            failures = fit.filter_failures(pod, node, bound.get(target, []))
            if failures:
                self._unschedulable(pod, fit.fit_error_message(len(nodes), failures))
            elif self._bind(pod, target):
                bound.setdefault(target, []).append({**pod, "spec": {**o.spec_of(pod), "nodeName": target}})

    def _bind(self, pod: View, node: str) -> bool:
        now = self.writer.clock()

        def bind(obj: Obj) -> Obj | None:
            if o.spec_of(obj).get("nodeName") or o.is_terminating(obj):
                return None
            obj["spec"]["nodeName"] = node
            status = obj.setdefault("status", {})
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            status["conditions"] = set_condition(conditions, "PodScheduled", "True", now)
            return obj

        stored = self.writer.mutate("pods", o.namespace(pod), o.name(pod), bind, f"{SCHEDULER}: bind to {node}",
                                    uid=o.uid(pod))
        if stored is None:
            return False
        self.writer.event(stored, "Normal", "Scheduled", f"Successfully assigned {o.ref(pod)} to {node}", SCHEDULER)
        return True

    def _unschedulable(self, pod: View, message: str) -> None:
        now = self.writer.clock()

        def mark(obj: Obj) -> Obj:
            status = obj.setdefault("status", {})
            status["phase"] = status.get("phase") or "Pending"
            status["conditions"] = set_condition(list(status.get("conditions") or []), "PodScheduled", "False",
                                                 now, reason="Unschedulable", message=message)
            return obj

        stored = self.writer.mutate("pods", o.namespace(pod), o.name(pod), mark, f"{SCHEDULER}: unschedulable",
                                    uid=o.uid(pod))
        if (o.uid(pod), message) not in self._reported:
            self._reported.add((o.uid(pod), message))
            self.writer.event(stored or pod, "Warning", "FailedScheduling", message, SCHEDULER)
