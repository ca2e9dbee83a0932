"""Pure. How far a rollout has got: kubectl's DaemonSet status line, and a per-node revision map.

Sources: kubectl pkg/polymorphichelpers/rollout_status.go DaemonSetStatusViewer.Status (messages kept
verbatim, trailing newline included; daemonset-cases.md K 152–156) and daemonset-semantics.md §6, §8.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from kubectl_ds import resources as r
from kubectl_ds.errors import UsageError
from kubectl_ds.placement.pods import is_available, is_terminating, oldest_first, pods_by_node
from kubectl_ds.placement.predicate import node_should_run_daemon_pod, pod_tolerations
from kubectl_ds.placement.report import natural_key
from kubectl_ds.placement.revisions import RevisionIndex
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.budget import update_strategy_type

# Per-node states; every node is in exactly one.
UPDATED = "updated"  # an available pod of the current revision
OLD = "old"  # only pods of an older revision
MISSING = "missing"  # should run the pod, has no live one (none yet, or only a terminating one)
UNAVAILABLE = "unavailable"  # a pod of the current revision that is not available yet
EXCLUDED = "excluded"  # the controller's predicate says the pod should not run here
STATES = (UPDATED, OLD, MISSING, UNAVAILABLE, EXCLUDED)

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
        return Progress(f'Waiting for daemon set "{name}" rollout to finish: '
                        f"{updated} out of {desired} new pods have been updated...\n", done=False)
    if available < desired:
        return Progress(f'Waiting for daemon set "{name}" rollout to finish: '
                        f"{available} of {desired} updated pods are available...\n", done=False)
    return Progress(f'daemon set "{name}" successfully rolled out\n', done=True)


def node_revision_map(daemonset: Obj, nodes: Sequence[Obj], pods: Iterable[Obj], revisions: RevisionIndex, *,
                      now: datetime) -> list[NodeProgress]:
    """The state of every node, nodes in natural name order (node-2 before node-10).

    Unlike the controller's status (which counts only the oldest pod on a node), a live pod of the current
    revision decides the state: during a surge the new pod is the news, the old one is on its way out.
    Terminating pods are ignored, as the controller ignores them.
    """
    grouped = pods_by_node(pods)
    min_ready = int(r.spec(daemonset).get("minReadySeconds") or 0)
    result = []
    tolerations = pod_tolerations(daemonset)
    for node in sorted(nodes, key=lambda node: natural_key(r.name(node))):
        name = r.name(node)
        if not node_should_run_daemon_pod(daemonset, node, tolerations=tolerations).should_run:
            result.append(NodeProgress(name, EXCLUDED))
            continue
        live = oldest_first([pod for pod in grouped.get(name, []) if not is_terminating(pod)])
        new = [pod for pod in live if revisions.is_updated(pod)]
        if new:
            state = UPDATED if any(is_available(pod, min_ready, now) for pod in new) else UNAVAILABLE
            result.append(NodeProgress(name, state, revisions.revision_of(new[0])))
        elif live:
            result.append(NodeProgress(name, OLD, revisions.revision_of(live[0])))
        else:
            result.append(NodeProgress(name, MISSING))
    return result


def count_states(nodes: Iterable[NodeProgress]) -> dict[str, int]:
    """Nodes per state, every state present (zero when no node is in it)."""
    counted = Counter(node.state for node in nodes)
    return {state: counted.get(state, 0) for state in STATES}


def managed_progress_message(plan_total_steps: int, step_done: int, counts: Mapping[str, int]) -> str:
    """One line for the managed rollout, e.g. `step 2 of 5: 4 of 10 nodes updated, 1 unavailable`.

    "updated" counts every node on the current revision, available or not; the nodes among them that are
    not available yet, and wanted nodes without a pod, are then named as such. Excluded nodes are not counted.
    """
    on_new = counts.get(UPDATED, 0) + counts.get(UNAVAILABLE, 0)
    wanted = on_new + counts.get(OLD, 0) + counts.get(MISSING, 0)
    parts = [f"step {step_done} of {plan_total_steps}: {on_new} of {wanted} {_nodes(wanted)} updated"]
    if counts.get(UNAVAILABLE, 0):
        parts.append(f"{counts[UNAVAILABLE]} unavailable")
    if counts.get(MISSING, 0):
        parts.append(f"{counts[MISSING]} without a pod")
    return ", ".join(parts)


def _nodes(count: int) -> str:
    return "node" if count == 1 else "nodes"
