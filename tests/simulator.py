"""A DaemonSet controller, default scheduler, kubelet and node-lifecycle controller, simulated on top of
the in-process test API server, so that `kubectl ds rollout ...` can be tested end to end against
something that moves like a real cluster.

Each pass (`reconcile_once`) runs, in this order (the parts live in tests/sim/):
  * the DaemonSet controller (sim/controller.py, sim/history.py): ControllerRevisions, pod adoption,
    manage() (failed pods deleted with a per-node back-off), rollingUpdate() behind the expectations gate,
    history cleanup and status; plus the garbage collector for the pods and revisions of deleted DaemonSets;
  * the disruption controller (sim/disruption.py): PodDisruptionBudget status, which the API server's
    eviction subresource checks (tests/apiserver_eviction.py);
  * the scheduler (sim/scheduler.py, sim/preemption.py): binds pending DaemonSet pods to their target node,
    or leaves them Pending with a FailedScheduling event in the real message format, preempting lower-priority
    pods there when the pod's priority allows it;
  * the node lifecycle and taint-eviction controllers (sim/nodelifecycle.py): Ready=Unknown and the
    unreachable taints for nodes whose kubelet stopped posting, NotReady pods, nodes joining, NoExecute
    evictions;
  * the kubelet (sim/kubelet.py, sim/containers.py): bound pods go Running, then Ready `ready_after` seconds
    later, or fail to pull or crash as their image says, with the kubelet's back-offs; deleted pods stop within
    their grace period, then go; an unreachable node's kubelet does nothing;
  * the pod garbage collector (sim/podgc.py): force-deletes terminating pods on out-of-service nodes and the
    pods of deleted nodes.

While a simulation runs, the API server deletes pods gracefully (a bound pod keeps running with a
deletionTimestamp until its kubelet stops it: ApiServer.graceful_pod_deletion) and its clock is the
simulation's, so its Date header and the timestamps it assigns follow a ManualClock. Unkind events are
driven through methods: make_unreachable/make_reachable, add_node/delete_node, shut_down_node,
set_out_of_service.

Every Kubernetes rule these follow is the simulator's own (sim/labels.py, nodeaffinity.py, taints.py,
quantity.py, pods.py, budget.py, daemonpods.py, update.py, fit.py), written from the upstream sources each
module names: none comes from kubectl_ds, the code under test.

Every write goes through sim/writer.py, so listeners and watches see it and nothing is written when nothing
changed, which is how `settle()` tells the cluster is quiet. All time comes from `clock` (a ManualClock
makes a run fully deterministic: settle() then jumps the clock to the next timer instead of sleeping); the
only randomness (pod names, Go's map order in rollingUpdate) comes from `random.Random(seed)`.

Deviations of the whole simulation (the others are listed in the module where they live): one global tick
instead of per-object work queues and informers, and `paused` stops every component, not just the
controller.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime

from tests.apiserver import ApiServer
from tests.sim.clock import ManualClock, utc_now
from tests.sim.containers import crash_restarts
from tests.sim.controller import DaemonSetController
from tests.sim.disruption import DisruptionController
from tests.sim.fit import fit_error_message
from tests.sim.kubelet import Kubelet
from tests.sim.nodelifecycle import OUT_OF_SERVICE_TAINT, NodeLifecycle
from tests.sim.objects import Obj
from tests.sim.podgc import PodGC
from tests.sim.revisions import template_hash
from tests.sim.scheduler import Scheduler
from tests.sim.writer import HistoryEntry, Writer

__all__ = ["ClusterSimulator", "HistoryEntry", "ManualClock", "crash_restarts", "fit_error_message", "template_hash"]

log = logging.getLogger(__name__)


class ClusterSimulator:
    """The DaemonSet controller, scheduler and kubelet of a small cluster, writing to an ApiServer.

    `paused` stops every component (nothing moves until it is False again); `history` lists every write
    as (action, kind, namespace/name, detail), the detail starting with the component that made it.
    """

    def __init__(
        self,
        server: ApiServer,
        *,
        ready_after: float = 0.05,
        clock: Callable[[], datetime] | None = None,
        seed: int = 0,
        tick: float = 0.01,
        stop_after: float | None = None,
        graceful_deletion: bool = True,
        podgc_period: float = 20.0,
        podgc_quarantine: float = 40.0,
        backoff_scale: float = 1.0,
    ) -> None:
        """ready_after: seconds from a container's start to Ready (also how long a crashing run lasts);
        stop_after: seconds from SIGTERM to a container's exit (default ready_after; `slow-stop` images and the
        stop-seconds annotation change it, tests/sim/containers.py); graceful_deletion: make the API server
        delete bound pods gracefully, as a real one does (False keeps an immediate delete); podgc_period and
        podgc_quarantine: the pod garbage collector's period and its wait for a vanished node; backoff_scale:
        the kubelet's crash and pull back-offs (10 s doubling to 5 min) times this, 1 as on a real cluster.
        Deliberate deviation: the real-time tests compress them (tests/rollout_support.py), since their
        clock is the wall clock; the manual-time tests keep them real."""
        self.server = server
        self.ready_after = ready_after
        self.clock: Callable[[], datetime] = clock or utc_now
        self.tick = tick
        self.paused = False
        self.errors: list[BaseException] = []  # exceptions of background passes
        # The cluster's time is the simulation's: Date headers and server-assigned timestamps follow it.
        server.clock = self.clock
        if graceful_deletion:
            server.graceful_pod_deletion = True
        self._writer = Writer(server, self.clock)
        self._controller = DaemonSetController(self._writer, random.Random(seed))
        self._disruption = DisruptionController(self._writer)
        self._scheduler = Scheduler(self._writer)
        self._nodes = NodeLifecycle(self._writer, join_after=ready_after)
        self._kubelet = Kubelet(
            self._writer,
            ready_after,
            ready_after if stop_after is None else stop_after,
            self._nodes.posting,
            self._nodes.marked_not_ready,
            backoff_scale,
        )
        self._podgc = PodGC(self._writer, podgc_period, podgc_quarantine)
        self._lock = threading.RLock()  # one pass at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_due: datetime | None = None

    @property
    def history(self) -> list[HistoryEntry]:
        return self._writer.history

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> ClusterSimulator:
        if self._thread is not None:
            return self
        self._stop.clear()
        self.server.add_listener(self._on_change)
        self._thread = threading.Thread(target=self._run, name="cluster-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._thread = None
        with contextlib.suppress(ValueError, AttributeError):
            self.server.remove_listener(self._on_change)

    def __enter__(self) -> ClusterSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _on_change(self, _event_type: str, _obj: Obj) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.tick)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.reconcile_once()
            except Exception as error:  # keep simulating; tests can assert on `errors`
                log.exception("simulation pass failed")
                self.errors.append(error)

    # --- driving -------------------------------------------------------------------------------------

    def reconcile_once(self) -> bool:
        """One deterministic pass: controller sync of every DaemonSet, then scheduler, then kubelet.

        Returns True if it wrote anything. Does nothing while `paused`.
        """
        with self._lock:
            if self.paused:
                return False
            self._writer.begin_pass()
            self._controller.run_pass()
            self._disruption.run_pass()
            self._scheduler.run_pass()
            self._nodes.run_pass()
            self._kubelet.run_pass()
            self._podgc.run_pass()
            self._next_due = min(self._writer.due, default=None)
            return self._writer.changed

    def settle(self, timeout: float = 5.0) -> None:
        """Run passes until one changes nothing and no pod is waiting on a timer (becoming ready or available,
        finishing its grace period). With a ManualClock the clock jumps to the next timer instead of sleeping.
        Crash-looping pods wait for nothing. Raises TimeoutError after `timeout` real seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if self.paused:
                return
            changed = self.reconcile_once()
            due = self._next_due
            if not changed and due is None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"cluster did not settle within {timeout}s; next timer {due}; last writes: {self.history[-5:]}"
                )
            if changed or due is None:
                continue
            if isinstance(self.clock, ManualClock):
                self.clock.advance_to(due)
            else:
                # The real clock: wait for the timer, but never longer than a tick.
                time.sleep(min(max((due - self.clock()).total_seconds(), 0.001), self.tick))

    # --- unkind events -----------------------------------------------------------------------------------

    def _node_exists(self, node: str) -> None:
        if self.server.get("nodes", None, node) is None:
            raise KeyError(f"node {node!r} not found")

    def make_unreachable(self, node: str) -> None:
        """The node's kubelet stops posting (docs/rules.md#r-node-lifecycle): Ready=Unknown and the
        `node.kubernetes.io/unreachable` NoSchedule and NoExecute taints; nothing there starts, its pods turn
        Ready=False, and a pod deleted there keeps its deletionTimestamp for ever (until make_reachable(), an
        out-of-service taint with PodGC, or the node's deletion)."""
        with self._lock:
            self._node_exists(node)
            self._nodes.set_reachable(node, False)
        self._wake.set()

    def make_reachable(self, node: str) -> None:
        """The kubelet posts again: Ready=True, the unreachable and not-ready taints go, pending deletions
        finish and new pods start."""
        with self._lock:
            self._node_exists(node)
            self._nodes.set_reachable(node, True)
        self._wake.set()

    def set_node_ready(self, node: str, ready: bool) -> None:
        """make_reachable(node) or make_unreachable(node)."""
        (self.make_reachable if ready else self.make_unreachable)(node)

    def add_node(
        self,
        name: str,
        *,
        labels: dict[str, str] | None = None,
        taints: list[Obj] | None = None,
        allocatable: dict[str, str] | None = None,
    ) -> Obj:
        """A node joins: registered NotReady with the not-ready:NoSchedule taint, Ready `ready_after` seconds
        later; then every DaemonSet that should run there creates a pod from its current template, whatever
        its update strategy (docs/rules.md#r-on-delete)."""
        node: Obj = {
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": list(taints or [])},
            "status": {"allocatable": allocatable or {"cpu": "4", "memory": "8Gi", "pods": "110"}},
        }
        with self._lock:
            created = self._nodes.join(node)
        if created is None:
            raise ValueError(f"node {name!r} already exists")
        self._wake.set()
        return created

    def delete_node(self, node: str) -> None:
        """The Node object goes (a cloud provider removed the machine): its pods stay until the pod garbage
        collector's quarantine has passed, then are marked Failed and force-deleted."""
        with self._lock:
            self._node_exists(node)
            self.server.delete_object("nodes", None, node)
        self._wake.set()

    def shut_down_node(self, node: str) -> None:
        """Graceful node shutdown: the kubelet kills every pod there (phase Failed, reason Terminated,
        DisruptionTarget TerminationByKubelet), then the node stops posting, as make_unreachable(). Once it is
        back (make_reachable), the DaemonSet controller deletes the Failed pods and creates new ones from the
        current template."""
        with self._lock:
            self._node_exists(node)
            self._kubelet.shut_down(node)
            self._nodes.set_reachable(node, False)
        self._wake.set()

    def set_out_of_service(self, node: str, out_of_service: bool = True) -> None:
        """Add (or remove) the `node.kubernetes.io/out-of-service=nodeshutdown:NoExecute` taint an operator puts
        on a node known to be down: PodGC may then force-delete the pods terminating there."""
        taint: Obj = {"key": OUT_OF_SERVICE_TAINT, "value": "nodeshutdown", "effect": "NoExecute"}

        def change(obj: Obj) -> Obj:
            spec = obj.setdefault("spec", {})
            kept = [t for t in spec.get("taints") or [] if t.get("key") != OUT_OF_SERVICE_TAINT]
            spec["taints"] = [*kept, taint] if out_of_service else kept
            if not spec["taints"]:
                del spec["taints"]
            return obj

        with self._lock:
            self._node_exists(node)
            self._writer.mutate("nodes", None, node, change, f"operator: out-of-service={out_of_service}")
        self._wake.set()
