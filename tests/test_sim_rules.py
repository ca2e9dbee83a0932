"""The simulator's own Kubernetes rules (tests/sim/), case by case, against the upstream test tables.

These modules stand in for the real components, independently of kubectl_ds, so they are pinned on their
own. Case numbers are those of docs/rules.md#test-cases; each group names its upstream test (kubernetes/
kubernetes, or its staging repositories component-helpers, api and apimachinery).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import pytest

from tests.builders import expr, make_daemonset, make_node, make_pod, node_affinity, taint, term, toleration
from tests.sim import budget, daemonpods, fit, labels, nodeaffinity, pods, quantity, taints, update

Obj = dict[str, Any]
NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


# --- nodeSelector and required node affinity: group H, component-helpers nodeaffinity_test.go
# (TestPodMatchesNodeSelectorAndAffinityTerms) and helpers_test.go (TestMatchNodeSelectorTerms) ---------------


def pod_spec(node_selector: dict[str, str] | None = None, affinity: Obj | None = None) -> Obj:
    spec: Obj = {}
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    if affinity is not None:
        spec["affinity"] = affinity
    return spec


@pytest.mark.parametrize(
    ("spec", "node_labels", "node_name", "matches"),
    [
        pytest.param(pod_spec(), {}, "n", True, id="H100-no-selector"),
        pytest.param(pod_spec({"foo": "bar"}), {}, "n", False, id="H101-missing-labels"),
        pytest.param(pod_spec({"foo": "bar"}), {"foo": "bar", "baz": "blah"}, "n", True, id="H103-labels-superset"),
        pytest.param(pod_spec({"foo": "bar", "baz": "blah"}), {"foo": "bar"}, "n", False, id="H104-labels-subset"),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("foo", "In", "bar", "value2")))),
            {"foo": "bar"},
            "n",
            True,
            id="H105-in",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("kernel-version", "Gt", "0204")))),
            {"kernel-version": "0206"},
            "n",
            True,
            id="H106-gt-compares-integers-with-leading-zeros",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("mem-type", "NotIn", "DDR", "DDR2")))),
            {"mem-type": "DDR3"},
            "n",
            True,
            id="H107-notin",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("zone", "NotIn", "a")))),
            {},
            "n",
            True,
            id="notin-holds-for-a-missing-label",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("GPU", "Exists")))),
            {"GPU": "NVIDIA"},
            "n",
            True,
            id="H108-exists",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("foo", "In", "value1", "value2")))),
            {"foo": "bar"},
            "n",
            False,
            id="H109-in-without-the-value",
        ),
        pytest.param(
            pod_spec(
                affinity={
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": None}}
                }
            ),
            {"foo": "bar"},
            "n",
            False,
            id="H110-nil-terms-match-nothing",
        ),
        pytest.param(pod_spec(affinity=node_affinity()), {"foo": "bar"}, "n", False, id="H111-no-terms-match-nothing"),
        pytest.param(
            pod_spec(affinity=node_affinity({"matchExpressions": []})),
            {"foo": "bar"},
            "n",
            False,
            id="H112-an-empty-term-is-dropped",
        ),
        pytest.param(pod_spec(affinity={"nodeAffinity": {}}), {}, "n", True, id="H114-affinity-without-required"),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("GPU", "Exists"), expr("GPU", "NotIn", "AMD")))),
            {"GPU": "NVIDIA"},
            "n",
            True,
            id="H115-expressions-are-anded",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("GPU", "Exists"), expr("GPU", "In", "AMD")))),
            {"GPU": "NVIDIA"},
            "n",
            False,
            id="H116-expressions-anded-one-fails",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("foo", "In", "bar")), term(expr("diff", "In", "x")))),
            {"foo": "bar"},
            "n",
            True,
            id="H117-terms-are-ored",
        ),
        pytest.param(
            pod_spec({"foo": "bar"}, node_affinity(term(expr("foo", "Exists")))),
            {"foo": "barrrr"},
            "n",
            False,
            id="H119-nodeselector-and-affinity-are-anded",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("foo", "NotIn", "invalid value: ___@#$%^")))),
            {"foo": "bar"},
            "n",
            False,
            id="H120-an-invalid-value-breaks-the-term",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(expr("foo", "Bogus", "bar")), term(expr("foo", "In", "bar")))),
            {"foo": "bar"},
            "n",
            True,
            id="a-broken-term-does-not-stop-another-from-matching",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(fields=[expr("metadata.name", "In", "node_1")]))),
            {},
            "node_1",
            True,
            id="H121-matchfields-in",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(fields=[expr("metadata.name", "In", "node_1")]))),
            {},
            "node_2",
            False,
            id="H122-matchfields-in-other-node",
        ),
        pytest.param(
            pod_spec(
                affinity=node_affinity(
                    term(fields=[expr("metadata.name", "In", "node_1")]), term(expr("foo", "In", "bar"))
                )
            ),
            {"foo": "bar"},
            "node_2",
            True,
            id="H123-fields-fail-expressions-match",
        ),
        pytest.param(
            pod_spec(
                affinity=node_affinity(term(expr("foo", "In", "bar"), fields=[expr("metadata.name", "In", "node_1")]))
            ),
            {"foo": "bar"},
            "node_2",
            False,
            id="H124-fields-and-expressions-in-one-term-are-anded",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(fields=[expr("metadata.name", "In", "host_1", "host_2")]))),
            {},
            "host_1",
            False,
            id="H127-matchfields-need-one-value",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(fields=[expr("metadata.name", "In", "host_1")]))),
            {"metadata.name": "host_1"},
            "not_host_1",
            False,
            id="H128-fields-are-not-labels",
        ),
        pytest.param(
            pod_spec(affinity=node_affinity(term(fields=[expr("metadata.name", "In", "host_1")]))),
            {},
            "",
            True,
            id="an-unnamed-node-skips-matchfields",
        ),
    ],
)
def test_pod_matches_node(spec: Obj, node_labels: dict[str, str], node_name: str, matches: bool) -> None:
    node = {"metadata": {"name": node_name, "labels": node_labels}}
    assert nodeaffinity.pod_matches_node(spec, node) is matches


# --- label selectors: apimachinery selector_test.go, meta/v1 helpers_test.go ---------------------------------


@pytest.mark.parametrize(
    ("selector", "pod_labels", "matches"),
    [
        pytest.param({"matchLabels": {"app": "a"}}, {"app": "a", "x": "y"}, True, id="matchlabels"),
        pytest.param({"matchLabels": {"app": "a"}}, {"app": "b"}, False, id="matchlabels-other-value"),
        pytest.param({"matchExpressions": [expr("tier", "NotIn", "db")]}, {}, True, id="notin-missing-key"),
        pytest.param(
            {"matchExpressions": [expr("tier", "DoesNotExist")]},
            {"tier": ""},
            False,
            id="doesnotexist-sees-an-empty-value",
        ),
        pytest.param(
            {"matchLabels": {"app": "a"}, "matchExpressions": [expr("tier", "Exists")]},
            {"app": "a"},
            False,
            id="labels-and-expressions-are-anded",
        ),
        pytest.param({}, {"anything": "x"}, True, id="empty-selector-selects-everything"),
        pytest.param(None, {"anything": "x"}, False, id="nil-selector-selects-nothing"),
    ],
)
def test_label_selector(selector: Obj | None, pod_labels: dict[str, str], matches: bool) -> None:
    assert labels.selector_from_label_selector(selector).matches(pod_labels) is matches


@pytest.mark.parametrize(
    "selector",
    [
        pytest.param({"matchExpressions": [expr("tier", "Gt", "1")]}, id="gt-is-not-a-label-selector-operator"),
        pytest.param({"matchExpressions": [expr("tier", "In")]}, id="in-needs-values"),
        pytest.param({"matchExpressions": [expr("tier", "Exists", "x")]}, id="exists-takes-no-values"),
        pytest.param({"matchLabels": {"bad key": "x"}}, id="invalid-key"),
        pytest.param({"matchLabels": {"app": "-x"}}, id="invalid-value"),
    ],
)
def test_invalid_label_selector(selector: Obj) -> None:
    with pytest.raises(labels.InvalidSelector):
        labels.selector_from_label_selector(selector)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("0206", 206),
        ("-5", -5),
        ("+5", 5),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("1.5", None),
        ("1_0", None),
        (" 1", None),
        ("", None),
    ],
)
def test_parse_int64_reads_like_strconv(text: str, number: int | None) -> None:
    assert labels.parse_int64(text) == number


# --- taints and tolerations: group I, api core/v1 toleration_test.go (TestTolerationToleratesTaint),
# component-helpers helpers_test.go (TestFindMatchingUntoleratedTaint) ---------------------------------------


@pytest.mark.parametrize(
    ("tol", "node_taint", "tolerated"),
    [
        pytest.param(toleration("foo", "Exists", effect="NoSchedule"), taint("foo", "NoSchedule"), True, id="I132"),
        pytest.param(
            toleration("foo", "Exists", effect="NoSchedule"),
            taint("foo", "NoSchedule", "bar"),
            True,
            id="I133-exists-ignores-the-value",
        ),
        pytest.param(
            toleration("", "Exists", effect="NoSchedule"),
            taint("foo", "NoSchedule", "bar"),
            True,
            id="I134-empty-key-matches-every-key",
        ),
        pytest.param(
            toleration("foo", "Equal", "bar", "NoSchedule"), taint("foo", "NoSchedule", "bar"), True, id="I135-equal"
        ),
        pytest.param(
            toleration("foo", "Equal", "value1", "NoSchedule"),
            taint("foo", "NoSchedule", "value2"),
            False,
            id="I136-equal-other-value",
        ),
        pytest.param(
            toleration("foo", "Equal", "bar", "NoSchedule"),
            taint("foo", "NoExecute", "bar"),
            False,
            id="I137-other-effect",
        ),
        pytest.param(
            toleration("foo", value="bar"),
            taint("foo", "NoExecute", "bar"),
            True,
            id="no-operator-is-equal-no-effect-is-any",
        ),
        pytest.param(
            toleration("sla", "Gt", "750"),
            taint("sla", "NoSchedule", "950"),
            False,
            id="I138-comparison-operators-are-gated-off",
        ),
    ],
)
def test_tolerates(tol: Obj, node_taint: Obj, tolerated: bool) -> None:
    assert taints.tolerates(tol, node_taint) is tolerated


def test_first_untolerated_keeps_only_the_effects_asked_for() -> None:
    """I140/I141: the filter decides which taints count; that is how shouldContinueRunning ignores NoSchedule."""
    node_taints = [taint("foo", "NoExecute"), taint("bar", "NoSchedule")]
    tolerations = [toleration("foo", "Exists", effect="NoExecute")]
    assert taints.first_untolerated(node_taints, tolerations, taints.with_effects("NoExecute")) is None
    assert taints.first_untolerated(node_taints, tolerations, taints.with_effects("NoSchedule", "NoExecute")) == taint(
        "bar", "NoSchedule"
    )


AUTOMATIC = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
]


def keys_and_effects(tolerations: list[Obj]) -> list[tuple[str, str]]:
    return [(t.get("key", ""), t.get("effect", "")) for t in tolerations]


def test_daemon_pod_tolerations_are_added_in_order() -> None:
    assert keys_and_effects(taints.daemon_pod_tolerations({})) == AUTOMATIC
    assert all(t["operator"] == "Exists" and "tolerationSeconds" not in t for t in taints.daemon_pod_tolerations({}))
    assert keys_and_effects(taints.daemon_pod_tolerations({"hostNetwork": True})) == [
        *AUTOMATIC,
        ("node.kubernetes.io/network-unavailable", "NoSchedule"),
    ]


def test_a_user_toleration_like_an_automatic_one_is_replaced_by_it() -> None:
    """M169: tolerationSeconds on not-ready:NoExecute is dropped (same key, operator, value and effect)."""
    user = toleration("node.kubernetes.io/not-ready", "Exists", effect="NoExecute", seconds=300)
    result = taints.daemon_pod_tolerations({"tolerations": [user]})
    assert result[0] == {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
    assert len(result) == len(AUTOMATIC)


def test_a_user_toleration_with_another_operator_is_kept_beside_the_automatic_one() -> None:
    user = toleration("node.kubernetes.io/not-ready", "Equal", effect="NoExecute")
    result = taints.daemon_pod_tolerations({"tolerations": [user]})
    assert result[0] == user and len(result) == len(AUTOMATIC) + 1


# --- NodeShouldRunDaemonPod: groups A and M, daemon_controller_test.go (TestNodeShouldRunDaemonPod) ------------


@pytest.mark.parametrize(
    ("daemonset", "node", "verdict"),
    [
        pytest.param(
            make_daemonset(requests={"memory": "200M"}),
            make_node(allocatable={"memory": "100M"}),
            (True, True),
            id="A2-resources-are-the-schedulers-business",
        ),
        pytest.param(make_daemonset(node_name="other-node"), make_node(), (False, False), id="A3-template-nodename"),
        pytest.param(
            make_daemonset(node_selector={"type": "test"}),
            make_node(labels={"type": "production"}),
            (False, False),
            id="A7-nodeselector",
        ),
        pytest.param(
            make_daemonset(affinity=node_affinity(term(expr("type", "In", "production")))),
            make_node(labels={"type": "production"}),
            (True, True),
            id="A10-affinity",
        ),
        pytest.param(make_daemonset(), make_node(unschedulable=True), (True, True), id="A11-cordon-is-ignored"),
        pytest.param(
            make_daemonset(),
            make_node(taints=[taint("dedicated", "NoSchedule", "user1")]),
            (False, True),
            id="B41-noschedule-taint-keeps-a-running-pod",
        ),
        pytest.param(
            make_daemonset(),
            make_node(taints=[taint("dedicated", "NoExecute", "user1")]),
            (False, False),
            id="B42-noexecute-taint-evicts",
        ),
        pytest.param(
            make_daemonset(tolerations=[toleration("dedicated", value="user1", effect="NoSchedule")]),
            make_node(taints=[taint("dedicated", "NoSchedule", "user1")]),
            (True, True),
            id="B44-tolerated",
        ),
        pytest.param(
            make_daemonset(),
            make_node(taints=[taint("node.kubernetes.io/not-ready", "NoExecute")]),
            (True, True),
            id="B45-automatic-not-ready-toleration",
        ),
        pytest.param(
            make_daemonset(),
            make_node(
                taints=[
                    taint("node.kubernetes.io/not-ready", "NoSchedule"),
                    taint("node.kubernetes.io/not-ready", "NoExecute"),
                ]
            ),
            (False, True),
            id="M164-no-automatic-not-ready-noschedule-toleration",
        ),
        pytest.param(
            make_daemonset(tolerations=[toleration(operator="Exists")]),
            make_node(taints=[taint("node.kubernetes.io/not-ready", "NoSchedule")]),
            (True, True),
            id="M165-tolerate-everything",
        ),
        pytest.param(
            make_daemonset(),
            make_node(taints=[taint("x", "PreferNoSchedule")]),
            (True, True),
            id="prefernoschedule-never-blocks",
        ),
    ],
)
def test_node_should_run_daemon_pod(daemonset: Obj, node: Obj, verdict: tuple[bool, bool]) -> None:
    result = daemonpods.node_should_run_daemon_pod(daemonset, node)
    assert (result.should_run, result.should_continue_running) == verdict


# --- pods the controller creates: group E, daemonset_util_test.go (TestGetTargetNodeName,
# TestReplaceDaemonSetPodNodeNameNodeAffinity) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "target"),
    [
        pytest.param({"nodeName": "node-1"}, "node-1", id="E64-nodename"),
        pytest.param(
            {"affinity": node_affinity(term(fields=[expr("metadata.name", "In", "node-1")]))},
            "node-1",
            id="E65-pinned-by-affinity",
        ),
        pytest.param(
            {"affinity": node_affinity(term(fields=[expr("metadata.name", "In", "node-1", "node-2")]))},
            None,
            id="E66-two-names-are-no-target",
        ),
        pytest.param({}, None, id="E67-neither"),
    ],
)
def test_target_node_name(spec: Obj, target: str | None) -> None:
    assert pods.target_node_name({"spec": spec}) == target


PIN = {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["host_1"]}]}]}


@pytest.mark.parametrize(
    "affinity",
    [
        pytest.param(None, id="E68-no-affinity"),
        pytest.param(
            node_affinity(term(expr("kubernetes.io/hostname", "In", "host_1"))), id="E69-label-terms-replaced"
        ),
        pytest.param(
            node_affinity(term(fields=[expr("metadata.name", "In", "host_1", "host_2")])),
            id="E71-several-names-replaced",
        ),
        pytest.param(
            node_affinity(
                term(expr("kubernetes.io/hostname", "In", "host_1")),
                term(fields=[expr("metadata.name", "In", "host_2")]),
            ),
            id="E72-two-terms-replaced",
        ),
        pytest.param(node_affinity(term(fields=[expr("metadata.name", "NotIn", "host_2")])), id="E73-notin-replaced"),
    ],
)
def test_pinned_affinity_replaces_every_required_term(affinity: Obj | None) -> None:
    pinned = daemonpods.pinned_affinity(affinity, "host_1")
    assert pinned["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == PIN


def test_pinned_affinity_keeps_preferred_terms() -> None:
    """E70."""
    preferred = [{"weight": 1, "preference": term(expr("disk", "In", "ssd"))}]
    pinned = daemonpods.pinned_affinity(
        {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}}, "host_1"
    )
    assert pinned["nodeAffinity"] == {
        "preferredDuringSchedulingIgnoredDuringExecution": preferred,
        "requiredDuringSchedulingIgnoredDuringExecution": PIN,
    }


def test_generated_pod_names_keep_58_characters_of_the_prefix() -> None:
    """names.SimpleNameGenerator: 58 characters of generateName, then 5 random ones (at most 63)."""
    long_name = make_daemonset(name="d" * 70)
    assert daemonpods.generate_name(long_name) == "d" * 70 + "-"
    assert daemonpods.generated_name(long_name, "abcde") == "d" * 58 + "abcde"
    assert daemonpods.generated_name(make_daemonset(name="agent"), "abcde") == "agent-abcde"


# --- IsPodUpdated: group J, daemonset_util_test.go (TestIsPodUpdated); G = 12345, H = 55555 ---------------


def labelled(**pod_labels: str) -> Obj:
    return {"metadata": {"labels": {key.replace("_", "-"): value for key, value in pod_labels.items()}}}


BOTH = labelled(pod_template_generation="12345", controller_revision_hash="55555")


@pytest.mark.parametrize(
    ("pod", "revision_hash", "generation", "updated"),
    [
        pytest.param(BOTH, "55555", "12345", True, id="J142"),
        pytest.param(BOTH, "55555123", "12345", True, id="J143-generation-matches"),
        pytest.param(labelled(pod_template_generation="12345"), "55555", "12345", True, id="J144"),
        pytest.param(labelled(pod_template_generation="12345"), "", "12345", True, id="J145"),
        pytest.param(BOTH, "", "12345", True, id="J146"),
        pytest.param(BOTH, "55555", "12346", True, id="J147-hash-matches"),
        pytest.param(BOTH, "55555123", "12346", False, id="J148-neither-matches"),
        pytest.param(labelled(), "", "12345", False, id="J149"),
        pytest.param(labelled(), "55555", "12345", False, id="J150"),
        pytest.param({"metadata": {}}, "55555", "12345", False, id="J151-no-labels"),
        pytest.param(labelled(controller_revision_hash=""), "", None, False, id="an-empty-hash-matches-nothing"),
    ],
)
def test_is_pod_updated(pod: Obj, revision_hash: str, generation: str | None, updated: bool) -> None:
    assert update.is_pod_updated(pod, revision_hash, generation) is updated


@pytest.mark.parametrize(("annotation", "generation"), [("3", "3"), ("+3", "3"), ("03", "3"), ("x", None)])
def test_template_generation_is_the_parsed_annotation(annotation: str, generation: str | None) -> None:
    daemonset = make_daemonset()
    daemonset["metadata"]["annotations"] = {"deprecated.daemonset.template.generation": annotation}
    assert daemonpods.template_generation(daemonset) == generation


# --- budgets: groups G2 and M, update_test.go (TestGetUnavailableNumbers), intstr GetScaledValueFromIntOrPercent -


def strategy(max_unavailable: Any = None, max_surge: Any = None, kind: str = "RollingUpdate") -> Obj:
    rolling = {
        key: value for key, value in (("maxUnavailable", max_unavailable), ("maxSurge", max_surge)) if value is not None
    }
    return {"spec": {"updateStrategy": {"type": kind, "rollingUpdate": rolling}}}


@pytest.mark.parametrize(
    ("daemonset", "desired", "surge_and_unavailable"),
    [
        pytest.param(strategy(0), 0, (0, 0), id="G91-no-nodes-no-fallback"),
        pytest.param(strategy(1), 2, (0, 1), id="G92"),
        pytest.param(strategy(0), 2, (0, 1), id="G93-neither-surge-nor-unavailability-falls-back-to-1"),
        pytest.param(strategy(0, 0), 2, (0, 1), id="G94"),
        pytest.param(strategy("50%"), 2, (0, 1), id="G95-percent"),
        pytest.param(strategy(0, "50%"), 2, (1, 0), id="G96-surge-percent"),
        pytest.param(strategy(0, "100%"), 2, (2, 0), id="G97"),
        pytest.param(strategy("50%"), 3, (0, 2), id="G98-percent-rounds-up"),
        pytest.param(strategy("10%"), 3, (0, 1), id="M173-ten-percent-of-three"),
        pytest.param({"spec": {}}, 4, (0, 1), id="api-defaults-max-unavailable-1"),
    ],
)
def test_rolling_update_budget(daemonset: Obj, desired: int, surge_and_unavailable: tuple[int, int]) -> None:
    limits = budget.rolling_update_budget(daemonset, desired)
    assert (limits.max_surge, limits.max_unavailable, limits.desired) == (*surge_and_unavailable, desired)


@pytest.mark.parametrize(
    ("daemonset", "surges"),
    [
        pytest.param(strategy(0, "1%"), True, id="M173-one-percent-of-one-node"),
        pytest.param(strategy(0, 1), True, id="one"),
        pytest.param(strategy(1, 0), False, id="zero"),
        pytest.param(strategy(1), False, id="unset"),
        pytest.param(strategy(0, 1, kind="OnDelete"), False, id="ondelete-never-surges"),
        pytest.param(strategy(0, "1"), False, id="a-string-without-percent-is-invalid"),
    ],
)
def test_allows_surge(daemonset: Obj, surges: bool) -> None:
    assert budget.allows_surge(daemonset) is surges


@pytest.mark.parametrize("value", ["2", "abc%", "1.5%", 1.5, None])
def test_invalid_int_or_percent(value: Any) -> None:
    with pytest.raises(budget.InvalidIntOrPercent):
        budget.scaled_value(value, 10, round_up=True)


# --- quantities: apimachinery quantity_test.go ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Fraction(1, 10)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("2Ki", Fraction(2048)),
        ("1e3", Fraction(1000)),
        ("12e-3", Fraction(12, 1000)),
        ("1E", Fraction(10**18)),
        ("5u", Fraction(5, 10**6)),
        ("1n", Fraction(1, 10**9)),
        (".5", Fraction(1, 2)),
        ("1.", Fraction(1)),
        ("+1k", Fraction(1000)),
        ("-1", Fraction(-1)),
        (0, Fraction(0)),
        (3, Fraction(3)),
        ("0.0000000001", Fraction(1, 10**9)),
    ],
)
def test_parse_quantity(text: object, value: Fraction) -> None:
    assert quantity.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "1K", "1e", "abc", " 1", "1 ", "1Gb", "1_000"])
def test_invalid_quantity(text: str) -> None:
    with pytest.raises(quantity.InvalidQuantity):
        quantity.parse_quantity(text)


def test_scheduler_units_round_up() -> None:
    """MilliValue for cpu, Value for the rest: a sliver of a unit still takes a whole one."""
    assert quantity.milli_units(quantity.parse_quantity("0.0005")) == 1
    assert quantity.whole_units(quantity.parse_quantity("0.5")) == 1


# --- the scheduler's filters: group M, noderesources/fit.go, framework/types.go HostPortInfo ----------------


@pytest.mark.parametrize(
    ("wanted", "held", "conflict"),
    [
        pytest.param([9100], [9100], True, id="same-port"),
        pytest.param([9100], [9101], False, id="other-port"),
        pytest.param([{"containerPort": 53, "hostPort": 53, "protocol": "UDP"}], [53], False, id="other-protocol"),
        pytest.param(
            [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.1"}],
            [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.2"}],
            False,
            id="other-ip",
        ),
        pytest.param(
            [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.1"}], [80], True, id="an-ip-clashes-with-any-ip"
        ),
        pytest.param(
            [80], [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.2"}], True, id="any-ip-clashes-with-an-ip"
        ),
    ],
)
def test_host_port_conflicts(wanted: list[Any], held: list[Any], conflict: bool) -> None:
    pod = make_pod("new", host_ports=wanted)
    other = make_pod("old", node="node-0", host_ports=held)
    node = make_node("node-0", allocatable={"cpu": "4", "memory": "8Gi"})
    reasons = fit.filter_failures(pod, node, [other])
    assert (reasons == ["node(s) didn't have free ports for the requested pod ports"]) is conflict


def test_host_network_container_ports_are_host_ports() -> None:
    """M170: API defaulting copies containerPort into hostPort for a hostNetwork pod."""
    assert fit.host_ports({"hostNetwork": True, "containers": [{"ports": [{"containerPort": 9100}]}]}) == [
        ("0.0.0.0", "TCP", 9100)
    ]
    assert fit.host_ports({"containers": [{"ports": [{"containerPort": 9100}]}]}) == []


def test_pod_requests_count_sidecars_and_the_init_peak() -> None:
    """PodRequests: containers and sidecars add up; a run-once init container runs beside the sidecars before it."""
    spec = {
        "initContainers": [
            {"restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
            {"resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
        ],
        "containers": [{"resources": {"requests": {"cpu": "500m", "memory": "2Gi"}}}],
        "overhead": {"cpu": "10m"},
    }
    assert fit.scheduler_units(fit.pod_requests(spec)) == {"cpu": 2110, "memory": 2 * 2**30}


SMALL = {"cpu": "200m", "memory": "200Mi"}


@pytest.mark.parametrize(
    ("node", "others", "requests", "reasons"),
    [
        pytest.param(
            make_node(allocatable={"cpu": "1", "memory": "1Gi", "pods": "1"}),
            [make_pod("hog", node="test-node")],
            SMALL,
            ["Too many pods"],
            id="M171-too-many-pods",
        ),
        pytest.param(
            make_node(allocatable={"cpu": "1", "memory": "1Gi"}),
            [make_pod("hog", node="test-node", requests={"cpu": "900m"})],
            SMALL,
            ["Insufficient cpu"],
            id="cpu-left-by-the-others",
        ),
        pytest.param(
            make_node(allocatable={"cpu": "1", "memory": "100Mi"}),
            [],
            {**SMALL, "example.com/gpu": "1"},
            ["Insufficient memory", "Insufficient example.com/gpu"],
            id="every-short-resource",
        ),
        pytest.param(
            make_node(allocatable={"cpu": "1", "memory": "1Gi"}),
            [],
            {**SMALL, "foo": "1"},
            [],
            id="a-name-that-is-no-resource-is-ignored",
        ),
        pytest.param(make_node(unschedulable=True), [], {}, [], id="the-unschedulable-toleration-waives-a-cordon"),
        pytest.param(
            make_node(taints=[taint("dedicated", "NoSchedule", "x")]),
            [],
            {},
            ["node(s) had untolerated taint {dedicated: x}"],
            id="untolerated-taint",
        ),
        pytest.param(
            {"metadata": {"name": "test-node"}},
            [make_pod("hog", node="test-node")],
            SMALL,
            [],
            id="a-node-without-allocatable-takes-anything",
        ),
    ],
)
def test_filter_failures(node: Obj, others: list[Obj], requests: dict[str, str], reasons: list[str]) -> None:
    pod = daemonpods.daemon_pod(make_daemonset(requests=requests), "test-node", "h", "ds-abcde", NOW)
    assert fit.filter_failures(pod, node, others) == reasons


def test_a_node_that_stopped_matching_the_node_selector_fails_the_node_affinity_filter() -> None:
    pod = daemonpods.daemon_pod(make_daemonset(node_selector={"disk": "ssd"}), "test-node", "h", "ds-abcde", NOW)
    assert fit.filter_failures(pod, make_node(labels={"disk": "hdd"}), []) == [
        "node(s) didn't match Pod's node affinity/selector"
    ]


# --- availability: pkg/api/v1/pod util_test.go (TestIsPodAvailable) ---------------------------------------


@pytest.mark.parametrize(
    ("ready", "ready_for", "min_ready", "available"),
    [
        pytest.param(True, 0, 0, True, id="ready-no-min-ready-seconds"),
        pytest.param(False, 100, 0, False, id="not-ready"),
        pytest.param(True, 9, 10, False, id="ready-too-briefly"),
        pytest.param(True, 10, 10, True, id="ready-exactly-long-enough"),
    ],
)
def test_is_available(ready: bool, ready_for: int, min_ready: int, available: bool) -> None:
    pod = make_pod("p", ready=ready, ready_since=NOW - timedelta(seconds=ready_for))
    assert pods.is_available(pod, min_ready, NOW) is available
