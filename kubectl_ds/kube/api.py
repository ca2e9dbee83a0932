"""The cluster adapter's core: raw JSON requests (never client models), paginated lists, one error boundary.

Client models cost ~7x the time and 3x the memory of json.loads on large lists, so every call goes
through ApiClient.param_serialize/call_api and decodes the body itself. With `plain_reads`, GETs go over
the standard library (kube/transport.py) when the kubeconfig's credentials allow it, and the client is
imported only when a write or a watch needs it: `explain` then never imports it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import quote

from kubectl_ds.errors import ApiError
from kubectl_ds.kube.config import KubeFlags, ResolvedConfig, new_api_client, resolve
from kubectl_ds.kube.errors import Attempt, error_for_exception, error_for_status
from kubectl_ds.kube.transport import HttpTransport, Response, Sent, early_continue, plain_transport
from kubectl_ds.labelselector import selector_query

# Items per page: 500, kubectl's chunk size, chosen by measuring (README, "Benchmarks"). Pages are pipelined
# (the next is asked for before this one is decoded), so more round trips cost little time, while each page
# in flight costs memory (a page of real nodes, with images and managedFields, is 5-10 MB at 500); and API
# Priority and Fairness charges a LIST seats by the objects its limit lets it return.
PAGE_SIZE = 500
CORE = "/api/v1"
APPS = "/apis/apps/v1"
POLICY = "/apis/policy/v1"
OnPage = Callable[[list[dict[str, Any]]], None]
_Api = TypeVar("_Api", bound="ApiCore")


def _retry_after(response: Any) -> float | None:
    """The Retry-After header (seconds) of a 429 from API Priority and Fairness, if any."""
    value = response.getheader("Retry-After") if hasattr(response, "getheader") else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def collection(group: str, resource: str, namespace: str | None) -> str:
    if namespace:
        return f"{group}/namespaces/{quote(namespace, safe='')}/{resource}"
    return f"{group}/{resource}"


class ApiCore:
    """Requests through the official client (or, for plain GETs, the standard library), returning plain dicts:
    one error boundary, the API server's clock, pagination. kube/cluster.py's Cluster adds the reads, writes
    and watches the commands use."""

    def __init__(
        self,
        api_client: Any,
        *,
        server: str,
        request_timeout: float | None = None,
        local_clock: Callable[[], datetime] = _utc_now,
        headers: tuple[tuple[str, str], ...] = (),
        transport: HttpTransport | None = None,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self._api_client = api_client  # None until a write or a watch needs it, with a client_factory
        self._client_factory = client_factory
        self._transport = transport  # plain reads: only when no flag or header asks for the client
        self._headers = headers
        self._server = server
        self._timeout = request_timeout
        self._local_clock = local_clock
        self._server_offset = timedelta(0)  # the API server's clock minus ours, from its Date headers

    @classmethod
    def connect(
        cls: type[_Api],
        flags: KubeFlags,
        resolved: ResolvedConfig | None = None,
        local_clock: Callable[[], datetime] = _utc_now,
        *,
        plain_reads: bool = False,
    ) -> _Api:
        config = resolved or resolve(flags)
        transport = plain_transport(flags, config) if plain_reads else None
        return cls(
            None if transport is not None else _new_client(config, flags),
            server=config.server,
            request_timeout=flags.request_timeout,
            local_clock=local_clock,
            headers=flags.request_headers(),
            transport=transport,
            client_factory=lambda: _new_client(config, flags),
        )

    @property
    def _client(self) -> Any:
        """The official client, created (and imported) on first use when reads did not need it."""
        if self._api_client is None and self._client_factory is not None:
            self._api_client = self._client_factory()
        return self._api_client

    @property
    def server(self) -> str:
        """The API server's address, as messages name it."""
        return self._server

    def server_now(self) -> datetime:
        """The time on the API server's clock, as its last answer's Date header told it.

        Pods' Ready transitions and a rollout's heartbeats are stamped with the cluster's clocks, so waiting out
        minReadySeconds or judging a heartbeat stale must use them too: a laptop two minutes ahead would cut
        every step short and take over live drivers (docs/rules.md#r-availability)."""
        return self._local_clock() + self._server_offset

    def _note_server_time(self, response: Any) -> None:
        date = response.getheader("Date") if hasattr(response, "getheader") else None
        if not date:
            return
        try:
            from email.utils import parsedate_to_datetime  # after the first request is on its way

            stamped = parsedate_to_datetime(str(date))
        except (TypeError, ValueError):
            return
        if stamped.tzinfo is None:
            return
        # The header has whole seconds: the middle of that second is the best estimate.
        self._server_offset = stamped + timedelta(seconds=0.5) - self._local_clock()

    def _with_headers(self, serialized: tuple[Any, ...]) -> tuple[Any, ...]:
        """The serialized request with our own headers added. Impersonate-Group repeats once per group, which
        a plain dict cannot hold: urllib3's HTTPHeaderDict sends every value as its own header line."""
        if not self._headers:
            return serialized
        from urllib3 import HTTPHeaderDict

        method, url, headers, *rest = serialized
        combined = HTTPHeaderDict(headers or {})
        for name, value in self._headers:
            combined.add(name, value)
        return (method, url, combined, *rest)

    # --- generic -----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        attempt: Attempt,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        if method == "GET" and self._transport is not None:
            return self._plain_get(path, attempt, query or [])
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            serialized = self._client.param_serialize(
                method=method,
                resource_path=path,
                query_params=query or [],
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self._client.call_api(*self._with_headers(serialized), _request_timeout=self._timeout)
            data = response.read()
            self._note_server_time(response)
        except Exception as error:  # noqa: BLE001 - every client/transport failure becomes our own error
            raise error_for_exception(error, attempt, self._server, self._timeout) from error
        return self._decode(response.status, data, attempt, response)

    def _plain_get(self, path: str, attempt: Attempt, query: list[tuple[str, str]]) -> Any:
        response = self._receive(self._send(path, query, attempt), attempt)
        return self._decode(response.status, response.body, attempt, response)

    def _send(self, path: str, query: list[tuple[str, str]], attempt: Attempt) -> Sent:
        assert self._transport is not None
        try:
            return self._transport.send(path, query, self._timeout)
        except Exception as error:  # noqa: BLE001 - every transport failure becomes our own error
            raise error_for_exception(error, attempt, self._server, self._timeout) from error

    def _receive(self, sent: Sent, attempt: Attempt) -> Response:
        try:
            response = sent.response()
        except Exception as error:  # noqa: BLE001 - every transport failure becomes our own error
            raise error_for_exception(error, attempt, self._server, self._timeout) from error
        self._note_server_time(response)
        return response

    def _plain_pages(
        self, path: str, base: list[tuple[str, str]], attempt: Attempt, on_page: OnPage | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """_pages over the plain transport, pipelined: the next page is asked for as soon as its continue token
        is read from the head of this page's body, and this page is decoded while the server serves the next."""
        items: list[dict[str, Any]] = []
        version = ""
        sent: Sent | None = self._send(path, base, attempt)
        while sent is not None:
            response = self._receive(sent, attempt)
            early = early_continue(response.body) if response.status < 400 else ""
            sent = self._send(path, [*base, ("continue", early)], attempt) if early else None
            page = self._decode(response.status, response.body, attempt, response)
            metadata = page.get("metadata") or {}
            token = str(metadata.get("continue") or "")
            if sent is None and token:  # the head did not show the token: ask after decoding
                sent = self._send(path, [*base, ("continue", token)], attempt)
            items.extend(page.get("items") or [])
            version = version or str(metadata.get("resourceVersion") or "")
            if on_page is not None:
                on_page(page.get("items") or [])  # while the server serves the next page
        return items, version

    def _decode(self, status: int, data: bytes, attempt: Attempt, response: Any) -> Any:
        if status >= 400:
            raise error_for_status(status, data, attempt, self._server, _retry_after(response))
        try:
            return json.loads(data) if data else {}
        except ValueError as error:  # e.g. an HTML page from a proxy in front of the API server
            raise ApiError(
                f"the API server at {self._server} answered {attempt.verb} {attempt.resource} with "
                "something that is not JSON; is the kubeconfig's server address right?"
            ) from error

    def get(self, group: str, resource: str, *, namespace: str | None, name: str) -> dict[str, Any]:
        path = f"{collection(group, resource, namespace)}/{quote(name, safe='')}"
        result: dict[str, Any] = self.request("GET", path, Attempt("get", resource, namespace, name))
        return result

    def list_all(
        self,
        group: str,
        resource: str,
        *,
        namespace: str | None = None,
        selector: Mapping[str, Any] | None = None,
        field_selector: str | None = None,
        on_page: OnPage | None = None,
    ) -> list[dict[str, Any]]:
        """Every item, following `continue` tokens page by page (each page also handed to `on_page`)."""
        path = collection(group, resource, namespace)
        base: list[tuple[str, str]] = [("limit", str(PAGE_SIZE))]
        if selector is not None:
            base.append(("labelSelector", selector_query(selector)))
        if field_selector:
            base.append(("fieldSelector", field_selector))
        return self._pages(path, base, Attempt("list", resource, namespace), on_page)[0]

    def _pages(
        self, path: str, base: list[tuple[str, str]], attempt: Attempt, on_page: OnPage | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """All items of a paginated list, and the list's resourceVersion (where a watch can start)."""
        if self._transport is not None:
            return self._plain_pages(path, base, attempt, on_page)
        items: list[dict[str, Any]] = []
        token = version = ""
        while True:
            query = base + ([("continue", token)] if token else [])
            page = self.request("GET", path, attempt, query=query)
            items.extend(page.get("items") or [])
            if on_page is not None:
                on_page(page.get("items") or [])
            metadata = page.get("metadata") or {}
            version = version or str(metadata.get("resourceVersion") or "")
            token = metadata.get("continue") or ""
            if not token:
                return items, version


def _new_client(config: ResolvedConfig, flags: KubeFlags) -> Any:
    import logging

    # urllib3 logs each retry as a WARNING; our own one-line error is what the user should see.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    return new_api_client(config, flags)
