"""Build the kubectl-ds release archive for this platform and render the krew manifest for it.

    python krew/build.py --out dist/                   # PyInstaller (the release build)
    python krew/build.py --mode wrapper --out dist/    # fast, FOR TESTS ONLY
    python krew/build.py --render-only --out dist/     # manifest for every archive in dist/

The version is kubectl_ds.__version__ (kubectl_ds/__init__.py, the one place it lives), read from the
source, so the package need not be installed; the release tag is "v" + it. --version TAG only checks:
a tag that differs is refused (the archive's executable would report another version than its manifest).

Modes:
  pyinstaller  PyInstaller one-directory build of krew/entry.py, executable named kubectl-ds[.exe]
               (needs `pip install pyinstaller` next to the project's install; ~30 s).
  wrapper      kubectl-ds is a /bin/sh launcher that runs `python -m kubectl_ds` with THIS Python
               environment (absolute path baked in). Only for local tests: not relocatable.
  zipapp       kubectl-ds is a zipapp of the kubectl_ds package whose shebang is THIS Python; its
               dependencies come from this environment. Also only for tests.

Output in --out: kubectl-ds_<version>_<os>_<arch>.tar.gz (.zip on windows), holding kubectl-ds/ (the
executable, plus PyInstaller's _internal/) and LICENSE; and ds.yaml, krew/ds.yaml with ${VERSION},
${REPOSITORY} and the built platform's sha256 filled in (other platforms keep their placeholders,
or are dropped with --only-this-platform). Standard library and PyYAML only.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipapp
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

KREW_DIR = Path(__file__).resolve().parent
REPO_ROOT = KREW_DIR.parent
TEMPLATE = KREW_DIR / "ds.yaml"
ENTRY = KREW_DIR / "entry.py"
LICENSE = REPO_ROOT / "LICENSE"
PACKAGE_INIT = REPO_ROOT / "kubectl_ds" / "__init__.py"
EXE = "kubectl-ds"
DEFAULT_REPOSITORY = "kubectl-ds/kubectl-ds"
MODES = ("pyinstaller", "wrapper", "zipapp")
OS_NAMES = {"linux": "linux", "darwin": "darwin", "win32": "windows", "cygwin": "windows"}
ARCH_NAMES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def _load_validate() -> ModuleType:
    """krew/validate.py, loaded by path (krew/ is not a package; `validate` is too common a name)."""
    name = "kubectl_ds_krew_validate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, KREW_DIR / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


validate = _load_validate()


class BuildError(Exception):
    """A build or render step failed; the message says which and why."""


# --- version -------------------------------------------------------------------------------------


def package_version(init: Path = PACKAGE_INIT) -> str:
    """kubectl_ds.__version__ as written in kubectl_ds/__init__.py (a string literal), without importing it."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        names = [target.id for target in getattr(node, "targets", []) if isinstance(target, ast.Name)]
        value = getattr(node, "value", None)
        if "__version__" in names and isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    raise BuildError(f'{init}: no `__version__ = "..."` string literal')


def release_tag() -> str:
    """The release tag and krew spec.version: "v" + kubectl_ds.__version__."""
    return "v" + package_version()


# --- platform and names --------------------------------------------------------------------------


def current_platform() -> tuple[str, str]:
    """(os, arch) in krew's GOOS/GOARCH words."""
    os_name = OS_NAMES.get(sys.platform)
    arch = ARCH_NAMES.get(platform.machine().lower())
    if os_name is None or arch is None:
        raise BuildError(f"unsupported platform {sys.platform}/{platform.machine()}")
    return os_name, arch


def archive_name(version: str, os_name: str, arch: str) -> str:
    return f"{EXE}_{version}_{os_name}_{arch}" + (".zip" if os_name == "windows" else ".tar.gz")


def exe_name(os_name: str) -> str:
    return EXE + (".exe" if os_name == "windows" else "")


# --- building the kubectl-ds/ directory ----------------------------------------------------------


def build_pyinstaller(app_dir: Path, work: Path) -> None:
    """PyInstaller --onedir; its dist/kubectl-ds/ becomes app_dir."""
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--log-level",
        "WARN",
        "--onedir",
        "--console",
        "--name",
        EXE,
        "--collect-submodules",
        "kubectl_ds",
        "--distpath",
        str(work / "dist"),
        "--workpath",
        str(work / "build"),
        "--specpath",
        str(work),
        str(ENTRY),
    ]
    run(command)
    shutil.move(str(work / "dist" / EXE), str(app_dir))


def build_wrapper(app_dir: Path) -> None:
    """A /bin/sh launcher bound to this interpreter: tests only."""
    app_dir.mkdir(parents=True)
    launcher = app_dir / EXE
    launcher.write_text(
        "#!/bin/sh\n"
        "# kubectl-ds test launcher made by krew/build.py --mode wrapper. FOR TESTS ONLY: it runs the\n"
        "# kubectl_ds installed in the Python environment below and works on no other machine.\n"
        f'exec {shlex.quote(sys.executable)} -m kubectl_ds "$@"\n',
        encoding="utf-8",
    )
    launcher.chmod(0o755)


def build_zipapp(app_dir: Path, work: Path) -> None:
    """The kubectl_ds package as a zipapp run by this interpreter: tests only."""
    import kubectl_ds

    source = work / "zipapp"
    shutil.copytree(
        Path(kubectl_ds.__file__).parent, source / "kubectl_ds", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    app_dir.mkdir(parents=True)
    zipapp.create_archive(source, app_dir / EXE, interpreter=sys.executable, main="kubectl_ds.cli:main")
    (app_dir / EXE).chmod(0o755)


def build_app(mode: str, app_dir: Path, work: Path, os_name: str) -> None:
    if mode != "pyinstaller" and os_name == "windows":
        raise BuildError(f"--mode {mode} makes a POSIX launcher; use --mode pyinstaller on windows")
    if mode == "pyinstaller":
        build_pyinstaller(app_dir, work)
    elif mode == "wrapper":
        build_wrapper(app_dir)
    else:
        build_zipapp(app_dir, work)
    executable = app_dir / exe_name(os_name)
    if not executable.is_file():
        raise BuildError(f"the {mode} build left no {executable}")


def smoke_test(executable: Path) -> None:
    """The built executable starts and reports the package version."""
    result = subprocess.run([str(executable), "--version"], capture_output=True, text=True, check=False)
    if result.returncode != 0 or "kubectl-ds" not in result.stdout:
        raise BuildError(f"{executable} --version failed (exit {result.returncode}): {result.stderr.strip()}")
    if package_version() not in result.stdout.split():
        raise BuildError(f"{executable} --version printed {result.stdout.strip()!r}, not version {package_version()}")


def run(command: list[str]) -> None:
    print("+ " + " ".join(shlex.quote(part) for part in command), file=sys.stderr)
    if subprocess.run(command, check=False).returncode != 0:
        raise BuildError(f"{command[2] if command[1:2] == ['-m'] else command[0]} failed")


# --- packing -------------------------------------------------------------------------------------


def pack(stage: Path, archive: Path) -> None:
    """Everything in stage (kubectl-ds/ and LICENSE) at the archive's top level."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    entries = sorted(stage.iterdir())
    if archive.name.endswith(".zip"):
        _pack_zip(entries, stage, archive)
    else:
        with tarfile.open(archive, "w:gz") as bundle:
            for entry in entries:
                bundle.add(entry, arcname=entry.name, filter=_owned_by_root)


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _pack_zip(entries: list[Path], stage: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for entry in entries:
            for path in [entry, *sorted(entry.rglob("*"))] if entry.is_dir() else [entry]:
                bundle.write(path, path.relative_to(stage).as_posix())


# --- rendering the manifest ----------------------------------------------------------------------


def render(
    template: str,
    *,
    version: str,
    repository: str,
    archives: Mapping[tuple[str, str], Path],
    file_uris: bool = False,
    only_built: bool = False,
) -> dict[str, Any]:
    """The manifest with ${VERSION}/${REPOSITORY} substituted and each archive's platform filled in.

    archives maps (os, arch) to the archive built for it. With file_uris the filled platforms point at
    the local archives (tests only); with only_built the other platforms are dropped.
    """
    text = template.replace("${VERSION}", version).replace("${REPOSITORY}", repository)
    manifest = yaml.safe_load(text)
    filled: list[int] = []
    platforms: list[dict[str, Any]] = manifest["spec"]["platforms"]
    for (os_name, arch), archive in archives.items():
        index = _platform_index(platforms, os_name, arch)
        _fill_platform(platforms[index], archive, file_uri=file_uris)
        filled.append(index)
    if only_built:
        manifest["spec"]["platforms"] = [platforms[index] for index in sorted(set(filled))]
    return dict(manifest)


def _platform_index(platforms: list[dict[str, Any]], os_name: str, arch: str) -> int:
    labels = {"os": os_name, "arch": arch}
    matches = [
        index for index, entry in enumerate(platforms) if validate.selector_matches(entry.get("selector"), labels)
    ]
    if len(matches) != 1:
        raise BuildError(f"the template has {len(matches)} platforms for {os_name}/{arch}; it needs exactly one")
    return matches[0]


def _fill_platform(entry: dict[str, Any], archive: Path, *, file_uri: bool) -> None:
    if file_uri:
        entry["uri"] = archive.resolve().as_uri()
    elif str(entry.get("uri", "")).rsplit("/", 1)[-1] != archive.name:
        raise BuildError(f"the template's uri \"{entry.get('uri')}\" does not end in the archive's name {archive.name}")
    entry["sha256"] = validate.sha256_of(archive)


def unfilled_platforms(manifest: Mapping[str, Any]) -> list[str]:
    platforms = manifest["spec"]["platforms"]
    return [
        validate.platform_label(entry, index)
        for index, entry in enumerate(platforms)
        if not validate.SHA256.match(str(entry.get("sha256", "")))
    ]


def dump_manifest(manifest: Mapping[str, Any], version: str) -> str:
    header = f"# Rendered by krew/build.py from krew/ds.yaml for {version}; edit the template, not this file.\n"
    return header + yaml.dump(
        dict(manifest), Dumper=_BlockDumper, sort_keys=False, width=120, default_flow_style=False, allow_unicode=True
    )


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (description, caveats) as | blocks, as krew-index manifests have them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def archives_in(out: Path, version: str) -> dict[tuple[str, str], Path]:
    """The release archives for version already in out, by (os, arch)."""
    found = {}
    for path in sorted(out.glob(f"{EXE}_{version}_*")):
        if path.name.endswith((".tar.gz", ".zip")):
            found[validate.platform_of_archive(path)] = path
    if not found:
        raise BuildError(f"no {EXE}_{version}_<os>_<arch> archives in {out}")
    return found


# --- the command ---------------------------------------------------------------------------------


def build(version: str, mode: str, out: Path) -> Path:
    """Build this platform's archive into out; returns its path."""
    os_name, arch = current_platform()
    archive = out / archive_name(version, os_name, arch)
    with tempfile.TemporaryDirectory(prefix="kubectl-ds-build-") as scratch:
        stage, work = Path(scratch) / "stage", Path(scratch) / "work"
        stage.mkdir()
        work.mkdir()
        build_app(mode, stage / EXE, work, os_name)
        smoke_test(stage / EXE / exe_name(os_name))
        shutil.copyfile(LICENSE, stage / "LICENSE")
        pack(stage, archive)
    return archive


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", help="release tag; must be v + kubectl_ds.__version__ (the default)")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="pyinstaller",
        help="pyinstaller (release), or wrapper/zipapp (tests only); default: pyinstaller",
    )
    parser.add_argument("--out", type=Path, default=Path("dist"), help="output directory (default: dist)")
    parser.add_argument(
        "--repository",
        default=os.environ.get("GITHUB_REPOSITORY") or DEFAULT_REPOSITORY,
        help="GitHub owner/name for ${REPOSITORY} (default: $GITHUB_REPOSITORY or %(default)s)",
    )
    parser.add_argument("--template", type=Path, default=TEMPLATE, help="manifest template (default: krew/ds.yaml)")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="build nothing: render the manifest from every archive for --version in --out",
    )
    parser.add_argument("--only-this-platform", action="store_true", help="drop the platforms not built")
    parser.add_argument("--file-uri", action="store_true", help="point uri at the local archive (tests only)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.version is None:
            args.version = release_tag()
        if not validate.SEMVER.match(args.version):
            raise BuildError(f'--version "{args.version}" must look like vX.Y.Z (krew requires the v and semver)')
        if args.version != release_tag():
            raise BuildError(
                f'--version "{args.version}" is not the package version {release_tag()} '
                "(kubectl_ds/__init__.py __version__, the one place the version lives)"
            )
        if args.render_only:
            archives = archives_in(args.out, args.version)
        else:
            archive = build(args.version, args.mode, args.out)
            archives = {validate.platform_of_archive(archive): archive}
            print(f"built {archive} sha256 {validate.sha256_of(archive)}")
        manifest = render(
            args.template.read_text(encoding="utf-8"),
            version=args.version,
            repository=args.repository,
            archives=archives,
            file_uris=args.file_uri,
            only_built=args.only_this_platform,
        )
        missing = unfilled_platforms(manifest)
        if missing and args.render_only:
            raise BuildError(f"no archive for {', '.join(missing)} in {args.out}")
        target = args.out / "ds.yaml"
        target.write_text(dump_manifest(manifest, args.version), encoding="utf-8")
        print(f"rendered {target}" + (f" (still placeholders: {', '.join(missing)})" if missing else ""))
    except (BuildError, OSError, validate.ValidationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
