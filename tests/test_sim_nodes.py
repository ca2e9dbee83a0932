"""Nodes in the simulated cluster fail, leave, join and reboot the way real ones do, and the controllers answer
as upstream's do: unreachable nodes and PodGC (docs/rules.md#r-node-lifecycle), NoExecute taint eviction
(#r-taint-eviction), new nodes and Failed pods under any update strategy (#r-on-delete, #r-manage).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.builders import make_pod, taint, toleration
from tests.sim_support import (
    READY_AFTER,
    Obj,
    advance,
    cluster,
    condition,
    current_hash,
    events,
    evict,
    is_ready,
    pods_on,
    revision_hash,
    set_image,
    the_pod,
)

HOUR = 3600.0


def bare_pod(name: str, node: str, *tolerations: Obj) -> Obj:
    """A running pod no controller owns, bound to `node`."""
    pod = make_pod(name, node=node)
    if tolerations:
        pod["spec"]["tolerations"] = list(tolerations)
    return pod


# --- unreachable nodes (r-node-lifecycle) ------------------------------------------------------------------


def test_r_node_lifecycle_an_unreachable_node_never_finishes_a_deletion() -> None:
    """The kubelet stops posting: Ready=Unknown and the unreachable taints; the DaemonSet pod stays (it
    tolerates unreachable:NoExecute for ever) but turns NotReady; evicted, it keeps its deletionTimestamp for as
    long as the node is away, and under OnDelete nothing replaces it. Back, the kubelet finishes the deletion and
    the node gets a pod of the current template."""
    server, sim, clock = cluster(3, strategy="OnDelete", seed=[bare_pod("loner", "node-1")])
    old = the_pod(server, "node-1")
    set_image(server, "foo/bar:v2")
    sim.settle()

    sim.make_unreachable("node-1")
    advance(sim, clock, 60)
    node = server.get("nodes", None, "node-1")
    assert node is not None
    assert (condition(node, "Ready") or {}).get("status") == "Unknown"
    assert [(t["key"], t["effect"], "timeAdded" in t) for t in node["spec"]["taints"]] == [
        ("node.kubernetes.io/unreachable", "NoSchedule", False),
        ("node.kubernetes.io/unreachable", "NoExecute", True),
    ]
    still = the_pod(server, "node-1")
    assert still["metadata"]["uid"] == old["metadata"]["uid"] and not still["metadata"].get("deletionTimestamp")
    assert not is_ready(still)
    loner = server.get("pods", "default", "loner")  # no toleration: the taint manager evicted it, for ever
    assert loner is not None and loner["metadata"]["deletionTimestamp"]
    assert (condition(loner, "DisruptionTarget") or {}).get("reason") == "DeletionByTaintManager"
    assert [e["message"] for e in events(server, "TaintManagerEviction")] == ["Marking for deletion Pod default/loner"]

    server.start()
    try:
        status, _, _ = evict(server, old["metadata"]["name"])
    finally:
        server.stop()
    assert status == 201
    advance(sim, clock, HOUR, step=60)
    [stuck] = pods_on(server, "node-1")
    assert stuck["metadata"]["uid"] == old["metadata"]["uid"] and stuck["metadata"]["deletionTimestamp"]
    assert server.get("pods", "default", "loner") is not None

    sim.make_reachable("node-1")
    sim.settle()
    new = the_pod(server, "node-1")
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    assert revision_hash(new) == current_hash(server) and is_ready(new)
    assert server.get("pods", "default", "loner") is None
    assert "taints" not in (server.get("nodes", None, "node-1") or {})["spec"]


@pytest.mark.parametrize(
    ("how", "gone_within"),
    [
        pytest.param("nothing", None, id="terminating-for-ever-without-an-operator"),
        pytest.param("out-of-service", (0, 20), id="gcTerminating-on-an-out-of-service-node"),
        pytest.param("node-deleted", (40, 60), id="gcOrphaned-after-the-quarantine"),
    ],
)
def test_r_node_lifecycle_podgc_force_deletes_only_what_upstream_does(
    how: str, gone_within: tuple[int, int] | None
) -> None:
    """PodGC (every 20 s) force-deletes a pod terminating on a dead node only once the node carries the
    out-of-service taint, or has been gone for 40 s; then the pod is marked Failed first."""
    server, sim, clock = cluster(2, strategy="OnDelete")
    pod = the_pod(server, "node-1")
    sim.make_unreachable("node-1")
    server.start()
    try:
        assert evict(server, pod["metadata"]["name"])[0] == 201
    finally:
        server.stop()
    advance(sim, clock, 120, step=10)
    assert server.get("pods", "default", pod["metadata"]["name"]) is not None
    phases: list[str] = []
    server.add_listener(
        lambda kind, obj: (
            phases.append(obj["status"].get("phase")) if obj["metadata"].get("uid") == pod["metadata"]["uid"] else None
        )
    )

    acted = clock()
    if how == "out-of-service":
        sim.set_out_of_service("node-1")
    elif how == "node-deleted":
        sim.delete_node("node-1")
    while server.get("pods", "default", pod["metadata"]["name"]) is not None and clock() < acted + timedelta(minutes=5):
        advance(sim, clock, 1)
    gone_after = (clock() - acted).total_seconds()
    if gone_within is None:
        assert server.get("pods", "default", pod["metadata"]["name"]) is not None
        return
    assert gone_within[0] <= gone_after <= gone_within[1] + 1
    assert phases[-2:] == ["Failed", "Failed"]  # marked Failed, then deleted
    if how == "node-deleted":
        assert [e for e in events(server, "FailedDaemonPod")] == []  # PodGC, not the DaemonSet controller


# --- NoExecute taints (r-taint-eviction) -------------------------------------------------------------------

DEDICATED = taint("dedicated", "NoExecute", "gpu")


@pytest.mark.parametrize(
    ("tolerations", "evicted_after"),
    [
        pytest.param([], 0, id="untolerated-evicted-at-once"),
        pytest.param(
            [toleration("dedicated", "Equal", "gpu", "NoExecute", seconds=30)],
            30,
            id="evicted-after-toleration-seconds",
        ),
        pytest.param([toleration("dedicated", "Exists", effect="NoExecute")], None, id="tolerated-for-ever"),
        pytest.param(
            [
                toleration("dedicated", "Exists", effect="NoExecute"),
                toleration("dedicated", "Equal", "gpu", "NoExecute", seconds=60),
            ],
            60,
            id="seconds-win-over-a-toleration-without-seconds",
        ),
        pytest.param([toleration("dedicated", "Equal", "gpu", "NoExecute", seconds=0)], 0, id="zero-seconds-at-once"),
    ],
)
def test_r_taint_eviction_follows_the_smallest_toleration_seconds(
    tolerations: list[Obj], evicted_after: float | None
) -> None:
    server, sim, clock = cluster(1, seed=[bare_pod("app", "node-0", *tolerations)])
    node = server.get("nodes", None, "node-0")
    assert node is not None
    node["spec"]["taints"] = [DEDICATED]
    server.update_object(node)
    tainted = clock()
    while (
        (pod := server.get("pods", "default", "app")) is not None
        and not pod["metadata"].get("deletionTimestamp")
        and clock() < tainted + timedelta(minutes=10)
    ):
        advance(sim, clock, 1)
    pod = server.get("pods", "default", "app")
    if evicted_after is None:
        assert pod is not None and not pod["metadata"].get("deletionTimestamp")
        return
    assert (clock() - tainted).total_seconds() <= evicted_after + 1
    assert (clock() - tainted).total_seconds() >= evicted_after
    [event] = events(server, "TaintManagerEviction")
    assert (event["type"], event["message"], event["source"]["component"]) == (
        "Normal",
        "Marking for deletion Pod default/app",
        "taint-eviction-controller",
    )


# --- new nodes and Failed pods (r-on-delete, r-manage) -----------------------------------------------------


@pytest.mark.parametrize("strategy", ["OnDelete", None], ids=["on-delete", "rolling-update"])
def test_r_on_delete_a_node_that_joins_gets_the_current_template(strategy: str | None) -> None:
    """A joining node is NotReady with the not-ready:NoSchedule taint until its kubelet reports Ready; then the
    controller creates a pod there from the template the DaemonSet has now, whatever the strategy."""
    server, sim, clock = cluster(2, strategy=strategy, image="foo/bar:v1")
    old_hash = current_hash(server)
    set_image(server, "foo/crash:v2")  # a rolling update of a crashing image stalls: old pods remain
    sim.settle()

    sim.add_node("node-9")
    sim.reconcile_once()
    joining = server.get("nodes", None, "node-9")
    assert joining is not None
    assert [t["key"] for t in joining["spec"]["taints"]] == ["node.kubernetes.io/not-ready"]
    assert pods_on(server, "node-9") == []
    advance(sim, clock, READY_AFTER)
    sim.settle()

    new = the_pod(server, "node-9")
    assert revision_hash(new) == current_hash(server) != old_hash
    assert new["spec"]["containers"][0]["image"] == "foo/crash:v2"
    assert any(revision_hash(p) == old_hash for p in server.objects("pods"))


def test_r_manage_pods_failed_by_a_node_shutdown_come_back_from_the_current_template() -> None:
    """Graceful node shutdown marks the node's pods Failed (reason Terminated); the controller deletes them
    (FailedDaemonPod) and, once the node is back, creates a pod from the current template, also under OnDelete."""
    server, sim, clock = cluster(2, strategy="OnDelete", image="foo/bar:v1")
    old_hash = current_hash(server)
    set_image(server, "foo/bar:v2")
    sim.settle()
    failed = the_pod(server, "node-0")

    sim.shut_down_node("node-0")
    shut = server.get("pods", "default", failed["metadata"]["name"])
    assert shut is not None
    assert (shut["status"]["phase"], shut["status"]["reason"], shut["status"]["message"]) == (
        "Failed",
        "Terminated",
        "Pod was terminated in response to imminent node shutdown.",
    )
    assert (condition(shut, "DisruptionTarget") or {}).get("reason") == "TerminationByKubelet"
    sim.settle()
    assert pods_on(server, "node-0") == []  # deleted; the node is unreachable, so nothing new yet
    assert [e["message"] for e in events(server, "FailedDaemonPod")] == [
        f"Found failed daemon pod default/{failed['metadata']['name']} on node node-0, will try to kill it"
    ]

    sim.make_reachable("node-0")
    sim.settle()
    assert revision_hash(the_pod(server, "node-0")) == current_hash(server) != old_hash
    assert revision_hash(the_pod(server, "node-1")) == old_hash


def test_r_manage_failed_pods_are_deleted_with_a_per_node_back_off() -> None:
    """The first Failed pod of a node goes at once; its replacement, failing at once too, waits 1 s, the next
    one 2 s, ... (kube-controller-manager's 1 s doubling to 15 min)."""
    server, sim, clock = cluster(1)
    waited = []
    for _ in range(4):
        pod = the_pod(server, "node-0")
        pod["status"]["phase"] = "Failed"  # what a kubelet rejecting the pod writes
        server.update_object(pod)
        failed_at = clock()
        while server.get("pods", "default", pod["metadata"]["name"]) is not None:
            advance(sim, clock, 0.25, step=0.25)
        waited.append((clock() - failed_at).total_seconds())
        sim.reconcile_once()  # the replacement, on the controller's next sync
    assert waited == [0.25, 1.0, 2.0, 4.0]  # the first in the first pass after the failure
