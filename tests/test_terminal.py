"""Colour and widths where they matter: on a pseudo-terminal (the pty module) of a known size, against a
pipe. A real process each time, since what is a terminal is decided by the process's own stdout."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_DUMP, REPO

EXPLAIN = ["explain", "-n", "logging", "fluentd", "--from-file", str(EXAMPLE_DUMP)]
RED, YELLOW, RESET = "\x1b[31m", "\x1b[33m", "\x1b[0m"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "KUBECONFIG")}
    return {**env, "HOME": str(tmp_path), "TERM": "xterm", "PYTHONPATH": str(REPO), **extra}


def on_terminal(args: list[str], columns: int, env: dict[str, str]) -> str:
    """Run `kubectl-ds ARGS` with stdout and stderr on a pseudo-terminal `columns` wide; what it printed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "kubectl_ds", *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)  # EIO once the process (the last holder of the slave) has gone
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=120)
    os.close(master)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def in_pipe(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kubectl_ds", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    return done.stdout


def line_of(text: str, node: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(node + " "))


def test_colour_on_a_terminal_only_where_the_words_say_it(tmp_path: Path) -> None:
    out = on_terminal(EXPLAIN, 250, environment(tmp_path))
    assert f"{RED}CrashLoopBackOff{RESET}" in line_of(out, "node-5")
    assert f"{RED}container fluentd is crash-looping" in line_of(out, "node-5")
    assert f"{YELLOW}Pending{RESET}" in line_of(out, "node-7")
    assert f"{YELLOW}pod fluentd-6old runs revision 1, current is revision 2{RESET}" in line_of(out, "node-6")
    for healthy_or_excluded in ("node-1", "win-1", "gpu-1"):
        assert "\x1b[" not in line_of(out, healthy_or_excluded)
    assert "\x1b[" not in "\n".join(line for line in out.splitlines() if not line.startswith(("node-", "gpu-2")))


@pytest.mark.parametrize(
    ("flags", "extra_env"),
    [
        pytest.param([], {"NO_COLOR": "1"}, id="no-color-env"),
        pytest.param(["--color", "never"], {}, id="color-never"),
        pytest.param([], {"TERM": "dumb"}, id="dumb-terminal"),
    ],
)
def test_no_colour_on_a_terminal_when_asked(tmp_path: Path, flags: list[str], extra_env: dict[str, str]) -> None:
    out = on_terminal([*EXPLAIN, *flags], 250, environment(tmp_path, **extra_env))
    assert "CrashLoopBackOff" in out and "\x1b[" not in out


def test_never_colour_in_a_pipe_unless_always(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert "\x1b[" not in in_pipe(EXPLAIN, env)
    assert f"{RED}CrashLoopBackOff{RESET}" in in_pipe([*EXPLAIN, "--color", "always"], env)
    assert f"{RED}CrashLoopBackOff{RESET}" in in_pipe([*EXPLAIN, "--color", "always"], {**env, "NO_COLOR": "1"})


def test_why_wraps_to_the_terminal_but_never_in_a_pipe(tmp_path: Path) -> None:
    env = environment(tmp_path)
    out = on_terminal([*EXPLAIN, "--color", "never", "--node", "node-7"], 100, env)
    table = out.split("\n\n")[0].splitlines()
    assert all(len(line) <= 100 for line in table)
    offset = table[0].index("WHY")
    assert table[1:] == [
        "node-7  yes       fluentd-7pend  Pending   2           pod fluentd-7pend is Pending; the scheduler",
        " " * offset + "says: Insufficient memory; insufficient",
        " " * offset + "memory: requests 300Mi, free 248Mi of 2Gi",
        " " * offset + "allocatable",
    ]
    piped = in_pipe([*EXPLAIN, "--node", "node-7"], env).split("\n\n")[0].splitlines()
    assert len(piped) == 2 and len(piped[1]) > 100


HELP_COMMANDS = [[], ["explain"], ["rollout"], ["rollout", "start"], ["rollout", "plan"], ["rollout", "status"]]


@pytest.mark.parametrize("columns", [60, 100])
@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda words: " ".join(words) or "kubectl-ds")
def test_help_fits_the_terminal(tmp_path: Path, command: list[str], columns: int) -> None:
    out = on_terminal([*command, "--help"], columns, environment(tmp_path))
    too_long = [line for line in out.splitlines() if len(line) > columns]
    assert too_long == []


def test_help_leads_with_examples_and_lists_connection_flags_last(tmp_path: Path) -> None:
    out = on_terminal(["explain", "--help"], 100, environment(tmp_path))
    sections = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert sections == [
        "Usage: kubectl ds explain [OPTIONS] [NAME]",
        "Examples:",
        "Flags:",
        "Output flags:",
        "Scope flags:",
        "Connection flags (also before the subcommand):",
    ]
    assert out.index("Examples:") < out.index("For every node:")
