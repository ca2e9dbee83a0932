"""What a managed rollout asks of the API server (docs/rules.md#r-list-watch), pinned exactly on manual time
(tests/rollout_harness.py): the DaemonSet's pods listed once and then followed by watch, the nodes listed
once per step (plus the check after the last), the ControllerRevisions listed again only when the
DaemonSet's generation moves; a watch that fails with 410 Gone costs exactly one list more."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from kubectl_ds.render.rollout import event_line, outcome_message
from kubectl_ds.rollout.change import Change
from kubectl_ds.rollout.state import RolloutOptions
from tests import rollout_harness
from tests.rollout_harness import Harness, Wait

V2 = Change(images=(("agent", "agent:v2"),), description="image agent=agent:v2")
FINISHED = 'daemon set "agent" successfully rolled out; updateStrategy restored'


def manual_cluster(**options: Any) -> Harness:
    return rollout_harness.manual_cluster(words=event_line, **options)


def requests(h: Harness) -> Counter[str]:
    """The drivers' requests by kind: "list pods", "watch pods", "list nodes", "list controllerrevisions", ..."""
    counted: Counter[str] = Counter()
    for _, request in h.cluster.log:
        resource = request.path.rsplit("/", 1)[-1]
        if request.method != "GET":
            counted[f"{request.method} {'eviction' if resource == 'eviction' else 'daemonset'}"] += 1
        elif request.query.get("watch"):
            counted[f"watch {resource}"] += 1
        elif resource in ("pods", "nodes", "controllerrevisions", "poddisruptionbudgets", "events"):
            counted[f"list {resource}"] += 1
        else:
            counted["get daemonset"] += 1
    return counted


# (nodes, options, steps, lists of pods, nodes and revisions, pod watches). Before the informer the first
# case made 15 pod lists, 5 node lists and 35 revision lists; the surge case 16, 6 and 41.
CASES = [
    pytest.param(6, RolloutOptions(max_unavailable=2), 3, (1, 4, 3, 13), id="3-steps-of-2-nodes"),
    pytest.param(10, RolloutOptions(), 10, (1, 11, 3, 41), id="10-steps-of-1-node"),
    # Each surge step writes the strategy twice (hand over, park again): two new generations to observe.
    pytest.param(4, RolloutOptions(max_unavailable=0, max_surge=1), 4, (1, 5, 8, 10), id="4-surge-steps"),
    # A pause between steps reads the pods again after it (the cluster moved meanwhile), but not the nodes.
    pytest.param(4, RolloutOptions(pause_between=3), 4, (1, 5, 3, 20), id="pause-between-steps"),
]


@pytest.mark.parametrize(("nodes", "options", "steps", "expected"), CASES)
def test_a_rollout_lists_the_pods_once_and_the_nodes_once_per_step(
    nodes: int, options: RolloutOptions, steps: int, expected: tuple[int, int, int, int]
) -> None:
    h = manual_cluster(nodes=nodes, max_unavailable=int(options.max_unavailable), max_surge=int(options.max_surge))
    h.invariants.armed = True
    assert outcome_message(h.rollout().start(V2, options)) == FINISHED
    assert sum(1 for line in h.lines() if " done: " in line) == steps
    counted = requests(h)
    assert (
        counted["list pods"],
        counted["list nodes"],
        counted["list controllerrevisions"],
        counted["watch pods"],
    ) == expected
    assert counted["list pods"] <= 2 * steps and counted["list nodes"] <= steps + 1
    assert h.invariants.violations == []


def test_a_watch_gone_410_costs_exactly_one_list_and_the_rollout_still_finishes() -> None:
    plain = manual_cluster(nodes=3)
    plain.rollout().start(V2, RolloutOptions())
    h = manual_cluster(nodes=3)
    h.invariants.armed = True
    expired: list[Wait] = []

    def compact(wait: Wait) -> None:
        """At the first watch of step 2: the cluster moves on (a node annotated), then etcd compacts, so the
        pods' version is older than anything the server still has: 410 Gone."""
        if not expired and wait.kind == "watch" and "step 2 of 3: node-1" in h.lines():
            expired.append(wait)
            node = h.server.get("nodes", None, "node-2")
            assert node is not None
            node["metadata"].setdefault("annotations", {})["touched"] = "yes"
            h.server.update_object(node)
            h.server.compact()

    h.cluster.on_wait.append(compact)
    assert outcome_message(h.rollout().start(V2, RolloutOptions())) == FINISHED
    assert expired
    assert requests(h)["list pods"] == requests(plain)["list pods"] + 1 == 2
    # The failed watch is followed by the 0.5 s pause every failed watch gets, then the list; the step still
    # ends when the new pod is Ready, as without the 410.
    assert h.said == plain.said
    assert [(w.kind, w.seconds) for w in h.cluster.waits if w.at >= expired[0].at][:2] == [
        ("watch", 2.0),
        ("sleep", 0.5),
    ]
    assert h.invariants.violations == []
