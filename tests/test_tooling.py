"""Tooling that cannot drift: the version lives in one place (kubectl_ds/__init__.py), GitHub's CI runs
exactly .ci/run, and every action a workflow uses is pinned to a commit, the same one everywhere.
(actionlint and zizmor, run by .ci/run, check the workflows themselves.)"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubectl_ds

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
# Where a copy of the version would be a second place for it to live (tests may use it as data).
VERSIONED_FILES = ["README.md", "pyproject.toml", ".ci/run", "krew/*", ".github/**/*", "examples/*", "bench/*"]
# Lines that pin another tool's version, which may one day equal ours.
OTHER_TOOLS = re.compile(r"==|uses:|^\s*[A-Z_]+_VERSION:")
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>\S+)(?:\s+#\s+(?P<tag>\S+))?\s*$")


def load_workflow(path: Path) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return workflow


# --- the version -------------------------------------------------------------------------------------


def test_pyproject_reads_the_version_from_the_package() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "kubectl_ds.__version__"}


def test_installed_metadata_carries_the_package_version() -> None:
    try:
        installed = importlib.metadata.version("kubectl-ds")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("kubectl-ds is not installed (pip install -e .)")
    assert installed == kubectl_ds.__version__, "stale install metadata: pip install -e . again"


def test_the_version_is_written_nowhere_else() -> None:
    literal = re.compile(r"(?<![\w.])v?" + re.escape(kubectl_ds.__version__) + r"(?![\w.])")
    files = sorted({path for pattern in VERSIONED_FILES for path in REPO.glob(pattern) if path.is_file()})
    assert files
    copies = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if literal.search(line) and not OTHER_TOOLS.search(line)
    ]
    assert copies == [], "write vX.Y.Z, or read kubectl_ds.__version__"


# --- the workflows -----------------------------------------------------------------------------------


def test_ci_workflow_runs_exactly_ci_run_on_every_supported_python() -> None:
    workflow = load_workflow(REPO / ".github" / "workflows" / "ci.yml")
    for name, job in workflow["jobs"].items():
        runs = [step["run"].strip() for step in job["steps"] if "run" in step]
        assert runs == ["bash .ci/run"], f"ci.yml job {name}: put commands in .ci/run, not in the workflow"
        pythons = job["strategy"]["matrix"]["python"]
        setup = [step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@")]
        assert [step["with"]["python-version"] for step in setup] == ["${{ matrix.python }}"]
        assert pythons == sorted(pythons, key=lambda v: tuple(map(int, v.split("."))))
        minimum = re.search(r'requires-python = ">=(\d+\.\d+)"', (REPO / "pyproject.toml").read_text(encoding="utf-8"))
        assert minimum and pythons[0] == minimum.group(1), "the matrix starts at requires-python's minimum"


def test_every_action_is_pinned_to_a_commit_with_its_tag() -> None:
    uses = [
        (path.name, line)
        for path in WORKFLOWS
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"^\s*(-\s+)?uses:", line)
    ]
    assert uses
    pins: dict[str, set[tuple[str, str | None]]] = {}
    for name, line in uses:
        match = PINNED_USES.match(line)
        assert match, f"{name}: cannot read {line.strip()!r}"
        assert re.fullmatch(r"[0-9a-f]{40}", match["sha"]), f"{name}: {line.strip()} is not pinned to a commit"
        assert match["tag"] and re.fullmatch(r"v\d+\.\d+\.\d+", match["tag"]), f"{name}: {line.strip()} needs # vX.Y.Z"
        pins.setdefault(match["action"], set()).add((match["sha"], match["tag"]))
    assert {action: pin for action, pin in pins.items() if len(pin) > 1} == {}, "one pin per action in every workflow"
