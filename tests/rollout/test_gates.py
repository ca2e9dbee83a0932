"""Gates between the steps of a managed rollout, on manual time (tests/rollout_harness.py): the canary group
as one step whatever the budget, --check (a command run between steps), --bake (watching the updated pods
for a while) and what a resume does with each."""

from __future__ import annotations

from typing import Any

from kubectl_ds.render.rollout import event_line, outcome_message
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.state import RolloutOptions
from tests import rollout_harness
from tests.rollout_harness import Harness

NEW = "agent:v2"


def manual_cluster(**options: Any) -> Harness:
    return rollout_harness.manual_cluster(words=event_line, **options)


def image(tag: str) -> Change:
    return Change(images=(("agent", tag),), description=f"image agent={tag}")


def label_nodes(h: Harness, names: list[str], labels: dict[str, str]) -> None:
    for node in h.server.objects("Node"):
        if node["metadata"]["name"] in names:
            node["metadata"].setdefault("labels", {}).update(labels)
            h.server.update_object(node)


# --- the canary group is one step ------------------------------------------------------------------------------


def test_canary_group_is_one_step_replaced_within_the_budget_and_steps_1_stops_with_every_canary_updated() -> None:
    h = manual_cluster(nodes=4)
    label_nodes(h, ["node-1", "node-3"], {"pool": "canary"})
    h.invariants.armed = True  # never more than one node without an available pod
    outcome = h.rollout().start(image(NEW), RolloutOptions(max_unavailable=1, canary="pool=canary"), steps=1)
    assert h.said[1:] == [
        (0.2, "step 1 of 3: node-1, node-3 (canary)"),
        (2.2, "step 1 of 3 done: node-1, node-3 updated (2 of 4 nodes done)"),
    ]
    assert outcome_message(outcome) == (
        "daemonset.apps/agent paused: stopped after 1 step (--steps); continue with: kubectl ds rollout resume agent"
    )
    assert h.node_images() == {"node-0": "agent:v1", "node-1": NEW, "node-2": "agent:v1", "node-3": NEW}
    assert h.invariants.violations == []
