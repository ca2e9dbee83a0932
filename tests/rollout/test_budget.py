"""maxUnavailable / maxSurge: the API server's validation (docs/rules.md#r-validation; cases L157–161, validation.go
ValidateRollingUpdateDaemonSet), percent scaling that rounds up (M173, docs/rules.md#r-budget), AllowsSurge, and the
controller's budget computation updatedDesiredNodeCounts (G2 91–98, update_test.go TestGetUnavailableNumbers).
"""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_ds.errors import ExitCode, UsageError
from kubectl_ds.placement.pods import pods_by_node
from kubectl_ds.rollout.budget import (
    Budget,
    IntOrPercent,
    parse_int_or_percent,
    scaled,
    updated_desired_node_counts,
    validate_rolling_update,
)
from kubectl_ds.strategy import allows_surge
from tests.builders import NOW, make_daemonset, make_node, make_pod, rolling_update

PERCENT_MESSAGE = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%' or '93%'), or a non-negative integer"
)


# --- parsing one value -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1, IntOrPercent(1, percent=False), id="int-is-a-count"),
        pytest.param("2", IntOrPercent(2, percent=False), id="digit-string-from-a-flag-is-a-count"),
        pytest.param("25%", IntOrPercent(25, percent=True), id="percent-string"),
        pytest.param("0%", IntOrPercent(0, percent=True), id="zero-percent"),
        pytest.param(" 3 ", IntOrPercent(3, percent=False), id="surrounding-spaces-ignored"),
    ],
)
def test_parse_int_or_percent(value: int | str, expected: IntOrPercent) -> None:
    assert parse_int_or_percent(value, field="--max-unavailable") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            -1, 'invalid --max-unavailable "-1": must be greater than or equal to 0', id="negative-int-rejected"
        ),  # L161
        pytest.param(
            "-1",
            'invalid --max-unavailable "-1": must be greater than or equal to 0',
            id="negative-flag-string-rejected",
        ),
        pytest.param("abc", f'invalid --max-unavailable "abc": {PERCENT_MESSAGE}', id="word-is-not-a-percent"),  # L161
        pytest.param("1.5", f'invalid --max-unavailable "1.5": {PERCENT_MESSAGE}', id="fraction-is-not-a-percent"),
        pytest.param("5 %", f'invalid --max-unavailable "5 %": {PERCENT_MESSAGE}', id="space-before-percent-sign"),
        pytest.param("-5%", f'invalid --max-unavailable "-5%": {PERCENT_MESSAGE}', id="negative-percent-fails-regex"),
        pytest.param(True, f'invalid --max-unavailable "True": {PERCENT_MESSAGE}', id="bool-is-not-an-int"),
    ],
)
def test_parse_int_or_percent_rejects(value: int | str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_int_or_percent(value, field="--max-unavailable")
    assert caught.value.message == message
    assert caught.value.exit_code == ExitCode.USAGE


# --- ValidateRollingUpdateDaemonSet ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_unavailable", "max_surge"),
    [
        pytest.param(1, 0, id="api-defaults-are-valid"),  # L157
        pytest.param(0, 1, id="surge-only"),
        pytest.param(0, "10%", id="surge-percent-with-zero-unavailable"),  # L160
        pytest.param("25%", 0, id="unavailable-percent"),
        pytest.param("100%", "0%", id="exactly-100-percent-and-zero-percent-surge"),
        pytest.param(200, 0, id="plain-count-may-exceed-100"),  # IsNotMoreThan100Percent only caps percents
    ],
)
def test_valid_rolling_update(max_unavailable: int | str, max_surge: int | str) -> None:
    validate_rolling_update(max_unavailable, max_surge)


@pytest.mark.parametrize(
    ("max_unavailable", "max_surge", "message"),
    [
        pytest.param(
            1,
            1,
            'invalid --max-surge "1": may not be set when maxUnavailable is non-zero (the API allows '
            "only one of them to be non-zero; use --max-unavailable 1 or --max-surge 1 "
            "--max-unavailable 0)",
            id="both-non-zero-rejected-on-max-surge",
        ),  # L159
        pytest.param(
            "10%",
            "20%",
            'invalid --max-surge "20%": may not be set when maxUnavailable is non-zero (the API '
            "allows only one of them to be non-zero; use --max-unavailable 10% or --max-surge 20% "
            "--max-unavailable 0)",
            id="both-non-zero-percents-named-in-hint",
        ),
        pytest.param(
            0,
            0,
            'invalid --max-unavailable "0": cannot be 0 when maxSurge is 0 (one of them must be '
            "non-zero; use --max-unavailable 1 or --max-surge 1 --max-unavailable 0)",
            id="both-zero-rejected-on-max-unavailable",
        ),  # L158
        pytest.param(
            "0%",
            0,
            'invalid --max-unavailable "0%": cannot be 0 when maxSurge is 0 (one of them must be '
            "non-zero; use --max-unavailable 1 or --max-surge 1 --max-unavailable 0)",
            id="zero-percent-counts-as-zero",
        ),  # L160
        pytest.param(
            0,
            "0%",
            'invalid --max-unavailable "0": cannot be 0 when maxSurge is 0 (one of them must be '
            "non-zero; use --max-unavailable 1 or --max-surge 1 --max-unavailable 0)",
            id="zero-percent-surge-counts-as-zero",
        ),
        pytest.param(
            "101%",
            0,
            'invalid --max-unavailable "101%": must not be greater than 100%',
            id="unavailable-over-100-percent",
        ),  # L161
        pytest.param(
            0, "101%", 'invalid --max-surge "101%": must not be greater than 100%', id="surge-over-100-percent"
        ),
        pytest.param(
            -1, 0, 'invalid --max-unavailable "-1": must be greater than or equal to 0', id="negative-unavailable"
        ),  # L161
        pytest.param("abc", 0, f'invalid --max-unavailable "abc": {PERCENT_MESSAGE}', id="invalid-percent"),  # L161
        # The API checks both formats before either 100% cap, so the bad surge format wins over 101%.
        pytest.param("101%", "x", f'invalid --max-surge "x": {PERCENT_MESSAGE}', id="formats-checked-before-caps"),
    ],
)
def test_invalid_rolling_update(max_unavailable: int | str, max_surge: int | str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_rolling_update(max_unavailable, max_surge)
    assert caught.value.message == message


# --- scaling (roundUp=true) and AllowsSurge ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "total", "expected"),
    [
        pytest.param("10%", 3, 1, id="ten-percent-of-3-rounds-up-to-1"),  # M173
        pytest.param("50%", 3, 2, id="half-of-3-rounds-up-to-2"),  # G98, r-budget
        pytest.param("1%", 1, 1, id="one-percent-of-1-is-1"),  # M173
        pytest.param("50%", 2, 1, id="half-of-2"),  # G95
        pytest.param("100%", 2, 2, id="all-of-2"),  # G97
        pytest.param("0%", 5, 0, id="zero-percent-is-0"),
        pytest.param("25%", 0, 0, id="percent-of-no-nodes-is-0"),  # G91
        pytest.param(3, 10, 3, id="count-is-kept"),
        pytest.param(5, 2, 5, id="count-is-not-capped-by-total"),
        pytest.param(IntOrPercent(30, percent=True), 10, 3, id="parsed-value-accepted"),
    ],
)
def test_scaled_rounds_percent_up(value: Any, total: int, expected: int) -> None:
    assert scaled(value, total) == expected


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        pytest.param(rolling_update(0, "1%"), True, id="one-percent-surge-is-surge"),  # M173, util.AllowsSurge
        pytest.param(rolling_update(0, 2), True, id="count-surge"),
        pytest.param(rolling_update(1, 0), False, id="zero-surge"),
        pytest.param(rolling_update(0, "0%"), False, id="zero-percent-surge"),
        pytest.param({"type": "RollingUpdate"}, False, id="defaulted-rolling-update-has-no-surge"),  # L157
        pytest.param(None, False, id="missing-strategy-defaults-to-no-surge"),  # L157
        pytest.param({"type": "OnDelete", "rollingUpdate": {"maxSurge": 1}}, False, id="on-delete-never-surges"),
    ],
)
def test_allows_surge(strategy: Any, expected: bool) -> None:
    assert allows_surge(make_daemonset(strategy=strategy)) is expected


# --- updatedDesiredNodeCounts (G2) --------------------------------------------------------------------------


def unavailable_only(value: int | str) -> dict[str, Any]:
    """newUpdateUnavailable: maxSurge left unset (nil → 0)."""
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": value}}


def surge_only(value: int | str) -> dict[str, Any]:
    """newUpdateSurge: maxUnavailable 0 and maxSurge as given."""
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": value}}


DS_X = make_daemonset("x")


def ready_pod(node: str, **kwargs: Any) -> dict[str, Any]:
    return make_pod(f"pod-{node[-1]}", node=node, owner=DS_X, **kwargs)


@pytest.mark.parametrize(
    ("strategy", "node_count", "pods", "expected"),
    [
        pytest.param(
            unavailable_only(0), 0, [], Budget(max_surge=0, max_unavailable=0, desired=0), id="no-nodes-no-fallback"
        ),  # G91
        pytest.param(
            unavailable_only(1),
            2,
            [ready_pod("node-0"), ready_pod("node-1")],
            Budget(max_surge=0, max_unavailable=1, desired=2),
            id="two-nodes-with-ready-pods",
        ),  # G92
        pytest.param(
            unavailable_only(0),
            2,
            [ready_pod("node-0")],
            Budget(max_surge=0, max_unavailable=1, desired=2, empty_nodes=("node-1",)),
            id="zero-budget-falls-back-to-one-unavailable",
        ),  # G93
        pytest.param(
            surge_only(0),
            2,
            [ready_pod("node-0")],
            Budget(max_surge=0, max_unavailable=1, desired=2, empty_nodes=("node-1",)),
            id="zero-surge-and-zero-unavailable-fall-back",
        ),  # G94
        pytest.param(
            unavailable_only("50%"),
            2,
            [ready_pod("node-0"), ready_pod("node-1")],
            Budget(max_surge=0, max_unavailable=1, desired=2),
            id="unavailable-percent",
        ),  # G95
        pytest.param(
            surge_only("50%"),
            2,
            [ready_pod("node-0"), ready_pod("node-1")],
            Budget(max_surge=1, max_unavailable=0, desired=2),
            id="surge-percent",
        ),  # G96
        pytest.param(
            surge_only("100%"),
            2,
            [ready_pod("node-0"), ready_pod("node-1")],
            Budget(max_surge=2, max_unavailable=0, desired=2),
            id="surge-100-percent",
        ),  # G97
        pytest.param(
            unavailable_only("50%"),
            3,
            [ready_pod("node-0"), ready_pod("node-1", deletion_timestamp=NOW)],
            Budget(max_surge=0, max_unavailable=2, desired=3, empty_nodes=("node-2",)),
            id="percent-of-3-rounds-up-terminating-pod-still-an-entry",
        ),  # G98
        pytest.param(
            unavailable_only("10%"),
            3,
            [],
            Budget(max_surge=0, max_unavailable=1, desired=3, empty_nodes=("node-0", "node-1", "node-2")),
            id="ten-percent-of-3-is-1",
        ),  # M173
        pytest.param(
            {"type": "RollingUpdate"},
            2,
            [],
            Budget(max_surge=0, max_unavailable=1, desired=2, empty_nodes=("node-0", "node-1")),
            id="missing-rolling-update-defaults-to-1-and-0",
        ),  # L157
    ],
)
def test_updated_desired_node_counts(
    strategy: dict[str, Any], node_count: int, pods: list[dict[str, Any]], expected: Budget
) -> None:
    daemonset = make_daemonset("x", strategy=strategy)
    nodes = [make_node(f"node-{i}") for i in range(node_count)]
    assert updated_desired_node_counts(daemonset, nodes, pods_by_node(pods)) == expected


def test_desired_counts_only_nodes_that_should_run() -> None:
    # A node the nodeSelector excludes (verdict (F,F)) is neither desired nor an empty node.
    daemonset = make_daemonset("x", strategy=unavailable_only("50%"), node_selector={"role": "worker"})
    nodes = [make_node(f"node-{i}", labels={"role": "worker"}) for i in range(3)] + [make_node("infra-0")]
    assert updated_desired_node_counts(daemonset, nodes, {}) == Budget(
        max_surge=0, max_unavailable=2, desired=3, empty_nodes=("node-0", "node-1", "node-2")
    )
