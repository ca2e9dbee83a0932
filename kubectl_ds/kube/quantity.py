"""Resource quantities ("100Mi", "250m", "1e3") as the API server's grammar defines them
(k8s.io/apimachinery/pkg/api/resource, ParseQuantity), parsed here rather than by importing the client:
its import costs ~1 s, more than the rest of an `explain` that checks resources."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

# <signedNumber><suffix>: suffix is binarySI (Ki..Ei), decimalSI (n, u, m, "", k, M, G, T, P, E) or a
# decimal exponent (e|E<signedNumber>).
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))((?:[KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: Any) -> Decimal:
    """The quantity's value; ValueError when it is not one."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return Decimal(value)
    text = str(value).strip()
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a quantity (e.g. 100Mi, 250m, 2)")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        amount = Decimal(number)
    except InvalidOperation as error:
        raise ValueError(f"{text!r} is not a quantity") from error
    if suffix in _BINARY:
        return amount * Decimal(1024) ** _BINARY[suffix]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return amount.scaleb(int(suffix[1:]))
    return amount.scaleb(_DECIMAL.get(suffix, 0))
