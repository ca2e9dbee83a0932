"""The sorted index the test API server serves list pages from, the way a real API server does.

A real kube-apiserver keeps every object of a resource under a sorted key (`/registry/pods/NS/NAME`), in
etcd and in its watch cache, and a page of a list is a range read: seek to the key the continue token
names, walk forward until `limit` objects matched. The token carries the list's resourceVersion and the
key to start after (`{"v": "meta.k8s.io/v1", "rv": N, "start": "NAME\\u0000"}`, staging/src/k8s.io/apiserver/
pkg/storage/continue.go), so a later page shows the objects as they were at N (etcd's MVCC read at a
revision), and a token older than the last compaction answers 410 Expired.

Here one index per resource holds the sorted keys (namespace, name) and, for each key, its versions since
the compaction floor (the watch history's floor: one compaction for watches and continued lists, as etcd
has). A page costs O(log n + objects walked), not a scan and sort of every object. Keys are kept in a
plain sorted list: an insert or removal moves pointers in C, which at the sizes tests use (15,000
objects) costs microseconds, so every request's Python work stays proportional to its page.

Deviation from a real server: a deleted object's key stays walkable until the floor passes its deletion,
and `remainingItemCount` counts the keys left in the range (an estimate, as the API documents it).
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tests.apiserver_base import Obj

Key = tuple[str, str]  # (namespace or "", name)


@dataclass
class Page:
    items: list[Obj]
    last: Key | None  # the last key walked, where the next page starts after
    more: bool  # some key after `last` is visible at the list's resourceVersion
    remaining: int  # keys left in the range after `last` (remainingItemCount's estimate)


class ListIndex:
    """Sorted keys and versioned objects of one resource."""

    def __init__(self) -> None:
        self._keys: list[Key] = []
        self._versions: dict[Key, list[tuple[int, Obj | None]]] = {}  # ascending rv; None: deleted
        self._writes: deque[tuple[int, Key]] = deque()  # to prune once the floor passes them

    def write(self, key: Key, rv: int, obj: Obj | None, floor: int) -> None:
        """Record the object stored (or deleted, None) at rv; forget what no read at or after floor sees."""
        versions = self._versions.get(key)
        if versions is None:
            versions = self._versions[key] = []
            bisect.insort(self._keys, key)
        versions.append((rv, obj))
        self._writes.append((rv, key))
        while self._writes and self._writes[0][0] <= floor:
            self._prune(self._writes.popleft()[1], floor)

    def _prune(self, key: Key, floor: int) -> None:
        versions = self._versions.get(key)
        if versions is None:
            return
        # Keep the newest version at or before the floor (what a read at the floor sees) and all after it.
        keep_from = 0
        for position, (rv, _) in enumerate(versions):
            if rv <= floor:
                keep_from = position
        if keep_from:
            del versions[:keep_from]
        if len(versions) == 1 and versions[0][1] is None and versions[0][0] <= floor:
            del self._versions[key]
            del self._keys[bisect.bisect_left(self._keys, key)]

    def _at(self, key: Key, rv: int) -> Obj | None:
        for version_rv, obj in reversed(self._versions[key]):
            if version_rv <= rv:
                return obj
        return None  # created after rv

    def page(
        self,
        *,
        namespace: str | None,
        after: Key | None,
        rv: int,
        limit: int,
        selected: Callable[[Obj], bool],
    ) -> Page:
        """Up to `limit` (0: all) objects visible at rv that `selected` keeps, in key order, after `after`,
        within `namespace` (None: every namespace)."""
        keys = self._keys
        start: Key = after if after is not None else (namespace or "", "")
        position = bisect.bisect_right(keys, start)
        end = len(keys) if namespace is None else bisect.bisect_left(keys, (namespace + "\x00", ""))
        items: list[Obj] = []
        last: Key | None = None
        while position < end and (not limit or len(items) < limit):
            key = keys[position]
            position += 1
            obj = self._at(key, rv)
            if obj is None:
                continue
            last = key
            if selected(obj):
                items.append(obj)
        more = any(self._at(keys[later], rv) is not None for later in range(position, end))
        return Page(items=items, last=last, more=more, remaining=end - position)
