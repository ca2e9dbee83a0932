"""Pure. LabelSelector dicts (matchLabels/matchExpressions): match them, and write them as a query."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


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


_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_SET = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(r"^(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")


def parse_selector(text: str) -> dict[str, Any]:
    """A `-l/--selector` string as kubectl takes it (`app=x,tier!=db`, `env in (a,b)`, `!canary`, `gpu`),
    as a LabelSelector dict; raises ValueError naming the requirement that is wrong."""
    expressions: list[dict[str, Any]] = []
    for requirement in _split_requirements(text):
        expressions.append(_requirement(requirement))
    return {"matchExpressions": expressions}


def _split_requirements(text: str) -> list[str]:
    """Split on the commas that separate requirements, not those inside `in (a,b)`."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    if any(not part for part in parts) and text.strip():
        raise ValueError("an empty requirement (two commas in a row, or a comma at an end)")
    return [part for part in parts if part]


def _requirement(text: str) -> dict[str, Any]:
    if match := _SET.match(text):
        values = [value.strip() for value in match["values"].split(",")]
        if not all(values) and values != [""]:
            raise ValueError(f'"{text}": an empty value in the set')
        operator = "In" if match["op"] == "in" else "NotIn"
        return _checked(match["key"], operator, [value for value in values if value])
    if match := _EQUALITY.match(text):
        operator = "NotIn" if match["op"] == "!=" else "In"
        return _checked(match["key"], operator, [match["value"]])
    if text.startswith("!"):
        return _checked(text[1:].strip(), "DoesNotExist", [])
    return _checked(text, "Exists", [])


def _checked(key: str, operator: str, values: list[str]) -> dict[str, Any]:
    if not _KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise ValueError(f'"{key}" is not a valid label key')
    for value in values:
        if len(value) > 63 or not _VALUE.match(value):
            raise ValueError(f'"{value}" is not a valid label value')
    if operator in ("In", "NotIn") and not values:
        raise ValueError(f'"{key}": in and notin need at least one value')
    expression: dict[str, Any] = {"key": key, "operator": operator}
    if operator in ("In", "NotIn"):
        expression["values"] = values
    return expression
