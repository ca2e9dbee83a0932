"""Pure. What the API server would say about a DaemonSet manifest before `kubectl apply`, as far as `explain`
needs it (docs/rules.md#r-manifest):

- `extensions/v1beta1` and `apps/v1beta2` DaemonSets are no longer served (removed in Kubernetes 1.16): the
  manifest is still explained, with a warning naming `apps/v1`.
- `apps/v1` requires `spec.selector` (apps/v1beta2 already did; extensions/v1beta1 defaulted it to the
  template's labels, SetDefaults_DaemonSet). A manifest without one is explained with the selector the old
  default would have given it, and a warning to add it.
- A selector the API server rejects outright (an unknown operator, `In` without values, an empty selector, one
  that does not match the template's labels: ValidateDaemonSetSpec) is an error: nothing sensible can be
  explained with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.errors import InputError
from kubectl_ds.labelselector import selector_matches

SERVED_VERSION = "apps/v1"
REMOVED_VERSIONS = {"extensions/v1beta1": "1.16", "apps/v1beta2": "1.16"}
_OPERATORS_WITH_VALUES = ("In", "NotIn")
_OPERATORS_WITHOUT_VALUES = ("Exists", "DoesNotExist")


@dataclass(frozen=True)
class ManifestWarning:
    """Something the API server would reject, which explain works around."""

    code: str  # RemovedApiVersion or MissingSelector
    name: str
    api_version: str = ""
    removed_in: str = ""
    labels: tuple[tuple[str, str], ...] = ()


REMOVED_API_VERSION = "RemovedApiVersion"
MISSING_SELECTOR = "MissingSelector"


def check_manifest(daemonset: dict[str, Any], where: str) -> tuple[dict[str, Any], tuple[ManifestWarning, ...]]:
    """The manifest as explain should read it (a missing selector defaulted), and the warnings to print."""
    name = r.name(daemonset)
    warnings: list[ManifestWarning] = []
    api_version = str(daemonset.get("apiVersion") or "")
    if api_version in REMOVED_VERSIONS:
        warnings.append(
            ManifestWarning(
                REMOVED_API_VERSION, name, api_version=api_version, removed_in=REMOVED_VERSIONS[api_version]
            )
        )
    template_labels = r.labels(r.spec(daemonset).get("template") or {})
    selector = r.spec(daemonset).get("selector")
    if selector is None:
        if not template_labels:
            raise InputError(
                f'DaemonSet "{name}" in {where} has neither spec.selector nor labels on its pod template; '
                "add both (spec.selector.matchLabels and spec.template.metadata.labels, the same)"
            )
        labels = tuple(sorted((str(k), str(v)) for k, v in template_labels.items()))
        warnings.append(ManifestWarning(MISSING_SELECTOR, name, labels=labels))
        spec = {**r.spec(daemonset), "selector": {"matchLabels": dict(template_labels)}}
        return {**daemonset, "spec": spec}, tuple(warnings)
    _validate_selector(selector, template_labels, name, where)
    return daemonset, tuple(warnings)


def _validate_selector(selector: Any, template_labels: Mapping[str, str], name: str, where: str) -> None:
    def invalid(problem: str) -> InputError:
        return InputError(f'DaemonSet "{name}" in {where} has an invalid spec.selector: {problem}; fix the manifest')

    if not isinstance(selector, dict):
        raise invalid("it is not a mapping")
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        raise invalid("matchLabels must be a mapping and matchExpressions a list")
    if not match_labels and not expressions:
        raise invalid("it is empty (the API server refuses an empty selector for a DaemonSet)")
    for key, value in match_labels.items():
        if not isinstance(value, str):
            raise invalid(f"matchLabels {key} must be a string, not {value!r}")
    for index, expression in enumerate(expressions):
        if not isinstance(expression, dict) or not expression.get("key"):
            raise invalid(f"matchExpressions[{index}] has no key")
        operator, values = expression.get("operator"), expression.get("values") or []
        if operator in _OPERATORS_WITH_VALUES and not values:
            raise invalid(f"matchExpressions[{index}] ({expression['key']} {operator}) needs values")
        if operator in _OPERATORS_WITHOUT_VALUES and values:
            raise invalid(f"matchExpressions[{index}] ({expression['key']} {operator}) must not have values")
        if operator not in _OPERATORS_WITH_VALUES + _OPERATORS_WITHOUT_VALUES:
            raise invalid(
                f'matchExpressions[{index}] has operator "{operator}" (use In, NotIn, Exists or DoesNotExist)'
            )
    if not selector_matches(selector, template_labels):
        raise InputError(
            f'DaemonSet "{name}" in {where}: spec.selector does not match the pod template\'s labels, so the API '
            "server would reject it and its pods would not be its own; make spec.template.metadata.labels match"
        )
