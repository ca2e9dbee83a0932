"""Pure. Rollout history from ControllerRevisions, as kubectl's history viewer shows it, plus what
changed between revisions (images) and how many pods still run each one.

Sources: kubectl pkg/polymorphichelpers/history.go (revisions controlled by the DaemonSet, sorted by
.revision, CHANGE-CAUSE from the revision's kubernetes.io/change-cause annotation or <none>) and
docs/rules.md#r-kubectl-rollout, docs/rules.md#r-revisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.errors import NotFound, UsageError
from kubectl_ds.placement.revisions import owned_revisions, revision_hash
from kubectl_ds.resources import Obj

NO_HISTORY = "No rollout history found."


@dataclass(frozen=True)
class RevisionEntry:
    number: int
    hash: str
    change_cause: str
    images: tuple[str, ...]  # "container=image", in template order
    pods: int  # live pods of the DaemonSet that carry this revision's hash
    template: Obj


def revision_template(revision: Obj) -> Obj:
    """The pod template stored in a ControllerRevision's `data` patch ({"spec": {"template": ...}})."""
    data = revision.get("data") or {}
    template = (data.get("spec") or {}).get("template") or {}
    return {key: value for key, value in template.items() if key != "$patch"}


def template_images(template: Obj) -> tuple[str, ...]:
    spec = template.get("spec") or {}
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    return tuple(f"{c.get('name')}={c.get('image')}" for c in containers)


def history(daemonset: Obj, revisions: Iterable[Obj], pods: Sequence[Obj]) -> list[RevisionEntry]:
    owned = owned_revisions(daemonset, revisions)
    pod_hashes = [r.labels(pod).get(r.REVISION_HASH_LABEL) for pod in pods if r.is_controlled_by(pod, daemonset)]
    entries = []
    for revision in owned:
        rev_hash = revision_hash(revision)
        template = revision_template(revision)
        entries.append(
            RevisionEntry(
                number=int(revision.get("revision") or 0),
                hash=rev_hash,
                change_cause=r.annotations_of(revision).get(r.CHANGE_CAUSE_ANNOTATION) or "<none>",
                images=template_images(template),
                pods=sum(1 for h in pod_hashes if h == rev_hash),
                template=template,
            )
        )
    return entries


def select_revision(entries: Sequence[RevisionEntry], number: int) -> RevisionEntry:
    """`--revision N`, with kubectl's own errors."""
    if number < 0:
        raise UsageError(f"revision must be a positive integer: {number}")
    for entry in entries:
        if entry.number == number:
            return entry
    raise NotFound(f"unable to find the specified revision {number}")


def image_changes(older: RevisionEntry | None, newer: RevisionEntry) -> str:
    """What changed in the images from one revision to the next, e.g. "fluentd: v1.16 -> v1.17"."""
    if older is None:
        return ""
    before = dict(item.split("=", 1) for item in older.images)
    changes = []
    for item in newer.images:
        name, image = item.split("=", 1)
        if name not in before:
            changes.append(f"+{name}={image}")
        elif before[name] != image:
            changes.append(f"{name}: {before[name]} -> {image}")
    after = {item.split("=", 1)[0] for item in newer.images}
    changes += [f"-{name}" for name in before if name not in after]
    return ", ".join(changes)


def history_rows(entries: Sequence[RevisionEntry]) -> list[dict[str, Any]]:
    rows = []
    previous: RevisionEntry | None = None
    for entry in entries:
        rows.append(
            {
                "revision": entry.number,
                "changeCause": entry.change_cause,
                "hash": entry.hash,
                "images": list(entry.images),
                "pods": entry.pods,
                "changes": image_changes(previous, entry),
            }
        )
        previous = entry
    return rows
