"""An in-process fake Kubernetes API server that speaks real HTTP.

Tests point the official `kubernetes` client, or a real `kubectl`, at it through a kubeconfig it writes.
It serves core/v1 nodes, namespaces, pods and events, and apps/v1 daemonsets and controllerrevisions,
with paths, status bodies, resourceVersions, selectors, pagination, watches, patches and RBAC denials
that behave like the real API server's, so code tested here behaves the same way against a cluster.

It listens on one port for both plain HTTP (`url`) and TLS (`https_url`): kubectl (client-go) never
sends a bearer token over plain HTTP, so kubeconfigs meant for kubectl are written with tls=True.

Deliberate simplifications, each of them documented where it happens:
  * validation covers names, namespaces, metadata types and preconditions only; defaulting covers
    DaemonSets and pod specs, for writes through HTTP (and add(defaults=True));
  * no garbage collection, admission or controllers (hook those in through add_listener);
  * JSON only (no protobuf or YAML bodies); server-side apply answers 415; no deletecollection;
  * OpenAPI v3 is a stub, just enough for kubectl apply; OpenAPI v2 answers 404.

Standard library only, so it works wherever the tests run.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import logging
import os
import random
import re
import select
import socket
import socketserver
import ssl
import tempfile
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Listener = Callable[[str, Obj], None]

SERVER_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "fake",
                  "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.8",
                  "compiler": "gc", "platform": "linux/amd64"}
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
# The real server picks a random timeout between --min-request-timeout (1800s) and twice that.
DEFAULT_WATCH_TIMEOUT = 1800.0
# A CA and a serving certificate for IP 127.0.0.1 and localhost, valid 2000-2100, made for this fixture
# (as Go's httptest embeds one). kubectl only sends credentials over TLS, so kubeconfigs written with
# tls=True point at https:// on the same port and trust this CA. The key protects nothing but tests.
TEST_CA_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBbDCCARKgAwIBAgICEAAwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRZmFrZS1h
cGlzZXJ2ZXItY2EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBwx
GjAYBgNVBAMMEWZha2UtYXBpc2VydmVyLWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEXJVs2cLIZPtzRrOTzmnpiwKzcXNtfLKHA0P13I7thF/Zv3W1+OndVFcz
d1j7iXRDxhl0qwx2L6KFL2JVoAl5jKNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNV
HQ8BAf8EBAMCAQYwHQYDVR0OBBYEFJ7ZqPz6JetXXKENj9qW7f5Dj6aDMAoGCCqG
SM49BAMCA0gAMEUCIQCmdgzEdB2p6vtlcOyMyfFBFhyRLtlHNRxaWD3nM/llcQIg
EXQzJ8bdEWtbL7my4NH+Ct1yosYnDER/ysWo5eGvrgU=
-----END CERTIFICATE-----
"""
_TLS_CERT_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBuTCCAWCgAwIBAgICEAEwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRZmFrZS1h
cGlzZXJ2ZXItY2EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBkx
FzAVBgNVBAMMDmZha2UtYXBpc2VydmVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD
QgAEcdzs2bmE55hYNFcLedwWroJYpjRdLtwridhh0z6M72kF0WIkVSye/L04r6XD
6yCMBf4vubauYgYmfwV5yJlBd6OBkjCBjzAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB
/wQEAwIHgDATBgNVHSUEDDAKBggrBgEFBQcDATAaBgNVHREEEzARhwR/AAABggls
b2NhbGhvc3QwHQYDVR0OBBYEFCvhtlZcaryjA5pwQ/jthh0IslDuMB8GA1UdIwQY
MBaAFJ7ZqPz6JetXXKENj9qW7f5Dj6aDMAoGCCqGSM49BAMCA0cAMEQCIAKVefT6
4xYtV9HNk3wXI5HEjfT0xHTOsdkUwvwRMjDOAiAZnIhpn3pcNaTpC4z0hc4BjpJI
yCv2+pT5rG60IE9LKw==
-----END CERTIFICATE-----
"""
_TLS_KEY_PEM = """\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3zj5zCRYvNHddkJl
6Muc7bh2y3zAyLUROZW9qEx5k+ehRANCAARx3OzZuYTnmFg0Vwt53BauglimNF0u
3CuJ2GHTPozvaQXRYiRVLJ78vTivpcPrIIwF/i+5tq5iBiZ/BXnImUF3
-----END PRIVATE KEY-----
"""
# How often blocked threads re-check for a stopping server or a vanished client.
_POLL = 0.05


# --------------------------------------------------------------------------------------------------
# The resources this server knows
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Resource:
    """One served resource type, with what discovery, URLs and error messages need to know."""

    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = False
    # Field selectors the real server accepts for this resource; anything else is a 400.
    field_labels: tuple[str, ...] = ("metadata.name", "metadata.namespace")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """How error messages name it: `pods`, `daemonsets.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
_STATUS_VERBS = ["get", "patch", "update"]

RESOURCES: tuple[Resource, ...] = (
    Resource("namespaces", "namespace", "Namespace", "", "v1", False, ("ns",), has_status=True,
             field_labels=("metadata.name", "status.phase")),
    Resource("nodes", "node", "Node", "", "v1", False, ("no",), has_status=True,
             field_labels=("metadata.name", "spec.unschedulable")),
    Resource("pods", "pod", "Pod", "", "v1", True, ("po",), ("all",), has_status=True,
             field_labels=("metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
                           "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
                           "status.phase", "status.podIP", "status.nominatedNodeName")),
    Resource("events", "event", "Event", "", "v1", True, ("ev",),
             field_labels=("metadata.name", "metadata.namespace", "involvedObject.kind",
                           "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                           "involvedObject.apiVersion", "involvedObject.resourceVersion",
                           "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type")),
    Resource("daemonsets", "daemonset", "DaemonSet", "apps", "v1", True, ("ds",), ("all",), has_status=True),
    Resource("controllerrevisions", "controllerrevision", "ControllerRevision", "apps", "v1", True),
)
_BY_PLURAL = {r.plural: r for r in RESOURCES}


def resolve_resource(kind: str) -> Resource:
    """Accepts what a human would type: `daemonsets`, `DaemonSet`, `daemonset` or `ds`."""
    wanted = kind.lower().split(".")[0]
    for res in RESOURCES:
        if wanted in (res.plural, res.singular, res.kind.lower(), *res.short_names):
            return res
    raise KeyError(f"unknown kind {kind!r}")


# --------------------------------------------------------------------------------------------------
# Errors, shaped like the real server's metav1.Status
# --------------------------------------------------------------------------------------------------

class ApiError(Exception):
    """A failure answered as a Kubernetes `Status` body."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> Obj:
        body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(res: Resource, name: str | None) -> dict[str, Any]:
    # Same key order and omissions as the real server: no empty name or group.
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if res.group:
        details["group"] = res.group
    details["kind"] = res.plural
    return details


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{res.group_resource} "{name}" not found', _details(res, name))


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{res.group_resource} "{name}" already exists', _details(res, name))


def conflict(res: Resource, name: str, why: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.group_resource} "{name}": {why}',
                    _details(res, name))


_MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(res: Resource, name: str, message: str) -> ApiError:
    return ApiError(422, "Invalid", f'{res.kind} "{name}" is invalid: {message}', _details(res, name))


def unknown_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


# What the real server says for each code when a fault is injected without more context.
_GENERIC_FAILURES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "Unauthorized"),
    403: ("Forbidden", "the server does not allow access to the requested resource"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", _MODIFIED),
    410: ("Expired", "the resource has expired"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    500: ("InternalError", "Internal error occurred: injected fault"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be "
                     "processing the request"),
}


# --------------------------------------------------------------------------------------------------
# Label and field selectors
# --------------------------------------------------------------------------------------------------

Matcher = Callable[[dict[str, str]], bool]
_SELECTOR_TOKEN = re.compile(r"\s*(?:(==|!=|=|!|\(|\)|,|>|<)|([^\s=!(),<>]+))")


def _tokenize_selector(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _SELECTOR_TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"unable to parse requirement: unexpected character at {pos} in {text!r}")
        tokens.append(match.group(1) or match.group(2))
        pos = match.end()
    return tokens


class _SelectorParser:
    """Recursive descent over the label selector grammar of k8s.io/apimachinery/pkg/labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize_selector(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end of selector")
        self.pos += 1
        return token

    def error(self, why: str) -> ValueError:
        return ValueError(f"unable to parse requirement: {why} in {self.text!r}")

    def parse(self) -> list[Matcher]:
        requirements: list[Matcher] = []
        if self.peek() is None:
            return requirements
        while True:
            requirements.append(self.requirement())
            token = self.peek()
            if token is None:
                return requirements
            if token != ",":
                raise self.error(f"found {token!r}, expected ','")
            self.take()

    def key(self) -> str:
        token = self.take()
        if token in ("=", "==", "!=", "!", "(", ")", ",", ">", "<"):
            raise self.error(f"found {token!r}, expected a label key")
        return token

    def value(self) -> str:
        # `a=` (an empty value) is legal and matches a label that is present but empty.
        token = self.peek()
        if token in (None, ",", ")"):
            return ""
        if token in ("=", "==", "!=", "!", "(", ">", "<"):
            raise self.error(f"found {token!r}, expected a label value")
        return self.take()

    def values(self) -> set[str]:
        if self.take() != "(":
            raise self.error("expected '(' after in/notin")
        found: set[str] = set()
        while True:
            found.add(self.value())
            token = self.take()
            if token == ")":
                return found
            if token != ",":
                raise self.error(f"found {token!r}, expected ',' or ')'")

    def requirement(self) -> Matcher:
        if self.peek() == "!":
            self.take()
            key = self.key()
            return lambda labels: key not in labels
        key = self.key()
        op = self.peek()
        if op in (None, ","):
            return lambda labels: key in labels
        self.take()
        if op in ("=", "=="):
            want = self.value()
            return lambda labels: labels.get(key) == want
        if op == "!=":
            want = self.value()
            return lambda labels: labels.get(key) != want
        if op in ("in", "notin"):
            options = self.values()
            if op == "in":
                return lambda labels: labels.get(key) in options
            return lambda labels: labels.get(key) not in options
        if op in (">", "<"):
            bound = self._integer(self.value())
            return lambda labels: _compare_int(labels.get(key), bound, op)
        raise self.error(f"found {op!r}, expected an operator")

    def _integer(self, text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise self.error(f"for 'gt', 'lt' operators, the value must be an integer, got {text!r}") from None


def _compare_int(value: str | None, bound: int, op: str) -> bool:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return False
    if number is None:
        return False
    return number > bound if op == ">" else number < bound


def parse_label_selector(text: str) -> Callable[[Obj], bool]:
    """`a=b,c!=d,e in (f,g),!h` -> a predicate over objects. Raises ValueError when malformed."""
    requirements = _SelectorParser(text).parse()

    def matches(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return matches


def _split_unescaped(text: str, separator: str) -> list[str]:
    """Split on separators not escaped by a backslash, as fields.ParseSelector does."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape_field_value(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _field_value(obj: Obj, label: str) -> str:
    """A selectable field's value as the server compares it: a string, '' when absent."""
    path = "source.component" if label == "source" else label
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or label in ("spec.hostNetwork", "spec.unschedulable"):
        return "true" if value else "false"
    return "" if value is None else str(value)


def parse_field_selector(res: Resource, text: str) -> Callable[[Obj], bool]:
    """`spec.nodeName=n1,status.phase!=Running` -> a predicate; unknown fields raise ApiError 400."""
    terms: list[tuple[str, bool, str]] = []
    for term in _split_unescaped(text, ",") if text.strip() else []:
        match = re.match(r"^\s*([^=!\s]+)\s*(==|!=|=)(.*)$", term)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        label, op, value = match.group(1), match.group(2), _unescape_field_value(match.group(3).strip())
        if label not in res.field_labels:
            raise bad_request(f'field label not supported: {label}')
        terms.append((label, op == "!=", value))

    def matches(obj: Obj) -> bool:
        return all((_field_value(obj, label) == value) != negate for label, negate, value in terms)

    return matches


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
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "ports": "containerPort",
    "imagePullSecrets": "name", "hostAliases": "ip", "conditions": "type", "ownerReferences": "uid",
    "addresses": "type", "resourceClaims": "name", "topologySpreadConstraints": "topologyKey",
    "podIPs": "ip", "hostIPs": "ip",
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
        index = next((i for i, have in enumerate(original)
                      if isinstance(have, dict) and have.get(merge_key) == item[merge_key]), None)
        merged = _smp_map(original[index] if index is not None else {}, item)
        if merged is _DELETE:
            if index is not None:
                del original[index]
        elif index is None:
            original.append(merged)
        else:
            original[index] = merged
    return original


# --------------------------------------------------------------------------------------------------
# Defaulting and small helpers
# --------------------------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the real name generator draws from


def _validate_name(res: Resource, name: str) -> None:
    if len(name) > 253 or not _NAME.match(name):
        raise invalid(res, name, f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain '
                                 "must consist of lower case alphanumeric characters, '-' or '.', and must "
                                 "start and end with an alphanumeric character")


def _default_pod_spec(spec: Obj) -> None:
    """The subset of pod defaulting that shows up when reading a pod or a DaemonSet template back."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        tag = image.rsplit("/", 1)[-1].partition(":")[2] if "@" not in image else "digest"
        container.setdefault("imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports", []) or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def apply_defaults(res: Resource, obj: Obj) -> None:
    """Defaulting the real server applies on every write made through the API."""
    spec = obj.get("spec")
    if res.plural == "pods" and isinstance(spec, dict):
        _default_pod_spec(spec)
    if res.plural == "daemonsets" and isinstance(spec, dict):
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        template_spec = (spec.get("template") or {}).get("spec")
        if isinstance(template_spec, dict):
            _default_pod_spec(template_spec)


def check_decodable(res: Resource, obj: Obj) -> None:
    """The type errors the real server's JSON decoding catches in metadata (labels are strings, ...)."""
    meta = obj.get("metadata")
    if meta is None:
        return
    problem = None
    if not isinstance(meta, dict):
        problem = f"cannot unmarshal {_json_type(meta)} into Go struct field {res.kind}.metadata of type v1.ObjectMeta"
    else:
        for field_name in ("labels", "annotations"):
            value = meta.get(field_name)
            if value is not None and not isinstance(value, dict):
                problem = (f"cannot unmarshal {_json_type(value)} into Go struct field ObjectMeta.metadata."
                           f"{field_name} of type map[string]string")
            elif isinstance(value, dict):
                wrong = next((v for v in value.values() if not isinstance(v, str)), None)
                if wrong is not None:
                    problem = (f"cannot unmarshal {_json_type(wrong)} into Go struct field ObjectMeta.metadata."
                               f"{field_name} of type string")
        for field_name in ("name", "namespace", "generateName", "resourceVersion", "uid"):
            if meta.get(field_name) is not None and not isinstance(meta[field_name], str):
                problem = (f"cannot unmarshal {_json_type(meta[field_name])} into Go struct field ObjectMeta."
                           f"metadata.{field_name} of type string")
    if problem:
        raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: json: {problem}')


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "null"


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


# --------------------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------------------

@dataclass
class Request:
    """One request as served. `status` is 0 when a fault dropped the connection without an answer."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    content_type: str = ""
    body: Any = None  # the decoded JSON body, or None


@dataclass
class _Fault:
    status: int | str
    remaining: int
    method: str | None
    path_contains: str | None

    def matches(self, method: str, target: str) -> bool:
        return ((self.method is None or self.method.upper() == method)
                and (self.path_contains is None or self.path_contains in target))


@dataclass(frozen=True)
class _Denial:
    verb: str
    resource: str
    namespace: str | None

    def blocks(self, verb: str, resource: str, namespace: str | None) -> bool:
        if self.verb not in ("*", verb) or self.resource not in ("*", resource):
            return False
        # Without a namespace the request needs cluster-wide rights, which a denial anywhere takes away.
        return self.namespace is None or namespace is None or self.namespace == namespace


@dataclass
class _Event:
    rv: int
    type: str
    res: Resource
    obj: Obj
    old: Obj | None  # the previous state of a MODIFIED object, for selector transitions


@dataclass
class _Target:
    """A parsed resource URL."""

    res: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------

class ApiServer:
    """A fake kube-apiserver on 127.0.0.1 with an ephemeral port.

    Use as a context manager, or start()/stop(). State lives in memory; add()/load() seed it,
    get()/objects() read it, update_object()/delete_object() change it server-side (as a
    controller or kubelet would), and every change bumps one global resourceVersion.
    """

    def __init__(self, *, token: str = "test-token", page_size_cap: int | None = None,
                 graceful_pod_deletion: bool = False, user: str = "test-user",
                 watch_history: int = 1000, fault_hang_seconds: float = 10.0) -> None:
        self.token = token
        self.user = user  # the identity the token authenticates as, quoted in 403 messages
        self.page_size_cap = page_size_cap
        self.graceful_pod_deletion = graceful_pod_deletion
        self.fault_hang_seconds = fault_hang_seconds
        self.url = ""  # http://127.0.0.1:PORT once started
        self.https_url = ""  # the same port, over TLS (see TEST_CA_PEM)
        self.requests: list[Request] = []
        self.listener_errors: list[BaseException] = []

        self._lock = threading.RLock()  # guards objects, resourceVersion, history and listeners
        self._changed = threading.Condition(self._lock)
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {r.plural: {} for r in RESOURCES}
        self._rv = 0
        self._history: deque[_Event] = deque(maxlen=watch_history)
        self._history_floor = 0  # every change with rv > floor is still in _history
        self._listeners: list[Listener] = []
        self._pending: deque[tuple[str, Obj]] = deque()  # changes not yet handed to listeners
        self._dispatch_lock = threading.Lock()
        self._dispatching = threading.local()
        self._snapshots: OrderedDict[str, tuple[int, list[Obj]]] = OrderedDict()

        self._aux_lock = threading.Lock()  # guards requests, faults and denials
        self._faults: list[_Fault] = []
        self._denials: list[_Denial] = []

        self._stopping = threading.Event()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> ApiServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HttpServer(self)
        host, port = self._httpd.server_name, self._httpd.server_port
        self.url = f"http://{host}:{port}"
        self.https_url = f"https://{host}:{port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": _POLL},
                                        name=f"fake-apiserver-{port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()  # wakes watches so they end
        self._httpd.shutdown()
        self._httpd.close_connections()  # idle keep-alive connections would otherwise linger
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def resource_version(self) -> str:
        """The current global resourceVersion (that of the latest change)."""
        with self._lock:
            return str(self._rv)

    # --- seeding and inspecting state -------------------------------------------------------------

    def add(self, obj: Obj, *, defaults: bool = False) -> Obj:
        """Store a copy as if it had been created; returns the stored copy.

        Fills what the server would: apiVersion/kind, uid, resourceVersion, creationTimestamp,
        namespace `default` for namespaced kinds, and for DaemonSets generation 1 and the template
        generation annotation; values already present are kept so tests can seed any state.
        Field defaulting (a DaemonSet's updateStrategy, a pod spec's restartPolicy, ...) happens only
        with defaults=True, so hand-written fixtures stay exactly as written unless asked.
        Raises ValueError if the object exists.
        """
        res = resolve_resource(str(obj.get("kind", "")))
        new = copy.deepcopy(obj)
        if defaults:
            apply_defaults(res, new)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta = _meta(new)
        if not meta.get("name"):
            raise ValueError("add() needs metadata.name")
        self._scope(res, meta, meta.get("namespace"))
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", rfc3339(_now()))
        if res.plural == "daemonsets":
            meta.setdefault("generation", 1)
            meta.setdefault("annotations", {}).setdefault(TEMPLATE_GENERATION, "1")
        with self._lock:
            if _key(new) in self._objects[res.plural]:
                raise ValueError(f"{res.plural} {_key(new)} already exists; use update_object()")
            stored = self._commit(res, "ADDED", new, None)
        self._dispatch()
        return stored

    def load(self, objs: Iterable[Obj] | Obj, *, defaults: bool = False) -> None:
        """add() each object; accepts a `kind: List` (or any `*List`) dict as well as an iterable."""
        if isinstance(objs, dict):
            objs = objs.get("items", []) if "items" in objs else [objs]
        for obj in objs:
            self.add(obj, defaults=defaults)

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """A copy of the stored object, or None. kind may be "daemonsets", "DaemonSet", "ds", ...;
        namespace None means "default" for namespaced kinds and is ignored for cluster-scoped ones."""
        res = resolve_resource(kind)
        with self._lock:
            found = self._objects[res.plural].get((namespace or "default", name) if res.namespaced else ("", name))
            return copy.deepcopy(found) if found is not None else None

    def objects(self, kind: str, namespace: str | None = None) -> list[Obj]:
        """Stored objects of a kind, in the server's (namespace, name) order."""
        res = resolve_resource(kind)
        with self._lock:
            return [copy.deepcopy(obj) for key, obj in sorted(self._objects[res.plural].items())
                    if namespace is None or not res.namespaced or key[0] == namespace]

    def update_object(self, obj: Obj) -> Obj:
        """Replace an object server-side, as a controller or kubelet writing through would.

        No resourceVersion precondition and no status/spec split (status is written too), but the
        storage rules still apply: uid and creationTimestamp are kept, DaemonSet generation and
        template generation bump on spec/template changes, a no-op change bumps nothing, and an
        object with a deletionTimestamp whose last finalizer goes away is deleted.
        Raises KeyError if the object does not exist.
        """
        res = resolve_resource(str(obj.get("kind", "")))
        new = copy.deepcopy(obj)
        meta = _meta(new)
        if res.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"
        with self._lock:
            old = self._objects[res.plural].get(_key(new))
            if old is None:
                raise KeyError(f"{res.plural} {_key(new)} not found")
            stored = self._store_update(res, old, new, subresource=None, server_side=True)
        self._dispatch()
        return stored

    def delete_object(self, kind: str, namespace: str | None, name: str) -> None:
        """Remove an object at once (finalizers and grace periods notwithstanding), like a kubelet's
        final grace-period-0 delete. Raises KeyError if it does not exist."""
        res = resolve_resource(kind)
        key = (namespace or "default", name) if res.namespaced else ("", name)
        with self._lock:
            old = self._objects[res.plural].get(key)
            if old is None:
                raise KeyError(f"{res.plural} {key} not found")
            self._commit(res, "DELETED", copy.deepcopy(old), old)
        self._dispatch()

    def compact(self) -> None:
        """Forget the watch history, as etcd compaction does: older resourceVersions now answer 410."""
        with self._lock:
            self._history.clear()
            self._history_floor = self._rv
            self._snapshots.clear()

    # --- listeners --------------------------------------------------------------------------------

    def add_listener(self, fn: Listener) -> None:
        """fn(type, obj) runs after every stored change, in resourceVersion order, one at a time.

        It runs in the writing thread before the write's HTTP response is sent, so a client sees
        the listener's effects once its call returns. Writes a listener makes are queued and
        delivered after it returns (never recursively). Exceptions are logged and collected in
        `listener_errors` rather than failing the write.
        """
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with self._lock:
            self._listeners.remove(fn)

    # --- RBAC and faults --------------------------------------------------------------------------

    def deny(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Answer 403 for `verb` on `resource` (e.g. "pods", "pods/eviction", "daemonsets/status"),
        in `namespace` or everywhere. "*" matches any verb or resource."""
        with self._aux_lock:
            self._denials.append(_Denial(verb, resource, namespace))

    def clear_denials(self) -> None:
        with self._aux_lock:
            self._denials.clear()

    def inject_fault(self, *, status: int | str, count: int = 1, method: str | None = None,
                     path_contains: str | None = None) -> None:
        """Make the next `count` matching requests fail.

        status: an HTTP code (answered with the matching Status body; 429 carries Retry-After: 1,
        except on evictions, which answer like a PodDisruptionBudget refusal), "timeout" (hold the
        request until the client gives up, at most fault_hang_seconds, then close without answering)
        or "drop" (close the connection without answering). path_contains matches the request
        target, query string included. Faults are checked before authentication, in order.
        """
        if not (isinstance(status, int) or status in ("timeout", "drop")):
            raise ValueError(f"unsupported fault {status!r}")
        with self._aux_lock:
            self._faults.append(_Fault(status, count, method, path_contains))

    def clear_faults(self) -> None:
        with self._aux_lock:
            self._faults.clear()

    def reset_requests(self) -> None:
        with self._aux_lock:
            self.requests.clear()

    # --- kubeconfig -------------------------------------------------------------------------------

    def write_kubeconfig(self, path: str | os.PathLike[str], *, context: str = "test",
                         namespace: str | None = None, token: str | None = None, user: str = "test-user",
                         extra_contexts: dict[str, dict[str, Any]] | None = None, tls: bool = False) -> str:
        """Write a kubeconfig whose current context points at this server with a bearer token.

        The server is `url` (plain HTTP), or with tls=True `https_url` with the test CA embedded as
        certificate-authority-data. Use tls=True for kubectl: client-go never sends credentials over
        plain HTTP, so kubectl would be answered 401. The Python client works either way.
        extra_contexts maps a context name to optional "namespace", "token", "user" and "server"
        (a context with its own token gets its own user entry, with its own server its own cluster).
        """
        if not self.url:
            raise RuntimeError("start() the server before writing a kubeconfig")
        ca = TEST_CA_PEM if tls else None
        clusters: dict[str, tuple[str, str | None]] = {context: (self.https_url if tls else self.url, ca)}
        users = {user: token if token is not None else self.token}
        contexts = {context: (context, user, namespace)}
        for name, spec in (extra_contexts or {}).items():
            cluster = context
            if spec.get("server"):
                cluster = name
                clusters[name] = (spec["server"], ca if spec["server"].startswith("https:") else None)
            context_user = spec.get("user") or user
            if spec.get("token") is not None:
                context_user = spec.get("user") or f"{name}-user"
                users[context_user] = spec["token"]
            contexts[name] = (cluster, context_user, spec.get("namespace"))
        text = _kubeconfig_yaml(clusters, users, contexts, context)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return os.fspath(path)

    # ==============================================================================================
    # Storage: _commit and the update strategy run under self._lock; _dispatch runs after releasing it
    # ==============================================================================================

    def _scope(self, res: Resource, meta: Obj, namespace: str | None) -> None:
        if res.namespaced:
            meta["namespace"] = namespace or "default"
        else:
            meta.pop("namespace", None)

    def _commit(self, res: Resource, event_type: str, new: Obj, old: Obj | None) -> Obj:
        """Bump the resourceVersion, store or remove, and notify watchers and listeners."""
        self._rv += 1
        new["metadata"]["resourceVersion"] = str(self._rv)
        table = self._objects[res.plural]
        if event_type == "DELETED":
            table.pop(_key(new), None)
        else:
            table[_key(new)] = new
        if len(self._history) == self._history.maxlen and self._history:
            self._history_floor = self._history[0].rv
        self._history.append(_Event(self._rv, event_type, res, new, old))
        self._pending.append((event_type, new))
        self._changed.notify_all()
        return copy.deepcopy(new)

    def _dispatch(self) -> None:
        """Hand queued changes to listeners; called after releasing self._lock.

        One thread delivers at a time. A thread that finds another one delivering leaves its change
        to it rather than waiting: a listener may then call this server, even over HTTP, without
        deadlocking (its request's change is delivered once the listener returns).
        """
        if getattr(self._dispatching, "active", False):
            return  # a listener wrote; the loop further up this thread's stack delivers it
        while True:
            if not self._dispatch_lock.acquire(blocking=False):
                return  # the delivering thread re-checks the queue after letting go of the lock
            self._dispatching.active = True
            try:
                self._deliver_pending()
            finally:
                self._dispatching.active = False
                self._dispatch_lock.release()
            with self._lock:
                if not self._pending:
                    return

    def _deliver_pending(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                event_type, obj = self._pending.popleft()
                listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener(event_type, copy.deepcopy(obj))
                except Exception as error:  # a broken listener must not break the write
                    log.exception("listener %r failed on %s", listener, event_type)
                    self.listener_errors.append(error)

    def _store_update(self, res: Resource, old: Obj, new: Obj, *, subresource: str | None,
                      server_side: bool = False, dry_run: bool = False) -> Obj:
        """Apply the update strategy, then store unless nothing changed (which bumps nothing)."""
        new = self._prepare_update(res, old, new, subresource=subresource, server_side=server_side)
        if self._unchanged(old, new):
            return copy.deepcopy(old)
        if dry_run:
            return new
        meta, old_meta = new["metadata"], old["metadata"]
        if (old_meta.get("deletionTimestamp") and old_meta.get("finalizers") and not meta.get("finalizers")
                and not meta.get("deletionGracePeriodSeconds")):
            return self._commit(res, "DELETED", new, old)  # the last finalizer of a deleted object is gone
        return self._commit(res, "MODIFIED", new, old)

    @staticmethod
    def _unchanged(old: Obj, new: Obj) -> bool:
        def strip(obj: Obj) -> Obj:
            meta = dict(obj.get("metadata") or {})
            meta.pop("resourceVersion", None)
            return {**obj, "metadata": meta}
        return strip(old) == strip(new)

    def _prepare_update(self, res: Resource, old: Obj, new: Obj, *, subresource: str | None,
                        server_side: bool) -> Obj:
        new = copy.deepcopy(new)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta, old_meta = _meta(new), old["metadata"]
        immutable = ["name", "namespace", "uid", "creationTimestamp"]
        if not server_side:
            immutable += ["generation", "deletionTimestamp", "deletionGracePeriodSeconds"]
        for name in immutable:
            if name in old_meta:
                meta[name] = old_meta[name]
            else:
                meta.pop(name, None)
        if subresource == "status":
            # A status write changes status only (metav1.ResetObjectMetaForStatus).
            result = copy.deepcopy(old)
            result["status"] = copy.deepcopy(new.get("status", {}))
            return result
        if res.has_status and not server_side:
            # A write to the main resource cannot change status.
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if res.plural == "daemonsets":
            self._bump_daemonset_generations(old, new)
        return new

    @staticmethod
    def _bump_daemonset_generations(old: Obj, new: Obj) -> None:
        """Mirror the DaemonSet strategy's PrepareForUpdate."""
        meta, old_meta = new["metadata"], old["metadata"]
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        generation = int(old_meta.get("generation") or 1)
        meta["generation"] = generation + 1 if old_spec != new_spec else generation

        def template_generation(obj_meta: Obj, fallback: int) -> int:
            try:
                return int((obj_meta.get("annotations") or {})[TEMPLATE_GENERATION])
            except (KeyError, ValueError, TypeError):
                return fallback

        old_tg = template_generation(old_meta, 1)
        new_tg = template_generation(meta, old_tg)
        if old_spec.get("template") != new_spec.get("template") and new_tg == old_tg:
            new_tg = old_tg + 1
        meta.setdefault("annotations", {})[TEMPLATE_GENERATION] = str(new_tg)

    # ==============================================================================================
    # Verbs, as served over HTTP (called by _Handler; each raises ApiError for a failure answer)
    # ==============================================================================================

    def _lookup(self, res: Resource, namespace: str | None, name: str) -> Obj:
        found = self._objects[res.plural].get((namespace or "", name))
        if found is None:
            raise not_found(res, name)
        return found

    def _api_get(self, target: _Target) -> Obj:
        with self._lock:
            return copy.deepcopy(self._lookup(target.res, target.namespace, target.name or ""))

    def _api_list(self, res: Resource, namespace: str | None, query: dict[str, str]) -> Obj:
        label_text, field_text = query.get("labelSelector", ""), query.get("fieldSelector", "")
        try:
            by_labels = parse_label_selector(label_text)
        except ValueError as error:
            raise bad_request(str(error)) from None
        by_fields = parse_field_selector(res, field_text)
        limit = _int_param(query, "limit")
        page_size = min(x for x in (limit, self.page_size_cap) if x) if limit else 0
        with self._lock:
            if query.get("continue"):
                snapshot_id, offset = self._resume(res, namespace, query["continue"])
                rv, items = self._snapshots[snapshot_id]
            else:
                snapshot_id, rv, offset = None, self._rv, 0
                items = [obj for key, obj in sorted(self._objects[res.plural].items())
                         if (namespace is None or key[0] == namespace) and by_labels(obj) and by_fields(obj)]
            page = [copy.deepcopy(obj) for obj in (items[offset:offset + page_size] if page_size else items[offset:])]
            end = offset + len(page)
            metadata: Obj = {"resourceVersion": str(rv)}
            if end < len(items):
                metadata["continue"] = self._remember(res, namespace, snapshot_id, rv, items, end)
                if not label_text and not field_text:
                    metadata["remainingItemCount"] = len(items) - end
        for item in page:
            # Items of a real list carry no apiVersion/kind; only the list does.
            item.pop("apiVersion", None)
            item.pop("kind", None)
        return {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": metadata, "items": page}

    def _remember(self, res: Resource, namespace: str | None, snapshot_id: str | None, rv: int,
                  items: list[Obj], offset: int) -> str:
        """Keep the full result so later pages are a consistent snapshot, as etcd gives.

        Stored objects are never mutated in place (every write stores a new dict), so keeping
        references is enough.
        """
        if snapshot_id is None:
            snapshot_id = uuid.uuid4().hex
            self._snapshots[snapshot_id] = (rv, items)
        self._snapshots.move_to_end(snapshot_id)
        while len(self._snapshots) > 64:
            self._snapshots.popitem(last=False)
        payload = {"v": 1, "id": snapshot_id, "rv": rv, "start": offset, "resource": res.plural,
                   "namespace": namespace or ""}
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()

    def _resume(self, res: Resource, namespace: str | None, token: str) -> tuple[str, int]:
        """The snapshot and offset a continue token names."""
        try:
            payload = json.loads(base64.urlsafe_b64decode(token.encode()))
            snapshot_id, offset = str(payload["id"]), int(payload["start"])
            same = payload["resource"] == res.plural and payload["namespace"] == (namespace or "")
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise bad_request(f"continue key is not valid: {token}") from None
        if not same:
            raise bad_request("continue key is not valid: the key does not match this request")
        if snapshot_id not in self._snapshots:
            raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent "
                           "list result. You can start a new list without the continue parameter.")
        return snapshot_id, offset

    def _api_create(self, res: Resource, namespace: str | None, body: Any, *, dry_run: bool) -> Obj:
        if not isinstance(body, dict):
            raise bad_request(f"the body of the request was in an unknown format - expected a {res.kind} object")
        self._check_type(res, body)
        check_decodable(res, body)
        new = copy.deepcopy(body)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta = _meta(new)
        if res.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on "
                              "the request")
        self._scope(res, meta, namespace)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise invalid(res, "", "metadata.name: Required value: name or generateName is required")
            meta["name"] = meta["generateName"] + "".join(random.choices(_GENERATE_ALPHABET, k=5))
        _validate_name(res, meta["name"])
        for server_owned in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                             "deletionGracePeriodSeconds", "generation", "managedFields"):
            meta.pop(server_owned, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(_now())
        apply_defaults(res, new)
        self._prepare_create(res, new)
        with self._lock:
            if _key(new) in self._objects[res.plural]:
                raise already_exists(res, meta["name"])
            if dry_run:
                return new
            stored = self._commit(res, "ADDED", new, None)
        self._dispatch()
        return stored

    @staticmethod
    def _prepare_create(res: Resource, new: Obj) -> None:
        """The create strategies: status starts fresh, DaemonSets start at generation 1."""
        if res.plural == "pods":
            new["status"] = {"phase": "Pending"}
        elif res.plural == "namespaces":
            new["spec"] = {"finalizers": ["kubernetes"]}
            new["status"] = {"phase": "Active"}
        elif res.plural == "daemonsets":
            new["metadata"]["generation"] = 1
            annotations = new["metadata"].setdefault("annotations", {})
            try:
                template_generation = max(int(annotations.get(TEMPLATE_GENERATION, 1)), 1)
            except ValueError:
                template_generation = 1
            annotations[TEMPLATE_GENERATION] = str(template_generation)
            new["status"] = {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                             "desiredNumberScheduled": 0, "numberReady": 0}

    @staticmethod
    def _check_type(res: Resource, body: Obj) -> None:
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if (kind and kind != res.kind) or (api_version and api_version != res.api_version):
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                              f"version ({res.api_version})" if kind == res.kind else
                              f"{kind} in version \"{res.version}\" cannot be handled as a {res.kind}")

    def _api_replace(self, target: _Target, body: Any, *, dry_run: bool) -> Obj:
        res, name = target.res, target.name or ""
        if not isinstance(body, dict):
            raise bad_request(f"the body of the request was in an unknown format - expected a {res.kind} object")
        self._check_type(res, body)
        check_decodable(res, body)
        meta: Obj = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
        if meta.get("name") != name:
            raise bad_request(f"the name of the object ({meta.get('name', '')}) does not match the name on the URL "
                              f"({name})")
        if res.namespaced and meta.get("namespace") and meta["namespace"] != target.namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on "
                              "the request")
        with self._lock:
            old = self._lookup(res, target.namespace, name)
            self._check_preconditions(res, old, uid=meta.get("uid"), rv=meta.get("resourceVersion"))
            new = copy.deepcopy(body)
            if target.subresource != "status":
                apply_defaults(res, new)
            stored = self._store_update(res, old, new, subresource=target.subresource, dry_run=dry_run)
        self._dispatch()
        return stored

    def _api_patch(self, target: _Target, content_type: str, body: Any, *, dry_run: bool) -> Obj:
        res, name = target.res, target.name or ""
        with self._lock:
            old = self._lookup(res, target.namespace, name)
            try:
                if content_type == "application/json-patch+json":
                    if not isinstance(body, list):
                        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                    patched = json_patch(old, body)
                elif content_type == "application/merge-patch+json":
                    patched = merge_patch(old, body)
                else:
                    patched = strategic_merge_patch(old, body)
            except PatchError as error:
                if content_type == "application/json-patch+json":
                    log.debug("JSON patch did not apply: %s", error)
                    raise ApiError(422, "Invalid", "the server rejected our request due to an error in our "
                                                   "request", {}) from None
                raise bad_request(str(error)) from None
            if not isinstance(patched, dict):
                raise bad_request("the patch turned the object into something that is not an object")
            check_decodable(res, patched)
            # A resourceVersion in the patched result is a precondition, as on a PUT.
            patched_meta: Obj = patched["metadata"] if isinstance(patched.get("metadata"), dict) else {}
            self._check_preconditions(res, old, uid=patched_meta.get("uid"),
                                      rv=patched_meta.get("resourceVersion"))
            if target.subresource != "status":
                apply_defaults(res, patched)
            stored = self._store_update(res, old, patched, subresource=target.subresource, dry_run=dry_run)
        self._dispatch()
        return stored

    @staticmethod
    def _check_preconditions(res: Resource, old: Obj, *, uid: Any, rv: Any) -> None:
        meta, name = old["metadata"], old["metadata"]["name"]
        if uid and uid != meta.get("uid"):
            raise conflict(res, name, f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                                      f"{meta.get('uid')}")
        if rv and str(rv) != meta.get("resourceVersion"):
            raise conflict(res, name, _MODIFIED)

    def _api_delete(self, target: _Target, options: Obj, *, dry_run: bool) -> tuple[int, Obj]:
        res, name = target.res, target.name or ""
        with self._lock:
            old = self._lookup(res, target.namespace, name)
            preconditions = options.get("preconditions") or {}
            meta = old["metadata"]
            if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
                raise conflict(res, name, f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                                          f"UID in object meta: {meta.get('uid')}")
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta.get(
                    "resourceVersion"):
                raise conflict(res, name, "Precondition failed: ResourceVersion in precondition: "
                                          f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                                          f"{meta.get('resourceVersion')}")
            result = self._delete(res, old, options.get("gracePeriodSeconds"), dry_run=dry_run)
        self._dispatch()
        if result is not None:
            return 200, result
        # Deleted at once: pods answer with the object, the other types with a Success status.
        if res.plural == "pods":
            return 200, copy.deepcopy(old)
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                     "details": {**_details(res, name), "uid": meta.get("uid")}}

    def _delete(self, res: Resource, old: Obj, grace: Any, *, dry_run: bool) -> Obj | None:
        """Delete or start deleting. Returns the object when it stays around (terminating), else None."""
        meta = old["metadata"]
        if res.plural == "pods" and self.graceful_pod_deletion and self._grace_period(old, grace) > 0:
            if meta.get("deletionTimestamp"):
                return copy.deepcopy(old)  # already terminating
            seconds = self._grace_period(old, grace)
            return self._mark_terminating(res, old, seconds, dry_run=dry_run)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return copy.deepcopy(old)
            return self._mark_terminating(res, old, 0, dry_run=dry_run)
        if not dry_run:
            self._commit(res, "DELETED", copy.deepcopy(old), old)
        return None

    def _mark_terminating(self, res: Resource, old: Obj, seconds: int, *, dry_run: bool) -> Obj:
        new = copy.deepcopy(old)
        new["metadata"]["deletionTimestamp"] = rfc3339(_now() + timedelta(seconds=seconds))
        new["metadata"]["deletionGracePeriodSeconds"] = seconds
        return new if dry_run else self._commit(res, "MODIFIED", new, old)

    @staticmethod
    def _grace_period(pod: Obj, grace: Any) -> int:
        """The pod strategy's CheckGracefulDelete: unscheduled or finished pods go at once."""
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if grace is not None:
            return int(grace)
        return int(spec.get("terminationGracePeriodSeconds", 30))

    def _api_evict(self, target: _Target, body: Any) -> Obj:
        if not isinstance(body, dict) or body.get("kind", "Eviction") != "Eviction":
            raise bad_request("the body of the request was in an unknown format - expected an Eviction")
        name = (body.get("metadata") or {}).get("name")
        if name and name != target.name:
            raise bad_request("name in URL does not match name in Eviction object")
        options = body.get("deleteOptions") or {}
        self._api_delete(_Target(target.res, target.namespace, target.name, None), options, dry_run=False)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    # --- watches ----------------------------------------------------------------------------------

    def _watch_events(self, res: Resource, namespace: str | None, name: str | None, query: dict[str, str],
                     deadline: float, client_gone: Callable[[], bool]) -> Iterator[Obj]:
        """Yield watch events (dicts with type and object) until the deadline, stop, or a gone client."""
        try:
            by_labels = parse_label_selector(query.get("labelSelector", ""))
        except ValueError as error:
            raise bad_request(str(error)) from None
        by_fields = parse_field_selector(res, query.get("fieldSelector", ""))

        def selected(obj: Obj) -> bool:
            meta = obj["metadata"]
            return ((namespace is None or meta.get("namespace") == namespace)
                    and (name is None or meta["name"] == name) and by_labels(obj) and by_fields(obj))

        rv_text = query.get("resourceVersion", "")
        with self._lock:
            if query.get("sendInitialEvents") == "true":
                # Streaming lists (client-go's WatchListClient, on by default in kubectl >= 1.34): ADDED for
                # what exists now, then a BOOKMARK annotated "k8s.io/initial-events-end", then changes.
                last = self._rv
                initial = [{"type": "ADDED", "object": copy.deepcopy(obj)}
                           for _, obj in sorted(self._objects[res.plural].items()) if selected(obj)]
                initial.append({"type": "BOOKMARK", "object": {
                    "kind": res.kind, "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(last),
                                 "annotations": {"k8s.io/initial-events-end": "true"}}}})
            elif rv_text in ("", "0"):
                # "Get state and start at most recent": synthetic ADDED events for what exists now.
                last = self._rv
                initial = [{"type": "ADDED", "object": copy.deepcopy(obj)}
                           for _, obj in sorted(self._objects[res.plural].items()) if selected(obj)]
            else:
                try:
                    last = int(rv_text)
                except ValueError:
                    raise bad_request(f'invalid resource version "{rv_text}"') from None
                initial = []
        return self._watch_loop(res, selected, last, initial, deadline, client_gone)

    def _watch_loop(self, res: Resource, selected: Callable[[Obj], bool], last: int, initial: list[Obj],
                    deadline: float, client_gone: Callable[[], bool]) -> Iterator[Obj]:
        yield from initial
        while not self._stopping.is_set() and time.monotonic() < deadline and not client_gone():
            with self._changed:
                if last < self._history_floor:
                    yield _expired_event(last, self._history_floor + 1)
                    return
                fresh = [event for event in self._history if event.rv > last]
                if not fresh:
                    self._changed.wait(timeout=min(_POLL * 4, max(deadline - time.monotonic(), 0)))
                    continue
            for event in fresh:
                last = event.rv
                if event.res is res:
                    translated = _translate_event(event, selected)
                    if translated is not None:
                        yield translated

    # --- authorization ----------------------------------------------------------------------------

    def _authorize(self, verb: str, target: _Target) -> None:
        resource = target.res.plural + (f"/{target.subresource}" if target.subresource else "")
        with self._aux_lock:
            denied = any(d.blocks(verb, resource, target.namespace) for d in self._denials)
        if not denied:
            return
        where = (f'in the namespace "{target.namespace}"' if target.namespace else "at the cluster scope")
        why = (f'User "{self.user}" cannot {verb} resource "{resource}" in API group "{target.res.group}" '
               f"{where}")
        subject = (f'{target.res.group_resource} "{target.name}"' if target.name
                   else target.res.group_resource)
        raise ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(target.res, target.name))

    def _take_fault(self, method: str, request_target: str) -> _Fault | None:
        with self._aux_lock:
            for fault in self._faults:
                if fault.matches(method, request_target):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _record(self, request: Request) -> None:
        with self._aux_lock:
            self.requests.append(request)

    # --- discovery --------------------------------------------------------------------------------

    def _discovery(self, path: str) -> Obj | None:
        """The discovery documents kubectl and client-go read, or None for other paths."""
        if path == "/version":
            return dict(SERVER_VERSION)
        if path == "/api":
            address = self.url.removeprefix("http://")
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}
        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_api_group("apps")]}
        if path == "/apis/apps":
            return {"kind": "APIGroup", "apiVersion": "v1", **_api_group("apps")}
        if path == "/api/v1":
            return _resource_list("", "v1")
        if path == "/apis/apps/v1":
            return _resource_list("apps", "v1")
        if path == "/openapi/v3":
            return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_OPENAPI_HASH}"}
                              for gv in ("api/v1", "apis/apps/v1")}}
        if path in ("/openapi/v3/api/v1", "/openapi/v3/apis/apps/v1"):
            return _openapi_v3(path.removeprefix("/openapi/v3/"))
        return None


def _int_param(query: dict[str, str], name: str) -> int:
    text = query.get(name, "")
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"invalid {name}: {text!r}") from None
    return max(value, 0)


def _expired_event(requested: int, oldest: int) -> Obj:
    status = ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})").status()
    return {"type": "ERROR", "object": status}


def _translate_event(event: _Event, selected: Callable[[Obj], bool]) -> Obj | None:
    """What a watcher with selectors sees: objects entering the selection are ADDED, leaving it DELETED."""
    now = selected(event.obj)
    before = event.old is not None and event.type == "MODIFIED" and selected(event.old)
    if event.type == "MODIFIED":
        kind = "MODIFIED" if now and before else "ADDED" if now else "DELETED" if before else None
    else:
        kind = event.type if now else None
    return None if kind is None else {"type": kind, "object": copy.deepcopy(event.obj)}


def _api_group(group: str) -> Obj:
    version = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {"name": group, "versions": [version], "preferredVersion": version}


def _resource_list(group: str, version: str) -> Obj:
    resources: list[Obj] = []
    for res in RESOURCES:
        if res.group != group:
            continue
        entry: Obj = {"name": res.plural, "singularName": res.singular, "namespaced": res.namespaced,
                      "kind": res.kind, "verbs": list(_VERBS)}
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        resources.append(entry)
        if res.has_status:
            resources.append({"name": f"{res.plural}/status", "singularName": "", "namespaced": res.namespaced,
                              "kind": res.kind, "verbs": list(_STATUS_VERBS)})
        if res.plural == "pods":
            # kubectl drain looks for exactly this entry to decide it can evict.
            resources.append({"name": "pods/eviction", "singularName": "", "namespaced": True,
                              "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]})
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


_OPENAPI_HASH = "fake-apiserver-1"
_OPENAPI_WRITE_PARAMETERS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation")
]


def _openapi_v3(group_version_path: str) -> Obj:
    """Just enough OpenAPI v3 for kubectl apply/create/patch.

    kubectl reads it to learn that PATCH supports the fieldValidation parameter (so it validates
    server-side instead of downloading the v2 schema, which this server does not have). The PATCH
    operations declare no request body, so kubectl computes strategic merge patches from its
    built-in types rather than from schemas.
    """
    prefix = "/" + group_version_path
    paths: Obj = {}
    for res in RESOURCES:
        if f"{res.group}/{res.version}".lstrip("/") != group_version_path.removeprefix("api/").removeprefix(
                "apis/"):
            continue
        gvk = {"group": res.group, "version": res.version, "kind": res.kind}
        collection = f"{prefix}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{prefix}/{res.plural}"

        def operation(action: str, gvk: Obj = gvk, res: Resource = res) -> Obj:
            return {"operationId": f"{action}{res.kind}", "parameters": list(_OPENAPI_WRITE_PARAMETERS),
                    "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}

        paths[collection] = {"post": operation("post")}
        paths[f"{collection}/{{name}}"] = {"put": operation("put"), "patch": operation("patch")}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {}}}


def _kubeconfig_yaml(clusters: dict[str, tuple[str, str | None]], users: dict[str, str],
                     contexts: dict[str, tuple[str, str, str | None]], current: str) -> str:
    """A kubeconfig in plain YAML; scalars are JSON strings, which YAML reads as double-quoted."""
    q = json.dumps
    lines = ["apiVersion: v1", "kind: Config", "preferences: {}", "clusters:"]
    for name, (server, ca) in clusters.items():
        lines += [f"- name: {q(name)}", "  cluster:", f"    server: {q(server)}"]
        if ca:
            lines.append(f"    certificate-authority-data: {base64.b64encode(ca.encode()).decode()}")
    lines.append("users:")
    for name, token in users.items():
        lines += [f"- name: {q(name)}", "  user:", f"    token: {q(token)}"]
    lines.append("contexts:")
    for name, (cluster, user, namespace) in contexts.items():
        lines += [f"- name: {q(name)}", "  context:", f"    cluster: {q(cluster)}", f"    user: {q(user)}"]
        if namespace:
            lines.append(f"    namespace: {q(namespace)}")
    lines.append(f"current-context: {q(current)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# Tables: server-side printing for kubectl's human-readable output
# --------------------------------------------------------------------------------------------------

Column = tuple[str, str, int]  # name, type, priority (1 = only with -o wide)
Printer = Callable[[Obj], list[Any]]


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, as the AGE column shows it."""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def _age(obj: Obj, field_name: str = "creationTimestamp") -> str:
    stamp = (obj.get("metadata") or {}).get(field_name) or obj.get(field_name)
    if not stamp:
        return "<unknown>"
    try:
        then = datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "<unknown>"
    return human_duration((_now() - then).total_seconds())


def _joined(mapping: Any) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((mapping or {}).items())) or "<none>"


def _pod_cells(pod: Obj) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for container in statuses:
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
        reason = waiting.get("reason") or terminated.get("reason") or reason
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return [pod["metadata"]["name"], f"{ready}/{len(spec.get('containers') or [])}", reason, str(restarts),
            _age(pod), status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", "<none>"]


def _node_cells(node: Obj) -> list[Any]:
    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = {"True": "Ready", "False": "NotReady"}.get(str(ready), "Unknown")
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted(key.split("/", 1)[1] for key in meta.get("labels") or {}
                   if key.startswith("node-role.kubernetes.io/"))
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    return [meta["name"], state, ",".join(roles) or "<none>", _age(node), info.get("kubeletVersion", ""),
            addresses.get("InternalIP", "<none>"), addresses.get("ExternalIP", "<none>"),
            info.get("osImage", "<unknown>"), info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>")]


def _daemonset_cells(ds: Obj) -> list[Any]:
    spec, status = ds.get("spec") or {}, ds.get("status") or {}
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    containers = pod_spec.get("containers") or []
    selector = spec.get("selector") or {}
    return [ds["metadata"]["name"], int(status.get("desiredNumberScheduled") or 0),
            int(status.get("currentNumberScheduled") or 0), int(status.get("numberReady") or 0),
            int(status.get("updatedNumberScheduled") or 0), int(status.get("numberAvailable") or 0),
            _joined(pod_spec.get("nodeSelector")), _age(ds), ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers), _joined(selector.get("matchLabels"))]


def _event_cells(event: Obj) -> list[Any]:
    involved = event.get("involvedObject") or {}
    last = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
    return [_age({"t": last}, "t"), event.get("type", ""), event.get("reason", ""),
            f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}", event.get("message", "")]


def _revision_cells(revision: Obj) -> list[Any]:
    owner = next((o for o in revision["metadata"].get("ownerReferences") or [] if o.get("controller")), None)
    controller = "<none>"
    if owner:
        group = str(owner.get("apiVersion", "")).rpartition("/")[0]
        controller = f"{str(owner.get('kind', '')).lower()}{'.' + group if group else ''}/{owner.get('name')}"
    return [revision["metadata"]["name"], controller, revision.get("revision", 0), _age(revision)]


_TABLES: dict[str, tuple[list[Column], Printer]] = {
    "pods": ([("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0),
              ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1),
              ("Readiness Gates", "string", 1)], _pod_cells),
    "nodes": ([("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0), ("Age", "string", 0),
               ("Version", "string", 0), ("Internal-IP", "string", 1), ("External-IP", "string", 1),
               ("OS-Image", "string", 1), ("Kernel-Version", "string", 1), ("Container-Runtime", "string", 1)],
              _node_cells),
    "daemonsets": ([("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
                    ("Ready", "integer", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0),
                    ("Node Selector", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
                    ("Images", "string", 1), ("Selector", "string", 1)], _daemonset_cells),
    "namespaces": ([("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
                   lambda ns: [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", "Active"), _age(ns)]),
    "events": ([("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
                ("Object", "string", 0), ("Message", "string", 0)], _event_cells),
    "controllerrevisions": ([("Name", "string", 0), ("Controller", "string", 0), ("Revision", "integer", 0),
                             ("Age", "string", 0)], _revision_cells),
}


def to_table(res: Resource, objects: list[Obj], list_meta: Obj, query: dict[str, str],
             *, with_columns: bool = True) -> Obj:
    """A meta.k8s.io/v1 Table of objects; rows carry what `includeObject` asks (default: metadata)."""
    columns, printer = _TABLES[res.plural]
    include = query.get("includeObject", "Metadata")
    rows = []
    for obj in objects:
        row: Obj = {"cells": printer(obj)}
        if include == "Object":
            row["object"] = {"apiVersion": res.api_version, "kind": res.kind, **obj}
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj.get("metadata", {})}
        rows.append(row)
    definitions = [{"name": name, "type": kind, "format": "name" if name == "Name" else "",
                    "description": name, "priority": priority} for name, kind, priority in columns]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": definitions if with_columns else [], "rows": rows}


def _table_event(res: Resource, event: Obj, query: dict[str, str]) -> Obj:
    if event["type"] == "ERROR":
        return event
    obj = event["object"]
    table = to_table(res, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")}, query)
    return {"type": event["type"], "object": table}


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------

def parse_target(path: str) -> tuple[_Target, bool]:
    """Map a resource URL to what it addresses; the bool says it used the legacy /watch/ prefix.

    Raises unknown_path() for anything that is not a served resource.
    """
    parts = [unquote(part) for part in path.strip("/").split("/")]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise unknown_path()
    legacy_watch = bool(rest) and rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    namespace: str | None = None
    # /namespaces/{ns}/{resource}... unless it is the namespaces resource itself (/namespaces/{name}[/status]).
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3 or any(not part for part in rest):
        raise unknown_path()
    res = _BY_PLURAL.get(rest[0])
    if res is None or res.group != group or res.version != version:
        raise unknown_path()
    if namespace is not None and not res.namespaced:
        raise unknown_path()
    if namespace is None and res.namespaced and len(rest) > 1:
        raise unknown_path()  # /api/v1/pods/{name} does not exist; only the all-namespaces list does
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if subresource is not None and not (
            (subresource == "status" and res.has_status) or (subresource == "eviction" and res.plural == "pods")):
        raise unknown_path()
    return _Target(res, namespace, name, subresource), legacy_watch


_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json")


def _tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_alpn_protocols(["http/1.1"])  # Go clients offer h2 first; this server speaks HTTP/1.1
    # load_cert_chain only reads files; they are needed for the duration of the call only.
    with tempfile.TemporaryDirectory(prefix="fake-apiserver-") as directory:
        cert, key = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
        for path, text in ((cert, _TLS_CERT_PEM), (key, _TLS_KEY_PEM)):
            with open(path, "w", encoding="ascii") as handle:
                handle.write(text)
        context.load_cert_chain(cert, key)
    return context


class _HttpServer(ThreadingHTTPServer):
    """Plain HTTP and HTTPS on one port: a connection whose first byte opens a TLS handshake gets TLS."""

    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets connections when many clients start at once

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._tls = _tls_context()
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first != b"\x16":  # not a TLS ClientHello (or an empty connection): plain HTTP
            super().finish_request(request, client_address)
            return
        try:
            wrapped = self._tls.wrap_socket(request, server_side=True)  # detaches `request`
        except (ssl.SSLError, OSError) as error:
            log.debug("TLS handshake failed: %s", error)
            return
        with self._connections_lock:
            self._connections.discard(request)
            self._connections.add(wrapped)
        try:
            super().finish_request(wrapped, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(wrapped)
            wrapped.close()

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS round trip that tests do not need.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """One connection; each request is parsed, checked (faults, authn, authz) and routed."""

    protocol_version = "HTTP/1.1"  # keep-alive and chunked watch streams
    # Headers and body go out in separate writes; with Nagle's algorithm the second one waits for
    # the client's delayed ACK, adding ~40 ms to every request.
    disable_nagle_algorithm = True
    server: _HttpServer
    server_version = "fake-kube-apiserver"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("%s " + format, self.address_string(), *args)

    # --- request plumbing -------------------------------------------------------------------------

    @property
    def api(self) -> ApiServer:
        return self.server.api

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        path, query = split.path, dict(parse_qsl(split.query, keep_blank_values=True))
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self._request = Request(method, path, query, 0, content_type)
        raw = self._read_body()
        fault = self.api._take_fault(method, self.path)
        if fault is not None and isinstance(fault.status, str):
            self._fail_connection(fault.status)
            return
        try:
            if fault is not None:
                raise _fault_error(int(fault.status), path)
            self._route(method, path, query, raw)
        except ApiError as error:
            self._send_json(error.code, error.status(), error.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # a bug in this server: answer like the real one would, and log it
            log.exception("fake apiserver failed on %s %s", method, self.path)
            self._send_json(500, ApiError(500, "InternalError", f"Internal error occurred: {error}").status())

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _decode(self, raw: bytes) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as error:
            raise bad_request(f"couldn't get version/kind; json parse error: {error}") from None

    def _fail_connection(self, how: str) -> None:
        """The "timeout" and "drop" faults: no response at all."""
        self.api._record(self._request)
        self.close_connection = True
        if how == "timeout":
            deadline = time.monotonic() + self.api.fault_hang_seconds
            while time.monotonic() < deadline and not self.api.stopping and not self._client_gone():
                time.sleep(_POLL)

    def _client_gone(self) -> bool:
        """True once the peer closed its end; clients send nothing more while awaiting an answer.

        Over TLS the close arrives as an alert record, so any readable byte counts as gone.
        """
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            if isinstance(self.connection, ssl.SSLSocket):
                return True
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except (OSError, ValueError):
            return True

    def _send_json(self, code: int, body: Obj, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self._request.status = code
        self.api._record(self._request)  # before the body goes out, so a returning client sees it
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    # --- routing ----------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        if path in ("/healthz", "/livez", "/readyz"):
            self._send_text(200, "ok")
            return
        self._authenticate()
        self._request.body = self._decode(raw)  # after authentication, as on the real server
        document = self.api._discovery(path.rstrip("/") or "/") if method == "GET" else None
        if document is not None:
            self._send_json(200, document)
            return
        target, legacy_watch = parse_target(path)
        watch = legacy_watch or query.get("watch", "").lower() in ("1", "true")
        self.api._authorize(_verb(method, target, watch), target)
        self._dispatch_verb(method, target, query, watch)

    def _send_text(self, code: int, text: str) -> None:
        data = text.encode()
        self._request.status = code
        self.api._record(self._request)
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authenticate(self) -> None:
        scheme, _, credential = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or credential.strip() != self.api.token:
            if not scheme and not isinstance(self.connection, ssl.SSLSocket) and "kubectl" in (
                    self.headers.get("User-Agent") or ""):
                log.warning("kubectl sent no credentials: it only does so over TLS; write the kubeconfig "
                            "with write_kubeconfig(..., tls=True)")
            raise ApiError(401, "Unauthorized", "Unauthorized")

    def _dispatch_verb(self, method: str, target: _Target, query: dict[str, str], watch: bool) -> None:
        api, body = self.api, self._request.body
        dry_run = query.get("dryRun") == "All"
        if target.subresource == "eviction":
            if method != "POST":
                raise method_not_allowed()
            self._send_json(201, api._api_evict(target, body))
        elif watch and method == "GET":
            self._stream_watch(target, query)
        elif target.name is None:
            if method == "GET":
                listed = api._api_list(target.res, target.namespace, query)
                if self._wants_table():
                    listed = to_table(target.res, listed["items"], listed["metadata"], query)
                self._send_json(200, listed)
            elif method == "POST" and (target.namespace is not None or not target.res.namespaced):
                self._send_json(201, api._api_create(target.res, target.namespace, body, dry_run=dry_run))
            else:
                raise method_not_allowed()
        elif method == "GET":
            found = api._api_get(target)
            if self._wants_table() and target.subresource is None:
                found = to_table(target.res, [found], {"resourceVersion": api.resource_version}, query)
            self._send_json(200, found)
        elif method == "PUT":
            self._send_json(200, api._api_replace(target, body, dry_run=dry_run))
        elif method == "PATCH":
            self._send_json(200, api._api_patch(target, self._patch_type(), body, dry_run=dry_run))
        elif method == "DELETE" and target.subresource is None:
            options = dict(body) if isinstance(body, dict) else {}
            if "gracePeriodSeconds" in query:
                options["gracePeriodSeconds"] = _int_param(query, "gracePeriodSeconds")
            code, result = api._api_delete(target, options, dry_run=dry_run or options.get("dryRun") == ["All"])
            self._send_json(code, result)
        else:
            raise method_not_allowed()

    def _wants_table(self) -> bool:
        """kubectl's human-readable output asks for server-side printing (a meta.k8s.io Table)."""
        accept = (self.headers.get("Accept") or "").replace(" ", "")
        return "as=Table" in accept and "g=meta.k8s.io" in accept

    def _patch_type(self) -> str:
        content_type = self._request.content_type
        if content_type not in _PATCH_TYPES:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media types include: "
                           f"{', '.join(_PATCH_TYPES)}")
        if self._request.body is None:
            raise bad_request("the body of the request was empty")
        return content_type

    def _stream_watch(self, target: _Target, query: dict[str, str]) -> None:
        timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        events = self.api._watch_events(target.res, target.namespace, target.name, query,
                                       time.monotonic() + timeout, self._client_gone)
        if self._wants_table():
            events = (_table_event(target.res, event, query) for event in events)
        self._request.status = 200
        self.api._record(self._request)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True  # simplest correct end for a stream the client may abandon
        try:
            for event in events:
                data = json.dumps(event, separators=(",", ":")).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away; nothing to clean up
        except Exception:  # headers are out: an error body can no longer be sent, so cut the stream
            log.exception("fake apiserver failed while streaming a watch on %s", self.path)


def _verb(method: str, target: _Target, watch: bool) -> str:
    if method == "GET":
        return "watch" if watch else "get" if target.name else "list"
    if method == "DELETE" and target.name is None:
        return "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())


def _fault_error(code: int, path: str) -> ApiError:
    if code == 429 and path.endswith("/eviction"):
        return ApiError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                        {"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget pdb needs "
                                     "1 healthy pods and has 1 currently"}]})
    reason, message = _GENERIC_FAILURES.get(code, ("Unknown", f"the server responded with the status code {code} "
                                                              "but did not return more information"))
    headers = {"Retry-After": "1"} if code == 429 else None
    details: dict[str, Any] | None = {"retryAfterSeconds": 1} if code == 429 else None
    if code == 409:
        # Without an object at hand, name what the URL names, as a real conflict would.
        try:
            target, _ = parse_target(path)
            return conflict(target.res, target.name or "", _MODIFIED)
        except ApiError:
            pass
    return ApiError(code, reason, message, details, headers)
