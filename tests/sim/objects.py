"""Reading API objects the way the API server returns them: camelCase JSON dicts whose empty fields may be
missing altogether. Every accessor reads a missing field as empty, never as an error.

Label and annotation keys the DaemonSet controller uses are from k8s.io/api apps/v1 types.go
(DefaultDaemonSetUniqueLabelKey, DeprecatedTemplateGeneration) and extensions/v1beta1
(DaemonSetTemplateGenerationKey).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

Obj = dict[str, Any]
View = Mapping[str, Any]

REVISION_HASH_LABEL = "controller-revision-hash"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


def dig(obj: View, *path: str) -> Any:
    """The value at `path` (e.g. "metadata", "name"), or None where a step is missing, null or not an object."""
    found: Any = obj
    for step in path:
        found = found.get(step) if isinstance(found, Mapping) else None
    return found


def _section(obj: View, *path: str) -> View:
    return dig(obj, *path) or {}


def _text(obj: View, *path: str) -> str:
    return str(dig(obj, *path) or "")


def meta(obj: View) -> View:
    return _section(obj, "metadata")


def name(obj: View) -> str:
    return _text(obj, "metadata", "name")


def namespace(obj: View) -> str:
    return _text(obj, "metadata", "namespace")


def uid(obj: View) -> str:
    return _text(obj, "metadata", "uid")


def labels_of(obj: View) -> Mapping[str, str]:
    return _section(obj, "metadata", "labels")


def annotations_of(obj: View) -> Mapping[str, str]:
    return _section(obj, "metadata", "annotations")


def spec_of(obj: View) -> View:
    return _section(obj, "spec")


def status_of(obj: View) -> View:
    return _section(obj, "status")


def ref(obj: View) -> str:
    """`namespace/name`, or the bare name of a cluster-scoped object (how history and events name it)."""
    return f"{namespace(obj)}/{name(obj)}" if namespace(obj) else name(obj)


def template_of(daemonset: View) -> View:
    return _section(daemonset, "spec", "template")


def controller_reference(obj: View) -> View | None:
    """The ownerReference with `controller: true` (metav1.GetControllerOf); at most one is allowed."""
    return next((owner for owner in meta(obj).get("ownerReferences") or [] if owner.get("controller")), None)


def controlled_by(obj: View, owner: View) -> bool:
    reference = controller_reference(obj)
    return reference is not None and bool(uid(owner)) and reference.get("uid") == uid(owner)


def is_terminating(obj: View) -> bool:
    """Deleted but not gone yet: the API set a deletionTimestamp (graceful deletion, finalizers)."""
    return bool(meta(obj).get("deletionTimestamp"))


def phase(pod: View) -> str:
    return str(status_of(pod).get("phase") or "")


def is_terminal(pod: View) -> bool:
    """Succeeded or Failed: the pod's containers will not run again (podutil.IsPodTerminal)."""
    return phase(pod) in ("Succeeded", "Failed")


def condition(obj: View, kind: str) -> View | None:
    """The first status condition of type `kind` (what GetPodCondition and GetNodeCondition return)."""
    return next((c for c in status_of(obj).get("conditions") or [] if c.get("type") == kind), None)


def condition_is_true(obj: View, kind: str) -> bool:
    found = condition(obj, kind)
    return found is not None and found.get("status") == "True"


def parse_timestamp(text: object) -> datetime | None:
    """An RFC 3339 metav1.Time as the API writes it; None when absent or unreadable (Go's zero time)."""
    if not isinstance(text, str) or not text:
        return None
    # Python 3.10's fromisoformat does not read the "Z" suffix the API always writes.
    cleaned = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
