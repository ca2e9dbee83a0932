"""SHELL. kubectl's own `rollout undo` and `rollout restart` for DaemonSets: change the template and let
the controller roll it by the DaemonSet's own strategy (kubectl's rollback.go and objectrestarter.go).
Kept apart from the managed rollout, as kubectl keeps them apart from its status viewer; `--managed`
hands the same change to rollout/runner.py instead (the command chooses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from kubectl_ds import resources as r
from kubectl_ds.errors import DsError
from kubectl_ds.placement.revisions import owned_revisions, revision_hash
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import events as ev
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.change import RESTARTED_AT, Change, template_change
from kubectl_ds.rollout.events import Outcome
from kubectl_ds.rollout.history import revision_template


@dataclass(frozen=True)
class UndoTarget:
    number: int
    template: Obj
    is_current: bool  # the chosen revision is the current one: nothing to do

    def change(self) -> Change:
        return template_change(self.template, f"rollback to revision {self.number}")


def undo_target(daemonset: Obj, revisions: Sequence[Obj], to_revision: int) -> UndoTarget:
    """The revision `kubectl rollout undo --to-revision N` goes back to (0: the one before the current),
    with kubectl's own error messages."""
    owned = owned_revisions(daemonset, revisions)
    if to_revision < 0:
        raise DsError(f"unable to find specified revision {to_revision} in history")
    if to_revision == 0:
        if len(owned) <= 1:
            raise DsError("no last revision to roll back to")
        chosen = owned[-2]
    else:
        matching = [rev for rev in owned if int(rev.get("revision") or 0) == to_revision]
        if not matching:
            raise DsError(f"unable to find specified revision {to_revision} in history")
        chosen = matching[0]
    return UndoTarget(
        int(chosen.get("revision") or 0),
        revision_template(chosen),
        is_current=bool(owned) and revision_hash(chosen) == revision_hash(owned[-1]),
    )


def refuse_if_managed(daemonset: Obj, verb: str) -> None:
    """A parked DaemonSet would not roll a template change: say how to finish or abort first."""
    state = st.read_state(daemonset)
    if state is not None:
        name = r.name(daemonset)
        raise DsError(
            f'daemonset "{name}" has a managed rollout ({state.phase}); finish it (kubectl ds rollout '
            f"resume {name}) or abort it before {verb}, or pass --managed"
        )


class DaemonSetPatcher(Protocol):
    """What kubectl's own undo and restart write: a patch, never a PUT, so that the controller's status
    writes on a busy DaemonSet cannot make them fail with 409 Conflict (docs/rules.md#r-kubectl-rollout)."""

    def patch_daemonset(
        self, *, namespace: str, name: str, patch: Mapping[str, Any], strategic: bool = False
    ) -> dict[str, Any]: ...


def restart(cluster: DaemonSetPatcher, daemonset: Obj, *, now: Callable[[], datetime], dry_run: bool) -> Outcome:
    """kubectl rollout restart: set the template annotation restartedAt; the controller rolls it."""
    name = r.name(daemonset)
    refuse_if_managed(daemonset, "restart")
    if dry_run:
        return Outcome(ev.WOULD_RESTART, name)
    stamp = st.rfc3339(now())
    annotations = (r.pod_template(daemonset).get("metadata") or {}).get("annotations") or {}
    if annotations.get(RESTARTED_AT) == stamp:
        raise DsError(
            f"failed to create patch for {name}: if restart has already been triggered within the past "
            "second, please wait before attempting to trigger another"
        )
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    cluster.patch_daemonset(namespace=r.namespace(daemonset), name=name, patch=patch, strategic=True)
    return Outcome(ev.RESTARTED, name)


def undo(cluster: DaemonSetPatcher, daemonset: Obj, target: UndoTarget, *, dry_run: bool) -> Outcome:
    """kubectl rollout undo: put the chosen revision's template back; the controller rolls it."""
    name = r.name(daemonset)
    if target.is_current:
        return Outcome(ev.ROLLBACK_SKIPPED, name, revision=target.number)
    refuse_if_managed(daemonset, "undo")
    if dry_run:
        images = tuple(str(c.get("image", "")) for c in (target.template.get("spec") or {}).get("containers") or [])
        return Outcome(ev.WOULD_ROLL_BACK, name, revision=target.number, images=images)
    # The revision's template replaces the current one whole, as its stored patch says ($patch: replace).
    patch = {"spec": {"template": {**target.template, "$patch": "replace"}}}
    cluster.patch_daemonset(namespace=r.namespace(daemonset), name=name, patch=patch, strategic=True)
    return Outcome(ev.ROLLED_BACK, name)
