"""Pure. Failure correlation: when the nodes of a DaemonSet that fail in one way share a node label value that
no healthy node has, that label is the likeliest lead ("all 5 crash-looping nodes are kubernetes.io/arch=arm64;
0 of 40 amd64 nodes fail"). The rules (README "Failure correlation"):

- Only nodes that should run the pod and whose pod state is known take part; a failing group is the nodes in
  one failing state (crash-looping, image pull error, not ready, Pending, failed, missing a pod). Running
  (healthy or on an old revision), not-yet-available and terminating nodes are not failing: they are
  on their way.
- A group needs at least MIN_FAILING nodes, and the DaemonSet at least MIN_HEALTHY running nodes: one
  failing node shares every label with itself, and with no healthy node there is nothing to tell apart.
- A label key=value qualifies when every node of the group has it and no running node has it. Every
  label is considered; a label that is unique per node (kubernetes.io/hostname, instance ids) can never be
  shared by two nodes, so it never qualifies.
- The well-known labels (arch, os, instance type, zone, region, then pools) come first, in that order; other
  labels follow by key. The first is the lead; the others that qualify are listed too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubectl_ds import resources as r
from kubectl_ds.placement.report import (
    CRASH_LOOPING,
    FAILED,
    IMAGE_PULL,
    MISSING,
    NOT_READY,
    PENDING,
    RUNNING,
    Assessment,
    NodeReport,
)

MIN_FAILING = 2
MIN_HEALTHY = 2
FAILING_STATES = (CRASH_LOOPING, IMAGE_PULL, NOT_READY, PENDING, FAILED, MISSING)
WELL_KNOWN_KEYS = (
    "kubernetes.io/arch",
    "kubernetes.io/os",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "beta.kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "node.kubernetes.io/windows-build",
    "cloud.google.com/gke-nodepool",
    "eks.amazonaws.com/nodegroup",
    "kubernetes.azure.com/agentpool",
    "karpenter.sh/nodepool",
)
MAX_ALSO = 3


@dataclass(frozen=True)
class Correlation:
    state: str  # the failing state the group shares
    key: str
    value: str
    failing: int  # nodes in the group (every one has key=value)
    others: int  # wanted nodes with a known state that lack key=value
    others_failing: int  # of those, the ones failing in any way
    other_value: str | None  # the one value of `key` the others all have, if they do
    also: tuple[str, ...] = ()  # further key=value labels that separate the group as well


def correlate(assessment: Assessment) -> tuple[Correlation, ...]:
    """One correlation per failing state that has one, in the order of FAILING_STATES."""
    if not assessment.pods_known:
        return ()
    wanted = [node for node in assessment.nodes if node.should_run and node.state]
    labels = {node.name: r.labels(assessment.node_objects.get(node.name) or {}) for node in wanted}
    healthy = [node for node in wanted if node.state == RUNNING]
    if len(healthy) < MIN_HEALTHY:
        return ()
    found = []
    for state in FAILING_STATES:
        group = [node for node in wanted if node.state == state]
        if len(group) < MIN_FAILING:
            continue
        correlation = _separating_label(state, group, wanted, healthy, labels)
        if correlation is not None:
            found.append(correlation)
    return tuple(found)


def _separating_label(
    state: str,
    group: Sequence[NodeReport],
    wanted: Sequence[NodeReport],
    healthy: Sequence[NodeReport],
    labels: Mapping[str, Mapping[str, str]],
) -> Correlation | None:
    shared = dict(labels[group[0].name])
    for node in group[1:]:
        own = labels[node.name]
        shared = {key: value for key, value in shared.items() if own.get(key) == value}
    held_by_healthy = {(key, value) for node in healthy for key, value in labels[node.name].items()}
    candidates = sorted(
        ((key, value) for key, value in shared.items() if (key, value) not in held_by_healthy), key=_rank
    )
    if not candidates:
        return None
    key, value = candidates[0]
    others = [node for node in wanted if labels[node.name].get(key) != value]
    other_values = {labels[node.name].get(key) for node in others}
    (only,) = other_values if len(other_values) == 1 else (None,)
    return Correlation(
        state=state,
        key=key,
        value=value,
        failing=len(group),
        others=len(others),
        others_failing=sum(1 for node in others if node.state in FAILING_STATES),
        other_value=only,
        also=tuple(f"{k}={v}" for k, v in candidates[1 : 1 + MAX_ALSO]),
    )


def _rank(label: tuple[str, str]) -> tuple[int, str, str]:
    key, value = label
    return (WELL_KNOWN_KEYS.index(key) if key in WELL_KNOWN_KEYS else len(WELL_KNOWN_KEYS), key, value)
