"""SHELL. The DaemonSet's pods as an informer keeps them (docs/rules.md#r-list-watch): one paginated list, then
the events of a watch from its resourceVersion applied to a local store; a list again only when a watch fails
(410 Gone, an ERROR event, a broken stream), because events may have been missed then.

Before Kubernetes 1.31 a list is a quorum read from etcd whose cost grows with the pods, and API Priority and
Fairness charges it several seats; a watch from a recent version is served from the API server's watch cache.
So a rollout lists the pods once and follows them, instead of listing them again after every change.

It is given its list and watch calls (the Session's, with retries), so it does no I/O of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kubectl_ds import resources as r
from kubectl_ds.resources import Obj

ListPods = Callable[[], tuple[list[Obj], str]]
# (resourceVersion, timeout) -> a burst of events (RolloutCluster.watch_pods), a failure as ("ERROR", Status) last.
WatchPods = Callable[[str, float], Iterator[tuple[str, Obj]]]
Keep = Callable[[Obj], bool]


class PodInformer:
    """The pods a selector selects and `keep` accepts (a DaemonSet's own), kept current by watch events."""

    def __init__(self, list_pods: ListPods, watch_pods: WatchPods, keep: Keep) -> None:
        self._list = list_pods
        self._watch = watch_pods
        self._keep = keep
        self._store: dict[str, Obj] = {}  # by uid: a pod deleted and re-created under its name is another pod
        self._version = ""  # of the list, then of the last event applied: where the next watch starts
        self._synced = False  # a list filled the store and no watch failed since
        self._behind = False  # the cluster may have moved unwatched: follow the watch before the next read
        self._view: list[Obj] | None = None
        self.lists = 0  # full lists so far (the first, and one after each failed watch)

    def behind(self) -> None:
        """The cluster moved without the store following it: our own eviction, or time spent asleep. The next
        read first applies what the watch has for it (it does not wait), as a fresh list would show it."""
        self._behind = True

    def pods(self) -> tuple[list[Obj], str]:
        """The pods, in the order a list returns them (by namespace and name), and the store's version."""
        if self._synced and self._behind:
            self._follow(0.0)
        if not self._synced:
            self._relist()
        if self._view is None:
            self._view = sorted(self._store.values(), key=lambda pod: (r.namespace(pod), r.name(pod)))
        return self._view, self._version

    def wait(self, seconds: float) -> int:
        """Apply the next burst of pod events, waiting up to `seconds` for it; how many came (-1: the watch
        failed, and the next read lists again)."""
        if not self._synced:
            self._relist()
        return self._follow(seconds)

    def _relist(self) -> None:
        items, version = self._list()
        self.lists += 1
        self._store = {_key(pod): pod for pod in items if self._keep(pod)}
        self._version = version
        self._synced, self._behind, self._view = True, False, None

    def _follow(self, seconds: float) -> int:
        events = self._watch(self._version, seconds)
        self._behind = False
        applied = 0
        try:
            for kind, obj in events:
                if kind == "ERROR":
                    self._synced = False
                    return -1
                self._apply(kind, obj)
                applied += 1
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return applied

    def _apply(self, kind: str, pod: Obj) -> None:
        version = str(r.metadata(pod).get("resourceVersion") or "")
        if version:
            self._version = version
        if kind == "BOOKMARK":
            return
        key = _key(pod)
        if kind == "DELETED" or not self._keep(pod):  # a pod released by its controller leaves the store too
            if self._store.pop(key, None) is not None:
                self._view = None
            return
        self._store[key] = pod
        self._view = None


def _key(pod: Obj) -> str:
    return r.uid(pod) or f"{r.namespace(pod)}/{r.name(pod)}"
