"""Storage of the test API server: objects, the global resourceVersion, the watch history and the
listeners, and the update strategies (status split, generations, finalizers)."""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from tests.apiserver_admission import Admission
from tests.apiserver_base import (
    GENERATION_KINDS,
    RESOURCES,
    TEMPLATE_GENERATION,
    Obj,
    Resource,
    _key,
    _meta,
    _now,
    resolve_resource,
    rfc3339,
)
from tests.apiserver_index import ListIndex

log = logging.getLogger(__name__)
Listener = Callable[[str, Obj], None]


@dataclass
class _Event:
    rv: int
    type: str
    res: Resource
    obj: Obj
    old: Obj | None  # the previous state of a MODIFIED object, for selector transitions


class Store:
    """The objects and their history; ApiServer builds on it. _commit and the update strategy run under
    self._lock; _dispatch runs after releasing it."""

    def __init__(self, *, watch_history: int, clock: Callable[[], datetime] | None = None) -> None:
        # Where the server's time comes from (timestamps it assigns, the Date header): the wall clock unless a
        # simulation attaches its own, so that a ManualClock drives what clients see as the cluster's time.
        self.clock = clock
        self.admission = Admission()
        self.listener_errors: list[BaseException] = []
        self._lock = threading.RLock()  # guards objects, resourceVersion, history and listeners
        self._changed = threading.Condition(self._lock)
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {r.plural: {} for r in RESOURCES}
        # The sorted keys and recent versions lists are served from, as a real server's storage keeps them.
        self._indexes: dict[str, ListIndex] = {r.plural: ListIndex() for r in RESOURCES}
        self._rv = 0
        self._history: deque[_Event] = deque(maxlen=watch_history)
        self._history_floor = 0  # every change with rv > floor is still in _history
        self._listeners: list[Listener] = []
        self._pending: deque[tuple[str, Obj]] = deque()  # changes not yet handed to listeners
        self._dispatch_lock = threading.Lock()
        self._dispatching = threading.local()

    def _admit(self, res: Resource, obj: Obj, *, create: bool) -> None:
        """Defaulting and admission (tests/apiserver_admission.py), as every write through the API gets."""
        classes = {name: pc for (_, name), pc in self._objects["priorityclasses"].items()}
        self.admission.admit(res, obj, create=create, priority_classes=classes)

    def now(self) -> datetime:
        """The time on this server's clock."""
        return self.clock() if self.clock is not None else _now()

    def _scope(self, res: Resource, meta: Obj, namespace: str | None) -> None:
        if res.namespaced:
            meta["namespace"] = namespace or "default"
        else:
            meta.pop("namespace", None)

    def _commit(self, res: Resource, event_type: str, new: Obj, old: Obj | None) -> Obj:
        """Bump the resourceVersion, store or remove, and notify watchers and listeners."""
        self._rv += 1
        new["metadata"]["resourceVersion"] = str(self._rv)
        table = self._objects[res.plural]
        if event_type == "DELETED":
            table.pop(_key(new), None)
        else:
            table[_key(new)] = new
        if len(self._history) == self._history.maxlen and self._history:
            self._history_floor = self._history[0].rv
        self._indexes[res.plural].write(
            _key(new), self._rv, None if event_type == "DELETED" else new, self._history_floor
        )
        self._history.append(_Event(self._rv, event_type, res, new, old))
        self._pending.append((event_type, new))
        self._changed.notify_all()
        return copy.deepcopy(new)

    def _dispatch(self) -> None:
        """Hand queued changes to listeners; called after releasing self._lock.

        One thread delivers at a time. A thread that finds another one delivering leaves its change
        to it rather than waiting: a listener may then call this server, even over HTTP, without
        deadlocking (its request's change is delivered once the listener returns).
        """
        if getattr(self._dispatching, "active", False):
            return  # a listener wrote; the loop further up this thread's stack delivers it
        while True:
            if not self._dispatch_lock.acquire(blocking=False):
                return  # the delivering thread re-checks the queue after letting go of the lock
            self._dispatching.active = True
            try:
                self._deliver_pending()
            finally:
                self._dispatching.active = False
                self._dispatch_lock.release()
            with self._lock:
                if not self._pending:
                    return

    def _deliver_pending(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                event_type, obj = self._pending.popleft()
                listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener(event_type, copy.deepcopy(obj))
                except Exception as error:  # a broken listener must not break the write
                    log.exception("listener %r failed on %s", listener, event_type)
                    self.listener_errors.append(error)

    def _store_update(
        self,
        res: Resource,
        old: Obj,
        new: Obj,
        *,
        subresource: str | None,
        server_side: bool = False,
        dry_run: bool = False,
    ) -> Obj:
        """Apply the update strategy, then store unless nothing changed (which bumps nothing)."""
        new = self._prepare_update(res, old, new, subresource=subresource, server_side=server_side)
        if self._unchanged(old, new):
            return copy.deepcopy(old)
        if dry_run:
            return new
        meta, old_meta = new["metadata"], old["metadata"]
        if (
            old_meta.get("deletionTimestamp")
            and old_meta.get("finalizers")
            and not meta.get("finalizers")
            and not meta.get("deletionGracePeriodSeconds")
        ):
            return self._commit(res, "DELETED", new, old)  # the last finalizer of a deleted object is gone
        return self._commit(res, "MODIFIED", new, old)

    @staticmethod
    def _unchanged(old: Obj, new: Obj) -> bool:
        def strip(obj: Obj) -> Obj:
            meta = dict(obj.get("metadata") or {})
            meta.pop("resourceVersion", None)
            return {**obj, "metadata": meta}

        return strip(old) == strip(new)

    def _prepare_update(self, res: Resource, old: Obj, new: Obj, *, subresource: str | None, server_side: bool) -> Obj:
        new = copy.deepcopy(new)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta, old_meta = _meta(new), old["metadata"]
        immutable = ["name", "namespace", "uid", "creationTimestamp"]
        if not server_side:
            immutable += ["generation", "deletionTimestamp", "deletionGracePeriodSeconds"]
        for name in immutable:
            if name in old_meta:
                meta[name] = old_meta[name]
            else:
                meta.pop(name, None)
        if subresource == "status":
            # A status write changes status only (metav1.ResetObjectMetaForStatus).
            result = copy.deepcopy(old)
            result["status"] = copy.deepcopy(new.get("status", {}))
            return result
        if res.has_status and not server_side:
            # A write to the main resource cannot change status.
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if res.plural == "daemonsets":
            self._bump_daemonset_generations(old, new)
        elif res.plural in GENERATION_KINDS:
            # The PodDisruptionBudget strategy: a spec change bumps the generation (the eviction API then
            # refuses until the disruption controller has observed it).
            generation = int(old["metadata"].get("generation") or 1)
            new["metadata"]["generation"] = generation + (1 if old.get("spec") != new.get("spec") else 0)
        return new

    @staticmethod
    def _bump_daemonset_generations(old: Obj, new: Obj) -> None:
        """Mirror the DaemonSet strategy's PrepareForUpdate."""
        meta, old_meta = new["metadata"], old["metadata"]
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        generation = int(old_meta.get("generation") or 1)
        meta["generation"] = generation + 1 if old_spec != new_spec else generation

        def template_generation(obj_meta: Obj, fallback: int) -> int:
            try:
                return int((obj_meta.get("annotations") or {})[TEMPLATE_GENERATION])
            except (KeyError, ValueError, TypeError):
                return fallback

        old_tg = template_generation(old_meta, 1)
        new_tg = template_generation(meta, old_tg)
        if old_spec.get("template") != new_spec.get("template") and new_tg == old_tg:
            new_tg = old_tg + 1
        meta.setdefault("annotations", {})[TEMPLATE_GENERATION] = str(new_tg)

    # --- seeding and inspecting state -------------------------------------------------------------

    def add(self, obj: Obj, *, defaults: bool = False) -> Obj:
        """Store a copy as if it had been created; returns the stored copy.

        Fills what the server would: apiVersion/kind, uid, resourceVersion, creationTimestamp,
        namespace `default` for namespaced kinds, and for DaemonSets generation 1 and the template
        generation annotation; values already present are kept so tests can seed any state.
        Field defaulting (a DaemonSet's updateStrategy, a pod spec's restartPolicy, ...) happens only
        with defaults=True, so hand-written fixtures stay exactly as written unless asked.
        Raises ValueError if the object exists.
        """
        res = resolve_resource(str(obj.get("kind", "")))
        new = copy.deepcopy(obj)
        if defaults:
            self._admit(res, new, create=True)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta = _meta(new)
        if not meta.get("name"):
            raise ValueError("add() needs metadata.name")
        self._scope(res, meta, meta.get("namespace"))
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", rfc3339(self.now()))
        if res.plural in GENERATION_KINDS:
            meta.setdefault("generation", 1)
        if res.plural == "daemonsets":
            meta.setdefault("annotations", {}).setdefault(TEMPLATE_GENERATION, "1")
        with self._lock:
            if _key(new) in self._objects[res.plural]:
                raise ValueError(f"{res.plural} {_key(new)} already exists; use update_object()")
            stored = self._commit(res, "ADDED", new, None)
        self._dispatch()
        return stored

    def load(self, objs: Iterable[Obj] | Obj, *, defaults: bool = False) -> None:
        """add() each object; accepts a `kind: List` (or any `*List`) dict as well as an iterable."""
        if isinstance(objs, dict):
            objs = objs.get("items", []) if "items" in objs else [objs]
        for obj in objs:
            self.add(obj, defaults=defaults)

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """A copy of the stored object, or None. kind may be "daemonsets", "DaemonSet", "ds", ...;
        namespace None means "default" for namespaced kinds and is ignored for cluster-scoped ones."""
        res = resolve_resource(kind)
        with self._lock:
            found = self._objects[res.plural].get((namespace or "default", name) if res.namespaced else ("", name))
            return copy.deepcopy(found) if found is not None else None

    def objects(self, kind: str, namespace: str | None = None) -> list[Obj]:
        """Stored objects of a kind, in the server's (namespace, name) order."""
        res = resolve_resource(kind)
        with self._lock:
            return [
                copy.deepcopy(obj)
                for key, obj in sorted(self._objects[res.plural].items())
                if namespace is None or not res.namespaced or key[0] == namespace
            ]

    def update_object(self, obj: Obj) -> Obj:
        """Replace an object server-side, as a controller or kubelet writing through would.

        No resourceVersion precondition and no status/spec split (status is written too), but the
        storage rules still apply: uid and creationTimestamp are kept, DaemonSet generation and
        template generation bump on spec/template changes, a no-op change bumps nothing, and an
        object with a deletionTimestamp whose last finalizer goes away is deleted.
        Raises KeyError if the object does not exist.
        """
        res = resolve_resource(str(obj.get("kind", "")))
        new = copy.deepcopy(obj)
        meta = _meta(new)
        if res.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"
        with self._lock:
            old = self._objects[res.plural].get(_key(new))
            if old is None:
                raise KeyError(f"{res.plural} {_key(new)} not found")
            stored = self._store_update(res, old, new, subresource=None, server_side=True)
        self._dispatch()
        return stored

    def delete_object(self, kind: str, namespace: str | None, name: str) -> None:
        """Remove an object at once (finalizers and grace periods notwithstanding), like a kubelet's
        final grace-period-0 delete. Raises KeyError if it does not exist."""
        res = resolve_resource(kind)
        key = (namespace or "default", name) if res.namespaced else ("", name)
        with self._lock:
            old = self._objects[res.plural].get(key)
            if old is None:
                raise KeyError(f"{res.plural} {key} not found")
            self._commit(res, "DELETED", copy.deepcopy(old), old)
        self._dispatch()

    def compact(self) -> None:
        """Forget the watch history, as etcd compaction does: older resourceVersions now answer 410."""
        with self._lock:
            self._history.clear()
            self._history_floor = self._rv  # continue tokens of older lists now answer 410 too

    # --- listeners --------------------------------------------------------------------------------

    def add_listener(self, fn: Listener) -> None:
        """fn(type, obj) runs after every stored change, in resourceVersion order, one at a time.

        It runs in the writing thread before the write's HTTP response is sent, so a client sees
        the listener's effects once its call returns. Writes a listener makes are queued and
        delivered after it returns (never recursively). Exceptions are logged and collected in
        `listener_errors` rather than failing the write.
        """
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with self._lock:
            self._listeners.remove(fn)
