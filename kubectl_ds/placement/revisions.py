"""Pure. ControllerRevisions: which template revision is current and which one each pod runs.

The controller renumbers the current revision above all others, so the owned ControllerRevision with
the highest `.revision` is current; its `controller-revision-hash` label is the hash new pods carry
(update.go constructHistory, docs/rules.md#r-revisions). Go's FNV template hash cannot be recomputed
in Python, so we never try.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubectl_ds import resources as r
from kubectl_ds.resources import Obj


@dataclass(frozen=True)
class RevisionIndex:
    """Revision numbers by pod-template hash, and the current one."""

    by_hash: Mapping[str, int]
    current_hash: str | None
    current_revision: int | None
    template_generation: str | None  # deprecated.daemonset.template.generation on the DaemonSet
    # Hashes of revisions with the same template as the current one, snapshotted again when the API server
    # started defaulting a new field (a managed rollout adopts the new one; docs/rules.md#r-revisions).
    also_current: frozenset[str] = frozenset()

    def revision_of(self, pod: Obj) -> int | None:
        return self.by_hash.get(r.labels(pod).get(r.REVISION_HASH_LABEL, ""))

    def is_updated(self, pod: Obj) -> bool:
        """IsPodUpdated: the hash matches, or the legacy template-generation label matches."""
        pod_labels = r.labels(pod)
        pod_hash = pod_labels.get(r.REVISION_HASH_LABEL)
        if self.current_hash and pod_hash == self.current_hash:
            return True
        if pod_hash and pod_hash in self.also_current:
            return True
        generation = pod_labels.get(r.TEMPLATE_GENERATION_LABEL)
        return bool(self.template_generation) and generation == self.template_generation


def revision_hash(revision: Obj) -> str:
    """The template hash of a ControllerRevision: its label, else the `<ds>-<hash>` name suffix."""
    label = r.labels(revision).get(r.REVISION_HASH_LABEL)
    return label if label else r.name(revision).rsplit("-", 1)[-1]


def owned_revisions(daemonset: Obj, revisions: Iterable[Obj]) -> list[Obj]:
    """The DaemonSet's ControllerRevisions (controller ownerReference), oldest revision first."""
    owned = [rev for rev in revisions if r.is_controlled_by(rev, daemonset)]
    return sorted(owned, key=lambda rev: int(rev.get("revision") or 0))


def index_revisions(daemonset: Obj, revisions: Iterable[Obj]) -> RevisionIndex:
    owned = owned_revisions(daemonset, revisions)
    by_hash = {revision_hash(rev): int(rev.get("revision") or 0) for rev in owned}
    current = owned[-1] if owned else None
    generation = r.annotations_of(daemonset).get(r.TEMPLATE_GENERATION_ANNOTATION)
    return RevisionIndex(
        by_hash=by_hash,
        current_hash=revision_hash(current) if current else None,
        current_revision=int(current.get("revision") or 0) if current else None,
        template_generation=str(generation) if generation else None,
    )
