"""Helpers for the simulator's fidelity tests (tests/test_sim_*.py): a small cluster on a ManualClock, and
ways to look at what it did. Like the simulator itself, nothing here imports kubectl_ds."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from tests.apiserver import ApiServer
from tests.builders import make_daemonset, make_node
from tests.simulator import ClusterSimulator, ManualClock

Obj = dict[str, Any]
READY_AFTER = 1.0  # simulated seconds; a ManualClock makes them free


def cluster(
    nodes: int = 3,
    *,
    seed: list[Obj] | None = None,
    image: str | None = None,
    settle: bool = True,
    pod_spec: Obj | None = None,
    **daemonset: Any,
) -> tuple[ApiServer, ClusterSimulator, ManualClock]:
    """`nodes` Ready nodes with 4 cpu, the `seed` objects, and one DaemonSet `ds` (make_daemonset with these
    arguments, running `image`, `pod_spec` merged into its template's spec), on a ManualClock, settled unless
    told not to; the API server deletes pods gracefully, as a real one does."""
    server = ApiServer()
    for index in range(nodes):
        server.add(make_node(f"node-{index}", allocatable={"cpu": "4", "memory": "8Gi"}))
    for obj in seed or []:
        server.add(obj, defaults=True)
    ds = make_daemonset(**daemonset)
    if image is not None:
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = image
    ds["spec"]["template"]["spec"].update(pod_spec or {})
    server.add(ds, defaults=True)
    clock = ManualClock()
    sim = ClusterSimulator(server, clock=clock, ready_after=READY_AFTER)
    if settle:
        sim.settle()
    return server, sim, clock


def pods_on(server: ApiServer, node: str) -> list[Obj]:
    """Every DaemonSet pod bound or pinned to `node`, terminating ones included, oldest first."""
    found = []
    for pod in server.objects("pods"):
        if not any(owner.get("kind") == "DaemonSet" for owner in pod["metadata"].get("ownerReferences") or []):
            continue
        spec = pod["spec"]
        terms = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution", {}
        ).get("nodeSelectorTerms") or []
        pinned = [f["values"][0] for t in terms for f in t.get("matchFields") or [] if f.get("key") == "metadata.name"]
        if spec.get("nodeName") == node or (not spec.get("nodeName") and node in pinned):
            found.append(pod)
    return sorted(found, key=lambda pod: (pod["metadata"]["creationTimestamp"], pod["metadata"]["resourceVersion"]))


def the_pod(server: ApiServer, node: str) -> Obj:
    [pod] = pods_on(server, node)
    return pod


def condition(obj: Obj, kind: str) -> Obj | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def is_ready(pod: Obj) -> bool:
    found = condition(pod, "Ready")
    return found is not None and found.get("status") == "True"


def events(server: ApiServer, reason: str) -> list[Obj]:
    return [event for event in server.objects("events") if event["reason"] == reason]


def revision_hash(pod: Obj) -> str:
    return str(pod["metadata"]["labels"].get("controller-revision-hash"))


def current_hash(server: ApiServer) -> str:
    newest = max(server.objects("controllerrevisions"), key=lambda rev: int(rev["revision"]))
    return str(newest["metadata"]["labels"]["controller-revision-hash"])


def set_image(server: ApiServer, image: str, name: str = "ds") -> None:
    daemonset = server.get("daemonsets", "default", name)
    assert daemonset is not None
    daemonset["spec"]["template"]["spec"]["containers"][0]["image"] = image
    server.update_object(daemonset)


def seconds_since(clock: ManualClock, stamp: str) -> float:
    return (clock() - datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()


def advance(sim: ClusterSimulator, clock: ManualClock, seconds: float, *, step: float = 1.0) -> None:
    """Let `seconds` of simulated time pass in steps, one pass after each: what the cluster does meanwhile,
    including what settle() does not wait for (a crash loop, a terminating pod on a dead node)."""
    end = clock() + timedelta(seconds=seconds)
    while clock() < end:
        clock.advance_to(min(end, clock() + timedelta(seconds=step)))
        sim.reconcile_once()


def call(
    server: ApiServer, method: str, path: str, body: Obj | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request as a client sends it: (status, headers, JSON body or text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, answer, raw = error.code, dict(error.headers), error.read()
    try:
        return status, answer, json.loads(raw)
    except ValueError:
        return status, answer, raw.decode()


def evict(server: ApiServer, pod: str, namespace: str = "default", **options: Any) -> tuple[int, dict[str, str], Any]:
    body: Obj = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": namespace}}
    if options:
        body["deleteOptions"] = options
    return call(server, "POST", f"/api/v1/namespaces/{namespace}/pods/{pod}/eviction", body)
