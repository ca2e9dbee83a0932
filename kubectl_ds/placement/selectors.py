"""Pure. nodeSelector and required node affinity, as component-helpers' nodeaffinity evaluates them.

Rules (docs/rules.md#r-selectors): nodeSelector AND required affinity; terms ORed; expressions and
fields ANDed inside a term; a term with neither expressions nor fields is dropped; no terms left = no
match; a term with a parse error is skipped (so it can only fail). We also keep *why* each part failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubectl_ds.resources import Obj

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_LABEL_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
# Only metadata.name exists as a node field (nodeaffinity.go: fields.Set{"metadata.name": node.Name}).
_NODE_FIELD_NAME = "metadata.name"


@dataclass(frozen=True)
class SelectorMismatch:
    """One nodeSelector key the node does not satisfy."""

    key: str
    wanted: str
    actual: str | None  # None: the node has no such label

    @property
    def rule(self) -> str:
        return f"nodeSelector {self.key}={self.wanted}"

    @property
    def message(self) -> str:
        have = f"node has {self.key}={self.actual}" if self.actual is not None else f"node has no label {self.key}"
        return f"{self.rule}: {have}"


@dataclass(frozen=True)
class TermResult:
    """How one nodeSelectorTerm fared: which requirements failed, or why it could not be parsed."""

    number: int  # 1-based, as we show it to people
    failures: tuple[str, ...]  # "zone In [a,b]: node has zone=c"
    error: str | None = None
    requirements: tuple[str, ...] = ()  # every requirement of the term, without node values

    @property
    def matched(self) -> bool:
        return not self.failures and self.error is None

    def describe(self) -> str:
        if self.error is not None:
            return f"invalid ({self.error}), never matches"
        return "; ".join(self.failures)


@dataclass(frozen=True)
class AffinityResult:
    """Required node affinity against one node. `constrained` False means there is no requirement."""

    constrained: bool
    terms: tuple[TermResult, ...]

    @property
    def matched(self) -> bool:
        return not self.constrained or any(term.matched for term in self.terms)

    @property
    def message(self) -> str:
        if not self.terms:
            return "affinity: required nodeSelectorTerms is empty, so no node matches"
        parts = [f"term {term.number}: {term.describe()}" for term in self.terms if not term.matched]
        return "affinity " + "; ".join(parts)

    @property
    def rule(self) -> str:
        """The affinity as a rule name shared by every node it excludes (no node values in it)."""
        if not self.terms:
            return "affinity with no nodeSelectorTerms"
        return "affinity " + " or ".join(" and ".join(term.requirements) or "(invalid term)" for term in self.terms)


class _ParseError(ValueError):
    pass


def node_selector_mismatches(
    node_selector: Mapping[str, str] | None, node_labels: Mapping[str, str]
) -> list[SelectorMismatch]:
    """Every nodeSelector key the node fails (the controller needs all of them; we report all of them)."""
    mismatches = []
    for key, wanted in sorted((node_selector or {}).items()):
        actual = node_labels.get(key)
        if actual != wanted:
            mismatches.append(SelectorMismatch(key=key, wanted=str(wanted), actual=actual))
    return mismatches


def required_node_selector(pod_spec: Obj) -> Obj | None:
    """The `requiredDuringSchedulingIgnoredDuringExecution` node selector, or None when unconstrained."""
    affinity = pod_spec.get("affinity") or {}
    node_affinity = affinity.get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    return required if required is not None else None


def match_required_affinity(pod_spec: Obj, node: Obj) -> AffinityResult:
    """Evaluate the required node affinity of `pod_spec` against `node`, term by term."""
    required = required_node_selector(pod_spec)
    if required is None:
        return AffinityResult(constrained=False, terms=())
    results = []
    for index, term in enumerate(required.get("nodeSelectorTerms") or []):
        expressions = term.get("matchExpressions") or []
        fields = term.get("matchFields") or []
        if not expressions and not fields:
            continue  # an empty term selects nothing and is dropped (nodeaffinity.go newNodeSelectorTerms)
        results.append(_match_term(index + 1, expressions, fields, node))
    return AffinityResult(constrained=True, terms=tuple(results))


def _match_term(number: int, expressions: Sequence[Obj], fields: Sequence[Obj], node: Obj) -> TermResult:
    labels = (node.get("metadata") or {}).get("labels") or {}
    node_name = str((node.get("metadata") or {}).get("name") or "")
    failures: list[str] = []
    requirements = tuple(_describe_expression(expression) for expression in list(expressions) + list(fields))
    try:
        for expression in expressions:
            failure = _match_label_expression(expression, labels)
            if failure:
                failures.append(failure)
        # An unnamed node skips field requirements (nodeaffinity.go: `if len(nodeFields) > 0`).
        for field in fields:
            failure = _match_field_expression(field, node_name)
            if failure and node_name:
                failures.append(failure)
    except _ParseError as error:
        return TermResult(number=number, failures=(), error=str(error), requirements=requirements)
    return TermResult(number=number, failures=tuple(failures), requirements=requirements)


def _describe_expression(expression: Obj) -> str:
    values = [str(value) for value in expression.get("values") or []]
    operator = str(expression.get("operator") or "")
    if operator in ("Gt", "Lt") and len(values) != 1:
        return f"{expression.get('key')} {operator} {format_values(values)}"
    return _describe_requirement(str(expression.get("key") or ""), operator, values)


def format_values(values: Sequence[Any]) -> str:
    return "[" + ",".join(str(value) for value in values) + "]"


def _describe_requirement(key: str, operator: str, values: Sequence[str]) -> str:
    if operator in ("Exists", "DoesNotExist"):
        return f"{key} {operator}"
    if operator in ("Gt", "Lt"):
        return f"{key} {operator} {values[0]}"
    return f"{key} {operator} {format_values(values)}"


def _node_has(key: str, labels: Mapping[str, str]) -> str:
    return f"node has {key}={labels[key]}" if key in labels else f"node has no label {key}"


def _match_label_expression(expression: Obj, labels: Mapping[str, str]) -> str | None:
    """None if the label requirement holds, else a sentence naming what the node has."""
    key = str(expression.get("key") or "")
    operator = str(expression.get("operator") or "")
    values = [str(value) for value in expression.get("values") or []]
    _validate_label_requirement(key, operator, values)
    if _label_requirement_holds(key, operator, values, labels):
        return None
    return f"{_describe_requirement(key, operator, values)}: {_node_has(key, labels)}"


def _validate_label_requirement(key: str, operator: str, values: Sequence[str]) -> None:
    """The parse errors of apimachinery labels.NewRequirement, which make a whole term unusable."""
    _validate_label_key(key)
    if operator not in _LABEL_OPERATORS:
        raise _ParseError(f'operator "{operator}" is not supported')
    if operator in ("In", "NotIn") and not values:
        raise _ParseError(f"{key} {operator}: values must be non-empty for In and NotIn")
    if operator in ("Exists", "DoesNotExist") and values:
        raise _ParseError(f"{key} {operator}: values set must be empty for exists and does not exist")
    if operator in ("Gt", "Lt"):
        if len(values) != 1:
            raise _ParseError(f"{key} {operator}: exactly one value is required for Gt and Lt")
        if _parse_int64(values[0]) is None:
            raise _ParseError(f"{key} {operator}: value {values[0]!r} is not an integer")
    for value in values:
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            raise _ParseError(f"{key} {operator}: invalid label value {value!r}")


def _validate_label_key(key: str) -> None:
    prefix, _, label_name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        raise _ParseError(f"invalid label key {key!r}")
    if not label_name or len(label_name) > 63 or not _LABEL_NAME.match(label_name):
        raise _ParseError(f"invalid label key {key!r}")


def _label_requirement_holds(key: str, operator: str, values: Sequence[str], labels: Mapping[str, str]) -> bool:
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values  # an absent key satisfies NotIn
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    # Gt / Lt: both sides must be base-10 int64; "0206" parses (leading zeros are fine here).
    node_value = _parse_int64(labels[key]) if present else None
    wanted = _parse_int64(values[0])
    if node_value is None or wanted is None:
        return False
    return node_value > wanted if operator == "Gt" else node_value < wanted


def _parse_int64(text: str) -> int | None:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _match_field_expression(expression: Obj, node_name: str) -> str | None:
    key = str(expression.get("key") or "")
    operator = str(expression.get("operator") or "")
    values = [str(value) for value in expression.get("values") or []]
    if operator not in ("In", "NotIn"):
        raise _ParseError(f'field {key}: operator "{operator}" is not supported for matchFields')
    if len(values) != 1:
        raise _ParseError(f"field {key} {operator}: must have one element")
    described = _describe_requirement(key, operator, values)
    if key != _NODE_FIELD_NAME:
        # The field set holds only metadata.name, and requirements match like label ones:
        # In needs the field, NotIn is satisfied by its absence.
        return None if operator == "NotIn" else f"{described}: nodes have no field {key}"
    holds = (node_name == values[0]) if operator == "In" else (node_name != values[0])
    return None if holds else f"{described}: node is named {node_name}"
