"""A small cluster for `kubectl ds node` tests and its benchmark: five DaemonSets in three namespaces, a
healthy node, a node still bootstrapping, a node with only the pre-1.14 os label, and `filler` more healthy
nodes (each with its pods) so that tests can compare two cluster sizes."""

from __future__ import annotations

from typing import Any

from tests.builders import make_daemonset, make_node, make_pod, make_revision, taint, toleration

Obj = dict[str, Any]
LINUX = {"kubernetes.io/os": "linux"}


def _daemonset(name: str, namespace: str, **fields: Any) -> Obj:
    daemonset = make_daemonset(name, namespace, uid=f"uid-{namespace}-{name}", labels={"app": name}, **fields)
    return daemonset


CILIUM = _daemonset("cilium", "kube-system", tolerations=[toleration(operator="Exists")], host_network=True)
KUBE_PROXY = _daemonset("kube-proxy", "kube-system", tolerations=[toleration(operator="Exists")])
FLUENTD = _daemonset("fluentd", "logging", node_selector=LINUX)
NODE_EXPORTER = _daemonset("node-exporter", "monitoring")
GPU_PLUGIN = _daemonset(
    "nvidia-device-plugin",
    "kube-system",
    node_selector={"gpu": "true"},
    tolerations=[toleration("dedicated", value="gpu", effect="NoSchedule")],
)
DAEMONSETS = (CILIUM, KUBE_PROXY, FLUENTD, NODE_EXPORTER, GPU_PLUGIN)


def healthy_pods(node: str) -> list[Obj]:
    """A ready, up-to-date pod of every DaemonSet that should run on a plain Linux node."""
    return [
        make_pod(f"{ds['metadata']['name']}-{node}", node=node, owner=ds, revision_hash="h1")
        for ds in (CILIUM, KUBE_PROXY, FLUENTD, NODE_EXPORTER)
    ]


def node_cluster(filler: int = 0) -> list[Obj]:
    objects: list[Obj] = list(DAEMONSETS)
    objects += [make_revision(ds, 1, "h1") for ds in DAEMONSETS]
    objects.append(make_node("node-1", labels=LINUX))
    objects += healthy_pods("node-1")
    # Registered a moment ago: NotReady, with the admission plugin's and Cilium's startup taints. Cilium's
    # pod waits to be scheduled; kube-proxy runs but is not ready yet; fluentd and node-exporter wait for
    # the taints to go.
    objects.append(
        make_node(
            "node-new",
            labels=LINUX,
            ready=False,
            taints=[
                taint("node.kubernetes.io/not-ready", "NoSchedule"),
                taint("node.cilium.io/agent-not-ready", "NoSchedule", "true"),
            ],
        )
    )
    objects.append(
        make_pod(
            "cilium-pending", owner=CILIUM, phase="Pending", ready=False, target_node="node-new", revision_hash="h1"
        )
    )
    objects.append(make_pod("kube-proxy-node-new", node="node-new", owner=KUBE_PROXY, ready=False, revision_hash="h1"))
    # A kubelet older than 1.14: only beta.kubernetes.io/os.
    objects.append(make_node("old-1", labels={"beta.kubernetes.io/os": "linux"}))
    objects += [
        make_pod(f"{name}-old-1", node="old-1", owner=ds, revision_hash="h1")
        for name, ds in (("cilium", CILIUM), ("kube-proxy", KUBE_PROXY), ("node-exporter", NODE_EXPORTER))
    ]
    for i in range(filler):
        name = f"filler-{i}"
        objects.append(make_node(name, labels=LINUX))
        objects += healthy_pods(name)
    return objects


def daemonset(name: str, image: str, **pod_spec: Any) -> Obj:
    """A kube-system DaemonSet as a user writes it (no uid or status: the API server and the simulator add them)."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}], **pod_spec},
            },
        },
    }
