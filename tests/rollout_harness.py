"""A simulated cluster on manual time, for exact and fast tests of the rollout runner's decisions.

`ManualCluster` is the runner's `RolloutCluster`, served in-process by the test ApiServer's own request
handling (no HTTP, no threads) and moved by the cluster simulator on a `ManualClock`. It also owns time:
`Driver.clock` is the manual clock and `Driver.sleep` advances it, so a rollout that takes minutes of
cluster time runs in milliseconds and every step lands at an exact, repeatable moment.

How time moves (one thread; nothing happens between two runner calls unless the runner waits):
- `sleep(s)`: the simulator runs until quiet, jumping the clock from timer to timer (a pod turning Ready,
  a grace period ending) up to now + s; the clock then stands at exactly now + s.
- `watch_pods(..., resource_version, timeout)`: the pod events after `resource_version` if there are any
  (the runner's own eviction, for example); otherwise the same as `sleep(timeout)`, except that it stops
  at the first moment the simulator has written a matching pod event, and returns those events. With
  timeout 0 it only returns the events already past: no time passes (a catch-up, not a wait).

Requests go through the ApiServer's verb handlers, so resourceVersion preconditions (409), the eviction
API, selectors, RBAC denials and injected faults (`server.inject_fault`) behave as they do over HTTP, and
every request lands in `server.requests`. Failures become the plugin's errors (kubectl_ds.errors), of the
class its HTTP adapter raises for the same answer (404 NotFound, 409 Conflict, 429 TooManyRequests, 5xx
ServerError, no answer RequestTimeout or Unreachable); their message states the request and the answer.
This module knows nothing of the plugin's rules: it imports only kubectl_ds.errors and the runner's public
API.

Hooks: `cluster.on_wait` callables see each wait before time moves (`Wait`: "sleep" or "watch", the
moment, the seconds) and may change the cluster or raise (KeyboardInterrupt for a Ctrl-C at that exact
point). `cluster.waits` records every wait, `cluster.log` every request with its moment.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

from kubectl_ds.errors import (
    ApiError,
    Conflict,
    DisruptionBudgetBlocked,
    DsError,
    EvictionRefused,
    Forbidden,
    NotFound,
    RequestTimeout,
    ServerError,
    TooManyRequests,
    Unreachable,
)
from kubectl_ds.rollout.runner import Rollout
from kubectl_ds.rollout.session import Driver
from tests import apiserver as api
from tests.apiserver import ApiServer, Request
from tests.apiserver_http import _fault_error, _verb, parse_target
from tests.rollout_support import (
    NAME,
    NAMESPACE,
    Invariants,
    SimCluster,
    _pinned,
    is_daemon_pod,
    make_cluster_objects,
)
from tests.simulator import ClusterSimulator, ManualClock

Obj = dict[str, Any]
OWNER = "kubectl-ds/test"  # the driver's identity, fixed so that messages naming it are exact
EPOCH = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)  # where manual time starts
_MAX_PASSES = 1000  # simulator passes at one instant before it counts as a livelock (a simulator bug)
_PODS = api.resolve_resource("pods")
# The plugin's error for each answer its rollout code tells apart (kubectl_ds/kube/cluster.py raises the same).
_ERRORS: dict[int, type[ApiError]] = {404: NotFound, 409: Conflict, 429: TooManyRequests}


@dataclass(frozen=True)
class Wait:
    """One wait of the runner: a sleep, or a watch that may end early on a pod event."""

    kind: str  # "sleep" or "watch"
    at: datetime
    seconds: float


class ManualCluster:
    """The runner's RolloutCluster over the ApiServer's request handling, on the simulator's manual time."""

    def __init__(self, server: ApiServer, simulator: ClusterSimulator, clock: ManualClock) -> None:
        self.server = server
        self.simulator = simulator
        self.clock = clock
        self.waits: list[Wait] = []
        self.on_wait: list[Callable[[Wait], None]] = []
        self.log: list[tuple[datetime, Request]] = []  # the runner's requests, each with its manual moment
        self._quiet_at: tuple[datetime, str] | None = None  # (moment, resourceVersion) of the last quiet pass

    # --- time: Driver.clock is `clock`, Driver.sleep is `sleep` ------------------------------------------

    def sleep(self, seconds: float) -> None:
        self._waiting("sleep", seconds)
        self.run_for(seconds)

    def run_for(self, seconds: float) -> None:
        """Let the cluster live `seconds` of manual time (what a test does between two commands)."""
        self._run_until(self.clock() + timedelta(seconds=seconds), lambda: False)

    def _waiting(self, kind: str, seconds: float) -> None:
        wait = Wait(kind, self.clock(), seconds)
        self.waits.append(wait)
        for hook in list(self.on_wait):
            hook(wait)

    def _run_until(self, end: datetime, done: Callable[[], bool]) -> bool:
        """Run the simulator up to `end`, timer by timer; stop early (True) at the first quiet moment at
        which `done()` holds. The clock ends at that moment, or at exactly `end`."""
        while True:
            self._quiesce()
            if done():
                return True
            # The simulator's next timer (a pod turning Ready or available, a grace period ending); it keeps
            # no timers while paused.
            due = None if self.simulator.paused else self.simulator._next_due
            if due is None or due > end:
                break
            self.clock.advance_to(due)
        self.clock.advance_to(end)
        self._quiesce()
        return done()

    def _quiesce(self) -> None:
        """Simulator passes at this instant until one writes nothing."""
        # A pass depends only on the store and the clock: if neither moved since the last quiet pass (the
        # runner only read), another pass would be quiet too. Skipping it keeps the tests fast.
        if self._quiet_at == (self.clock(), self.server.resource_version):
            return
        for _ in range(_MAX_PASSES):
            if not self.simulator.reconcile_once():
                if not self.simulator.paused:  # a paused simulator is quiet only until it is resumed
                    self._quiet_at = (self.clock(), self.server.resource_version)
                return
        raise RuntimeError(f"the simulated cluster keeps changing at {self.clock()}: {self.simulator.history[-5:]}")

    # --- the RolloutCluster protocol ----------------------------------------------------------------------

    def get_daemonset(self, *, namespace: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call(
            "GET", _path("apps", "daemonsets", namespace, name), lambda target: self.server._api_get(target)
        )
        return found

    def replace_daemonset(self, daemonset: Mapping[str, Any]) -> dict[str, Any]:
        body = _wire(daemonset)
        metadata = body.get("metadata") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        stored: dict[str, Any] = self._call(
            "PUT",
            _path("apps", "daemonsets", namespace, name),
            lambda target: self.server._api_replace(target, body, dry_run=False),
            body=body,
        )
        return stored

    def list_nodes(self) -> list[dict[str, Any]]:
        return self._list("", "nodes", None, {})

    def list_pods_versioned(self, *, namespace: str, selector: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
        query = {"labelSelector": selector_text(selector)}
        listed = self._call(
            "GET",
            _path("", "pods", namespace),
            lambda target: self.server._api_list(target.res, target.namespace, query),
            query=query,
        )
        return listed["items"], str(listed["metadata"].get("resourceVersion") or "")

    def list_controller_revisions(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self._list("apps", "controllerrevisions", namespace, {"labelSelector": selector_text(selector)})

    def list_active_pods(self) -> list[dict[str, Any]]:
        return self._list("", "pods", None, {"fieldSelector": "status.phase!=Succeeded,status.phase!=Failed"})

    def list_disruption_budgets(self, *, namespace: str) -> list[dict[str, Any]]:
        try:
            return self._list("policy", "poddisruptionbudgets", namespace, {})
        except api.ApiError as error:  # a server without the policy API answers 404, as an old cluster would
            raise NotFound(f"GET poddisruptionbudgets: {error}") from None

    def list_scheduling_events(self, *, namespace: str) -> list[dict[str, Any]]:
        return self._list("", "events", namespace, {"fieldSelector": "involvedObject.kind=Pod,reason=FailedScheduling"})

    def watch_pods(
        self, *, namespace: str, selector: Mapping[str, Any], resource_version: str, timeout: float
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """A generator, like the HTTP adapter's stream: nothing happens until the runner reads it. A burst, as
        the adapter delivers one: the events already past, else those of the first moment with any; timeout 0
        asks only for those already past (no wait: time stands and the simulator does not run). A failure is
        the last item, ("ERROR", Status): an injected fault, or 410 Gone for a version older than the history."""
        query = {
            "watch": "1",
            "labelSelector": selector_text(selector),
            "resourceVersion": resource_version,
            "timeoutSeconds": str(max(1, math.ceil(timeout))),
        }
        path = _path("", "pods", namespace)
        request = Request("GET", path, query, 200)
        fault = self.server._take_fault("GET", f"{path}?{urlencode(query)}")
        if fault is not None:
            request.status = 0 if isinstance(fault.status, str) else int(fault.status)
            self._record(request)
            code = 0 if isinstance(fault.status, str) else int(fault.status)
            yield "ERROR", {"kind": "Status", "code": code, "message": f"injected fault {fault.status}"}
            return
        self._record(request)
        if timeout > 0:
            self._waiting("watch", timeout)
        matches = api.parse_label_selector(selector_text(selector))

        def selected(obj: Obj) -> bool:
            return bool(obj["metadata"].get("namespace") == namespace and matches(obj))

        since = int(resource_version or self.server.resource_version)
        if timeout > 0 and self._pod_events(since, selected) == []:
            end = self.clock() + timedelta(seconds=timeout)
            self._run_until(end, lambda: self._pod_events(since, selected) != [])
        events = self._pod_events(since, selected)
        if events is None:
            yield "ERROR", api._expired_event(since, self.server._history_floor + 1)["object"]
            return
        for event in events:
            yield str(event["type"]), event["object"]  # a copy, as a watch stream's would be

    def evict_pod(self, *, namespace: str, name: str) -> None:
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        self._call(
            "POST",
            _path("", "pods", namespace, name) + "/eviction",
            lambda target: self.server._api_evict(target, body, dry_run=False)[1],
            body=body,
            status=201,
        )

    def delete_pod(self, *, namespace: str, name: str, uid: str | None = None) -> None:
        body: Obj = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            body["preconditions"] = {"uid": uid}
        self._call(
            "DELETE",
            _path("", "pods", namespace, name),
            lambda target: self.server._api_delete(target, body, dry_run=False),
            body=body,
        )

    def create_pods(self, *, namespace: str, pods: Sequence[Mapping[str, Any]]) -> None:
        """One create after the other (the HTTP adapter sends a few at a time); 409 counts as created."""
        errors: list[DsError] = []
        for pod in pods:
            body = _wire(pod)
            try:
                self._call(
                    "POST",
                    _path("", "pods", namespace),
                    lambda target, body=body: self.server._api_create(target.res, namespace, body, dry_run=False),
                    body=body,
                    status=201,
                )
            except Conflict:
                continue
            except DsError as error:
                errors.append(error)
        if errors:
            raise errors[0]

    # --- requests: the ApiServer's handlers, its faults, RBAC and request log --------------------------------

    def _list(self, group: str, resource: str, namespace: str | None, query: dict[str, str]) -> list[dict[str, Any]]:
        listed = self._call(
            "GET",
            _path(group, resource, namespace),
            lambda target: self.server._api_list(target.res, target.namespace, query),
            query=query,
        )
        items: list[dict[str, Any]] = listed["items"]
        return items

    def _call(
        self,
        method: str,
        path: str,
        handler: Callable[[Any], Any],
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        status: int = 200,
    ) -> Any:
        """One request, as the HTTP handler serves it: injected fault, authorization, the verb; recorded."""
        query = query or {}
        request = Request(method, path, dict(query), 0, "application/json" if body is not None else "", body)
        target, _ = parse_target(path)
        verb = _verb(method, target, False)
        fault = self.server._take_fault(method, f"{path}?{urlencode(query)}" if query else path)
        try:
            if fault is not None and isinstance(fault.status, str):
                # "timeout" or "drop": no answer at all, which the plugin's adapter reports as these.
                error = RequestTimeout if fault.status == "timeout" else Unreachable
                raise error(f"{method} {path}: no answer ({fault.status})")
            if fault is not None:
                raise _fault_error(int(fault.status), path)
            self.server._authorize(verb, target)
            result = handler(target)
        except api.ApiError as error:
            request.status = error.code
            raise _plugin_error(error, method, path, verb, target) from None
        else:
            request.status = status
            return result  # the handlers answer with copies, as a response body would be
        finally:
            self._record(request)

    def _record(self, request: Request) -> None:
        self.server._record(request)
        self.log.append((self.clock(), request))

    def _pod_events(self, since: int, selected: Callable[[Obj], bool]) -> list[Obj] | None:
        """Pod events after resourceVersion `since` as a watch from there sees them; None if it expired (410)."""
        with self.server._lock:
            if since < self.server._history_floor:
                return None
            events = [event for event in self.server._history if event.rv > since and event.res is _PODS]
        return [seen for event in events if (seen := api._translate_event(event, selected)) is not None]


# --- wire helpers -----------------------------------------------------------------------------------------


def _wire(obj: Any) -> Any:
    """What a request body becomes on the way: a JSON round trip (the runner keeps no hold on what it sent, and
    anything JSON cannot carry fails here as it would over HTTP)."""
    return json.loads(json.dumps(obj))


def _path(group: str, resource: str, namespace: str | None, name: str | None = None) -> str:
    base = f"/apis/{group}/v1" if group else "/api/v1"
    collection = f"{base}/namespaces/{quote(namespace, safe='')}/{resource}" if namespace else f"{base}/{resource}"
    return f"{collection}/{quote(name, safe='')}" if name else collection


def selector_text(selector: Mapping[str, Any]) -> str:
    """A LabelSelector as the labelSelector query parameter (the wire form, not the plugin's code)."""
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        parts.append(
            {
                "In": f"{key} in ({','.join(values)})",
                "NotIn": f"{key} notin ({','.join(values)})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }[operator]
        )
    return ",".join(parts)


def _plugin_error(error: api.ApiError, method: str, path: str, verb: str, target: Any) -> DsError:
    """An error answer as the plugin's error class for it; the message states the request and the answer."""
    text = f"{method} {path} failed with HTTP {error.code}: {error.message}"
    details = error.details or {}
    if path.endswith("/eviction"):  # the PodDisruptionBudget machinery's answers (docs/rules.md#r-eviction)
        budget = any(cause.get("reason") == "DisruptionBudget" for cause in details.get("causes") or [])
        if error.code == 429 and budget:
            return EvictionRefused(text)
        if (error.code == 500 and "more than one PodDisruptionBudget" in error.message) or (
            error.code == 403 and details.get("kind") == "poddisruptionbudget"
        ):
            return DisruptionBudgetBlocked(text)
    if error.code == 429:
        retry_after = (error.headers or {}).get("Retry-After")
        return TooManyRequests(text, retry_after=float(retry_after) if retry_after else None)
    if error.code == 403:
        resource = target.res.plural + (f"/{target.subresource}" if target.subresource else "")
        return Forbidden(text, verb=verb, resource=resource, namespace=target.namespace)
    kind = _ERRORS.get(error.code) or (ServerError if error.code >= 500 else ApiError)
    return kind(text)


# --- a ready-made cluster -----------------------------------------------------------------------------------


@dataclass
class Harness(SimCluster):
    """A simulated cluster (SimCluster's views and invariants) with its ManualCluster, and what its drivers
    said, each with the manual seconds since `start` at which it was said."""

    clock: ManualClock
    cluster: ManualCluster
    start: datetime
    words: Callable[[Any], str] = str  # how a test reads what a driver says (the plugin's own wording, say)
    events: list[tuple[float, Any]] = field(default_factory=list)

    @property
    def said(self) -> list[tuple[float, str]]:
        return [(moment, self.words(event)) for moment, event in self.events]

    def stamp(self, seconds: float) -> str:
        """The RFC 3339 time (whole seconds, as heartbeats are written) `seconds` after `start`."""
        return api.rfc3339(self.start + timedelta(seconds=seconds))

    def elapsed(self) -> float:
        """Manual seconds since `start` (set when the harness is made, and by `restart_clock`)."""
        return (self.clock() - self.start).total_seconds()

    def restart_clock(self) -> None:
        self.start = self.clock()
        self.events.clear()

    def driver(
        self,
        owner: str = OWNER,
        confirm: Callable[[Any], bool] | None = None,
        parse_quantity: Callable[[Any], Any] | None = None,
    ) -> Driver:
        return Driver(
            cluster=self.cluster,
            clock=self.clock,
            sleep=self.cluster.sleep,
            say=lambda event: self.events.append((self.elapsed(), event)),
            owner=owner,
            confirm=confirm,
            parse_quantity=parse_quantity,
        )

    def rollout(
        self,
        owner: str = OWNER,
        confirm: Callable[[Any], bool] | None = None,
        parse_quantity: Callable[[Any], Any] | None = None,
    ) -> Rollout:
        """The runner on this cluster; `parse_quantity` (the plugin's) turns on the surge headroom checks."""
        return Rollout(self.driver(owner, confirm, parse_quantity), namespace=NAMESPACE, name=NAME)

    def lines(self) -> list[str]:
        return [line for _, line in self.said]

    def node_images(self) -> dict[str, str]:
        """Node -> the image of its live pod (images of several pods joined by ","), by node name."""
        running: dict[str, list[str]] = {}
        for pod in self.server.objects("Pod", NAMESPACE):
            if not pod["metadata"].get("deletionTimestamp") and is_daemon_pod(pod):
                node = pod["spec"].get("nodeName") or _pinned(pod) or "?"
                running.setdefault(node, []).append(pod["spec"]["containers"][0]["image"])
        return {node: ",".join(sorted(images)) for node, images in sorted(running.items())}

    def pod_on(self, node: str) -> str:
        """The name of the one live pod meant for `node` (bound there, or pinned to it and still Pending)."""
        names = [
            pod["metadata"]["name"]
            for pod in self.server.objects("Pod", NAMESPACE)
            if (pod["spec"].get("nodeName") or _pinned(pod)) == node
            and not pod["metadata"].get("deletionTimestamp")
            and is_daemon_pod(pod)
        ]
        assert len(names) == 1, f"pods on {node}: {names}"
        return str(names[0])

    def state(self) -> dict[str, Any]:
        """The rollout state annotation, decoded ({} when there is none)."""
        annotations = self.daemonset()["metadata"].get("annotations") or {}
        state: dict[str, Any] = json.loads(annotations.get("kubectl-ds.io/rollout", "{}"))
        return state

    def update_daemonset(self, change: Callable[[Obj], None]) -> None:
        """Someone else writes the DaemonSet (as kubectl edit would); the controller sees it at the next pass."""
        daemonset = self.daemonset()
        change(daemonset)
        self.server.update_object(daemonset)


def manual_cluster(
    *,
    nodes: int = 5,
    max_unavailable: int = 1,
    max_surge: int = 0,
    ready_after: float = 1.0,
    stop_after: float = 0.0,
    seed: int = 0,
    words: Callable[[Any], str] = str,
    **objects: Any,
) -> Harness:
    """`nodes` nodes running the DaemonSet's pods (all Ready and available), at a quiet moment of manual time.

    Deleted pods terminate gracefully; their containers stop `stop_after` seconds after SIGTERM (at once by
    default, as most agents do; a `slow-stop` image takes its whole terminationGracePeriodSeconds).

    Nothing runs in the background, so there is nothing to stop. Invariants are checked (once `armed`) on
    every stored change, as in the real-time tests.
    """
    clock = ManualClock(EPOCH)
    server = ApiServer()  # never started: no port, no threads; ManualCluster calls its handlers directly
    simulator = ClusterSimulator(server, ready_after=ready_after, clock=clock, seed=seed, stop_after=stop_after)
    seeded = make_cluster_objects(nodes, **objects)
    for obj in seeded:  # the manual clock's time, not the wall clock's
        obj["metadata"]["creationTimestamp"] = api.rfc3339(clock())
    server.load(seeded)
    simulator.settle()
    cluster = ManualCluster(server, simulator, clock)
    # Start on a whole second: heartbeats are written in whole seconds, and their ages read that way.
    cluster.run_for(-clock().microsecond / 1e6 % 1)
    invariants = Invariants(server, max_unavailable=max_unavailable, max_surge=max_surge)
    server.add_listener(invariants)
    return Harness(
        server=server,
        simulator=simulator,
        kubeconfig="",
        invariants=invariants,
        clock=clock,
        cluster=cluster,
        start=clock(),
        words=words,
    )
