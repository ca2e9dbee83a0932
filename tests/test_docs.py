"""docs/rules.md is the one place the Kubernetes rules are written down; citations must lead there, or upstream.

(a) every `docs/rules.md#<anchor>` cited in the code (and in the docs themselves) names a heading that exists,
    by GitHub's anchor rules, and so does every rule ID written alone in a short comment (`# r-budget`);
(b) nothing in the code or the krew files cites a document outside the repository: the reference files the
    rules were first collected in, their bare section numbers, or an absolute path on a developer's machine;
(c) every module, function and test that docs/rules.md names exists.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "rules.md"
CODE_DIRS = ("kubectl_ds", "tests", "bench")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".json", ".cfg", ".ini", ".sh"}

# Spelled in pieces so that this file does not match its own patterns.
OUTSIDE_REFERENCES = (
    ("the old semantics reference", "daemonset-" + "semantics.md"),
    ("the old test-case reference", "daemonset-" + "cases.md"),
    ("an absolute path", "/" + "work/"),
    ("a bare section number of the old reference", "\u00a7"),
)

CITATION = re.compile(r"docs/rules\.md#([A-Za-z0-9_-]+)")
LOCAL_LINK = re.compile(r"\]\(#([A-Za-z0-9_-]+)\)")
RULE_ID = re.compile(r"(?<![\w-])([Rr]-[a-z][a-z-]*[a-z])")
# A repository path at the start of a word (so `pkg/.../tests/x.go` upstream never matches), optionally
# followed by `::name` (a test, function, class or Class.method).
REPO_PATH = re.compile(r"(?<![\w/.-])((?:kubectl_ds|tests|bench|krew)/[\w/.-]*\w)(?:::([\w.]+))?")


def text_files(*dirs: str) -> list[Path]:
    files = []
    for name in dirs:
        for path in sorted((ROOT / name).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
                files.append(path)
    return files


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub generates for the headings: lowercase, punctuation dropped, spaces to hyphens,
    and `-1`, `-2`, ... appended to repeats."""
    anchors: set[str] = set()
    seen: Counter[str] = Counter()
    in_fence = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if in_fence or not match:
            continue
        text = re.sub(r"[`*_]|<[^>]*>", "", match.group(1))
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        anchors.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return anchors


def test_github_anchor_rules() -> None:
    assert github_anchors("## R-predicate\n### Test cases\n## A `code` heading: with, punctuation!\n## Test cases") == {
        "r-predicate",
        "test-cases",
        "a-code-heading-with-punctuation",
        "test-cases-1",
    }


# --- (a) ------------------------------------------------------------------------------------------------


def test_every_cited_anchor_exists() -> None:
    anchors = github_anchors(RULES.read_text(encoding="utf-8"))
    missing = []
    for path in text_files(*CODE_DIRS, "docs") + [ROOT / "README.md"]:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path == RULES:
            patterns: tuple[re.Pattern[str], ...] = (LOCAL_LINK,)
        elif path.parent.name == "docs":
            patterns = (CITATION,)
        else:
            patterns = (CITATION, RULE_ID)
        for number, line in enumerate(text.splitlines(), 1):
            for pattern in patterns:
                missing += [
                    f"{path.relative_to(ROOT)}:{number}: #{anchor}"
                    for anchor in pattern.findall(line)
                    if anchor.lower() not in anchors
                ]
        if path == RULES:
            missing += [f"docs/rules.md: #{anchor}" for anchor in CITATION.findall(text) if anchor not in anchors]
    assert not missing, "anchors not in docs/rules.md:\n" + "\n".join(dict.fromkeys(missing))


def test_code_cites_the_rules() -> None:
    cited = {path for path in text_files(*CODE_DIRS) if CITATION.search(path.read_text(encoding="utf-8"))}
    assert len(cited) >= 10, "the code should cite docs/rules.md#... where it mirrors a rule"


# --- (b) ------------------------------------------------------------------------------------------------


def test_nothing_cites_a_document_outside_the_repository() -> None:
    """Every file in kubectl_ds/, tests/, bench/ and krew/ is checked; none is exempt.

    Until the pending replacements are applied to the files the docs change could not touch
    (kubectl_ds/rollout/*, kubectl_ds/commands/*, kubectl_ds/render.py, tests/simulator.py,
    tests/test_simulator.py), this test lists their old citations and fails. That is expected: it passes
    once those citations point at docs/rules.md#... (or upstream) like the rest.
    """
    offenders = []
    for path in text_files(*CODE_DIRS, "krew"):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for what, needle in OUTSIDE_REFERENCES:
                if needle in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()}")
    assert not offenders, f"{len(offenders)} citation(s) point outside the repository:\n" + "\n".join(offenders)


# --- (c) ------------------------------------------------------------------------------------------------


def named_paths() -> list[tuple[str, str | None]]:
    found = REPO_PATH.findall(RULES.read_text(encoding="utf-8"))
    return sorted({(path, name or None) for path, name in found}, key=lambda item: (item[0], item[1] or ""))


def test_rules_name_repository_paths() -> None:
    names = named_paths()
    assert any(path.startswith("kubectl_ds/") for path, _ in names)
    assert any(path.startswith("tests/") and name for path, name in names)


@pytest.mark.parametrize(
    ("path", "name"), named_paths(), ids=[f"{path}::{name}" if name else path for path, name in named_paths()]
)
def test_named_module_function_and_test_exist(path: str, name: str | None) -> None:
    target = ROOT / path
    assert target.exists(), f"docs/rules.md names {path}, which does not exist"
    if name is None:
        return
    definition = name.rsplit(".", 1)[-1]  # Class.method: the method is defined in the file
    source = target.read_text(encoding="utf-8")
    assert re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(definition)}\b", source, re.MULTILINE), (
        f"docs/rules.md names {path}::{name}, but {path} defines no {definition}"
    )
