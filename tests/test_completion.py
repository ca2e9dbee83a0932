"""kubectl's plugin completion protocol: `kubectl-ds __complete ARGS... WORD` prints one candidate a line
(value, tab, help) and then `:<directive>` (4: no file completion), as cobra's __complete does."""

from __future__ import annotations

import pytest

from tests.conftest import Invoke


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param(["ex"], "explain\tExplain where a DaemonSet's pods run, and why not.\n:4\n", id="subcommand"),
        pytest.param(
            ["rollout", "res"],
            "restart\tRestart every pod of a DaemonSet.\nresume\tContinue a managed rollout "
            "(or un-park a paused one).\n:4\n",
            id="rollout-subcommands",
        ),
        pytest.param(
            ["explain", "--prob"],
            "--problems\tOnly the nodes (without NAME: the DaemonSets) that need attention.\n:4\n",
            id="flag",
        ),
    ],
)
def test_complete(invoke: Invoke, words: list[str], expected: str) -> None:
    result = invoke("__complete", *words)
    assert (result.exit_code, result.stdout) == (0, expected)
