"""A DaemonSet controller, default scheduler, kubelet and node-lifecycle controller, simulated on top of
the in-process test API server, so that `kubectl ds rollout ...` can be tested end to end against
something that moves like a real cluster.

Each pass (`reconcile_once`) runs, in this order (the parts live in tests/sim/):
  * the DaemonSet controller (sim/controller.py, sim/history.py): ControllerRevisions, pod adoption,
    manage(), rollingUpdate() behind the expectations gate, history cleanup and status; plus the garbage
    collector for the pods and revisions of deleted DaemonSets;
  * the scheduler (sim/scheduler.py): binds pending DaemonSet pods to their target node, or leaves them
    Pending with a FailedScheduling event in the real message format;
  * the kubelet (sim/kubelet.py): bound pods go Running, then Ready `ready_after` seconds later; `crash`
    images crash-loop, `bad`/`nonexistent` images fail to pull; terminating pods go away after a short grace;
    pods on a node made NotReady with `set_node_ready` turn Ready=False.

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
from tests.sim.controller import DaemonSetController
from tests.sim.fit import fit_error_message
from tests.sim.kubelet import NODE_LIFECYCLE, Kubelet, crash_restarts, node_readiness
from tests.sim.objects import Obj
from tests.sim.revisions import template_hash
from tests.sim.scheduler import Scheduler
from tests.sim.writer import HistoryEntry, Writer

__all__ = ["ClusterSimulator", "HistoryEntry", "ManualClock", "crash_restarts", "fit_error_message",
           "template_hash"]

log = logging.getLogger(__name__)


class ClusterSimulator:
    """The DaemonSet controller, scheduler and kubelet of a small cluster, writing to an ApiServer.

    `paused` stops every component (nothing moves until it is False again); `history` lists every write
    as (action, kind, namespace/name, detail), the detail starting with the component that made it.
    """

    def __init__(self, server: ApiServer, *, ready_after: float = 0.05, clock: Callable[[], datetime] | None = None,
                 seed: int = 0, tick: float = 0.01) -> None:
        self.server = server
        self.ready_after = ready_after
        self.clock: Callable[[], datetime] = clock or utc_now
        self.tick = tick
        self.paused = False
        self.errors: list[BaseException] = []  # exceptions of background passes
        self._writer = Writer(server, self.clock)
        self._controller = DaemonSetController(self._writer, random.Random(seed))
        self._scheduler = Scheduler(self._writer)
        self._kubelet = Kubelet(self._writer, ready_after)
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
            self._scheduler.run_pass()
            self._kubelet.run_pass()
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
                raise TimeoutError(f"cluster did not settle within {timeout}s; next timer {due}; "
                                   f"last writes: {self.history[-5:]}")
            if changed or due is None:
                continue
            if isinstance(self.clock, ManualClock):
                self.clock.advance_to(due)
            else:
                # The real clock: wait for the timer, but never longer than a tick.
                time.sleep(min(max((due - self.clock()).total_seconds(), 0.001), self.tick))

    def set_node_ready(self, node: str, ready: bool) -> None:
        """What the node-lifecycle controller does when a kubelet stops (or resumes) posting status:
        condition Ready=Unknown plus the `unreachable` NoExecute and NoSchedule taints, or Ready=True without
        them. The pods there turn Ready=False on the next pass."""
        with self._lock:
            if self.server.get("nodes", None, node) is None:
                raise KeyError(f"node {node!r} not found")
            now = self.clock()
            self._writer.mutate("nodes", None, node, lambda obj: node_readiness(obj, ready, now),
                                f"{NODE_LIFECYCLE}: Ready={'True' if ready else 'Unknown'}")
        self._wake.set()
