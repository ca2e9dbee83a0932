"""Benchmark a managed rollout on a simulated cluster (test API server + DaemonSet controller, scheduler
and kubelet simulation): what the plugin asks the API server for, step by step, and its overhead beyond the
simulated pod start-up time.

Per step it prints the full pod lists (a list is its first page; its continued pages are counted apart), the
node and ControllerRevision lists, the pod watches, the evictions, all requests, and the response bytes the
plugin read (server.traffic()). Steps are told apart by the plugin's own writes: a step ends with the
DaemonSet write that records it in the rollout state (steps_done), so "step 1" includes the start (pre-flight,
park, the new revision) and "finish" is what follows the last step.

Run: python bench/rollout_bench.py [--nodes 1000] [--max-unavailable 10%] [--ready-after 0.5]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kubectl_ds.rollout.state import STATE_ANNOTATION  # noqa: E402
from tests.apiserver_base import Request  # noqa: E402
from tests.rollout_support import NAME, NAMESPACE, simulated_cluster  # noqa: E402


@dataclass
class Segment:
    """The requests of one step (or of the finish), added up."""

    name: str
    requests: list[Request]

    def count(self, verb: str, resource: str, *, first_pages: bool = False) -> int:
        return sum(
            1
            for r in self.requests
            if r.verb == verb and r.resource == resource and not (first_pages and "continue" in r.query)
        )

    @property
    def read_bytes(self) -> int:
        return sum(r.response_bytes for r in self.requests)

    def row(self) -> list[str]:
        return [
            self.name,
            str(self.count("list", "pods", first_pages=True)),
            str(self.count("list", "pods")),
            str(self.count("list", "nodes", first_pages=True)),
            str(self.count("list", "controllerrevisions", first_pages=True)),
            str(self.count("watch", "pods")),
            str(self.count("create", "pods/eviction")),
            str(len(self.requests)),
            f"{self.read_bytes / 1e6:.2f}",
        ]


HEADER = [
    "step",
    "pod lists",
    "pod pages",
    "node lists",
    "rev lists",
    "pod watches",
    "evictions",
    "requests",
    "MB read",
]


def steps_done(request: Request) -> int | None:
    """The steps_done a DaemonSet write by the plugin records, if it is one."""
    if request.method != "PUT" or request.resource != "daemonsets" or not isinstance(request.body, dict):
        return None
    annotations = (request.body.get("metadata") or {}).get("annotations") or {}
    try:
        return int(json.loads(annotations.get(STATE_ANNOTATION) or "{}").get("steps_done") or 0)
    except (ValueError, AttributeError):
        return None


def segments(requests: Sequence[Request]) -> list[Segment]:
    """Split the plugin's requests at the writes that record a step as done."""
    result: list[Segment] = []
    current: list[Request] = []
    recorded = 0
    for request in requests:
        current.append(request)
        done = steps_done(request)
        if done is not None and done > recorded and 200 <= request.status < 300:
            recorded = done
            result.append(Segment(f"{done}", current))
            current = []
    result.append(Segment("finish", current))
    return result


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--max-unavailable", default="10%")
    parser.add_argument("--ready-after", type=float, default=0.5, help="simulated pod start-up, seconds")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulated_cluster(Path(tmp), nodes=args.nodes, ready_after=args.ready_after, settle_timeout=600) as sim,
    ):
        sim.server.reset_requests()
        version_before = int(sim.server.resource_version)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "kubectl_ds",
                "rollout",
                "start",
                NAME,
                "-n",
                NAMESPACE,
                "--kubeconfig",
                sim.kubeconfig,
                "--image",
                "agent=agent:v2",
                "--max-unavailable",
                args.max_unavailable,
                "--step-timeout",
                "10m",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        plugin_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if result.returncode != 0:
            sys.exit(f"rollout failed ({result.returncode}): {result.stderr.strip()}")
        steps = sum(1 for line in result.stdout.splitlines() if line.startswith("step ") and " done" in line)
        changes = int(sim.server.resource_version) - version_before
        traffic = sim.server.traffic()
        parts = segments(list(sim.server.requests))
    floor = steps * args.ready_after
    print(
        f"managed rollout: {args.nodes} nodes, --max-unavailable {args.max_unavailable}, {steps} steps, "
        f"simulated start-up {args.ready_after:g}s per pod; {changes} stored changes in the cluster meanwhile"
    )
    print(
        f"wall time: {wall:.1f}s; start-up floor (steps x start-up): {floor:.1f}s; "
        f"overhead beyond it: {wall - floor:.1f}s ({(wall - floor) / args.nodes * 1000:.0f} ms per node, "
        "including the simulator's own work)"
    )
    print(
        f"the plugin's own CPU time: {plugin_cpu:.1f}s ({plugin_cpu / args.nodes * 1000:.0f} ms per node); the rest "
        "of the overhead is the simulator's reconcile loop sharing the cores"
    )
    total = traffic.total_requests
    print(
        f"API requests by the plugin: {total} = {total / args.nodes:.2f} per node, "
        f"{traffic.total_bytes / 1e6:.1f} MB of responses = {traffic.total_bytes / args.nodes / 1e3:.1f} kB per node"
    )
    print()
    print("per step (step 1 includes the start; a list is counted once, its pages apart):")
    totals = Segment("total", [r for part in parts for r in part.requests])
    print(table([HEADER] + [part.row() for part in parts] + [totals.row()]))
    per_step = max(steps, 1)
    print(
        f"per step on average: {totals.count('list', 'pods', first_pages=True) / per_step:.2f} pod lists, "
        f"{totals.count('list', 'nodes', first_pages=True) / per_step:.2f} node lists, "
        f"{totals.count('list', 'controllerrevisions', first_pages=True) / per_step:.2f} revision lists, "
        f"{totals.read_bytes / per_step / 1e6:.2f} MB read"
    )
    print()
    print("by verb and resource:")
    for verb, kind, count, sent in traffic.table():
        print(f"  {count:6d}  {verb} {kind}  ({sent / 1e3:.1f} kB)")


if __name__ == "__main__":
    main()
