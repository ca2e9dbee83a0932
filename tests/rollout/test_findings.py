"""Findings about a DaemonSet itself (rollout/findings.py), each case named after the rule it pins, with its
stable code, severity and exact message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.findings import age, findings, tolerates_every_taint
from tests.builders import NOW, make_daemonset, make_pod, rolling_update, toleration

Obj = dict[str, Any]


def pdb(name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"name": "simple-daemon"}}, **spec},
    }


def managed(phase: str, *, reason: str = "", heartbeat: str = "", owner: str = "", **metadata: Any) -> Obj:
    daemonset = make_daemonset(strategy="OnDelete")
    state = st.RolloutState(
        rollout_id="r1",
        phase=phase,
        direction=st.FORWARD,
        start_hash="h1",
        start_revision=1,
        target_hash="h2",
        target_revision=2,
        reason=reason,
        owner=owner,
        heartbeat=heartbeat,
        started_at="2024-06-01T09:00:00Z",
        change="image foo=foo/bar:v2",
    )
    daemonset["metadata"]["annotations"] = {st.STATE_ANNOTATION: st.encode(state)}
    daemonset["metadata"].update(metadata)
    return daemonset


def written_at(time: str) -> list[Obj]:
    """managedFields as the API server keeps them: the manager that wrote our annotation, and when."""
    return [
        {"manager": "kubectl", "operation": "Update", "time": "2024-05-01T00:00:00Z",
         "fieldsV1": {"f:spec": {"f:template": {}}}},
        {"manager": "kubectl-ds", "operation": "Update", "time": time,
         "fieldsV1": {"f:metadata": {"f:annotations": {f"f:{st.STATE_ANNOTATION}": {}}}}},
    ]  # fmt: skip


def found(daemonset: Obj, budgets: list[Obj] | None = None) -> list[tuple[str, str, str]]:
    pods = [make_pod(f"p{i}", node=f"n{i}", owner=daemonset) for i in range(3)]
    return [(item.code, item.severity, item.message) for item in findings(daemonset, pods, budgets, now=NOW)]


RESUME = "kubectl ds rollout resume -n default ds"
CASES = [
    pytest.param(make_daemonset(), [], [], id="a-plain-daemonset-has-no-findings"),
    pytest.param(
        make_daemonset(),
        [pdb("agents", maxUnavailable=1)],
        [
            (
                "PDBNeverAllowsEviction",
                "warning",
                "PodDisruptionBudget agents never allows evicting these pods: maxUnavailable 1 needs the owner's "
                "scale subresource, which a DaemonSet lacks, so the disruption controller fails to sync it "
                "(SyncFailed) and allows no eviction",
            )
        ],
        id="pdb-with-maxunavailable-never-allows-an-eviction",
    ),
    pytest.param(make_daemonset(), [pdb("agents", minAvailable=1)], [], id="pdb-with-integer-minavailable-is-fine"),
    pytest.param(
        make_daemonset(),
        [pdb("agents", minAvailable=1), pdb("all-pods", minAvailable=1)],
        [
            (
                "PDBOverlap",
                "warning",
                "more than one PodDisruptionBudget (agents, all-pods) selects 3 of these pods (e.g. p0): the "
                "eviction API answers 500 for every such pod",
            )
        ],
        id="two-pdbs-over-the-same-pods-block-every-eviction",
    ),
    pytest.param(
        make_daemonset(host_ports=[9100], strategy=rolling_update(0, 1)),
        [],
        [
            (
                "SurgeWithHostPort",
                "error",
                "updateStrategy RollingUpdate with maxSurge and host port 9100/TCP: the surge pod cannot bind the "
                "port next to the old pod, so the next rolling update deadlocks; set maxSurge 0 and use "
                "maxUnavailable",
            )
        ],
        id="surge-with-a-host-port-deadlocks",
    ),
    pytest.param(
        make_daemonset(host_ports=[9100], strategy=rolling_update(1, 0)), [], [], id="host-port-without-surge-is-fine"
    ),
    pytest.param(
        make_daemonset(tolerations=[toleration(operator="Exists")]),
        [],
        [
            (
                "ToleratesEverythingWithoutPriority",
                "warning",
                "it tolerates every taint (a toleration with operator Exists and no key) but has no "
                "priorityClassName: on a full node its pod cannot preempt and stays Pending; give it one that may "
                "preempt, e.g. system-node-critical (unless a globalDefault PriorityClass already does)",
            )
        ],
        id="tolerating-every-taint-without-a-priority-class",
    ),
    pytest.param(
        managed(st.HALTED, reason="new pods crash-loop on node-3", managedFields=written_at("2024-06-01T10:00:00Z")),
        [],
        [
            (
                "ManagedRolloutHalted",
                "error",
                "managed rollout to revision 2 (image foo=foo/bar:v2) halted since 2024-06-01T10:00:00Z (2h ago): "
                "new pods crash-loop on node-3; the DaemonSet stays parked (OnDelete); retry with "
                f"{RESUME} or roll back with kubectl ds rollout abort -n default ds",
            )
        ],
        id="a-halted-rollout-and-since-when-from-managed-fields",
    ),
    pytest.param(
        managed(st.PAUSED, reason="stopped after 2 steps (--steps)"),
        [],
        [
            (
                "ManagedRolloutPaused",
                "warning",
                "managed rollout to revision 2 (image foo=foo/bar:v2) paused (started 2024-06-01T09:00:00Z (3h ago)): "
                f"stopped after 2 steps (--steps); continue with {RESUME}",
            )
        ],
        id="a-paused-rollout-without-managed-fields-says-when-it-started",
    ),
    pytest.param(
        managed(st.PARKED, managedFields=written_at("2024-05-29T12:00:00Z")),
        [],
        [
            (
                "ManagedRolloutPaused",
                "warning",
                "parked by kubectl ds rollout pause since 2024-05-29T12:00:00Z (3d ago): the controller rolls "
                f"nothing out; undo with {RESUME}",
            )
        ],
        id="a-parked-daemonset",
    ),
    pytest.param(
        managed(st.RUNNING, owner="laptop/42/r1", heartbeat="2024-06-01T11:50:00Z"),
        [],
        [
            (
                "ManagedRolloutAbandoned",
                "error",
                "managed rollout to revision 2 (image foo=foo/bar:v2) has no live driver since 2024-06-01T11:50:00Z "
                "(10m ago) (its last heartbeat) (owner laptop/42/r1): nothing moves it and the DaemonSet stays "
                f"parked; take it over with {RESUME}",
            )
        ],
        id="a-running-rollout-whose-heartbeat-went-stale",
    ),
    pytest.param(
        managed(st.RUNNING, owner="laptop/42/r1", heartbeat="2024-06-01T11:59:50Z"),
        [],
        [],
        id="a-running-rollout-with-a-live-driver-is-no-finding",
    ),
]


@pytest.mark.parametrize(("daemonset", "budgets", "expected"), CASES)
def test_findings(daemonset: Obj, budgets: list[Obj], expected: list[tuple[str, str, str]]) -> None:
    assert found(daemonset, budgets) == expected


def test_an_unreadable_state_is_an_error_finding_not_a_failure() -> None:
    daemonset = make_daemonset()
    daemonset["metadata"]["annotations"] = {st.STATE_ANNOTATION: "{not json"}
    [(code, severity, message)] = found(daemonset)
    assert (code, severity) == ("ManagedRolloutUnreadable", "error")
    assert message.startswith('the kubectl-ds.io/rollout annotation of daemonset "ds" is not a state')


@pytest.mark.parametrize(
    ("tolerations", "expected"),
    [
        pytest.param([toleration(operator="Exists")], True, id="empty-key-exists-matches-every-taint"),
        pytest.param(
            [toleration(operator="Exists", effect="NoSchedule"), toleration(operator="Exists", effect="NoExecute")],
            True,
            id="both-blocking-effects-covered",
        ),
        pytest.param([toleration(operator="Exists", effect="NoSchedule")], False, id="noschedule-only-is-not-all"),
        pytest.param([toleration(key="dedicated", operator="Exists")], False, id="a-key-limits-it"),
        pytest.param([toleration(operator="Equal")], False, id="equal-with-no-key-matches-nothing-broad"),
    ],
)
def test_tolerates_every_taint(tolerations: list[Obj], expected: bool) -> None:
    assert tolerates_every_taint({"tolerations": tolerations}) is expected


@pytest.mark.parametrize(
    ("seconds", "text"), [(45, "45s"), (600, "10m"), (5400, "90m"), (7200, "2h"), (86400, "24h"), (3 * 86400, "3d")]
)
def test_age_reads_like_kubectl(seconds: int, text: str) -> None:
    assert age(timedelta(seconds=seconds)) == text


def test_a_stuck_rolling_update_from_the_ledger_is_an_error_finding_listed_first() -> None:
    daemonset = make_daemonset(strategy=rolling_update(max_surge=1), tolerations=[toleration(operator="Exists")])
    result = findings(daemonset, [], [], now=NOW, stuck=("RollingUpdateStuck", "maxUnavailable 1 is used up"))
    assert [(item.code, item.severity) for item in result] == [
        ("RollingUpdateStuck", "error"),
        ("ToleratesEverythingWithoutPriority", "warning"),
    ]
