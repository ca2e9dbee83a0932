"""Run a read in a background thread while the command does something else, and collect its result.

`explain` overlaps its independent reads (the nodes while the DaemonSet is fetched; then the DaemonSet's
pods and its ControllerRevisions) instead of running them one after the other: each waits mostly on the API
server, which serves them side by side, and decoding one answer overlaps the server encoding the next.
Threads are daemons, so an error or a Ctrl-C in the main thread ends the process without waiting for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """`fn()` started now in a daemon thread; `result()` waits and returns it, or raises what it raised."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._value: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        threading.Thread(target=self._run, daemon=True, name="kubectl-ds-read").start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as error:  # noqa: BLE001 - handed to the thread that asks for the result
            self._error = error
        finally:
            self._done.set()

    def result(self) -> T:
        while not self._done.wait(0.05):  # short waits: Ctrl-C reaches the main thread at once
            pass
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
