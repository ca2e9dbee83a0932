"""Benchmark `kubectl ds explain -o json` against the test API server on a generated healthy cluster.

Prints, from one run (median of --repeat runs each, the runs of each measurement interleaved so that a
change in the machine's load hits all of them alike), wall time and peak memory (max RSS) of:
- explain (a fresh process, as a user runs it) vs two floors, each a fresh Python process that fetches the
  node list and the DaemonSet's pods and json.loads them: the issue's floor (the standard library, no
  pagination, no `kubernetes` import) and the earlier one (the official client, pages of 500);
- the same against `kubectl get nodes,pods -A -o json` (if a kubectl is on PATH);
- the number of API requests at two cluster sizes (it must not grow with the node count, apart from pages);
- `kubectl ds --help` start-up time.

Run: python bench/explain_bench.py [--nodes 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import compileall
import resource
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

# The floor issue 9 defines: what any tool must do to answer, with nothing it could leave out.
GNU_TIME = "/usr/bin/time"

FLOOR_STDLIB = """
import json, sys, urllib.request
server, token = sys.argv[1], sys.argv[2]
def fetch(url):
    request = urllib.request.Request(server + url, headers={"Authorization": "Bearer " + token,
                                                            "Accept": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["items"]
nodes = fetch("/api/v1/nodes")
pods = fetch("/api/v1/namespaces/monitoring/pods?labelSelector=app%3Dagent")
print(len(nodes), len(pods))
"""

FLOOR_CLIENT = """
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


def run_once(command: list[str]) -> tuple[float, int, float, float]:
    """Wall seconds, peak RSS (KiB), the process's CPU seconds (user + system) and the test API server's CPU
    seconds (this process's, whose threads serve it) for one run.

    The peak is measured by GNU time, which forks from its own small process: a child forked from this
    one (which holds the whole test cluster) would count this process's memory until it execs, in
    ru_maxrss, and hide the difference between explain and the floor."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as usage:
        server_before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        subprocess.run([GNU_TIME, "-f", "%M %U %S", "-o", usage.name, *command], check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        server_after = resource.getrusage(resource.RUSAGE_SELF)
        rss, user, system = usage.read().split()[-3:]
    server_cpu = (server_after.ru_utime - server_before.ru_utime) + (server_after.ru_stime - server_before.ru_stime)
    return elapsed, int(rss), float(user) + float(system), server_cpu


def timed(command: list[str], repeat: int) -> float:
    return statistics.median(run_once(command)[0] for _ in range(repeat))


def interleaved(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, ...]]:
    """Medians of each command's run_once figures, run in turns (A B C A B C ...)."""
    samples: dict[str, list[tuple[float, int, float, float]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            samples[name].append(run_once(command))
    return {
        name: tuple(statistics.median(run[field] for run in runs) for field in range(4))
        for name, runs in samples.items()
    }


def explain_command(kubeconfig: str) -> list[str]:
    return [
        sys.executable, "-m", "kubectl_ds", "explain", "agent", "-n", "monitoring", "-o", "json",
        "--kubeconfig", kubeconfig,
    ]  # fmt: skip


def measure(nodes: int, repeat: int, workdir: Path, with_kubectl: bool) -> dict[str, Any]:
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
            commands = {
                "explain": explain_command(kubeconfig),
                "floor": [sys.executable, "-c", FLOOR_STDLIB, server.url, server.token],
                "client floor": [sys.executable, "-c", FLOOR_CLIENT, kubeconfig],
            }
            kubectl = shutil.which("kubectl")
            if kubectl and with_kubectl:
                # kubectl sends bearer tokens only over TLS, so it gets a TLS kubeconfig.
                tls_kubeconfig = server.write_kubeconfig(str(workdir / f"kc-tls-{nodes}"), tls=True)
                commands["kubectl"] = [kubectl, "--kubeconfig", tls_kubeconfig, "get", "nodes,pods", "-A", "-o", "json"]
            result.update(interleaved(commands, repeat))
        return result
    finally:
        server.stop()


def report(big: dict[str, Any], repeat: int) -> None:
    explain_time, explain_rss, explain_cpu, _ = big["explain"]
    print(
        f"cluster: {big['nodes']} nodes, {big['nodes']} DaemonSet pods, {big['nodes']} other pods (median of {repeat})"
    )
    print(f"{'':13s} {'wall':>8s} {'peak RSS':>10s} {'CPU':>7s} {'server CPU':>10s}")
    for name in ("explain", "floor", "client floor", "kubectl"):
        if name not in big:
            continue
        seconds, rss, cpu, server_cpu = big[name]
        ratio = (
            ""
            if name == "explain"
            else f"  explain/{name}: wall {explain_time / seconds:.2f}x, peak memory {explain_rss / rss:.2f}x, "
            f"CPU {explain_cpu / cpu:.2f}x"
        )
        print(f"{name:13s} {seconds:6.2f} s {rss / 1024:6.1f} MiB {cpu:5.2f} s {server_cpu:8.2f} s{ratio}")
    print(f"API requests at {big['nodes']} nodes: {big['requests']} ({big['continued_pages']} continued pages)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[5000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-kubectl", action="store_true", help="skip kubectl get (it takes longest)")
    args = parser.parse_args()
    # An installed package has its bytecode compiled (pip does it); a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module on every run, which no user pays.
    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "kubectl_ds"), quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        small = measure(max(args.nodes[0] // 10, 10), 0, Path(tmp), False)
        print(
            f"API requests at {small['nodes']} nodes: {small['requests']} ({small['continued_pages']} continued pages)"
        )
        for nodes in args.nodes:
            report(measure(nodes, args.repeat, Path(tmp), not args.no_kubectl), args.repeat)
    help_time = timed([sys.executable, "-m", "kubectl_ds", "--help"], 5)
    bare = timed([sys.executable, "-c", "pass"], 5)
    print(f"kubectl ds --help: {help_time * 1000:.0f} ms (python -c pass: {bare * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
