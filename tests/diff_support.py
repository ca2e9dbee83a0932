"""A small cluster for `kubectl ds diff`: five nodes running default/agent, one tainted for GPUs, one
nearly full, one with a node exporter holding host port 9100; and `changed()`, the manifest a user edits."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.builders import (
    make_daemonset,
    make_node,
    make_pod,
    make_revision,
    rolling_update,
    taint,
)

Obj = dict[str, Any]
MEMORY = {"memory": "4Gi", "cpu": "4"}


def applied(strategy: Obj | None = None) -> Obj:
    """The DaemonSet as its manifest said when it was applied."""
    return make_daemonset(name="agent", requests={"memory": "100Mi"}, strategy=strategy or rolling_update(1))


def live_daemonset(strategy: Obj | None = None) -> Obj:
    ds = applied(strategy)
    ds["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(manifest_of(ds)),
    }
    # What the API server defaults and a manifest never says: not a change.
    ds["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    ds["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
    return ds


def manifest_of(ds: Obj) -> Obj:
    """The manifest as a user keeps it: apiVersion, kind, name and spec only."""
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": ds["metadata"]["name"], "namespace": ds["metadata"]["namespace"]},
        "spec": copy.deepcopy(ds["spec"]),
    }


def cluster_objects(strategy: Obj | None = None, *, unavailable: tuple[str, ...] = ()) -> list[Obj]:
    ds = live_daemonset(strategy)
    nodes = [
        make_node(
            "gpu-1", labels={"pool": "general"}, taints=[taint("dedicated", "NoSchedule", "gpu")], allocatable=MEMORY
        ),
        make_node("node-1", labels={"pool": "general"}, allocatable=MEMORY),
        make_node("node-2", labels={"pool": "general"}, allocatable=MEMORY),
        make_node("node-3", labels={"pool": "batch"}, allocatable=MEMORY),
        make_node("node-4", labels={"pool": "general"}, allocatable=MEMORY),
    ]
    pods = [
        make_pod(f"agent-{n}", node=f"node-{n}", owner=ds, revision_hash="v1", ready=f"node-{n}" not in unavailable)
        for n in range(1, 5)
    ]
    others = [
        make_pod("batch-job", node="node-1", namespace="batch", requests={"memory": "3500Mi"}),
        make_pod("node-exporter-x", node="node-4", namespace="monitoring", host_ports=[9100]),
    ]
    return [ds, *nodes, make_revision(ds, 1, "v1"), *pods, *others]


def changed(strategy: Obj | None = None, **edits: Any) -> Obj:
    """The live DaemonSet's manifest with `edits`: image, memory, host_port, tolerate_gpu, pool, strategy."""
    manifest = manifest_of(applied(strategy))
    spec = manifest["spec"]["template"]["spec"]
    container = spec["containers"][0]
    if "image" in edits:
        container["image"] = edits["image"]
    if "memory" in edits:
        container["resources"]["requests"]["memory"] = edits["memory"]
    if "host_port" in edits:
        container["ports"] = [{"containerPort": edits["host_port"], "hostPort": edits["host_port"]}]
    if edits.get("tolerate_gpu"):
        spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    if "pool" in edits:
        spec["nodeSelector"] = {"pool": edits["pool"]}
    if "new_strategy" in edits:
        manifest["spec"]["updateStrategy"] = edits["new_strategy"]
    if "min_ready" in edits:
        manifest["spec"]["minReadySeconds"] = edits["min_ready"]
    return manifest
