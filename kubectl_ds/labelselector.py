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
