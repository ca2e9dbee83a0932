"""The DaemonSet controller, one sync per DaemonSet per pass, plus the garbage collector for the pods and
revisions of deleted DaemonSets.

Source: pkg/controller/daemon/daemon_controller.go (syncDaemonSet, getNodesToDaemonPods, manage,
podsShouldBeOnNode, syncNodes, getUnscheduledPodsWithoutNode, updateDaemonSetStatus,
podByCreationTimestampAndPhase); update.go for the rolling update (tests/sim/update.py) and history
(tests/sim/history.py). The rules are summarised in docs/rules.md (anchors cited below).

The expectations gate (docs/rules.md#r-expectations) is kept: rollingUpdate() only runs in a sync whose
manage() wrote nothing, as in a real cluster, where the writes of manage() must be observed first.

Failed pods are deleted with the per-node back-off of kube-controller-manager (1 s doubling to 15 min, keyed
by DaemonSet uid, observed generation and node): the first failure on a node goes at once, a pod that fails
again within the back-off waits for it (docs/rules.md#r-manage). A create the API refuses (admission) is a
FailedCreate event, and the creates after it wait for the next sync.

Deviations: creates are not sent in slow-start batches (the first refusal stops the sync's creates);
status.observedGeneration is raised on every sync; and pods that share a creationTimestamp second are ordered
by creation rather than by name (see oldest_first).
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from tests.apiserver import ApiError
from tests.sim import budget, daemonpods, history, pods, update
from tests.sim import labels as lbl
from tests.sim import objects as o
from tests.sim.daemonpods import Verdict
from tests.sim.objects import Obj, View
from tests.sim.writer import Writer

log = logging.getLogger(__name__)

CONTROLLER = history.CONTROLLER
GARBAGE_COLLECTOR = "garbage-collector"
BURST_REPLICAS = 250  # the most creates, and separately the most deletes, of one sync (r-pod-creation)
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the API server's generateName draws from
FAILED_POD_BACKOFF = (1.0, 900.0)  # cmd/kube-controller-manager: flowcontrol.NewBackOff(1s, 15m)


class Backoff:
    """flowcontrol.Backoff without jitter: per key the delay doubles from `initial` up to `cap`, and an entry
    not touched for twice the cap starts over (hasExpired)."""

    def __init__(self, initial: float, cap: float) -> None:
        self.initial, self.cap = initial, cap
        self._entries: dict[str, tuple[float, datetime]] = {}  # key -> (delay, last update)

    def _live(self, key: str, now: datetime) -> tuple[float, datetime] | None:
        entry = self._entries.get(key)
        if entry is None or (now - entry[1]).total_seconds() > 2 * self.cap:
            return None
        return entry

    def until(self, key: str, now: datetime) -> datetime | None:
        """IsInBackOffSinceUpdate: when the back-off of `key` ends, or None if it is not in back-off."""
        entry = self._live(key, now)
        if entry is None:
            return None
        end = entry[1] + timedelta(seconds=entry[0])
        return end if now < end else None

    def next(self, key: str, now: datetime) -> None:
        entry = self._live(key, now)
        self._entries[key] = (self.initial if entry is None else min(2 * entry[0], self.cap), now)


class DaemonSetController:
    def __init__(self, writer: Writer, rng: random.Random) -> None:
        self.writer = writer
        self.rng = rng  # pod names, and Go's random map order in rollingUpdate
        self._selecting_all_reported: set[str] = set()
        self._creation_order: dict[str, int] = {}  # pod uid -> creation sequence, see oldest_first
        self._creation_counter = itertools.count(1)
        self._failed_pods_backoff = Backoff(*FAILED_POD_BACKOFF)
        self._failed_creates: set[tuple[str, str]] = set()

    # --- one pass ---------------------------------------------------------------------------------------------

    def run_pass(self) -> None:
        self._note_new_pods()
        server = self.writer.server
        nodes = sorted(server.objects("nodes"), key=o.name)
        daemonsets = server.objects("daemonsets")
        for daemonset in daemonsets:
            self.sync(daemonset, nodes)
        self._collect_garbage({o.uid(daemonset) for daemonset in daemonsets})

    def sync(self, daemonset: Obj, nodes: list[Obj]) -> None:
        """syncDaemonSet: history, adoption, manage(), rollingUpdate() if manage() wrote nothing, history
        cleanup, status."""
        selector = o.spec_of(daemonset).get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            if o.uid(daemonset) not in self._selecting_all_reported:
                self._selecting_all_reported.add(o.uid(daemonset))
                self.writer.event(
                    daemonset,
                    "Warning",
                    "SelectingAll",
                    "This daemon set is selecting all pods. A non-empty selector is required.",
                    CONTROLLER,
                )
            return
        if o.is_terminating(daemonset):
            return  # a DaemonSet being deleted is left alone (r-pod-node)
        try:
            lbl.selector_from_label_selector(selector)
        except lbl.InvalidSelector as error:
            log.warning("sync of %s failed: %s", o.ref(daemonset), error)  # Go fails the sync here
            return
        revision_hash, old_revisions = history.construct_history(self.writer, daemonset)
        by_node = self.pods_by_node(daemonset, include_deleted_terminal=False, claim=True)
        verdicts = {o.name(node): daemonpods.node_should_run_daemon_pod(daemonset, node) for node in nodes}
        wrote = self._manage(daemonset, verdicts, by_node, revision_hash)
        rolled = True
        if not wrote and budget.strategy_of(daemonset).type == budget.ROLLING_UPDATE:
            rolled = self._rolling_update(daemonset, verdicts, by_node, revision_hash)
        if rolled:  # updateDaemonSet returns before cleanupHistory when rollingUpdate fails
            history.cleanup_history(self.writer, daemonset, old_revisions, lambda: self._live_hashes(daemonset))
        self._update_status(daemonset, verdicts, revision_hash)

    # --- which pods are the DaemonSet's, by node (r-pod-node) -------------------------------------------------

    def pods_by_node(self, daemonset: Obj, *, include_deleted_terminal: bool, claim: bool) -> dict[str, list[Obj]]:
        """getNodesToDaemonPods: owned pods matching the selector plus orphans that match, keyed by target node.
        With `claim`, orphans are adopted and owned pods that stopped matching released, as ClaimPods does."""
        selector = lbl.selector_from_label_selector(o.spec_of(daemonset).get("selector") or {})
        result: dict[str, list[Obj]] = {}
        for pod in self.writer.server.objects("pods", o.namespace(daemonset)):
            owner = o.controller_reference(pod)
            matches = selector.matches(o.labels_of(pod))
            if owner is not None and owner.get("uid") == o.uid(daemonset):
                if not matches:
                    if claim:
                        self._set_owner(daemonset, pod, adopt=False)
                    continue
            elif owner is None and matches and not o.is_terminating(pod):
                if not claim:
                    continue
                pod = self._set_owner(daemonset, pod, adopt=True) or pod
            else:
                continue
            if o.is_terminal(pod) and o.is_terminating(pod) and not include_deleted_terminal:
                continue
            node = pods.target_node_name(pod)
            if node is not None:  # Go logs the pod and skips it
                result.setdefault(node, []).append(pod)
        return result

    def _set_owner(self, daemonset: View, pod: Obj, *, adopt: bool) -> Obj | None:
        """Adopt an orphan (add our controller reference) or release a pod (remove it)."""

        def change(obj: Obj) -> Obj:
            owners = [ref for ref in obj["metadata"].get("ownerReferences") or [] if ref.get("uid") != o.uid(daemonset)]
            obj["metadata"]["ownerReferences"] = [*owners, daemonpods.controller_ref(daemonset)] if adopt else owners
            return obj

        return self.writer.mutate(
            "pods",
            o.namespace(pod),
            o.name(pod),
            change,
            f"{CONTROLLER}: {'adopt' if adopt else 'release'}",
            uid=o.uid(pod),
        )

    def _live_hashes(self, daemonset: Obj) -> set[str]:
        by_node = self.pods_by_node(daemonset, include_deleted_terminal=True, claim=False)
        return {o.labels_of(pod).get(o.REVISION_HASH_LABEL) or "" for found in by_node.values() for pod in found} - {""}

    # --- manage() (r-manage) ----------------------------------------------------------------------------------

    def _manage(
        self, daemonset: Obj, verdicts: dict[str, Verdict], by_node: dict[str, list[Obj]], revision_hash: str
    ) -> bool:
        """manage(): each node's creates and deletes, then unscheduled pods whose node is gone. True if it wrote."""
        create_on: list[str] = []
        delete: list[Obj] = []
        for node, verdict in verdicts.items():
            creates, deletes = self._pods_should_be_on_node(daemonset, node, verdict, by_node.get(node), revision_hash)
            create_on += creates
            delete += deletes
        for node, found in by_node.items():
            if node not in verdicts:
                # getUnscheduledPodsWithoutNode: bound pods are left to the pod garbage collector.
                delete += [pod for pod in found if not o.spec_of(pod).get("nodeName") and not o.is_terminating(pod)]
        return self._sync_nodes(daemonset, delete, create_on, revision_hash)

    def _pods_should_be_on_node(
        self, daemonset: Obj, node: str, verdict: Verdict, found: list[Obj] | None, revision_hash: str
    ) -> tuple[list[str], list[Obj]]:
        """podsShouldBeOnNode (docs/rules.md#r-manage)."""
        if verdict.should_run and found is None:
            return [node], []
        if not verdict.should_continue_running:
            return [], [pod for pod in found or [] if not o.is_terminating(pod)]
        running, delete = self._failed_and_running(daemonset, node, found or [])
        if not budget.allows_surge(daemonset):
            # One pod per node: keep the oldest. None running (only terminating or failed ones): wait.
            return [], delete + self.oldest_first(running)[1:]
        if len(running) <= 1:
            # Surge mode replaces a terminating pod at once.
            return ([node] if not running and verdict.should_run else []), delete
        return [], delete + self._surge_extras(daemonset, self.oldest_first(running), revision_hash)

    def _failed_and_running(self, daemonset: Obj, node: str, found: list[Obj]) -> tuple[list[Obj], list[Obj]]:
        """Live pods split into running ones and failed or succeeded ones to delete (with their events)."""
        running: list[Obj] = []
        delete: list[Obj] = []
        for pod in found:
            if o.is_terminating(pod):
                continue
            where = f"{o.namespace(pod)}/{o.name(pod)} on node {node}"
            if o.phase(pod) == "Failed":
                # Fighting a kubelet that keeps rejecting pods must not hot-loop: back off per node.
                key = f"{o.uid(daemonset)}/{o.status_of(daemonset).get('observedGeneration') or 0}/{node}"
                now = self.writer.clock()
                until = self._failed_pods_backoff.until(key, now)
                if until is not None:
                    self.writer.wait_until(until)  # enqueueDaemonSetAfter(delay)
                    continue
                self._failed_pods_backoff.next(key, now)
                self.writer.event(
                    daemonset,
                    "Warning",
                    "FailedDaemonPod",
                    f"Found failed daemon pod {where}, will try to kill it",
                    CONTROLLER,
                )
            elif o.phase(pod) == "Succeeded":
                self.writer.event(
                    daemonset,
                    "Normal",
                    "SucceededDaemonPod",
                    f"Found succeeded daemon pod {where}, will try to delete it",
                    CONTROLLER,
                )
            else:
                running.append(pod)
                continue
            delete.append(pod)
        return running, delete

    def _surge_extras(self, daemonset: Obj, running: list[Obj], revision_hash: str) -> list[Obj]:
        """Surge mode (r-manage): keep the oldest new and the oldest old pod, told apart by the hash label alone;
        the old one goes once the new one is available, or at once if it is not Ready itself."""
        kept: dict[bool, Obj] = {}
        delete: list[Obj] = []
        for pod in running:
            is_new = o.labels_of(pod).get(o.REVISION_HASH_LABEL) == revision_hash
            if is_new in kept:
                delete.append(pod)
            else:
                kept[is_new] = pod
        new, old = kept.get(True), kept.get(False)
        if new is not None and old is not None and (not pods.is_ready(old) or self._available(daemonset, new)):
            delete.append(old)
        return delete

    def _sync_nodes(self, daemonset: Obj, delete: Sequence[Obj], create_on: Sequence[str], revision_hash: str) -> bool:
        """syncNodes (docs/rules.md#r-pod-creation): creates, then deletes, each capped at BurstReplicas, with
        the controller's events."""
        wrote = False
        for node in create_on[:BURST_REPLICAS]:
            try:
                pod = self._create_pod(daemonset, node, revision_hash)
            except ApiError as error:
                if (o.uid(daemonset), error.message) not in self._failed_creates:  # the recorder aggregates repeats
                    self._failed_creates.add((o.uid(daemonset), error.message))
                    self.writer.event(
                        daemonset, "Warning", "FailedCreate", f"Error creating: {error.message}", CONTROLLER
                    )
                break  # the batches after a failed one are skipped until the next sync
            if pod is not None:
                wrote = True
                self.writer.event(daemonset, "Normal", "SuccessfulCreate", f"Created pod: {o.name(pod)}", CONTROLLER)
        seen: set[str] = set()
        for pod in delete[:BURST_REPLICAS]:
            if o.uid(pod) in seen:
                continue
            seen.add(o.uid(pod))
            if self.writer.delete("pods", pod, f"{CONTROLLER}: delete from node {pods.target_node_name(pod)}"):
                wrote = True
                self.writer.event(daemonset, "Normal", "SuccessfulDelete", f"Deleted pod: {o.name(pod)}", CONTROLLER)
        return wrote

    def _create_pod(self, daemonset: Obj, node: str, revision_hash: str) -> Obj | None:
        for _ in range(10):  # a generated name can be taken; the API server retries likewise
            suffix = "".join(self.rng.choice(NAME_ALPHABET) for _ in range(5))
            pod = daemonpods.daemon_pod(
                daemonset, node, revision_hash, daemonpods.generated_name(daemonset, suffix), self.writer.clock()
            )
            created = self.writer.create(pod, f"{CONTROLLER}: node {node}")
            if created is not None:
                self._creation_order[o.uid(created)] = next(self._creation_counter)
                return created
        return None

    def oldest_first(self, found: Sequence[Obj]) -> list[Obj]:
        """podByCreationTimestampAndPhase: bound pods first, then older ones, then by name.

        creationTimestamp has one-second resolution and simulated time runs far faster than real time, so pods
        that a real cluster would create seconds apart often share a second here. Within a second they are
        ordered by creation (what the timestamps would show at real speed), not by their random names:
        otherwise "keep the oldest pod" could keep a brand-new pod and delete the old, Ready one.
        """
        return sorted(
            found,
            key=lambda pod: (
                not o.spec_of(pod).get("nodeName"),
                str(o.meta(pod).get("creationTimestamp") or ""),
                self._creation_order.get(o.uid(pod), 0),
                o.name(pod),
            ),
        )

    def _note_new_pods(self) -> None:
        """Remember the creation order of pods this simulation did not create (by resourceVersion)."""
        found = self.writer.server.objects("pods")
        fresh = [pod for pod in found if o.uid(pod) not in self._creation_order]
        for pod in sorted(fresh, key=lambda p: int(o.meta(p).get("resourceVersion") or 0)):
            self._creation_order[o.uid(pod)] = next(self._creation_counter)
        live = {o.uid(pod) for pod in found}
        self._creation_order = {uid: order for uid, order in self._creation_order.items() if uid in live}

    def _available(self, daemonset: View, pod: View) -> bool:
        """IsPodAvailable with the DaemonSet's minReadySeconds; a pod that becomes available later sets a timer
        so that settle() waits for it."""
        min_ready = int(o.spec_of(daemonset).get("minReadySeconds") or 0)
        if pods.is_available(pod, min_ready, self.writer.clock()):
            return True
        moment = pods.available_from(pod, min_ready) if min_ready > 0 else None
        if moment is not None:
            self.writer.wait_until(moment)
        return False

    # --- rollingUpdate() (r-rolling-no-surge, r-rolling-surge) ------------------------------------------------

    def _rolling_update(
        self, daemonset: Obj, verdicts: dict[str, Verdict], by_node: dict[str, list[Obj]], revision_hash: str
    ) -> bool:
        """rollingUpdate (docs/rules.md#r-rolling-no-surge, docs/rules.md#r-rolling-surge), visiting nodes in a
        seeded random order as Go's map iteration would. False when the sync fails on an invalid maxUnavailable
        or maxSurge."""
        wanted = [node for node, verdict in verdicts.items() if verdict.should_run]
        node_pods = {node: list(found) for node, found in sorted(by_node.items())}
        for node in wanted:
            node_pods.setdefault(node, [])  # updatedDesiredNodeCounts: an empty node counts too
        try:
            limits = budget.rolling_update_budget(daemonset, len(wanted))
        except budget.InvalidIntOrPercent as error:
            log.warning("rolling update of %s failed: %s", o.ref(daemonset), error)
            return False
        order = list(node_pods)
        self.rng.shuffle(order)
        generation = daemonpods.template_generation(daemonset)

        def available(pod: View) -> bool:
            return self._available(daemonset, pod)

        def should_run(node: str) -> bool:
            return node in verdicts and verdicts[node].should_run

        if limits.max_surge == 0:
            plan = update.plan_without_surge(
                order, node_pods, revision_hash, generation, limits.max_unavailable, available
            )
        else:
            plan = update.plan_with_surge(order, node_pods, revision_hash, generation, limits, available, should_run)
        self._sync_nodes(daemonset, plan.delete, plan.create_on, revision_hash)
        return True

    # --- status (r-status) ------------------------------------------------------------------------------------

    def _update_status(self, daemonset: Obj, verdicts: dict[str, Verdict], revision_hash: str) -> None:
        """updateDaemonSetStatus (docs/rules.md#r-status): only the oldest pod of each node counts."""
        by_node = self.pods_by_node(daemonset, include_deleted_terminal=False, claim=False)
        generation = daemonpods.template_generation(daemonset)
        desired = current = ready = available = updated = misscheduled = 0
        for node, verdict in verdicts.items():
            found = by_node.get(node, [])
            if not verdict.should_run:
                misscheduled += 1 if found else 0
                continue
            desired += 1
            if not found:
                continue
            current += 1
            oldest = self.oldest_first(found)[0]
            if pods.is_ready(oldest):
                ready += 1
                available += 1 if self._available(daemonset, oldest) else 0
            updated += 1 if update.is_pod_updated(oldest, revision_hash, generation) else 0
        counts = {
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": current,
            "numberReady": ready,
            "numberMisscheduled": misscheduled,
        }
        # omitempty fields: Go leaves zeros out of the JSON.
        optional = {
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": desired - available,
            "observedGeneration": int(o.meta(daemonset).get("generation") or 0),
        }

        def with_status(obj: Obj) -> Obj:
            status = {**(obj.get("status") or {}), **counts}
            for key, value in optional.items():
                if value:
                    status[key] = value
                else:
                    status.pop(key, None)
            obj["status"] = status
            return obj

        self.writer.mutate(
            "daemonsets",
            o.namespace(daemonset),
            o.name(daemonset),
            with_status,
            f"{CONTROLLER}: status",
            uid=o.uid(daemonset),
        )

    # --- garbage collector ------------------------------------------------------------------------------------

    def _collect_garbage(self, live_daemonsets: set[str]) -> None:
        """Dependents of a deleted DaemonSet go too (apps/v1's default DeleteDependents policy). The garbage
        collector (pkg/controller/garbagecollector, attemptToDeleteItem) deletes an object once none of its
        owners exists, controller or not; only DaemonSet owners are simulated, so an object with an owner of
        another kind is left alone."""
        for kind in ("pods", "controllerrevisions"):
            for obj in self.writer.server.objects(kind):
                owners = list(o.meta(obj).get("ownerReferences") or [])
                if not owners or any(
                    owner.get("kind") != "DaemonSet" or owner.get("uid") in live_daemonsets for owner in owners
                ):
                    continue
                if not o.is_terminating(obj):
                    name = owners[0].get("name")
                    self.writer.delete(kind, obj, f"{GARBAGE_COLLECTOR}: owner DaemonSet {name} is gone")
