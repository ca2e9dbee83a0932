"""Patches: RFC 7386 merge patch, RFC 6902 JSON patch, and Kubernetes strategic merge patch for the
served types."""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.apiserver_base import Obj

# --------------------------------------------------------------------------------------------------
# Patches: RFC 7386 merge patch, RFC 6902 JSON patch, Kubernetes strategic merge patch
# --------------------------------------------------------------------------------------------------


class PatchError(Exception):
    """A patch that does not apply; answered as 422 (JSON patch) or 400 (malformed)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _json_pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer: {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def _list_index(container: list[Any], token: str, *, for_insert: bool) -> int:
    if for_insert and token == "-":
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchError(f"invalid array index: {token!r}")
    index = int(token)
    if index > len(container) or (not for_insert and index == len(container)):
        raise PatchError(f"array index out of bounds: {index}")
    return index


def _walk(doc: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(doc, dict):
            if token not in doc:
                raise PatchError(f"missing key: {token!r}")
            doc = doc[token]
        elif isinstance(doc, list):
            doc = doc[_list_index(doc, token, for_insert=False)]
        else:
            raise PatchError(f"cannot descend into a scalar at {token!r}")
    return doc


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's ==, true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _json_add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, last, for_insert=True), value)
    else:
        raise PatchError(f"cannot add to a scalar at {last!r}")
    return doc


def _json_remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"remove operation does not apply: doc is missing path: {last!r}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_list_index(parent, last, for_insert=False))
    raise PatchError(f"cannot remove from a scalar at {last!r}")


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902, all six operations. Raises PatchError when an operation does not apply."""
    if not isinstance(operations, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation:
            raise PatchError(f"invalid operation {operation!r}")
        op, tokens = operation["op"], _json_pointer(operation.get("path"))
        if op == "add":
            doc = _json_add(doc, tokens, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            _json_remove(doc, tokens)
        elif op == "replace":
            _walk(doc, tokens)  # replace requires the target to exist
            if tokens:
                _json_remove(doc, tokens)
            doc = _json_add(doc, tokens, copy.deepcopy(operation.get("value")))
        elif op in ("move", "copy"):
            source = _json_pointer(operation.get("from"))
            value = _json_remove(doc, source) if op == "move" else copy.deepcopy(_walk(doc, source))
            doc = _json_add(doc, tokens, value)
        elif op == "test":
            if not _json_equal(_walk(doc, tokens), operation.get("value")):
                raise PatchError(f"testing value {operation.get('path')} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {op}")
    return doc


# patchMergeKey of the list fields of the served types (field name -> key); other lists are atomic.
SMP_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "addresses": "type",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
    "podIPs": "ip",
    "hostIPs": "ip",
}
# Lists of scalars with patchStrategy "merge": the patch's values are added to the existing ones.
SMP_MERGED_SCALAR_LISTS = {"finalizers", "podCIDRs"}
_DELETE = object()


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """The parts of strategic merge patch the served types need.

    Maps merge and `null` deletes; `$patch: replace|delete` on maps and list items; lists with a
    patchMergeKey (containers and initContainers by name, and so on) merge item by item; finalizers
    merge as a set; `$deleteFromPrimitiveList/...` and `$retainKeys` are honoured; other lists are
    replaced. `$setElementOrder/...` (sent by kubectl apply) is accepted and ignored.
    """
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object")
    result = _smp_map(target, patch)
    if result is _DELETE:
        raise PatchError("cannot delete the whole object with $patch: delete")
    return result


def _smp_map(target: Any, patch: Obj) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _smp_map({}, {k: v for k, v in patch.items() if k != "$patch"})
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch type: {directive!r}")
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list) and isinstance(value, list):
                result[name] = [item for item in result[name] if item not in value]
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _smp_map(result.get(key), value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(key, result.get(key), value)
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _smp_list(name: str, target: Any, patch: list[Any]) -> list[Any]:
    original = copy.deepcopy(target) if isinstance(target, list) else []
    replace = [item for item in patch if isinstance(item, dict) and item.get("$patch") == "replace"]
    items = [item for item in patch if not (isinstance(item, dict) and item.get("$patch") == "replace")]
    if name in SMP_MERGED_SCALAR_LISTS and not replace:
        return original + [item for item in items if item not in original]
    merge_key = SMP_MERGE_KEYS.get(name)
    if merge_key is None or replace:
        # Atomic list: the patch's list replaces it; map items still lose their nulls and directives.
        return [_smp_map({}, item) if isinstance(item, dict) else copy.deepcopy(item) for item in items]
    for item in items:
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(f"map: {item!r} does not contain declared merge key: {merge_key}")
        index = next(
            (i for i, have in enumerate(original) if isinstance(have, dict) and have.get(merge_key) == item[merge_key]),
            None,
        )
        merged = _smp_map(original[index] if index is not None else {}, item)
        if merged is _DELETE:
            if index is not None:
                del original[index]
        elif index is None:
            original.append(merged)
        else:
            original[index] = merged
    return original
