"""The DaemonSet controller's ControllerRevisions: one per template, the current one numbered highest.

Source: pkg/controller/daemon/update.go (constructHistory, snapshot, cleanupHistory, maxRevision).

Deviations: no deduplication of several revisions matching the current template (the extra ones are treated
as old and cleaned up by the history limit), and no adoption of orphaned revisions.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.apiserver import rfc3339
from tests.sim import objects as o
from tests.sim import revisions as rev
from tests.sim.daemonpods import controller_ref
from tests.sim.objects import Obj, View
from tests.sim.writer import Writer

CONTROLLER = "daemonset-controller"
DEFAULT_HISTORY_LIMIT = 10  # SetDefaults_DaemonSet's revisionHistoryLimit


def owned_revisions(writer: Writer, daemonset: View) -> list[Obj]:
    return [
        revision
        for revision in writer.server.objects("controllerrevisions", o.namespace(daemonset))
        if o.controlled_by(revision, daemonset)
    ]


def construct_history(writer: Writer, daemonset: View) -> tuple[str, list[Obj]]:
    """constructHistory: the current revision's hash (creating the revision, or renumbering it above every
    old one after a rollback) and the old revisions."""
    template = o.template_of(daemonset)
    current: list[Obj] = []
    old: list[Obj] = []
    for revision in owned_revisions(writer, daemonset):
        if o.REVISION_HASH_LABEL not in o.labels_of(revision):
            revision = _label_with_name(writer, revision)
        (current if rev.same_template(rev.template_in(revision), template) else old).append(revision)
    next_number = max((rev.number_of(revision) for revision in old), default=0) + 1
    if not current:
        return snapshot(writer, daemonset, next_number), old
    newest = max(current, key=rev.number_of)
    old += [revision for revision in current if revision is not newest]
    if rev.number_of(newest) < next_number:
        writer.mutate(
            "controllerrevisions",
            o.namespace(newest),
            o.name(newest),
            lambda revision: {**revision, "revision": next_number},
            f"{CONTROLLER}: renumber revision to {next_number}",
        )
    return rev.hash_of(newest), old


def _label_with_name(writer: Writer, revision: Obj) -> Obj:
    """A revision without the hash label gets its own name as that label (so the name serves as its hash)."""

    def label(obj: Obj) -> Obj:
        obj["metadata"]["labels"] = {**(obj["metadata"].get("labels") or {}), o.REVISION_HASH_LABEL: o.name(obj)}
        return obj

    stored = writer.mutate(
        "controllerrevisions",
        o.namespace(revision),
        o.name(revision),
        label,
        f"{CONTROLLER}: label revision with its hash",
        uid=o.uid(revision),
    )
    return stored or revision


def snapshot(writer: Writer, daemonset: View, number: int) -> str:
    """snapshot: create the revision `<ds>-<hash>`; a name taken by another template bumps
    status.collisionCount, which changes the hash."""
    template = o.template_of(daemonset)
    collisions = int(o.status_of(daemonset).get("collisionCount") or 0)
    while True:
        hash_ = rev.template_hash(template, collisions)
        name = f"{o.name(daemonset)}-{hash_}"
        existing = writer.server.get("controllerrevisions", o.namespace(daemonset), name)
        if existing is None:
            break
        if rev.same_template(rev.template_in(existing), template):
            return hash_
        collisions += 1
        writer.mutate(
            "daemonsets",
            o.namespace(daemonset),
            o.name(daemonset),
            _with_collision_count(collisions),
            f"{CONTROLLER}: collisionCount {collisions}",
        )
    template_labels = (template.get("metadata") or {}).get("labels") or {}
    revision: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": name,
            "namespace": o.namespace(daemonset),
            "labels": {**template_labels, o.REVISION_HASH_LABEL: hash_},
            "ownerReferences": [controller_ref(daemonset)],
            "creationTimestamp": rfc3339(writer.clock()),
        },
        "data": rev.patch_of(template),
        "revision": number,
    }
    if o.annotations_of(daemonset):
        # A copy of the DaemonSet's annotations: how kubernetes.io/change-cause reaches `rollout history`.
        revision["metadata"]["annotations"] = dict(o.annotations_of(daemonset))
    writer.create(revision, f"{CONTROLLER}: revision {number}")
    return hash_


def _with_collision_count(count: int) -> Callable[[Obj], Obj]:
    def change(daemonset: Obj) -> Obj:
        return {**daemonset, "status": {**(daemonset.get("status") or {}), "collisionCount": count}}

    return change


def cleanup_history(writer: Writer, daemonset: View, old: list[Obj], live_hashes: Callable[[], set[str]]) -> None:
    """cleanupHistory: keep revisionHistoryLimit old revisions, deleting the oldest first, but never one whose
    hash a pod of the DaemonSet (terminal ones included) still carries."""
    limit = o.spec_of(daemonset).get("revisionHistoryLimit")
    excess = len(old) - (DEFAULT_HISTORY_LIMIT if limit is None else int(limit))
    if excess <= 0:
        return
    in_use = live_hashes()
    for revision in sorted(old, key=rev.number_of):
        if excess <= 0:
            break
        if rev.hash_of(revision) not in in_use:
            writer.delete("controllerrevisions", revision, f"{CONTROLLER}: revision history limit")
            excess -= 1
