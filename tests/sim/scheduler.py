"""The default scheduler, for the pods the DaemonSet controller creates: it binds a pending pod to the node
its affinity pins it to, or leaves it Pending with a PodScheduled=False condition and a FailedScheduling
event in the real message format (docs/rules.md#r-scheduler-message).

When the pod does not fit, DefaultPreemption runs (tests/sim/preemption.py, docs/rules.md#r-preemption): it
may evict lower-priority pods on the target node and nominate it (status.nominatedNodeName). Whatever it does,
that attempt still ends as a failure: PodScheduled=False, reason Unschedulable, and a FailedScheduling event
(handleSchedulingFailure); the pod binds on a later attempt, once its victims are gone.

Source: pkg/scheduler/schedule_one.go (the scheduling cycle, schedulingAlgorithm, handleSchedulingFailure,
updatePod) and framework/plugins/defaultbinder; the Filter rules are in tests/sim/fit.py.

Deviations: pods are taken highest priority first, then oldest, in one pass rather than from a queue with
back-off; a FailedScheduling event is written once per pod and message (a real recorder aggregates repeats
into a count).
"""

from __future__ import annotations

from tests.sim import fit, pods, preemption
from tests.sim import objects as o
from tests.sim.objects import Obj, View
from tests.sim.writer import Writer, set_condition

SCHEDULER = "default-scheduler"


def wants_scheduling(pod: View) -> bool:
    """Pending, unbound, not being deleted, and meant for this scheduler."""
    spec = o.spec_of(pod)
    return (
        not spec.get("nodeName")
        and not o.is_terminating(pod)
        and o.phase(pod) in ("", "Pending")
        and spec.get("schedulerName", SCHEDULER) == SCHEDULER
    )


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
        # The active queue pops by priority, then by age (PrioritySort).
        pending = sorted(
            (pod for pod in all_pods if wants_scheduling(pod)),
            key=lambda pod: (-preemption.priority(pod), str(o.meta(pod).get("creationTimestamp")), o.ref(pod)),
        )
        for pod in pending:
            target = pods.target_node_name(pod)
            node = nodes.get(target or "")
            if target is None or node is None:
                continue  # the DaemonSet controller deletes a pending pod whose node is gone
            failures = fit.filter_failures(pod, node, bound.get(target, []))
            if failures:
                nominated = str(o.status_of(pod).get("nominatedNodeName") or "")
                outcome = preemption.post_filter(
                    pod, node, bound.get(target, []), len(nodes), failures, bound.get(nominated, [])
                )
                for victim in outcome.victims:
                    self._preempt(victim, pod, target)
                message = fit.fit_error_message(len(nodes), failures)
                self._unschedulable(
                    pod, f"{message} {outcome.message}" if outcome.message else message, outcome.nominate
                )
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

        stored = self.writer.mutate(
            "pods", o.namespace(pod), o.name(pod), bind, f"{SCHEDULER}: bind to {node}", uid=o.uid(pod)
        )
        if stored is None:
            return False
        self.writer.event(stored, "Normal", "Scheduled", f"Successfully assigned {o.ref(pod)} to {node}", SCHEDULER)
        return True

    def _preempt(self, victim: Obj, preemptor: View, node: str) -> None:
        """PreemptPod: the victim learns why (DisruptionTarget), is deleted gracefully, and gets an event."""
        scheduler = o.spec_of(preemptor).get("schedulerName") or SCHEDULER
        marked = self.writer.set_pod_condition(
            victim,
            "DisruptionTarget",
            "True",
            f"{SCHEDULER}: preempt for {o.ref(preemptor)}",
            reason=preemption.PREEMPTED_BY_SCHEDULER,
            message=f"{scheduler}: preempting to accommodate a higher priority pod",
        )
        self.writer.delete("pods", marked or victim, f"{SCHEDULER}: preempted by {o.ref(preemptor)}")
        self.writer.event(
            marked or victim, "Normal", "Preempted", f"Preempted by pod {o.uid(preemptor)} on node {node}", SCHEDULER
        )

    def _unschedulable(self, pod: View, message: str, nominate: str | None = None) -> None:
        """handleSchedulingFailure's status update: PodScheduled=False (Unschedulable) and, when PostFilter
        says so, status.nominatedNodeName set or cleared."""
        now = self.writer.clock()

        def mark(obj: Obj) -> Obj:
            status = obj.setdefault("status", {})
            status["phase"] = status.get("phase") or "Pending"
            status["conditions"] = set_condition(
                list(status.get("conditions") or []),
                "PodScheduled",
                "False",
                now,
                reason="Unschedulable",
                message=message,
            )
            if nominate:
                status["nominatedNodeName"] = nominate
            elif nominate == "":
                status.pop("nominatedNodeName", None)
            return obj

        stored = self.writer.mutate(
            "pods", o.namespace(pod), o.name(pod), mark, f"{SCHEDULER}: unschedulable", uid=o.uid(pod)
        )
        if (o.uid(pod), message) not in self._reported:
            self._reported.add((o.uid(pod), message))
            self.writer.event(stored or pod, "Warning", "FailedScheduling", message, SCHEDULER)
