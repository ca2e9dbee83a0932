"""SHELL. `rollout pause` of a DaemonSet the controller itself is rolling (RollingUpdate): park it (OnDelete)
under a state that records nothing to drive, so `rollout resume` gives it its strategy back. The pause
kubectl lacks for DaemonSets."""

from __future__ import annotations

import uuid

from kubectl_ds.errors import DsError
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import decisions as d
from kubectl_ds.rollout import events as ev
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.events import Outcome
from kubectl_ds.rollout.session import Session
from kubectl_ds.rollout.state import RolloutState


def park_unmanaged(io: Session, daemonset: Obj, *, dry_run: bool) -> Outcome:
    if st.is_parked(daemonset):
        raise DsError(
            f'daemonset "{io.name}" uses updateStrategy OnDelete: the controller never replaces '
            "pods by itself, so there is nothing to pause"
        )
    if dry_run:
        return Outcome(ev.WOULD_PARK, io.name)
    current_hash, current_revision = io.current_revision(daemonset)
    state = RolloutState(
        rollout_id=uuid.uuid4().hex[:12],
        phase=st.PARKED,
        direction=st.FORWARD,
        start_hash="",
        start_revision=0,
        target_hash=current_hash,
        target_revision=current_revision,
        reason=d.PAUSED_BY_PAUSE,
        started_at=st.rfc3339(io.now()),
    )
    io.write(lambda ds: st.parked(d.unmanaged(ds), state))
    return Outcome(ev.PARKED_UNMANAGED, io.name)
