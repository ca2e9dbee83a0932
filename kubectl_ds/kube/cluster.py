"""The cluster adapter: what the commands read, write and watch, over kube/api.py's requests."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from kubectl_ds.errors import ApiError, Conflict
from kubectl_ds.kube.api import APPS, CORE, PAGE_SIZE, POLICY, ApiCore, OnPage, collection
from kubectl_ds.kube.errors import Attempt
from kubectl_ds.labelselector import selector_query

__all__ = ["PAGE_SIZE", "Cluster"]


class Cluster(ApiCore):
    """Reads (and, for rollouts, writes) through the official client, returning plain dicts."""

    pages_reads = True  # list_nodes and list_daemonset_pods take on_page (explain judges pages as they come)

    # --- what explain reads (the ClusterReader protocol) ----------------------------------------------

    def get_daemonset(self, *, namespace: str, name: str) -> dict[str, Any]:
        return self.get(APPS, "daemonsets", namespace=namespace, name=name)

    def get_pod(self, *, namespace: str, name: str) -> dict[str, Any]:
        return self.get(CORE, "pods", namespace=namespace, name=name)

    def list_nodes(self, on_page: OnPage | None = None) -> list[dict[str, Any]]:
        return self.list_all(CORE, "nodes", on_page=on_page)

    def list_daemonset_pods(
        self, *, namespace: str, selector: Mapping[str, Any], on_page: OnPage | None = None
    ) -> list[dict[str, Any]]:
        return self.list_all(CORE, "pods", namespace=namespace, selector=selector, on_page=on_page)

    def list_disruption_budgets(self, *, namespace: str) -> list[dict[str, Any]]:
        """The namespace's PodDisruptionBudgets (policy/v1)."""
        return self.list_all(POLICY, "poddisruptionbudgets", namespace=namespace)

    def list_active_pods(self) -> list[dict[str, Any]]:
        """Every non-terminal pod in the cluster, in one paginated list (not one request per node)."""
        return self.list_all(CORE, "pods", field_selector="status.phase!=Succeeded,status.phase!=Failed")

    def list_controller_revisions(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.list_all(APPS, "controllerrevisions", namespace=namespace, selector=selector)

    def list_scheduling_events(self, *, namespace: str) -> list[dict[str, Any]]:
        return self.list_all(
            CORE, "events", namespace=namespace, field_selector="involvedObject.kind=Pod,reason=FailedScheduling"
        )

    # --- what audit reads: the whole scope in one paginated list each (namespace None: every namespace) --

    def list_daemonsets(
        self, *, namespace: str | None, selector: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        return self.list_all(APPS, "daemonsets", namespace=namespace, selector=selector or None)

    def list_pods(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return self.list_all(CORE, "pods", namespace=namespace)

    # --- what `kubectl ds node` reads (the NodeReader protocol) --------------------------------------

    def get_node(self, *, name: str) -> dict[str, Any]:
        return self.get(CORE, "nodes", namespace=None, name=name)

    def pods_on_node_versioned(self, *, node: str) -> tuple[list[dict[str, Any]], str]:
        """Every pod bound to `node` (the API server's spec.nodeName field selector), and where a watch can start."""
        base = [("limit", str(PAGE_SIZE)), ("fieldSelector", f"spec.nodeName={node}")]
        return self._pages(collection(CORE, "pods", None), base, Attempt("list", "pods", None))

    def list_unscheduled_pods(self, *, namespace: str | None) -> list[dict[str, Any]]:
        """Pods no node is bound to yet (`spec.nodeName=`): a Pending DaemonSet pod names its node only in its
        matchFields affinity."""
        return self.list_all(CORE, "pods", namespace=namespace, field_selector="spec.nodeName=")

    def list_revisions(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return self.list_all(APPS, "controllerrevisions", namespace=namespace)

    def list_events(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return self.list_all(
            CORE, "events", namespace=namespace, field_selector="involvedObject.kind=Pod,reason=FailedScheduling"
        )

    def list_budgets(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return self.list_all(POLICY, "poddisruptionbudgets", namespace=namespace)

    # --- what rollouts write and watch (the RolloutCluster protocol) ---------------------------------

    def patch_daemonset(
        self, *, namespace: str, name: str, patch: Mapping[str, Any], strategic: bool = False
    ) -> dict[str, Any]:
        """A JSON merge patch (or, `strategic`, a strategic merge patch, as kubectl sends); without a
        metadata.resourceVersion in it, it applies to whatever version is stored: no 409 from a status write."""
        path = f"{collection(APPS, 'daemonsets', namespace)}/{quote(name, safe='')}"
        content_type = "application/strategic-merge-patch+json" if strategic else "application/merge-patch+json"
        result: dict[str, Any] = self.request(
            "PATCH", path, Attempt("patch", "daemonsets", namespace, name), body=dict(patch), content_type=content_type
        )
        return result

    def replace_daemonset(self, daemonset: Mapping[str, Any]) -> dict[str, Any]:
        """PUT the whole object; its metadata.resourceVersion makes it fail with 409 if anyone changed it."""
        metadata = daemonset.get("metadata") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        path = f"{collection(APPS, 'daemonsets', namespace)}/{quote(name, safe='')}"
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
        path = f"{collection(CORE, 'pods', namespace)}/{quote(name, safe='')}/eviction"
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        self.request(
            "POST",
            path,
            Attempt("create", "pods/eviction", namespace, name),
            body=body,
            content_type="application/json",
        )

    def delete_pod(self, *, namespace: str, name: str, uid: str | None = None) -> None:
        path = f"{collection(CORE, 'pods', namespace)}/{quote(name, safe='')}"
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            body["preconditions"] = {"uid": uid}  # never delete a replacement that reuses the name
        self.request(
            "DELETE", path, Attempt("delete", "pods", namespace, name), body=body, content_type="application/json"
        )

    def create_pods(self, *, namespace: str, pods: Sequence[Mapping[str, Any]]) -> None:
        """POST each pod, CREATE_CONCURRENCY at a time: 500 pre-pull pods in a few seconds without a burst that
        API Priority and Fairness would queue or refuse. A pod that exists (409, a create retried after a lost
        answer) counts as created; the first other error is raised once every create was tried."""
        from concurrent.futures import ThreadPoolExecutor

        path = collection(CORE, "pods", namespace)

        def create(pod: Mapping[str, Any]) -> ApiError | None:
            name = str((pod.get("metadata") or {}).get("name") or "")
            try:
                self.request(
                    "POST",
                    path,
                    Attempt("create", "pods", namespace, name),
                    body=dict(pod),
                    content_type="application/json",
                )
            except Conflict:
                return None
            except ApiError as error:
                return error
            return None

        pool = ThreadPoolExecutor(max_workers=CREATE_CONCURRENCY)
        try:
            errors = [error for error in pool.map(create, pods) if error is not None]
        finally:  # a Ctrl-C cancels the creates not yet sent (the caller deletes those that were)
            pool.shutdown(wait=True, cancel_futures=True)
        if errors:
            raise errors[0]

    def exec_in_pod(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], timeout: float, tick: Callable[[], None]
    ) -> tuple[int | None, str]:
        """Run a command in a pod's container (pods/exec): kube/podexec.py."""
        from kubectl_ds.kube.podexec import exec_in_pod

        return exec_in_pod(self._client, namespace, pod, container, argv, timeout, tick)

    def list_pods_versioned(self, *, namespace: str, selector: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
        base = [("limit", str(PAGE_SIZE)), ("labelSelector", selector_query(selector))]
        return self._pages(collection(CORE, "pods", namespace), base, Attempt("list", "pods", namespace))

    def list_nodes_versioned(self) -> tuple[list[dict[str, Any]], str]:
        return self._pages(collection(CORE, "nodes", None), [("limit", str(PAGE_SIZE))], Attempt("list", "nodes"))

    def watch_nodes(self, *, resource_version: str, timeout: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """Node events after `resource_version`, as watch_pods gives pod events (a burst; a failure last)."""
        return self._watch(collection(CORE, "nodes", None), [], resource_version, timeout, "node")

    def watch_pods(
        self,
        *,
        namespace: str,
        selector: Mapping[str, Any],
        resource_version: str,
        timeout: float,
        field_selector: str = "",
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
        if field_selector:  # e.g. spec.nodeName=NODE, with namespace "" for every namespace
            query.append(("fieldSelector", field_selector))
        return self._watch(collection(CORE, "pods", namespace), query, resource_version, timeout, "pod")

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
            response = self._client.call_api(*self._with_headers(serialized), _request_timeout=(10, seconds + 5))
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


CREATE_CONCURRENCY = 8  # parallel creates of create_pods (client-go's default QPS is 5, burst 10)


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
