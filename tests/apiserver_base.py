"""The test API server's vocabulary: the resources it serves, its errors (shaped like metav1.Status),
timestamps, names and metadata checks. Shared by every tests/apiserver_*.py module."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

Obj = dict[str, Any]

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "fake",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


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
    Resource(
        "namespaces",
        "namespace",
        "Namespace",
        "",
        "v1",
        False,
        ("ns",),
        has_status=True,
        field_labels=("metadata.name", "status.phase"),
    ),
    Resource(
        "nodes",
        "node",
        "Node",
        "",
        "v1",
        False,
        ("no",),
        has_status=True,
        field_labels=("metadata.name", "spec.unschedulable"),
    ),
    Resource(
        "pods",
        "pod",
        "Pod",
        "",
        "v1",
        True,
        ("po",),
        ("all",),
        has_status=True,
        field_labels=(
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ),
    ),
    Resource(
        "events",
        "event",
        "Event",
        "",
        "v1",
        True,
        ("ev",),
        field_labels=(
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ),
    ),
    # Secrets only as objects that exist (the simulated kubelet looks up a pod's imagePullSecrets): no data checks.
    Resource("secrets", "secret", "Secret", "", "v1", True),
    Resource("daemonsets", "daemonset", "DaemonSet", "apps", "v1", True, ("ds",), ("all",), has_status=True),
    Resource("controllerrevisions", "controllerrevision", "ControllerRevision", "apps", "v1", True),
    Resource(
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        "policy",
        "v1",
        True,
        ("pdb",),
        has_status=True,
    ),
    Resource("priorityclasses", "priorityclass", "PriorityClass", "scheduling.k8s.io", "v1", False, ("pc",)),
)
_BY_PLURAL = {r.plural: r for r in RESOURCES}
# The API groups served besides the core group, in discovery order.
GROUPS = ("apps", "policy", "scheduling.k8s.io")
# Resources whose metadata.generation counts spec changes (their strategies' PrepareForUpdate).
GENERATION_KINDS = ("daemonsets", "poddisruptionbudgets")


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

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> Obj:
        body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message}
        if self.reason:  # omitempty: a Status a handler returns itself may have none
            body["reason"] = self.reason
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
    return ApiError(
        409, "Conflict", f'Operation cannot be fulfilled on {res.group_resource} "{name}": {why}', _details(res, name)
    )


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
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted, but may still be processing the request",
    ),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the real name generator draws from


def _validate_name(res: Resource, name: str) -> None:
    if len(name) > 253 or not _NAME.match(name):
        raise invalid(
            res,
            name,
            f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain '
            "must consist of lower case alphanumeric characters, '-' or '.', and must "
            "start and end with an alphanumeric character",
        )


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
                problem = (
                    f"cannot unmarshal {_json_type(value)} into Go struct field ObjectMeta.metadata."
                    f"{field_name} of type map[string]string"
                )
            elif isinstance(value, dict):
                wrong = next((v for v in value.values() if not isinstance(v, str)), None)
                if wrong is not None:
                    problem = (
                        f"cannot unmarshal {_json_type(wrong)} into Go struct field ObjectMeta.metadata."
                        f"{field_name} of type string"
                    )
        for field_name in ("name", "namespace", "generateName", "resourceVersion", "uid"):
            if meta.get(field_name) is not None and not isinstance(meta[field_name], str):
                problem = (
                    f"cannot unmarshal {_json_type(meta[field_name])} into Go struct field ObjectMeta."
                    f"metadata.{field_name} of type string"
                )
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


@dataclass
class _Target:
    """A parsed resource URL."""

    res: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


# The real server picks a random timeout between --min-request-timeout (1800s) and twice that.
DEFAULT_WATCH_TIMEOUT = 1800.0
POLL_INTERVAL = 0.05


@dataclass
class Request:
    """One request as served. `status` is 0 when a fault dropped the connection without an answer."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    content_type: str = ""
    body: Any = None  # the decoded JSON body, or None
    # As the authorizer sees it: get, list, watch, create, update, patch, delete (tests/apiserver_traffic.py).
    verb: str = ""
    resource: str = ""  # pods, pods/eviction, daemonsets/status ...; the path of a non-resource request
    response_bytes: int = 0  # the response body (a watch adds each event as it streams)
    # Who the request acted as (the token's user, or the one it impersonated) and the impersonation headers.
    user: str = ""
    impersonate_user: str = ""
    impersonate_groups: tuple[str, ...] = ()
    impersonate_uid: str = ""
    accept_encoding: str = ""  # the Accept-Encoding header as sent
    content_encoding: str = ""  # "gzip" when the answer was compressed


def _int_param(query: dict[str, str], name: str) -> int:
    text = query.get(name, "")
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"invalid {name}: {text!r}") from None
    return max(value, 0)
