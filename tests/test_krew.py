"""The krew manifest and release archive: krew/build.py renders a manifest that krew/validate.py accepts,
and every validate.py rule catches the broken manifest or archive it is there for."""

from __future__ import annotations

import copy
import importlib.util
import io
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import kubectl_ds

REPO = Path(__file__).resolve().parent.parent
KREW = REPO / "krew"
VERSION = "v" + kubectl_ds.__version__  # krew/build.py refuses any other tag

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the wrapper test archive is POSIX-only")


def load_krew_module(name: str) -> ModuleType:
    """krew/<name>.py by path (krew/ is not a package), under the name build.py itself uses."""
    module_name = f"kubectl_ds_krew_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, KREW / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


validate = load_krew_module("validate")
build = load_krew_module("build")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(rendered manifest, archive) from a fresh `krew/build.py --mode wrapper` run (no --version: the default,
    "v" + kubectl_ds.__version__)."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [
            sys.executable,
            str(KREW / "build.py"),
            "--mode",
            "wrapper",
            "--out",
            str(out),
            "--only-this-platform",
            "--file-uri",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    archives = sorted(out.glob(f"kubectl-ds_{VERSION}_*.tar.gz"))
    assert len(archives) == 1, list(out.iterdir())
    return out / "ds.yaml", archives[0]


@pytest.fixture
def manifest(built: tuple[Path, Path]) -> dict[str, Any]:
    loaded: dict[str, Any] = validate.load_manifest(built[0])
    return copy.deepcopy(loaded)


def problems_of(manifest: dict[str, Any], file_name: str = "ds.yaml") -> list[str]:
    found: list[str] = validate.validate_manifest(manifest, file_name=file_name, allow_file_uris=True)
    return found


def repack(archive: Path, target: Path, *, drop: tuple[str, ...] = (), mode: dict[str, int] | None = None) -> Path:
    """A copy of a .tar.gz without the `drop` members and with some modes changed."""
    with tarfile.open(archive, "r:gz") as source, tarfile.open(target, "w:gz") as copied:
        for member in source.getmembers():
            if member.name in drop:
                continue
            member.mode = (mode or {}).get(member.name, member.mode)
            data = source.extractfile(member) if member.isfile() else None
            copied.addfile(member, io.BytesIO(data.read()) if data else None)
    return target


# --- the happy path ------------------------------------------------------------------------------


def test_rendered_manifest_and_archive_are_valid(built: tuple[Path, Path]) -> None:
    manifest_path, archive = built
    manifest = validate.load_manifest(manifest_path)
    assert validate.validate_manifest(manifest, file_name=manifest_path, allow_file_uris=True) == []
    assert validate.validate_archive(manifest, archive) == []
    platform = manifest["spec"]["platforms"][0]
    assert platform["sha256"] == validate.sha256_of(archive)
    assert platform["uri"] == archive.resolve().as_uri()
    assert manifest["spec"]["version"] == VERSION
    assert len(manifest["spec"]["platforms"]) == 1  # --only-this-platform


def test_validate_command_line(built: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    manifest_path, archive = built
    assert validate.main([str(manifest_path), "--archive", str(archive), "--allow-file-uris"]) == 0
    assert validate.main([str(manifest_path)]) == 1  # file:// is refused without the flag
    assert "must be https://" in capsys.readouterr().err


def test_template_is_valid_once_checksums_are_filled() -> None:
    text = (KREW / "ds.yaml").read_text(encoding="utf-8").replace("${VERSION}", VERSION)
    text = re.sub(r"\$\{SHA256_[A-Z0-9_]+\}", "0" * 64, text.replace("${REPOSITORY}", "owner/kubectl-ds"))
    manifest = validate.yaml.safe_load(text)
    assert validate.validate_manifest(manifest, file_name="ds.yaml") == []
    labels = [
        (p["selector"]["matchLabels"]["os"], p["selector"]["matchLabels"]["arch"])
        for p in manifest["spec"]["platforms"]
    ]
    assert sorted(labels) == [
        ("darwin", "amd64"),
        ("darwin", "arm64"),
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("windows", "amd64"),
    ]
    for platform in manifest["spec"]["platforms"]:
        os_name, arch = platform["selector"]["matchLabels"]["os"], platform["selector"]["matchLabels"]["arch"]
        assert platform["uri"].endswith("/" + build.archive_name(VERSION, os_name, arch))
        assert platform["bin"] == build.exe_name(os_name)
    assert len(manifest["spec"]["shortDescription"]) < 50


def test_render_keeps_other_platforms_as_placeholders(built: tuple[Path, Path]) -> None:
    archive = built[1]
    rendered = build.render(
        (KREW / "ds.yaml").read_text(encoding="utf-8"),
        version=VERSION,
        repository="owner/kubectl-ds",
        archives={validate.platform_of_archive(archive): archive},
        file_uris=True,
    )
    assert len(rendered["spec"]["platforms"]) == 5
    assert len(build.unfilled_platforms(rendered)) == 4
    assert rendered["spec"]["homepage"] == "https://github.com/owner/kubectl-ds"


def test_render_only_needs_an_archive_for_every_platform(
    built: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path
    shutil.copy(built[1], out)
    assert build.main(["--version", VERSION, "--render-only", "--out", str(out), "--file-uri"]) == 1
    assert "no archive for platform" in capsys.readouterr().err
    assert (
        build.main(["--version", VERSION, "--render-only", "--out", str(out), "--file-uri", "--only-this-platform"])
        == 0
    )
    rendered = validate.load_manifest(out / "ds.yaml")
    assert validate.validate_manifest(rendered, file_name=out / "ds.yaml", allow_file_uris=True) == []
    assert validate.validate_archive(rendered, out / built[1].name) == []


def test_build_refuses_a_version_without_v(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert build.main(["--version", VERSION.removeprefix("v"), "--mode", "wrapper", "--out", str(tmp_path)]) == 1
    assert "must look like vX.Y.Z" in capsys.readouterr().err


def test_build_refuses_a_tag_other_than_the_package_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert build.main(["--version", "v999.0.0", "--render-only", "--out", str(tmp_path)]) == 1
    assert f"is not the package version {VERSION}" in capsys.readouterr().err
    assert not (tmp_path / "ds.yaml").exists()


def test_build_reads_the_version_from_the_package_source(tmp_path: Path) -> None:
    assert build.package_version() == kubectl_ds.__version__
    init = tmp_path / "__init__.py"
    init.write_text('"""No version here."""\nVERSION = "1.0.0"\n', encoding="utf-8")
    with pytest.raises(build.BuildError, match="no `__version__"):
        build.package_version(init)


# --- each manifest rule catches what it is for ---------------------------------------------------


def _overlapping(manifest: dict[str, Any]) -> None:
    extra = copy.deepcopy(manifest["spec"]["platforms"][0])
    extra["selector"] = {"matchExpressions": [{"key": "os", "operator": "In", "values": ["linux", "darwin"]}]}
    manifest["spec"]["platforms"].append(extra)


BROKEN_MANIFESTS: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "name-mismatch": (lambda m: m["metadata"].update(name="daemonset"), "must equal the file name stem"),
    "version-without-v": (lambda m: m["spec"].update(version="1.2.3"), 'must start with "v"'),
    "version-not-semver": (lambda m: m["spec"].update(version="v0.1"), "not semantic versioning"),
    "uppercase-sha": (
        lambda m: m["spec"]["platforms"][0].update(sha256=m["spec"]["platforms"][0]["sha256"].upper()),
        "64 lowercase hex",
    ),
    "short-sha": (lambda m: m["spec"]["platforms"][0].update(sha256="abc123"), "64 lowercase hex"),
    "overlapping-selectors": (_overlapping, "selectors overlap: linux/"),
    "http-uri": (lambda m: m["spec"]["platforms"][0].update(uri="http://example.com/a.tar.gz"), "must be https://"),
    "no-bin": (lambda m: m["spec"]["platforms"][0].pop("bin"), "bin: required"),
    "no-license-rule": (
        lambda m: m["spec"]["platforms"][0].update(files=[{"from": "kubectl-ds/*", "to": "."}]),
        "no rule extracts a LICENSE",
    ),
    "no-short-description": (lambda m: m["spec"].pop("shortDescription"), "spec.shortDescription: required"),
    "no-description": (lambda m: m["spec"].pop("description"), "spec.description: required"),
    "no-homepage": (lambda m: m["spec"].pop("homepage"), "spec.homepage: required"),
    "long-short-description": (lambda m: m["spec"].update(shortDescription="x" * 60), "keep it under 50"),
    "wrong-kind": (lambda m: m.update(kind="Plugins"), 'kind: must be "Plugin"'),
    "wrong-api-version": (
        lambda m: m.update(apiVersion="krew.googlecontainertools.github.com/v1alpha1"),
        "apiVersion: must be",
    ),
    "windows-bin-without-exe": (
        lambda m: m["spec"]["platforms"][0].update(selector={"matchLabels": {"os": "windows", "arch": "amd64"}}),
        "must end in .exe on windows",
    ),
    "escaping-to": (lambda m: m["spec"]["platforms"][0]["files"][0].update(to="../bin"), "clean relative path"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_MANIFESTS))
def test_each_manifest_rule_catches_its_breakage(manifest: dict[str, Any], case: str) -> None:
    assert problems_of(manifest) == []
    breakage, expected = BROKEN_MANIFESTS[case]
    breakage(manifest)
    problems = problems_of(manifest)
    assert any(expected in problem for problem in problems), problems


def test_name_must_match_the_file_name(manifest: dict[str, Any]) -> None:
    assert any("file name stem" in problem for problem in problems_of(manifest, file_name="kubectl-ds.yaml"))


def test_assert_valid_manifest_raises_with_every_problem(manifest: dict[str, Any]) -> None:
    manifest["spec"]["version"] = "1.2.3"
    manifest["metadata"]["name"] = "other"
    with pytest.raises(validate.ValidationError) as raised:
        validate.assert_valid_manifest(manifest, file_name="ds.yaml", allow_file_uris=True)
    assert len(raised.value.problems) == 2


def test_selectors_that_do_not_overlap_pass(manifest: dict[str, Any]) -> None:
    extra = copy.deepcopy(manifest["spec"]["platforms"][0])
    extra["selector"] = {"matchLabels": {"os": "linux", "arch": "s390x"}}
    manifest["spec"]["platforms"].append(extra)
    assert problems_of(manifest) == []


# --- each archive rule catches what it is for ----------------------------------------------------


def _with_sha(manifest: dict[str, Any], archive: Path) -> dict[str, Any]:
    manifest["spec"]["platforms"][0]["sha256"] = validate.sha256_of(archive)
    return manifest


def test_wrong_sha_is_caught(manifest: dict[str, Any], built: tuple[Path, Path]) -> None:
    manifest["spec"]["platforms"][0]["sha256"] = "0" * 64
    problems = validate.validate_archive(manifest, built[1])
    assert len(problems) == 1 and "sha256 mismatch" in problems[0], problems


def test_archive_without_license_is_caught(manifest: dict[str, Any], built: tuple[Path, Path], tmp_path: Path) -> None:
    archive = repack(built[1], tmp_path / built[1].name, drop=("LICENSE",))
    problems = validate.validate_archive(_with_sha(manifest, archive), archive)
    assert problems == ['files: "from: LICENSE" matches nothing in the archive']


def test_installed_plugin_without_license_is_caught(
    manifest: dict[str, Any], built: tuple[Path, Path], tmp_path: Path
) -> None:
    archive = repack(built[1], tmp_path / built[1].name, drop=("LICENSE",))
    manifest["spec"]["platforms"][0]["files"] = [{"from": "kubectl-ds/*", "to": "."}]
    problems = validate.validate_archive(_with_sha(manifest, archive), archive)
    assert problems == ["no LICENSE file in the installed plugin (after applying files)"]


def test_non_executable_bin_is_caught(manifest: dict[str, Any], built: tuple[Path, Path], tmp_path: Path) -> None:
    archive = repack(built[1], tmp_path / built[1].name, mode={"kubectl-ds/kubectl-ds": 0o644})
    problems = validate.validate_archive(_with_sha(manifest, archive), archive)
    assert len(problems) == 1 and "is not executable" in problems[0], problems


def test_missing_bin_is_caught(manifest: dict[str, Any], built: tuple[Path, Path]) -> None:
    manifest["spec"]["platforms"][0]["bin"] = "kubectl-daemonset"
    problems = validate.validate_archive(manifest, built[1])
    assert problems == ['bin "kubectl-daemonset" is not in the installed plugin (after applying files)']


def test_archive_entries_outside_the_plugin_directory_are_refused(manifest: dict[str, Any], tmp_path: Path) -> None:
    archive = tmp_path / f"kubectl-ds_{VERSION}_linux_amd64.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        info = tarfile.TarInfo("../evil")
        bundle.addfile(info, io.BytesIO(b""))
    problems = validate.validate_archive(_with_sha(manifest, archive), archive, os_name="linux", arch="amd64")
    assert any("outside the plugin directory" in problem for problem in problems), problems


# --- krew's `files` semantics --------------------------------------------------------------------


def test_apply_files_moves_glob_matches_and_renames_single_files(tmp_path: Path) -> None:
    extracted, installed = tmp_path / "x", tmp_path / "i"
    (extracted / "dist" / "_internal").mkdir(parents=True)
    (extracted / "dist" / "tool").write_text("x")
    (extracted / "LICENSE.txt").write_text("license")
    validate.apply_files(
        extracted, installed, [{"from": "dist/*", "to": "."}, {"from": "LICENSE.txt", "to": "LICENSE"}]
    )
    assert sorted(path.name for path in installed.iterdir()) == ["LICENSE", "_internal", "tool"]
    with pytest.raises(validate.ValidationError, match="matches nothing"):
        validate.apply_files(extracted, tmp_path / "again", [{"from": "nothing/*", "to": "."}])
