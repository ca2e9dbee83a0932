"""Files into Kubernetes objects, each with where it came from: YAML (multi-document), JSON, a stream of
concatenated JSON values as `kubectl cluster-info dump` writes it (its container logs in between are
skipped), `List` and typed `*List` documents whose items carry no kind (the list's kind names theirs), and
directories read recursively (`kubectl cluster-info dump --output-directory`, must-gather trees).

Reading is defensive, since a dump is whatever someone attached to a ticket: a size cap, binary files, nesting
deeper than any API object, and YAML aliases that expand without bound (a "billion laughs" file) are refused
with one line before they can eat memory.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from kubectl_ds.errors import InputError

# A dump of a 15,000-node cluster (nodes, pods, DaemonSets, revisions) is a few hundred MB of JSON; parsing a
# file much larger than this would take more memory than a laptop has to give.
MAX_BYTES = 2 * 1024**3
# YAML aliases may repeat a node; a document may expand to this many nodes, or to 10x its own node count if
# that is more, before it is refused (go-yaml, which kubectl uses, refuses excessive aliasing the same way).
MAX_EXPANDED_NODES = 1_000_000
ALIAS_RATIO = 10
# Extensions read from a directory; everything else there (pod logs, must-gather's host logs) is skipped.
DUMP_SUFFIXES = (".json", ".yaml", ".yml")

_LOG_BLOCK = re.compile(
    r"^==== START logs for container (\S+) of pod (\S+) ====\n"
    r"(?:.*?^==== END logs for container \1 of pod \2 ====$\n?|.*\Z)",
    re.MULTILINE | re.DOTALL,
)
_ANCHOR = re.compile(r"(?:^|[\s\[{,:-])&[^\s\[\]{},]+")


@dataclass(frozen=True)
class Located:
    """An object read from a file, and where: `"dump.json" document 2 items[3]`."""

    obj: dict[str, Any]
    where: str


def label_of(path: str) -> str:
    return "standard input" if path == "-" else f'"{path}"'


def read_path(path: str, stdin: TextIO | None = None) -> list[Located]:
    """Every object in a file, stdin (`-`) or a directory tree."""
    if path != "-" and os.path.isdir(path):
        return _read_directory(path)
    return parse_objects(read_text(path, stdin), label_of(path))


def _read_directory(root: str) -> list[Located]:
    files = sorted(_dump_files(Path(root)))
    if not files:
        raise InputError(
            f'directory "{root}" holds no .json, .yaml or .yml files; pass a dump file or '
            "a kubectl cluster-info dump --output-directory tree"
        )
    objects: list[Located] = []
    for file in files:
        text = read_text(str(file))
        # Must-gather trees also hold JSON and YAML of other tools (Prometheus status, configs): a file with
        # no Kubernetes object in it is not a broken dump, it is someone else's file.
        if not _looks_like_objects(text):
            continue
        objects.extend(parse_objects(text, label_of(str(file))))
    return objects


def _dump_files(root: Path) -> Iterator[Path]:
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        for name in names:
            if name.endswith(DUMP_SUFFIXES) and not name.startswith("."):
                yield Path(directory) / name


def _looks_like_objects(text: str) -> bool:
    return re.search(r"""(^|[\s{,])["']?kind["']?\s*:""", text) is not None


def read_text(path: str, stdin: TextIO | None = None) -> str:
    label = label_of(path)
    try:
        if path == "-":
            stream = stdin or sys.stdin
            raw: bytes | str = (
                stream.buffer.read(MAX_BYTES + 1) if hasattr(stream, "buffer") else stream.read(MAX_BYTES + 1)
            )
        else:
            size = os.stat(path).st_size
            if size > MAX_BYTES:
                raise InputError(_too_big(label, size))
            raw = Path(path).read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {label}: {error.strerror or error}") from error
    if len(raw) > MAX_BYTES:
        raise InputError(_too_big(label, len(raw)))
    if isinstance(raw, str):
        text = raw
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InputError(
                f"{label} is not text (byte {error.start} is not UTF-8); pass a YAML or JSON dump, "
                "not an archive or binary file"
            ) from error
    if "\x00" in text:
        raise InputError(
            f"{label} is not text (byte {text.index(chr(0))} is NUL); pass a YAML or JSON dump, "
            "not an archive or binary file"
        )
    return text


def _too_big(label: str, size: int) -> str:
    return (
        f"{label} is {size / 1024**3:.1f} GiB, more than the {MAX_BYTES // 1024**3} GiB kubectl-ds reads; "
        "dump only what explain needs: kubectl get nodes,pods,ds,controllerrevisions,events -A -o json"
    )


def parse_objects(text: str, label: str) -> list[Located]:
    documents = parse_documents(text, label)
    if all(document is None for document in documents):
        raise InputError(f"{label} is empty; pass a YAML or JSON file of Kubernetes objects")
    many = len(documents) > 1
    objects: list[Located] = []
    for number, document in enumerate(documents, 1):
        if document is None:
            continue
        where = f"{label} document {number}" if many else label
        objects.extend(_objects_of(document, where, list_kind=None))
    return objects


def _objects_of(document: Any, where: str, *, list_kind: str | None, list_version: Any = None) -> Iterator[Located]:
    if not isinstance(document, dict):
        raise InputError(f"{where} is not a Kubernetes object (it is a {_type_name(document)}); {_DUMP_HINT}")
    kind = document.get("kind")
    if not kind and list_kind:
        # A typed list (NodeList, PodList, ...) as the API serves it and `kubectl cluster-info dump` writes
        # it: its items carry no kind of their own.
        document = {"apiVersion": list_version, "kind": list_kind, **document} if list_version else document
        document = {"kind": list_kind, **document}
        kind = list_kind
    if not isinstance(kind, str) or not kind:
        raise InputError(f"{where} has no kind; {_DUMP_HINT}")
    if kind.endswith("List") and "items" in document:
        items = document.get("items") or []
        if not isinstance(items, list):
            raise InputError(f"{where} is a {kind} whose items are not a list; {_DUMP_HINT}")
        item_kind = kind[: -len("List")] or None
        for index, item in enumerate(items):
            yield from _objects_of(
                item, f"{where} items[{index}]", list_kind=item_kind, list_version=document.get("apiVersion")
            )
        return
    if not isinstance(document.get("metadata", {}), dict):
        raise InputError(f"{where} ({kind}) has a metadata that is not a mapping; {_DUMP_HINT}")
    yield Located(document, where)


_DUMP_HINT = "is this a dump written by kubectl get -o yaml or kubectl cluster-info dump?"


def _type_name(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def parse_documents(text: str, label: str) -> list[Any]:
    """The documents of a YAML or JSON text, or of a concatenated JSON stream with log blocks in between."""
    if "==== START logs for container " in text:
        # Keep the line count, so that a parse error's line number points into the file as it is.
        text = _LOG_BLOCK.sub(lambda match: "\n" * match.group(0).count("\n"), text)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        documents = _json_stream(text, label)
        if documents is not None:
            return documents
    return yaml_documents(text, label)


def _json_stream(text: str, label: str) -> list[Any] | None:
    """Concatenated JSON values; None if the text does not even start with one (it is YAML flow style)."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = _skip_space(text, 0)
    while position < len(text):
        try:
            document, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            if not documents:
                return None
            raise InputError(
                f"{label} is not valid JSON at line {error.lineno} column {error.colno}: {error.msg}"
            ) from error
        except RecursionError as error:
            raise InputError(_too_deep(label)) from error
        documents.append(document)
        position = _skip_space(text, position)
    return documents


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _too_deep(label: str) -> str:
    return f"{label} is nested too deeply to be a Kubernetes object; pass a dump written by kubectl"


def yaml_documents(text: str, label: str, *, language: str = "YAML or JSON") -> list[Any]:
    """The documents of a YAML text, with the limits above; errors say `{label} is not valid {language}`."""
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    check_aliases = _ANCHOR.search(text) is not None
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if check_aliases and node is not None:
                _check_expansion(node, f"{label} document {len(documents) + 1}")
            documents.append(loader.construct_document(node))
    except yaml.YAMLError as error:
        message = " ".join(str(error).split())
        if "maximum nesting depth" in message:
            raise InputError(_too_deep(label)) from error
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{label} is not valid {language}: {first}{_mark(error)}") from error
    except RecursionError as error:
        raise InputError(_too_deep(label)) from error
    finally:
        loader.dispose()
    return documents


def _mark(error: Any) -> str:
    mark = getattr(error, "problem_mark", None)
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def _check_expansion(root: Any, where: str) -> None:
    """Refuse a document whose aliases would expand it beyond reason, or that refers to itself, before
    constructing it: the node graph shares aliased nodes, the expansion is what any walk would see."""
    import yaml

    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node, yaml)
        if children_done:
            in_progress.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            continue
        if key in in_progress:
            raise InputError(f"{where} has a YAML alias that refers to itself; write the values out")
        in_progress.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in in_progress:
                raise InputError(f"{where} has a YAML alias that refers to itself; write the values out")
            if id(child) not in sizes:
                stack.append((child, False))
    expanded = sizes[id(root)]
    if expanded > max(MAX_EXPANDED_NODES, ALIAS_RATIO * len(sizes)):
        raise InputError(
            f"{where} uses YAML aliases that expand {len(sizes):,} nodes to {expanded:,} "
            "(a billion-laughs document?); refusing to read it"
        )


def _children(node: Any, yaml: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
