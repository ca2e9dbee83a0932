"""The rollout state annotations and the transforms that park, surge, re-park and finish a DaemonSet."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.state import RolloutOptions, RolloutState, StateError
from tests.builders import make_daemonset, rolling_update

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)


def a_state(**changes: object) -> RolloutState:
    base = RolloutState(
        rollout_id="r1",
        phase=st.RUNNING,
        direction=st.FORWARD,
        start_hash="old",
        start_revision=1,
        target_hash="new",
        target_revision=2,
        options=RolloutOptions(max_unavailable="10%", canary="pool=canary"),
        owner="kubectl-ds/a",
        heartbeat=st.rfc3339(NOW),
    )
    return RolloutState(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_state_round_trips_through_the_annotation() -> None:
    state = a_state(steps_done=3, reason="x", surging=True)
    daemonset = st.with_state(make_daemonset(), state)
    assert st.read_state(daemonset) == state


def test_undecodable_state_names_the_annotation_and_the_fix() -> None:
    daemonset = make_daemonset()
    daemonset["metadata"]["annotations"] = {st.STATE_ANNOTATION: "{not json"}
    with pytest.raises(StateError) as caught:
        st.read_state(daemonset)
    assert caught.value.message.startswith(
        'the kubectl-ds.io/rollout annotation of daemonset "ds" is not a state this version understands'
    )
    assert caught.value.message.endswith(
        "remove it with: kubectl annotate ds ds kubectl-ds.io/rollout- kubectl-ds.io/original-strategy-"
    )


@pytest.mark.parametrize(
    ("age", "alive"),
    [
        pytest.param(timedelta(seconds=5), True, id="fresh-heartbeat-means-a-live-driver"),
        pytest.param(timedelta(seconds=31), False, id="heartbeat-older-than-30s-is-stale"),
    ],
)
def test_driver_alive_by_heartbeat(age: timedelta, alive: bool) -> None:
    assert a_state().driver_alive(NOW + age) is alive


def test_released_state_has_no_live_driver() -> None:
    assert a_state().released().driver_alive(NOW) is False


def test_park_saves_the_original_strategy_once_and_changes_the_template_in_the_same_object() -> None:
    daemonset = make_daemonset(strategy=rolling_update(max_unavailable=2))
    template = {"metadata": {"labels": {"x": "y"}}, "spec": {"containers": [{"name": "c", "image": "i:2"}]}}
    parked = st.parked(daemonset, a_state(), template)
    assert parked["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert parked["spec"]["template"] == template
    saved = json.loads(parked["metadata"]["annotations"][st.STRATEGY_ANNOTATION])
    assert saved == rolling_update(max_unavailable=2)
    # Parking again (e.g. an abort) must not overwrite the original with OnDelete.
    again = st.parked(parked, a_state(direction=st.ROLLBACK))
    assert json.loads(again["metadata"]["annotations"][st.STRATEGY_ANNOTATION]) == saved
    assert daemonset["spec"]["updateStrategy"] == rolling_update(max_unavailable=2)  # input untouched


def test_surge_and_repark_record_the_surge_in_the_state() -> None:
    daemonset = st.parked(make_daemonset(), a_state())
    surging = st.surging(daemonset, 3)
    assert surging["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 0},
    }
    assert st.read_state(surging).surging is True  # type: ignore[union-attr]
    reparked = st.reparked(surging)
    assert reparked["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert st.read_state(reparked).surging is False  # type: ignore[union-attr]


def test_finish_restores_the_strategy_and_removes_every_annotation_of_ours() -> None:
    original = rolling_update(max_unavailable="20%")
    daemonset = make_daemonset(strategy=original)
    daemonset["metadata"]["annotations"] = {"team": "logging"}
    finished = st.finished(st.parked(daemonset, a_state()))
    assert finished["spec"]["updateStrategy"] == original
    assert finished["metadata"]["annotations"] == {"team": "logging"}


def test_goal_is_the_start_revision_while_rolling_back() -> None:
    assert st.goal_hash(a_state()) == "new"
    assert st.goal_hash(a_state(direction=st.ROLLBACK)) == "old"


def test_times_are_written_in_utc_whatever_the_local_zone() -> None:
    from datetime import timezone as tz

    local = NOW.astimezone(tz(timedelta(hours=5, minutes=30)))
    assert st.rfc3339(local) == "2026-11-22T12:00:00Z"
