"""Which nodes a managed rollout updates, in what order, how many per step (rollout/ordering.py, through
rollout/plan.py): --canary-spread, --wave-by, growing --step-size, the --nodes scope; and kubectl's selector
syntax (labelselector.parse_selector), which --nodes takes."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_ds.errors import UsageError
from kubectl_ds.labelselector import parse_selector, selector_matches
from kubectl_ds.rollout.options import plan_options, validate_options
from kubectl_ds.rollout.ordering import parse_step_sizes, spread_canaries, step_size_of
from kubectl_ds.rollout.plan import CANARY_MATCHES_NO_NODE, Plan, Step
from kubectl_ds.rollout.state import RolloutOptions
from tests.builders import make_node
from tests.rollout.test_plan import all_old, new, old, plan

Obj = dict[str, Any]
HINT = "; use e.g. app=agent,tier!=canary"  # what every selector error ends with
ZONE, ARCH, TYPE = "topology.kubernetes.io/zone", "kubernetes.io/arch", "node.kubernetes.io/instance-type"


def fleet(*labels: dict[str, str]) -> list[Obj]:
    return [make_node(f"node-{i}", labels=dict(node_labels)) for i, node_labels in enumerate(labels)]


def steps(result: Plan) -> list[tuple[str, ...]]:
    return [step.nodes for step in result.steps]


# --- kubectl's selector syntax ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", {}, id="empty-selects-everything"),
        pytest.param("zone=a", {"matchLabels": {"zone": "a"}}, id="equality"),
        pytest.param("zone==a", {"matchLabels": {"zone": "a"}}, id="double-equals-is-equality"),
        pytest.param(
            "zone!=a", {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, id="inequality"
        ),
        pytest.param(
            "zone in (a, b),tier",
            {
                "matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]},
                    {"key": "tier", "operator": "Exists"},
                ]
            },
            id="set-based-and-exists",
        ),
        pytest.param(
            "zone notin (a),!spot",
            {
                "matchExpressions": [
                    {"key": "zone", "operator": "NotIn", "values": ["a"]},
                    {"key": "spot", "operator": "DoesNotExist"},
                ]
            },
            id="notin-and-does-not-exist",
        ),
        pytest.param(
            "example.com/pool=gpu, zone = b",
            {"matchLabels": {"example.com/pool": "gpu", "zone": "b"}},
            id="prefixed-keys-and-spaces",
        ),
    ],
)
def test_parse_selector(text: str, expected: dict[str, Any]) -> None:
    assert parse_selector(text, flag="--nodes") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("zone in (a", f'invalid --nodes "zone in (a": it ends too early{HINT}', id="unclosed-set"),
        pytest.param("zone=a,,x", f'invalid --nodes "zone=a,,x": "," where a label key belongs{HINT}', id="empty-part"),
        pytest.param("=a", f'invalid --nodes "=a": "=" where a label key belongs{HINT}', id="missing-key"),
        pytest.param(
            "zone=a,zone=b", f'invalid --nodes "zone=a,zone=b": label zone is given two values{HINT}', id="two-values"
        ),
        pytest.param(
            "zone in a",
            f'invalid --nodes "zone in a": in and notin take a list in parentheses{HINT}',
            id="set-without-parens",
        ),
    ],
)
def test_parse_selector_refuses(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_selector(text, flag="--nodes")
    assert caught.value.message == message


def test_inequality_matches_nodes_without_the_key_as_upstream() -> None:
    selector = parse_selector("zone!=a", flag="--nodes")
    assert [selector_matches(selector, labels) for labels in ({"zone": "a"}, {"zone": "b"}, {})] == [False, True, True]


# --- growing steps ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "desired", "limit", "offset", "expected"),
    [
        pytest.param(None, 20, 4, 0, [4, 4, 4], id="no-size-is-the-budget"),
        pytest.param("1,5,10%", 20, 20, 0, [1, 5, 2, 2], id="sizes-in-turn-the-last-repeats"),
        pytest.param("1,5,25%", 20, 3, 0, [1, 3, 3], id="the-budget-caps-every-size"),
        pytest.param("1,2,4", 20, 20, 2, [4, 4], id="resumes-where-the-steps-taken-left-it"),
        pytest.param("1%", 20, 20, 0, [1], id="a-percent-rounds-up-to-a-node"),
    ],
)
def test_step_sizes(value: str | None, desired: int, limit: int, offset: int, expected: list[int]) -> None:
    size = step_size_of(value, desired, limit, offset)
    assert [size(k) for k in range(len(expected))] == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("1,0", 'invalid --step-size "1,0": every size must be greater than 0', id="zero-in-a-list"),
        pytest.param("1,,2", 'invalid --step-size "1,,2": an empty size between commas', id="empty-size"),
        pytest.param("1,150%", 'invalid --step-size "150%": must not be greater than 100%', id="over-100-percent"),
    ],
)
def test_step_sizes_refused(value: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_step_sizes(value)
    assert caught.value.message == message


def test_growing_steps_cut_the_plan_and_a_resumed_plan_continues_the_sizes() -> None:
    result = plan(fleet(*[{}] * 10), all_old(10), max_unavailable=10, step_size="1,2,4")
    assert [len(nodes) for nodes in steps(result)] == [1, 2, 4, 3]
    # Two sized steps done (3 nodes updated): the next step takes the third size, then it repeats.
    pods = [new(f"node-{i}") for i in range(3)] + [old(f"node-{i}") for i in range(3, 10)]
    resumed = plan(fleet(*[{}] * 10), pods, max_unavailable=10, step_size="1,2,4", sized_steps_done=2)
    assert steps(resumed) == [("node-3", "node-4", "node-5", "node-6"), ("node-7", "node-8", "node-9")]


def test_the_canary_step_does_not_use_up_a_growing_size() -> None:
    labels = [{"canary": "true"}, {}, {}, {}, {}]
    result = plan(
        fleet(*labels), all_old(5), max_unavailable=5, step_size="1,3", canary={"matchLabels": {"canary": "true"}}
    )
    assert [(step.nodes, step.canary) for step in result.steps] == [
        (("node-0",), True),
        (("node-1",), False),
        (("node-2", "node-3", "node-4"), False),
    ]


# --- the canary spread --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "keys", "expected"),
    [
        pytest.param(
            {"a": {ZONE: "z1"}, "b": {ZONE: "z1"}, "c": {ZONE: "z2"}},
            (ZONE,),
            {"a", "c"},
            id="one-node-per-value-first-in-natural-order",
        ),
        pytest.param(
            {
                "n1": {ZONE: "z1", ARCH: "amd64"},
                "n2": {ZONE: "z2", ARCH: "amd64"},
                "n3": {ZONE: "z1", ARCH: "arm64"},
                "n4": {ZONE: "z2", ARCH: "arm64"},
            },
            (ZONE, ARCH),
            {"n1", "n4"},
            id="a-node-covers-several-keys-at-once",
        ),
        pytest.param(
            {"n1": {ARCH: "amd64"}, "n2": {}, "n3": {ARCH: "amd64"}},
            (ARCH,),
            {"n1", "n2"},
            id="nodes-without-the-label-are-a-value-of-their-own",
        ),
        pytest.param(
            {"n1": {TYPE: "m5"}, "n2": {TYPE: "m5"}, "n3": {TYPE: "c6g", ARCH: "arm64"}, "n4": {TYPE: "c6g"}},
            (TYPE, ARCH),
            {"n3", "n1"},
            id="greedy-takes-the-node-covering-most-first",
        ),
    ],
)
def test_spread_canaries(labels: dict[str, dict[str, str]], keys: tuple[str, ...], expected: set[str]) -> None:
    assert spread_canaries(labels, keys) == expected


def test_canary_spread_puts_one_node_per_zone_and_arch_in_the_canary_step() -> None:
    labels = [
        {ZONE: "a", ARCH: "amd64"},
        {ZONE: "a", ARCH: "amd64"},
        {ZONE: "b", ARCH: "amd64"},
        {ZONE: "b", ARCH: "arm64"},
        {ZONE: "c", ARCH: "amd64"},
        {ZONE: "c", ARCH: "amd64"},
    ]
    result = plan(fleet(*labels), all_old(6), max_unavailable=3, canary_spread=(ZONE, ARCH))
    assert result.steps[0] == Step(1, ("node-0", "node-3", "node-4"), canary=True)
    assert [step.canary for step in result.steps[1:]] == [False] * (len(result.steps) - 1)


def test_canary_spread_choice_does_not_move_as_canaries_get_updated() -> None:
    labels = [{ZONE: "a"}, {ZONE: "a"}, {ZONE: "b"}, {ZONE: "b"}]
    pods = [new("node-0"), old("node-1"), old("node-2"), old("node-3")]  # the zone-a canary is done
    result = plan(fleet(*labels), pods, max_unavailable=1, canary_spread=(ZONE,))
    assert result.steps[0] == Step(1, ("node-2",), canary=True)  # not node-1: zone a had its canary


def test_canary_spread_within_the_canary_selector() -> None:
    labels = [{ZONE: "a"}, {ZONE: "a", "pool": "canary"}, {ZONE: "b", "pool": "canary"}, {ZONE: "b", "pool": "canary"}]
    result = plan(
        fleet(*labels), all_old(4), max_unavailable=2, canary={"matchLabels": {"pool": "canary"}}, canary_spread=(ZONE,)
    )
    assert result.steps[0] == Step(1, ("node-1", "node-2"), canary=True)


def test_canary_spread_over_updated_nodes_only_warns_that_there_is_no_canary_step() -> None:
    result = plan(fleet({ZONE: "a"}, {ZONE: "a"}), [new("node-0"), old("node-1")], canary_spread=(ZONE,))
    assert [step.canary for step in result.steps] == [False]
    assert [(w.code, w.message) for w in result.warnings] == [
        (
            CANARY_MATCHES_NO_NODE,
            "--canary-spread (picking node-0) matches no node that needs the update; the plan has no canary step",
        )
    ]


# --- waves --------------------------------------------------------------------------------------------------


def test_waves_go_one_label_value_at_a_time_and_no_step_mixes_two() -> None:
    labels = [{ZONE: "b"}, {ZONE: "a"}, {}, {ZONE: "b"}, {ZONE: "a"}, {ZONE: "a"}]
    result = plan(fleet(*labels), all_old(6), max_unavailable=2, wave_by=ZONE)
    assert [(step.wave, step.nodes) for step in result.steps] == [
        ("a", ("node-1", "node-4")),
        ("a", ("node-5",)),
        ("b", ("node-0", "node-3")),
        ("", ("node-2",)),  # nodes without the label: a wave of their own, last
    ]


def test_canary_goes_before_every_wave() -> None:
    labels = [{ZONE: "a"}, {ZONE: "b", "canary": "true"}, {ZONE: "a"}]
    result = plan(
        fleet(*labels), all_old(3), max_unavailable=2, wave_by=ZONE, canary={"matchLabels": {"canary": "true"}}
    )
    assert [(step.canary, step.wave, step.nodes) for step in result.steps] == [
        (True, "b", ("node-1",)),
        (False, "a", ("node-0", "node-2")),
    ]


# --- the node scope -----------------------------------------------------------------------------------------


def test_nodes_outside_the_scope_stay_and_are_listed() -> None:
    labels = [{ZONE: "a"}, {ZONE: "b"}, {ZONE: "a"}, {ZONE: "c"}]
    result = plan(fleet(*labels), all_old(4), nodes=parse_selector(f"{ZONE} in (a,c)", flag="--nodes"))
    assert steps(result) == [("node-0",), ("node-2",), ("node-3",)]
    assert result.out_of_scope == ("node-1",)


def test_an_updated_node_outside_the_scope_is_not_held() -> None:
    labels = [{ZONE: "a"}, {ZONE: "b"}]
    result = plan(fleet(*labels), [old("node-0"), new("node-1")], nodes={"matchLabels": {ZONE: "a"}})
    assert (steps(result), result.out_of_scope) == ([("node-0",)], ())


# --- options as the rollout keeps them ------------------------------------------------------------------------


def test_rollout_options_reach_the_plan() -> None:
    options = RolloutOptions(canary_spread=f"{ZONE}, {ARCH}", nodes="pool=web", wave_by=ZONE, step_size="1,10%")
    planned = plan_options(options)
    assert (planned.canary_spread, planned.nodes, planned.wave_by, planned.step_size) == (
        (ZONE, ARCH),
        {"matchLabels": {"pool": "web"}},
        ZONE,
        "1,10%",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            RolloutOptions(max_unavailable=0, max_surge=1, wave_by=ZONE),
            "--canary, --canary-spread, --partition, --nodes and --wave-by need the plugin to choose the nodes, "
            "but with --max-surge the controller chooses which nodes surge; use --max-unavailable instead",
            id="surge-cannot-choose-nodes",
        ),
        pytest.param(
            RolloutOptions(wave_by=f"{ZONE},{ARCH}"),
            f'invalid --wave-by "{ZONE},{ARCH}": waves go by one label key, such as topology.kubernetes.io/zone',
            id="one-wave-key",
        ),
        pytest.param(
            RolloutOptions(canary_spread="zone=a"),
            'invalid --canary-spread "zone=a": expected label keys (KEY[,KEY...]), such as topology.kubernetes.io/zone',
            id="spread-takes-keys-not-pairs",
        ),
        pytest.param(
            RolloutOptions(canary_spread="zone,zone"),
            'invalid --canary-spread "zone,zone": a label key is given twice',
            id="spread-key-twice",
        ),
        pytest.param(
            RolloutOptions(nodes="zone in (a"), f'invalid --nodes "zone in (a": it ends too early{HINT}', id="bad-scope"
        ),
    ],
)
def test_order_options_refused(options: RolloutOptions, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_options(options)
    assert caught.value.message == message
