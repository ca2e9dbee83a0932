"""Every write the simulated components make, in one place: it goes through ApiServer.add/update_object/
delete_object (so listeners and watches see it), is recorded in `history`, and marks the pass as having
changed something. Nothing is written when nothing changed, which is how settle() tells the cluster is quiet.

Writes that read first hold the server's store lock (what a resourceVersion precondition guarantees on a
real server), so listeners run by those writes must not wait on an HTTP call.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from tests.apiserver import ApiServer, rfc3339
from tests.sim import objects as o
from tests.sim.objects import Obj, View

HistoryEntry = tuple[str, str, str, str]  # (action, kind, namespace/name, detail starting with the component)


def set_condition(
    conditions: list[Obj],
    kind: str,
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    message: str | None = None,
) -> list[Obj]:
    """`conditions` with the `kind` condition set; its lastTransitionTime only moves when its status does."""
    old = next((c for c in conditions if c.get("type") == kind), None)
    moved = old is None or old.get("status") != status
    condition: Obj = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": rfc3339(now) if moved else (old or {}).get("lastTransitionTime"),
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return [condition if c is old else c for c in conditions] if old is not None else [*conditions, condition]


def _without_resource_version(obj: View) -> Obj:
    metadata = {key: value for key, value in o.meta(obj).items() if key != "resourceVersion"}
    return {**obj, "metadata": metadata}


class Writer:
    """The simulation's client: writes, events, and the timers settle() must wait for."""

    def __init__(self, server: ApiServer, clock: Callable[[], datetime]) -> None:
        self.server = server
        self.clock = clock
        self.history: list[HistoryEntry] = []
        self.changed = False
        self.due: list[datetime] = []
        self._event_seq = 0

    def begin_pass(self) -> None:
        self.changed = False
        self.due = []

    def wait_until(self, moment: datetime) -> None:
        """Something will change at `moment` without any write causing it: settle() must wait for it."""
        if moment > self.clock():
            self.due.append(moment)

    def record(self, action: str, kind: str, obj: View, detail: str) -> None:
        self.history.append((action, kind, o.ref(obj), detail))
        self.changed = True

    @contextlib.contextmanager
    def store_lock(self) -> Iterator[None]:
        """The server's store lock, held around read-modify-write so that a concurrent client write is never
        overwritten."""
        lock = getattr(self.server, "_lock", None)
        with lock if lock is not None else contextlib.nullcontext():
            yield

    def create(self, obj: Obj, detail: str) -> Obj | None:
        """POST; pods get the API defaults. None when the name is taken."""
        try:
            stored = self.server.add(obj, defaults=obj.get("kind") == "Pod")
        except ValueError:
            return None
        self.record("create", str(obj["kind"]), stored, detail)
        return stored

    def mutate(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        change: Callable[[Obj], Obj | None],
        detail: str,
        *,
        uid: str | None = None,
    ) -> Obj | None:
        """Read the object (the one with `uid`, if given), let `change` return its new form or None, and write
        it only if it differs."""
        with self.store_lock():
            current = self.server.get(kind, namespace, name)
            if current is None or (uid is not None and o.uid(current) != uid):
                return None
            wanted = change(copy.deepcopy(current))
            if wanted is None or _without_resource_version(wanted) == _without_resource_version(current):
                return None
            stored = self.server.update_object(wanted)
        self.record("update", str(stored["kind"]), stored, detail)
        return stored

    def set_pod_condition(
        self, pod: View, kind: str, status: str, detail: str, *, reason: str | None = None, message: str | None = None
    ) -> Obj | None:
        """Write one condition of a pod's status (its lastTransitionTime moves only with its status)."""
        now = self.clock()

        def change(obj: Obj) -> Obj:
            obj_status = obj.setdefault("status", {})
            obj_status["conditions"] = set_condition(
                list(obj_status.get("conditions") or []), kind, status, now, reason=reason, message=message
            )
            return obj

        return self.mutate("pods", o.namespace(pod), o.name(pod), change, detail, uid=o.uid(pod))

    def delete(self, kind: str, obj: View, detail: str) -> bool:
        """DELETE as the API serves it: with graceful_pod_deletion a bound, running pod only starts terminating
        (deletionTimestamp), and the kubelet removes it later. False if it was gone or already terminating."""
        namespace, name, uid = o.namespace(obj) or None, o.name(obj), o.uid(obj)
        graceful = bool(getattr(self.server, "graceful_pod_deletion", False))
        with self.store_lock():
            current = self.server.get(kind, namespace, name)
            if current is None or o.uid(current) != uid or o.is_terminating(current):
                return False
            if kind == "pods" and graceful and o.spec_of(current).get("nodeName") and not o.is_terminal(current):
                grace = int(o.spec_of(current).get("terminationGracePeriodSeconds", 30))
                current["metadata"]["deletionTimestamp"] = rfc3339(self.clock() + timedelta(seconds=grace))
                current["metadata"]["deletionGracePeriodSeconds"] = grace
                stored = self.server.update_object(current)
                self.record("delete", str(stored["kind"]), stored, f"{detail} (graceful, {grace}s)")
                return True
            self.server.delete_object(kind, namespace, name)
        self.record("delete", str(current["kind"]), current, detail)
        return True

    def remove(self, kind: str, obj: View, detail: str) -> None:
        """The final delete of an object already terminating (the kubelet's, once its containers stopped)."""
        with self.store_lock():
            current = self.server.get(kind, o.namespace(obj) or None, o.name(obj))
            if current is None or o.uid(current) != o.uid(obj):
                return
            self.server.delete_object(kind, o.namespace(obj) or None, o.name(obj))
        self.record("delete", str(current["kind"]), current, detail)

    def event(self, involved: View, event_type: str, reason: str, message: str, component: str) -> None:
        """A core/v1 Event about `involved`, in its namespace, as the component's event recorder writes it."""
        now = self.clock()
        self._event_seq += 1
        stamp = int(now.timestamp() * 1e9) + self._event_seq
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{o.name(involved)}.{stamp:x}",
                "namespace": o.namespace(involved) or "default",
                "creationTimestamp": rfc3339(now),
            },
            "involvedObject": {
                "kind": involved.get("kind"),
                "namespace": o.namespace(involved),
                "name": o.name(involved),
                "uid": o.uid(involved),
                "apiVersion": involved.get("apiVersion"),
                "resourceVersion": o.meta(involved).get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "",
            "firstTimestamp": rfc3339(now),
            "lastTimestamp": rfc3339(now),
            "count": 1,
        }
        self.create(event, f"{component}: {reason}")
