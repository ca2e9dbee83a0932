"""The disruption controller: the status of every PodDisruptionBudget, which the eviction subresource
(tests/apiserver_eviction.py) reads (docs/rules.md#r-eviction).

For each budget, over the pods of its namespace its selector matches:
  * expectedPods and desiredHealthy (getExpectedPodCount): an integer minAvailable needs no owner: desired =
    minAvailable, expected = the number of selected pods. maxUnavailable and a percentage minAvailable need the
    scale of every pod's controller (getExpectedScale); a DaemonSet has no scale subresource, so the sync fails
    with "daemonsets.apps does not implement the scale subresource" (pods of any other controller: "found no
    controllers for pod ...", as no other workload kind is served here). Pods without a controller are skipped
    with an UnmanagedPods warning.
  * A failed sync (failSafe) sets disruptionsAllowed 0 and the condition DisruptionAllowed=False, reason
    SyncFailed, and leaves status.observedGeneration where it was, so a budget that never synced keeps
    answering evictions with 429 "is still being processed" (plus a CalculateExpectedPodCountFailed event).
  * Otherwise currentHealthy counts Ready pods that are not terminating and not in disruptedPods (an entry
    stays at most 2 minutes, DeletionTimeout, and goes once its pod is terminating or gone), disruptionsAllowed
    = currentHealthy - desiredHealthy (0 when negative or when no pod is expected), observedGeneration =
    generation, and DisruptionAllowed is True (SufficientPods) or False (InsufficientPods).

Source: pkg/controller/disruption/disruption.go (trySync, getExpectedPodCount, getExpectedScale,
getScaleController, countHealthyPods, buildDisruptedPodMap, failSafe, updatePdbStatus); the condition is
written by the helper the eviction subresource uses (pdbhelper.UpdateDisruptionAllowedCondition).

Deviations: a budget is synced on every pass rather than on pod and budget events; the stale DisruptionTarget
condition cleanup is not simulated.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from tests.apiserver import rfc3339
from tests.apiserver_eviction import update_disruption_allowed_condition
from tests.sim import labels as lbl
from tests.sim import objects as o
from tests.sim import pods
from tests.sim.objects import Obj
from tests.sim.writer import Writer

DISRUPTION_CONTROLLER = "controllermanager"  # the event source the disruption controller's recorder uses
DELETION_TIMEOUT = timedelta(minutes=2)


class SyncFailed(Exception):
    """getExpectedPodCount failed: the message goes into the SyncFailed condition."""


def _scaled(value: object, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true)."""
    if isinstance(value, str) and value.endswith("%"):
        return -(-int(value[:-1]) * total // 100)
    return int(str(value))


def expected_pod_count(pdb: Obj, selected: list[Obj]) -> tuple[int, int, list[str]]:
    """getExpectedPodCount: (expectedPods, desiredHealthy, unmanaged pod names), or SyncFailed."""
    spec = o.spec_of(pdb)
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if max_unavailable is None and min_available is None:
        return 0, 0, []
    if max_unavailable is None and not isinstance(min_available, str):
        return len(selected), int(min_available or 0), []
    expected, unmanaged = _expected_scale(selected)
    if max_unavailable is not None:
        return expected, max(0, expected - _scaled(max_unavailable, expected)), unmanaged
    return expected, _scaled(min_available, expected), unmanaged


def _expected_scale(selected: list[Obj]) -> tuple[int, list[str]]:
    """getExpectedScale: the sum of the scale of every pod's controller; this server serves no scalable
    workload, and a DaemonSet has no scale subresource."""
    unmanaged = []
    for pod in selected:
        owner = o.controller_reference(pod)
        if owner is None:
            unmanaged.append(o.name(pod))
        elif owner.get("kind") == "DaemonSet" and str(owner.get("apiVersion", "")).startswith("apps/"):
            raise SyncFailed("daemonsets.apps does not implement the scale subresource")
        else:
            raise SyncFailed(f'found no controllers for pod "{o.name(pod)}"')
    return 0, unmanaged


class DisruptionController:
    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self._reported: set[tuple[str, str]] = set()  # (budget uid, event message) already recorded

    def run_pass(self) -> None:
        for pdb in self.writer.server.objects("poddisruptionbudgets"):
            with self.writer.store_lock():  # read pods and status together, as one informer snapshot
                self._sync(pdb)

    def _event(self, pdb: Obj, event_type: str, reason: str, message: str) -> None:
        if (o.uid(pdb), message) not in self._reported:
            self._reported.add((o.uid(pdb), message))
            self.writer.event(pdb, event_type, reason, message, DISRUPTION_CONTROLLER)

    def _sync(self, pdb: Obj) -> None:
        now = self.writer.clock()
        selector = o.spec_of(pdb).get("selector")
        try:
            matches = lbl.selector_from_label_selector(selector or {}).matches if selector is not None else None
        except lbl.InvalidSelector as error:
            self._event(pdb, "Warning", "NoPods", f"Failed to get pods: {error}")
            return self._fail(pdb, str(error))
        selected = [
            pod
            for pod in self.writer.server.objects("pods", o.namespace(pdb))
            if matches is not None and matches(o.labels_of(pod))
        ]
        if not selected:
            self._event(pdb, "Normal", "NoPods", "No matching pods found")
        try:
            expected, desired, unmanaged = expected_pod_count(pdb, selected)
        except SyncFailed as error:
            self._event(
                pdb,
                "Warning",
                "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {error}",
            )
            return self._fail(pdb, str(error))
        if unmanaged:
            self._event(
                pdb,
                "Warning",
                "UnmanagedPods",
                "Pods selected by this PodDisruptionBudget (selector: "
                f"{selector}) were found to be unmanaged. As a result, the status of the PDB cannot "
                "be calculated correctly, which may result in undefined behavior. To account for these "
                'pods please set ".spec.minAvailable" field of the PDB to an integer value.',
            )
        disrupted = self._disrupted_pods(pdb, selected, now)
        healthy = sum(
            1 for pod in selected if not o.is_terminating(pod) and o.name(pod) not in disrupted and pods.is_ready(pod)
        )
        allowed = healthy - desired if expected > 0 and healthy > desired else 0

        def with_status(obj: Obj) -> Obj:
            status: Obj = {
                "observedGeneration": int(o.meta(obj).get("generation") or 0),
                "disruptedPods": disrupted,
                "disruptionsAllowed": allowed,
                "currentHealthy": healthy,
                "desiredHealthy": desired,
                "expectedPods": expected,
                "conditions": copy.deepcopy(o.status_of(obj).get("conditions") or []),
            }
            if not disrupted:
                del status["disruptedPods"]  # omitempty
            if not status["observedGeneration"]:
                del status["observedGeneration"]
            update_disruption_allowed_condition(status, now)
            obj["status"] = status
            return obj

        self.writer.mutate(
            "poddisruptionbudgets",
            o.namespace(pdb),
            o.name(pdb),
            with_status,
            f"disruption-controller: {allowed} disruptions allowed",
            uid=o.uid(pdb),
        )
        return None

    def _disrupted_pods(self, pdb: Obj, selected: list[Obj], now: datetime) -> dict[str, str]:
        """buildDisruptedPodMap: entries of live, not terminating pods younger than DeletionTimeout; the next
        expiry is a timer."""
        recorded = o.status_of(pdb).get("disruptedPods") or {}
        kept = {}
        for pod in selected:
            stamp = o.parse_timestamp(recorded.get(o.name(pod)))
            if o.is_terminating(pod) or stamp is None:
                continue
            if stamp + DELETION_TIMEOUT < now:
                self.writer.event(
                    pod,
                    "Warning",
                    "NotDeleted",
                    f"Pod was expected by PDB {o.namespace(pdb)}/{o.namespace(pdb)} to be deleted but it wasn't",
                    DISRUPTION_CONTROLLER,
                )
                continue
            kept[o.name(pod)] = rfc3339(stamp)
            self.writer.wait_until(stamp + DELETION_TIMEOUT + timedelta(seconds=1))
        return kept

    def _fail(self, pdb: Obj, message: str) -> None:
        """failSafe: nothing may be disrupted; observedGeneration stays as it was."""
        now = self.writer.clock()

        def fail(obj: Obj) -> Obj:
            status = dict(o.status_of(obj))
            status["disruptionsAllowed"] = 0
            update_disruption_allowed_condition(status, now, reason="SyncFailed", message=message)
            obj["status"] = status
            return obj

        self.writer.mutate(
            "poddisruptionbudgets",
            o.namespace(pdb),
            o.name(pdb),
            fail,
            "disruption-controller: sync failed",
            uid=o.uid(pdb),
        )
