"""The manual-time harness keeps its promises: the API server's own answers mapped to the plugin's errors,
and time that moves only when the runner waits, by exactly what it waits."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubectl_ds.errors import Conflict, DsError, NotFound, RequestTimeout, ServerError, TooManyRequests, Unreachable
from tests.rollout_harness import Harness, manual_cluster
from tests.rollout_support import LABELS, NAME, NAMESPACE


def watch(h: Harness, version: str, timeout: float) -> list[tuple[str, str]]:
    return [
        (kind, pod["metadata"]["name"])
        for kind, pod in h.cluster.watch_pods(
            namespace=NAMESPACE, selector={"matchLabels": LABELS}, resource_version=version, timeout=timeout
        )
    ]


def test_a_stale_resource_version_is_a_conflict_from_the_servers_own_precondition() -> None:
    h = manual_cluster(nodes=1)
    daemonset = h.cluster.get_daemonset(namespace=NAMESPACE, name=NAME)
    h.cluster.replace_daemonset({**daemonset, "metadata": {**daemonset["metadata"], "labels": {"a": "1"}}})
    with pytest.raises(Conflict) as caught:
        h.cluster.replace_daemonset(daemonset)  # the resourceVersion read before the first write
    assert 'failed with HTTP 409: Operation cannot be fulfilled on daemonsets.apps "agent"' in caught.value.message
    assert [r.status for r in h.server.requests] == [200, 200, 409]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param(429, TooManyRequests, id="pdb-refusal"),
        pytest.param(500, ServerError, id="server-error"),
        pytest.param("timeout", RequestTimeout, id="no-answer"),
        pytest.param("drop", Unreachable, id="dropped-connection"),
    ],
)
def test_injected_faults_become_the_plugins_errors(fault: int | str, error: type[DsError]) -> None:
    h = manual_cluster(nodes=1)
    pod = h.pod_on("node-0")
    h.server.inject_fault(status=fault, count=1, method="POST", path_contains="/eviction")
    with pytest.raises(error):
        h.cluster.evict_pod(namespace=NAMESPACE, name=pod)
    h.cluster.evict_pod(namespace=NAMESPACE, name=pod)  # the fault was used up: the eviction goes through
    h.cluster.run_for(1)  # the pod terminates gracefully, then it is gone
    with pytest.raises(NotFound):
        h.cluster.evict_pod(namespace=NAMESPACE, name=pod)


@pytest.mark.parametrize(
    ("wait", "elapsed"),
    [
        pytest.param(lambda h: h.cluster.sleep(0.5), 0.5, id="sleep"),
        pytest.param(lambda h: h.cluster.run_for(30), 30.0, id="run-for"),
    ],
)
def test_time_moves_by_exactly_what_is_waited(wait: Callable[[Harness], None], elapsed: float) -> None:
    h = manual_cluster(nodes=1)
    wait(h)
    assert h.elapsed() == elapsed


def test_a_watch_returns_what_happened_since_its_version_at_once_else_the_first_change_or_nothing() -> None:
    h = manual_cluster(nodes=1, ready_after=1.0)
    _, version = h.cluster.list_pods_versioned(namespace=NAMESPACE, selector={"matchLabels": LABELS})
    old = h.pod_on("node-0")
    h.cluster.evict_pod(namespace=NAMESPACE, name=old)
    # Already happened, so no time passes: the graceful deletion (deletionTimestamp set) and the kubelet's
    # status as its containers stop at once on SIGTERM.
    assert watch(h, version, 2.0) == [("MODIFIED", old)] * 2
    assert h.elapsed() == 0.0
    _, version = h.cluster.list_pods_versioned(namespace=NAMESPACE, selector={"matchLabels": LABELS})
    # The next pass, still at once: the kubelet's last status and final delete, then the controller's
    # replacement: created, bound, started.
    created = watch(h, version, 2.0)
    assert (
        created
        == [("MODIFIED", old), ("DELETED", old), ("ADDED", h.pod_on("node-0"))] + [("MODIFIED", h.pod_on("node-0"))] * 2
    )
    assert h.elapsed() == 0.0
    _, version = h.cluster.list_pods_versioned(namespace=NAMESPACE, selector={"matchLabels": LABELS})
    assert watch(h, version, 2.0) == [("MODIFIED", h.pod_on("node-0"))]  # Ready, ready_after later
    assert h.elapsed() == 1.0
    _, version = h.cluster.list_pods_versioned(namespace=NAMESPACE, selector={"matchLabels": LABELS})
    assert watch(h, version, 2.0) == []  # nothing more happens: the whole timeout passes
    assert h.elapsed() == 3.0
