"""Label selectors, as k8s.io/apimachinery evaluates them.

Sources: pkg/labels/selector.go (NewRequirement, Requirement.Matches, SelectorFromSet),
pkg/apis/meta/v1/helpers.go (LabelSelectorAsSelector) and pkg/util/validation/validation.go
(IsQualifiedName, IsValidLabelValue). Operators are spelled as in pkg/selection/operator.go.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# pkg/selection operators (the label-query spellings).
IN, NOT_IN, EXISTS, DOES_NOT_EXIST = "in", "notin", "exists", "!"
EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN = "=", "!=", "gt", "lt"
_SET_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}

_NAME_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_INT64 = re.compile(r"[+-]?[0-9]+")


class InvalidSelector(ValueError):
    """A requirement NewRequirement (or LabelSelectorAsSelector) refuses to build."""


def parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64): an optional sign and decimal digits (leading zeros allowed), in range."""
    if not _INT64.fullmatch(text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def qualified_name_problem(key: str) -> str | None:
    """IsQualifiedName: `[prefix/]name`, the prefix a DNS-1123 subdomain, the name 1-63 characters."""
    parts = key.split("/")
    if len(parts) > 2:
        return f"{key!r}: a qualified name has at most one '/'"
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return f"{key!r}: prefix part must be non-empty"
        if len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return f"{key!r}: prefix part must be a DNS-1123 subdomain"
    local = parts[-1]
    if not local or len(local) > 63 or not _NAME_PART.fullmatch(local):
        return f"{key!r}: name part must be 1-63 alphanumerics, '-', '_' or '.', alphanumeric at both ends"
    return None


def label_value_problem(value: str) -> str | None:
    """IsValidLabelValue: empty, or 1-63 characters shaped like a name part."""
    if value and (len(value) > 63 or not _NAME_PART.fullmatch(value)):
        return f"{value!r}: a label value must be empty or 1-63 alphanumerics, '-', '_' or '.'"
    return None


@dataclass(frozen=True)
class Requirement:
    """One parsed requirement: `key operator values`."""

    key: str
    operator: str
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Requirement.Matches. A missing key satisfies only NotIn, != and DoesNotExist."""
        if self.operator == EXISTS:
            return self.key in labels
        if self.operator == DOES_NOT_EXIST:
            return self.key not in labels
        if self.key not in labels:
            return self.operator in (NOT_IN, NOT_EQUALS)
        have = labels[self.key]
        if self.operator in (IN, EQUALS):
            return have in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return have not in self.values
        if self.operator in (GREATER_THAN, LESS_THAN) and len(self.values) == 1:
            left, right = parse_int64(have), parse_int64(self.values[0])
            if left is None or right is None:
                return False  # a label that is not an integer never compares
            return left > right if self.operator == GREATER_THAN else left < right
        return False


def new_requirement(key: str, operator: str, values: Iterable[Any]) -> Requirement:
    """NewRequirement: every rule it enforces, all problems reported together."""
    given = tuple(str(value) for value in values)
    problems = [problem for problem in (qualified_name_problem(key),) if problem]
    if operator in (IN, NOT_IN):
        if not given:
            problems.append("for 'in', 'notin' operators, values set can't be empty")
    elif operator in (EQUALS, NOT_EQUALS):
        if len(given) != 1:
            problems.append("exact-match compatibility requires one single value")
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if given:
            problems.append("values set must be empty for exists and does not exist")
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(given) != 1:
            problems.append("for 'Gt', 'Lt' operators, exactly one value is required")
        problems += [
            f"for 'Gt', 'Lt' operators, the value must be an integer: {value!r}"
            for value in given
            if parse_int64(value) is None
        ]
    else:
        problems.append(f"operator {operator!r} is not supported")
    problems += [problem for problem in map(label_value_problem, given) if problem]
    if problems:
        raise InvalidSelector("; ".join(problems))
    return Requirement(key, operator, given)


@dataclass(frozen=True)
class Selector:
    """Requirements ANDed; `nothing` is labels.Nothing(), which no label set satisfies."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.nothing and all(requirement.matches(labels) for requirement in self.requirements)


def selector_from_set(wanted: Mapping[str, Any] | None) -> Selector:
    """SelectorFromSet (a nodeSelector): one unvalidated `key = value` requirement per entry."""
    return Selector(tuple(Requirement(str(key), EQUALS, (str(value),)) for key, value in (wanted or {}).items()))


def selector_from_label_selector(selector: Mapping[str, Any] | None) -> Selector:
    """LabelSelectorAsSelector: nil selects nothing, `{}` everything; matchLabels and matchExpressions ANDed.

    Raises InvalidSelector for what the controller would fail its sync on (an unknown operator, a bad key).
    """
    if selector is None:
        return Selector(nothing=True)
    requirements = [
        new_requirement(str(key), EQUALS, [value]) for key, value in (selector.get("matchLabels") or {}).items()
    ]
    for expression in selector.get("matchExpressions") or []:
        operator = _SET_OPERATORS.get(str(expression.get("operator")))
        if operator is None:
            raise InvalidSelector(f"{expression.get('operator')!r} is not a valid label selector operator")
        requirements.append(new_requirement(str(expression.get("key") or ""), operator, expression.get("values") or []))
    return Selector(tuple(requirements))
