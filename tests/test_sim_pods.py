"""The simulated kubelet stops pods and runs containers as a real one does: graceful termination
(docs/rules.md#r-termination) and the transient and lasting container states with the kubelet's back-offs
(docs/rules.md#r-container-states). Everything runs on a ManualClock, so the minutes of back-off are free.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.sim import containers
from tests.sim.kubelet import go_duration
from tests.sim_support import (
    READY_AFTER,
    advance,
    call,
    cluster,
    current_hash,
    is_ready,
    pods_on,
    revision_hash,
    set_image,
    the_pod,
)

Obj = dict[str, Any]


# --- r-termination -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "grace", "annotations", "gone_after", "phase", "exit_code"),
    [
        pytest.param("foo/bar", None, {}, READY_AFTER, "Succeeded", 0, id="stops-promptly-on-sigterm"),
        pytest.param("foo/slow-stop", None, {}, 30, "Failed", 137, id="ignores-sigterm-default-grace-30s"),
        pytest.param("foo/slow-stop", 5, {}, 5, "Failed", 137, id="ignores-sigterm-killed-at-its-grace"),
        pytest.param(
            "foo/bar", None, {containers.STOP_SECONDS_ANNOTATION: "7"}, 7, "Succeeded", 0, id="annotation-stop-seconds"
        ),
        pytest.param(
            "foo/bar",
            4,
            {containers.STOP_SECONDS_ANNOTATION: "90"},
            4,
            "Succeeded",
            0,
            id="annotation-capped-by-the-grace-period",
        ),
    ],
)
def test_r_termination_a_deleted_pod_stays_until_its_containers_stop(
    image: str, grace: int | None, annotations: dict[str, str], gone_after: float, phase: str, exit_code: int
) -> None:
    """A DELETE only sets deletionTimestamp and deletionGracePeriodSeconds (30 when the pod sets none); the
    pod keeps running, Ready, until its containers stop, at most the grace period; the kubelet then reports it
    terminal and deletes it for good. Under OnDelete the node gets its new pod only after that."""
    server, sim, clock = cluster(1, strategy="OnDelete")
    ds = server.get("daemonsets", "default", "ds")
    assert ds is not None
    template = ds["spec"]["template"]
    template["metadata"]["annotations"] = annotations
    template["spec"]["containers"][0]["image"] = image
    if grace is None:
        del template["spec"]["terminationGracePeriodSeconds"]
    else:
        template["spec"]["terminationGracePeriodSeconds"] = grace
    server.update_object(ds)
    old = the_pod(server, "node-0")
    server.delete_object("pods", "default", old["metadata"]["name"])  # an OnDelete template change needs a delete
    sim.settle()
    old = the_pod(server, "node-0")
    assert revision_hash(old) == current_hash(server) and is_ready(old)
    seen: list[tuple[str, str]] = []
    server.add_listener(
        lambda kind, obj: (
            seen.append((kind, obj["status"].get("phase")))
            if obj["metadata"].get("uid") == old["metadata"]["uid"]
            else None
        )
    )
    server.start()
    try:
        status, _, body = call(server, "DELETE", f"/api/v1/namespaces/default/pods/{old['metadata']['name']}")
    finally:
        server.stop()

    assert status == 200 and body["metadata"]["deletionGracePeriodSeconds"] == (grace or 30)
    deleted_at = clock()
    while (still := server.get("pods", "default", old["metadata"]["name"])) is not None:
        assert still["metadata"]["deletionTimestamp"] and pods_on(server, "node-0") == [still]
        assert is_ready(still) or still["status"]["phase"] == phase  # running until it stops
        advance(sim, clock, 0.5, step=0.5)
        assert (clock() - deleted_at).total_seconds() <= gone_after + 0.5, "the pod outlived its grace period"
    assert (clock() - deleted_at).total_seconds() >= gone_after
    assert seen[-2:] == [("MODIFIED", phase), ("DELETED", phase)]  # terminal first, then gone
    sim.settle()
    [new] = pods_on(server, "node-0")
    assert new["metadata"]["uid"] != old["metadata"]["uid"] and revision_hash(new) == current_hash(server)


def test_r_termination_the_terminal_status_names_how_the_containers_ended() -> None:
    server, sim, clock = cluster(1, image="foo/slow-stop")
    pod = the_pod(server, "node-0")
    statuses: list[Obj] = []
    server.add_listener(
        lambda kind, obj: (
            statuses.append(obj["status"])
            if kind == "MODIFIED"
            and obj["metadata"]["uid"] == pod["metadata"]["uid"]
            and obj["status"].get("phase") == "Failed"
            else None
        )
    )
    server.start()
    try:
        call(server, "DELETE", f"/api/v1/namespaces/default/pods/{pod['metadata']['name']}")
    finally:
        server.stop()
    advance(sim, clock, 31)
    [status] = statuses
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
    assert {c["type"]: (c["status"], c.get("reason")) for c in status["conditions"]}["Ready"] == (
        "False",
        "PodCompleted",
    )


# --- r-container-states ------------------------------------------------------------------------------------

Seen = tuple[float, str, int]  # seconds after the kubelet took the pod: waiting reason or Running/Ready, restarts


@pytest.mark.parametrize(
    ("image", "timeline"),
    [
        pytest.param(
            "foo/flaky-pull:1",
            [(0.5, "ErrImagePull", 0), (5, "ImagePullBackOff", 0), (10.5, "Running", 0), (11, "Ready", 0)],
            id="first-pull-fails-then-succeeds",
        ),
        pytest.param(
            "foo/crash-once:1",
            [(0.5, "Running", 0), (1.5, "Running", 1), (2, "Ready", 1)],
            id="first-exit-restarts-at-once",
        ),
        pytest.param(
            "foo/crash-twice:1",
            [
                (1.5, "Running", 1),
                (2, "CrashLoopBackOff", 1),
                (11.9, "CrashLoopBackOff", 1),
                (12.5, "Running", 2),
                (13, "Ready", 2),
            ],
            id="second-exit-crash-loop-back-off-10s-then-ready",
        ),
        pytest.param(
            "foo/crash:1",
            [
                (2, "CrashLoopBackOff", 1),
                (12.5, "Running", 2),
                (13, "CrashLoopBackOff", 2),
                (33.5, "Running", 3),
                (34, "CrashLoopBackOff", 3),
                (400, "CrashLoopBackOff", 6),
                (617.5, "Running", 7),
            ],
            id="crash-loop-back-off-doubles-to-5-minutes",
        ),
        pytest.param(
            "registry.example/nonexistent:1",
            [
                (0.5, "ErrImagePull", 0),
                (1, "ImagePullBackOff", 0),
                (10.5, "ErrImagePull", 0),
                (11, "ImagePullBackOff", 0),
                (29, "ImagePullBackOff", 0),
                (30.5, "ErrImagePull", 0),
            ],
            id="pull-back-off-doubles",
        ),
        pytest.param(
            "foo/agent:v2-crash-after-30s",
            [
                (0.5, "Running", 0),
                (1, "Ready", 0),
                (29.9, "Ready", 0),
                (30, "Running", 1),
                (31, "Ready", 1),
                (400, "Ready", 1),
            ],
            id="crash-after-30s-exits-once-while-ready-and-restarts-at-once",
        ),
        pytest.param(
            "foo/agent:v2-unready-after-20s",
            [(1, "Ready", 0), (19.9, "Ready", 0), (20, "Running", 0), (29.9, "Running", 0), (30, "Ready", 0)],
            id="unready-after-20s-is-not-ready-for-10s",
        ),
    ],
)
def test_r_container_states_follow_the_kubelet_back_offs(image: str, timeline: list[Seen]) -> None:
    server, sim, clock = cluster(1, image=image, settle=False)
    taken_on = clock()
    sim.reconcile_once()  # created, bound and taken on by the kubelet
    pod = the_pod(server, "node-0")
    for at, wanted, restarts in timeline:
        clock.advance_to(taken_on + timedelta(seconds=at))
        sim.reconcile_once()
        pod = server.get("pods", "default", pod["metadata"]["name"]) or pod
        [status] = pod["status"]["containerStatuses"]
        waiting = (status["state"].get("waiting") or {}).get("reason")
        shown = waiting or ("Ready" if is_ready(pod) else "Running")
        assert (at, shown, status["restartCount"]) == (at, wanted, restarts)
        assert pod["status"]["phase"] == ("Pending" if waiting in ("ErrImagePull", "ImagePullBackOff") else "Running")
        if waiting == "CrashLoopBackOff":
            back_off = go_duration(containers.backoff(restarts))
            assert status["state"]["waiting"]["message"].startswith(
                f"back-off {back_off} restarting failed container=foo pod="
            )
            assert status["lastState"]["terminated"]["reason"] == "Error"


def test_r_container_states_settle_waits_for_transient_failures_only() -> None:
    """settle() follows a failure that ends to its end, and an endless one only to its first back-off."""
    server, sim, clock = cluster(2)
    set_image(server, "foo/crash-twice:1")
    sim.settle()
    assert all(is_ready(p) for p in server.objects("pods") if not p["metadata"].get("deletionTimestamp"))
    set_image(server, "foo/crash:1")
    sim.settle()
    pods = [p for p in server.objects("pods") if p["spec"]["containers"][0]["image"] == "foo/crash:1"]
    assert pods and all(
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff" for p in pods
    )


@pytest.mark.parametrize(
    ("failures", "seconds", "text"),
    [
        (1, 10, "10s"),
        (2, 20, "20s"),
        (3, 40, "40s"),
        (4, 80, "1m20s"),
        (5, 160, "2m40s"),
        (6, 300, "5m0s"),
        (9, 300, "5m0s"),
    ],
)
def test_r_container_states_back_off_is_10s_doubling_to_5_minutes(failures: int, seconds: int, text: str) -> None:
    assert containers.backoff(failures) == seconds
    assert go_duration(seconds) == text
