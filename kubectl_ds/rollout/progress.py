"""Pure. How far a rollout has got: kubectl's DaemonSet status line, and a per-node revision map.

Sources: kubectl pkg/polymorphichelpers/rollout_status.go DaemonSetStatusViewer.Status (messages kept
verbatim, trailing newline included; docs/rules.md#r-rollout-progress, cases K 152–156) and docs/rules.md#r-status.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from kubectl_ds import resources as r
from kubectl_ds.errors import UsageError
from kubectl_ds.placement.predicate import node_should_run_daemon_pod, pod_tolerations
from kubectl_ds.placement.report import natural_key
from kubectl_ds.placement.revisions import RevisionIndex
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.nodepods import EXCLUDED, STATES, pods_on_nodes
from kubectl_ds.strategy import update_strategy_type

ONLY_ROLLING_UPDATE = "rollout status is only available for RollingUpdate strategy type"


@dataclass(frozen=True)
class Progress:
    message: str
    done: bool


@dataclass(frozen=True)
class NodeProgress:
    node: str
    state: str
    revision: int | None = None  # revision of the pod that decided the state, if known


def daemonset_status_message(daemonset: Obj) -> Progress:
    """DaemonSetStatusViewer.Status: the line `kubectl rollout status ds/<name>` prints, and whether it is done.

    The status counts are only trusted once the controller has observed the current generation.
    """
    if update_strategy_type(daemonset) != "RollingUpdate":
        raise UsageError(ONLY_ROLLING_UPDATE)
    name = r.name(daemonset)
    status = r.status(daemonset)
    generation = int(r.metadata(daemonset).get("generation") or 0)
    if generation > int(status.get("observedGeneration") or 0):
        return Progress("Waiting for daemon set spec update to be observed...\n", done=False)
    desired = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    if updated < desired:
        return Progress(
            f'Waiting for daemon set "{name}" rollout to finish: '
            f"{updated} out of {desired} new pods have been updated...\n",
            done=False,
        )
    if available < desired:
        return Progress(
            f'Waiting for daemon set "{name}" rollout to finish: '
            f"{available} of {desired} updated pods are available...\n",
            done=False,
        )
    return Progress(f'daemon set "{name}" successfully rolled out\n', done=True)


def node_revision_map(
    daemonset: Obj, nodes: Sequence[Obj], pods: Iterable[Obj], revisions: RevisionIndex, *, now: datetime
) -> list[NodeProgress]:
    """The state of every node, nodes in natural name order (node-2 before node-10).

    Unlike the controller's status (which counts only the oldest pod on a node), a live pod of the current
    revision decides the state: during a surge the new pod is the news, the old one is on its way out.
    Terminating pods are ignored, as the controller ignores them.
    """
    tolerations = pod_tolerations(daemonset)
    names = [r.name(node) for node in sorted(nodes, key=lambda node: natural_key(r.name(node)))]
    wanted = {
        r.name(node)
        for node in nodes
        if node_should_run_daemon_pod(daemonset, node, tolerations=tolerations).should_run
    }
    held = pods_on_nodes(
        [name for name in names if name in wanted], pods, revisions, r.min_ready_seconds(daemonset), now
    )
    result = []
    for name in names:
        if name not in held:
            result.append(NodeProgress(name, EXCLUDED))
            continue
        decided_by = held[name].state_pod()
        result.append(
            NodeProgress(name, held[name].state, revisions.revision_of(decided_by) if decided_by is not None else None)
        )
    return result


def count_states(nodes: Iterable[NodeProgress]) -> dict[str, int]:
    """Nodes per state, every state present (zero when no node is in it)."""
    counted = Counter(node.state for node in nodes)
    return {state: counted.get(state, 0) for state in STATES}
