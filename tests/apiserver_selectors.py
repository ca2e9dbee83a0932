"""Label and field selectors as the API server parses them (k8s.io/apimachinery pkg/labels and
pkg/fields), for LIST and WATCH."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.apiserver_base import Obj, Resource, bad_request

# --------------------------------------------------------------------------------------------------
# Label and field selectors
# --------------------------------------------------------------------------------------------------

Matcher = Callable[[dict[str, str]], bool]
_SELECTOR_TOKEN = re.compile(r"\s*(?:(==|!=|=|!|\(|\)|,|>|<)|([^\s=!(),<>]+))")


def _tokenize_selector(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _SELECTOR_TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"unable to parse requirement: unexpected character at {pos} in {text!r}")
        tokens.append(match.group(1) or match.group(2))
        pos = match.end()
    return tokens


class _SelectorParser:
    """Recursive descent over the label selector grammar of k8s.io/apimachinery/pkg/labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize_selector(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end of selector")
        self.pos += 1
        return token

    def error(self, why: str) -> ValueError:
        return ValueError(f"unable to parse requirement: {why} in {self.text!r}")

    def parse(self) -> list[Matcher]:
        requirements: list[Matcher] = []
        if self.peek() is None:
            return requirements
        while True:
            requirements.append(self.requirement())
            token = self.peek()
            if token is None:
                return requirements
            if token != ",":
                raise self.error(f"found {token!r}, expected ','")
            self.take()

    def key(self) -> str:
        token = self.take()
        if token in ("=", "==", "!=", "!", "(", ")", ",", ">", "<"):
            raise self.error(f"found {token!r}, expected a label key")
        return token

    def value(self) -> str:
        # `a=` (an empty value) is legal and matches a label that is present but empty.
        token = self.peek()
        if token in (None, ",", ")"):
            return ""
        if token in ("=", "==", "!=", "!", "(", ">", "<"):
            raise self.error(f"found {token!r}, expected a label value")
        return self.take()

    def values(self) -> set[str]:
        if self.take() != "(":
            raise self.error("expected '(' after in/notin")
        found: set[str] = set()
        while True:
            found.add(self.value())
            token = self.take()
            if token == ")":
                return found
            if token != ",":
                raise self.error(f"found {token!r}, expected ',' or ')'")

    def requirement(self) -> Matcher:
        if self.peek() == "!":
            self.take()
            key = self.key()
            return lambda labels: key not in labels
        key = self.key()
        op = self.peek()
        if op in (None, ","):
            return lambda labels: key in labels
        self.take()
        if op in ("=", "=="):
            want = self.value()
            return lambda labels: labels.get(key) == want
        if op == "!=":
            want = self.value()
            return lambda labels: labels.get(key) != want
        if op in ("in", "notin"):
            options = self.values()
            if op == "in":
                return lambda labels: labels.get(key) in options
            return lambda labels: labels.get(key) not in options
        if op in (">", "<"):
            bound = self._integer(self.value())
            return lambda labels: _compare_int(labels.get(key), bound, op)
        raise self.error(f"found {op!r}, expected an operator")

    def _integer(self, text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise self.error(f"for 'gt', 'lt' operators, the value must be an integer, got {text!r}") from None


def _compare_int(value: str | None, bound: int, op: str) -> bool:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return False
    if number is None:
        return False
    return number > bound if op == ">" else number < bound


def parse_label_selector(text: str) -> Callable[[Obj], bool]:
    """`a=b,c!=d,e in (f,g),!h` -> a predicate over objects. Raises ValueError when malformed."""
    requirements = _SelectorParser(text).parse()

    def matches(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return matches


def _split_unescaped(text: str, separator: str) -> list[str]:
    """Split on separators not escaped by a backslash, as fields.ParseSelector does."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape_field_value(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _field_value(obj: Obj, label: str) -> str:
    """A selectable field's value as the server compares it: a string, '' when absent."""
    path = "source.component" if label == "source" else label
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or label in ("spec.hostNetwork", "spec.unschedulable"):
        return "true" if value else "false"
    return "" if value is None else str(value)


def parse_field_selector(res: Resource, text: str) -> Callable[[Obj], bool]:
    """`spec.nodeName=n1,status.phase!=Running` -> a predicate; unknown fields raise ApiError 400."""
    terms: list[tuple[str, bool, str]] = []
    for term in _split_unescaped(text, ",") if text.strip() else []:
        match = re.match(r"^\s*([^=!\s]+)\s*(==|!=|=)(.*)$", term)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        label, op, value = match.group(1), match.group(2), _unescape_field_value(match.group(3).strip())
        if label not in res.field_labels:
            raise bad_request(f"field label not supported: {label}")
        terms.append((label, op == "!=", value))

    def matches(obj: Obj) -> bool:
        return all((_field_value(obj, label) == value) != negate for label, negate, value in terms)

    return matches


def label_selector_matches(selector: Obj, labels: dict[str, str]) -> bool | None:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels): matchLabels and matchExpressions ANDed. None
    when the selector does not convert (an unknown operator, In/NotIn without values, values on Exists), which
    callers treat as "matches nothing"; an empty selector matches everything (callers that want otherwise
    check for it, as the eviction handler does)."""
    requirements: list[tuple[str, str, list[str]]] = [
        (key, "In", [value]) for key, value in (selector.get("matchLabels") or {}).items()
    ]
    for expression in selector.get("matchExpressions") or []:
        requirements.append(
            (
                str(expression.get("key") or ""),
                str(expression.get("operator") or ""),
                [str(v) for v in expression.get("values") or []],
            )
        )
    for key, operator, values in requirements:
        if operator in ("In", "NotIn") and not values or operator in ("Exists", "DoesNotExist") and values:
            return None
        if operator == "In":
            holds = key in labels and labels[key] in values
        elif operator == "NotIn":
            holds = key not in labels or labels[key] not in values
        elif operator == "Exists":
            holds = key in labels
        elif operator == "DoesNotExist":
            holds = key not in labels
        else:
            return None
        if not holds:
            return False
    return True
