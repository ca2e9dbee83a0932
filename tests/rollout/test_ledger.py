"""The budget ledger of a controller-driven RollingUpdate (docs/rules.md#r-ledger): which nodes hold
maxUnavailable (or maxSurge) and why, what the next pass does, and when the rollout is stuck."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.rollout import ledger as lg
from kubectl_ds.rollout.ledger import Ledger, budget_ledger
from tests.builders import NOW, make_daemonset, make_node, make_pod, make_revision, rolling_update, toleration

Obj = dict[str, Any]


def crash(name: str, node: str, ds: Obj) -> Obj:
    pod = make_pod(name, node=node, owner=ds, revision_hash="new", ready=False, container_waiting="CrashLoopBackOff")
    pod["status"]["containerStatuses"][0]["restartCount"] = 5
    return pod


def unschedulable(name: str, node: str, ds: Obj) -> Obj:
    pod = make_pod(name, target_node=node, owner=ds, revision_hash="new", phase="Pending", ready=False)
    pod["status"]["conditions"].append(
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/5 nodes are available: 1 Insufficient memory, 4 node(s) didn't satisfy plugin(s) "
            "[NodeAffinity]. preemption: 0/5 nodes are available: 5 No preemption victims found.",
        }
    )
    return pod


def old(name: str, node: str, ds: Obj, **kwargs: Any) -> Obj:
    return make_pod(name, node=node, owner=ds, revision_hash="old", **kwargs)


def new(name: str, node: str, ds: Obj, **kwargs: Any) -> Obj:
    return make_pod(name, node=node, owner=ds, revision_hash="new", **kwargs)


def ledger_of(
    pods: list[Obj] | None = None,
    *,
    strategy: Obj | None = None,
    nodes: int = 4,
    unreachable: tuple[str, ...] = (),
    build: Any = None,
) -> Ledger:
    ds = make_daemonset(strategy=strategy or rolling_update(1), tolerations=[toleration(operator="Exists")])
    node_objects = [make_node(f"n{i}", ready="Unknown" if f"n{i}" in unreachable else True) for i in range(nodes)]
    pod_list = build(ds) if build else (pods or [])
    index = index_revisions(ds, [make_revision(ds, 1, "old"), make_revision(ds, 2, "new")])
    result = budget_ledger(ds, node_objects, pod_list, index, now=NOW)
    assert result is not None
    return result


def summary(ledger: Ledger) -> tuple[str, int, int, list[tuple[str, str]], list[str], int]:
    return (
        ledger.verdict,
        ledger.limit,
        ledger.used,
        [(use.node, use.cause) for use in ledger.users],
        list(ledger.waiting),
        ledger.next_count,
    )


CASES = [
    pytest.param(
        lambda ds: [new("p0", "n0", ds), new("p1", "n1", ds), new("p2", "n2", ds), new("p3", "n3", ds)],
        rolling_update(1),
        (),
        (lg.COMPLETE, 1, 0, [], [], 0),
        id="every-node-updated-and-available-is-complete",
    ),
    pytest.param(
        lambda ds: [new("p0", "n0", ds), old("p1", "n1", ds), old("p2", "n2", ds), old("p3", "n3", ds)],
        rolling_update(1),
        (),
        (lg.PROGRESSING, 1, 0, [], ["n1", "n2", "n3"], 1),
        id="budget-left-the-next-pass-deletes-one-old-pod",
    ),
    pytest.param(
        lambda ds: [crash("p0", "n0", ds), old("p1", "n1", ds), old("p2", "n2", ds), old("p3", "n3", ds)],
        rolling_update(1),
        (),
        (lg.STUCK, 1, 1, [("n0", lg.CRASH_LOOPING)], ["n1", "n2", "n3"], 0),
        id="crash-looping-new-pod-eats-max-unavailable-stuck",
    ),
    pytest.param(
        lambda ds: [crash("p0", "n0", ds), old("p1", "n1", ds), old("p2", "n2", ds), old("p3", "n3", ds)],
        rolling_update("50%"),
        (),
        (lg.PROGRESSING, 2, 1, [("n0", lg.CRASH_LOOPING)], ["n1", "n2", "n3"], 1),
        id="percent-rounded-up-against-desired-leaves-room-to-progress",
    ),
    pytest.param(
        lambda ds: [unschedulable("p0", "n0", ds), old("p1", "n1", ds), old("p2", "n2", ds), old("p3", "n3", ds)],
        rolling_update(1),
        (),
        (lg.STUCK, 1, 1, [("n0", lg.UNSCHEDULABLE)], ["n1", "n2", "n3"], 0),
        id="unschedulable-new-pod-eats-max-unavailable-stuck",
    ),
    pytest.param(
        lambda ds: [
            new("p0", "n0", ds),
            old("p1", "n1", ds, ready=False, deletion_timestamp=NOW - timedelta(minutes=30)),
            old("p2", "n2", ds),
            old("p3", "n3", ds),
        ],
        rolling_update(1),
        ("n1",),
        (lg.STUCK, 1, 1, [("n1", lg.TERMINATING_UNREACHABLE)], ["n2", "n3"], 0),
        id="pod-terminating-on-an-unreachable-node-counts-as-empty-stuck",
    ),
    pytest.param(
        lambda ds: [
            new("p0", "n0", ds),
            old("p1", "n1", ds, ready=False, deletion_timestamp=NOW - timedelta(seconds=5)),
            old("p2", "n2", ds),
            old("p3", "n3", ds),
        ],
        rolling_update(1),
        (),
        (lg.PROGRESSING, 1, 1, [("n1", lg.TERMINATING)], ["n2", "n3"], 0),
        id="pod-terminating-on-a-live-node-clears-by-itself",
    ),
    pytest.param(
        lambda ds: [new("p0", "n0", ds, ready=False), old("p1", "n1", ds), old("p2", "n2", ds), old("p3", "n3", ds)],
        rolling_update(1),
        (),
        (lg.PROGRESSING, 1, 1, [("n0", lg.STARTING)], ["n1", "n2", "n3"], 0),
        id="new-pod-starting-holds-the-budget-but-is-not-stuck",
    ),
    pytest.param(
        lambda ds: [new("p0", "n0", ds), old("p1", "n1", ds, ready=False), old("p2", "n2", ds), old("p3", "n3", ds)],
        rolling_update(1),
        (),
        (lg.PROGRESSING, 1, 1, [("n1", lg.OLD_UNAVAILABLE)], ["n2", "n3"], 0),
        id="unavailable-old-pod-is-replaced-at-once-and-uses-the-budget",
    ),
    pytest.param(
        lambda ds: [new("p0", "n0", ds), old("p2", "n2", ds), old("p3", "n3", ds)],
        rolling_update(1),
        (),
        (lg.PROGRESSING, 1, 1, [("n1", lg.NO_POD)], ["n2", "n3"], 0),
        id="node-without-a-pod-uses-the-budget-until-manage-creates-one",
    ),
    pytest.param(
        lambda ds: [new("p0", "n0", ds, ready=False), old("p1", "n1", ds), old("p2", "n2", ds), old("p3", "n3", ds)],
        rolling_update(1),
        ("n0",),
        (lg.STUCK, 1, 1, [("n0", lg.NODE_UNREACHABLE)], ["n1", "n2", "n3"], 0),
        id="new-pod-on-an-unreachable-node-never-becomes-available",
    ),
    pytest.param(
        lambda ds: [
            new("p0", "n0", ds),
            old("p1", "n1", ds),
            crash("p1n", "n1", ds),
            old("p2", "n2", ds),
            old("p3", "n3", ds),
        ],
        rolling_update(0, 1),
        (),
        (lg.STUCK, 1, 1, [("n1", lg.CRASH_LOOPING)], ["n2", "n3"], 0),
        id="surge-crash-looping-new-pod-next-to-the-old-one-eats-max-surge",
    ),
    pytest.param(
        lambda ds: [new("p0", "n0", ds), old("p1", "n1", ds), old("p2", "n2", ds), old("p3", "n3", ds)],
        rolling_update(0, 1),
        (),
        (lg.PROGRESSING, 1, 0, [], ["n1", "n2", "n3"], 1),
        id="surge-with-room-creates-a-new-pod-next-to-an-old-one",
    ),
    pytest.param(
        lambda ds: [new("p0", "n0", ds), old("p1", "n1", ds, ready=False), old("p2", "n2", ds), old("p3", "n3", ds)],
        rolling_update(0, 1),
        (),
        (lg.PROGRESSING, 1, 0, [], ["n2", "n3"], 1),
        id="surge-an-unavailable-old-pod-gets-its-new-pod-free-of-budget",
    ),
]


@pytest.mark.parametrize(("build", "strategy", "unreachable", "expected"), CASES)
def test_budget_ledger(build: Any, strategy: Obj, unreachable: tuple[str, ...], expected: tuple[Any, ...]) -> None:
    assert summary(ledger_of(build=build, strategy=strategy, unreachable=unreachable)) == expected


def test_stuck_reason_names_the_holders_and_the_waiting_nodes() -> None:
    ledger = ledger_of(
        build=lambda ds: [crash("p0", "n0", ds), old("p1", "n1", ds), old("p2", "n2", ds), old("p3", "n3", ds)]
    )
    assert ledger.reason == (
        "maxUnavailable 1 is used up by nodes that will not recover by themselves (n0: pod p0: container foo is "
        "crash-looping (5 restarts)); 3 nodes wait with an old pod (n1, n2, n3)"
    )
    assert ledger.finding() == (lg.STUCK_FINDING, ledger.reason)


def test_percent_budget_is_told_with_its_node_count() -> None:
    ledger = ledger_of(
        build=lambda ds: [crash("p0", "n0", ds), crash("p1", "n1", ds), old("p2", "n2", ds), old("p3", "n3", ds)],
        strategy=rolling_update("40%"),
    )
    assert ledger.stuck
    assert lg.budget_text(ledger) == "maxUnavailable 40% (2 of 4 nodes, rounded up)"


def test_unreachable_terminating_pod_says_how_to_free_it() -> None:
    ledger = ledger_of(
        build=lambda ds: [
            new("p0", "n0", ds),
            old("p1", "n1", ds, ready=False, deletion_timestamp=NOW),
            old("p2", "n2", ds),
        ],
        nodes=3,
        unreachable=("n1",),
    )
    assert ledger.users[0].message == (
        "pod p1 is terminating on a node unreachable since 2024-06-01T11:00:00Z: its kubelet never confirms "
        "the deletion, so no new pod comes until the node returns, is deleted, or is tainted "
        "node.kubernetes.io/out-of-service"
    )


def test_no_old_pod_left_but_a_lasting_holder_is_stuck_too() -> None:
    ledger = ledger_of(
        build=lambda ds: [crash("p0", "n0", ds), new("p1", "n1", ds), new("p2", "n2", ds), new("p3", "n3", ds)],
        strategy=rolling_update(2),
    )
    assert (ledger.verdict, ledger.waiting, ledger.left) == (lg.STUCK, (), 1)
    assert ledger.reason == (
        "the rollout cannot complete: nodes that will not recover by themselves (n0: pod p0: container foo is "
        "crash-looping (5 restarts))"
    )


def test_on_delete_has_no_ledger() -> None:
    ds = make_daemonset(strategy="OnDelete")
    assert budget_ledger(ds, [make_node("n0")], [], index_revisions(ds, []), now=NOW) is None


def test_a_healthy_rollout_is_not_a_finding() -> None:
    assert ledger_of(build=lambda ds: [new(f"p{i}", f"n{i}", ds) for i in range(4)]).finding() is None
