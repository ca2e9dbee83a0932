"""resource.Quantity strings ("250m", "1.5Gi", "12e6") as exact numbers, and the integer views the scheduler
compares (MilliValue for cpu, Value for everything else).

Source: k8s.io/apimachinery pkg/api/resource/quantity.go (ParseQuantity, parseQuantityString,
Quantity.Value, Quantity.MilliValue) and suffix.go (the suffix tables).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

# suffix.go: decimal SI suffixes are powers of ten, binary ones powers of two.
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
# parseQuantityString: sign, digits, an optional fraction, then suffix characters, a sign and digits.
_SHAPE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[+-]?[0-9]*)")
_NANO = Fraction(1, 10**9)


class InvalidQuantity(ValueError):
    pass


def _multiplier(suffix: str) -> Fraction:
    if suffix in _DECIMAL:
        return Fraction(10) ** _DECIMAL[suffix]
    if suffix in _BINARY:
        return Fraction(2 ** _BINARY[suffix])
    if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[+-]?[0-9]+", suffix[1:]):
        return Fraction(10) ** int(suffix[1:])
    raise InvalidQuantity(f"unable to parse quantity's suffix {suffix!r}")


def parse_quantity(text: object) -> Fraction:
    """ParseQuantity, exactly; like it, a non-zero amount is rounded up (in magnitude) to a whole nano unit.

    JSON numbers are read as their decimal text, which is how the API server would have stored them.
    """
    raw = str(text)
    shape = _SHAPE.fullmatch(raw)
    if not raw or shape is None:
        raise InvalidQuantity(f"quantities must match the regular expression '{_SHAPE.pattern}': {raw!r}")
    sign, whole, fraction, suffix = shape.groups()
    digits = (whole or "0") + (fraction or "")
    amount = Fraction(int(digits), 10 ** len(fraction or "")) * _multiplier(suffix)
    amount = math.ceil(amount / _NANO) * _NANO
    return -amount if sign == "-" else amount


def whole_units(amount: Fraction) -> int:
    """Quantity.Value: rounded up to an integer."""
    return math.ceil(amount)


def milli_units(amount: Fraction) -> int:
    """Quantity.MilliValue: thousandths, rounded up (how the scheduler counts cpu)."""
    return math.ceil(amount * 1000)
