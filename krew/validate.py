"""Check a rendered krew manifest (and optionally a release archive) against krew-index's rules.

Importable (tests, krew/build.py) and runnable:

    python krew/validate.py dist/ds.yaml
    python krew/validate.py dist/ds.yaml --archive dist/kubectl-ds_vX.Y.Z_linux_amd64.tar.gz
    python krew/validate.py dist/ds.yaml --allow-file-uris      # test manifests with file:// URIs

The checks mirror what krew-index CI enforces: apiVersion/kind, metadata.name equal to the file
name, a v-prefixed semver version, 64-lowercase-hex sha256s, https URIs, non-overlapping platform
selectors, a bin per platform (.exe on Windows), and `files` that extract a LICENSE; for an
archive: its sha256, and the bin (executable) and LICENSE after applying the `files` rules the way
krew does. Every function returns a list of problems (empty = valid); ValidationError carries them.
Standard library and PyYAML only.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import posixpath
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

API_VERSION = "krew.googlecontainertools.github.com/v1alpha2"
KIND = "Plugin"
SEMVER = re.compile(
    r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_SHORT_DESCRIPTION = 50  # krew-index guideline: shorter than 50 characters
LICENSE_NAMES = ("LICENSE", "LICENCE", "COPYING")
# The os/arch pairs krew-index checks selectors against (krew labels: os=GOOS, arch=GOARCH).
OSES = ("linux", "darwin", "windows")
ARCHES = ("386", "amd64", "arm", "arm64", "ppc64le", "s390x")
ARCHIVE_NAME = re.compile(r"^kubectl-ds_(?P<version>v[^_]+)_(?P<os>[a-z]+)_(?P<arch>[a-z0-9]+)\.(tar\.gz|zip)$")
DEFAULT_FILES: list[dict[str, str]] = [{"from": "*", "to": "."}]  # krew's default when `files` is absent


class ValidationError(Exception):
    """A manifest or archive that krew-index would reject; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# --- loading -------------------------------------------------------------------------------------


def load_manifest(path: str | Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValidationError([f"{path}: not a YAML mapping"])
    return data


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- selectors -----------------------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A Kubernetes LabelSelector (matchLabels + matchExpressions) against labels; empty matches all."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != str(value):
            return False
    return all(_expression_matches(expression, labels) for expression in selector.get("matchExpressions") or [])


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = str(expression.get("key")), expression.get("operator")
    values = [str(value) for value in expression.get("values") or []]
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False


def platform_label(platform: Mapping[str, Any], index: int) -> str:
    labels = (platform.get("selector") or {}).get("matchLabels") or {}
    return f"platform {index} ({labels.get('os', '?')}/{labels.get('arch', '?')})"


def platforms_for(manifest: Mapping[str, Any], os_name: str, arch: str) -> list[dict[str, Any]]:
    """The platforms whose selector matches os/arch (krew picks the first; valid manifests have <= 1)."""
    labels = {"os": os_name, "arch": arch}
    return [platform for platform in _platforms(manifest) if selector_matches(platform.get("selector"), labels)]


def _platforms(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    platforms = (manifest.get("spec") or {}).get("platforms") or []
    return [platform for platform in platforms if isinstance(platform, dict)]


# --- manifest rules ------------------------------------------------------------------------------


def validate_manifest(
    manifest: Mapping[str, Any], *, file_name: str | Path | None = None, allow_file_uris: bool = False
) -> list[str]:
    """Every rule krew-index CI applies to a manifest; returns the problems found."""
    problems = _check_header(manifest, file_name) + _check_spec(manifest.get("spec") or {})
    platforms = _platforms(manifest)
    if not platforms:
        problems.append("spec.platforms: at least one platform is required")
    for index, platform in enumerate(platforms):
        problems += [
            f"{platform_label(platform, index)}: {problem}"
            for problem in _check_platform(platform, allow_file_uris=allow_file_uris)
        ]
    return problems + _check_overlaps(platforms)


def assert_valid_manifest(manifest: Mapping[str, Any], **kwargs: Any) -> None:
    problems = validate_manifest(manifest, **kwargs)
    if problems:
        raise ValidationError(problems)


def _check_header(manifest: Mapping[str, Any], file_name: str | Path | None) -> list[str]:
    problems = []
    if manifest.get("apiVersion") != API_VERSION:
        problems.append(f'apiVersion: must be "{API_VERSION}", got "{manifest.get("apiVersion")}"')
    if manifest.get("kind") != KIND:
        problems.append(f'kind: must be "{KIND}", got "{manifest.get("kind")}"')
    name = (manifest.get("metadata") or {}).get("name")
    if not name:
        problems.append("metadata.name: required")
    elif file_name is not None and Path(file_name).stem != name:
        problems.append(f'metadata.name: "{name}" must equal the file name stem "{Path(file_name).stem}"')
    return problems


def _check_spec(spec: Mapping[str, Any]) -> list[str]:
    problems = []
    version = str(spec.get("version") or "")
    if not version.startswith("v"):
        problems.append(f'spec.version: "{version}" must start with "v" (vX.Y.Z)')
    elif not SEMVER.match(version):
        problems.append(f'spec.version: "{version}" is not semantic versioning (vMAJOR.MINOR.PATCH)')
    for field in ("shortDescription", "description", "homepage"):
        if not str(spec.get(field) or "").strip():
            problems.append(f"spec.{field}: required")
    short = str(spec.get("shortDescription") or "")
    if len(short) >= MAX_SHORT_DESCRIPTION:
        problems.append(f"spec.shortDescription: {len(short)} characters; keep it under {MAX_SHORT_DESCRIPTION}")
    homepage = str(spec.get("homepage") or "")
    if homepage and not homepage.startswith(("https://", "http://")):
        problems.append(f'spec.homepage: "{homepage}" is not a URL')
    return problems


def _check_platform(platform: Mapping[str, Any], *, allow_file_uris: bool) -> list[str]:
    problems = []
    uri = str(platform.get("uri") or "")
    allowed = ("https://", "file://") if allow_file_uris else ("https://",)
    if not uri.startswith(allowed):
        problems.append(f'uri: "{uri}" must be https://' + (" or file://" if allow_file_uris else ""))
    sha = platform.get("sha256")
    if not isinstance(sha, str) or not SHA256.match(sha):
        problems.append(f'sha256: "{sha}" must be 64 lowercase hex characters')
    if not isinstance(platform.get("selector"), dict):
        problems.append("selector: required (matchLabels os/arch)")
    problems += _check_bin(platform)
    return problems + _check_files(platform)


def _check_bin(platform: Mapping[str, Any]) -> list[str]:
    bin_name = str(platform.get("bin") or "")
    if not bin_name:
        return ["bin: required"]
    problems = []
    if bin_name != posixpath.normpath(bin_name) or bin_name.startswith(("/", "..")):
        problems.append(f'bin: "{bin_name}" must be a clean path inside the plugin directory')
    windows_only = not platform_matches_os(platform, {"linux", "darwin"}) and platform_matches_os(platform, {"windows"})
    if windows_only and not bin_name.endswith(".exe"):
        problems.append(f'bin: "{bin_name}" must end in .exe on windows')
    return problems


def platform_matches_os(platform: Mapping[str, Any], oses: Iterable[str]) -> bool:
    return any(
        selector_matches(platform.get("selector"), {"os": os_name, "arch": arch}) for os_name in oses for arch in ARCHES
    )


def _check_files(platform: Mapping[str, Any]) -> list[str]:
    files = platform.get("files")
    operations = DEFAULT_FILES if files is None else files
    if not isinstance(operations, list):
        return ["files: must be a list of {from, to}"]
    problems = []
    for index, operation in enumerate(operations):
        source, target = str(operation.get("from") or ""), str(operation.get("to") or "")
        if not source or not target:
            problems.append(f"files[{index}]: needs both from and to")
        elif target != posixpath.normpath(target) or target.startswith(("/", "..")):
            problems.append(f'files[{index}].to: "{target}" must be a clean relative path')
    if not any(_extracts_license(str(operation.get("from") or "")) for operation in operations):
        problems.append("files: no rule extracts a LICENSE file")
    return problems


def _extracts_license(source: str) -> bool:
    """`from` takes a top-level LICENSE (e.g. LICENSE, *) or names one (e.g. docs/LICENSE.txt)."""
    named = posixpath.basename(source).upper()
    return any(fnmatch.fnmatchcase(name, source.removeprefix("./")) for name in LICENSE_NAMES) or any(
        name in named for name in LICENSE_NAMES
    )


def _check_overlaps(platforms: list[dict[str, Any]]) -> list[str]:
    problems = []
    for os_name in OSES:
        for arch in ARCHES:
            labels = {"os": os_name, "arch": arch}
            matching = [
                platform_label(platform, index)
                for index, platform in enumerate(platforms)
                if selector_matches(platform.get("selector"), labels)
            ]
            if len(matching) > 1:
                problems.append(f"selectors overlap: {os_name}/{arch} matches {' and '.join(matching)}")
    return problems


# --- archives ------------------------------------------------------------------------------------


def platform_of_archive(path: str | Path) -> tuple[str, str]:
    """(os, arch) from a build.py archive name: kubectl-ds_<version>_<os>_<arch>.tar.gz|zip."""
    match = ARCHIVE_NAME.match(Path(path).name)
    if not match:
        raise ValidationError([f"{Path(path).name}: not named kubectl-ds_<version>_<os>_<arch>.tar.gz|zip"])
    return match["os"], match["arch"]


def validate_archive(
    manifest: Mapping[str, Any], archive: str | Path, *, os_name: str | None = None, arch: str | None = None
) -> list[str]:
    """Install `archive` the way krew would for os/arch (default: from its name) and check the result."""
    if os_name is None or arch is None:
        os_name, arch = platform_of_archive(archive)
    platforms = platforms_for(manifest, os_name, arch)
    if not platforms:
        return [f"no platform matches os={os_name} arch={arch}"]
    platform = platforms[0]
    problems = []
    actual = sha256_of(archive)
    if platform.get("sha256") != actual:
        problems.append(
            f'sha256 mismatch for {Path(archive).name}: manifest has "{platform.get("sha256")}", archive is "{actual}"'
        )
    with tempfile.TemporaryDirectory(prefix="krew-validate-") as scratch:
        extracted, installed = Path(scratch) / "extracted", Path(scratch) / "installed"
        try:
            extract_archive(archive, extracted)
            apply_files(extracted, installed, platform.get("files"))
        except ValidationError as error:
            return problems + error.problems
        problems += check_installed(installed, str(platform.get("bin") or ""), os_name=os_name)
    return problems


def check_installed(installed: Path, bin_name: str, *, os_name: str) -> list[str]:
    """The bin exists and is executable, and a LICENSE sits in the plugin's install directory."""
    problems = []
    executable = installed / bin_name
    if not executable.is_file():
        problems.append(f'bin "{bin_name}" is not in the installed plugin (after applying files)')
    elif os_name != "windows" and not os.stat(executable).st_mode & 0o111:
        problems.append(f'bin "{bin_name}" is not executable (mode {oct(os.stat(executable).st_mode & 0o777)})')
    if not any(path.is_file() and path.name.upper().startswith(LICENSE_NAMES) for path in installed.iterdir()):
        problems.append("no LICENSE file in the installed plugin (after applying files)")
    return problems


def extract_archive(archive: str | Path, target: Path) -> None:
    """Unpack a .tar.gz or .zip, refusing entries that would land outside `target`."""
    target.mkdir(parents=True, exist_ok=True)
    name = Path(archive).name
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as bundle:
            _refuse_escapes(target, bundle.namelist())
            for info in bundle.infolist():
                bundle.extract(info, target)
                mode = info.external_attr >> 16
                if mode and not info.is_dir():
                    os.chmod(target / info.filename, mode & 0o777)
    elif name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive, "r:gz") as bundle:
            _refuse_escapes(target, bundle.getnames())
            if hasattr(tarfile, "data_filter"):
                bundle.extractall(target, filter="data")
            else:  # Python < 3.10.12: the names were checked above
                bundle.extractall(target)
    else:
        raise ValidationError([f"{name}: unsupported archive type (krew takes .tar.gz and .zip)"])


def _refuse_escapes(target: Path, names: Iterable[str]) -> None:
    root = target.resolve()
    for member in names:
        if not (target / member).resolve().is_relative_to(root):
            raise ValidationError([f'archive entry "{member}" would be extracted outside the plugin directory'])


def apply_files(extracted: Path, installed: Path, files: list[Mapping[str, Any]] | None) -> None:
    """krew's `files` semantics: each `from` glob (relative to the archive root) is moved into `to`.

    A `from` that names one file exactly (no glob) may be renamed: it lands at `to` unless `to` is an
    existing directory. Glob matches keep their base name under `to`. A rule that matches nothing
    fails the install, as in krew.
    """
    installed.mkdir(parents=True, exist_ok=True)
    for operation in DEFAULT_FILES if files is None else files:
        source, target = str(operation.get("from") or ""), str(operation.get("to") or ".")
        destination = (installed / target).resolve()
        if not destination.is_relative_to(installed.resolve()):
            raise ValidationError([f'files: "to: {target}" leaves the plugin directory'])
        direct = extracted / source
        if not _has_glob(source) and direct.is_file():
            moved = destination / direct.name if destination.is_dir() else destination
            moved.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(direct), str(moved))
            continue
        matches = sorted(extracted.glob(source))
        if not matches:
            raise ValidationError([f'files: "from: {source}" matches nothing in the archive'])
        destination.mkdir(parents=True, exist_ok=True)
        for match in matches:
            shutil.move(str(match), str(destination / match.name))


def _has_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


# --- command line --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate a rendered krew manifest (and release archives).")
    parser.add_argument("manifest", help="the rendered manifest, e.g. dist/ds.yaml")
    parser.add_argument("--archive", action="append", default=[], help="also check this archive (repeatable)")
    parser.add_argument("--os", dest="os_name", help="platform os of the archive (default: from its name)")
    parser.add_argument("--arch", help="platform arch of the archive (default: from its name)")
    parser.add_argument("--allow-file-uris", action="store_true", help="accept file:// URIs (tests only)")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
        problems = validate_manifest(manifest, file_name=args.manifest, allow_file_uris=args.allow_file_uris)
        for archive in args.archive:
            problems += [
                f"{Path(archive).name}: {problem}"
                for problem in validate_archive(manifest, archive, os_name=args.os_name, arch=args.arch)
            ]
    except (OSError, yaml.YAMLError, ValidationError) as error:
        problems = error.problems if isinstance(error, ValidationError) else [str(error)]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print(f"{args.manifest}: valid" + "".join(f", {Path(a).name}: valid" for a in args.archive))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
