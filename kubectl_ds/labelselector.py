"""Pure. LabelSelector dicts (matchLabels/matchExpressions): match them, write them as a query, and read
kubectl's selector strings into them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubectl_ds.errors import UsageError


def selector_query(selector: Mapping[str, Any]) -> str:
    """The `labelSelector` query-string form of a LabelSelector."""
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(sorted(str(v) for v in expression.get("values") or []))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector(...).Matches: matchLabels and every expression must hold."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key = str(expression.get("key"))
        operator = expression.get("operator")
        values = [str(v) for v in expression.get("values") or []]
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


# The label selector syntax kubectl's -l takes (apimachinery labels.Parse): comma-separated requirements,
# each `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)` or `key notin (a,b)`.
_SET_OPERATORS = {"in": "In", "notin": "NotIn"}


def parse_selector(text: str, *, flag: str) -> dict[str, Any]:
    """A kubectl-style selector string as a LabelSelector dict; UsageError naming `flag` when malformed.

    `!=` becomes NotIn (it matches a node without the key too, as upstream's does); an empty string is the
    empty selector, which matches every object."""
    labels: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    for requirement in _split_requirements(text, flag):
        words = requirement.split()
        if len(words) >= 2 and words[1] in _SET_OPERATORS:
            rest = requirement.split(None, 2)[2] if len(words) > 2 else ""
            if not (rest.startswith("(") and rest.endswith(")")):
                raise UsageError(f'invalid {flag} "{text}": expected {words[0]} {words[1]} (value,...)')
            values = [value.strip() for value in rest[1:-1].split(",") if value.strip()]
            if not values:
                raise UsageError(f'invalid {flag} "{text}": {words[0]} {words[1]} () needs at least one value')
            expressions.append(
                {"key": _key(words[0], text, flag), "operator": _SET_OPERATORS[words[1]], "values": values}
            )
        elif "!=" in requirement:
            key, value = requirement.split("!=", 1)
            expressions.append({"key": _key(key, text, flag), "operator": "NotIn", "values": [value.strip()]})
        elif "=" in requirement:
            key, value = requirement.replace("==", "=", 1).split("=", 1)
            key, value = _key(key, text, flag), value.strip()
            if "=" in value or labels.get(key, value) != value:
                raise UsageError(f'invalid {flag} "{text}": {requirement} is not key=value')
            labels[key] = value
        elif requirement.startswith("!"):
            expressions.append({"key": _key(requirement[1:], text, flag), "operator": "DoesNotExist"})
        else:
            expressions.append({"key": _key(requirement, text, flag), "operator": "Exists"})
    selector: dict[str, Any] = {}
    if labels:
        selector["matchLabels"] = labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def _split_requirements(text: str, flag: str) -> list[str]:
    """Split on the commas outside parentheses."""
    parts: list[str] = []
    depth, current = 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0 or depth > 1:
            raise UsageError(f'invalid {flag} "{text}": unbalanced parentheses')
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if depth:
        raise UsageError(f'invalid {flag} "{text}": unbalanced parentheses')
    parts.append(current.strip())
    if parts == [""]:
        return []
    if "" in parts:
        raise UsageError(f'invalid {flag} "{text}": an empty requirement between commas')
    return parts


def _key(raw: str, text: str, flag: str) -> str:
    key = raw.strip()
    if not key or any(char.isspace() or char in "()!=," for char in key):
        raise UsageError(f'invalid {flag} "{text}": "{key}" is not a label key')
    return key
