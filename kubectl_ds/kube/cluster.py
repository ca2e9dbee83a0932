"""The cluster adapter: raw JSON reads (never client models), paginated lists, one error boundary.

Client models cost ~7x the time and 3x the memory of json.loads on large lists, so every call goes
through ApiClient.param_serialize/call_api and decodes the body itself. With `plain_reads`, GETs go over
the standard library (kube/transport.py) when the kubeconfig's credentials allow it, and the client is
imported only when a write or a watch needs it: `explain` then never imports it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
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
_CORE = "/api/v1"
_APPS = "/apis/apps/v1"
_POLICY = "/apis/policy/v1"
OnPage = Callable[[list[dict[str, Any]]], None]


def _retry_after(response: Any) -> float | None:
    """The Retry-After header (seconds) of a 429 from API Priority and Fairness, if any."""
    value = response.getheader("Retry-After") if hasattr(response, "getheader") else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _collection(group: str, resource: str, namespace: str | None) -> str:
    if namespace:
        return f"{group}/namespaces/{quote(namespace, safe='')}/{resource}"
    return f"{group}/{resource}"


class Cluster:
    """Reads (and, for rollouts, writes) through the official client, returning plain dicts."""

    pages_reads = True  # list_nodes and list_daemonset_pods take on_page (explain judges pages as they come)

    def __init__(
        self,
        api_client: Any,
        *,
        server: str,
        request_timeout: float | None = None,
        local_clock: Callable[[], datetime] = _utc_now,
        transport: HttpTransport | None = None,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self._api_client = api_client  # None until a write or a watch needs it, with a client_factory
        self._client_factory = client_factory
        self._transport = transport
        self._server = server
        self._timeout = request_timeout
        self._local_clock = local_clock
        self._server_offset = timedelta(0)  # the API server's clock minus ours, from its Date headers

    @classmethod
    def connect(
        cls,
        flags: KubeFlags,
        resolved: ResolvedConfig | None = None,
        local_clock: Callable[[], datetime] = _utc_now,
        *,
        plain_reads: bool = False,
    ) -> Cluster:
        config = resolved or resolve(flags)
        transport = plain_transport(flags, config) if plain_reads else None
        return cls(
            None if transport is not None else _new_client(config),
            server=config.server,
            request_timeout=flags.request_timeout,
            local_clock=local_clock,
            transport=transport,
            client_factory=lambda: _new_client(config),
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
            response = self._client.call_api(*serialized, _request_timeout=self._timeout)
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
        path = f"{_collection(group, resource, namespace)}/{quote(name, safe='')}"
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
        path = _collection(group, resource, namespace)
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

    # --- what explain reads (the ClusterReader protocol) ----------------------------------------------

    def get_daemonset(self, *, namespace: str, name: str) -> dict[str, Any]:
        return self.get(_APPS, "daemonsets", namespace=namespace, name=name)

    def get_pod(self, *, namespace: str, name: str) -> dict[str, Any]:
        return self.get(_CORE, "pods", namespace=namespace, name=name)

    def list_nodes(self, on_page: OnPage | None = None) -> list[dict[str, Any]]:
        return self.list_all(_CORE, "nodes", on_page=on_page)

    def list_daemonset_pods(
        self, *, namespace: str, selector: Mapping[str, Any], on_page: OnPage | None = None
    ) -> list[dict[str, Any]]:
        return self.list_all(_CORE, "pods", namespace=namespace, selector=selector, on_page=on_page)

    def list_disruption_budgets(self, *, namespace: str) -> list[dict[str, Any]]:
        """The namespace's PodDisruptionBudgets (policy/v1)."""
        return self.list_all(_POLICY, "poddisruptionbudgets", namespace=namespace)

    def list_active_pods(self) -> list[dict[str, Any]]:
        """Every non-terminal pod in the cluster, in one paginated list (not one request per node)."""
        return self.list_all(_CORE, "pods", field_selector="status.phase!=Succeeded,status.phase!=Failed")

    def list_controller_revisions(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.list_all(_APPS, "controllerrevisions", namespace=namespace, selector=selector)

    def list_scheduling_events(self, *, namespace: str) -> list[dict[str, Any]]:
        return self.list_all(
            _CORE, "events", namespace=namespace, field_selector="involvedObject.kind=Pod,reason=FailedScheduling"
        )

    # --- what rollouts write and watch (the RolloutCluster protocol) ---------------------------------

    def patch_daemonset(
        self, *, namespace: str, name: str, patch: Mapping[str, Any], strategic: bool = False
    ) -> dict[str, Any]:
        """A JSON merge patch (or, `strategic`, a strategic merge patch, as kubectl sends); without a
        metadata.resourceVersion in it, it applies to whatever version is stored: no 409 from a status write."""
        path = f"{_collection(_APPS, 'daemonsets', namespace)}/{quote(name, safe='')}"
        content_type = "application/strategic-merge-patch+json" if strategic else "application/merge-patch+json"
        result: dict[str, Any] = self.request(
            "PATCH", path, Attempt("patch", "daemonsets", namespace, name), body=dict(patch), content_type=content_type
        )
        return result

    def replace_daemonset(self, daemonset: Mapping[str, Any]) -> dict[str, Any]:
        """PUT the whole object; its metadata.resourceVersion makes it fail with 409 if anyone changed it."""
        metadata = daemonset.get("metadata") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        path = f"{_collection(_APPS, 'daemonsets', namespace)}/{quote(name, safe='')}"
        result: dict[str, Any] = self.request(
            "PUT",
            path,
            Attempt("update", "daemonsets", namespace, name),
            body=dict(daemonset),
            content_type="application/json",
        )
        return result

    def evict_pod(self, *, namespace: str, name: str) -> None:
        """The Eviction API, so PodDisruptionBudgets are respected (429 when one forbids it now)."""
        path = f"{_collection(_CORE, 'pods', namespace)}/{quote(name, safe='')}/eviction"
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        self.request(
            "POST",
            path,
            Attempt("create", "pods/eviction", namespace, name),
            body=body,
            content_type="application/json",
        )

    def delete_pod(self, *, namespace: str, name: str, uid: str | None = None) -> None:
        path = f"{_collection(_CORE, 'pods', namespace)}/{quote(name, safe='')}"
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            body["preconditions"] = {"uid": uid}  # never delete a replacement that reuses the name
        self.request(
            "DELETE", path, Attempt("delete", "pods", namespace, name), body=body, content_type="application/json"
        )

    def list_pods_versioned(self, *, namespace: str, selector: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
        base = [("limit", str(PAGE_SIZE)), ("labelSelector", selector_query(selector))]
        return self._pages(_collection(_CORE, "pods", namespace), base, Attempt("list", "pods", namespace))

    def list_nodes_versioned(self) -> tuple[list[dict[str, Any]], str]:
        return self._pages(_collection(_CORE, "nodes", None), [("limit", str(PAGE_SIZE))], Attempt("list", "nodes"))

    def watch_nodes(self, *, resource_version: str, timeout: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """Node events after `resource_version`, as watch_pods gives pod events (a burst; a failure last)."""
        return self._watch(_collection(_CORE, "nodes", None), [], resource_version, timeout, "node")

    def watch_pods(
        self, *, namespace: str, selector: Mapping[str, Any], resource_version: str, timeout: float
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Pod events ("ADDED"/"MODIFIED"/"DELETED", pod) after `resource_version`, as a burst: what already
        happened comes at once, otherwise the stream waits up to `timeout`s for the first event; either way it
        ends once no event has come for WATCH_QUIET seconds (timeout 0 asks only for what already happened).

        Waiting on a watch instead of re-listing is what keeps a rollout of 1,000 nodes from listing pods in a
        tight loop; ending a burst at a pause lets one request carry all the events a controller pass wrote,
        and the caller look at them together. A failure is the stream's last item, ("ERROR", a Status): 410
        Gone (the version left the server's history), an ERROR event, an error answer or a broken stream. Events
        may have been missed then, so the caller lists again. Closing the generator closes the stream.
        """
        query = [("labelSelector", selector_query(selector))]
        return self._watch(_collection(_CORE, "pods", namespace), query, resource_version, timeout, "pod")

    def _watch(
        self, path: str, selection: list[tuple[str, str]], resource_version: str, timeout: float, what: str
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        seconds = max(1, math.ceil(timeout))
        query = [("watch", "1"), *selection, ("timeoutSeconds", str(seconds))]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        raw = None
        streaming = False
        try:
            serialized = self._client.param_serialize(
                method="GET",
                resource_path=path,
                query_params=query,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            response = self._client.call_api(*serialized, _request_timeout=(10, seconds + 5))
            raw = response.response
            if response.status >= 400:
                yield "ERROR", _status_body(response.read(), response.status)
                return
            streaming = True
            _read_timeout(raw, max(timeout, WATCH_QUIET))
            for line in raw:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind = str(event.get("type") or "")
                if kind not in ("ADDED", "MODIFIED", "DELETED"):
                    yield "ERROR", event.get("object") or {"kind": "Status", "message": f"watch event {kind!r}"}
                    return
                yield kind, event.get("object") or {}
                _read_timeout(raw, WATCH_QUIET)
        except Exception as error:  # noqa: BLE001 - a broken watch only means "list again"
            if streaming and _is_read_timeout(error):
                return  # the quiet that ends a burst, or no event within `timeout`: a normal end
            yield (
                "ERROR",
                {"kind": "Status", "code": 0, "reason": "BrokenStream", "message": f"the {what} watch broke: {error}"},
            )
        finally:
            if raw is not None:
                raw.close()


def _new_client(config: ResolvedConfig) -> Any:
    import logging

    # urllib3 logs each retry as a WARNING; our own one-line error is what the user should see.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    return new_api_client(config)


WATCH_QUIET = 0.1  # seconds without an event that end a watch burst (Cluster.watch_pods)


def _read_timeout(raw: Any, seconds: float) -> None:
    """Bound the next socket read of a streaming response (urllib3 keeps its connection on the response)."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _is_read_timeout(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"ReadTimeoutError", "TimeoutError", "timeout"})


def _status_body(body: bytes, code: int) -> dict[str, Any]:
    """The Status an error answer carries (a 410 Gone for a too old resourceVersion), or one made up for it."""
    try:
        status = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        status = None
    if isinstance(status, dict) and status.get("kind") == "Status":
        return status
    return {"kind": "Status", "code": code, "message": body.decode("utf-8", "replace").strip()[:200]}
