"""I/O. Runs a rollout's --check command: through the shell, in a process group of its own (a timeout or a
Ctrl-C kills the check and everything it started, not just the shell), its output collected in a file (a
chatty check never blocks on a full pipe; only the end of it is kept)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping

POLL = 0.2  # seconds between two looks at a running check (and two calls of `tick`)
KEEP_OUTPUT = 64 * 1024  # bytes of output kept, from the end
TERM_GRACE = 1.0  # seconds between SIGTERM and SIGKILL when a check is stopped


def run_shell(
    command: str, environment: Mapping[str, str], timeout: float, tick: Callable[[], None]
) -> tuple[int | None, str]:
    """Run `command` with /bin/sh, `environment` added to ours; (its exit code, or None when it was killed at
    `timeout` seconds; its stdout and stderr, interleaved). `tick` is called every POLL seconds while it runs;
    whatever `tick` raises (a Ctrl-C) kills the process group first. A check killed by a signal exits 128+N,
    as a shell reports it."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command,
            shell=True,  # noqa: S602 - the user's own command line, run as the user, on purpose
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **environment},
            start_new_session=True,  # its own process group: a terminal's Ctrl-C reaches us, and we stop it
        )
        deadline = time.monotonic() + timeout
        code: int | None
        try:
            while True:
                try:
                    code = process.wait(timeout=max(0.0, min(POLL, deadline - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline:
                        stop_group(process)
                        code = None
                        break
                    tick()
        except BaseException:
            stop_group(process)
            raise
        # The shell may be gone while what it started in the background still runs: stop that too.
        stop_group(process, grace=0.0)
        output.seek(max(0, output.tell() - KEEP_OUTPUT))
        text = output.read().decode("utf-8", errors="replace")
    if code is not None and code < 0:
        code = 128 - code
    return code, text


def stop_group(process: subprocess.Popen[bytes], grace: float = TERM_GRACE) -> None:
    """SIGTERM to the check's process group, SIGKILL after `grace` seconds if its leader is still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM if grace else signal.SIGKILL)
    if grace:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
