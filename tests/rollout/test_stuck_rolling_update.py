"""A RollingUpdate the controller drives by itself, stuck the way a real cluster gets stuck, on manual time:
the simulator first (it must hold the rollout exactly as the controller does, docs/rules.md#r-ledger), then
what `rollout status` makes of it, and `rollout status --timeout` waiting on watches against the manual
clock (a timeout of minutes costs no real time)."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_ds.commands.rollout.views import StatusOptions, show_status
from kubectl_ds.errors import ExitCode, RolloutNotDone
from kubectl_ds.kube.config import KubeFlags
from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.rollout.ledger import STUCK, budget_ledger
from tests.rollout_harness import Harness, manual_cluster
from tests.rollout_support import NAME, NAMESPACE

Obj = dict[str, Any]
TOLERATE_ALL = [{"operator": "Exists"}]  # as kube-proxy and CNIs: the DaemonSet still wants unreachable nodes


def set_image(h: Harness, image: str) -> None:
    def change(ds: Obj) -> None:
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = image

    h.update_daemonset(change)


def images(h: Harness) -> dict[str, str]:
    return h.node_images()


def ledger(h: Harness) -> Any:
    ds = h.daemonset()
    pods = h.server.objects("Pod", NAMESPACE)
    index = index_revisions(ds, h.server.objects("ControllerRevision", NAMESPACE))
    return budget_ledger(ds, h.server.objects("Node"), pods, index, now=h.clock())


def status_lines(h: Harness, **options: Any) -> tuple[int | str, list[str]]:
    """`rollout status` on the manual cluster: (exit code or the error line, what it printed)."""
    printed: list[str] = []
    opts = StatusOptions(name=NAME, kube=KubeFlags(), **options)
    opts.validate()
    try:
        code: int | str = show_status(
            opts, h.cluster, NAMESPACE, clock=h.clock, echo=lambda text, nl: printed.append(text + ("\n" if nl else ""))
        )
    except RolloutNotDone as error:
        assert error.exit_code == ExitCode.UNHEALTHY
        code = f"error: {error.message}"
    return code, "".join(printed).splitlines()


# --- the simulator holds the rollout as the controller does ------------------------------------------------


def test_r_ledger_sim_a_crash_looping_new_pod_eats_max_unavailable_for_ever() -> None:
    h = manual_cluster(nodes=4)
    set_image(h, "agent:crash")
    h.cluster.run_for(600)
    crashing = [node for node, image in images(h).items() if image == "agent:crash"]
    assert len(crashing) == 1  # maxUnavailable 1: one node tried the new template, no other
    assert sorted(image for image in images(h).values()).count("agent:v1") == 3
    before = images(h)
    h.cluster.run_for(3600)
    assert images(h) == before  # an hour later, nothing has moved
    book = ledger(h)
    assert (book.verdict, [use.node for use in book.users], book.next_count) == (STUCK, crashing, 0)


def test_r_ledger_sim_a_pod_terminating_on_an_unreachable_node_holds_the_budget() -> None:
    h = manual_cluster(nodes=4, tolerations=TOLERATE_ALL)
    h.simulator.make_unreachable("node-1")
    h.cluster.run_for(10)
    set_image(h, "agent:v2")
    h.cluster.run_for(600)
    # node-1's old pod went NotReady, so the controller deleted it at once, outside the budget; the kubelet
    # never confirms the deletion, the node counts as unavailable, and no other old pod may go.
    pods = h.server.objects("Pod", NAMESPACE)
    terminating = [pod["metadata"]["name"] for pod in pods if pod["metadata"].get("deletionTimestamp")]
    assert len(terminating) == 1
    assert images(h) == {"node-0": "agent:v1", "node-2": "agent:v1", "node-3": "agent:v1"}
    book = ledger(h)
    assert [(use.node, use.cause) for use in book.users] == [("node-1", "terminating on an unreachable node")]
    assert book.stuck
    # The out-of-service taint lets PodGC remove the pod, but a DaemonSet that tolerates everything gets a new
    # pod there at once, which an absent kubelet never starts: still stuck, now on the node itself.
    h.simulator.set_out_of_service("node-1")
    h.cluster.run_for(600)
    book = ledger(h)
    assert [(use.node, use.cause) for use in book.users] == [("node-1", "node unreachable")]
    assert book.stuck
    # The node comes back: its new pod starts and the rollout finishes.
    h.simulator.make_reachable("node-1")
    h.cluster.run_for(600)
    assert set(images(h).values()) == {"agent:v2"}


# --- rollout status ------------------------------------------------------------------------------------------


def test_status_shows_the_ledger_of_a_stuck_controller_rolling_update() -> None:
    h = manual_cluster(nodes=4)
    set_image(h, "agent:crash")
    h.cluster.run_for(600)
    node = next(node for node, image in images(h).items() if image == "agent:crash")
    pod = h.pod_on(node)
    waiting = [name for name in ("node-0", "node-1", "node-2", "node-3") if name != node]
    restarts = next(
        p["status"]["containerStatuses"][0]["restartCount"]
        for p in h.server.objects("Pod", NAMESPACE)
        if p["metadata"]["name"] == pod
    )
    code, lines = status_lines(h)
    crash = f"pod {pod}: container agent is crash-looping ({restarts} restarts, last exit code 1 (Error))"
    assert code == 0
    assert lines[:6] == [
        'Waiting for daemon set "agent" rollout to finish: 1 out of 4 new pods have been updated...',
        "budget: maxUnavailable 1: 1 used, 0 left",
        f"  {node}  {crash}",
        f"waiting with an old pod: 3 nodes ({', '.join(waiting)})",
        "next: nothing more until a node holding the budget has an available new pod",
        "stuck: the controller will not replace another old pod by itself; fix the new template, or go back to "
        "the previous one: kubectl rollout undo ds/agent -n default; or raise maxUnavailable",
    ]


def test_status_timeout_exits_3_at_the_deadline_of_a_stuck_rollout() -> None:
    h = manual_cluster(nodes=3)
    set_image(h, "agent:crash")
    h.cluster.run_for(300)
    start = h.clock()
    code, lines = status_lines(h, timeout="5m")
    assert (h.clock() - start).total_seconds() == 300  # waited exactly the timeout, on watches
    assert isinstance(code, str)
    assert code.startswith(
        'error: timed out after 5m waiting for daemon set "agent" to roll out: stuck: maxUnavailable 1 is used up '
        "by nodes that will not recover by themselves ("
    )
    assert lines[0] == 'Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...'
    assert {wait.kind for wait in h.cluster.waits} == {"watch"}  # never a sleep


def test_status_timeout_returns_as_soon_as_the_rollout_is_done() -> None:
    h = manual_cluster(nodes=3, ready_after=1.0)
    set_image(h, "agent:v2")
    start = h.clock()
    code, lines = status_lines(h, timeout="10m")
    waited = (h.clock() - start).total_seconds()
    assert code == 0 and lines[0] == 'daemon set "agent" successfully rolled out'
    assert 0 < waited < 60  # three nodes one by one, a second each, plus the controller's passes
    assert set(images(h).values()) == {"agent:v2"}


@pytest.mark.parametrize("watch", [pytest.param(False, id="timeout-alone"), pytest.param(True, id="with-watch")])
def test_status_timeout_works_for_on_delete(watch: bool) -> None:
    """kubectl's rollout status refuses OnDelete; ours waits until every node runs the newest revision."""
    h = manual_cluster(nodes=2, strategy={"type": "OnDelete"})
    set_image(h, "agent:v2")
    h.cluster.run_for(5)
    code, lines = status_lines(h, timeout="1m", watch=watch)
    assert code == (
        'error: timed out after 1m waiting for daemon set "agent" to roll out: 0 of 2 nodes updated and available'
    )
    deleted: list[str] = []

    def delete_old_pods(_: Any) -> None:
        if not deleted:  # the operator deletes the old pods while status waits
            for node in ("node-0", "node-1"):
                deleted.append(h.pod_on(node))
                h.server.delete_object("pods", NAMESPACE, deleted[-1])

    h.cluster.on_wait.append(delete_old_pods)
    code, lines = status_lines(h, timeout="1m", watch=watch)
    assert code == 0
    done = 'daemon set "agent" uses OnDelete: 2 of 2 nodes run the newest revision'
    # --watch prints a line per change, the last one done; --timeout alone prints the last look in full.
    assert (lines[-1] if watch else lines[0]).startswith(done)


def test_r_ledger_sim_an_unschedulable_new_pod_holds_max_unavailable() -> None:
    h = manual_cluster(nodes=3)

    def too_big(ds: Obj) -> None:
        ds["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"memory": "1Ti"}}

    h.update_daemonset(too_big)
    h.cluster.run_for(600)
    book = ledger(h)
    assert book.stuck
    assert [use.cause for use in book.users] == ["unschedulable"]
    assert book.users[0].message.endswith("is Pending: Insufficient memory")
    assert len(book.waiting) == 2


def test_r_ledger_sim_surge_a_crash_looping_new_pod_beside_the_old_one_holds_max_surge() -> None:
    h = manual_cluster(
        nodes=3, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    )
    set_image(h, "agent:crash")
    h.cluster.run_for(600)
    doubled = [node for node, image in images(h).items() if "," in image]
    assert len(doubled) == 1  # the old pod stays beside the crash-looping new one
    book = ledger(h)
    assert (book.surge, book.verdict, [use.node for use in book.users]) == (True, STUCK, doubled)
    assert [use.cause for use in book.users] == ["crash-looping"]
