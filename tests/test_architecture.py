"""The architecture, checked (docs/architecture.md): the layers import only downwards, only kube/ does
I/O (the API server, files) and imports the kubernetes client, only cli.py and commands/ import click or
touch the process (argv, stdin, signals, the clock), and `kubectl ds --help` does not load the client."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kubectl_ds"

# Layer of each module, top to bottom: a module may import its own layer and the layers this table lists
# for it. The base is what every layer shares: plain-dict accessors, errors, the strategy facts, label
# selectors, and the render layer's two leaves (text helpers and the JSON/YAML writer).
BASE = {
    "__init__.py",
    "resources.py",
    "errors.py",
    "strategy.py",
    "labelselector.py",
    "reader.py",
    "render/text.py",
    "render/output.py",
}
MAY_IMPORT = {
    "cli": {"commands", "base"},
    "commands": {"render", "rollout", "placement", "kube", "base"},
    "render": {"rollout", "placement", "base"},
    "rollout": {"placement", "base"},
    "placement": {"base"},
    "kube": {"base"},
    "base": set(),
}
# No module outside kube/ reads files or talks to the network or other processes.
IO_MODULES = {
    "socket",
    "ssl",
    "http",
    "urllib",
    "urllib3",
    "requests",
    "subprocess",
    "shutil",
    "tempfile",
    "kubernetes",
    "pathlib",
    "io",
}
# Pure layers do not touch the process either: no terminal, environment, signals, sleeping or clock.
PROCESS_MODULES = {
    "click",
    "os",
    "sys",
    "signal",
    "time",
    "threading",
}
PURE_LAYERS = {"render", "rollout", "placement", "base"}


def layer_of(relative: str) -> str:
    if relative in BASE:
        return "base"
    if relative in ("cli.py", "__main__.py"):
        return "cli"
    top = relative.split("/", 1)[0]
    return top if top in MAY_IMPORT else top.removesuffix(".py")


def module_file(dotted: str) -> str:
    """`kubectl_ds.rollout.plan` -> "rollout/plan.py"; a package -> its __init__.py."""
    parts = dotted.split(".")[1:]
    path = PACKAGE.joinpath(*parts)
    if path.is_dir():
        return "/".join([*parts, "__init__.py"])
    return "/".join(parts) + ".py" if parts else "__init__.py"


def project_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kubectl_ds":
            found.add(module_file(node.module))
            for alias in node.names:  # `from kubectl_ds.rollout import state` imports a module too
                candidate = module_file(f"{node.module}.{alias.name}")
                if (PACKAGE / candidate).exists():
                    found.add(candidate)
        elif isinstance(node, ast.Import):
            found.update(module_file(a.name) for a in node.names if a.name.split(".")[0] == "kubectl_ds")
    return found


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def calls(path: Path) -> set[str]:
    """Names called as `f(...)` or `x.f(...)`: enough to spot open(), print(), input() and datetime.now()."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                names.add(node.func.id)
            elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                names.add(f"{node.func.value.id}.{node.func.attr}")
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


def relative(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


@pytest.mark.parametrize("module", MODULES, ids=relative)
def test_layers_import_only_downwards(module: Path) -> None:
    layer = layer_of(relative(module))
    allowed = MAY_IMPORT[layer] | {layer}
    wrong = {target for target in project_imports(module) if layer_of(target) not in allowed}
    assert not wrong, f"{relative(module)} ({layer}) imports {sorted(wrong)}; it may import {sorted(allowed)}"


@pytest.mark.parametrize("module", [m for m in MODULES if layer_of(relative(m)) != "kube"], ids=relative)
def test_only_kube_does_io(module: Path) -> None:
    assert not imported_roots(module) & IO_MODULES
    assert not calls(module) & {"open", "input"}


@pytest.mark.parametrize("module", [m for m in MODULES if layer_of(relative(m)) in PURE_LAYERS], ids=relative)
def test_pure_layers_do_not_touch_the_process(module: Path) -> None:
    assert not imported_roots(module) & PROCESS_MODULES
    assert not calls(module) & {"print", "datetime.now", "time.time", "time.sleep"}


@pytest.mark.parametrize("module", [m for m in MODULES if layer_of(relative(m)) != "kube"], ids=relative)
def test_only_kube_package_imports_kubernetes(module: Path) -> None:
    assert "kubernetes" not in imported_roots(module)


@pytest.mark.parametrize(
    "module", [m for m in MODULES if layer_of(relative(m)) not in ("cli", "commands")], ids=relative
)
def test_only_cli_and_commands_import_click(module: Path) -> None:
    assert "click" not in imported_roots(module)


def test_no_module_is_over_450_lines() -> None:
    long = {relative(m): n for m in MODULES if (n := len(m.read_text().splitlines())) > 450}
    assert not long


def test_the_checks_see_a_violation() -> None:
    """The layer check is not vacuous: placement importing rollout would be caught."""
    assert "rollout" not in MAY_IMPORT["placement"]
    assert layer_of(module_file("kubectl_ds.rollout.plan")) == "rollout"
    assert module_file("kubectl_ds.render.text") in BASE


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["explain", "--help"],
        ["node", "--help"],
        ["rollout", "start", "--help"],
        ["rollout", "status", "--help"],
        ["rollout", "undo", "--help"],
    ],
    ids=lambda args: " ".join(args),
)
def test_help_does_not_import_the_kubernetes_client(args: list[str]) -> None:
    """Nor anything else only a command's run needs: YAML, TLS, HTTP; and for `kubectl ds --help` and
    `kubectl ds explain --help`, the judging and rendering layers either (the `kubectl ds --help` budget is
    150 ms, and each of these costs tens of milliseconds; other commands' help imports their own module)."""
    heavy = ["kubernetes", "urllib3", "yaml", "ssl", "http.client", "tabulate", "kubectl_ds.kube.cluster"]
    strict = args in (["--help"], ["explain", "--help"])
    layers = ("kubectl_ds.placement", "kubectl_ds.render.") if strict else ("kubernetes.",)
    code = (
        "import sys, contextlib, io\n"
        "from kubectl_ds.cli import run_cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert run_cli({args!r}) == 0\n"
        f"layers = {layers!r}\n"
        "leaf = 'kubectl_ds.render.table'  # TableStyle, for the output flags: small and dependency-free\n"
        f"print([m for m in sys.modules if m in {heavy!r} or (m.startswith(layers) and m != leaf)])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_lazy_commands_short_help_is_their_own() -> None:
    """`kubectl ds --help` lists the commands from cli.COMMANDS without importing them: what it says of each
    must be what the command itself says."""
    import importlib

    from kubectl_ds.cli import COMMANDS

    for name, entry in COMMANDS.items():
        command = getattr(importlib.import_module(entry.module), entry.attribute)
        assert (command.name, command.short_help) == (name, entry.short_help)
