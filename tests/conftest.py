"""Shared fixtures: run the CLI in-process (through the same error boundary as the real executable),
and point it at the project's test API server over real HTTP."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubectl_ds.cli import run_cli

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DUMP = REPO / "examples" / "cluster.yaml"


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


Invoke = Callable[..., CliResult]


class TerminalOutput(io.StringIO):
    """Captured output that, like a terminal, declares an encoding (StringIO has none)."""

    def __init__(self, encoding: str) -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run `kubectl ds ARGS...` in-process; stdin can be given as text."""

    def run(*args: str, stdin: str = "", encoding: str = "utf-8") -> CliResult:
        out, err = TerminalOutput(encoding), TerminalOutput(encoding)
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_cli(list(args))
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No KUBECONFIG and an empty HOME, so no test reads the developer's own kubeconfig."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def apiserver(isolated_env: Path) -> Iterator[object]:
    from tests.apiserver import ApiServer

    server = ApiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
