"""A DaemonSet controller, default scheduler, kubelet and node-lifecycle controller, simulated on top of
the in-process test API server, so that `kubectl ds rollout ...` can be tested end to end against
something that moves like a real cluster.

Each pass (`reconcile_once`) runs, in this order:
  * the DaemonSet controller: ControllerRevisions (daemonset-semantics.md §10), pod adoption, manage()
    (§4 podsShouldBeOnNode), rollingUpdate() (§8.2, §8.3) behind the expectations gate (§3), history
    cleanup (§10) and status (§6); plus the garbage collector for pods and revisions of deleted DaemonSets;
  * the scheduler: binds pending DaemonSet pods to their target node, or leaves them Pending with a
    FailedScheduling event in the real message format (§7);
  * the kubelet: bound pods go Running, then Ready `ready_after` seconds later; `crash` images crash-loop,
    `bad`/`nonexistent` images fail to pull; terminating pods go away after a short grace; pods on a node
    made NotReady with `set_node_ready` turn Ready=False (the node-lifecycle controller's MarkPodsNotReady).

Every write goes through ApiServer.add/update_object/delete_object, so listeners and watches see it, and
nothing is written when nothing changed, so `settle()` can tell when the cluster is quiet. All time comes
from `clock` (ManualClock makes a run fully deterministic: settle() then jumps the clock to the next
timer instead of sleeping); the only randomness (pod names, Go's map order in rollingUpdate) comes from
`random.Random(seed)`.

Deliberate simplifications: no failed-pod backoff (failed pods are deleted at once), no slow-start create
batches (creates never fail here), no duplicate-current-revision dedup or orphan-revision adoption, a pod
whose node vanished counts as "should not run" in the surge branch (Go fails the sync), no preemption (so
no `preemption:` suffix in FailedScheduling messages), no kubelet admission (OutOfcpu ...), no init
containers or probes in the kubelet, a node without any status.allocatable has room for anything, and one
global tick instead of per-object work queues. Pods only ever fail because of their image name. `paused`
stops every component, not just the controller.

Two deliberate deviations, both because fixtures and compressed time differ from a real cluster: pods that
share a creationTimestamp second are ordered by creation rather than by name (see _oldest_first), and
templates are compared and hashed in their API-defaulted form (see defaulted_template). Writes that read
first hold the server's store lock, so listeners run by those writes must not wait on an HTTP call.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from kubectl_ds import resources as r
from kubectl_ds.errors import UsageError
from kubectl_ds.kube.quantity import parse_quantity
from kubectl_ds.labelselector import selector_matches
from kubectl_ds.placement.hostports import port_conflicts
from kubectl_ds.placement.pods import is_available, is_ready, parse_time, target_node
from kubectl_ds.placement.predicate import NodeVerdict, node_should_run_daemon_pod
from kubectl_ds.placement.requests import resource_shortfalls
from kubectl_ds.placement.revisions import revision_hash
from kubectl_ds.placement.taints import daemonset_pod_tolerations, untolerated_taints
from kubectl_ds.rollout.budget import compute_budget
from kubectl_ds.strategy import allows_surge, rolling_update_values, update_strategy_type
from tests.apiserver import ApiServer, apply_defaults, resolve_resource, rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]
HistoryEntry = tuple[str, str, str, str]

HASH_LABEL = r.REVISION_HASH_LABEL
GENERATION_LABEL = r.TEMPLATE_GENERATION_LABEL
GENERATION_ANNOTATION = r.TEMPLATE_GENERATION_ANNOTATION
BURST_REPLICAS = 250  # the most creates, and separately deletes, per sync (§1)
DEFAULT_HISTORY_LIMIT = 10
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
NODE_AFFINITY_REASON = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the API server's generateName draws from
CONTROLLER = "daemonset-controller"
SCHEDULER = "default-scheduler"
KUBELET = "kubelet"
NODE_LIFECYCLE = "node-lifecycle-controller"
GARBAGE_COLLECTOR = "garbage-collector"
# Crash-loop back-off: 10s doubling to 5 min in a real kubelet; here `ready_after` doubling to 32 times it.
CRASH_BACKOFF_CAP = 32


class ManualClock:
    """A clock that only moves when told to; settle() advances it to the next timer by itself."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            self._now = max(self._now, moment)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


# ======================================================================================================
# Pure helpers
# ======================================================================================================

def defaulted_template(template: Mapping[str, Any]) -> Obj:
    """The template as the API server stores it once defaulted (restartPolicy, imagePullPolicy, ...).

    A real cluster only ever holds defaulted templates; fixtures seeded with add(defaults=False) do not, and an
    HTTP write defaults them later. Comparing and hashing defaulted forms keeps such a no-op from looking like
    a new revision, and makes a rollback to an undefaulted revision match it again.
    """
    wrapper: Obj = {"spec": {"template": copy.deepcopy(dict(template))}}
    apply_defaults(resolve_resource("daemonsets"), wrapper)
    return cast(Obj, wrapper["spec"]["template"])


def same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a == b or defaulted_template(a) == defaulted_template(b)


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """A short stable hash of the (defaulted) pod template (§10). Go's FNV hash cannot be reproduced; any stable
    one will do."""
    canonical = json.dumps(defaulted_template(template), sort_keys=True, separators=(",", ":"))
    if collision_count:
        canonical += f"#{collision_count}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def revision_data(template: Mapping[str, Any]) -> Obj:
    """getPatch: {"spec": {"template": {..., "$patch": "replace"}}} (update.go; the marker sits in the template)."""
    return {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}


def revision_template(revision: Obj) -> Obj:
    template = ((revision.get("data") or {}).get("spec") or {}).get("template") or {}
    return {key: value for key, value in template.items() if key != "$patch"}


def template_generation(daemonset: Obj) -> str | None:
    """The deprecated.daemonset.template.generation annotation, if it parses as an integer."""
    value = r.annotations_of(daemonset).get(GENERATION_ANNOTATION)
    try:
        return str(int(value)) if value is not None else None
    except ValueError:
        return None


def is_pod_updated(pod: Obj, hash_: str, generation: str | None) -> bool:
    """util.IsPodUpdated (§8.1): the hash label matches, or the legacy template-generation label does."""
    pod_labels = r.labels(pod)
    if pod_labels.get(HASH_LABEL) == hash_:
        return True
    return generation is not None and pod_labels.get(GENERATION_LABEL) == generation


def find_updated_pods_on_node(pods: Sequence[Obj], hash_: str,
                              generation: str | None) -> tuple[Obj | None, Obj | None, bool]:
    """findUpdatedPodsOnNode (§8.2): (new, old, ok); not ok when a node has two live new or two live old pods."""
    new = old = None
    for pod in pods:
        if _terminating(pod):
            continue
        if is_pod_updated(pod, hash_, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def pinned_affinity(affinity: Obj | None, node: str) -> Obj:
    """ReplaceDaemonSetPodNodeNameNodeAffinity (§3.2): every required term becomes `metadata.name In [node]`;
    preferred terms stay."""
    result = copy.deepcopy(affinity) if affinity else {}
    node_affinity = result.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}
    return result


def controller_ref(daemonset: Obj) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": r.name(daemonset), "uid": r.uid(daemonset),
            "controller": True, "blockOwnerDeletion": True}


def daemon_pod(daemonset: Obj, node: str, hash_: str, name: str, now: datetime) -> Obj:
    """The pod syncNodes creates (§3): template + automatic tolerations + pinned affinity, no nodeName."""
    template = r.pod_template(daemonset)
    template_meta = template.get("metadata") or {}
    pod_labels = dict(template_meta.get("labels") or {})
    generation = template_generation(daemonset)
    if generation is not None:
        pod_labels[GENERATION_LABEL] = generation
    pod_labels[HASH_LABEL] = hash_
    spec = copy.deepcopy(dict(template.get("spec") or {}))
    spec["tolerations"] = daemonset_pod_tolerations(spec.get("tolerations") or [],
                                                    host_network=bool(spec.get("hostNetwork")))
    spec["affinity"] = pinned_affinity(spec.get("affinity"), node)
    metadata: Obj = {"name": name, "generateName": _generate_base(r.name(daemonset)),
                     "namespace": r.namespace(daemonset), "labels": pod_labels,
                     "ownerReferences": [controller_ref(daemonset)], "creationTimestamp": rfc3339(now)}
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": {"phase": "Pending"}}


def _generate_base(name: str) -> str:
    return f"{name[:58]}-"  # names.SimpleNameGenerator keeps 58 characters of the base


def _terminating(obj: Obj) -> bool:
    return bool(r.metadata(obj).get("deletionTimestamp"))


def _phase(pod: Obj) -> str:
    return str(r.status(pod).get("phase") or "")


def _is_terminal(pod: Obj) -> bool:
    return _phase(pod) in ("Succeeded", "Failed")


def _selector_is_empty(selector: Obj) -> bool:
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def fit_error_message(total_nodes: int, target_reasons: Sequence[str]) -> str:
    """FitError.Error (§7): `0/N nodes are available: <count> <reason>, ...` sorted as strings, ending in `.`.

    Every node but the target one is cut by the NodeAffinity PreFilter.
    """
    counts: dict[str, int] = {reason: 1 for reason in target_reasons}
    if total_nodes > 1:
        counts[NODE_AFFINITY_REASON] = counts.get(NODE_AFFINITY_REASON, 0) + total_nodes - 1
    parts = sorted(f"{count} {reason}" for reason, count in counts.items())
    return f"0/{total_nodes} nodes are available: {', '.join(parts)}."


def scheduling_failures(pod: Obj, node: Obj, pods_on_node: Sequence[Obj]) -> list[str]:
    """The reasons the first failing Filter plugin gives on the target node, in the default plugin order
    (NodeUnschedulable, TaintToleration, NodePorts, NodeResourcesFit); empty when the pod fits (§7)."""
    spec = r.spec(pod)
    tolerations = list(spec.get("tolerations") or [])
    if r.spec(node).get("unschedulable") and untolerated_taints(
            [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}], tolerations, {"NoSchedule"}):
        return ["node(s) were unschedulable"]
    untolerated = untolerated_taints(r.node_taints(node), tolerations, {"NoSchedule", "NoExecute"})
    if untolerated:
        return [f"node(s) had untolerated taint {{{untolerated[0].key}: {untolerated[0].value}}}"]
    if port_conflicts(spec, pods_on_node):
        return ["node(s) didn't have free ports for the requested pod ports"]
    if "allocatable" not in r.status(node):
        return []  # a hand-written node without any allocatable figures: assume room (real nodes always report)
    return ["Too many pods" if shortfall.resource == "pods" else f"Insufficient {shortfall.resource}"
            for shortfall in resource_shortfalls(spec, node, pods_on_node, parse_quantity)]


def crash_restarts(elapsed: float, ready_after: float) -> int:
    """How often a crash-looping container has restarted `elapsed` seconds after it first started:
    restart k comes ready_after * min(2**(k-1), CRASH_BACKOFF_CAP) after restart k-1."""
    if ready_after <= 0:
        return 0
    steps, passed, delay = 0, 0.0, 1
    while delay < CRASH_BACKOFF_CAP:
        if passed + delay * ready_after > elapsed:
            return steps
        passed += delay * ready_after
        steps += 1
        delay *= 2
    return steps + int((elapsed - passed) // (CRASH_BACKOFF_CAP * ready_after))


def _image_fails_to_pull(image: str) -> bool:
    return "bad" in image or "nonexistent" in image


def _image_crashes(image: str) -> bool:
    return "crash" in image


def set_condition(conditions: list[Obj], kind: str, status: str, now: datetime, *, reason: str | None = None,
                  message: str | None = None) -> list[Obj]:
    """Conditions with `kind` set; lastTransitionTime only moves when the status does."""
    old = next((c for c in conditions if c.get("type") == kind), None)
    moved = old is None or old.get("status") != status
    condition: Obj = {"type": kind, "status": status,
                      "lastProbeTime": None,
                      "lastTransitionTime": rfc3339(now) if moved else (old or {}).get("lastTransitionTime")}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    if old is None:
        return [*conditions, condition]
    return [condition if c is old else c for c in conditions]


def _node_ip(node: Obj) -> str | None:
    for address in r.status(node).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address"))
    return None


# ======================================================================================================
# The simulation
# ======================================================================================================

class ClusterSimulator:
    """The DaemonSet controller, scheduler and kubelet of a small cluster, writing to an ApiServer.

    `paused` stops every component (nothing moves until it is False again); `history` lists every write
    as (action, kind, namespace/name, detail), the detail starting with the component that made it.
    """

    def __init__(self, server: ApiServer, *, ready_after: float = 0.05, clock: Callable[[], datetime] | None = None,
                 seed: int = 0, tick: float = 0.01) -> None:
        self.server = server
        self.ready_after = ready_after
        self.clock: Callable[[], datetime] = clock or _utc_now
        self.tick = tick
        self.paused = False
        self.history: list[HistoryEntry] = []
        self.errors: list[BaseException] = []  # exceptions of background passes
        self._rng = random.Random(seed)
        self._lock = threading.RLock()  # one pass at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._changed = False
        self._due: list[datetime] = []
        self._next_due: datetime | None = None
        # kubelet memory, by pod uid
        self._started: dict[str, datetime] = {}
        self._terminating_since: dict[str, datetime] = {}
        self._marked_not_ready: set[str] = set()
        self._pod_ips: dict[str, str] = {}
        # scheduler memory: (pod uid, message) already reported in a FailedScheduling event
        self._reported: set[tuple[str, str]] = set()
        self._selecting_all_reported: set[str] = set()
        self._event_seq = 0
        self._creation_order: dict[str, int] = {}  # pod uid -> creation sequence, see _oldest_first
        self._creation_counter = itertools.count(1)

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
            self._changed = False
            self._due = []
            self._note_new_pods()
            self._controller_pass()
            self._scheduler_pass()
            self._kubelet_pass()
            self._next_due = min(self._due, default=None)
            return self._changed

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
                wait = (due - self.clock()).total_seconds()
                time.sleep(min(max(wait, 0.001), self.tick))

    def set_node_ready(self, node: str, ready: bool) -> None:
        """What the node-lifecycle controller does when a kubelet stops (or resumes) posting status:
        condition Ready=Unknown plus the `unreachable` NoExecute and NoSchedule taints (§2.5, §12.3), or
        Ready=True without them. The pods there turn Ready=False on the next pass."""
        with self._lock:
            if self.server.get("nodes", None, node) is None:
                raise KeyError(f"node {node!r} not found")
            now = self.clock()
            self._mutate("nodes", None, node, lambda obj: _node_readiness(obj, ready, now),
                         f"{NODE_LIFECYCLE}: Ready={'True' if ready else 'Unknown'}")
        self._wake.set()

    # ==============================================================================================
    # Writes: every one is recorded in `history` and marks the pass as having changed something
    # ==============================================================================================

    def _record(self, action: str, kind: str, obj: Obj, detail: str) -> None:
        namespace = r.namespace(obj)
        self.history.append((action, kind, f"{namespace}/{r.name(obj)}" if namespace else r.name(obj), detail))
        self._changed = True

    @contextlib.contextmanager
    def _store_lock(self) -> Iterator[None]:
        """The server's store lock, held around read-modify-write so that a concurrent client write is never
        overwritten (what a resourceVersion precondition guarantees on a real server)."""
        lock = getattr(self.server, "_lock", None)
        with lock if lock is not None else contextlib.nullcontext():
            yield

    def _create(self, obj: Obj, detail: str) -> Obj | None:
        try:
            stored = self.server.add(obj, defaults=obj.get("kind") == "Pod")
        except ValueError:
            return None  # the name is taken
        self._record("create", str(obj["kind"]), stored, detail)
        return stored

    def _mutate(self, kind: str, namespace: str | None, name: str, change: Callable[[Obj], Obj | None],
                detail: str, *, uid: str | None = None) -> Obj | None:
        """Read the object, let `change` return its new form (or None), write only if it differs."""
        with self._store_lock():
            current = self.server.get(kind, namespace, name)
            if current is None or (uid is not None and r.uid(current) != uid):
                return None
            wanted = change(copy.deepcopy(current))
            if wanted is None or _same(wanted, current):
                return None
            stored = self.server.update_object(wanted)
        self._record("update", str(stored["kind"]), stored, detail)
        return stored

    def _delete(self, kind: str, obj: Obj, detail: str) -> bool:
        """Delete as an API DELETE would: with graceful_pod_deletion a bound, running pod only starts
        terminating (deletionTimestamp), and the kubelet removes it later."""
        namespace, name, uid = r.namespace(obj) or None, r.name(obj), r.uid(obj)
        graceful = bool(getattr(self.server, "graceful_pod_deletion", False))
        with self._store_lock():
            current = self.server.get(kind, namespace, name)
            if current is None or r.uid(current) != uid or _terminating(current):
                return False
            if kind == "pods" and graceful and r.spec(current).get("nodeName") and not _is_terminal(current):
                grace = int(r.spec(current).get("terminationGracePeriodSeconds", 30))
                meta = current["metadata"]
                meta["deletionTimestamp"] = rfc3339(self.clock() + timedelta(seconds=grace))
                meta["deletionGracePeriodSeconds"] = grace
                stored = self.server.update_object(current)
                self._record("delete", str(stored["kind"]), stored, f"{detail} (graceful, {grace}s)")
                return True
            self.server.delete_object(kind, namespace, name)
        self._record("delete", str(current["kind"]), current, detail)
        return True

    def _event(self, involved: Obj, event_type: str, reason: str, message: str, component: str) -> None:
        """A core/v1 Event about `involved`, in its namespace, as the component's event recorder writes it."""
        now = self.clock()
        namespace = r.namespace(involved) or "default"
        self._event_seq += 1
        stamp = int(now.timestamp() * 1e9) + self._event_seq
        event: Obj = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{r.name(involved)}.{stamp:x}", "namespace": namespace,
                         "creationTimestamp": rfc3339(now)},
            "involvedObject": {"kind": involved.get("kind"), "namespace": r.namespace(involved),
                               "name": r.name(involved), "uid": r.uid(involved),
                               "apiVersion": involved.get("apiVersion"),
                               "resourceVersion": r.metadata(involved).get("resourceVersion")},
            "reason": reason, "message": message, "type": event_type,
            "source": {"component": component}, "reportingComponent": component, "reportingInstance": "",
            "firstTimestamp": rfc3339(now), "lastTimestamp": rfc3339(now), "count": 1,
        }
        self._create(event, f"{component}: {reason}")

    # ==============================================================================================
    # DaemonSet controller
    # ==============================================================================================

    def _controller_pass(self) -> None:
        nodes = sorted(self.server.objects("nodes"), key=r.name)
        daemonsets = self.server.objects("daemonsets")
        for daemonset in daemonsets:
            self._sync_daemonset(daemonset, nodes)
        self._collect_garbage({r.uid(ds) for ds in daemonsets})

    def _sync_daemonset(self, daemonset: Obj, nodes: list[Obj]) -> None:
        """syncDaemonSet: history, adoption, manage(), rollingUpdate() if manage() wrote nothing (§3), history
        cleanup, status."""
        if _terminating(daemonset):
            return  # §5: a DaemonSet being deleted is left alone
        selector = r.spec(daemonset).get("selector") or {}
        if _selector_is_empty(selector):
            if r.uid(daemonset) not in self._selecting_all_reported:
                self._selecting_all_reported.add(r.uid(daemonset))
                self._event(daemonset, "Warning", "SelectingAll",
                            "This daemon set is selecting all pods. A non-empty selector is required.", CONTROLLER)
            return
        hash_, old_revisions = self._construct_history(daemonset)
        by_node = self._nodes_to_daemon_pods(daemonset, include_deleted_terminal=False, claim=True)
        verdicts = {r.name(node): node_should_run_daemon_pod(daemonset, node) for node in nodes}
        wrote = self._manage(daemonset, verdicts, by_node, hash_)
        if not wrote and update_strategy_type(daemonset) == "RollingUpdate":
            self._rolling_update(daemonset, verdicts, by_node, hash_)
        self._cleanup_history(daemonset, old_revisions)
        self._update_status(daemonset, verdicts, hash_)

    # --- §10 ControllerRevisions ---------------------------------------------------------------------

    def _owned_revisions(self, daemonset: Obj) -> list[Obj]:
        revisions = self.server.objects("controllerrevisions", r.namespace(daemonset))
        return [rev for rev in revisions if r.is_controlled_by(rev, daemonset)]

    def _construct_history(self, daemonset: Obj) -> tuple[str, list[Obj]]:
        """The current revision's hash, creating or renumbering it (constructHistory), and the old revisions."""
        template = r.pod_template(daemonset)
        revisions = self._owned_revisions(daemonset)
        current = [rev for rev in revisions if same_template(revision_template(rev), template)]
        old = [rev for rev in revisions if not same_template(revision_template(rev), template)]
        next_number = max((int(rev.get("revision") or 0) for rev in old), default=0) + 1
        if current:
            cur = max(current, key=lambda rev: int(rev.get("revision") or 0))
            old += [rev for rev in current if rev is not cur]  # duplicates: cleaned up as old ones
            if int(cur.get("revision") or 0) < next_number:
                # Rollback: the revision matching the template again becomes the newest.
                self._mutate("controllerrevisions", r.namespace(cur), r.name(cur),
                             lambda rev: {**rev, "revision": next_number},
                             f"{CONTROLLER}: renumber revision to {next_number}")
            return revision_hash(cur), old
        return self._snapshot(daemonset, next_number), old

    def _snapshot(self, daemonset: Obj, number: int) -> str:
        template = r.pod_template(daemonset)
        collisions = int(r.status(daemonset).get("collisionCount") or 0)
        while True:
            hash_ = template_hash(template, collisions)
            name = f"{r.name(daemonset)}-{hash_}"
            existing = self.server.get("controllerrevisions", r.namespace(daemonset), name)
            if existing is None:
                break
            if same_template(revision_template(existing), template):
                return hash_
            collisions += 1  # a name clash with other content: bump status.collisionCount and rehash
            self._mutate("daemonsets", r.namespace(daemonset), r.name(daemonset), _with_collision_count(collisions),
                         f"{CONTROLLER}: collisionCount {collisions}")
        template_labels = (template.get("metadata") or {}).get("labels") or {}
        revision: Obj = {
            "apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": name, "namespace": r.namespace(daemonset),
                         "labels": {**template_labels, HASH_LABEL: hash_},
                         "ownerReferences": [controller_ref(daemonset)],
                         "creationTimestamp": rfc3339(self.clock())},
            "data": revision_data(template), "revision": number,
        }
        annotations = dict(r.annotations_of(daemonset))
        if annotations:
            revision["metadata"]["annotations"] = annotations  # carries kubernetes.io/change-cause
        self._create(revision, f"{CONTROLLER}: revision {number}")
        return hash_

    def _cleanup_history(self, daemonset: Obj, old: list[Obj]) -> None:
        """cleanupHistory: keep revisionHistoryLimit old revisions, oldest deleted first, never one whose
        hash a live pod (terminal ones included) still carries."""
        limit = r.spec(daemonset).get("revisionHistoryLimit")
        to_kill = len(old) - (DEFAULT_HISTORY_LIMIT if limit is None else int(limit))
        if to_kill <= 0:
            return
        by_node = self._nodes_to_daemon_pods(daemonset, include_deleted_terminal=True, claim=False)
        live = {r.labels(pod).get(HASH_LABEL) for pods in by_node.values() for pod in pods}
        for revision in sorted(old, key=lambda rev: int(rev.get("revision") or 0)):
            if to_kill <= 0:
                break
            if revision_hash(revision) in live:
                continue
            self._delete("controllerrevisions", revision, f"{CONTROLLER}: revision history limit")
            to_kill -= 1

    # --- §4, §5 pods by node ---------------------------------------------------------------------------

    def _nodes_to_daemon_pods(self, daemonset: Obj, *, include_deleted_terminal: bool,
                              claim: bool) -> dict[str, list[Obj]]:
        """getNodesToDaemonPods: owned pods matching the selector plus adopted orphans, keyed by target node.

        With `claim`, orphans that match are adopted and owned pods that stopped matching are released
        (both are writes, as ClaimPods makes them)."""
        selector = r.spec(daemonset).get("selector") or {}
        result: dict[str, list[Obj]] = {}
        for pod in self.server.objects("pods", r.namespace(daemonset)):
            owner = r.controller_owner_uid(pod)
            matches = selector_matches(selector, r.labels(pod))
            if owner == r.uid(daemonset):
                if not matches:
                    if claim:
                        self._release(daemonset, pod)
                    continue
            elif owner is None and matches and not _terminating(pod):
                if not claim:
                    continue
                pod = self._adopt(daemonset, pod) or pod
            else:
                continue
            if _is_terminal(pod) and _terminating(pod) and not include_deleted_terminal:
                continue
            node = target_node(pod)
            if node is not None:
                result.setdefault(node, []).append(pod)
        return result

    def _adopt(self, daemonset: Obj, pod: Obj) -> Obj | None:
        def adopt(obj: Obj) -> Obj:
            refs = list(r.metadata(obj).get("ownerReferences") or [])
            obj["metadata"]["ownerReferences"] = [*refs, controller_ref(daemonset)]
            return obj
        return self._mutate("pods", r.namespace(pod), r.name(pod), adopt, f"{CONTROLLER}: adopt", uid=r.uid(pod))

    def _release(self, daemonset: Obj, pod: Obj) -> None:
        def release(obj: Obj) -> Obj:
            refs = r.metadata(obj).get("ownerReferences") or []
            obj["metadata"]["ownerReferences"] = [ref for ref in refs if ref.get("uid") != r.uid(daemonset)]
            return obj
        self._mutate("pods", r.namespace(pod), r.name(pod), release, f"{CONTROLLER}: release", uid=r.uid(pod))

    # --- §4 manage() ---------------------------------------------------------------------------------

    def _manage(self, daemonset: Obj, verdicts: dict[str, NodeVerdict], by_node: dict[str, list[Obj]],
                hash_: str) -> bool:
        """manage(): per-node create/delete decisions, then unscheduled pods whose node is gone. True if it wrote."""
        create_on: list[str] = []
        delete: list[Obj] = []
        for node, verdict in verdicts.items():
            creates, deletes = self._pods_should_be_on_node(daemonset, node, verdict, by_node.get(node), hash_)
            create_on += creates
            delete += deletes
        for node, pods in by_node.items():
            if node not in verdicts:
                # getUnscheduledPodsWithoutNode: bound ones are left to PodGC.
                delete += [pod for pod in pods if not r.spec(pod).get("nodeName") and not _terminating(pod)]
        return self._sync_nodes(daemonset, delete, create_on, hash_)

    def _pods_should_be_on_node(self, daemonset: Obj, node: str, verdict: NodeVerdict, pods: list[Obj] | None,
                                hash_: str) -> tuple[list[str], list[Obj]]:
        """podsShouldBeOnNode (§4)."""
        if verdict.should_run and pods is None:
            return [node], []
        if not verdict.should_continue_running:
            return [], [pod for pod in pods or [] if not _terminating(pod)]
        running, delete = self._failed_and_running(daemonset, node, pods or [])
        if not _allows_surge(daemonset):
            # Only one pod per node: keep the oldest. None running (only terminating/failed): wait.
            return [], delete + self._oldest_first(running)[1:]
        if len(running) <= 1:
            # Surge mode replaces a terminating pod at once.
            return ([node] if not running and verdict.should_run else []), delete
        return [], delete + self._surge_extras(daemonset, self._oldest_first(running), hash_)

    def _failed_and_running(self, daemonset: Obj, node: str, pods: list[Obj]) -> tuple[list[Obj], list[Obj]]:
        """Split live pods into running ones and failed/succeeded ones to delete (no failure back-off here)."""
        running: list[Obj] = []
        delete: list[Obj] = []
        for pod in pods:
            if _terminating(pod):
                continue
            where = f"{r.namespace(pod)}/{r.name(pod)} on node {node}"
            if _phase(pod) == "Failed":
                self._event(daemonset, "Warning", "FailedDaemonPod",
                            f"Found failed daemon pod {where}, will try to kill it", CONTROLLER)
                delete.append(pod)
            elif _phase(pod) == "Succeeded":
                self._event(daemonset, "Normal", "SucceededDaemonPod",
                            f"Found succeeded daemon pod {where}, will try to delete it", CONTROLLER)
                delete.append(pod)
            else:
                running.append(pod)
        return running, delete

    def _surge_extras(self, daemonset: Obj, running: list[Obj], hash_: str) -> list[Obj]:
        """Surge mode (§4): keep the oldest new and the oldest old pod; drop the old one once the new one is
        available, or at once if the old one is not ready."""
        oldest_new = oldest_old = None
        delete: list[Obj] = []
        for pod in running:  # old and new told apart by the hash label only (§4 notes)
            if r.labels(pod).get(HASH_LABEL) == hash_:
                if oldest_new is None:
                    oldest_new = pod
                    continue
            elif oldest_old is None:
                oldest_old = pod
                continue
            delete.append(pod)
        if oldest_new is not None and oldest_old is not None and (
                not is_ready(oldest_old) or self._available(daemonset, oldest_new)):
            delete.append(oldest_old)
        return delete

    def _sync_nodes(self, daemonset: Obj, delete: list[Obj], create_on: list[str], hash_: str) -> bool:
        """syncNodes (§3): creates then deletes, each capped at BurstReplicas, with the controller's events."""
        wrote = False
        for node in create_on[:BURST_REPLICAS]:
            pod = self._create_pod(daemonset, node, hash_)
            if pod is not None:
                wrote = True
                self._event(daemonset, "Normal", "SuccessfulCreate", f"Created pod: {r.name(pod)}", CONTROLLER)
        seen: set[str] = set()
        for pod in delete[:BURST_REPLICAS]:
            if r.uid(pod) in seen:
                continue
            seen.add(r.uid(pod))
            if self._delete("pods", pod, f"{CONTROLLER}: delete from node {target_node(pod)}"):
                wrote = True
                self._event(daemonset, "Normal", "SuccessfulDelete", f"Deleted pod: {r.name(pod)}", CONTROLLER)
        return wrote

    def _create_pod(self, daemonset: Obj, node: str, hash_: str) -> Obj | None:
        for _ in range(10):
            suffix = "".join(self._rng.choice(NAME_ALPHABET) for _ in range(5))
            name = _generate_base(r.name(daemonset)) + suffix
            pod = daemon_pod(daemonset, node, hash_, name, self.clock())
            created = self._create(pod, f"{CONTROLLER}: node {node}")
            if created is not None:
                self._creation_order[r.uid(created)] = next(self._creation_counter)
                return created
        return None

    def _oldest_first(self, pods: Sequence[Obj]) -> list[Obj]:
        """podByCreationTimestampAndPhase: bound pods first, then older, then by name.

        creationTimestamp has one-second resolution, and simulated time runs far faster than real time, so
        pods that a real cluster would create seconds apart often share a second here. Within a second they
        are ordered by creation (what the timestamps would show at real speed), not by their random names:
        otherwise "keep the oldest pod" could keep a brand-new pod and delete the old, Ready one.
        """
        return sorted(pods, key=lambda pod: (not r.spec(pod).get("nodeName"),
                                             str(r.metadata(pod).get("creationTimestamp") or ""),
                                             self._creation_order.get(r.uid(pod), 0), r.name(pod)))

    def _note_new_pods(self) -> None:
        """Remember the creation order of pods this simulation did not create (by resourceVersion)."""
        pods = self.server.objects("pods")
        fresh = [pod for pod in pods if r.uid(pod) not in self._creation_order]
        for pod in sorted(fresh, key=lambda p: int(r.metadata(p).get("resourceVersion") or 0)):
            self._creation_order[r.uid(pod)] = next(self._creation_counter)
        live = {r.uid(pod) for pod in pods}
        for uid in [uid for uid in self._creation_order if uid not in live]:
            del self._creation_order[uid]

    def _available(self, daemonset: Obj, pod: Obj) -> bool:
        """IsPodAvailable with the DaemonSet's minReadySeconds; a pod that will become available later sets a
        timer so settle() waits for it."""
        min_ready = int(r.spec(daemonset).get("minReadySeconds") or 0)
        now = self.clock()
        if is_available(pod, min_ready, now):
            return True
        if is_ready(pod) and min_ready > 0:
            ready_since = _ready_since(pod)
            if ready_since is not None:
                self._wait_until(ready_since + timedelta(seconds=min_ready))
        return False

    # --- §8 rollingUpdate() ---------------------------------------------------------------------------

    def _rolling_update(self, daemonset: Obj, verdicts: dict[str, NodeVerdict], by_node: dict[str, list[Obj]],
                        hash_: str) -> None:
        """rollingUpdate (§8.1-§8.3), visiting nodes in a seeded random order as Go's map iteration would."""
        wanted = [node for node, verdict in verdicts.items() if verdict.should_run]
        node_to_pods = {node: list(pods) for node, pods in sorted(by_node.items())}
        for node in wanted:
            node_to_pods.setdefault(node, [])
        try:
            max_unavailable, max_surge = rolling_update_values(daemonset)
            budget = compute_budget(max_unavailable, max_surge, len(wanted))
        except UsageError as error:  # "invalid value for MaxUnavailable/MaxSurge": the sync fails
            log.warning("rolling update of %s skipped: %s", r.qualified_name(daemonset), error)
            return
        order = list(node_to_pods)
        self._rng.shuffle(order)
        if budget.max_surge == 0:
            delete = self._rolling_delete(daemonset, order, node_to_pods, hash_, budget.max_unavailable)
            self._sync_nodes(daemonset, delete, [], hash_)
        else:
            delete, create_on = self._rolling_surge(daemonset, order, node_to_pods, verdicts, hash_,
                                                    budget.max_surge, budget.desired)
            self._sync_nodes(daemonset, delete, create_on, hash_)

    def _rolling_delete(self, daemonset: Obj, order: list[str], node_to_pods: dict[str, list[Obj]], hash_: str,
                        max_unavailable: int) -> list[Obj]:
        """maxSurge == 0 (§8.2): unavailable old pods always go; available ones within the unavailability budget."""
        generation = template_generation(daemonset)
        unavailable = 0
        replace_now: list[Obj] = []
        candidates: list[Obj] = []
        for node in order:
            new, old, ok = find_updated_pods_on_node(node_to_pods[node], hash_, generation)
            if not ok or (new is None) == (old is None):
                unavailable += 1  # duplicates, an empty node, or a node mid-transition
            elif new is not None:
                if not self._available(daemonset, new):
                    unavailable += 1
            elif old is not None and not self._available(daemonset, old):
                replace_now.append(old)
                unavailable += 1
            elif old is not None and unavailable < max_unavailable:
                candidates.append(old)
        remaining = min(max(max_unavailable - unavailable, 0), len(candidates))
        return replace_now + candidates[:remaining]

    def _rolling_surge(self, daemonset: Obj, order: list[str], node_to_pods: dict[str, list[Obj]],
                       verdicts: dict[str, NodeVerdict], hash_: str, max_surge: int,
                       desired: int) -> tuple[list[Obj], list[str]]:
        """maxSurge > 0 (§8.3): create next to old pods, delete old ones whose new pod is available."""
        generation = template_generation(daemonset)
        surge = available = 0
        old_to_delete: list[Obj] = []
        should_not_run: list[Obj] = []
        allowed_new: list[str] = []
        candidates: list[str] = []
        for node in order:
            new, old, ok = find_updated_pods_on_node(node_to_pods[node], hash_, generation)
            if not ok:
                surge += 1
                continue
            counted = old if old is not None else new
            if counted is not None and self._available(daemonset, counted):
                available += 1
            verdict = verdicts.get(node)
            should_run = verdict is not None and verdict.should_run  # a vanished node: treated as "should not run"
            if old is None:
                continue
            if new is None:
                if not self._available(daemonset, old):
                    if should_run:
                        allowed_new.append(node)
                    else:
                        old_to_delete.append(old)
                elif not should_run:
                    should_not_run.append(old)
                elif surge < max_surge:
                    candidates.append(node)
            elif not self._available(daemonset, new):
                surge += 1
            else:
                old_to_delete.append(old)
        deletable = available - desired
        if deletable > 0:
            old_to_delete += [pod for pod in should_not_run[:deletable] if not _terminating(pod)]
        remaining = min(max(max_surge - surge, 0), len(candidates))
        return old_to_delete, allowed_new + candidates[:remaining]

    # --- §6 status -------------------------------------------------------------------------------------

    def _update_status(self, daemonset: Obj, verdicts: dict[str, NodeVerdict], hash_: str) -> None:
        """updateDaemonSetStatus, counting only the oldest pod of each node, with observedGeneration raised to
        the generation this sync processed."""
        by_node = self._nodes_to_daemon_pods(daemonset, include_deleted_terminal=False, claim=False)
        generation = template_generation(daemonset)
        desired = current = ready = available = updated = misscheduled = 0
        for node, verdict in verdicts.items():
            pods = by_node.get(node, [])
            if not verdict.should_run:
                misscheduled += 1 if pods else 0
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            oldest = self._oldest_first(pods)[0]
            if is_ready(oldest):
                ready += 1
                available += 1 if self._available(daemonset, oldest) else 0
            updated += 1 if is_pod_updated(oldest, hash_, generation) else 0
        counts = {"desiredNumberScheduled": desired, "currentNumberScheduled": current, "numberReady": ready,
                  "numberMisscheduled": misscheduled}
        # omitempty fields: Go leaves zeros out of the JSON.
        optional = {"updatedNumberScheduled": updated, "numberAvailable": available,
                    "numberUnavailable": desired - available,
                    "observedGeneration": int(r.metadata(daemonset).get("generation") or 0)}

        def with_status(obj: Obj) -> Obj:
            status = dict(obj.get("status") or {})
            status.update(counts)
            for key, value in optional.items():
                if value:
                    status[key] = value
                else:
                    status.pop(key, None)
            obj["status"] = status
            return obj

        self._mutate("daemonsets", r.namespace(daemonset), r.name(daemonset), with_status,
                     f"{CONTROLLER}: status", uid=r.uid(daemonset))

    # --- garbage collector ---------------------------------------------------------------------------

    def _collect_garbage(self, live_daemonsets: set[str]) -> None:
        """Dependents of a deleted DaemonSet go too (the default DeleteDependents policy, §9)."""
        for kind in ("pods", "controllerrevisions"):
            for obj in self.server.objects(kind):
                refs = r.metadata(obj).get("ownerReferences") or []
                owner = next((ref for ref in refs if ref.get("controller")), None)
                if owner is None or owner.get("kind") != "DaemonSet" or owner.get("uid") in live_daemonsets:
                    continue
                if not _terminating(obj):
                    self._delete(kind, obj, f"{GARBAGE_COLLECTOR}: owner DaemonSet {owner.get('name')} is gone")

    # ==============================================================================================
    # Scheduler (§7)
    # ==============================================================================================

    def _scheduler_pass(self) -> None:
        nodes = {r.name(node): node for node in self.server.objects("nodes")}
        pods = self.server.objects("pods")
        bound: dict[str, list[Obj]] = {}
        for pod in pods:
            node = r.spec(pod).get("nodeName")
            if node and not _is_terminal(pod):
                bound.setdefault(str(node), []).append(pod)
        pending = [pod for pod in pods if _wants_scheduling(pod)]
        for pod in sorted(pending, key=lambda p: (str(r.metadata(p).get("creationTimestamp")), r.qualified_name(p))):
            node_name = target_node(pod)
            node = nodes.get(node_name or "")
            if node_name is None or node is None:
                continue  # the controller deletes pending pods whose node is gone
            failures = scheduling_failures(pod, node, bound.get(node_name, []))
            if failures:
                self._unschedulable(pod, fit_error_message(len(nodes), failures))
            elif self._bind(pod, node_name):
                bound.setdefault(node_name, []).append({**pod, "spec": {**r.spec(pod), "nodeName": node_name}})

    def _bind(self, pod: Obj, node: str) -> bool:
        now = self.clock()

        def bind(obj: Obj) -> Obj | None:
            if r.spec(obj).get("nodeName") or _terminating(obj):
                return None
            obj["spec"]["nodeName"] = node
            status = obj.setdefault("status", {})
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            status["conditions"] = set_condition(conditions, "PodScheduled", "True", now)
            return obj

        stored = self._mutate("pods", r.namespace(pod), r.name(pod), bind, f"{SCHEDULER}: bind to {node}",
                              uid=r.uid(pod))
        if stored is None:
            return False
        self._event(stored, "Normal", "Scheduled", f"Successfully assigned {r.qualified_name(pod)} to {node}",
                    SCHEDULER)
        return True

    def _unschedulable(self, pod: Obj, message: str) -> None:
        now = self.clock()

        def mark(obj: Obj) -> Obj:
            status = obj.setdefault("status", {})
            status["phase"] = status.get("phase") or "Pending"
            status["conditions"] = set_condition(list(status.get("conditions") or []), "PodScheduled", "False",
                                                 now, reason="Unschedulable", message=message)
            return obj

        stored = self._mutate("pods", r.namespace(pod), r.name(pod), mark, f"{SCHEDULER}: unschedulable",
                              uid=r.uid(pod))
        if (r.uid(pod), message) not in self._reported:
            self._reported.add((r.uid(pod), message))
            self._event(stored or pod, "Warning", "FailedScheduling", message, SCHEDULER)

    # ==============================================================================================
    # Kubelet and node-lifecycle controller
    # ==============================================================================================

    def _kubelet_pass(self) -> None:
        nodes = {r.name(node): node for node in self.server.objects("nodes")}
        pods = self.server.objects("pods")
        live = {r.uid(pod) for pod in pods}
        for memory in (self._started, self._terminating_since, self._pod_ips):
            for uid in [uid for uid in memory if uid not in live]:
                del memory[uid]
        self._marked_not_ready &= live
        self._reported = {key for key in self._reported if key[0] in live}
        for pod in pods:
            node = nodes.get(str(r.spec(pod).get("nodeName") or ""))
            if node is not None:
                self._kubelet_sync(pod, node)

    def _kubelet_sync(self, pod: Obj, node: Obj) -> None:
        uid, now = r.uid(pod), self.clock()
        if _terminating(pod):
            self._finish_termination(pod, now)
            return
        if _is_terminal(pod):
            return
        node_ready = r.is_node_ready(node)
        if uid not in self._started:
            fresh = _phase(pod) in ("", "Pending") and not r.status(pod).get("containerStatuses")
            if not fresh:
                self._node_lifecycle(pod, node_ready, now)  # a pod this kubelet did not start: readiness only
                return
            if not node_ready:
                return  # a stopped kubelet starts nothing: the pod stays Pending
            self._started[uid] = now
        if not node_ready:
            self._mark_not_ready(pod, now)
            return
        started = self._started[uid]
        desired = self._pod_status(pod, node, started, now)
        self._mutate("pods", r.namespace(pod), r.name(pod), lambda obj: {**obj, "status": desired},
                     f"{KUBELET}: {_status_summary(desired)}", uid=uid)

    def _finish_termination(self, pod: Obj, now: datetime) -> None:
        """A pod with a deletionTimestamp: its containers stop, then the kubelet's final delete removes it."""
        if r.metadata(pod).get("finalizers"):
            return  # someone else's finalizer holds it
        since = self._terminating_since.setdefault(r.uid(pod), now)
        due = since + timedelta(seconds=self.ready_after)
        if now < due:
            self._wait_until(due)
            return
        with self._store_lock():
            current = self.server.get("pods", r.namespace(pod), r.name(pod))
            if current is None or r.uid(current) != r.uid(pod):
                return
            self.server.delete_object("pods", r.namespace(pod), r.name(pod))
        self._record("delete", "Pod", pod, f"{KUBELET}: containers stopped after the grace period")

    def _mark_not_ready(self, pod: Obj, now: datetime) -> None:
        """MarkPodsNotReady: the node-lifecycle controller flips Ready to False on a node that stopped reporting."""
        def mark(obj: Obj) -> Obj:
            status = obj.setdefault("status", {})
            status["conditions"] = set_condition(list(status.get("conditions") or []), "Ready", "False", now)
            return obj
        if is_ready(pod):
            self._marked_not_ready.add(r.uid(pod))
        self._mutate("pods", r.namespace(pod), r.name(pod), mark, f"{NODE_LIFECYCLE}: pod not ready",
                     uid=r.uid(pod))

    def _node_lifecycle(self, pod: Obj, node_ready: bool, now: datetime) -> None:
        """Pods the simulation found running (seeded by a test): only node readiness changes them."""
        if not node_ready:
            self._mark_not_ready(pod, now)
        elif r.uid(pod) in self._marked_not_ready:
            self._marked_not_ready.discard(r.uid(pod))

            def restore(obj: Obj) -> Obj:
                status = obj.setdefault("status", {})
                status["conditions"] = set_condition(list(status.get("conditions") or []), "Ready", "True", now)
                return obj

            self._mutate("pods", r.namespace(pod), r.name(pod), restore, f"{KUBELET}: node ready again",
                         uid=r.uid(pod))

    def _pod_status(self, pod: Obj, node: Obj, started: datetime, now: datetime) -> Obj:
        """The status a kubelet reports `elapsed` seconds after it started the pod."""
        elapsed = (now - started).total_seconds()
        containers = list(r.spec(pod).get("containers") or [])
        images = [str(c.get("image") or "") for c in containers]
        pull_failed = any(_image_fails_to_pull(image) for image in images)
        crashing = any(_image_crashes(image) for image in images)
        ready = not pull_failed and not crashing and elapsed >= self.ready_after
        if not ready and elapsed < self.ready_after:
            self._wait_until(started + timedelta(seconds=self.ready_after))  # Ready, or ImagePullBackOff
        old = r.status(pod)
        statuses = [self._container_status(pod, c, started, elapsed, ready) for c in containers]
        unready = [str(c.get("name")) for c, s in zip(containers, statuses, strict=True) if not s["ready"]]
        reason = None if ready else "ContainersNotReady"
        message = None if ready else f"containers with unready status: [{' '.join(unready)}]"
        conditions = list(old.get("conditions") or [])
        conditions = set_condition(conditions, "Initialized", "True", started)
        conditions = set_condition(conditions, "Ready", "True" if ready else "False", now,
                                   reason=reason, message=message)
        conditions = set_condition(conditions, "ContainersReady", "True" if ready else "False", now,
                                   reason=reason, message=message)
        conditions = set_condition(conditions, "PodScheduled", "True", started)
        status: Obj = {**old, "phase": "Pending" if pull_failed else "Running", "conditions": conditions,
                       "startTime": rfc3339(started), "containerStatuses": statuses}
        host_ip = _node_ip(node)
        if host_ip:
            status["hostIP"] = host_ip
        status["podIP"] = host_ip if r.spec(pod).get("hostNetwork") and host_ip else self._pod_ip(r.uid(pod))
        return status

    def _container_status(self, pod: Obj, container: Obj, started: datetime, elapsed: float, ready: bool) -> Obj:
        name, image = str(container.get("name") or ""), str(container.get("image") or "")
        result: Obj = {"name": name, "image": image, "imageID": "", "ready": ready, "restartCount": 0,
                       "started": True, "state": {"running": {"startedAt": rfc3339(started)}}}
        if _image_fails_to_pull(image):
            early = elapsed < self.ready_after
            waiting = ({"reason": "ErrImagePull",
                        "message": f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
                                   f'failed to resolve reference "{image}": {image}: not found'}
                       if early else {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'})
            return {**result, "ready": False, "started": False, "state": {"waiting": waiting}}
        if _image_crashes(image):
            restarts = crash_restarts(elapsed, self.ready_after)
            if restarts == 0:
                return {**result, "ready": False}
            back_off = min(10 * 2 ** (restarts - 1), 300)
            pod_ref = f"{r.name(pod)}_{r.namespace(pod)}({r.uid(pod)})"
            return {**result, "ready": False, "started": False, "restartCount": restarts,
                    "state": {"waiting": {"reason": "CrashLoopBackOff",
                                          "message": f"back-off {back_off}s restarting failed "
                                                     f"container={name} pod={pod_ref}"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}
        return result

    def _wait_until(self, moment: datetime) -> None:
        """Something will change at `moment` without any write causing it: settle() must wait for it."""
        if moment > self.clock():
            self._due.append(moment)

    def _pod_ip(self, uid: str) -> str:
        if uid not in self._pod_ips:
            index = len(self._pod_ips)
            self._pod_ips[uid] = f"10.244.{index // 250}.{index % 250 + 2}"
        return self._pod_ips[uid]


# ======================================================================================================
# Small helpers used by the components
# ======================================================================================================

def _with_collision_count(count: int) -> Callable[[Obj], Obj]:
    def change(daemonset: Obj) -> Obj:
        return {**daemonset, "status": {**(daemonset.get("status") or {}), "collisionCount": count}}
    return change


def _allows_surge(daemonset: Obj) -> bool:
    try:
        return allows_surge(daemonset)
    except UsageError:
        return False


def _wants_scheduling(pod: Obj) -> bool:
    spec = r.spec(pod)
    return (not spec.get("nodeName") and not _terminating(pod) and _phase(pod) in ("", "Pending")
            and spec.get("schedulerName", "default-scheduler") == "default-scheduler")


def _ready_since(pod: Obj) -> datetime | None:
    for condition in r.status(pod).get("conditions") or []:
        if condition.get("type") == "Ready":
            return parse_time(condition.get("lastTransitionTime"))
    return None


def _same(a: Obj, b: Obj) -> bool:
    def strip(obj: Obj) -> Obj:
        meta = dict(obj.get("metadata") or {})
        meta.pop("resourceVersion", None)
        return {**obj, "metadata": meta}
    return strip(a) == strip(b)


def _status_summary(status: Obj) -> str:
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), "?")
    waiting = [((s.get("state") or {}).get("waiting") or {}).get("reason") for s in status.get("containerStatuses")
               or []]
    reasons = ",".join(w for w in waiting if w)
    return f"{status.get('phase')} Ready={ready}" + (f" {reasons}" if reasons else "")


def _node_readiness(node: Obj, ready: bool, now: datetime) -> Obj:
    """Node condition and taints as the node-lifecycle controller sets them (nodeConditionToTaintKeyStatusMap
    and the NoExecute pass); Ready again lifts both `unreachable` and `not-ready` taints."""
    status = node.setdefault("status", {})
    conditions = list(status.get("conditions") or [])
    if ready:
        conditions = set_condition(conditions, "Ready", "True", now, reason="KubeletReady",
                                   message="kubelet is posting ready status")
    else:
        conditions = set_condition(conditions, "Ready", "Unknown", now, reason="NodeStatusUnknown",
                                   message="Kubelet stopped posting node status.")
    status["conditions"] = [{k: v for k, v in c.items() if not (k == "lastProbeTime" and v is None)}
                            for c in conditions]
    spec = node.setdefault("spec", {})
    taints = list(spec.get("taints") or [])
    if ready:
        taints = [t for t in taints if t.get("key") not in (UNREACHABLE_TAINT, NOT_READY_TAINT)]
    else:
        for effect in ("NoSchedule", "NoExecute"):
            if not any(t.get("key") == UNREACHABLE_TAINT and t.get("effect") == effect for t in taints):
                added = {"timeAdded": rfc3339(now)} if effect == "NoExecute" else {}
                taints.append({"key": UNREACHABLE_TAINT, "effect": effect, **added})
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)
    return node
