"""Required node affinity and nodeSelector against a node, as the DaemonSet controller and the scheduler's
NodeAffinity plugin evaluate them.

Source: k8s.io/component-helpers scheduling/corev1/nodeaffinity/nodeaffinity.go (GetRequiredNodeAffinity,
RequiredNodeAffinity.Match, NewLazyErrorNodeSelector, nodeSelectorRequirementsAsSelector,
nodeSelectorRequirementsAsFieldSelector, extractNodeFields) and k8s.io/apimachinery pkg/fields
(OneTermEqualSelector, OneTermNotEqualSelector).

Terms are ORed, requirements inside a term ANDed. A term with neither matchExpressions nor matchFields is
dropped, and no term left means no node matches. A term that does not parse is skipped; the controller
ignores the error, so a broken term can only make a node fail, never pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.sim import labels as lbl
from tests.sim import objects as o

# The only field a node offers to matchFields (extractNodeFields).
NODE_NAME_FIELD = "metadata.name"
_LABEL_OPERATORS = {
    "In": lbl.IN,
    "NotIn": lbl.NOT_IN,
    "Exists": lbl.EXISTS,
    "DoesNotExist": lbl.DOES_NOT_EXIST,
    "Gt": lbl.GREATER_THAN,
    "Lt": lbl.LESS_THAN,
}


@dataclass(frozen=True)
class FieldTerm:
    """fields.OneTermEqualSelector (In) or OneTermNotEqualSelector (NotIn). A field the node lacks reads as ""."""

    key: str
    value: str
    equal: bool

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.key, "") == self.value) == self.equal


@dataclass(frozen=True)
class NodeSelectorTerm:
    """One parsed nodeSelectorTerm; `errors` non-empty means it was skipped (matches nothing)."""

    expressions: lbl.Selector | None = None
    fields: tuple[FieldTerm, ...] | None = None
    errors: tuple[str, ...] = field(default=())

    def matches(self, node_labels: Mapping[str, str], node_fields: Mapping[str, str]) -> bool:
        if self.errors:
            return False
        if self.expressions is not None and not self.expressions.matches(node_labels):
            return False
        # A node without a name offers no fields, and then field requirements are not checked at all.
        return self.fields is None or not node_fields or all(term.matches(node_fields) for term in self.fields)


def _parse_expressions(expressions: Sequence[Mapping[str, Any]]) -> tuple[lbl.Selector, list[str]]:
    requirements: list[lbl.Requirement] = []
    errors: list[str] = []
    for expression in expressions:
        operator = _LABEL_OPERATORS.get(str(expression.get("operator")))
        if operator is None:
            errors.append(f"matchExpressions operator {expression.get('operator')!r} is not supported")
            continue
        try:
            requirements.append(
                lbl.new_requirement(str(expression.get("key") or ""), operator, expression.get("values") or [])
            )
        except lbl.InvalidSelector as error:
            errors.append(str(error))
    return lbl.Selector(tuple(requirements)), errors


def _parse_fields(expressions: Sequence[Mapping[str, Any]]) -> tuple[tuple[FieldTerm, ...], list[str]]:
    terms: list[FieldTerm] = []
    errors: list[str] = []
    for expression in expressions:
        operator = expression.get("operator")
        values = [str(value) for value in expression.get("values") or []]
        if operator not in ("In", "NotIn"):
            errors.append(f"matchFields operator {operator!r} is not supported")
        elif len(values) != 1:
            errors.append(f"matchFields values {values}: must have one element")
        else:
            terms.append(FieldTerm(str(expression.get("key") or ""), values[0], equal=operator == "In"))
    return tuple(terms), errors


def parse_term(term: Mapping[str, Any]) -> NodeSelectorTerm:
    """newNodeSelectorTerm."""
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    selector = terms = None
    errors: list[str] = []
    if expressions:
        selector, expression_errors = _parse_expressions(expressions)
        errors += expression_errors
    if fields:
        terms, field_errors = _parse_fields(fields)
        errors += field_errors
    return NodeSelectorTerm(selector, terms, tuple(errors))


def node_selector_matches(node_selector: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """LazyErrorNodeSelector.Match with the error dropped: does any non-empty, parsable term match?"""
    node_labels = o.labels_of(node)
    node_fields = {NODE_NAME_FIELD: o.name(node)} if o.name(node) else {}
    parsed = [
        parse_term(term)
        for term in node_selector.get("nodeSelectorTerms") or []
        if term.get("matchExpressions") or term.get("matchFields")
    ]
    return any(term.matches(node_labels, node_fields) for term in parsed)


def required_affinity_of(pod_spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution, None when unset (no constraint)."""
    node_affinity = (pod_spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    return None if required is None else dict(required)


def pod_matches_node(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """GetRequiredNodeAffinity(pod).Match(node): the nodeSelector (exact labels) AND the required affinity."""
    if not lbl.selector_from_set(pod_spec.get("nodeSelector")).matches(o.labels_of(node)):
        return False
    required = required_affinity_of(pod_spec)
    return required is None or node_selector_matches(required, node)
