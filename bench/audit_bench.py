"""Benchmark `kubectl ds audit -A` against the test API server on a generated cluster.

The cluster: --nodes nodes (1 in 10 tainted dedicated=infra:NoSchedule, 1 in 20 arm64) and 10 DaemonSets in
5 namespaces; the even ones tolerate the taint, the odd ones do not (no pod on the tainted nodes); one
crash-loops on the arm64 nodes. About 19,000 DaemonSet pods at 2,000 nodes.

Prints, from one run (median of --repeat runs each):
- audit wall time (a fresh process, as a user runs it) vs the floor: a fresh Python process that fetches the
  node list and the list of all pods with urllib (no kubernetes import, no pagination) and json.loads them;
- the peak memory (max RSS) of each, and the ratio;
- the number of API requests at two cluster sizes (it must not grow with the node count, apart from pages).

Run: python bench/audit_bench.py [--nodes 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
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
import json, sys, urllib.request
server, token = sys.argv[1], sys.argv[2]
def fetch(path):
    request = urllib.request.Request(server + path, headers={"Authorization": "Bearer " + token,
                                                             "Accept": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["items"]
nodes = fetch("/api/v1/nodes")
pods = fetch("/api/v1/pods")
print(len(nodes), len(pods))
"""

DAEMONSETS = 10
NAMESPACES = ("kube-system", "monitoring", "logging", "security", "networking")
READY = [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-01T00:00:00Z"}]


def populate(server: ApiServer, nodes: int) -> int:
    """The cluster described above; returns the number of DaemonSet pods."""
    names = [f"node-{i:05d}" for i in range(nodes)]
    for i, name in enumerate(names):
        server.add(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": {
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "arm64" if i % 20 == 1 else "amd64",
                        "kubernetes.io/hostname": name,
                        "topology.kubernetes.io/zone": f"zone-{i % 3}",
                    },
                },
                "spec": {
                    "taints": [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}] if i % 10 == 0 else []
                },
                "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}, "conditions": READY},
            }
        )
    pods = 0
    for d in range(DAEMONSETS):
        pods += _daemonset(server, d, names)
    return pods


def _daemonset(server: ApiServer, d: int, nodes: list[str]) -> int:
    name, namespace = f"agent-{d}", NAMESPACES[d % len(NAMESPACES)]
    uid, labels = f"uid-{name}", {"app": f"agent-{d}"}
    owner = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "uid": uid, "controller": True}]
    container = {
        "name": "agent",
        "image": "agent:1",
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
        "ports": [{"containerPort": 9100 + d, "hostPort": 9100 + d, "protocol": "TCP"}],
    }
    tolerates = d % 2 == 0
    template_spec: dict[str, Any] = {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [container]}
    if tolerates:
        template_spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    server.add(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": template_spec},
            },
        }
    )
    server.add(
        {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "revision": 1,
            "metadata": {
                "name": f"{name}-abc",
                "namespace": namespace,
                "ownerReferences": owner,
                "labels": {**labels, "controller-revision-hash": "abc"},
            },
        }
    )
    count = 0
    for i, node in enumerate(nodes):
        if i % 10 == 0 and not tolerates:
            continue
        crash = d == 3 and i % 20 == 1
        status: dict[str, Any] = {"phase": "Running", "conditions": READY}
        if crash:
            status = {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {
                        "name": "agent",
                        "ready": False,
                        "restartCount": 9,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    }
                ],
            }
        server.add(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{name}-{i:05d}",
                    "namespace": namespace,
                    "ownerReferences": owner,
                    "labels": {**labels, "controller-revision-hash": "abc"},
                },
                "spec": {"nodeName": node, "containers": [container]},
                "status": status,
            }
        )
        count += 1
    return count


def run_once(command: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (KiB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 3):  # audit exits 3 with --exit-code only; the floor 0
        raise SystemExit(f"{command[:4]} exited {process.returncode}")
    return elapsed, usage.ru_maxrss


def timed(command: list[str], repeat: int) -> tuple[float, int]:
    samples = [run_once(command) for _ in range(repeat)]
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples)


def audit_command(kubeconfig: str) -> list[str]:
    return [sys.executable, "-m", "kubectl_ds", "audit", "-A", "--kubeconfig", kubeconfig]


def measure(nodes: int, repeat: int, workdir: Path) -> dict[str, Any]:
    server = ApiServer().start()
    try:
        pods = populate(server, nodes)
        kubeconfig = server.write_kubeconfig(str(workdir / f"kc-{nodes}"))
        server.reset_requests()
        subprocess.run(audit_command(kubeconfig), check=True, stdout=subprocess.DEVNULL)
        requests = len(server.requests)
        pages = sum(1 for r in server.requests if r.query.get("continue"))
        result: dict[str, Any] = {"nodes": nodes, "pods": pods, "requests": requests, "continued_pages": pages}
        if repeat:
            result["audit"], result["audit_rss"] = timed(audit_command(kubeconfig), repeat)
            floor = [sys.executable, "-c", FLOOR, server.url, server.token]
            result["floor"], result["floor_rss"] = timed(floor, repeat)
        return result
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = measure(max(args.nodes // 10, 10), 0, Path(tmp))
        big = measure(args.nodes, args.repeat, Path(tmp))
    print(
        f"cluster: {big['nodes']} nodes, {DAEMONSETS} DaemonSets, {big['pods']} DaemonSet pods "
        f"(median of {args.repeat})"
    )
    print(f"audit -A (whole process):                {big['audit']:.2f} s, peak RSS {big['audit_rss'] / 1024:.0f} MiB")
    print(
        f"floor (urllib nodes + all pods, json.loads): {big['floor']:.2f} s, peak RSS {big['floor_rss'] / 1024:.0f} MiB"
    )
    print(
        f"audit/floor: time {big['audit'] / big['floor']:.2f}x (target <= 1.5x), "
        f"peak memory {big['audit_rss'] / big['floor_rss']:.2f}x (target <= 1.3x)"
    )
    print(
        f"API requests: {small['requests']} at {small['nodes']} nodes ({small['continued_pages']} continued pages), "
        f"{big['requests']} at {big['nodes']} nodes ({big['continued_pages']} continued pages); "
        f"without pages: {small['requests'] - small['continued_pages']} and "
        f"{big['requests'] - big['continued_pages']}"
    )


if __name__ == "__main__":
    main()
