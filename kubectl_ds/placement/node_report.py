"""Pure. One node seen from every DaemonSet: which of them should run there, run there, or keep a pod
there, each judged exactly as `explain` judges that node (report.assess_nodes, then the scheduler-side
checks with the other pods bound to the node), plus the node's own facts.

Input is what `kubectl ds node` reads: the node, the DaemonSets in scope, the pods bound to the node, the
unscheduled pods (a Pending DaemonSet pod has no nodeName; pods.target_node reads its matchFields pin), the
ControllerRevisions in scope and the FailedScheduling messages of Pending pods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from kubectl_ds import resources as r
from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.legacy_labels import BETA_OF_STABLE, legacy_label_hint
from kubectl_ds.placement.managed_taints import managed_taint
from kubectl_ds.placement.pods import target_node
from kubectl_ds.placement.predicate import node_should_run_daemon_pod
from kubectl_ds.placement.report import (
    NodeReport,
    add_scheduler_checks,
    assess_nodes,
    natural_key,
    nodes_to_check,
    other_pods_on_nodes,
)
from kubectl_ds.placement.requests import ParseQuantity
from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.placement.taints import Taint
from kubectl_ds.resources import Obj


@dataclass(frozen=True)
class TaintFact:
    taint: Taint
    managed_by: str | None  # the component that sets and removes it (managed_taints), None for an operator's


@dataclass(frozen=True)
class NodeFacts:
    name: str
    ready: bool
    ready_text: str  # "Ready", "NotReady (Ready=False)", "Ready=Unknown", "no Ready condition"
    unschedulable: bool
    taints: tuple[TaintFact, ...]
    legacy_labels: str = ""  # legacy_labels.legacy_label_hint for the os/arch keys, "" when none


@dataclass(frozen=True)
class DaemonSetOnNode:
    """A DaemonSet's verdict and pods on this node: explain's NodeReport for that node."""

    namespace: str
    name: str
    report: NodeReport
    # Excluded now only by taints a component removes by itself once the node is up (bootstrapping, NotReady,
    # unreachable, under pressure): it will run here.
    once_up: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def has_ready_pod(self) -> bool:
        return any(pod.ready and not pod.terminating for pod in self.report.pods)

    @property
    def exclusion(self) -> str:
        """The controller-side rules that keep the pod off this node ("" when it should run)."""
        rules = [reason.rule for reason in self.report.reasons if reason.code in codes.CONTROLLER_CODES]
        return " + ".join(rules) if not self.report.should_run else ""

    @property
    def relevant(self) -> bool:
        """Shown for the node: it should run there, will once the node is up, or keeps a pod there."""
        return self.report.should_run or self.once_up or bool(self.report.pods)


@dataclass(frozen=True)
class NodeAssessment:
    facts: NodeFacts
    daemonsets: tuple[DaemonSetOnNode, ...]  # every DaemonSet in scope, by namespace and name

    @property
    def relevant(self) -> tuple[DaemonSetOnNode, ...]:
        return tuple(ds for ds in self.daemonsets if ds.relevant)

    @property
    def expected(self) -> tuple[DaemonSetOnNode, ...]:
        """The DaemonSets a node that is up must run: wanted now, or once its transient managed taints are gone."""
        return tuple(ds for ds in self.daemonsets if ds.report.should_run or ds.once_up)

    @property
    def waiting_for(self) -> tuple[DaemonSetOnNode, ...]:
        """Expected DaemonSets without a ready pod on the node."""
        return tuple(ds for ds in self.expected if not ds.has_ready_pod)


def node_facts(node: Obj) -> NodeFacts:
    ready = r.condition(node, "Ready")
    if ready is None:
        text = "no Ready condition"
    elif ready.get("status") == "True":
        text = "Ready"
    elif ready.get("status") == "False":
        text = "NotReady"
    else:
        text = f"NotReady (Ready={ready.get('status')})"
    taints = tuple(
        TaintFact(taint, entry.manager if (entry := managed_taint(taint.key)) else None)
        for taint in (Taint.from_api(raw) for raw in r.node_taints(node))
    )
    return NodeFacts(
        name=r.name(node),
        ready=r.is_node_ready(node),
        ready_text=text,
        unschedulable=r.is_node_cordoned(node),
        taints=taints,
        legacy_labels=legacy_label_hint(BETA_OF_STABLE, r.labels(node)).replace("{node}", r.name(node)),
    )


def without_bootstrap_taints(node: Obj) -> Obj:
    """The node as it will be once up: without the managed taints that go by themselves (not-ready, startup and
    readiness taints, pressure); a taint that marks a node on its way out stays."""

    def transient(taint: Obj) -> bool:
        entry = managed_taint(str(taint.get("key") or ""))
        return entry is not None and not entry.node_leaving

    kept = [taint for taint in r.node_taints(node) if not transient(taint)]
    return {**node, "spec": {**r.spec(node), "taints": kept}}


def assess_node(
    node: Obj,
    daemonsets: Sequence[Obj],
    pods_on_node: Sequence[Obj] | None,
    unscheduled_pods: Sequence[Obj],
    revisions: Sequence[Obj],
    *,
    now: datetime,
    parse_quantity: ParseQuantity,
    scheduler_messages: Mapping[str, str] | None = None,
) -> NodeAssessment:
    """Every DaemonSet of `daemonsets` judged on `node`, as explain judges one node; `pods_on_node` None means
    they could not be read (every DaemonSet's state is then unknown)."""
    name = r.name(node)
    pinned_here = [pod for pod in unscheduled_pods if target_node(pod) == name]
    candidates = list(pods_on_node or []) + pinned_here
    bootstrapped = without_bootstrap_taints(node)
    bootstrapping = len(r.node_taints(bootstrapped)) < len(r.node_taints(node))
    judged = []
    for daemonset in sorted(daemonsets, key=lambda ds: (r.namespace(ds), natural_key(r.name(ds)))):
        own_pods = [pod for pod in candidates if r.is_controlled_by(pod, daemonset)]
        assessment = assess_nodes(
            daemonset,
            [node],
            own_pods if pods_on_node is not None else None,
            index_revisions(daemonset, revisions),
            now=now,
            scheduler_messages=scheduler_messages,
        )
        if pods_on_node is not None and nodes_to_check(assessment):
            others = other_pods_on_nodes(pods_on_node, daemonset, [name])
            assessment = add_scheduler_checks(assessment, others, parse_quantity)
        report = assessment.nodes[0]
        once_up = (
            not report.should_run and bootstrapping and node_should_run_daemon_pod(daemonset, bootstrapped).should_run
        )
        judged.append(
            DaemonSetOnNode(
                namespace=r.namespace(daemonset),
                name=r.name(daemonset),
                report=report,
                once_up=once_up,
            )
        )
    return NodeAssessment(facts=node_facts(node), daemonsets=tuple(judged))
