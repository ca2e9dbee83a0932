"""The cluster simulator behaves like the DaemonSet controller, scheduler and kubelet it stands in for.

Case numbers are those of docs/rules.md#test-cases (groups B, E, F, G and M), each group taken from an
upstream test table in kubernetes/kubernetes pkg/controller/daemon/ (daemon_controller_test.go, update_test.go,
util/daemonset_util_test.go); rule IDs such as r-manage are the headings of docs/rules.md. Most tests drive the
simulation pass by pass with a ManualClock, so they are deterministic and take no real time; one runs the
background thread against real HTTP writes.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from kubectl_ds.placement.pods import is_ready, target_node
from tests.apiserver import ApiServer, apply_defaults, resolve_resource
from tests.builders import (
    container,
    expr,
    make_daemonset,
    make_node,
    make_pod,
    node_affinity,
    rolling_update,
    term,
    toleration,
)
from tests.simulator import (
    ClusterSimulator,
    ManualClock,
    crash_restarts,
    fit_error_message,
    template_hash,
)

Obj = dict[str, Any]
READY_AFTER = 1.0  # simulated seconds; a ManualClock makes them free


# --- helpers -------------------------------------------------------------------------------------------------


def make_cluster(nodes: int = 5, **daemonset: Any) -> ApiServer:
    server = ApiServer()
    for index in range(nodes):
        server.add(make_node(f"node-{index}"))
    server.add(make_daemonset(**daemonset))
    return server


def simulate(server: ApiServer, clock: ManualClock | None = None) -> ClusterSimulator:
    """The sync sequences here are those of the upstream unit tests, whose fake pod control removes a deleted
    pod at once: so deletes are immediate here unless the server was built with graceful_pod_deletion=True
    (tests/test_sim_pods.py pins graceful termination)."""
    return ClusterSimulator(
        server, clock=clock or ManualClock(), ready_after=READY_AFTER, graceful_deletion=server.graceful_pod_deletion
    )


def settled(nodes: int = 5, **daemonset: Any) -> tuple[ApiServer, ClusterSimulator]:
    server = make_cluster(nodes, **daemonset)
    sim = simulate(server)
    sim.settle()
    return server, sim


def change_template(server: ApiServer, change: Callable[[Obj], None], name: str = "ds") -> None:
    daemonset = server.get("daemonsets", "default", name)
    assert daemonset is not None
    change(daemonset["spec"]["template"])
    server.update_object(daemonset)


def set_image(server: ApiServer, image: str, name: str = "ds") -> None:
    def change(template: Obj) -> None:
        template["spec"]["containers"][0]["image"] = image

    change_template(server, change, name)


def daemonset(server: ApiServer, name: str = "ds") -> Obj:
    found = server.get("daemonsets", "default", name)
    assert found is not None
    return found


def current_hash(server: ApiServer, name: str = "ds") -> str:
    """The hash of the template the DaemonSet has now."""
    return template_hash(daemonset(server, name)["spec"]["template"])


def live_pods(server: ApiServer) -> list[Obj]:
    return [pod for pod in server.objects("pods") if not pod["metadata"].get("deletionTimestamp")]


def pod_hashes(server: ApiServer) -> list[str]:
    return sorted(pod["metadata"]["labels"]["controller-revision-hash"] for pod in live_pods(server))


def unavailable_nodes(server: ApiServer) -> int:
    """Nodes without a live Ready pod (minReadySeconds is 0 in these tests, so Ready means available)."""
    available = {target_node(pod) for pod in live_pods(server) if is_ready(pod)}
    return sum(1 for node in server.objects("nodes") if node["metadata"]["name"] not in available)


def nodes_with_two_pods(server: ApiServer) -> int:
    per_node: dict[str | None, int] = {}
    for pod in live_pods(server):
        per_node[target_node(pod)] = per_node.get(target_node(pod), 0) + 1
    return sum(1 for count in per_node.values() if count > 1)


def controller_pod_writes(sim: ClusterSimulator, since: int) -> tuple[int, int]:
    """(creates, deletes) of pods by the DaemonSet controller in history[since:]."""
    writes = [
        entry for entry in sim.history[since:] if entry[1] == "Pod" and entry[3].startswith("daemonset-controller")
    ]
    return (sum(1 for entry in writes if entry[0] == "create"), sum(1 for entry in writes if entry[0] == "delete"))


def step(sim: ClusterSimulator) -> tuple[int, int]:
    """One pass; the controller's (creates, deletes), as the Go tests count them per sync."""
    since = len(sim.history)
    sim.reconcile_once()
    return controller_pod_writes(sim, since)


def mark_ready(sim: ClusterSimulator, clock: ManualClock) -> tuple[int, int]:
    """ "R" in the case tables: time passes, the kubelet reports the new pods Ready (the controller, which runs
    first in the pass, still sees them unready)."""
    clock.advance(READY_AFTER)
    return step(sim)


@pytest.fixture
def watch() -> Iterator[Callable[[ApiServer, Callable[[], None]], None]]:
    """Run a check after every stored change (in the writing thread, so it sees every intermediate state)."""
    registered: list[tuple[ApiServer, Callable[[str, Obj], None]]] = []

    def attach(server: ApiServer, check: Callable[[], None]) -> None:
        def listener(_type: str, _obj: Obj) -> None:
            check()

        server.add_listener(listener)
        registered.append((server, listener))

    yield attach
    for server, listener in registered:
        assert not server.listener_errors, server.listener_errors  # a failed check is collected there
        server.remove_listener(listener)


# --- pod creation (r-pod-creation), status (r-status) --------------------------------------------------------


def test_created_pods_are_pinned_by_affinity_not_by_node_name() -> None:
    """Case 12/13: one pod per node, created without nodeName and pinned by a single matchFields term."""
    server = make_cluster(5)
    created: list[Obj] = []
    server.add_listener(lambda kind, obj: created.append(obj) if kind == "ADDED" and obj["kind"] == "Pod" else None)
    sim = simulate(server)

    assert step(sim) == (5, 0)

    assert len(created) == 5
    assert all("nodeName" not in pod["spec"] for pod in created)
    terms = [
        pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        for pod in created
    ]
    assert sorted(t[0]["matchFields"][0]["values"][0] for t in terms) == [f"node-{i}" for i in range(5)]
    assert all(len(t) == 1 and list(t[0]) == ["matchFields"] for t in terms)
    pod = created[0]
    assert pod["metadata"]["labels"] == {
        "name": "simple-daemon",
        "type": "production",
        "pod-template-generation": "1",
        "controller-revision-hash": current_hash(server),
    }
    assert pod["metadata"]["ownerReferences"][0]["controller"] is True
    assert pod["metadata"]["ownerReferences"][0]["uid"] == daemonset(server)["metadata"]["uid"]
    keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in keys
    # ... and the scheduler bound every one of them to its target node in the same pass.
    assert all(p["spec"]["nodeName"] == target_node(p) for p in server.objects("pods"))


def test_required_affinity_is_replaced_and_preferred_terms_are_kept() -> None:
    """Cases 69/70: the controller swaps the template's required terms for the node pin, keeps preferred ones."""
    preferred = [{"weight": 1, "preference": {"matchExpressions": [expr("disk", "In", "ssd")]}}]
    affinity = node_affinity(term(expr("color", "In", "blue")))
    affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    server = ApiServer()
    server.add(make_node("blue", labels={"color": "blue"}))
    server.add(make_node("red", labels={"color": "red"}))
    server.add(make_daemonset(affinity=affinity))

    simulate(server).settle()

    [pod] = server.objects("pods")
    node_affinity_ = pod["spec"]["affinity"]["nodeAffinity"]
    assert node_affinity_["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["blue"]}]}]
    }
    assert node_affinity_["preferredDuringSchedulingIgnoredDuringExecution"] == preferred


def test_status_counts_pods_and_observes_the_generation() -> None:
    """Cases 16, 39, 40 (r-status): status written in the creating sync; Ready pods counted once the kubelet says so."""
    server = make_cluster(5)
    clock = ManualClock()
    sim = simulate(server, clock)

    sim.reconcile_once()
    sim.reconcile_once()
    status = daemonset(server)["status"]
    assert status == {
        "desiredNumberScheduled": 5,
        "currentNumberScheduled": 5,
        "numberReady": 0,
        "numberMisscheduled": 0,
        "updatedNumberScheduled": 5,
        "numberUnavailable": 5,
        "observedGeneration": 1,
    }

    sim.settle()
    status = daemonset(server)["status"]
    assert status["numberReady"] == status["numberAvailable"] == 5
    assert "numberUnavailable" not in status  # omitempty, as Go writes it
    set_image(server, "foo/bar:v2")
    sim.reconcile_once()
    assert daemonset(server)["status"]["observedGeneration"] == daemonset(server)["metadata"]["generation"] == 2


def test_extra_pods_on_a_node_keep_the_oldest() -> None:
    """Case 29: without surge only the oldest pod of a node survives; empty nodes get one."""
    server = ApiServer()
    for index in range(3):
        server.add(make_node(f"node-{index}"))
    ds = server.add(make_daemonset())
    for index, minutes in enumerate((30, 10, 20)):
        server.add(
            make_pod(f"extra-{index}", node="node-1", owner=ds, creation_timestamp=f"2024-06-01T11:{minutes}:00Z")
        )
    sim = simulate(server)

    assert step(sim) == (2, 2)
    assert sorted(p["metadata"]["name"] for p in server.objects("pods") if target_node(p) == "node-1") == ["extra-1"]


def test_failed_pod_is_deleted_with_an_event_and_replaced_next_sync() -> None:
    """Case 52: the failed pod goes (FailedDaemonPod event); the replacement comes on the next sync."""
    server = ApiServer()
    server.add(make_node("node-0"))
    ds = server.add(make_daemonset())
    server.add(make_pod("broken", node="node-0", owner=ds, phase="Failed", ready=False))
    sim = simulate(server)

    assert step(sim) == (0, 1)
    assert step(sim) == (1, 0)
    reasons = [event["reason"] for event in server.objects("events")]
    assert "FailedDaemonPod" in reasons
    message = next(e["message"] for e in server.objects("events") if e["reason"] == "FailedDaemonPod")
    assert message == "Found failed daemon pod default/broken on node node-0, will try to kill it"


# --- ControllerRevisions (r-revisions) -----------------------------------------------------------------------


def test_controller_revision_numbering_and_rollback_renumbering() -> None:
    """r-revisions and case 175: one revision per template; rolling back renumbers the old revision to max+1."""
    server, sim = settled(3, strategy=rolling_update(1))
    first = current_hash(server)
    [revision] = server.objects("controllerrevisions")
    assert revision["metadata"]["name"] == f"ds-{first}"
    assert revision["revision"] == 1
    assert revision["metadata"]["labels"] == {
        "name": "simple-daemon",
        "type": "production",
        "controller-revision-hash": first,
    }
    assert revision["metadata"]["ownerReferences"][0]["controller"] is True
    assert revision["data"] == {"spec": {"template": {**daemonset(server)["spec"]["template"], "$patch": "replace"}}}

    original = daemonset(server)["spec"]["template"]
    ds = daemonset(server)
    ds["metadata"]["annotations"]["kubernetes.io/change-cause"] = "v2"
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "foo/bar:v2"
    server.update_object(ds)
    sim.settle()
    second = current_hash(server)
    revisions = {
        rev["metadata"]["labels"]["controller-revision-hash"]: rev for rev in server.objects("controllerrevisions")
    }
    assert {h: rev["revision"] for h, rev in revisions.items()} == {first: 1, second: 2}
    assert revisions[second]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "v2"
    assert pod_hashes(server) == [second] * 3

    ds = daemonset(server)
    ds["spec"]["template"] = original  # what `kubectl rollout undo` patches in
    server.update_object(ds)
    sim.settle()
    revisions = {
        rev["metadata"]["labels"]["controller-revision-hash"]: rev for rev in server.objects("controllerrevisions")
    }
    assert {h: rev["revision"] for h, rev in revisions.items()} == {first: 3, second: 2}
    assert pod_hashes(server) == [first] * 3


def test_defaulting_a_seeded_template_is_not_a_new_revision() -> None:
    """A fixture seeded without API defaults gets them on its first HTTP write; a real cluster never sees that
    difference, so neither a new revision nor a rollout may follow (r-revisions: the stored, defaulted form
    is compared)."""
    server, sim = settled(3, strategy=rolling_update(1))
    hashes = pod_hashes(server)
    ds = daemonset(server)
    apply_defaults(resolve_resource("daemonsets"), ds)
    server.update_object(ds)
    assert daemonset(server)["metadata"]["generation"] == 2

    sim.settle()

    assert [rev["revision"] for rev in server.objects("controllerrevisions")] == [1]
    assert pod_hashes(server) == hashes == [current_hash(server)] * 3


def test_revision_history_limit_spares_revisions_that_live_pods_still_run() -> None:
    """cleanupHistory (r-revisions): oldest old revisions go first, but never one whose hash a live pod carries."""
    server = make_cluster(2, strategy="OnDelete")
    ds = daemonset(server)
    ds["spec"]["revisionHistoryLimit"] = 1
    server.update_object(ds)
    sim = simulate(server)
    sim.settle()
    first = current_hash(server)

    for version in ("v2", "v3", "v4"):
        set_image(server, f"foo/bar:{version}")
        sim.settle()

    numbers = {
        rev["metadata"]["labels"]["controller-revision-hash"]: rev["revision"]
        for rev in server.objects("controllerrevisions")
    }
    assert numbers == {first: 1, current_hash(server): 4}  # v2 and v3 deleted, v1 kept for its OnDelete pods
    assert pod_hashes(server) == [first, first]


# --- rolling update without surge (r-rolling-no-surge) -------------------------------------------------------


def test_max_unavailable_2_follows_the_controller_sync_sequence() -> None:
    """Case 81: (0,2) (2,0) R (0,2) (2,0) R (0,1) (1,0) R (0,0)."""
    server = make_cluster(5, strategy=rolling_update(2))
    clock = ManualClock()
    sim = simulate(server, clock)
    sim.settle()
    set_image(server, "foo/bar:v2")

    sequence = [
        step(sim),
        step(sim),
        mark_ready(sim, clock),
        step(sim),
        step(sim),
        mark_ready(sim, clock),
        step(sim),
        step(sim),
        mark_ready(sim, clock),
        step(sim),
    ]

    assert sequence == [(0, 2), (2, 0), (0, 0), (0, 2), (2, 0), (0, 0), (0, 1), (1, 0), (0, 0), (0, 0)]
    assert pod_hashes(server) == [current_hash(server)] * 5


def test_max_unavailable_1_replaces_one_node_at_a_time(watch: Any) -> None:
    """r-rolling-no-surge with the default budget: never more than one node without an available pod, all new
    at the end."""
    server, sim = settled(5, strategy=rolling_update(1))
    seen: list[int] = []
    watch(server, lambda: seen.append(unavailable_nodes(server)))
    set_image(server, "foo/bar:v2")
    since = len(sim.history)

    sim.settle()

    assert max(seen) == 1
    assert controller_pod_writes(sim, since) == (5, 5)
    assert pod_hashes(server) == [current_hash(server)] * 5
    status = daemonset(server)["status"]
    assert status["updatedNumberScheduled"] == status["numberAvailable"] == 5


def test_max_unavailable_2_never_has_more_than_2_unavailable_nodes(watch: Any) -> None:
    """Case 81 as an invariant over every stored change: the budget is used, never exceeded."""
    server, sim = settled(5, strategy=rolling_update(2))
    seen: list[int] = []
    watch(server, lambda: seen.append(unavailable_nodes(server)))
    set_image(server, "foo/bar:v2")

    sim.settle()

    assert max(seen) == 2
    assert pod_hashes(server) == [current_hash(server)] * 5


def test_percent_max_unavailable_rounds_up() -> None:
    """Case 173: maxUnavailable 10% of 3 nodes is 1 node, not 0."""
    server, sim = settled(3, strategy=rolling_update("10%"))
    set_image(server, "foo/bar:v2")
    assert step(sim) == (0, 1)


def test_min_ready_seconds_holds_the_next_replacement_until_the_pod_is_available() -> None:
    """r-availability: a Ready pod counts as available only minReadySeconds after it turned Ready."""
    server = make_cluster(3, strategy=rolling_update(1), min_ready_seconds=10)
    clock = ManualClock()
    sim = simulate(server, clock)
    sim.settle()
    set_image(server, "foo/bar:v2")

    assert [step(sim), step(sim), mark_ready(sim, clock)] == [(0, 1), (1, 0), (0, 0)]
    assert step(sim) == (0, 0)  # Ready, but not yet for 10 seconds
    clock.advance(10)
    assert step(sim) == (0, 1)
    sim.settle()  # settle() jumps the clock over each minReadySeconds wait
    assert pod_hashes(server) == [current_hash(server)] * 3
    assert daemonset(server)["status"]["numberAvailable"] == 3


def test_graceful_deletion_rolls_out_through_terminating_pods(watch: Any) -> None:
    """With graceful pod deletion the controller's deletes leave terminating pods that the kubelet removes;
    a node whose only pod is terminating counts as unavailable and gets no replacement until it is gone
    (r-rolling-no-surge)."""
    server = ApiServer(graceful_pod_deletion=True)
    for index in range(3):
        server.add(make_node(f"node-{index}"))
    server.add(make_daemonset(strategy=rolling_update(1)))
    sim = simulate(server)
    sim.settle()
    terminating: list[int] = []

    def check() -> None:
        pods = server.objects("pods")
        terminating.append(sum(1 for pod in pods if pod["metadata"].get("deletionTimestamp")))
        assert len(pods) <= 3  # never a replacement next to a terminating pod

    watch(server, check)
    set_image(server, "foo/bar:v2")
    sim.settle()

    assert max(terminating) == 1
    assert any("graceful" in entry[3] for entry in sim.history)
    assert pod_hashes(server) == [current_hash(server)] * 3
    assert len(server.objects("pods")) == 3


def test_same_seed_and_clock_give_the_same_run() -> None:
    """Pod names and Go's map order come from the seed, all time from the clock: runs repeat exactly."""

    def run() -> list[tuple[str, str, str, str]]:
        server = make_cluster(4, strategy=rolling_update(2))
        sim = ClusterSimulator(server, clock=ManualClock(), ready_after=READY_AFTER, seed=7)
        sim.settle()
        set_image(server, "foo/bar:v2")
        sim.settle()
        return sim.history

    assert run() == run()


# --- rolling update with surge (r-rolling-surge) -------------------------------------------------------------


def test_max_surge_1_keeps_every_node_available(watch: Any) -> None:
    """r-rolling-surge: at most one node runs two pods, and no node is ever without an available pod."""
    server, sim = settled(5, strategy=rolling_update(0, 1))
    surged: list[int] = []
    unavailable: list[int] = []

    def check() -> None:
        surged.append(nodes_with_two_pods(server))
        unavailable.append(unavailable_nodes(server))

    watch(server, check)
    set_image(server, "foo/bar:v2")

    sim.settle()

    assert max(surged) == 1
    assert max(unavailable) == 0
    assert pod_hashes(server) == [current_hash(server)] * 5


def test_max_surge_2_sync_sequence_with_the_expectations_gate() -> None:
    """Case 82 as a real cluster runs it (r-expectations): a sync whose manage() deleted old pods leaves the next
    creates to the following sync. The Go unit test, with instantly-seen writes, folds each (0,2)(2,0) pair into
    (2,2)."""
    server = make_cluster(5, strategy=rolling_update(0, 2))
    clock = ManualClock()
    sim = simulate(server, clock)
    sim.settle()
    set_image(server, "foo/bar:v2")

    sequence = [
        step(sim),
        step(sim),
        mark_ready(sim, clock),
        step(sim),
        step(sim),
        step(sim),
        mark_ready(sim, clock),
        step(sim),
        step(sim),
        step(sim),
        mark_ready(sim, clock),
        step(sim),
        step(sim),
    ]

    assert sequence == [
        (2, 0),
        (0, 0),
        (0, 0),
        (0, 2),
        (2, 0),
        (0, 0),
        (0, 0),
        (0, 2),
        (1, 0),
        (0, 0),
        (0, 0),
        (0, 1),
        (0, 0),
    ]
    assert pod_hashes(server) == [current_hash(server)] * 5


@pytest.mark.parametrize("seed", range(6))
def test_parking_a_surge_keeps_the_old_pod_created_in_the_same_second(seed: int) -> None:
    """r-manage: back to one pod per node, the oldest stays. Simulated time is fast, so old and new pods often share
    a creationTimestamp second; the tie goes to creation order, never to the (random) name."""
    server = make_cluster(3, strategy=rolling_update(0, 1))
    sim = ClusterSimulator(server, clock=ManualClock(), ready_after=0.05, seed=seed)
    sim.settle()
    old = {p["metadata"]["name"] for p in server.objects("pods")}
    set_image(server, "foo/bar:v2")
    assert step(sim) == (1, 0)  # the surge pod, not Ready yet
    ds = daemonset(server)
    ds["spec"]["updateStrategy"] = {"type": "OnDelete"}
    server.update_object(ds)

    assert step(sim) == (0, 1)

    assert {p["metadata"]["name"] for p in live_pods(server)} == old
    assert unavailable_nodes(server) == 0


def test_surge_replaces_a_terminating_pod_at_once_but_plain_mode_waits() -> None:
    """Cases 48 and 77 (r-termination): a terminating pod blocks its node's replacement only without surge."""
    for strategy, expected_creates in ((rolling_update(1), 0), (rolling_update(0, 1), 1)):
        server = ApiServer(graceful_pod_deletion=True)
        server.add(make_node("node-0"))
        server.add(make_daemonset(strategy=strategy))
        clock = ManualClock()
        sim = simulate(server, clock)
        sim.settle()
        [pod] = server.objects("pods")
        pod["metadata"]["deletionTimestamp"] = "2024-06-01T12:00:30Z"
        server.update_object(pod)

        assert step(sim) == (expected_creates, 0), strategy
        sim.settle()  # the kubelet removes the terminating pod after its grace; the node gets its pod back
        assert len(live_pods(server)) == 1
        assert server.objects("pods")[0]["metadata"]["name"] != pod["metadata"]["name"]


# --- OnDelete ------------------------------------------------------------------------------------------------


def test_on_delete_replaces_an_old_pod_only_once_it_is_deleted() -> None:
    """r-on-delete: OnDelete never replaces old pods; a deleted one comes back with the new hash."""
    server, sim = settled(3, strategy="OnDelete")
    old = current_hash(server)
    set_image(server, "foo/bar:v2")

    sim.settle()
    assert pod_hashes(server) == [old] * 3
    assert daemonset(server)["status"].get("updatedNumberScheduled", 0) == 0

    victim = next(p for p in server.objects("pods") if target_node(p) == "node-1")
    server.delete_object("pods", "default", victim["metadata"]["name"])
    sim.settle()
    by_node = {target_node(p): p["metadata"]["labels"]["controller-revision-hash"] for p in server.objects("pods")}
    assert by_node == {"node-0": old, "node-1": current_hash(server), "node-2": old}
    assert daemonset(server)["status"]["updatedNumberScheduled"] == 1


# --- broken templates (r-rollout-progress) -------------------------------------------------------------------


def test_crash_looping_image_stalls_the_rollout_at_max_unavailable() -> None:
    """Case 84: new pods never get Ready, so the rollout stops with maxUnavailable broken nodes."""
    server = make_cluster(5, strategy=rolling_update(3))
    clock = ManualClock()
    sim = simulate(server, clock)
    sim.settle()
    set_image(server, "foo/crash:v2")

    assert [step(sim), step(sim), step(sim)] == [(0, 3), (3, 0), (0, 0)]
    sim.settle()
    assert step(sim) == (0, 0)

    new = [
        p for p in server.objects("pods") if p["metadata"]["labels"]["controller-revision-hash"] == current_hash(server)
    ]
    assert len(new) == 3
    assert not any(is_ready(p) for p in new)
    status = daemonset(server)["status"]
    assert (status["updatedNumberScheduled"], status["numberAvailable"], status["numberUnavailable"]) == (3, 2, 3)

    # r-container-states: the first exit restarts at once, then 10 s, 20 s ... of CrashLoopBackOff.
    started = datetime.fromisoformat(new[0]["status"]["startTime"].replace("Z", "+00:00"))
    clock.advance_to(started + timedelta(seconds=20))
    sim.reconcile_once()
    pod = server.get("pods", "default", new[0]["metadata"]["name"])
    assert pod is not None
    container_status = pod["status"]["containerStatuses"][0]
    assert container_status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container_status["state"]["waiting"]["message"].startswith("back-off 20s restarting failed container=")
    assert container_status["restartCount"] == crash_restarts(20, READY_AFTER) == 2


def test_unready_pods_of_a_broken_revision_are_replaced_first() -> None:
    """Case 85: after a second template change the unavailable pods go first; the Ready ones stay."""
    server, sim = settled(5, strategy=rolling_update(2))
    set_image(server, "foo/crash:v2")
    sim.settle()
    healthy = {p["metadata"]["name"] for p in server.objects("pods") if is_ready(p)}
    assert len(healthy) == 3

    set_image(server, "foo/crash:v3")
    assert [step(sim), step(sim), step(sim)] == [(0, 2), (2, 0), (0, 0)]
    sim.settle()
    assert {p["metadata"]["name"] for p in server.objects("pods") if is_ready(p)} == healthy


def test_all_unavailable_old_pods_are_replaced_regardless_of_budget() -> None:
    """Case 88: old pods that are not Ready are all replaced at once, whatever maxUnavailable says."""
    server = make_cluster(5, strategy=rolling_update(3))
    set_image(server, "foo/crash:v1")  # pods that never get Ready
    sim = simulate(server)
    sim.settle()
    set_image(server, "foo/crash:v2")

    assert [step(sim), step(sim), step(sim)] == [(0, 5), (5, 0), (0, 0)]


def test_image_that_cannot_be_pulled_waits_in_image_pull_backoff() -> None:
    """The kubelet reports ErrImagePull, then ImagePullBackOff; the pod stays Pending and never Ready."""
    server = make_cluster(1)
    set_image(server, "registry.example/nonexistent:1")
    clock = ManualClock()
    sim = simulate(server, clock)

    sim.reconcile_once()
    [pod] = server.objects("pods")
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"

    sim.settle()
    [pod] = server.objects("pods")
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {
        "reason": "ImagePullBackOff",
        "message": 'Back-off pulling image "registry.example/nonexistent:1"',
    }
    assert not is_ready(pod)


# --- NotReady nodes (r-node-lifecycle) -----------------------------------------------------------------------


def test_not_ready_node_keeps_its_pod_unready_and_misscheduled() -> None:
    """Case 164: unreachable taints make the node (False, True): the pod stays, turns unready, is misscheduled."""
    server, sim = settled(3)

    sim.set_node_ready("node-1", False)
    sim.settle()

    node = server.get("nodes", None, "node-1")
    assert node is not None
    assert [(t["key"], t["effect"]) for t in node["spec"]["taints"]] == [
        ("node.kubernetes.io/unreachable", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
    ]
    assert next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["status"] == "Unknown"
    pods = {target_node(p): p for p in server.objects("pods")}
    assert len(pods) == 3 and not is_ready(pods["node-1"])
    status = daemonset(server)["status"]
    assert (status["desiredNumberScheduled"], status["numberMisscheduled"], status["numberReady"]) == (2, 1, 2)

    sim.set_node_ready("node-1", True)
    sim.settle()
    node = server.get("nodes", None, "node-1")
    assert node is not None and "taints" not in node["spec"]
    assert all(is_ready(p) for p in server.objects("pods"))
    assert daemonset(server)["status"]["desiredNumberScheduled"] == 3


def test_pods_tolerating_everything_start_on_a_not_ready_node_but_never_get_ready() -> None:
    """Case 165: with `operator: Exists` the node is (True, True); the pod is bound, but no kubelet runs it."""
    server = make_cluster(2, tolerations=[toleration(operator="Exists")])
    sim = simulate(server)
    sim.set_node_ready("node-1", False)

    sim.settle()

    pods = {target_node(p): p for p in server.objects("pods")}
    assert pods["node-1"]["spec"]["nodeName"] == "node-1"
    assert pods["node-1"]["status"]["phase"] == "Pending"
    assert is_ready(pods["node-0"]) and not is_ready(pods["node-1"])

    sim.set_node_ready("node-1", True)
    sim.settle()
    assert all(is_ready(p) for p in server.objects("pods"))


# --- scheduler (r-scheduler-message) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node_extra", "blocker", "reasons"),
    [
        pytest.param(
            {"allocatable": {"cpu": "4", "memory": "100Mi"}},
            make_pod("hog", node="node-1", requests={"memory": "80Mi"}),
            ["Insufficient memory"],
            id="insufficient-memory",
        ),
        pytest.param(
            {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "1"}},
            make_pod("hog", node="node-1"),
            ["Too many pods"],
            id="too-many-pods",
        ),
        pytest.param(
            {"allocatable": {"cpu": "4", "memory": "8Gi"}},
            make_pod("hog", node="node-1", host_ports=[9100]),
            ["node(s) didn't have free ports for the requested pod ports"],
            id="host-port-taken",
        ),
        pytest.param(
            {"allocatable": {"memory": "100Mi", "cpu": "1"}},
            make_pod("hog", node="node-1", requests={"memory": "80Mi", "cpu": "900m"}),
            ["Insufficient cpu", "Insufficient memory"],
            id="two-resources-short",
        ),
    ],
)
def test_pod_that_does_not_fit_stays_pending_with_failed_scheduling(
    node_extra: Obj, blocker: Obj, reasons: list[str]
) -> None:
    """r-scheduler-message, cases 170/171: the controller creates the pod anyway; the scheduler leaves it Pending
    and says why."""
    server = ApiServer()
    roomy = {"allocatable": {"cpu": "4", "memory": "8Gi"}}
    for name in ("node-0", "node-1", "node-2"):
        server.add(make_node(name, **(node_extra if name == "node-1" else roomy)))
    server.add(blocker)
    ds = make_daemonset(requests={"memory": "50Mi", "cpu": "200m"}, host_ports=[9100])
    server.add(ds)
    sim = simulate(server)

    sim.settle()
    sim.settle()

    pending = next(p for p in server.objects("pods") if target_node(p) == "node-1" and p["metadata"]["name"] != "hog")
    assert "nodeName" not in pending["spec"]
    assert pending["status"]["phase"] == "Pending"
    # Nothing there has a lower priority, so DefaultPreemption finds no victims (r-preemption).
    message = (
        "0/3 nodes are available: "
        + ", ".join(f"1 {reason}" for reason in reasons)
        + ", 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    )
    [condition] = [c for c in pending["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert (condition["status"], condition["reason"], condition["message"]) == ("False", "Unschedulable", message)
    [event] = [e for e in server.objects("events") if e["reason"] == "FailedScheduling"]
    assert event["metadata"]["namespace"] == "default"
    assert event["type"] == "Warning"
    assert event["message"] == message
    assert event["involvedObject"] == {
        **event["involvedObject"],
        "kind": "Pod",
        "namespace": "default",
        "name": pending["metadata"]["name"],
        "uid": pending["metadata"]["uid"],
    }
    others = [p for p in server.objects("pods") if target_node(p) in ("node-0", "node-2")]
    assert all(p["status"]["phase"] == "Running" and is_ready(p) for p in others)
    status = daemonset(server)["status"]
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"], status["numberReady"]) == (3, 3, 2)


def test_fit_error_message_sorts_reasons_as_strings() -> None:
    """FitError.Error (r-scheduler-message): '<count> <reason>' entries sorted lexically; a one-node cluster has
    no NodeAffinity part."""
    assert fit_error_message(12, ["Too many pods"]) == (
        "0/12 nodes are available: 1 Too many pods, 11 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    )
    assert fit_error_message(1, ["Insufficient cpu"]) == "0/1 nodes are available: 1 Insufficient cpu."


# --- simulation controls -------------------------------------------------------------------------------------


def test_paused_simulation_writes_nothing() -> None:
    """While paused nothing moves: a template change is neither observed nor rolled out."""
    server, sim = settled(3)
    sim.paused = True
    set_image(server, "foo/bar:v2")
    version = server.resource_version
    before = len(sim.history)

    assert not any(sim.reconcile_once() for _ in range(5))
    sim.settle()

    assert server.resource_version == version
    assert len(sim.history) == before
    sim.paused = False
    sim.settle()
    assert pod_hashes(server) == [current_hash(server)] * 3


def test_settled_cluster_makes_no_writes() -> None:
    server, sim = settled(3, strategy=rolling_update(0, 1))
    version = server.resource_version
    assert not sim.reconcile_once()
    assert server.resource_version == version


def test_deleting_the_daemonset_garbage_collects_its_pods_and_revisions() -> None:
    server, sim = settled(2)
    server.delete_object("daemonsets", "default", "ds")
    sim.settle()
    assert server.objects("pods") == [] and server.objects("controllerrevisions") == []


def test_runs_a_rollout_in_the_background_after_a_write_over_http() -> None:
    """The background thread reacts to what an HTTP client (like the plugin) writes, in real time."""
    server = make_cluster(3, strategy=rolling_update(1))
    server.start()
    try:
        with ClusterSimulator(server, ready_after=0.02, tick=0.005) as sim:
            sim.settle()
            template = daemonset(server)["spec"]["template"]
            template["spec"]["containers"] = [container(image="foo/bar:v2")]
            body = json.dumps({"spec": {"template": template}}).encode()
            request = urllib.request.Request(
                f"{server.url}/apis/apps/v1/namespaces/default/daemonsets/ds",
                data=body,
                method="PATCH",
                headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/merge-patch+json"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200

            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                status = daemonset(server)["status"]
                if (
                    status.get("updatedNumberScheduled") == 3
                    and status.get("numberAvailable") == 3
                    and status.get("observedGeneration") == 2
                ):
                    break
                time.sleep(0.01)
            assert pod_hashes(server) == [current_hash(server)] * 3
            assert not sim.errors
    finally:
        server.stop()
