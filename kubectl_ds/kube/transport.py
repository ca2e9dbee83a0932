"""Authenticated GETs over the standard library, for reads that should not wait for the client import.

Importing the `kubernetes` client takes longer than listing 5,000 nodes (about 1 s and 35 MB on the
development machine), and a read needs none of it: a URL, an Authorization header and a TLS context. This
module builds those from the kubeconfig entries the client would use, for the credentials whose meaning is
plain (token, tokenFile, client certificate and key, username/password; CA, insecure-skip-tls-verify) and
answers None for everything else, so that the client keeps handling what it does: exec plugins,
auth-provider, impersonation, proxies (kubeconfig proxy-url or the environment), tls-server-name, and any
kubeconfig key or kubectl flag this module does not know. Precedence follows the client's loader
(kubernetes/config/kube_config.py): tokenFile before token, a token before username/password, client
certificates in addition.

Each thread keeps its own keep-alive connection, so parallel lists do not share a socket.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import os
import ssl
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException, HTTPResponse, HTTPSConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from kubectl_ds.kube.config import KubeFlags, ResolvedConfig, kubeconfig_entries

_USER_KEYS = {"token", "tokenFile", "client-certificate", "client-certificate-data", "client-key",
              "client-key-data", "username", "password"}  # fmt: skip
_CLUSTER_KEYS = {"server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify",
                 "extensions"}  # fmt: skip
_PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")
_KNOWN_FLAGS = {"kubeconfig", "context", "cluster", "user", "namespace", "request_timeout", "disable_compression"}


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def getheader(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class HttpTransport:
    """GET requests to one API server with fixed credentials; safe to use from several threads."""

    def __init__(
        self, server: str, headers: Mapping[str, str], context: ssl.SSLContext | None, *, compress: bool = True
    ) -> None:
        parts = urlsplit(server)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        # Accept-Encoding gzip as kubectl asks (Go's transport does by itself): the API server compresses
        # answers of 128 KiB and more, which a node list over a real network is.
        gzip_header = {"Accept-Encoding": "gzip"} if compress else {}
        self._headers = {"Accept": "application/json", "User-Agent": "kubectl-ds", **gzip_header, **headers}
        self._context = context
        self._local = threading.local()

    def _connection(self, timeout: float | None) -> HTTPConnection:
        connection: HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self._https:
                connection = HTTPSConnection(self._host, self._port, timeout=timeout, context=self._context)
            else:
                connection = HTTPConnection(self._host, self._port, timeout=timeout)
            self._local.connection = connection
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection

    def send(self, path: str, query: list[tuple[str, str]], timeout: float | None) -> Sent:
        """Send a GET now; its answer is read by the returned Sent's response(), so the caller can decode the
        previous page while the server works on this one (one request in flight per thread's connection)."""
        return Sent(self, self._prefix + path + (f"?{urlencode(query)}" if query else ""), timeout)

    def get(self, path: str, query: list[tuple[str, str]], timeout: float | None) -> Response:
        return self.send(path, query, timeout).response()

    def _write(self, target: str, timeout: float | None) -> bool:
        """Send the request line and headers; True when it went over a kept-alive connection."""
        connection = self._connection(timeout)
        reused = connection.sock is not None
        try:
            connection.request("GET", target, headers=self._headers)
        except (HTTPException, ConnectionError):
            self.close()
            if not reused:
                raise
            connection = self._connection(timeout)  # the server closed it while idle: one fresh try
            connection.request("GET", target, headers=self._headers)
            return False
        return reused

    def _read(self) -> HTTPResponse:
        connection: HTTPConnection = self._local.connection
        return connection.getresponse()

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def early_continue(body: bytes) -> str:
    """The continue token of a list page, read from the head of its body without decoding the items: the API
    server writes a list's metadata before its items (Go encodes the struct's fields in order). "" when the
    head does not show it (no token, or another order): the caller then reads it from the decoded page."""
    head = body[:8192]
    at = head.find(b'"metadata"')
    if at < 0 or b'"items"' in head[:at]:
        return ""
    text = head.decode("utf-8", "ignore")
    start = text.find("{", text.find('"metadata"') + len('"metadata"'))
    if start < 0:
        return ""
    try:
        metadata, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return ""
    if not isinstance(metadata, dict) or "name" in metadata:
        return ""
    return str(metadata.get("continue") or "")


def plain_transport(
    flags: KubeFlags, resolved: ResolvedConfig, environ: Mapping[str, str] | None = None
) -> HttpTransport | None:
    """A transport for these credentials, or None where the official client must handle them."""
    env = os.environ if environ is None else environ
    set_flags = {f.name for f in dataclasses.fields(flags) if getattr(flags, f.name) not in (None, (), False)}
    if set_flags - _KNOWN_FLAGS or any(env.get(name) or env.get(name.upper()) for name in _PROXY_VARIABLES):
        return None
    cluster, cluster_dir, user, user_dir = kubeconfig_entries(resolved)
    if set(cluster) - _CLUSTER_KEYS or set(user) - _USER_KEYS:
        return None
    try:
        headers = _authorization(user, user_dir)
        context = _tls_context(resolved.server, cluster, cluster_dir, user, user_dir)
    except (OSError, ValueError, ssl.SSLError):
        return None  # let the client load it and say what is wrong, as it did before
    return HttpTransport(resolved.server, headers, context, compress=not flags.disable_compression)


def _file_or_data(entry: Mapping[str, Any], file_key: str, data_key: str, base: Path) -> bytes | None:
    """A kubeconfig file (relative to its kubeconfig) wins over inline base64 data, as the client reads it."""
    if entry.get(file_key):
        return (base / os.path.expanduser(str(entry[file_key]))).read_bytes()
    if entry.get(data_key):
        return base64.b64decode(str(entry[data_key]), validate=True)
    return None


def _authorization(user: Mapping[str, Any], base: Path) -> dict[str, str]:
    if user.get("tokenFile"):
        return {"Authorization": "Bearer " + (base / str(user["tokenFile"])).read_text().strip()}
    if user.get("token"):
        return {"Authorization": f"Bearer {user['token']}"}
    if "username" in user and "password" in user:
        pair = f"{user['username']}:{user['password']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}


def _tls_context(
    server: str, cluster: Mapping[str, Any], cluster_dir: Path, user: Mapping[str, Any], user_dir: Path
) -> ssl.SSLContext | None:
    if not server.startswith("https:"):
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    authority = _file_or_data(cluster, "certificate-authority", "certificate-authority-data", cluster_dir)
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif authority is not None:
        context.load_verify_locations(cadata=authority.decode())  # the kubeconfig's CA only, as the client trusts
    else:
        context.load_default_certs()
    certificate = _file_or_data(user, "client-certificate", "client-certificate-data", user_dir)
    key = _file_or_data(user, "client-key", "client-key-data", user_dir)
    if certificate is not None and key is not None:
        # ssl loads a client certificate only from files: a private temporary directory, gone at once.
        with tempfile.TemporaryDirectory(prefix="kubectl-ds-") as folder:
            cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
            cert_path.write_bytes(certificate)
            key_path.write_bytes(key)
            context.load_cert_chain(str(cert_path), str(key_path))
    return context


class Sent:
    """A GET on its way; response() waits for the answer and reads its body."""

    def __init__(self, transport: HttpTransport, target: str, timeout: float | None) -> None:
        self._transport, self._target, self._timeout = transport, target, timeout
        self._reused = transport._write(target, timeout)

    def open(self) -> HTTPResponse:
        """The answer with its body still to read (a watch streams it)."""
        try:
            return self._transport._read()
        except (HTTPException, ConnectionError):
            self._transport.close()
            # A kept-alive connection the server had closed fails at once (RemoteDisconnected): one fresh try.
            if not self._reused:
                raise
            self._reused = self._transport._write(self._target, self._timeout)
            return self._transport._read()

    def response(self) -> Response:
        answer = self.open()
        body = answer.read()
        headers = {name.lower(): value for name, value in answer.getheaders()}
        if answer.will_close:
            self._transport.close()
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        return Response(status=answer.status, headers=headers, body=body)
