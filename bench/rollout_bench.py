"""Benchmark a managed rollout on a simulated cluster (test API server + DaemonSet controller, scheduler
and kubelet simulation): API requests per node, and the plugin's overhead beyond the simulated pod
start-up time.

Run: python bench/rollout_bench.py [--nodes 1000] [--max-unavailable 10%] [--ready-after 0.5]
"""

from __future__ import annotations

import argparse
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
        traffic = sim.server.traffic()
    floor = steps * args.ready_after
    print(f"managed rollout: {args.nodes} nodes, --max-unavailable {args.max_unavailable}, {steps} steps, "
          f"simulated start-up {args.ready_after:g}s per pod")
    print(f"wall time: {wall:.1f}s; start-up floor (steps x start-up): {floor:.1f}s; "
          f"overhead beyond it: {wall - floor:.1f}s ({(wall - floor) / args.nodes * 1000:.0f} ms per node, "
          "including the simulator's own work)")
    print(f"the plugin's own CPU time: {plugin_cpu:.1f}s ({plugin_cpu / args.nodes * 1000:.0f} ms per node); the rest "
          "of the overhead is the simulator's reconcile loop sharing the 2 cores")
    total = traffic.total_requests
    print(f"API requests by the plugin: {total} = {total / args.nodes:.2f} per node, "
          f"{traffic.total_bytes / 1e6:.1f} MB of responses = {traffic.total_bytes / args.nodes / 1e3:.1f} kB per node")
    for verb, kind, count, sent in traffic.table():
        print(f"  {count:6d}  {verb} {kind}  ({sent / 1e3:.1f} kB)")


if __name__ == "__main__":
    main()
