"""Benchmark `kubectl ds node NODE -A` against the test API server at two cluster sizes.

The cluster is tests/node_support.py's (five DaemonSets in three namespaces, a bootstrapping node with a
Pending pod) plus healthy filler nodes, four DaemonSet pods each. The command runs in a fresh process, as a
user runs it; the server counts the requests and the response bytes it sent (tests/apiserver_traffic.py).
What `node` reads must not grow with the number of nodes: the ratios printed should be 1.00 (bytes differ
only by the digits of resourceVersions).

Run: python bench/node_bench.py [--sizes 500 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.apiserver import ApiServer  # noqa: E402
from tests.node_support import node_cluster  # noqa: E402

FIXED_NODES = 3  # node-1, node-new and old-1


def measure(nodes: int, repeat: int, workdir: Path) -> tuple[int, int, float]:
    """(requests, response bytes, median wall seconds) of `kubectl ds node node-new -A` on `nodes` nodes."""
    server = ApiServer().start()
    try:
        server.load(node_cluster(filler=max(nodes - FIXED_NODES, 0)))
        kubeconfig = server.write_kubeconfig(str(workdir / f"kubeconfig-{nodes}"))
        command = [sys.executable, "-m", "kubectl_ds", "node", "node-new", "-A", "--kubeconfig", kubeconfig]
        times = []
        for _ in range(repeat):
            server.reset_requests()
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        traffic = server.traffic()
    finally:
        server.stop()
    return traffic.total_requests, traffic.total_bytes, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[500, 5000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {nodes: measure(nodes, args.repeat, Path(tmp)) for nodes in args.sizes}
    print(f"{'nodes':>7} {'requests':>9} {'bytes':>9} {'seconds':>8}")
    for nodes, (requests, size, seconds) in results.items():
        print(f"{nodes:>7} {requests:>9} {size:>9} {seconds:>8.2f}")
    (small_requests, small_bytes, small_time), (large_requests, large_bytes, large_time) = results.values()
    print(
        f"large/small: requests {large_requests / small_requests:.2f}x, bytes {large_bytes / small_bytes:.2f}x, "
        f"time {large_time / small_time:.2f}x"
    )


if __name__ == "__main__":
    main()
