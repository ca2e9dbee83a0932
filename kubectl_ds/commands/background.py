"""Run a read in a background thread while the command does something else, and collect its result.

`explain` overlaps its independent reads (the nodes while the DaemonSet is fetched; then the DaemonSet's
pods and its ControllerRevisions) instead of running them one after the other: each waits mostly on the API
server, which serves them side by side, and decoding one answer overlaps the server encoding the next.
Threads are daemons, so a Ctrl-C in the main thread ends the process without waiting for them; on an error,
`settle` waits for the reads already started, so no request is left in flight once the command has answered
(explain --watch runs again after an error; a test server must see no request after the command returned).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

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

    def wait(self) -> None:
        """Until `fn()` has returned or raised."""
        while not self._done.wait(0.05):  # short waits: Ctrl-C reaches the main thread at once
            pass

    def result(self) -> T:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def settle(reads: Sequence[Background[Any]]) -> None:
    """Wait until every read started has ended, whatever it returned or raised."""
    for read in reads:
        read.wait()
