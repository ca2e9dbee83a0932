"""Pod priority and preemption for DaemonSet pods (docs/rules.md#r-preemption): the API server's Priority
admission, and the simulated scheduler's DefaultPreemption for a pod pinned to its node, with the messages
and status upstream writes on each attempt.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.apiserver import ApiServer
from tests.builders import make_pod
from tests.sim_support import Obj, call, cluster, condition, events, is_ready, the_pod

AFFINITY_NOISE = "2 node(s) didn't satisfy plugin(s) [NodeAffinity]"
CRITICAL = {"priorityClassName": "system-node-critical"}


def priority_class(name: str, value: int, **extra: Any) -> Obj:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        **extra,
    }


def pod_with(**spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "foo/bar"}], **spec},
    }


# --- Priority admission --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("classes", "spec", "code", "expected"),
    [
        pytest.param(
            [], CRITICAL, 201, (2000001000, "PreemptLowerPriority", "system-node-critical"), id="system-node-critical"
        ),
        pytest.param(
            [],
            {"priorityClassName": "system-cluster-critical"},
            201,
            (2000000000, "PreemptLowerPriority", "system-cluster-critical"),
            id="system-cluster-critical",
        ),
        pytest.param([], {}, 201, (0, "PreemptLowerPriority", None), id="no-class-no-default-is-zero"),
        pytest.param(
            [priority_class("high", 1000, preemptionPolicy="Never")],
            {"priorityClassName": "high"},
            201,
            (1000, "Never", "high"),
            id="a-served-class-with-its-preemption-policy",
        ),
        pytest.param(
            [priority_class("base", 5, globalDefault=True)],
            {},
            201,
            (5, "PreemptLowerPriority", "base"),
            id="the-global-default-class",
        ),
        pytest.param(
            [],
            {"priorityClassName": "nope"},
            403,
            'pods "p" is forbidden: no PriorityClass with name nope was found',
            id="unknown-class-is-403",
        ),
        pytest.param(
            [],
            {**CRITICAL, "priority": 7},
            403,
            'pods "p" is forbidden: the integer value of priority (7) must not be provided in pod spec; '
            "priority admission controller computed 2000001000 from the given PriorityClass name",
            id="a-priority-of-its-own-is-403",
        ),
    ],
)
def test_r_preemption_priority_admission_resolves_the_class(
    classes: list[Obj], spec: Obj, code: int, expected: Any
) -> None:
    with ApiServer() as server:
        for pc in classes:
            status, _, body = call(server, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses", pc)
            assert status == 201, body
        status, _, body = call(server, "POST", "/api/v1/namespaces/default/pods", pod_with(**spec))
    assert status == code
    if code == 201:
        assert (
            body["spec"]["priority"],
            body["spec"]["preemptionPolicy"],
            body["spec"].get("priorityClassName"),
        ) == expected
    else:
        assert (body["reason"], body["message"]) == ("Forbidden", expected)


# --- DefaultPreemption ---------------------------------------------------------------------------------------


def hog(name: str, cpu: str, priority_class_name: str | None = None) -> Obj:
    """A running pod no controller owns, bound to node-1, requesting `cpu`."""
    pod = make_pod(name, node="node-1", requests={"cpu": cpu})
    if priority_class_name:
        pod["spec"]["priorityClassName"] = priority_class_name
    return pod


def scheduling_messages(server: ApiServer, pod: Obj) -> list[str]:
    return [
        e["message"]
        for e in sorted(events(server, "FailedScheduling"), key=lambda e: e["metadata"]["name"])
        if e["involvedObject"]["uid"] == pod["metadata"]["uid"]
    ]


def test_r_preemption_evicts_lower_priority_pods_and_still_reports_unschedulable() -> None:
    """On the attempt that preempts, the pod is nominated to its node and still written Unschedulable with a
    FailedScheduling event (no `preemption:` part: PostFilter succeeded); while the victim terminates, the
    next attempt says the pod waits for it; once it is gone the pod binds. The smaller pod that leaves room
    enough is reprieved."""
    seeds = [hog("hog", "3800m"), hog("small", "100m")]
    server, sim, clock = cluster(3, settle=False, seed=seeds, requests={"cpu": "500m"}, pod_spec=CRITICAL)

    sim.reconcile_once()

    pending = the_pod(server, "node-1")
    assert pending["spec"]["priority"] == 2000001000 and "nodeName" not in pending["spec"]
    assert pending["status"]["nominatedNodeName"] == "node-1"
    scheduled = condition(pending, "PodScheduled") or {}
    first = f"0/3 nodes are available: 1 Insufficient cpu, {AFFINITY_NOISE}."
    assert (scheduled["status"], scheduled["reason"], scheduled["message"]) == ("False", "Unschedulable", first)
    victim = server.get("pods", "default", "hog")
    assert victim is not None and victim["metadata"]["deletionTimestamp"]
    assert (condition(victim, "DisruptionTarget") or {}).get("message") == (
        "default-scheduler: preempting to accommodate a higher priority pod"
    )
    assert [e["message"] for e in events(server, "Preempted")] == [
        f"Preempted by pod {pending['metadata']['uid']} on node node-1"
    ]
    small = server.get("pods", "default", "small")
    assert small is not None and not small["metadata"].get("deletionTimestamp")

    sim.reconcile_once()
    assert scheduling_messages(server, pending) == [
        first,
        f"{first} preemption: not eligible due to a terminating pod on the nominated node.",
    ]

    sim.settle()
    bound = the_pod(server, "node-1")
    assert bound["metadata"]["uid"] == pending["metadata"]["uid"]
    assert bound["spec"]["nodeName"] == "node-1" and is_ready(bound)
    assert server.get("pods", "default", "hog") is None and server.get("pods", "default", "small") is not None


NO_VICTIMS = (
    "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is "
    "not helpful for scheduling."
)


@pytest.mark.parametrize(
    ("pod_spec", "hog_class", "cpu", "suffix"),
    [
        pytest.param({}, None, "500m", NO_VICTIMS, id="equal-priority-no-victims"),
        pytest.param(CRITICAL, "system-node-critical", "500m", NO_VICTIMS, id="victims-must-be-lower"),
        pytest.param(
            CRITICAL,
            None,
            "5",
            "preemption: 0/3 nodes are available: 1 Insufficient cpu, 2 Preemption is not helpful for scheduling.",
            id="does-not-fit-even-without-the-victims",
        ),
        pytest.param(
            {"priorityClassName": "never"},
            None,
            "500m",
            "preemption: not eligible due to preemptionPolicy=Never.",
            id="preemption-policy-never",
        ),
    ],
)
def test_r_preemption_that_cannot_help_says_why(pod_spec: Obj, hog_class: str | None, cpu: str, suffix: str) -> None:
    seeds = [priority_class("never", 1000, preemptionPolicy="Never"), hog("hog", "3800m", hog_class)]
    server, sim, _ = cluster(3, seed=seeds, requests={"cpu": cpu}, pod_spec=pod_spec)
    pending = the_pod(server, "node-1")
    scheduled = condition(pending, "PodScheduled") or {}
    assert scheduled["message"] == f"0/3 nodes are available: 1 Insufficient cpu, {AFFINITY_NOISE}. {suffix}"
    assert "nominatedNodeName" not in pending["status"]
    hogging = server.get("pods", "default", "hog")
    assert hogging is not None and not hogging["metadata"].get("deletionTimestamp")
