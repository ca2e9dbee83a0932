"""nodeSelector and required node affinity (docs/rules.md#r-selectors), case for case against
component-helpers' nodeaffinity tests (case group H, 100–131, docs/rules.md#test-cases), plus the exact sentences we
print when a node fails them.

Each H case is checked twice: with the selector functions themselves (nodeSelector AND affinity) and
through the controller predicate, where a selector/affinity failure must give (False, False).
"""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_ds.placement.predicate import node_should_run_daemon_pod
from kubectl_ds.placement.selectors import match_required_affinity, node_selector_mismatches
from tests.builders import expr, make_daemonset, make_node, node_affinity, term

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


def field(operator: str, *values: str, key: str = "metadata.name") -> dict[str, Any]:
    return expr(key, operator, *values)


def pod_spec(node_selector: dict[str, str] | None = None, affinity: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    if affinity is not None:
        spec["affinity"] = affinity
    return spec


def selects(spec: dict[str, Any], node: dict[str, Any]) -> bool:
    """nodeSelector AND required affinity, as GetRequiredNodeAffinity(pod).Match(node)."""
    labels = node["metadata"].get("labels") or {}
    return (
        not node_selector_mismatches(spec.get("nodeSelector"), labels) and match_required_affinity(spec, node).matched
    )


H_CASES = [
    # (nodeSelector, affinity, node, matches)
    pytest.param(None, None, make_node(), True, id="no-selector-no-affinity-matches"),  # H100
    pytest.param({"foo": "bar"}, None, make_node(), False, id="selector-key-missing-on-node"),  # H101
    pytest.param({"foo": "bar"}, None, make_node(labels={"foo": "bar"}), True, id="selector-same-labels"),  # H102
    pytest.param(
        {"foo": "bar"}, None, make_node(labels={"foo": "bar", "baz": "blah"}), True, id="selector-node-labels-superset"
    ),  # H103
    pytest.param(
        {"foo": "bar", "baz": "blah"}, None, make_node(labels={"foo": "bar"}), False, id="selector-node-labels-subset"
    ),  # H104
    pytest.param(
        None,
        node_affinity(term(expr("foo", "In", "bar", "value2"))),
        make_node(labels={"foo": "bar"}),
        True,
        id="in-operator-matches",
    ),  # H105
    pytest.param(
        None,
        node_affinity(term(expr("kernel-version", "Gt", "0204"))),
        make_node(labels={"kernel-version": "0206"}),
        True,
        id="gt-integer-compare-leading-zeros",
    ),  # H106
    pytest.param(
        None,
        node_affinity(term(expr("mem-type", "NotIn", "DDR", "DDR2"))),
        make_node(labels={"mem-type": "DDR3"}),
        True,
        id="notin-operator-matches",
    ),  # H107
    pytest.param(
        None,
        node_affinity(term(expr("GPU", "Exists"))),
        make_node(labels={"GPU": "NVIDIA-GRID-K1"}),
        True,
        id="exists-operator-matches",
    ),  # H108
    pytest.param(
        None,
        node_affinity(term(expr("foo", "In", "value1", "value2"))),
        make_node(labels={"foo": "bar"}),
        False,
        id="in-operator-value-not-listed",
    ),  # H109
    pytest.param(
        None,
        {"nodeAffinity": {REQUIRED: {}}},
        make_node(labels={"foo": "bar"}),
        False,
        id="nil-node-selector-terms-match-nothing",
    ),  # H110
    pytest.param(
        None,
        {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": []}}},
        make_node(labels={"foo": "bar"}),
        False,
        id="empty-node-selector-terms-match-nothing",
    ),  # H111
    pytest.param(
        None,
        node_affinity({"matchExpressions": []}),
        make_node(labels={"foo": "bar"}),
        False,
        id="only-empty-term-is-dropped-so-nothing-matches",
    ),  # H112
    pytest.param(None, None, make_node(labels={"foo": "bar"}), True, id="no-affinity-matches"),  # H113
    pytest.param(
        None,
        {"nodeAffinity": {REQUIRED: None}},
        make_node(labels={"foo": "bar"}),
        True,
        id="affinity-with-nil-required-is-no-constraint",
    ),  # H114
    pytest.param(
        None,
        node_affinity(term(expr("GPU", "Exists"), expr("GPU", "NotIn", "AMD", "INTER"))),
        make_node(labels={"GPU": "NVIDIA-GRID-K1"}),
        True,
        id="expressions-anded-all-hold",
    ),  # H115
    pytest.param(
        None,
        node_affinity(term(expr("GPU", "Exists"), expr("GPU", "In", "AMD", "INTER"))),
        make_node(labels={"GPU": "NVIDIA-GRID-K1"}),
        False,
        id="expressions-anded-one-fails",
    ),  # H116
    pytest.param(
        None,
        node_affinity(term(expr("foo", "In", "bar", "value2")), term(expr("diffkey", "In", "wrong", "value2"))),
        make_node(labels={"foo": "bar"}),
        True,
        id="terms-ored-first-matches",
    ),  # H117
    pytest.param(
        {"foo": "bar"},
        node_affinity(term(expr("foo", "Exists"))),
        make_node(labels={"foo": "bar"}),
        True,
        id="selector-and-affinity-both-hold",
    ),  # H118
    pytest.param(
        {"foo": "bar"},
        node_affinity(term(expr("foo", "Exists"))),
        make_node(labels={"foo": "barrrrrr"}),
        False,
        id="selector-fails-although-affinity-holds",
    ),  # H119
    pytest.param(
        None,
        node_affinity(term(expr("foo", "NotIn", "invalid value: ___@#$%^"))),
        make_node(labels={"foo": "bar"}),
        False,
        id="invalid-label-value-term-never-matches",
    ),  # H120
    pytest.param(
        None,
        node_affinity(term(fields=[field("In", "node_1")])),
        make_node("node_1"),
        True,
        id="matchfields-name-in-matches",
    ),  # H121
    pytest.param(
        None,
        node_affinity(term(fields=[field("In", "node_1")])),
        make_node("node_2"),
        False,
        id="matchfields-name-in-other-node",
    ),  # H122
    pytest.param(
        None,
        node_affinity(term(fields=[field("In", "node_1")]), term(expr("foo", "In", "bar"))),
        make_node("node_2", labels={"foo": "bar"}),
        True,
        id="field-term-fails-expression-term-matches",
    ),  # H123
    pytest.param(
        None,
        node_affinity(term(expr("foo", "In", "bar"), fields=[field("In", "node_1")])),
        make_node("node_2", labels={"foo": "bar"}),
        False,
        id="one-term-field-fails-expression-holds",
    ),  # H124
    pytest.param(
        None,
        node_affinity(term(expr("foo", "In", "bar"), fields=[field("In", "node_1")])),
        make_node("node_1", labels={"foo": "bar"}),
        True,
        id="one-term-field-and-expression-hold",
    ),  # H125
    pytest.param(
        None,
        node_affinity(term(fields=[field("In", "node_1")]), term(expr("foo", "In", "not-match-to-bar"))),
        make_node("node_2", labels={"foo": "bar"}),
        False,
        id="two-terms-both-fail",
    ),  # H126
    pytest.param(
        None,
        node_affinity(term(fields=[field("In", "host_1", "host_2")])),
        make_node("host_1"),
        False,
        id="matchfields-two-values-is-parse-error",
    ),  # H127
    pytest.param(
        None,
        node_affinity(term(fields=[field("In", "host_1")])),
        make_node("not_host_1", labels={"metadata.name": "host_1"}),
        False,
        id="matchfields-read-fields-not-labels",
    ),  # H128
    pytest.param(
        None,
        node_affinity(term(expr("metadata.name", "In", "host_1"))),
        make_node("host_1"),
        False,
        id="label-expression-on-metadata-name-reads-labels",
    ),  # H129
    pytest.param(
        None,
        node_affinity(term(expr("label_1", "In", "label_1_val")), term(fields=[field("In", "host_1")])),
        make_node("host_1", labels={"label_1": "label_1_val-failed"}),
        True,
        id="label-term-fails-field-term-matches",
    ),  # H130
    pytest.param(
        None,
        node_affinity(term(expr("foo", "Exists", "bar", "baz"))),
        make_node(labels={"foo": "bar"}),
        False,
        id="exists-with-values-is-parse-error",
    ),  # H131
    pytest.param(
        None,
        node_affinity(term(expr("foo", "invalid", "bar"))),
        make_node(labels={"foo": "bar"}),
        False,
        id="unknown-operator-is-parse-error",
    ),  # H131
]


@pytest.mark.parametrize(("node_selector", "affinity", "node", "matches"), H_CASES)
def test_nodeaffinity_cases(node_selector: Any, affinity: Any, node: dict[str, Any], matches: bool) -> None:
    assert selects(pod_spec(node_selector, affinity), node) is matches
    verdict = node_should_run_daemon_pod(make_daemonset(node_selector=node_selector, affinity=affinity), node)
    assert (verdict.should_run, verdict.should_continue_running) == ((True, True) if matches else (False, False))


MORE_OPERATOR_CASES = [
    # (expression, node labels, matches)   [docs/rules.md#r-selectors, label operators / labels.Requirement.Matches]
    pytest.param(expr("zone", "NotIn", "a"), {}, True, id="notin-absent-key-matches"),
    pytest.param(expr("zone", "In", "a"), {}, False, id="in-absent-key-fails"),
    pytest.param(expr("zone", "DoesNotExist"), {}, True, id="doesnotexist-absent-key-matches"),
    pytest.param(expr("zone", "DoesNotExist"), {"zone": "a"}, False, id="doesnotexist-present-key-fails"),
    pytest.param(expr("zone", "Exists"), {}, False, id="exists-absent-key-fails"),
    pytest.param(expr("cores", "Gt", "4"), {"cores": "4"}, False, id="gt-is-strict"),
    pytest.param(expr("cores", "Lt", "4"), {"cores": "3"}, True, id="lt-smaller-matches"),
    pytest.param(expr("cores", "Lt", "4"), {"cores": "4"}, False, id="lt-is-strict"),
    pytest.param(expr("cores", "Gt", "4"), {"cores": "many"}, False, id="gt-non-integer-node-value-fails"),
    pytest.param(expr("cores", "Gt", "4"), {}, False, id="gt-absent-key-fails"),
    pytest.param(expr("cores", "Gt", "four"), {"cores": "8"}, False, id="gt-non-integer-requirement-parse-error"),
    pytest.param(expr("cores", "Gt", "1", "2"), {"cores": "8"}, False, id="gt-two-values-parse-error"),
    pytest.param(expr("zone", "In"), {"zone": "a"}, False, id="in-without-values-parse-error"),
    pytest.param(expr("zone", "NotIn"), {}, False, id="notin-without-values-parse-error"),
    pytest.param(expr("bad key!", "Exists"), {"bad key!": "x"}, False, id="invalid-label-key-parse-error"),
    pytest.param(expr("example.com/zone", "In", "a"), {"example.com/zone": "a"}, True, id="prefixed-key-matches"),
]


@pytest.mark.parametrize(("expression", "labels", "matches"), MORE_OPERATOR_CASES)
def test_label_operators(expression: dict[str, Any], labels: dict[str, str], matches: bool) -> None:
    result = match_required_affinity(pod_spec(affinity=node_affinity(term(expression))), make_node(labels=labels))
    assert result.matched is matches


FIELD_CASES = [
    # (matchFields requirement, node name, matches)   [docs/rules.md#r-selectors, matchFields]
    pytest.param(field("NotIn", "node-1"), "node-2", True, id="field-notin-other-name-matches"),
    pytest.param(field("NotIn", "node-1"), "node-1", False, id="field-notin-own-name-fails"),
    pytest.param(field("In", "bar", key="metadata.foo"), "node-1", False, id="unknown-field-in-never-matches"),
    pytest.param(field("NotIn", "bar", key="metadata.foo"), "node-1", True, id="unknown-field-notin-always-holds"),
    pytest.param(field("Exists"), "node-1", False, id="field-exists-operator-parse-error"),
    pytest.param(field("In", "node-1"), "", True, id="unnamed-node-skips-matchfields"),
]


@pytest.mark.parametrize(("requirement", "node_name", "matches"), FIELD_CASES)
def test_match_fields(requirement: dict[str, Any], node_name: str, matches: bool) -> None:
    result = match_required_affinity(pod_spec(affinity=node_affinity(term(fields=[requirement]))), make_node(node_name))
    assert result.matched is matches


def test_empty_term_is_dropped_but_others_still_count() -> None:
    # docs/rules.md#r-selectors: an empty term is dropped, not an automatic failure for the whole selector.
    affinity = node_affinity({"matchExpressions": []}, term(expr("zone", "In", "a")))
    result = match_required_affinity(pod_spec(affinity=affinity), make_node(labels={"zone": "a"}))
    assert result.matched is True
    assert [t.number for t in result.terms] == [2]  # terms keep their position in the manifest


def test_invalid_term_is_skipped_and_valid_term_still_matches() -> None:
    # docs/rules.md#r-selectors: a term with a parse error is skipped; another term may still match.
    affinity = node_affinity(term(expr("zone", "Exists", "x")), term(expr("zone", "In", "a")))
    result = match_required_affinity(pod_spec(affinity=affinity), make_node(labels={"zone": "a"}))
    assert result.matched is True
    assert [t.matched for t in result.terms] == [False, True]


def test_preferred_affinity_is_ignored() -> None:
    # docs/rules.md#r-not-checked: only required node affinity is evaluated.
    affinity = {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "preference": term(expr("zone", "In", "nowhere"))}
            ]
        }
    }
    result = match_required_affinity(pod_spec(affinity=affinity), make_node(labels={"zone": "a"}))
    assert (result.constrained, result.matched) == (False, True)


# --- what we tell people ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node_selector", "labels", "expected"),
    [
        pytest.param(
            {"kubernetes.io/os": "linux"},
            {"kubernetes.io/os": "windows"},
            [
                (
                    "nodeSelector kubernetes.io/os=linux",
                    "nodeSelector kubernetes.io/os=linux: node has kubernetes.io/os=windows",
                )
            ],
            id="selector-message-names-node-value",
        ),
        pytest.param(
            {"disk": "ssd"},
            {},
            [("nodeSelector disk=ssd", "nodeSelector disk=ssd: node has no label disk")],
            id="selector-message-names-missing-label",
        ),
        pytest.param(
            {"zone": "a", "disk": "ssd", "os": "linux"},
            {"os": "linux"},
            [
                ("nodeSelector disk=ssd", "nodeSelector disk=ssd: node has no label disk"),
                ("nodeSelector zone=a", "nodeSelector zone=a: node has no label zone"),
            ],
            id="selector-lists-every-failing-key-sorted",
        ),
        pytest.param(
            {"disk": ""},
            {},
            [("nodeSelector disk=", "nodeSelector disk=: node has no label disk")],
            id="selector-empty-value-needs-the-label",
        ),
    ],
)
def test_node_selector_messages(
    node_selector: dict[str, str], labels: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    mismatches = node_selector_mismatches(node_selector, labels)
    assert [(m.rule, m.message) for m in mismatches] == expected


@pytest.mark.parametrize(
    ("affinity", "node", "message", "rule"),
    [
        pytest.param(
            node_affinity(term(expr("zone", "In", "a", "b"))),
            make_node(labels={"zone": "c"}),
            "affinity term 1: zone In [a,b]: node has zone=c",
            "affinity zone In [a,b]",
            id="message-names-term-expression-and-node-value",
        ),
        pytest.param(
            node_affinity(term(expr("zone", "In", "a"))),
            make_node(),
            "affinity term 1: zone In [a]: node has no label zone",
            "affinity zone In [a]",
            id="message-names-missing-label",
        ),
        pytest.param(
            node_affinity(term(expr("zone", "In", "a")), term(expr("disk", "Exists"))),
            make_node(labels={"zone": "c"}),
            "affinity term 1: zone In [a]: node has zone=c; term 2: disk Exists: node has no label disk",
            "affinity zone In [a] or disk Exists",
            id="message-lists-every-failing-term",
        ),
        pytest.param(
            node_affinity(term(expr("zone", "In", "a"), expr("disk", "DoesNotExist"))),
            make_node(labels={"zone": "c", "disk": "ssd"}),
            "affinity term 1: zone In [a]: node has zone=c; disk DoesNotExist: node has disk=ssd",
            "affinity zone In [a] and disk DoesNotExist",
            id="message-lists-every-failing-expression",
        ),
        pytest.param(
            node_affinity(term(expr("kernel", "Gt", "0204"))),
            make_node(labels={"kernel": "0200"}),
            "affinity term 1: kernel Gt 0204: node has kernel=0200",
            "affinity kernel Gt 0204",
            id="gt-message-shows-single-value",
        ),
        pytest.param(
            node_affinity(term(fields=[field("In", "node-1")])),
            make_node("node-2"),
            "affinity term 1: metadata.name In [node-1]: node is named node-2",
            "affinity metadata.name In [node-1]",
            id="field-message-names-node",
        ),
        pytest.param(
            node_affinity(term(fields=[field("In", "bar", key="metadata.foo")])),
            make_node("node-2"),
            "affinity term 1: metadata.foo In [bar]: nodes have no field metadata.foo",
            "affinity metadata.foo In [bar]",
            id="unknown-field-message",
        ),
        pytest.param(
            node_affinity({"matchExpressions": []}, term(expr("zone", "In", "a"))),
            make_node(),
            "affinity term 2: zone In [a]: node has no label zone",
            "affinity zone In [a]",
            id="dropped-empty-term-keeps-numbering",
        ),
        pytest.param(
            {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": []}}},
            make_node(),
            "affinity: required nodeSelectorTerms is empty, so no node matches",
            "affinity with no nodeSelectorTerms",
            id="empty-terms-message",
        ),
    ],
)
def test_affinity_messages(affinity: dict[str, Any], node: dict[str, Any], message: str, rule: str) -> None:
    result = match_required_affinity(pod_spec(affinity=affinity), node)
    assert result.matched is False
    assert result.message == message
    assert result.rule == rule


def test_rule_has_no_node_values_so_nodes_group_under_it() -> None:
    affinity = pod_spec(affinity=node_affinity(term(expr("zone", "In", "a", "b"))))
    rules = {
        match_required_affinity(affinity, make_node(f"n{i}", labels={"zone": z})).rule for i, z in enumerate("cde")
    }
    assert rules == {"affinity zone In [a,b]"}


@pytest.mark.parametrize(
    ("requirement", "error"),
    [
        pytest.param(
            expr("foo", "Exists", "bar", "baz"),
            "foo Exists: values set must be empty for exists and does not exist",
            id="exists-with-values",
        ),  # H131
        pytest.param(
            expr("foo", "invalid", "bar"), 'operator "invalid" is not supported', id="unsupported-operator"
        ),  # H131
        pytest.param(
            expr("foo", "NotIn", "invalid value: ___@#$%^"),
            "foo NotIn: invalid label value 'invalid value: ___@#$%^'",
            id="invalid-label-value",
        ),  # H120
        pytest.param(expr("foo", "In"), "foo In: values must be non-empty for In and NotIn", id="in-without-values"),
        pytest.param(
            expr("cores", "Gt", "1", "2"),
            "cores Gt: exactly one value is required for Gt and Lt",
            id="gt-needs-one-value",
        ),
        pytest.param(expr("cores", "Lt", "x"), "cores Lt: value 'x' is not an integer", id="lt-needs-integer"),
    ],
)
def test_parse_error_messages(requirement: dict[str, Any], error: str) -> None:
    result = match_required_affinity(pod_spec(affinity=node_affinity(term(requirement))), make_node())
    (only,) = result.terms
    assert only.error == error
    assert result.message == f"affinity term 1: invalid ({error}), never matches"


@pytest.mark.parametrize(
    ("requirement", "error"),
    [
        pytest.param(
            field("In", "host_1", "host_2"), "field metadata.name In: must have one element", id="field-two-values"
        ),  # H127
        pytest.param(
            field("Exists"),
            'field metadata.name: operator "Exists" is not supported for matchFields',
            id="field-exists",
        ),
    ],
)
def test_field_parse_error_messages(requirement: dict[str, Any], error: str) -> None:
    result = match_required_affinity(pod_spec(affinity=node_affinity(term(fields=[requirement]))), make_node("host_1"))
    assert result.terms[0].error == error
    assert result.matched is False
