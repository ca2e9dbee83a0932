"""kube/quantity.py parses quantities as the API server's grammar does (apimachinery resource.ParseQuantity),
without importing the client."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kubectl_ds.kube.quantity import parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("2", Decimal(2), id="plain-integer"),
        pytest.param("0.5", Decimal("0.5"), id="plain-decimal"),
        pytest.param(".5", Decimal("0.5"), id="leading-dot"),
        pytest.param("250m", Decimal("0.25"), id="decimal-si-milli"),
        pytest.param("100n", Decimal("1E-7"), id="decimal-si-nano"),
        pytest.param("3u", Decimal("3E-6"), id="decimal-si-micro"),
        pytest.param("1k", Decimal(1000), id="decimal-si-kilo"),
        pytest.param("2M", Decimal(2_000_000), id="decimal-si-mega"),
        pytest.param("1E", Decimal(10**18), id="decimal-si-exa"),
        pytest.param("64Mi", Decimal(64 * 1024**2), id="binary-si-mebi"),
        pytest.param("1.5Gi", Decimal("1.5") * 1024**3, id="binary-si-fraction"),
        pytest.param("1Ei", Decimal(1024**6), id="binary-si-exbi"),
        pytest.param("1e3", Decimal(1000), id="decimal-exponent"),
        pytest.param("12E-1", Decimal("1.2"), id="decimal-exponent-negative"),
        pytest.param("-1", Decimal(-1), id="signed"),
        pytest.param(4, Decimal(4), id="json-number"),
    ],
)
def test_parse_quantity_follows_the_api_grammar(text: object, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("Mi", id="suffix-without-number"),
        pytest.param("1 Ki", id="inner-space"),
        pytest.param("1mi", id="lower-case-binary"),
        pytest.param("1K", id="upper-case-kilo"),
        pytest.param("1.2.3", id="two-dots"),
        pytest.param("NaN", id="not-a-number"),
        pytest.param("1e", id="exponent-without-digits"),
    ],
)
def test_parse_quantity_refuses_what_the_api_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)
