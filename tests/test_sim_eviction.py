"""PodDisruptionBudgets over DaemonSet pods, as the disruption controller computes their status and the
eviction subresource enforces them (docs/rules.md#r-eviction): the simulated controller
(tests/sim/disruption.py) and the API server's eviction handler (tests/apiserver_eviction.py), over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.apiserver import ApiServer
from tests.sim_support import Obj, call, cluster, condition, events, evict, the_pod
from tests.simulator import ClusterSimulator, ManualClock

REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."
SELECTOR = {"matchLabels": {"name": "simple-daemon"}}


def budget(name: str = "pdb", **spec: Any) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"selector": SELECTOR, **spec},
    }


@pytest.fixture
def running() -> Iterator[tuple[ApiServer, ClusterSimulator, ManualClock]]:
    """Three nodes with a Ready DaemonSet pod each, served over HTTP."""
    server, sim, clock = cluster(3)
    server.start()
    try:
        yield server, sim, clock
    finally:
        server.stop()


def create(server: ApiServer, pdb: Obj) -> Obj:
    status, _, body = call(server, "POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets", pdb)
    assert status == 201, body
    assert body["metadata"]["generation"] == 1
    assert body["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
    return dict(body)


def status_of(server: ApiServer, name: str = "pdb") -> Obj:
    found = server.get("poddisruptionbudgets", "default", name)
    assert found is not None
    return dict(found["status"])


# --- the disruption controller ------------------------------------------------------------------------------

SCALE_ERROR = "daemonsets.apps does not implement the scale subresource"


@pytest.mark.parametrize(
    ("spec", "expected", "reason", "message"),
    [
        pytest.param(
            {"minAvailable": 2},
            {
                "expectedPods": 3,
                "desiredHealthy": 2,
                "currentHealthy": 3,
                "disruptionsAllowed": 1,
                "observedGeneration": 1,
            },
            "SufficientPods",
            "",
            id="integer-min-available-counts-the-selected-pods",
        ),
        pytest.param(
            {"minAvailable": 3},
            {
                "expectedPods": 3,
                "desiredHealthy": 3,
                "currentHealthy": 3,
                "disruptionsAllowed": 0,
                "observedGeneration": 1,
            },
            "InsufficientPods",
            "",
            id="integer-min-available-all-needed",
        ),
        pytest.param(
            {"maxUnavailable": 1},
            {"expectedPods": 0, "desiredHealthy": 0, "currentHealthy": 0, "disruptionsAllowed": 0},
            "SyncFailed",
            SCALE_ERROR,
            id="max-unavailable-needs-a-scale-subresource",
        ),
        pytest.param(
            {"minAvailable": "50%"},
            {"expectedPods": 0, "desiredHealthy": 0, "currentHealthy": 0, "disruptionsAllowed": 0},
            "SyncFailed",
            SCALE_ERROR,
            id="percentage-min-available-needs-a-scale-subresource",
        ),
    ],
)
def test_r_eviction_disruption_controller_status_for_daemonset_pods(
    running: tuple[ApiServer, ClusterSimulator, ManualClock], spec: Obj, expected: Obj, reason: str, message: str
) -> None:
    server, sim, _ = running
    create(server, budget(**spec))
    sim.settle()
    status = status_of(server)
    [allowed] = status.pop("conditions")
    assert status == expected  # a failed sync leaves observedGeneration unset: the budget stays unobserved
    assert (allowed["type"], allowed["status"], allowed["reason"], allowed["message"]) == (
        "DisruptionAllowed",
        "True" if reason == "SufficientPods" else "False",
        reason,
        message,
    )
    if reason == "SyncFailed":
        [event] = events(server, "CalculateExpectedPodCountFailed")
        assert event["message"] == f"Failed to calculate the number of expected pods: {SCALE_ERROR}"


def test_r_eviction_a_budget_selecting_no_pod_allows_nothing(
    running: tuple[ApiServer, ClusterSimulator, ManualClock],
) -> None:
    server, sim, _ = running
    create(server, {**budget(minAvailable=0), "spec": {"minAvailable": 0, "selector": {"matchLabels": {"x": "y"}}}})
    sim.settle()
    assert status_of(server)["disruptionsAllowed"] == 0
    assert [e["message"] for e in events(server, "NoPods")] == ["No matching pods found"]


# --- the eviction subresource -------------------------------------------------------------------------------


def test_r_eviction_takes_one_disruption_and_records_the_pod(
    running: tuple[ApiServer, ClusterSimulator, ManualClock],
) -> None:
    """Success decrements disruptionsAllowed, lists the pod in disruptedPods and marks it DisruptionTarget; the
    next eviction, before the controller catches up, is refused with the budget's numbers; afterwards the
    controller counts the terminating pod out."""
    server, sim, _ = running
    create(server, budget(minAvailable=1))
    sim.settle()
    assert status_of(server)["disruptionsAllowed"] == 2
    first, second, third = (the_pod(server, f"node-{i}")["metadata"]["name"] for i in range(3))

    assert evict(server, first)[0] == 201
    status = status_of(server)
    assert status["disruptionsAllowed"] == 1 and list(status["disruptedPods"]) == [first]
    evicted = server.get("pods", "default", first)
    assert evicted is not None and evicted["metadata"]["deletionTimestamp"]
    assert (condition(evicted, "DisruptionTarget") or {}).get("reason") == "EvictionByEvictionAPI"

    assert evict(server, second)[0] == 201
    assert status_of(server)["disruptionsAllowed"] == 0
    assert (condition({"status": status_of(server)}, "DisruptionAllowed") or {}).get("reason") == "InsufficientPods"
    code, headers, body = evict(server, third)
    assert code == 429 and "Retry-After" not in headers
    assert (body["reason"], body["message"], body["details"]["causes"]) == (
        "TooManyRequests",
        REFUSED,
        [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget pdb needs 1 healthy pods and has 3 currently",
            }
        ],
    )

    sim.reconcile_once()
    status = status_of(server)
    assert (status["currentHealthy"], status["disruptionsAllowed"]) == (1, 0)
    assert "disruptedPods" not in status  # terminating pods leave the map


@pytest.mark.parametrize(
    ("setup", "code", "expected"),
    [
        pytest.param(
            "two-budgets",
            500,
            {
                "status": "Failure",
                "code": 500,
                "message": "This pod has more than one "
                "PodDisruptionBudget, which the eviction subresource does not support.",
            },
            id="more-than-one-budget-is-500",
        ),
        pytest.param(
            "never-synced",
            429,
            {
                "reason": "TooManyRequests",
                "message": REFUSED,
                "details": {
                    "causes": [
                        {
                            "reason": "DisruptionBudget",
                            "message": "The disruption budget pdb is still being processed by the server.",
                        }
                    ],
                    "retryAfterSeconds": 10,
                },
            },
            id="unobserved-budget-is-429-retry-after-10",
        ),
        pytest.param("edited", 429, {"reason": "TooManyRequests"}, id="budget-edited-since-last-sync-is-429"),
        pytest.param(
            "negative",
            403,
            {
                "reason": "Forbidden",
                "message": 'poddisruptionbudget.policy "pdb" is forbidden: pdb disruptions allowed is negative',
                "details": {"name": "pdb", "group": "policy", "kind": "poddisruptionbudget"},
            },
            id="negative-disruptions-allowed-is-403",
        ),
        pytest.param("sync-failed", 429, {"reason": "TooManyRequests"}, id="daemonset-max-unavailable-never-allows"),
    ],
)
def test_r_eviction_refusals(
    running: tuple[ApiServer, ClusterSimulator, ManualClock], setup: str, code: int, expected: Obj
) -> None:
    server, sim, _ = running
    if setup == "two-budgets":
        create(server, budget("pdb", minAvailable=0))
        create(server, budget("other", minAvailable=0))
        sim.settle()
    elif setup == "never-synced":
        create(server, budget(minAvailable=0))
    elif setup == "sync-failed":
        create(server, budget(maxUnavailable="100%"))
        sim.settle()
    else:
        create(server, budget(minAvailable=0))
        sim.settle()
        stored = server.get("poddisruptionbudgets", "default", "pdb")
        assert stored is not None
        if setup == "edited":
            stored["spec"]["minAvailable"] = 1
        else:
            stored["status"]["disruptionsAllowed"] = -1
        server.update_object(stored)
    pod = the_pod(server, "node-0")

    status, headers, body = evict(server, pod["metadata"]["name"])

    assert status == code
    assert body == {**body, **expected}
    assert ("Retry-After" in headers) == (body.get("details", {}).get("retryAfterSeconds") is not None)
    still = server.get("pods", "default", pod["metadata"]["name"])
    assert still is not None and not still["metadata"].get("deletionTimestamp")


@pytest.mark.parametrize("case", ["pending", "terminating", "unready-healthy-budget", "unready-always-allow"])
def test_r_eviction_pods_that_skip_or_spare_the_budget(
    running: tuple[ApiServer, ClusterSimulator, ManualClock], case: str
) -> None:
    """canIgnorePDB: Pending, terminal and terminating pods go whatever the budget says; a pod that is not
    Ready goes without using up a disruption when the budget is healthy anyway or says AlwaysAllow."""
    server, sim, _ = running
    spec: Obj = {"minAvailable": 2 if case == "unready-healthy-budget" else 3}
    if case == "unready-always-allow":
        spec["unhealthyPodEvictionPolicy"] = "AlwaysAllow"
    create(server, budget(**spec))
    sim.settle()
    pod = the_pod(server, "node-0")
    if case == "pending":
        pod["status"]["phase"] = "Pending"
    elif case == "terminating":
        pod["metadata"]["deletionTimestamp"] = "2024-06-01T13:00:00Z"
        pod["metadata"]["deletionGracePeriodSeconds"] = 30
    else:
        pod["status"]["conditions"] = [c for c in pod["status"]["conditions"] if c["type"] != "Ready"]
    server.update_object(pod)  # no pass runs before the eviction: the budget's status is as the controller left it
    allowed_before = status_of(server)["disruptionsAllowed"]

    status, _, body = evict(server, pod["metadata"]["name"])

    assert status == 201, body
    assert status_of(server)["disruptionsAllowed"] == allowed_before
    assert "disruptedPods" not in status_of(server)
    gone = server.get("pods", "default", pod["metadata"]["name"])
    assert gone is None or gone["metadata"].get("deletionTimestamp")


def test_r_eviction_a_budget_with_an_empty_selector_protects_nothing(
    running: tuple[ApiServer, ClusterSimulator, ManualClock],
) -> None:
    """getPodDisruptionBudgets: an empty selector matches no pod for the eviction handler (while the disruption
    controller, through LabelSelectorAsSelector, counts every pod of the namespace)."""
    server, sim, _ = running
    create(server, {**budget(), "spec": {"minAvailable": 3, "selector": {"matchLabels": {}}}})
    sim.settle()
    assert (status_of(server)["expectedPods"], status_of(server)["disruptionsAllowed"]) == (3, 0)
    assert evict(server, the_pod(server, "node-0")["metadata"]["name"])[0] == 201
