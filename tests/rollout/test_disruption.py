"""PodDisruptionBudgets over a DaemonSet's pods (rollout/disruption.py, docs/rules.md#r-eviction): what the
disruption controller and the eviction API make of each kind of budget, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_ds.rollout.disruption import (
    PDB_LIMITS_EVICTIONS,
    PDB_NEVER_EVICTS,
    PDB_OVERLAP,
    budget_findings,
)
from tests.builders import make_daemonset, make_pod

DS = make_daemonset()
PODS = [make_pod(f"p{i}", node=f"n{i}", owner=DS, labels={"app": "agent"}) for i in range(4)]


def pdb(
    name: str,
    *,
    selector: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    namespace: str = "default",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"app": "agent"}} if selector is None else selector, **spec},
        "status": status or {},
    }


SYNC_FAILED = {
    "disruptionsAllowed": 0,
    "conditions": [
        {"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed", "message": "found no controllers"}
    ],
}


@pytest.mark.parametrize(
    ("budgets", "codes", "refused"),
    [
        pytest.param([], [], False, id="no-budget"),
        pytest.param(
            [pdb("b", minAvailable=3, status={"disruptionsAllowed": 1})],
            [PDB_LIMITS_EVICTIONS],
            False,
            id="an-integer-min-available-works-one-by-one",
        ),
        pytest.param(
            [pdb("b", maxUnavailable=1)],
            [PDB_NEVER_EVICTS],
            True,
            id="max-unavailable-needs-a-scale-subresource-a-daemonset-lacks",
        ),
        pytest.param(
            [pdb("b", minAvailable="50%")], [PDB_NEVER_EVICTS], True, id="a-percentage-min-available-needs-it-too"
        ),
        pytest.param(
            [pdb("b", minAvailable=1, status=SYNC_FAILED)],
            [PDB_NEVER_EVICTS],
            True,
            id="a-budget-whose-status-says-sync-failed",
        ),
        pytest.param(
            [pdb("a", minAvailable=1), pdb("b", minAvailable=1)],
            [PDB_LIMITS_EVICTIONS, PDB_LIMITS_EVICTIONS, PDB_OVERLAP],
            True,
            id="two-budgets-on-one-pod-make-eviction-answer-500",
        ),
        pytest.param(
            [pdb("b", selector={"matchLabels": {"app": "other"}}, maxUnavailable=1)],
            [],
            False,
            id="a-budget-that-selects-other-pods-does-not-apply",
        ),
        pytest.param(
            [pdb("b", selector={}, maxUnavailable=1)],
            [PDB_NEVER_EVICTS],
            True,
            id="an-empty-selector-selects-every-pod-of-the-namespace",
        ),
        pytest.param(
            [pdb("b", namespace="other", maxUnavailable=1)],
            [],
            False,
            id="a-budget-in-another-namespace-does-not-apply",
        ),
    ],
)
def test_what_each_budget_does_to_a_daemonsets_evictions(
    budgets: list[dict[str, Any]], codes: list[str], refused: bool
) -> None:
    warnings, refusal = budget_findings(budgets, PODS)
    assert [warning.code for warning in warnings] == codes
    assert (refusal is not None) is refused


def test_a_refusal_says_what_to_do() -> None:
    _, refusal = budget_findings([pdb("agents", maxUnavailable=1)], PODS)
    assert refusal is not None
    assert refusal.startswith("PodDisruptionBudget agents never allows evicting these pods: maxUnavailable 1")
    assert refusal.endswith(
        "fix the PodDisruptionBudget (an integer minAvailable works for a DaemonSet), or use "
        "--delete, which bypasses PodDisruptionBudgets"
    )


def test_a_one_by_one_budget_says_how_many_it_allows_now() -> None:
    warnings, _ = budget_findings([pdb("agents", minAvailable=3, status={"disruptionsAllowed": 1})], PODS)
    assert warnings[0].message == (
        "PodDisruptionBudget agents (minAvailable 3) allows an eviction only while more "
        "than 3 of the 4 pods it selects are healthy; it allows 1 now: a step waits for it"
    )
