"""kubectl's label selector syntax (`-l`, `--node-selector`) parsed into a LabelSelector: it must select in a dump
exactly what the API server selects in a list (k8s.io/apimachinery pkg/labels; the test API server's own
parser in tests/apiserver_selectors.py is the reference both are checked against)."""

from __future__ import annotations

import pytest

from kubectl_ds.errors import UsageError
from kubectl_ds.labelselector import parse_selector, selector_matches, selector_query
from tests.apiserver_selectors import parse_label_selector

LABEL_SETS = [
    {},
    {"app": "agent"},
    {"app": "agent", "tier": "node"},
    {"app": "agent", "tier": "canary"},
    {"app": "web", "zone": "a"},
    {"zone": "b", "gpu": ""},
]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("app=agent", id="equality"),
        pytest.param("app==agent", id="double-equals"),
        pytest.param("tier!=canary", id="inequality-matches-a-missing-label"),
        pytest.param("zone in (a,b)", id="in"),
        pytest.param("zone notin (a)", id="notin-matches-a-missing-label"),
        pytest.param("gpu", id="exists"),
        pytest.param("!gpu", id="does-not-exist"),
        pytest.param("gpu=", id="empty-value"),
        pytest.param("app=agent,tier!=canary,!gpu", id="requirements-are-anded"),
        pytest.param("  app = agent , zone in ( a , b ) ", id="spaces-between-tokens"),
        pytest.param("", id="empty-selects-everything"),
    ],
)
def test_selects_what_the_api_server_selects(text: str) -> None:
    selector = parse_selector(text, flag="-l")
    server = parse_label_selector(text)
    for labels in LABEL_SETS:
        obj = {"metadata": {"labels": labels}}
        assert selector_matches(selector, labels) == server(obj), labels
    # and written back as a query, the server reads the same selector
    requery = parse_label_selector(selector_query(selector))
    for labels in LABEL_SETS:
        assert requery({"metadata": {"labels": labels}}) == server({"metadata": {"labels": labels}}), labels


@pytest.mark.parametrize(
    ("text", "why"),
    [
        pytest.param("tier in (node", "it ends too early", id="unclosed-set"),
        pytest.param("a=b c", "requirements are separated by commas", id="missing-comma"),
        pytest.param("=x", '"=" where a label key belongs', id="no-key"),
        pytest.param("a in b", "in and notin take a list in parentheses", id="set-without-parentheses"),
        pytest.param("a=1,a=2", "label a is given two values", id="two-values-for-one-key"),
        pytest.param("a>1", '">" (a numeric comparison) is not supported', id="numeric-comparisons-unsupported"),
        pytest.param("a=b;", '"b;" is not a valid label value', id="invalid-value"),
        pytest.param("-a=b", '"-a" is not a valid label key', id="invalid-key"),
        pytest.param("a=b,c=d)", "requirements are separated by commas", id="stray-parenthesis"),
    ],
)
def test_bad_selectors_name_the_flag(text: str, why: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_selector(text, flag="--node-selector")
    assert raised.value.message == f'invalid --node-selector "{text}": {why}; use e.g. app=agent,tier!=canary'
