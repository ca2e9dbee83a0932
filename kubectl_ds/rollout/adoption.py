"""SHELL. After a write of the pod template: wait for the controller's ControllerRevision of it, and record
that revision in the rollout's state (the target of a forward rollout, the start of a rollback)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from kubectl_ds.errors import RolloutHalted
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import decisions as d
from kubectl_ds.rollout import state as st

if TYPE_CHECKING:
    from kubectl_ds.rollout.runner import Rollout


def adopt_new_revision(rollout: Rollout, daemonset: Obj, timeout: float, expect_hash: str | None = None) -> None:
    """Wait for the controller to snapshot the template just written, and adopt its revision: the target of
    a forward rollout; for a rollback, the starting one, or a new snapshot of the same template (an API
    server that defaults a new field makes the controller snapshot again under a new hash), whose pods on
    the old hash then count as rolled back (docs/rules.md#r-revisions)."""
    try:
        revision = rollout.io.wait_for_revision(daemonset, timeout)
    except RolloutHalted as error:
        rollout.record_failure(error.message)
        raise
    state = rollout.own.state(rollout.io.get(), "resume")
    if expect_hash is not None and revision[0] != expect_hash:
        current = rollout.io.get()
        if not d.same_template(
            rollout.io.template_of(current, expect_hash), rollout.io.template_of(current, revision[0])
        ):
            raise rollout.own.changed(
                state, f"its pod template was changed (revision {state.start_revision} -> {revision[1]})"
            )
        rollout.io.write(
            lambda ds: st.with_state(
                ds,
                replace(
                    rollout.own.state(ds, "resume"),
                    start_hash=revision[0],
                    start_revision=revision[1],
                    equivalents=(*state.equivalents, expect_hash),
                ),
            )
        )
    elif expect_hash is None:
        earlier = (state.target_hash,) if state.target_hash and state.target_hash != revision[0] else ()
        rollout.io.write(
            lambda ds: st.with_state(
                ds,
                replace(
                    rollout.own.state(ds, "resume"),
                    target_hash=revision[0],
                    target_revision=revision[1],
                    equivalents=(*state.equivalents, *earlier),
                    heartbeat=st.rfc3339(rollout.io.now()),
                ),
            )
        )
