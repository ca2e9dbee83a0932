"""What the test API server does that a client feels: the cost it counts (requests and bytes by verb and
resource), the load it refuses (API Priority and Fairness), the time it tells (Date, on the simulation's clock)
and the defaults it adds to what clients write, which the DaemonSet controller sees as a new template
(docs/rules.md#r-list-watch, #r-eviction, #r-revisions).
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from tests.apiserver import ApiServer
from tests.builders import make_pod
from tests.sim_support import Obj, call, cluster, current_hash, evict, revision_hash, the_pod
from tests.simulator import ClusterSimulator, ManualClock

APF_BODY = "Too many requests, please try again later.\n"


@pytest.fixture
def served() -> Iterator[ApiServer]:
    with ApiServer() as server:
        for name in ("a", "b", "c"):
            server.add(make_pod(name, node="node-0"))
        yield server


# --- accounting (r-list-watch) -------------------------------------------------------------------------------


def test_r_list_watch_traffic_tells_list_watch_and_get_apart(served: ApiServer) -> None:
    served.reset_requests()
    listed = call(served, "GET", "/api/v1/namespaces/default/pods")
    got = call(served, "GET", "/api/v1/namespaces/default/pods/a")
    watched = call(served, "GET", "/api/v1/namespaces/default/pods?watch=1&resourceVersion=0&timeoutSeconds=1")
    call(served, "GET", "/api/v1")
    call(served, "GET", "/apis/apps/v1/namespaces/default/daemonsets/missing")
    evicted = evict(served, "b")

    traffic = served.traffic()
    assert {key: n for key, n in traffic.requests.items()} == {
        ("list", "pods"): 1,
        ("get", "pods"): 1,
        ("watch", "pods"): 1,
        ("get", "/api/v1"): 1,
        ("get", "daemonsets"): 1,
        ("create", "pods/eviction"): 1,
    }
    assert evicted[0] == 201 and traffic.count("get", "daemonsets") == 1  # answered 404, counted all the same
    assert traffic.bytes("list", "pods") == len(_json_bytes(listed[2]))
    assert traffic.bytes("get", "pods") == len(_json_bytes(got[2]))
    assert traffic.bytes("watch", "pods") == len(watched[2]) > 0  # three ADDED events, a line each
    assert traffic.total_requests == 6 and traffic.total_bytes == sum(traffic.response_bytes.values())
    assert traffic.table()[0][2] == 1
    served.reset_requests()
    assert served.traffic().total_requests == 0


def _json_bytes(body: Obj) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


# --- API Priority and Fairness (r-list-watch) ----------------------------------------------------------------


def test_r_list_watch_apf_refuses_with_a_text_body_unlike_a_budget(served: ApiServer) -> None:
    """APF answers 429 with Retry-After and a plain-text body; the eviction API's 429 is a JSON Status with
    a DisruptionBudget cause: a client can tell load from a budget."""
    served.throttle(verb="list", resource="pods", retry_after=7, count=2)
    answers = [call(served, "GET", "/api/v1/namespaces/default/pods") for _ in range(3)]
    for status, headers, body in answers[:2]:
        assert (status, body, headers["Retry-After"]) == (429, APF_BODY, "7")
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        assert headers["X-Kubernetes-PF-FlowSchema-UID"] and headers["X-Kubernetes-PF-PriorityLevel-UID"]
    assert answers[2][0] == 200
    assert call(served, "GET", "/api/v1/namespaces/default/pods/a")[0] == 200  # a get is another request class

    served.throttle(verb=None, retry_after=1)  # everything, until cleared: discovery too
    assert call(served, "GET", "/api")[0] == 429
    served.clear_throttles()
    served.inject_fault(status=429, path_contains="/eviction")
    status, headers, budget = evict(served, "a")
    assert status == 429 and headers["Content-Type"] == "application/json"
    assert (budget["reason"], budget["details"]["causes"][0]["reason"]) == ("TooManyRequests", "DisruptionBudget")
    assert served.traffic().count(resource="pods") == 4


# --- the server's clock --------------------------------------------------------------------------------------


def test_the_date_header_comes_from_the_simulation_clock() -> None:
    with ApiServer() as server:
        before = datetime.now(timezone.utc).replace(microsecond=0)
        told = email.utils.parsedate_to_datetime(call(server, "GET", "/version")[1]["Date"])
        assert before - timedelta(seconds=1) <= told <= datetime.now(timezone.utc) + timedelta(seconds=1)

        clock = ManualClock(datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc))
        ClusterSimulator(server, clock=clock)
        assert call(server, "GET", "/version")[1]["Date"] == "Sat, 01 Jun 2024 12:00:00 GMT"
        clock.advance(90)
        assert call(server, "GET", "/version")[1]["Date"] == "Sat, 01 Jun 2024 12:01:30 GMT"
        status, _, created = call(server, "POST", "/api/v1/namespaces/default/pods", make_pod("new"))
        assert status == 201 and created["metadata"]["creationTimestamp"] == "2024-06-01T12:01:30Z"


# --- defaults added on write (r-revisions) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("spec.enableServiceLinks", True, id="pod-spec-field"),
        pytest.param("spec.containers.*.stdin", False, id="every-container"),
    ],
)
def test_r_revisions_a_newly_defaulted_field_is_a_new_revision(field: str, value: object) -> None:
    """An API server that starts defaulting a new field (an upgrade, a mutating webhook) changes the template on
    the next write of the DaemonSet, however unrelated: revisions match by bytes, so the controller snapshots a
    new one, and under OnDelete the running pods are now of an old revision."""
    server, sim, _ = cluster(2, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
    first = current_hash(server)
    server.add_template_default(field, value)
    sim.settle()
    assert [r["revision"] for r in server.objects("controllerrevisions")] == [1]  # nothing written yet

    server.start()
    try:
        status, _, patched = call(
            server,
            "PATCH",
            "/apis/apps/v1/namespaces/default/daemonsets/ds",
            {"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None}}},
            {"Content-Type": "application/merge-patch+json"},
        )
    finally:
        server.stop()
    assert status == 200
    assert patched["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"
    sim.settle()

    revisions = sorted(server.objects("controllerrevisions"), key=lambda r: r["revision"])
    assert [r["revision"] for r in revisions] == [1, 2] and current_hash(server) != first
    assert all(revision_hash(the_pod(server, f"node-{i}")) == first for i in range(2))
    daemonset = server.get("daemonsets", "default", "ds")
    assert daemonset is not None and "updatedNumberScheduled" not in daemonset["status"]
