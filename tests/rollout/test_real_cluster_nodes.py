"""Rollouts on nodes that come and go, pinned on manual time against the unkind simulator (see
tests/rollout_harness.py): unreachable and NotReady nodes (docs/rules.md#r-node-lifecycle), and what a halted,
contained rollout gives nodes that join or lose their pod while it is parked (docs/rules.md#r-on-delete).

The agent here tolerates every taint, as kube-proxy and most CNIs do, so it still wants an unreachable node:
the case where evicting there would wedge a rollout. Numbers to read them by: a pod is Ready one second after
its kubelet starts it, a watch waits at most 2 s, the runner lists nodes again once its list is 5 s old, and
the kubelet's crash loop makes `agent:crash` halt 34.2 s into its step.

The real-time, over-HTTP tests of the same rules are in tests/test_rollout_unreachable.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kubectl_ds.errors import Refused, RolloutHalted
from kubectl_ds.render.rollout import outcome_message
from kubectl_ds.render.text import moment
from kubectl_ds.rollout.state import STATE_ANNOTATION, RolloutOptions
from tests import apiserver as api
from tests.rollout.test_runner import (
    FINISHED,
    NEW,
    OLD,
    PARKED,
    RESUME_HINT,
    RU1,
    V2,
    at_wait,
    halt_message,
    image,
    images,
    manual_cluster,
    phase,
)
from tests.rollout_harness import Harness

EVERY_TAINT = [{"operator": "Exists"}]
CRASH = image("agent:crash")
CRASH_REASON = "node-0: container agent is crash-looping (3 restarts, last exit code 1 (Error))"
HALT_CRASH = 34.2


def agents(nodes: int, max_unavailable: int = 1) -> Harness:
    """`nodes` nodes running an agent that tolerates every taint, the invariants checked from now on."""
    h = manual_cluster(nodes=nodes, max_unavailable=max_unavailable, tolerations=EVERY_TAINT)
    h.invariants.armed = True
    return h


def since(h: Harness, node: str) -> str:
    """When the node's Ready condition last changed, as messages name it."""
    found = h.server.get("Node", None, node)
    assert found is not None
    return str(next(c for c in found["status"]["conditions"] if c["type"] == "Ready")["lastTransitionTime"])


def left_out(h: Harness, node: str) -> str:
    return (
        f"{FINISHED}; left out 1 unreachable node: {node} (unreachable since {since(h, node)}); the controller "
        "updates it when it returns"
    )


def pod_requests(h: Harness, node: str) -> list[str]:
    """The driver's evictions and deletions of pods that were ever on `node`."""
    there = {p["metadata"]["name"] for p in h.server.objects("Pod", "default") if p["spec"].get("nodeName") == node}
    return [
        f"{request.method} {request.path}"
        for _, request in h.cluster.log
        if "/pods/" in request.path and request.method in ("POST", "DELETE") and request.path.split("/")[6] in there
    ]


def pods_of(h: Harness, node: str) -> list[tuple[str, bool]]:
    """(image, terminating) of every pod on `node`."""
    return sorted(
        (p["spec"]["containers"][0]["image"], bool(p["metadata"].get("deletionTimestamp")))
        for p in h.server.objects("Pod", "default")
        if p["spec"].get("nodeName") == node
    )


def writes(h: Harness) -> list[str]:
    return [f"{request.method} {request.path}" for _, request in h.cluster.log if request.method != "GET"]


def go_not_ready(h: Harness, node: str) -> None:
    """The kubelet still posts, but Ready=False (a CNI that cut the node off), and the node lifecycle controller
    taints the node not-ready NoSchedule and NoExecute."""
    found = h.server.get("Node", None, node)
    assert found is not None
    now = api.rfc3339(h.clock())
    for condition in found["status"]["conditions"]:
        if condition["type"] == "Ready":
            condition.update(
                status="False",
                reason="KubeletNotReady",
                lastTransitionTime=now,
                message="container runtime network not ready: NetworkReady=false",
            )
    found.setdefault("spec", {})["taints"] = [
        {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": now},
    ]
    h.server.update_object(found)


def when_steps_done(h: Harness, count: int, action: Callable[[], None]) -> None:
    """Run `action` once, as the driver records its `count`-th step done (before it plans the next one)."""
    fired: list[bool] = []

    def listener(_event: str, obj: dict[str, Any]) -> None:
        state = ((obj.get("metadata") or {}).get("annotations") or {}).get(STATE_ANNOTATION)
        if not fired and obj.get("kind") == "DaemonSet" and state and json.loads(state).get("steps_done") == count:
            fired.append(True)
            action()

    h.server.add_listener(listener)


# --- unreachable before the start ---------------------------------------------------------------------------


def test_r_node_lifecycle_a_node_unreachable_before_the_start_is_never_evicted_and_named_at_the_end() -> None:
    h = agents(4, max_unavailable=2)
    h.simulator.make_unreachable("node-1")
    h.cluster.run_for(60)
    h.restart_clock()
    outcome = h.rollout().start(V2, RolloutOptions(max_unavailable=2, step_size=1))
    assert (outcome_message(outcome), outcome.done) == (left_out(h, "node-1"), True)
    assert since(h, "node-1") == h.stamp(-60)
    assert h.said[1:] == [
        (0.2, "step 1 of 3: node-0"),
        (1.2, "step 1 of 3 done: node-0 updated (1 of 4 nodes done)"),
        (1.2, "step 2 of 3: node-2"),
        (2.2, "step 2 of 3 done: node-2 updated (2 of 4 nodes done)"),
        (2.2, "step 3 of 3: node-3"),
        (3.2, "step 3 of 3 done: node-3 updated (3 of 4 nodes done)"),
    ]
    assert pod_requests(h, "node-1") == []
    assert images(h) == {"node-0": NEW, "node-1": OLD, "node-2": NEW, "node-3": NEW}
    daemonset = h.daemonset()
    assert daemonset["spec"]["updateStrategy"] == RU1
    assert STATE_ANNOTATION not in (daemonset["metadata"].get("annotations") or {})
    assert h.invariants.violations == []
    # Back, it is updated by the controller under the restored strategy.
    h.simulator.make_reachable("node-1")
    h.cluster.run_for(5)
    assert images(h) == {f"node-{i}": NEW for i in range(4)}


def test_r_node_lifecycle_the_step_count_of_a_rollout_around_an_unreachable_node_holds() -> None:
    h = agents(4, max_unavailable=2)
    h.simulator.make_unreachable("node-1")
    h.cluster.run_for(60)
    h.rollout().start(V2, RolloutOptions(max_unavailable=2))
    assert [line for line in h.lines() if line.startswith("step ") and " done: " not in line] == [
        "step 1 of 3: node-0",
        "step 2 of 3: node-2",
        "step 3 of 3: node-3",
    ]


def test_r_node_lifecycle_a_surge_rollout_does_not_blame_a_node_unreachable_before_the_start() -> None:
    h = manual_cluster(nodes=3, max_unavailable=0, max_surge=1, tolerations=EVERY_TAINT)
    h.simulator.make_unreachable("node-1")
    h.cluster.run_for(60)
    try:
        h.rollout().start(V2, RolloutOptions(max_unavailable=0, max_surge=1, step_timeout=60))
    except Refused:
        return  # refusing before any write would be an answer too
    except RolloutHalted as halted:
        assert "node-1 went unreachable" not in halted.message


REFUSAL = (
    'refusing to start the rollout of daemonset "agent" (nothing was changed): {count} unreachable {uses} up '
    "--max-unavailable {budget}: {listed}; no available node could be replaced until {returns}. Use a larger "
    "--max-unavailable, or --skip-unreachable to leave unreachable nodes out of the budget"
)


@pytest.mark.parametrize(
    ("unreachable", "options", "refused"),
    [
        pytest.param(["node-1"], RolloutOptions(max_unavailable=1), True, id="one-uses-up-a-budget-of-one"),
        pytest.param(["node-1", "node-3"], RolloutOptions(max_unavailable=2), True, id="two-use-up-a-budget-of-two"),
        pytest.param(["node-1"], RolloutOptions(max_unavailable=2, step_size=1), False, id="one-of-a-budget-of-two"),
        pytest.param(
            ["node-1", "node-3"],
            RolloutOptions(max_unavailable=1, skip_unreachable=True),
            False,
            id="skip-unreachable-leaves-them-out-of-the-budget",
        ),
    ],
)
def test_r_node_lifecycle_unreachable_nodes_that_use_up_the_budget_refuse_the_start_before_any_write(
    unreachable: list[str], options: RolloutOptions, refused: bool
) -> None:
    h = agents(5, max_unavailable=int(options.max_unavailable))
    for node in unreachable:
        h.simulator.make_unreachable(node)
    h.cluster.run_for(60)
    before = h.daemonset()["metadata"]["resourceVersion"]
    if refused:
        with pytest.raises(Refused) as caught:
            h.rollout().start(V2, options)
        listed = ", ".join(f"{node} (unreachable since {since(h, node)})" for node in unreachable)
        many = len(unreachable) > 1
        assert caught.value.message == REFUSAL.format(
            count=len(unreachable),
            uses="nodes use" if many else "node uses",
            budget=options.max_unavailable,
            listed=listed,
            returns="they return" if many else "it returns",
        )
        assert (writes(h), h.daemonset()["metadata"]["resourceVersion"]) == ([], before)
        return
    outcome = h.rollout().start(V2, options)
    assert outcome.done
    assert [(node, moment(when)) for node, when in outcome.left_out] == [(node, since(h, node)) for node in unreachable]
    assert [node for node, running in images(h).items() if running == OLD] == unreachable
    assert [request for node in unreachable for request in pod_requests(h, node)] == []
    assert h.daemonset()["spec"]["updateStrategy"] == RU1


# --- unreachable during the rollout -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "halt"),
    [
        pytest.param(RolloutOptions(max_unavailable=2, step_size=1, step_timeout=60), None, id="within-the-budget"),
        pytest.param(
            RolloutOptions(max_unavailable=1, skip_unreachable=True, step_timeout=60), None, id="skip-unreachable"
        ),
        # It keeps using the budget of 1: the next step waits for room until its timeout (66.2 s: it began at 6.2 s).
        pytest.param(
            RolloutOptions(max_unavailable=1, step_timeout=60),
            (66.2, "budget exhausted: 1 node unavailable (node-0) and --max-unavailable is 1"),
            id="it-uses-up-a-budget-of-one",
        ),
    ],
)
def test_r_node_lifecycle_a_node_lost_between_its_eviction_and_its_new_pod_drops_out_of_the_step(
    options: RolloutOptions, halt: tuple[float, str] | None
) -> None:
    """The kubelet never finishes the eviction, so no new pod comes under OnDelete: the step stops waiting for the
    node once the runner's node list (5 s old at most) says so, and the rollout goes on without it."""
    h = agents(4, max_unavailable=int(options.max_unavailable))
    at_wait(h, "step 1 of 4: node-0", lambda: h.simulator.make_unreachable("node-0"))
    if halt is not None:
        assert halt_message(lambda: h.rollout().start(V2, options)) == (
            f'rollout of daemonset "agent" halted: {halt[1]}; {RESUME_HINT}'
        )
        assert (h.elapsed(), phase(h)) == (halt[0], ("halted", halt[1], ""))
        assert images(h) == {"node-1": OLD, "node-2": OLD, "node-3": OLD}
        return
    outcome = h.rollout().start(V2, options)
    assert outcome_message(outcome) == left_out(h, "node-0")
    assert since(h, "node-0") == h.stamp(0.2)
    assert [said for said in h.said[1:] if not said[1].startswith("step 1 of 4 done")] == [
        (0.2, "step 1 of 4: node-0"),
        (6.2, "step 2 of 4: node-1"),
        (7.2, "step 2 of 4 done: node-1 updated (1 of 4 nodes done)"),
        (7.2, "step 3 of 4: node-2"),
        (8.2, "step 3 of 4 done: node-2 updated (2 of 4 nodes done)"),
        (8.2, "step 4 of 4: node-3"),
        (9.2, "step 4 of 4 done: node-3 updated (3 of 4 nodes done)"),
    ]
    assert pods_of(h, "node-0") == [(OLD, True)]  # the old pod terminates for ever; no new one came
    assert images(h) == {"node-1": NEW, "node-2": NEW, "node-3": NEW}
    assert h.daemonset()["spec"]["updateStrategy"] == RU1
    assert h.invariants.violations == []
    h.simulator.make_reachable("node-0")
    h.cluster.run_for(5)
    assert pods_of(h, "node-0") == [(NEW, False)]


def test_r_node_lifecycle_a_node_that_dropped_out_of_its_step_is_not_said_to_be_updated() -> None:
    h = agents(4, max_unavailable=2)
    at_wait(h, "step 1 of 4: node-0", lambda: h.simulator.make_unreachable("node-0"))
    h.rollout().start(V2, RolloutOptions(max_unavailable=2, step_size=1))
    [done] = [line for line in h.lines() if line.startswith("step 1 of 4 done")]
    assert "node-0 updated" not in done


def _lost(h: Harness, how: str) -> None:
    if how == "unreachable":
        h.simulator.make_unreachable("node-0")
    else:
        go_not_ready(h, "node-0")


@pytest.mark.parametrize("how", ["unreachable", "NotReady"])
@pytest.mark.parametrize(
    ("when", "halted_at", "updated"),
    [
        # Seen when the driver reads the nodes to plan step 2: nothing more is evicted.
        pytest.param("between-steps", 1.2, ["node-0"], id="between-steps"),
        # Step 2 had evicted node-1 already; it is seen once that step is over, before step 3.
        pytest.param("during-the-next-step", 2.2, ["node-0", "node-1"], id="during-the-next-step"),
    ],
)
def test_r_node_lifecycle_a_node_lost_after_its_pod_was_updated_halts_the_rollout(
    how: str, when: str, halted_at: float, updated: list[str]
) -> None:
    h = agents(3)
    if when == "between-steps":
        when_steps_done(h, 1, lambda: _lost(h, how))
    else:
        at_wait(h, "step 2 of 3: node-1", lambda: _lost(h, how))
    message = halt_message(lambda: h.rollout().start(V2, RolloutOptions()))
    assert since(h, "node-0") == h.stamp(1.2)  # lost right after step 1, in both cases
    reason = (
        f"node-0 went {how} (since {h.stamp(1.2)}) after its pod was updated; a node lost after an update is "
        "a failure signal"
    )
    assert message == f'rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}'
    assert (h.elapsed(), phase(h)) == (halted_at, ("halted", reason, ""))
    assert [node for node, running in images(h).items() if running == NEW] == updated
    assert images(h)["node-2"] == OLD  # never touched
    assert (h.daemonset()["spec"]["updateStrategy"], h.state()["contained"]) == (PARKED, True)
    assert h.invariants.violations == []
    # Once the node is back (its kubelet posts Ready again), resume finishes the rollout.
    h.simulator.make_reachable("node-0")
    h.cluster.run_for(5)
    h.restart_clock()
    assert outcome_message(h.rollout().resume()) == FINISHED
    assert images(h) == {f"node-{i}": NEW for i in range(3)}
    assert h.invariants.violations == []


# --- containment: what a halted rollout gives the nodes while it is parked --------------------------------------


def crash_halted(nodes: int = 3) -> Harness:
    """node-0 updated to a crash-looping image, the rollout halted and contained."""
    h = manual_cluster(nodes=nodes)
    h.invariants.armed = True
    message = halt_message(lambda: h.rollout().start(CRASH, RolloutOptions()))
    assert message == f'rollout of daemonset "agent" halted: {CRASH_REASON}; {RESUME_HINT}'
    assert h.elapsed() == HALT_CRASH
    return h


def template_image(h: Harness) -> str:
    return str(h.daemonset()["spec"]["template"]["spec"]["containers"][0]["image"])


def test_r_on_delete_a_contained_halt_gives_joining_and_recreated_pods_the_starting_template() -> None:
    h = crash_halted()
    crashing, lost = h.pod_on("node-0"), h.pod_on("node-1")
    assert (template_image(h), h.daemonset()["spec"]["updateStrategy"], h.state()["contained"]) == (OLD, PARKED, True)
    assert (phase(h), h.state()["target_hash"] != h.state()["start_hash"]) == (("halted", CRASH_REASON, ""), True)
    h.invariants.baseline_unavailable |= {"node-1", "node-9"}  # not the rollout's doing
    h.simulator.add_node("node-9")
    h.simulator.shut_down_node("node-1")  # its pod goes Failed; the controller replaces it once the node is back
    h.cluster.run_for(10)
    h.simulator.make_reachable("node-1")
    h.cluster.run_for(10)
    assert images(h) == {"node-0": "agent:crash", "node-1": OLD, "node-2": OLD, "node-9": OLD}
    assert h.pod_on("node-0") == crashing  # kept for diagnosis
    assert h.pod_on("node-1") != lost  # recreated, from the starting template
    assert h.invariants.violations == []
    assert h.invariants.moved_while_parked() == []
    # abort rolls every node back: only node-0 needs it.
    h.restart_clock()
    outcome = h.rollout().abort()
    assert outcome_message(outcome) == 'daemon set "agent" rolled back; updateStrategy restored'
    # The starting template is on already (contained): no new revision to wait for.
    assert h.said == [
        (0.0, "daemonset.apps/agent rolling back to revision 1"),
        (0.0, "step 1 of 1: node-0"),
        (1.0, "step 1 of 1 done: node-0 updated (4 of 4 nodes done)"),
    ]
    assert images(h) == {node: OLD for node in ("node-0", "node-1", "node-2", "node-9")}
    assert (h.daemonset()["spec"]["updateStrategy"], h.state()) == (RU1, {})


def test_r_on_delete_resume_after_a_contained_halt_reapplies_the_target_and_halts_again() -> None:
    h = crash_halted()
    seen: list[str] = []
    h.cluster.on_wait.append(lambda wait: seen.append(template_image(h)))
    h.restart_clock()
    message = halt_message(lambda: h.rollout().resume(step_timeout=10))
    reason = "node-0: container agent is crash-looping (3 restarts, last exit code 1 (Error))"
    assert message == f'rollout of daemonset "agent" halted: {reason}; {RESUME_HINT}'
    assert set(seen) == {"agent:crash"}  # the target template was on while resumed ...
    assert (h.elapsed(), h.said) == (10.2, [(0.2, "step 1 of 2: node-1")])
    assert (template_image(h), h.state()["contained"], phase(h)) == (OLD, True, ("halted", reason, ""))  # ... and off
    assert images(h) == {"node-0": "agent:crash", "node-1": OLD, "node-2": OLD}
    assert h.invariants.violations == []


def test_r_on_delete_a_node_that_joins_a_paused_healthy_rollout_gets_the_target_pod() -> None:
    h = manual_cluster(nodes=3)
    h.invariants.armed = True
    h.rollout().start(V2, RolloutOptions(), steps=1)
    assert (template_image(h), h.state()["contained"]) == (NEW, False)
    h.invariants.baseline_unavailable.add("node-9")
    h.simulator.add_node("node-9")
    h.cluster.run_for(5)
    assert images(h) == {"node-0": NEW, "node-1": OLD, "node-2": OLD, "node-9": NEW}
    h.restart_clock()
    assert outcome_message(h.rollout().resume()) == FINISHED
    assert h.said == [
        (0.0, "step 2 of 3: node-1"),
        (1.0, "step 2 of 3 done: node-1 updated (3 of 4 nodes done)"),
        (1.0, "step 3 of 3: node-2"),
        (2.0, "step 3 of 3 done: node-2 updated (4 of 4 nodes done)"),
    ]
    assert images(h) == {node: NEW for node in ("node-0", "node-1", "node-2", "node-9")}
    assert h.invariants.violations == []
