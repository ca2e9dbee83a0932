"""Write examples/cluster.yaml: a 14-node dump (as `kubectl get nodes,pods,ds,controllerrevisions,events
-A -o yaml` writes it) in which logging/fluentd meets every rule `kubectl ds explain` explains.

Run: python examples/generate.py  (the YAML is committed; this script documents how it was made)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

NS = "logging"
DS_UID = "5f0c3a52-8d1e-4b7a-9a57-2f1d7c9e4b10"
NEW_HASH, OLD_HASH = "7d9f8c6b5", "5c4b8d7f9"
CREATED = "2026-11-20T08:00:00Z"
READY_SINCE = "2026-11-21T09:00:00Z"


def node(
    name: str,
    *,
    zone: str = "zone-a",
    os: str = "linux",
    taints: list[dict[str, str]] | None = None,
    memory: str = "8Gi",
    ready: bool = True,
    cordoned: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if cordoned:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": os, "topology.kubernetes.io/zone": zone},
        },
        "spec": spec,
        "status": {
            "allocatable": {"cpu": "4", "memory": memory, "pods": "110"},
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "Unknown", "lastTransitionTime": READY_SINCE}
            ],
        },
    }


def taint(key: str, value: str, effect: str) -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect} if value else {"key": key, "effect": effect}


def template(image: str, revision_hash: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "fluentd"}},
        "spec": {
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "topology.kubernetes.io/zone",
                                        "operator": "In",
                                        "values": ["zone-a", "zone-b"],
                                    }
                                ]
                            }
                        ]
                    }
                }
            },
            "containers": [
                {
                    "name": "fluentd",
                    "image": image,
                    "ports": [{"name": "forward", "containerPort": 24224, "hostPort": 24224, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}},
                }
            ],
        },
    }


def daemonset() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "fluentd",
            "namespace": NS,
            "uid": DS_UID,
            "generation": 2,
            "annotations": {"deprecated.daemonset.template.generation": "2"},
        },
        "spec": {
            "selector": {"matchLabels": {"app": "fluentd"}},
            "template": template("fluent/fluentd:v1.17", NEW_HASH),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        },
        "status": {
            "desiredNumberScheduled": 10,
            "currentNumberScheduled": 10,
            "numberReady": 7,
            "updatedNumberScheduled": 8,
            "numberAvailable": 7,
            "numberMisscheduled": 1,
            "observedGeneration": 2,
        },
    }


def revision(number: int, revision_hash: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "revision": number,
        "metadata": {
            "name": f"fluentd-{revision_hash}",
            "namespace": NS,
            "labels": {"app": "fluentd", "controller-revision-hash": revision_hash},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "fluentd", "uid": DS_UID, "controller": True}
            ],
        },
        "data": {"spec": {"template": template(image, revision_hash), "$patch": "replace"}},
    }


def ds_pod(
    suffix: str,
    node_name: str,
    *,
    revision_hash: str = NEW_HASH,
    phase: str = "Running",
    ready: bool = True,
    bound: bool = True,
    waiting: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": template("", revision_hash)["spec"]["containers"],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
                    ]
                }
            }
        },
    }
    if bound:
        spec["nodeName"] = node_name
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": READY_SINCE}],
    }
    if not bound:
        status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
    if waiting:
        status["containerStatuses"] = [
            {
                "name": "fluentd",
                "image": "fluent/fluentd:v1.17",
                "ready": False,
                "restartCount": 14,
                "state": {"waiting": {"reason": waiting}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"fluentd-{suffix}",
            "namespace": NS,
            "uid": f"pod-uid-fluentd-{suffix}",
            "creationTimestamp": CREATED,
            "labels": {"app": "fluentd", "controller-revision-hash": revision_hash},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "fluentd", "uid": DS_UID, "controller": True}
            ],
        },
        "spec": spec,
        "status": status,
    }


def other_pod(
    namespace: str, name: str, node_name: str, *, memory: str = "100Mi", host_port: int | None = None
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": "busybox",
        "resources": {"requests": {"cpu": "100m", "memory": memory}},
    }
    if host_port:
        container["ports"] = [{"containerPort": host_port, "hostPort": host_port, "protocol": "TCP"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"pod-uid-{name}"},
        "spec": {"nodeName": node_name, "containers": [container]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def failed_scheduling(pod_name: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "reason": "FailedScheduling",
        "type": "Warning",
        "message": message,
        "lastTimestamp": "2026-11-21T10:00:00Z",
        "count": 42,
        "metadata": {"name": f"{pod_name}.1800a1b2c3d4", "namespace": NS},
        "involvedObject": {"kind": "Pod", "namespace": NS, "name": pod_name, "uid": f"pod-uid-{pod_name}"},
        "source": {"component": "default-scheduler"},
    }


def objects() -> list[dict[str, Any]]:
    gpu = taint("dedicated", "gpu", "NoSchedule")
    nodes = [node(f"node-{i}", zone="zone-a" if i % 2 else "zone-b") for i in range(1, 7)]
    nodes += [
        node("node-7", memory="2Gi"),
        node("node-8"),
        node("gpu-1", taints=[gpu]),
        node("gpu-2", taints=[gpu]),
        node("node-9", taints=[taint("maintenance", "true", "NoExecute")]),
        node("node-10", zone="zone-c"),
        node("win-1", os="windows"),
        node("node-11", cordoned=True, taints=[taint("node.kubernetes.io/unschedulable", "", "NoSchedule")]),
    ]
    pods = [ds_pod(f"{i}abc", f"node-{i}") for i in (1, 2, 3, 4)]
    pods += [
        ds_pod("5abc", "node-5", ready=False, waiting="CrashLoopBackOff"),
        ds_pod("6old", "node-6", revision_hash=OLD_HASH),
        ds_pod("7pend", "node-7", phase="Pending", ready=False, bound=False),
        ds_pod("8pend", "node-8", phase="Pending", ready=False, bound=False),
        ds_pod("gpu2old", "gpu-2", revision_hash=OLD_HASH),
        ds_pod("11abc", "node-11"),
        other_pod("db", "postgres-0", "node-7", memory="1800Mi"),
        other_pod("monitoring", "fluent-bit-x7k2p", "node-8", host_port=24224),
    ]
    events = [
        failed_scheduling(
            "fluentd-7pend",
            "0/14 nodes are available: 1 Insufficient memory, 13 node(s) didn't "
            "satisfy plugin(s) [NodeAffinity]. preemption: 0/14 nodes are available: 1 No preemption "
            "victims found for incoming pod, 13 Preemption is not helpful for scheduling.",
        ),
        failed_scheduling(
            "fluentd-8pend",
            "0/14 nodes are available: 1 node(s) didn't have free ports for the "
            "requested pod ports, 13 node(s) didn't satisfy plugin(s) [NodeAffinity].",
        ),
    ]
    revisions = [revision(1, OLD_HASH, "fluent/fluentd:v1.16"), revision(2, NEW_HASH, "fluent/fluentd:v1.17")]
    return nodes + [daemonset()] + revisions + pods + events


def main() -> None:
    dump = {"apiVersion": "v1", "kind": "List", "items": objects(), "metadata": {"resourceVersion": ""}}
    target = Path(__file__).with_name("cluster.yaml")
    target.write_text(yaml.safe_dump(dump, sort_keys=False, default_flow_style=False))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
