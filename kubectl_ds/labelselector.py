"""Pure. LabelSelector dicts (matchLabels/matchExpressions): match them, and write them as a query."""

from __future__ import annotations

import re
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


_TOKEN = re.compile(r"(==|!=|=|!|\(|\)|,|<|>)|([^\s=!(),<>]+)|(\S)")
_OPERATORS = ("==", "!=", "=", "!", "(", ")", ",", "<", ">")
# apimachinery validation: a qualified name (optional DNS-subdomain prefix) and a label value (63 chars at most).
_KEY = re.compile(r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?")


def parse_selector(text: str, *, flag: str) -> dict[str, Any]:
    """kubectl's `-l` syntax (`a=b,c!=d,e in (f,g),h notin (i),j,!k`) as a LabelSelector dict, so that a dump
    is filtered exactly as the API server filters a list. `!=` becomes NotIn: both match a missing label
    (k8s.io/apimachinery pkg/labels). Raises UsageError naming `flag`."""
    return _SelectorText(text, flag).parse()


class _SelectorText:
    def __init__(self, text: str, flag: str) -> None:
        self.text, self.flag = text, flag
        self.tokens: list[str] = []
        for match in _TOKEN.finditer(text):
            if match.group(3):
                raise self.bad(f'unexpected "{match.group(3)}"')
            self.tokens.append(match.group(1) or match.group(2))
        self.position = 0

    def bad(self, why: str) -> UsageError:
        return UsageError(f'invalid {self.flag} "{self.text}": {why}; use e.g. app=agent,tier!=canary')

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.bad("it ends too early")
        self.position += 1
        return token

    def word(self, what: str) -> str:
        token = self.take()
        if token in _OPERATORS:
            raise self.bad(f'"{token}" where a {what} belongs')
        if not (_KEY if what == "label key" else _VALUE).fullmatch(token):
            raise self.bad(f'"{token}" is not a valid {what}')
        return token

    def value(self) -> str:
        return "" if self.peek() in (None, ",", ")") else self.word("label value")

    def values(self) -> list[str]:
        if self.take() != "(":
            raise self.bad("in and notin take a list in parentheses")
        found = [self.value()]
        while self.take() == ",":
            found.append(self.value())
        return found  # the loop stops at the ")" (or raises at the end)

    def parse(self) -> dict[str, Any]:
        labels: dict[str, str] = {}
        expressions: list[dict[str, Any]] = []
        while self.peek() is not None:
            if self.peek() == "!":
                self.take()
                expressions.append({"key": self.word("label key"), "operator": "DoesNotExist"})
            else:
                key = self.word("label key")
                operator = self.peek()
                if operator in (None, ","):
                    expressions.append({"key": key, "operator": "Exists"})
                elif operator in ("=", "=="):
                    self.take()
                    value = self.value()
                    if labels.get(key, value) != value:
                        raise self.bad(f"label {key} is given two values")
                    labels[key] = value
                elif operator == "!=":
                    self.take()
                    expressions.append({"key": key, "operator": "NotIn", "values": [self.value()]})
                elif operator in ("in", "notin"):
                    self.take()
                    kind = "In" if operator == "in" else "NotIn"
                    expressions.append({"key": key, "operator": kind, "values": self.values()})
                elif operator in ("<", ">"):  # pkg/labels has Gt/Lt; a LabelSelector (matchExpressions) does not
                    raise self.bad(f'"{operator}" (a numeric comparison) is not supported')
                else:
                    raise self.bad(f'"{operator}" is not an operator')
            if self.peek() is not None and self.take() != ",":
                raise self.bad("requirements are separated by commas")
        selector: dict[str, Any] = {}
        if labels:
            selector["matchLabels"] = labels
        if expressions:
            selector["matchExpressions"] = expressions
        return selector


_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_RULE = "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"


def label_problem(key: str, value: str) -> str | None:
    """Why the API server would refuse this label (apimachinery validation IsQualifiedName, IsValidLabelValue),
    or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f'label key "{key}" has an invalid prefix (a DNS subdomain such as example.com)'
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return f'label key "{key}" is not valid ({_NAME_RULE}, after an optional prefix/)'
    if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
        return f'label value "{value}" is not valid ({_NAME_RULE}, or empty)'
    return None
