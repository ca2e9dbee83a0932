"""How the adapter reads the eviction API's and the API server's refusals (kubectl_ds/kube/errors.py,
docs/rules.md#r-eviction, docs/rules.md#r-list-watch): a PodDisruptionBudget's 429 is an answer to wait on,
API Priority and Fairness's 429 is load to back off from, and the PDB machinery's 403 and 500 are neither
RBAC nor transient."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubectl_ds.errors import DisruptionBudgetBlocked, EvictionRefused, Forbidden, ServerError, TooManyRequests
from kubectl_ds.kube.errors import Attempt, error_for_status

EVICT = Attempt("create", "pods/eviction", "default", "agent-x")
LIST = Attempt("list", "pods", "default")


def body(message: str, details: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"kind": "Status", "status": "Failure", "message": message, "details": details or {}}).encode()


PDB_429 = body(
    "Cannot evict pod as it would violate the pod's disruption budget.",
    {
        "causes": [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget agents needs 3 healthy pods and has 3 currently",
            }
        ]
    },
)
APF_429 = body("Too many requests, please try again later.", {"retryAfterSeconds": 4})
MULTI_500 = body("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
PDB_403 = body(
    'poddisruptionbudgets.policy "agents" is forbidden: pdb disruptions allowed is negative',
    {"name": "agents", "group": "policy", "kind": "poddisruptionbudget"},
)
RBAC_403 = body(
    'pods "agent-x" is forbidden: User "dev" cannot create resource "pods/eviction"',
    {"name": "agent-x", "kind": "pods"},
)


@pytest.mark.parametrize(
    ("status", "answer", "attempt", "kind"),
    [
        pytest.param(429, PDB_429, EVICT, EvictionRefused, id="a-budgets-429-is-a-refusal-to-wait-on"),
        pytest.param(429, APF_429, EVICT, TooManyRequests, id="load-shedding-on-an-eviction-is-not-a-budget"),
        pytest.param(429, APF_429, LIST, TooManyRequests, id="load-shedding-on-a-list"),
        pytest.param(500, MULTI_500, EVICT, DisruptionBudgetBlocked, id="two-budgets-on-a-pod-is-not-transient"),
        pytest.param(500, body("etcd leader changed"), EVICT, ServerError, id="another-500-is-transient"),
        pytest.param(403, PDB_403, EVICT, DisruptionBudgetBlocked, id="the-budgets-403-is-not-rbac"),
        pytest.param(403, RBAC_403, EVICT, Forbidden, id="rbac-403-is-rbac"),
    ],
)
def test_eviction_answers(status: int, answer: bytes, attempt: Attempt, kind: type) -> None:
    error = error_for_status(status, answer, attempt, "https://api", retry_after=4.0)
    assert type(error) is kind


def test_load_shedding_carries_its_retry_after() -> None:
    error = error_for_status(429, APF_429, LIST, "https://api", retry_after=4.0)
    assert isinstance(error, TooManyRequests) and error.retry_after == 4.0


def test_the_budgets_403_says_what_it_is() -> None:
    error = error_for_status(403, PDB_403, EVICT, "https://api")
    assert "refuses evictions, not RBAC" in error.message and "pdb disruptions allowed is negative" in error.message
