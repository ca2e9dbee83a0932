"""Revisions are matched by bytes (docs/rules.md#r-revisions): once the API server defaults a new field (an
upgrade, a mutating webhook), the controller snapshots "the same" template again under a new hash. A rollback
must adopt that revision by content, not wait for the old hash for ever; pods still on the old hash are
already rolled back."""

from __future__ import annotations

from kubectl_ds.render.rollout import event_line, outcome_message
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.decisions import same_template
from kubectl_ds.rollout.state import RolloutOptions
from tests import rollout_harness
from tests.rollout_harness import Harness

OLD, NEW = "agent:v1", "agent:v2"
V2 = Change(images=(("agent", NEW),), description="image agent=agent:v2")


def manual_cluster(**options: object) -> Harness:
    return rollout_harness.manual_cluster(words=event_line, **options)  # type: ignore[arg-type]


def test_abort_adopts_the_revision_the_controller_snapshots_again_for_the_starting_template() -> None:
    h = manual_cluster(nodes=3)
    h.rollout().start(V2, RolloutOptions(), steps=1)  # node-0 updated, then paused
    start_hash = h.state()["start_hash"]
    h.server.add_template_default("spec.enableServiceLinks", True)  # the API server was upgraded meanwhile
    h.invariants.armed = True
    outcome = h.rollout().abort(step_timeout=30)
    assert outcome_message(outcome) == 'daemon set "agent" rolled back; updateStrategy restored'
    assert h.node_images() == {"node-0": OLD, "node-1": OLD, "node-2": OLD}
    # Only node-0 was touched again: node-1 and node-2 still run their pods of the old snapshot.
    assert [line for line in h.lines() if line.startswith("step ") and " done" not in line] == [
        "step 1 of 3: node-0",
        "step 1 of 1: node-0",
    ]
    assert h.current_hash() != start_hash  # the controller's new snapshot of the starting template
    assert h.invariants.violations == []


def test_a_different_template_is_not_adopted_as_the_same() -> None:
    stored = {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}
    assert same_template(
        stored, {"spec": {"containers": [{"name": "a", "image": "x:1", "stdin": False}], "enableServiceLinks": True}}
    )
    assert not same_template(stored, {"spec": {"containers": [{"name": "a", "image": "x:2"}]}})
    assert not same_template(stored, {"spec": {"containers": []}})


def test_a_forward_rollout_adopts_the_snapshot_of_its_own_target_when_the_api_server_defaults_a_field() -> None:
    h = manual_cluster(nodes=3)
    upgraded: list[bool] = []

    def upgrade_during_step_2(wait: object) -> None:
        if not upgraded and "step 2 of 3: node-1" in h.lines():
            h.server.add_template_default("spec.enableServiceLinks", True)  # the API server is upgraded
            upgraded.append(True)

    h.cluster.on_wait.append(upgrade_during_step_2)
    h.invariants.armed = True
    outcome = h.rollout().start(V2, RolloutOptions())
    # Not "changed by someone else": the new revision holds the rollout's own target, with a defaulted field.
    assert outcome_message(outcome) == 'daemon set "agent" successfully rolled out; updateStrategy restored'
    assert upgraded and h.node_images() == {"node-0": NEW, "node-1": NEW, "node-2": NEW}
    # node-0, updated under the first snapshot's hash, counts as done: it is not replaced a second time.
    assert [line for line in h.lines() if line.startswith("step ") and " done" not in line] == [
        "step 1 of 3: node-0",
        "step 2 of 3: node-1",
        "step 3 of 3: node-2",
    ]
    assert h.daemonset()["spec"]["template"]["spec"]["enableServiceLinks"] is True
    assert h.invariants.violations == []
    # Restored, RollingUpdate matches pods by hash: the controller itself replaces the two pods of the first
    # snapshot, one at a time under the original maxUnavailable 1 (a restart of the same content).
    h.cluster.run_for(30)
    assert set(h.pod_hashes().values()) == {h.current_hash()}
