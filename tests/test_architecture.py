"""The architecture, checked: pure modules do no I/O-library imports, only kube/ imports kubernetes,
only cli.py and commands/ import click, and `kubectl ds --help` does not load the kubernetes client."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kubectl_ds"
PURE = ["placement", "render.py", "resources.py", "labelselector.py", "reader.py", "errors.py",
        "rollout/budget.py", "rollout/plan.py", "rollout/progress.py", "rollout/state.py", "rollout/history.py",
        "rollout/status.py",
        # The runner is the one impure module outside kube/, but it reaches the cluster only through the
        # RolloutCluster protocol it is given: no client or CLI library either.
        "rollout/runner.py"]


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def modules(*relative: str) -> list[Path]:
    found: list[Path] = []
    for item in relative:
        target = PACKAGE / item
        found.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return found


@pytest.mark.parametrize("module", modules(*PURE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_module_imports_neither_kubernetes_nor_click(module: Path) -> None:
    assert not imported_roots(module) & {"kubernetes", "click", "urllib3"}


@pytest.mark.parametrize("module", [p for p in modules(".") if "kube" not in p.relative_to(PACKAGE).parts],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_kube_package_imports_kubernetes(module: Path) -> None:
    assert "kubernetes" not in imported_roots(module)


@pytest.mark.parametrize("module", [p for p in modules(".")
                                    if p.name != "cli.py" and "commands" not in p.relative_to(PACKAGE).parts],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_cli_and_commands_import_click(module: Path) -> None:
    assert "click" not in imported_roots(module)


@pytest.mark.parametrize("args", [["--help"], ["explain", "--help"], ["rollout", "start", "--help"]],
                         ids=lambda args: " ".join(args))
def test_help_does_not_import_the_kubernetes_client(args: list[str]) -> None:
    code = ("import sys, contextlib, io\n"
            "from kubectl_ds.cli import run_cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert run_cli({args!r}) == 0\n"
            "print('kubernetes' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
