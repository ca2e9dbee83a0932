"""The client's own quantity parser ("100Mi", "250m"), loaded only when a resource check needs it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def parse_quantity(value: Any) -> Decimal:
    from kubernetes.utils.quantity import parse_quantity as client_parse

    result: Decimal = client_parse(value)
    return result
