"""Where the simulation's time comes from: the wall clock, or a ManualClock that only moves when told to."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class ManualClock:
    """A clock that only moves when told to; ClusterSimulator.settle() advances it to the next timer by itself."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
        self._lock = threading.Lock()  # the simulation thread reads it while a test advances it

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            self._now = max(self._now, moment)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
