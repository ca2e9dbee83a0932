"""SHELL. How a managed rollout talks to the cluster: through a RolloutCluster it is given (kube.Cluster
in production, an in-process simulator in tests), with an injected clock and sleep, so that no module
here does I/O of its own.

What it adds to the bare calls: retries of transient failures with backoff; a write that is a PUT of the
object just read, re-read and re-applied on 409; and reads that cost the API server little at 5,000 nodes
(docs/rules.md#r-list-watch): the DaemonSet's pods listed once and followed by watch (rollout/informer.py),
nodes listed once per step, ControllerRevisions listed again only when the DaemonSet's generation moves.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from kubectl_ds import resources as r
from kubectl_ds.errors import (
    TRANSIENT,
    Conflict,
    DsError,
    EvictionRefused,
    RolloutHalted,
    TooManyRequests,
)
from kubectl_ds.placement.requests import ParseQuantity
from kubectl_ds.placement.revisions import owned_revisions, revision_hash
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.events import Event, StepStarted
from kubectl_ds.rollout.gates import ExecInPod, RunCheck
from kubectl_ds.rollout.history import revision_template
from kubectl_ds.rollout.informer import PodInformer
from kubectl_ds.rollout.preflight import read_budgets, read_other_pods

T = TypeVar("T")

RETRIES = 8
# Nodes are listed at each step boundary, and again during a long wait once the list is this old. A node's
# NotReady is itself written 40 s (node-monitor-grace-period) after its kubelet stops posting, so this adds
# at most 30 s to noticing a lost node mid-step; a list of 5,000 nodes is tens of MB (a quorum read before
# 1.31), too much to repeat every few seconds.
NODES_FRESH_FOR = timedelta(seconds=30)


class RolloutCluster(Protocol):
    """What a rollout reads and writes (kube.Cluster implements it)."""

    def get_daemonset(self, *, namespace: str, name: str) -> dict[str, Any]: ...

    def replace_daemonset(self, daemonset: Mapping[str, Any]) -> dict[str, Any]: ...

    def list_nodes(self) -> list[dict[str, Any]]: ...

    def list_pods_versioned(
        self, *, namespace: str, selector: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], str]: ...

    def list_controller_revisions(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]: ...

    def list_scheduling_events(self, *, namespace: str) -> list[dict[str, Any]]: ...

    def list_disruption_budgets(self, *, namespace: str) -> list[dict[str, Any]]: ...

    def list_active_pods(self) -> list[dict[str, Any]]: ...

    def watch_pods(
        self, *, namespace: str, selector: Mapping[str, Any], resource_version: str, timeout: float
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """A burst of pod events after `resource_version`: those already past at once, else the first within
        `timeout`s and what follows without a pause (timeout 0: only those already past). A failure (410 Gone,
        an ERROR event, an error answer, a broken stream) is the last item, ("ERROR", a Status)."""

    def evict_pod(self, *, namespace: str, name: str) -> None: ...

    def delete_pod(self, *, namespace: str, name: str, uid: str | None = None) -> None: ...

    def create_pods(self, *, namespace: str, pods: Sequence[Mapping[str, Any]]) -> None:
        """Create these pods (--prepull), a few at a time; one that exists already counts as created. The first
        error is raised once every create has been tried."""


@dataclass
class Driver:
    """Collaborators of a rollout; every one of them can be swapped in tests."""

    cluster: RolloutCluster
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    say: Callable[[Event], None]
    owner: str = ""
    confirm: Callable[[StepStarted], bool] | None = None
    parse_quantity: ParseQuantity | None = None  # resource quantities: without it, no surge headroom check
    own_node: str | None = None  # the node this driver's own pod runs on, when it runs in the cluster
    interrupted: Callable[[], bool] = lambda: False  # a Ctrl-C or SIGTERM came (even if its exception was lost)
    # --- gates between steps (rollout/gates.py): the processes they start are started by the command layer ---
    run_check: RunCheck | None = None  # --check: run a shell command (commands/rollout/checks.py)
    exec_in_pod: ExecInPod | None = None  # --check-exec: the pods/exec subresource (kube.Cluster.exec_in_pod)

    def __post_init__(self) -> None:
        self.owner = self.owner or f"kubectl-ds/{uuid.uuid4().hex[:12]}"


class Session:
    """One DaemonSet as a rollout sees it: reads with retries and caches, writes with 409 handling."""

    def __init__(self, driver: Driver, *, namespace: str, name: str) -> None:
        self.driver = driver
        self.cluster = driver.cluster
        self.namespace = namespace
        self.name = name
        self._informer: tuple[tuple[str, str], PodInformer] | None = None  # by (DaemonSet uid, selector)
        self._nodes_cache: tuple[datetime, list[dict[str, Any]]] | None = None
        self._nodes_due = True  # a step ended since the last node list
        # The last revision list, and the newest DaemonSet (uid, generation, observedGeneration, collisionCount) it
        # serves: the controller snapshots a revision only when it observes a new generation (or a hash collision).
        self._revisions: tuple[tuple[Any, ...], list[dict[str, Any]]] | None = None

    def now(self) -> datetime:
        return self.driver.clock()

    def retry(self, call: Callable[[], T]) -> T:
        """Call, retrying transient failures (5xx, timeouts, unreachable, load shedding) with backoff; a 429
        waits at least its Retry-After. A PodDisruptionBudget's refusal is an answer, not a failure: it is
        raised at once (docs/rules.md#r-eviction)."""
        delay = 0.2
        for attempt in range(RETRIES):
            try:
                return call()
            except EvictionRefused:
                raise
            except TRANSIENT as error:
                if attempt == RETRIES - 1:
                    raise
                wait = max(delay, error.retry_after or 0.0) if isinstance(error, TooManyRequests) else delay
                self.sleep(wait)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def sleep(self, seconds: float) -> None:
        """Sleep; the pods moved meanwhile unwatched, so the next read catches up with the watch first."""
        self.changed()
        self.driver.sleep(seconds)

    def get(self) -> Obj:
        return self.retry(lambda: self.cluster.get_daemonset(namespace=self.namespace, name=self.name))

    def write(self, change: Callable[[Obj], Obj]) -> Obj:
        """Read, change, PUT; on 409 read again and re-apply the change (it is a function of the object)."""
        for _ in range(RETRIES):
            updated = change(self.get())
            try:
                written = self.retry(lambda: self.cluster.replace_daemonset(updated))  # noqa: B023
            except Conflict:
                continue
            return written
        raise DsError(f'daemonset "{self.name}" keeps changing under us (409 Conflict {RETRIES} times); try again')

    def changed(self) -> None:
        """Pods changed by us (an eviction, a delete) or while we slept: the next read of the pods first applies
        what the watch has since (without waiting), so it sees what a list would."""
        if self._informer is not None:
            self._informer[1].behind()

    def informer(self, daemonset: Obj) -> PodInformer:
        """The DaemonSet's pod informer (a new one, and so a new list, if the DaemonSet was re-created)."""
        selector = r.spec(daemonset).get("selector") or {}
        key = (r.uid(daemonset), json.dumps(selector, sort_keys=True))
        if self._informer is None or self._informer[0] != key:

            def list_pods() -> tuple[list[Obj], str]:
                items, version = self.retry(
                    lambda: self.cluster.list_pods_versioned(namespace=self.namespace, selector=selector)
                )
                pods: list[Obj] = list(items)
                return pods, version

            def watch_pods(version: str, timeout: float) -> Iterator[tuple[str, Obj]]:
                return self.cluster.watch_pods(
                    namespace=self.namespace, selector=selector, resource_version=version, timeout=timeout
                )

            self._informer = (key, PodInformer(list_pods, watch_pods, lambda pod: r.is_controlled_by(pod, daemonset)))
        return self._informer[1]

    def pods(self, daemonset: Obj, *, fresh: bool = False) -> tuple[list[Obj], str]:
        """The DaemonSet's own pods (controller ownerReference) as of the latest watch event, and that version;
        `fresh` (before a step's decisions) first applies whatever the watch has now."""
        informer = self.informer(daemonset)
        if fresh:
            informer.behind()
        return informer.pods()

    def step_ended(self) -> None:
        """A step ended: the next step boundary lists the nodes again."""
        self._nodes_due = True

    def nodes(self, *, fresh: bool = False, max_age: timedelta = NODES_FRESH_FOR) -> list[dict[str, Any]]:
        """The nodes, listed again when `fresh` (a step boundary) and a step ended since the last list, or when
        the last list is older than `max_age`."""
        now = self.now()
        if self._nodes_cache is None or (fresh and self._nodes_due) or now - self._nodes_cache[0] > max_age:
            self._nodes_cache = (now, self.retry(lambda: self.cluster.list_nodes()))
            self._nodes_due = False
        return self._nodes_cache[1]

    def revisions(self, daemonset: Obj) -> list[dict[str, Any]]:
        """The ControllerRevisions, listed again only for a DaemonSet newer than any the last list served: another
        one, or one whose generation, observedGeneration or collisionCount went up since. An older copy of the
        DaemonSet is served by the newer list: that only knows more revisions."""
        status = r.status(daemonset)
        seen = (
            int(r.metadata(daemonset).get("generation") or 0),
            int(status.get("observedGeneration") or 0),
            int(status.get("collisionCount") or 0),
        )
        cached = self._revisions
        if (
            cached is not None
            and cached[0][0] == r.uid(daemonset)
            and all(now <= then for now, then in zip(seen, cached[0][1:], strict=True))
        ):
            return cached[1]
        listed = self._list_revisions(daemonset)
        newest = (
            seen
            if cached is None or cached[0][0] != r.uid(daemonset)
            else tuple(max(now, then) for now, then in zip(seen, cached[0][1:], strict=True))
        )
        self._revisions = ((r.uid(daemonset), *newest), listed)
        return listed

    def _list_revisions(self, daemonset: Obj) -> list[dict[str, Any]]:
        selector = r.spec(daemonset).get("selector") or {}
        return self.retry(lambda: self.cluster.list_controller_revisions(namespace=self.namespace, selector=selector))

    def current_revision(self, daemonset: Obj) -> tuple[str, int]:
        """(hash, number) of the newest revision the controller snapshotted, ("", 0) before the first."""
        owned = owned_revisions(daemonset, self.revisions(daemonset))
        if not owned:
            return "", 0
        return revision_hash(owned[-1]), int(owned[-1].get("revision") or 0)

    def template_of(self, daemonset: Obj, wanted_hash: str) -> Obj:
        # Listed afresh: an abort or a halt must not rely on a revision the controller may have deleted since.
        for revision in owned_revisions(daemonset, self._list_revisions(daemonset)):
            if revision_hash(revision) == wanted_hash:
                return revision_template(revision)
        raise DsError(
            f'the starting revision (hash {wanted_hash}) of daemonset "{self.name}" no longer exists; '
            "roll back with: kubectl ds rollout undo --to-revision N"
        )

    def wait_for_revision(self, daemonset: Obj, timeout: float) -> tuple[str, int]:
        """Wait until the controller has observed the DaemonSet's generation and snapshotted its template
        as the newest ControllerRevision; return that revision."""
        deadline = self.now() + timedelta(seconds=timeout)
        generation = int(r.metadata(daemonset).get("generation") or 0)
        while True:
            current = self.get()
            observed = int(r.status(current).get("observedGeneration") or 0)
            revision = self.current_revision(current)
            if observed >= generation and revision[0]:
                return revision
            if self.now() >= deadline:
                raise RolloutHalted(
                    f'the DaemonSet controller did not pick up the change of daemonset "{self.name}"'
                    f" within {timeout:g}s; is kube-controller-manager running? The DaemonSet stays "
                    f"parked: kubectl ds rollout resume {self.name}"
                )
            self.sleep(0.2)

    def disruption_budgets(self) -> tuple[list[dict[str, Any]], str]:
        return read_budgets(lambda: self.retry(lambda: self.cluster.list_disruption_budgets(namespace=self.namespace)))

    def other_pods_by_node(self, daemonset: Obj, nodes: Sequence[Obj]) -> tuple[dict[str, list[Obj]] | None, str]:
        return read_other_pods(lambda: self.retry(lambda: self.cluster.list_active_pods()), daemonset, nodes)

    def scheduling_events(self) -> list[dict[str, Any]]:
        """FailedScheduling events, or none when they cannot be read (they only add detail)."""
        try:
            return self.cluster.list_scheduling_events(namespace=self.namespace)
        except DsError:
            return []

    def checkpoint(self) -> None:
        """Raise the interruption a signal asked for, in case Python dropped its KeyboardInterrupt (raised
        while a finalizer ran); a wait is where the driver spends its time, so it checks here."""
        if self.driver.interrupted():
            raise KeyboardInterrupt

    def wait_for_pods(self, daemonset: Obj, seconds: float) -> None:
        """Return when pods of the DaemonSet change (the store has applied the burst of events), or after
        `seconds` (a watch, not a poll)."""
        self.checkpoint()
        started = self.now()
        applied = self.informer(daemonset).wait(seconds)
        self.checkpoint()
        # A watch that failed at once (dropped, 410: the next read lists again): do not spin.
        if applied <= 0 and (self.now() - started).total_seconds() < seconds / 2:
            self.sleep(min(0.5, seconds))
