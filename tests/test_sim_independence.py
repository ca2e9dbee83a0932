"""The cluster simulator shares no code with the plugin it tests.

tests/simulator.py, everything under tests/sim/ and tests/apiserver.py stand in for a real cluster. If they
used kubectl_ds's rules (selectors, taints, budgets ...), a bug there would fool both sides of every end-to-end
test. So no module of the simulator may import kubectl_ds, directly or through another tests/ module it
imports; this parses them (ast) rather than importing them, so that nothing is loaded as a side effect.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = "kubectl_ds"
ENTRY_POINTS = [
    "tests/simulator.py",
    "tests/apiserver.py",
    *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests" / "sim").rglob("*.py")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    """The package relative imports in `path` are resolved against."""
    return module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]


def imported_modules(source: str, package: str) -> set[str]:
    """Every module an import statement names (relative ones resolved against `package`), plus the string
    argument of importlib.import_module(...) and __import__(...) calls."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if callee in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def is_forbidden(module: str) -> bool:
    return module == FORBIDDEN or module.startswith(FORBIDDEN + ".")


def source_file(module: str) -> Path | None:
    """The file of a tests.* module, if it is one of ours."""
    if not module.startswith("tests."):
        return None
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def simulator_modules() -> list[Path]:
    """The entry points and every tests/ module they import, transitively."""
    pending = [ROOT / path for path in ENTRY_POINTS]
    seen: list[Path] = []
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.append(path)
        for module in imported_modules(path.read_text(encoding="utf-8"), package_of(path)):
            found = source_file(module)
            if found is not None and found not in seen:
                pending.append(found)
    return sorted(seen)


@pytest.mark.parametrize("path", simulator_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_simulator_module_does_not_import_the_plugin(path: Path) -> None:
    imported = imported_modules(path.read_text(encoding="utf-8"), package_of(path))
    offending = sorted(module for module in imported if is_forbidden(module))
    assert not offending, f"{path.relative_to(ROOT)} imports {', '.join(offending)}"


def test_the_check_covers_the_whole_simulator() -> None:
    checked = {str(path.relative_to(ROOT)) for path in simulator_modules()}
    assert {
        "tests/simulator.py",
        "tests/apiserver.py",
        "tests/sim/__init__.py",
        "tests/sim/controller.py",
        "tests/sim/labels.py",
        "tests/sim/taints.py",
        "tests/sim/budget.py",
    } <= checked


@pytest.mark.parametrize(
    ("source", "package", "forbidden"),
    [
        pytest.param("import kubectl_ds", "tests", True, id="import"),
        pytest.param("import kubectl_ds.placement.pods as pods", "tests", True, id="import-submodule"),
        pytest.param("from kubectl_ds import resources as r", "tests", True, id="from-import"),
        pytest.param("from kubectl_ds.rollout.budget import allows_surge", "tests.sim", True, id="from-submodule"),
        pytest.param(
            "import importlib\nimportlib.import_module('kubectl_ds.labelselector')",
            "tests",
            True,
            id="import-module-call",
        ),
        pytest.param("__import__('kubectl_ds')", "tests", True, id="dunder-import-call"),
        pytest.param("import kubectl_dsx\nfrom tests.sim import labels", "tests", False, id="similar-names-are-fine"),
        pytest.param("from . import labels", "tests.sim", False, id="relative-import"),
    ],
)
def test_the_check_recognises_plugin_imports(source: str, package: str, forbidden: bool) -> None:
    assert any(is_forbidden(module) for module in imported_modules(source, package)) is forbidden


def test_relative_imports_are_resolved() -> None:
    assert imported_modules("from . import labels\nfrom ..builders import make_node", "tests.sim") >= {
        "tests.sim.labels",
        "tests.builders",
        "tests.builders.make_node",
    }
