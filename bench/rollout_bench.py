"""Benchmark a managed rollout on a simulated cluster (test API server + DaemonSet controller, scheduler
and kubelet simulation): API requests per node, and the plugin's overhead beyond the simulated pod
start-up time.

Run: python bench/rollout_bench.py [--nodes 1000] [--max-unavailable 10%] [--ready-after 0.5]
"""

from __future__ import annotations

import argparse
import collections
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.rollout_support import NAME, NAMESPACE, simulated_cluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--max-unavailable", default="10%")
    parser.add_argument("--ready-after", type=float, default=0.5, help="simulated pod start-up, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, simulated_cluster(Path(tmp), nodes=args.nodes,
                                                                 ready_after=args.ready_after) as sim:
        sim.server.reset_requests()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "kubectl_ds", "rollout", "start", NAME, "-n", NAMESPACE, "--kubeconfig",
             sim.kubeconfig, "--image", "agent=agent:v2", "--max-unavailable", args.max_unavailable,
             "--step-timeout", "10m"], capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        plugin_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if result.returncode != 0:
            sys.exit(f"rollout failed ({result.returncode}): {result.stderr.strip()}")
        steps = sum(1 for line in result.stdout.splitlines() if line.startswith("step ") and " done" in line)
        requests = list(sim.server.requests)
    by_kind = collections.Counter(f"{r.method} {_kind(r.path, r.query)}" for r in requests)
    floor = steps * args.ready_after
    print(f"managed rollout: {args.nodes} nodes, --max-unavailable {args.max_unavailable}, {steps} steps, "
          f"simulated start-up {args.ready_after:g}s per pod")
    print(f"wall time: {wall:.1f}s; start-up floor (steps x start-up): {floor:.1f}s; "
          f"overhead beyond it: {wall - floor:.1f}s ({(wall - floor) / args.nodes * 1000:.0f} ms per node, "
          "including the simulator's own work)")
    print(f"the plugin's own CPU time: {plugin_cpu:.1f}s ({plugin_cpu / args.nodes * 1000:.0f} ms per node); the rest "
          "of the overhead is the simulator's reconcile loop sharing the 2 cores")
    print(f"API requests by the plugin: {len(requests)} = {len(requests) / args.nodes:.2f} per node")
    for kind, count in by_kind.most_common():
        print(f"  {count:6d}  {kind}")


KNOWN = ("eviction", "daemonsets", "controllerrevisions", "pods", "nodes", "events")


def _kind(path: str, query: dict[str, str]) -> str:
    """The resource a request was about, e.g. "daemonsets" for .../daemonsets/agent."""
    parts = path.strip("/").split("/")
    name = next((part for part in reversed(parts) if part in KNOWN), parts[-1])
    return f"{name} (watch)" if "watch" in query else name


if __name__ == "__main__":
    main()
