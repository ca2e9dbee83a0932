"""An in-process fake Kubernetes API server that speaks real HTTP.

Tests point the official `kubernetes` client, or a real `kubectl`, at it through a kubeconfig it writes.
It serves core/v1 nodes, namespaces, pods (with the eviction subresource) and events, apps/v1 daemonsets and
controllerrevisions, policy/v1 poddisruptionbudgets and scheduling.k8s.io/v1 priorityclasses, with paths,
status bodies, resourceVersions, selectors, pagination, watches, patches and RBAC denials that behave like
the real API server's, so code tested here behaves the same way against a cluster. It counts what it serves
(traffic()), can refuse load as API Priority and Fairness does (throttle()), tells the time of an attached
simulation's clock (Date header, timestamps), and can start defaulting a new template field
(add_template_default()).

The parts: apiserver_base (resources, errors), apiserver_store (objects, history, update strategies),
apiserver_verbs (get/list/create/replace/patch/delete), apiserver_eviction (the eviction subresource and
PodDisruptionBudgets), apiserver_admission (defaulting, Priority admission, PDB validation), apiserver_traffic
(accounting, APF), apiserver_selectors, apiserver_patch, apiserver_discovery, apiserver_tables, apiserver_http,
apiserver_tls (TLS, and client certificates authenticated as their CN and O) and apiserver_identity (the
impersonation filter: Impersonate-User/-Group/-Uid checked, recorded on each Request, refused with a 403 where
a test denied it, deny_impersonation()).

It listens on one port for both plain HTTP (`url`) and TLS (`https_url`): kubectl (client-go) never
sends a bearer token over plain HTTP, so kubeconfigs meant for kubectl are written with tls=True.

Deliberate simplifications, each of them documented where it happens:
  * validation covers names, namespaces, metadata types, preconditions and PodDisruptionBudget min/max only;
    defaulting covers DaemonSets and pod specs, for writes through HTTP (and add(defaults=True));
  * admission is the Priority plugin alone; the built-in system PriorityClasses are known to it but not
    listed as objects;
  * no garbage collection or controllers (tests/simulator.py provides those, through add_listener);
  * JSON only (no protobuf or YAML bodies); server-side apply answers 415; no deletecollection;
  * answers are gzipped (over 128 KiB, for clients that accept gzip) only with compress_responses=True;
  * OpenAPI v3 is a stub, just enough for kubectl apply; OpenAPI v2 answers 404.

Standard library only, so it works wherever the tests run.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.apiserver_admission import apply_defaults
from tests.apiserver_base import (
    POLL_INTERVAL,
    RESOURCES,
    TEMPLATE_GENERATION,
    ApiError,
    Obj,
    Request,
    Resource,
    _details,
    _Target,
    bad_request,
    resolve_resource,
    rfc3339,
)
from tests.apiserver_discovery import _kubeconfig_yaml, discovery_document
from tests.apiserver_exec import ExecHandler
from tests.apiserver_http import _HttpServer
from tests.apiserver_identity import Impersonation
from tests.apiserver_patch import strategic_merge_patch
from tests.apiserver_selectors import parse_field_selector, parse_label_selector
from tests.apiserver_store import _Event
from tests.apiserver_tables import human_duration
from tests.apiserver_tls import TEST_CA_PEM
from tests.apiserver_traffic import Throttles, Traffic, traffic_of
from tests.apiserver_verbs import Verbs

# What tests import from here; the parts live in tests/apiserver_*.py.
__all__ = [
    "RESOURCES",
    "TEMPLATE_GENERATION",
    "TEST_CA_PEM",
    "ApiError",
    "ApiServer",
    "Request",
    "apply_defaults",
    "human_duration",
    "resolve_resource",
    "rfc3339",
    "strategic_merge_patch",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------------------


@dataclass
class _Fault:
    status: int | str
    remaining: int
    method: str | None
    path_contains: str | None

    def matches(self, method: str, target: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path_contains is None or self.path_contains in target
        )


@dataclass(frozen=True)
class _Denial:
    verb: str
    resource: str
    namespace: str | None
    user: str | None = None

    def blocks(self, verb: str, resource: str, namespace: str | None, user: str) -> bool:
        if self.verb not in ("*", verb) or self.resource not in ("*", resource):
            return False
        if self.user is not None and self.user != user:
            return False
        # Without a namespace the request needs cluster-wide rights, which a denial anywhere takes away.
        return self.namespace is None or namespace is None or self.namespace == namespace


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------


class ApiServer(Verbs):
    """A fake kube-apiserver on 127.0.0.1 with an ephemeral port.

    Use as a context manager, or start()/stop(). State lives in memory; add()/load() seed it,
    get()/objects() read it, update_object()/delete_object() change it server-side (as a
    controller or kubelet would), and every change bumps one global resourceVersion.
    """

    def __init__(
        self,
        *,
        token: str = "test-token",
        page_size_cap: int | None = None,
        graceful_pod_deletion: bool = False,
        user: str = "test-user",
        watch_history: int = 1000,
        fault_hang_seconds: float = 10.0,
        clock: Callable[[], datetime] | None = None,
        compress_responses: bool = False,
    ) -> None:
        self.token = token
        # The real API server gzips answers over 128 KiB for clients that accept gzip (kubectl and kubectl-ds
        # do, unless --disable-compression). Off by default here so that benchmarks on loopback measure the
        # plugin rather than zlib; tests of compression turn it on.
        self.compress_responses = compress_responses
        self.impersonation = Impersonation()
        self.user = user  # the identity the token authenticates as, quoted in 403 messages
        self.page_size_cap = page_size_cap
        self.graceful_pod_deletion = graceful_pod_deletion
        self.fault_hang_seconds = fault_hang_seconds
        self.url = ""  # http://127.0.0.1:PORT once started
        self.https_url = ""  # the same port, over TLS (see TEST_CA_PEM)
        self.requests: list[Request] = []
        self.exec_handler: ExecHandler | None = None  # what pods/exec answers (tests/apiserver_exec.py)
        super().__init__(watch_history=watch_history, clock=clock)

        self._aux_lock = threading.Lock()  # guards requests, faults and denials
        self._faults: list[_Fault] = []
        self._denials: list[_Denial] = []
        self._throttles = Throttles()

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
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"fake-apiserver-{port}",
            daemon=True,
        )
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

    # --- RBAC and faults --------------------------------------------------------------------------

    def deny(self, verb: str, resource: str, namespace: str | None = None, *, user: str | None = None) -> None:
        """Answer 403 for `verb` on `resource` (e.g. "pods", "pods/eviction", "daemonsets/status"),
        in `namespace` or everywhere, to every user or only to `user` (e.g. one a request impersonates).
        "*" matches any verb or resource."""
        with self._aux_lock:
            self._denials.append(_Denial(verb, resource, namespace, user))

    def deny_impersonation(self, resource: str, name: str) -> None:
        """Answer 403 to requests that impersonate `name` as `resource`: "users", "groups", "uids", or
        "serviceaccounts" with name "NS/NAME" (tests/apiserver_identity.py)."""
        self.impersonation.deny(resource, name)

    def clear_denials(self) -> None:
        with self._aux_lock:
            self._denials.clear()

    def inject_fault(
        self, *, status: int | str, count: int = 1, method: str | None = None, path_contains: str | None = None
    ) -> None:
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
        """Forget the requests served so far (and so their traffic())."""
        with self._aux_lock:
            self.requests.clear()

    def traffic(self) -> Traffic:
        """Requests and response-body bytes by (verb, resource) since the last reset_requests(); `list`,
        `watch` and `get` are told apart (tests/apiserver_traffic.py)."""
        with self._aux_lock:
            return traffic_of(list(self.requests))

    def throttle(
        self, *, verb: str | None = "list", resource: str | None = None, retry_after: int = 1, count: int | None = None
    ) -> None:
        """Refuse matching requests as API Priority and Fairness does under load: 429, `Retry-After:
        <retry_after>` and the plain-text body "Too many requests, please try again later.". verb and resource
        are as the authorizer names them ("list", "pods", "pods/eviction"; None or "*" for any); count None
        refuses until clear_throttles(). Checked after authentication, before authorization."""
        self._throttles.add(verb, resource, retry_after, count)

    def clear_throttles(self) -> None:
        self._throttles.clear()

    # --- defaulting -------------------------------------------------------------------------------

    def add_template_default(self, field_path: str, value: Any) -> None:
        """From now on, every DaemonSet written through the API gets `value` at `field_path` of its pod template
        where that field is missing (e.g. "spec.enableServiceLinks", or "spec.containers.*.stdin" for every
        container), as an API server upgrade that defaults a new field, or a mutating webhook, does. Stored
        objects change only when next written: the DaemonSet controller then sees a template that is no longer
        byte-equal to its ControllerRevision and snapshots a new one (docs/rules.md#r-revisions)."""
        self.admission.template_defaults.append((tuple(field_path.split(".")), value))

    # --- kubeconfig -------------------------------------------------------------------------------

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        *,
        context: str = "test",
        namespace: str | None = None,
        token: str | None = None,
        user: str = "test-user",
        extra_contexts: dict[str, dict[str, Any]] | None = None,
        tls: bool = False,
    ) -> str:
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

    # --- watches ----------------------------------------------------------------------------------

    def _watch_events(
        self,
        res: Resource,
        namespace: str | None,
        name: str | None,
        query: dict[str, str],
        deadline: float,
        client_gone: Callable[[], bool],
    ) -> Iterator[Obj]:
        """Yield watch events (dicts with type and object) until the deadline, stop, or a gone client."""
        try:
            by_labels = parse_label_selector(query.get("labelSelector", ""))
        except ValueError as error:
            raise bad_request(str(error)) from None
        by_fields = parse_field_selector(res, query.get("fieldSelector", ""))

        def selected(obj: Obj) -> bool:
            meta = obj["metadata"]
            return (
                (namespace is None or meta.get("namespace") == namespace)
                and (name is None or meta["name"] == name)
                and by_labels(obj)
                and by_fields(obj)
            )

        rv_text = query.get("resourceVersion", "")
        with self._lock:
            if query.get("sendInitialEvents") == "true":
                # Streaming lists (client-go's WatchListClient, on by default in kubectl >= 1.34): ADDED for
                # what exists now, then a BOOKMARK annotated "k8s.io/initial-events-end", then changes.
                last = self._rv
                initial = [
                    {"type": "ADDED", "object": copy.deepcopy(obj)}
                    for _, obj in sorted(self._objects[res.plural].items())
                    if selected(obj)
                ]
                initial.append(
                    {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": res.kind,
                            "apiVersion": res.api_version,
                            "metadata": {
                                "resourceVersion": str(last),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    }
                )
            elif rv_text in ("", "0"):
                # "Get state and start at most recent": synthetic ADDED events for what exists now.
                last = self._rv
                initial = [
                    {"type": "ADDED", "object": copy.deepcopy(obj)}
                    for _, obj in sorted(self._objects[res.plural].items())
                    if selected(obj)
                ]
            else:
                try:
                    last = int(rv_text)
                except ValueError:
                    raise bad_request(f'invalid resource version "{rv_text}"') from None
                initial = []
        return self._watch_loop(res, selected, last, initial, deadline, client_gone)

    def _watch_loop(
        self,
        res: Resource,
        selected: Callable[[Obj], bool],
        last: int,
        initial: list[Obj],
        deadline: float,
        client_gone: Callable[[], bool],
    ) -> Iterator[Obj]:
        yield from initial
        while not self._stopping.is_set() and time.monotonic() < deadline and not client_gone():
            with self._changed:
                if last < self._history_floor:
                    yield _expired_event(last, self._history_floor + 1)
                    return
                fresh = [event for event in self._history if event.rv > last]
                if not fresh:
                    self._changed.wait(timeout=min(POLL_INTERVAL * 4, max(deadline - time.monotonic(), 0)))
                    continue
            for event in fresh:
                last = event.rv
                if event.res is res:
                    translated = _translate_event(event, selected)
                    if translated is not None:
                        yield translated

    # --- authorization ----------------------------------------------------------------------------

    def _authorize(self, verb: str, target: _Target, user: str | None = None) -> None:
        """403 for a denied request, naming the user it acts as (an impersonated one, if any)."""
        user = user or self.user
        resource = target.res.plural + (f"/{target.subresource}" if target.subresource else "")
        with self._aux_lock:
            denied = any(d.blocks(verb, resource, target.namespace, user) for d in self._denials)
        if not denied:
            return
        where = f'in the namespace "{target.namespace}"' if target.namespace else "at the cluster scope"
        why = f'User "{user}" cannot {verb} resource "{resource}" in API group "{target.res.group}" {where}'
        subject = f'{target.res.group_resource} "{target.name}"' if target.name else target.res.group_resource
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
        return discovery_document(path, self.url.removeprefix("http://"))


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
