"""`rollout status` views: kubectl's line for RollingUpdate, the managed headline and phase, the bar."""

from __future__ import annotations

from datetime import timedelta

from kubectl_ds.render.status import one_line, progress_bar, render_status, status_text
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.state import RolloutState
from kubectl_ds.rollout.status import rollout_status
from tests.builders import NOW, make_daemonset, make_node, make_pod, make_revision, rolling_update


def cluster(
    strategy: dict[str, object] | None = None,
) -> tuple[dict[str, object], list[dict[str, object]], list[dict[str, object]], list[dict[str, object]]]:
    daemonset = make_daemonset(strategy=strategy or rolling_update())
    daemonset["metadata"]["generation"] = 2
    daemonset["status"] = {
        "observedGeneration": 2,
        "desiredNumberScheduled": 3,
        "updatedNumberScheduled": 1,
        "numberAvailable": 3,
    }
    nodes = [make_node(f"n{i}") for i in range(3)]
    revisions = [make_revision(daemonset, 1, "old"), make_revision(daemonset, 2, "new")]
    pods = [
        make_pod("p0", node="n0", owner=daemonset, revision_hash="new"),
        make_pod("p1", node="n1", owner=daemonset, revision_hash="old"),
        make_pod("p2", node="n2", owner=daemonset, revision_hash="old"),
    ]
    return daemonset, nodes, pods, revisions


def test_rolling_update_uses_kubectls_line() -> None:
    daemonset, nodes, pods, revisions = cluster()
    view = rollout_status(daemonset, nodes, pods, revisions, now=NOW)
    assert status_text(view).headline == (
        'Waiting for daemon set "ds" rollout to finish: 1 out of 3 new pods have been updated...'
    )
    assert not view.done
    assert [(line.node, line.state, line.revision) for line in view.nodes] == [
        ("n0", "updated", 2),
        ("n1", "old", 1),
        ("n2", "old", 1),
    ]


def test_managed_rollout_with_a_stale_driver_says_how_to_take_over() -> None:
    daemonset, nodes, pods, revisions = cluster({"type": "OnDelete"})
    state = RolloutState(
        rollout_id="r",
        phase=st.RUNNING,
        direction=st.FORWARD,
        start_hash="old",
        start_revision=1,
        target_hash="new",
        target_revision=2,
        steps_done=1,
        owner="kubectl-ds/gone",
        heartbeat=st.rfc3339(NOW - timedelta(minutes=5)),
        change="image foo=bar:2",
    )
    view = rollout_status(st.with_state(daemonset, state), nodes, pods, revisions, now=NOW)
    assert status_text(view).headline == (
        "managed rollout of daemonset.apps/ds: rolling out revision 2 (image foo=bar:2)"
    )
    assert status_text(view).detail == (
        "step 1 of 3: 1 of 3 nodes updated",
        "running, but its driver's heartbeat is stale (2024-06-01T11:55:00Z); take over with: "
        "kubectl ds rollout resume ds",
    )
    assert (view.step, view.steps, view.phase) == (1, 3, "running")


def test_progress_bar_and_table() -> None:
    daemonset, nodes, pods, revisions = cluster()
    view = rollout_status(daemonset, nodes, pods, revisions, now=NOW)
    assert progress_bar(view.counts, 9) == "[###......] 1/3 updated"
    text = render_status(view, bar_width=9)
    assert text.splitlines()[1:5] == [
        "budget: maxUnavailable 1: 0 used, 1 left",
        "waiting with an old pod: 2 nodes (n1, n2)",
        "next: delete the old pod on 1 of the 2 waiting nodes (Go's map order picks which)",
        "[###......] 1/3 updated",
    ]
    assert text.splitlines()[6].split() == ["NODE", "STATE", "REVISION", "WHY"]
    assert one_line(view).endswith(
        "| 1 updated, 0 unavailable, 2 old, 0 missing | next: delete the old pod on 1 of the 2 waiting nodes "
        "(Go's map order picks which)"
    )


def test_every_outcome_kind_has_a_message() -> None:
    """render/rollout.py words every Outcome the rollout layer can end with."""
    from kubectl_ds.render.rollout import outcome_message
    from kubectl_ds.rollout import events as ev
    from kubectl_ds.rollout.plan import Budget, Plan

    plan = Plan(
        steps=(),
        create_only=(),
        already_unavailable=(),
        partitioned=(),
        budget=Budget(max_surge=0, max_unavailable=1, desired=0, empty_nodes=()),
        surge=False,
        warnings=(),
        desired=0,
    )
    kinds = [value for key, value in vars(ev).items() if key.isupper() and isinstance(value, str)]
    assert len(kinds) > 15
    for kind in kinds:
        assert outcome_message(ev.Outcome(kind, "ds", plan=plan)).count("ds") >= 1


def test_a_contained_halt_and_the_nodes_that_joined_are_told() -> None:
    daemonset, nodes, pods, revisions = cluster({"type": "OnDelete"})
    state = RolloutState(
        rollout_id="r",
        phase=st.HALTED,
        direction=st.FORWARD,
        start_hash="old",
        start_revision=1,
        target_hash="new",
        target_revision=2,
        steps_done=1,
        reason="node n0 crash-loops",
        started_at=st.rfc3339(NOW - timedelta(minutes=10)),
        contained=True,
    )
    joined = make_node("n9")
    joined["metadata"]["creationTimestamp"] = st.rfc3339(NOW - timedelta(minutes=1))
    view = rollout_status(st.with_state(daemonset, state), [*nodes, joined], pods, revisions, now=NOW)
    assert status_text(view).detail[1:] == (
        "halted: node n0 crash-loops",
        "contained: the template is revision 1's again while parked, so nodes that join or recreate a pod get "
        "the known-good one; resume re-applies the target, abort rolls back",
        "joined during the rollout: n9",
    )
