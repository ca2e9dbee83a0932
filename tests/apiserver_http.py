"""The test API server's HTTP side: plain HTTP and TLS on one port, request parsing, routing and
answers. ApiServer (tests/apiserver.py) holds the state and the verbs."""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import json
import logging
import select
import socket
import socketserver
import ssl
import threading
import time
from datetime import timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.apiserver_base import DEFAULT_WATCH_TIMEOUT, POLL_INTERVAL, Request, _int_param
from tests.apiserver_exec import serve_exec
from tests.apiserver_tables import _table_event, to_table
from tests.apiserver_tls import certificate_user, tls_context
from tests.apiserver_traffic import APF_BODY

if TYPE_CHECKING:
    from tests.apiserver import ApiServer
from tests.apiserver_base import (
    _BY_PLURAL,
    _GENERIC_FAILURES,
    _MODIFIED,
    ApiError,
    Obj,
    _Target,
    bad_request,
    conflict,
    method_not_allowed,
    unknown_path,
)

log = logging.getLogger(__name__)

GZIP_THRESHOLD = 128 * 1024  # k8s.io/apiserver responsewriters: smaller answers are not worth compressing

# How often blocked threads re-check for a stopping server or a vanished client.

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
        (subresource == "status" and res.has_status) or (subresource in ("eviction", "exec") and res.plural == "pods")
    ):
        raise unknown_path()
    return _Target(res, namespace, name, subresource), legacy_watch


_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json")


class _HttpServer(ThreadingHTTPServer):
    """Plain HTTP and HTTPS on one port: a connection whose first byte opens a TLS handshake gets TLS."""

    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets connections when many clients start at once

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._tls = tls_context()
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
        self._request.accept_encoding = self.headers.get("Accept-Encoding") or ""
        self._request.verb, self._request.resource = _classify(method, path, query)
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
                time.sleep(POLL_INTERVAL)

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

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header: the time on the server's clock (a simulation's clock when one is attached)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return email.utils.format_datetime(self.api.now().astimezone(timezone.utc), usegmt=True)

    def _send_json(self, code: int, body: Obj, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        extra = dict(headers or {})
        if self.api.compress_responses and len(data) >= GZIP_THRESHOLD and "gzip" in self._request.accept_encoding:
            # As the real API server: gzip level 1 for answers of 128 KiB and more (responsewriters).
            data = gzip.compress(data, compresslevel=1)
            extra["Content-Encoding"] = self._request.content_encoding = "gzip"
        self._send(code, data, {"Content-Type": "application/json", "Cache-Control": "no-cache, private", **extra})

    def _send(self, code: int, data: bytes, headers: dict[str, str]) -> None:
        self._request.status = code
        self._request.response_bytes = len(data)
        self.api._record(self._request)  # before the body goes out, so a returning client sees it
        self.send_response(code)
        for name, value in {**headers, "Content-Length": str(len(data))}.items():
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
            if not self._throttled():
                self._send_json(200, document)
            return
        target, legacy_watch = parse_target(path)
        watch = legacy_watch or query.get("watch", "").lower() in ("1", "true")
        if self._throttled():
            return
        self.api._authorize(self._request.verb, target, self._request.user)
        self._dispatch_verb(method, target, query, watch)

    def _throttled(self) -> bool:
        """API Priority and Fairness, between authentication and authorization: a request the server was told
        to refuse for load gets the filter's plain-text 429 (tests/apiserver_traffic.py)."""
        headers = self.api._throttles.take(self._request.verb, self._request.resource)
        if headers is None:
            return False
        self._send_text(429, APF_BODY, headers)
        return True

    def _send_text(self, code: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._send(code, text.encode(), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})})

    def _authenticate(self) -> None:
        scheme, _, credential = (self.headers.get("Authorization") or "").partition(" ")
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        by_certificate = certificate_user(peer)  # kube-apiserver tries x509 before bearer tokens
        authenticated = by_certificate[0] if by_certificate else self.api.user
        if by_certificate is None and (scheme.lower() != "bearer" or credential.strip() != self.api.token):
            if (
                not scheme
                and not isinstance(self.connection, ssl.SSLSocket)
                and "kubectl" in (self.headers.get("User-Agent") or "")
            ):
                log.warning(
                    "kubectl sent no credentials: it only does so over TLS; write the kubeconfig "
                    "with write_kubeconfig(..., tls=True)"
                )
            raise ApiError(401, "Unauthorized", "Unauthorized")
        request = self._request
        request.impersonate_user = self.headers.get("Impersonate-User") or ""
        request.impersonate_groups = tuple(self.headers.get_all("Impersonate-Group") or ())
        request.impersonate_uid = self.headers.get("Impersonate-Uid") or ""
        request.user = authenticated
        identity = self.api.impersonation.identity(authenticated, lambda name: list(self.headers.get_all(name) or ()))
        request.user = identity.user

    def _dispatch_verb(self, method: str, target: _Target, query: dict[str, str], watch: bool) -> None:
        api, body = self.api, self._request.body
        dry_run = query.get("dryRun") == "All"
        if target.subresource == "exec" and method in ("GET", "POST"):  # tests/apiserver_exec.py
            serve_exec(self, api, target, parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        elif target.subresource == "exec":
            raise method_not_allowed()
        elif target.subresource == "eviction":
            if method != "POST":
                raise method_not_allowed()
            self._send_json(*api._api_evict(target, body, dry_run=dry_run))
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
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(_PATCH_TYPES)}",
            )
        if self._request.body is None:
            raise bad_request("the body of the request was empty")
        return content_type

    def _stream_watch(self, target: _Target, query: dict[str, str]) -> None:
        timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        events = self.api._watch_events(
            target.res, target.namespace, target.name, query, time.monotonic() + timeout, self._client_gone
        )
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
                self._request.response_bytes += len(data)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away; nothing to clean up
        except Exception:  # headers are out: an error body can no longer be sent, so cut the stream
            log.exception("fake apiserver failed while streaming a watch on %s", self.path)


def _classify(method: str, path: str, query: dict[str, str]) -> tuple[str, str]:
    """(verb, resource) as the authorizer and the request metrics name them; a path that is not a resource
    URL (discovery, health) is its own resource, read with `get`."""
    try:
        target, legacy_watch = parse_target(path)
    except ApiError:
        return method.lower() if method != "GET" else "get", path
    watch = legacy_watch or query.get("watch", "").lower() in ("1", "true")
    return _verb(method, target, watch), target.res.plural + (f"/{target.subresource}" if target.subresource else "")


def _verb(method: str, target: _Target, watch: bool) -> str:
    if method == "GET":
        return "watch" if watch else "get" if target.name else "list"
    if method == "DELETE" and target.name is None:
        return "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())


def _fault_error(code: int, path: str) -> ApiError:
    if code == 429 and path.endswith("/eviction"):
        return ApiError(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
            {
                "causes": [
                    {
                        "reason": "DisruptionBudget",
                        "message": "The disruption budget pdb needs 1 healthy pods and has 1 currently",
                    }
                ]
            },
        )
    reason, message = _GENERIC_FAILURES.get(
        code, ("Unknown", f"the server responded with the status code {code} but did not return more information")
    )
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
