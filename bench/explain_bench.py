"""Benchmark `kubectl ds explain` against the test API server on a generated healthy cluster.

Prints, from one run (median of --repeat runs each):
- explain wall time (a fresh process, as a user runs it) vs the floor: a fresh Python process that fetches
  the node list and the DaemonSet's pods through the official client and json.loads them;
- the same against `kubectl get nodes,pods -A -o json` (if a kubectl is on PATH);
- the number of API requests at two cluster sizes (it must not grow with the node count, apart from pages);
- `kubectl ds --help` start-up time.

Run: python bench/explain_bench.py [--nodes 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.apiserver import ApiServer  # noqa: E402

FLOOR = """
import json, sys
from kubernetes.config import new_client_from_config
client = new_client_from_config(config_file=sys.argv[1])
def fetch(path, query):
    items, token = [], ""
    while True:
        params = [("limit", "500")] + query + ([("continue", token)] if token else [])
        request = client.param_serialize("GET", path, query_params=params, header_params={"Accept": "application/json"},
                                         auth_settings=["BearerToken"])
        page = json.loads(client.call_api(*request).read())
        items += page["items"]
        token = page["metadata"].get("continue")
        if not token:
            return items
nodes = fetch("/api/v1/nodes", [])
pods = fetch("/api/v1/namespaces/monitoring/pods", [("labelSelector", "app=agent")])
print(len(nodes), len(pods))
"""


def populate(server: ApiServer, nodes: int) -> None:
    uid = "agent-uid"
    labels = {"app": "agent"}
    owner = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": uid, "controller": True}]
    container = {
        "name": "agent",
        "image": "agent:1",
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
        "ports": [{"containerPort": 9100, "hostPort": 9100, "protocol": "TCP"}],
    }
    server.add(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "monitoring", "uid": uid},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "tolerations": [{"key": "dedicated", "operator": "Exists"}],
                        "containers": [container],
                    },
                },
            },
        }
    )
    server.add(
        {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "revision": 1,
            "metadata": {
                "name": "agent-abc",
                "namespace": "monitoring",
                "ownerReferences": owner,
                "labels": {**labels, "controller-revision-hash": "abc"},
            },
        }
    )
    ready = [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-01T00:00:00Z"}]
    for i in range(nodes):
        name = f"node-{i:05d}"
        server.add(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": {
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/hostname": name,
                        "topology.kubernetes.io/zone": f"zone-{i % 3}",
                    },
                },
                "spec": {
                    "taints": [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}] if i % 10 == 0 else []
                },
                "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}, "conditions": ready},
            }
        )
        server.add(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"agent-{i:05d}",
                    "namespace": "monitoring",
                    "ownerReferences": owner,
                    "labels": {**labels, "controller-revision-hash": "abc"},
                },
                "spec": {"nodeName": name, "containers": [container]},
                "status": {"phase": "Running", "conditions": ready},
            }
        )
        server.add(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"web-{i:05d}", "namespace": "apps", "labels": {"app": "web"}},
                "spec": {"nodeName": name, "containers": [{"name": "web", "image": "web:1"}]},
                "status": {"phase": "Running", "conditions": ready},
            }
        )


def timed(command: list[str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def explain_command(kubeconfig: str) -> list[str]:
    return [sys.executable, "-m", "kubectl_ds", "explain", "agent", "-n", "monitoring", "--kubeconfig", kubeconfig]


def measure(nodes: int, repeat: int, workdir: Path) -> dict[str, Any]:
    server = ApiServer().start()
    try:
        populate(server, nodes)
        kubeconfig = server.write_kubeconfig(str(workdir / f"kc-{nodes}"))
        server.reset_requests()
        subprocess.run(explain_command(kubeconfig), check=True, stdout=subprocess.DEVNULL)
        requests = len(server.requests)
        pages = sum(1 for r in server.requests if r.query.get("continue"))
        result: dict[str, Any] = {"nodes": nodes, "requests": requests, "continued_pages": pages}
        if repeat:
            result["explain"] = timed(explain_command(kubeconfig), repeat)
            result["floor"] = timed([sys.executable, "-c", FLOOR, kubeconfig], repeat)
            kubectl = shutil.which("kubectl")
            if kubectl:
                # kubectl sends bearer tokens only over TLS, so it gets a TLS kubeconfig.
                tls_kubeconfig = server.write_kubeconfig(str(workdir / f"kc-tls-{nodes}"), tls=True)
                result["kubectl"] = timed(
                    [kubectl, "--kubeconfig", tls_kubeconfig, "get", "nodes,pods", "-A", "-o", "json"], repeat
                )
        return result
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = measure(max(args.nodes // 10, 10), 0, Path(tmp))
        big = measure(args.nodes, args.repeat, Path(tmp))
    help_time = timed([sys.executable, "-m", "kubectl_ds", "--help"], 5)
    print(
        f"cluster: {big['nodes']} nodes, {big['nodes']} DaemonSet pods, {big['nodes']} other pods "
        f"(median of {args.repeat})"
    )
    print(f"explain (whole process):                 {big['explain']:.2f} s")
    print(
        f"floor (fetch nodes + DS pods, json.loads): {big['floor']:.2f} s  -> explain/floor = "
        f"{big['explain'] / big['floor']:.2f}x"
    )
    if "kubectl" in big:
        print(
            f"kubectl get nodes,pods -A -o json:       {big['kubectl']:.2f} s  -> explain/kubectl = "
            f"{big['explain'] / big['kubectl']:.2f}x"
        )
    print(
        f"API requests: {small['requests']} at {small['nodes']} nodes ({small['continued_pages']} continued pages), "
        f"{big['requests']} at {big['nodes']} nodes ({big['continued_pages']} continued pages); "
        f"without pages: {small['requests'] - small['continued_pages']} and "
        f"{big['requests'] - big['continued_pages']}"
    )
    print(f"kubectl ds --help: {help_time * 1000:.0f} ms")


if __name__ == "__main__":
    main()
