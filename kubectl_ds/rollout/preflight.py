"""Pure. Pre-flight findings about what surrounds a DaemonSet and would fight a managed rollout: the tools
that own the object (GitOps, Helm), and what makes a start impossible to finish (unreachable nodes that use
up the budget). `plan` shows them; `start` prints the warnings and refuses on a refusal, before its first
write.

Each finding is a PlanWarning with a stable code, like the plan's own warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.errors import Forbidden, NotFound
from kubectl_ds.placement.report import other_pods_on_nodes
from kubectl_ds.render.text import moment
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.disruption import (
    BUDGETS_UNCHECKED,
    PDB_LIMITS_EVICTIONS,
    PDB_NEVER_EVICTS,
    PDB_OVERLAP,
    budget_findings,
)
from kubectl_ds.rollout.plan import Plan, PlanWarning

MANAGED_BY_GITOPS = "ManagedByGitOps"
MANAGED_BY_HELM = "ManagedByHelm"
# The findings `start` says before its first write (the plan's own warnings are `plan`'s to show).
PREFLIGHT_CODES = frozenset(
    {
        MANAGED_BY_GITOPS,
        MANAGED_BY_HELM,
        PDB_NEVER_EVICTS,
        PDB_LIMITS_EVICTIONS,
        PDB_OVERLAP,
        BUDGETS_UNCHECKED,
        "PreemptionRisk",
        "NoSurgeHeadroom",
    }
)

# Marks each tool leaves on the objects it owns: (where, key, tool). The values do not matter.
_GITOPS_MARKS = (
    ("annotation", "argocd.argoproj.io/tracking-id", "Argo CD"),
    ("label", "argocd.argoproj.io/instance", "Argo CD"),
    ("label", "kustomize.toolkit.fluxcd.io/name", "Flux"),
    ("label", "helm.toolkit.fluxcd.io/name", "Flux"),
)
_HELM_MARKS = (
    ("annotation", "meta.helm.sh/release-name", "Helm"),
    ("label", "helm.sh/chart", "Helm"),
)
# Field managers (metadata.managedFields[].manager) of the same tools, for objects that carry no mark.
_GITOPS_MANAGERS = {
    "argocd-controller": "Argo CD",
    "argocd-application-controller": "Argo CD",
    "kustomize-controller": "Flux",
    "helm-controller": "Flux",
}
_HELM_MANAGERS = {"helm": "Helm"}


def _marked_by(daemonset: Obj, marks: Sequence[tuple[str, str, str]], managers: dict[str, str]) -> str | None:
    """ "Argo CD (annotation argocd.argoproj.io/tracking-id)" or None."""
    for where, key, tool in marks:
        found = r.annotations_of(daemonset) if where == "annotation" else r.labels(daemonset)
        if key in found:
            return f"{tool} ({where} {key})"
    for entry in r.metadata(daemonset).get("managedFields") or []:
        manager = str(entry.get("manager") or "")
        if manager in managers:
            return f"{managers[manager]} (field manager {manager})"
    return None


def tooling_warnings(daemonset: Obj) -> list[PlanWarning]:
    """A parked (OnDelete) DaemonSet looks Healthy to Argo CD and ready to `helm --wait`, and a sync or
    upgrade writes the template and strategy back, which halts the rollout (docs/rules.md#r-gitops)."""
    warnings = []
    gitops = _marked_by(daemonset, _GITOPS_MARKS, _GITOPS_MANAGERS)
    if gitops is not None:
        warnings.append(
            PlanWarning(
                MANAGED_BY_GITOPS,
                (
                    f"the DaemonSet is managed by {gitops}: while parked it looks Healthy and in sync to it, and a sync"
                    f" or self-heal writes the template and strategy back, which halts the rollout; suspend auto-sync "
                    f"and self-heal for it until the rollout ends, and commit the new template to Git afterwards"
                ),
            )
        )
    helm = _marked_by(daemonset, _HELM_MARKS, _HELM_MANAGERS)
    if helm is not None:
        warnings.append(
            PlanWarning(
                MANAGED_BY_HELM,
                (
                    f"the DaemonSet is managed by {helm}: `helm upgrade --wait` reports a parked (OnDelete) DaemonSet "
                    "ready at once, and an upgrade during the rollout writes the template and strategy back, which "
                    "halts it; run no upgrade of this release until the rollout ends, then upgrade to the same values"
                ),
            )
        )
    return warnings


def unreachable_refusal(plan: Plan, nodes: Sequence[Obj]) -> str | None:
    """Unreachable nodes alone use up --max-unavailable: no available node could ever be replaced until they
    return, so a start would only park the DaemonSet and wait. None when the rollout can proceed."""
    if plan.surge or not plan.unreachable:
        return None
    counted = [name for name in plan.unreachable if name in plan.already_unavailable]
    costly = any(name not in plan.already_unavailable for step in plan.steps for name in step.nodes)
    if not costly or len(counted) < plan.budget.max_unavailable:
        return None
    since = {r.name(node): r.node_ready_since(node) for node in nodes}
    listed = ", ".join(f"{name} (unreachable since {moment(since.get(name))})" for name in counted[:5])
    more = f" and {len(counted) - 5} more" if len(counted) > 5 else ""
    return (
        f"{len(counted)} unreachable {'node uses' if len(counted) == 1 else 'nodes use'} up --max-unavailable "
        f"{plan.budget.max_unavailable}: {listed}{more}; no available node could be replaced until "
        f"{'it returns' if len(counted) == 1 else 'they return'}. Use a larger --max-unavailable, or "
        "--skip-unreachable to leave unreachable nodes out of the budget"
    )


def checked(
    plan: Plan,
    daemonset: Obj,
    nodes: Sequence[Obj],
    pods: Sequence[Obj],
    budgets: Sequence[Obj],
    budgets_note: str,
    other_pods_by_node: Mapping[str, Sequence[Obj]] | None,
    *,
    evict: bool,
    allow_preemption: bool,
) -> tuple[Plan, str | None]:
    """The plan with the PodDisruptionBudget and preemption findings added, and why a start must refuse (or
    None): unreachable nodes that use up the budget, a budget that never allows an eviction (unless --delete),
    a surge that would preempt other pods (unless --allow-preemption)."""
    warnings, budget_refusal = budget_findings(budgets, pods)
    if budgets_note:
        warnings.append(PlanWarning(BUDGETS_UNCHECKED, budgets_note))
    preemption, preemption_refusal = preemption_risk(
        plan, daemonset, pods, other_pods_by_node or {}, allowed=allow_preemption
    )
    own = plan.warnings
    if preemption:  # the surge pod will not stay Pending there: it preempts, which says more
        own = tuple(warning for warning in own if warning.code != "NoSurgeHeadroom")
    plan = replace(plan, warnings=(*own, *warnings, *preemption))
    # A surge rollout evicts nothing: the controller deletes each old pod once its surge pod is available.
    evicts = evict and not plan.surge
    return plan, (unreachable_refusal(plan, nodes) or (budget_refusal if evicts else None) or preemption_refusal)


PREEMPTION_RISK = "PreemptionRisk"
# What priority admission gives the two built-in classes (PriorityClasses of the cluster are not read).
SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


def pod_priority(pod_spec: Obj) -> int | None:
    """spec.priority as admission resolved it, else the built-in class's; None when not known."""
    if isinstance(pod_spec.get("priority"), int):
        return int(pod_spec["priority"])
    return SYSTEM_PRIORITIES.get(
        str(pod_spec.get("priorityClassName") or ""), None if pod_spec.get("priorityClassName") else 0
    )


def preemption_risk(
    plan: Plan, daemonset: Obj, pods: Sequence[Obj], other_pods_by_node: Mapping[str, Sequence[Obj]], *, allowed: bool
) -> tuple[list[PlanWarning], str | None]:
    """With --max-surge, a surge pod that does not fit next to the old one is pinned to its node; when its
    priority is higher (system-node-critical agents), the scheduler makes room by preempting (evicting) lower
    priority pods there (docs/rules.md#r-preemption). Name them; a start refuses unless --allow-preemption."""
    short = next((warning.nodes for warning in plan.warnings if warning.code == "NoSurgeHeadroom"), ())
    if not plan.surge or not short:
        return [], None
    own = [p for pod in pods if (p := pod_priority(r.spec(pod))) is not None]
    priority = max(own) if own else pod_priority(r.template_pod_spec(daemonset))
    if priority is None:
        return [], None
    victims = {
        node: [
            f"{r.namespace(pod)}/{r.name(pod)}"
            for pod in other_pods_by_node.get(node, ())
            if (pod_priority(r.spec(pod)) or 0) < priority
        ]
        for node in short
    }
    victims = {node: names for node, names in victims.items() if names}
    if not victims:
        return [], None
    listed = "; ".join(
        f"{node}: {', '.join(names[:3])}" + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        for node, names in list(victims.items())[:5]
    )
    text = (
        f"the surge pod (priority {priority}) does not fit on {len(victims)} "
        f"{'node' if len(victims) == 1 else 'nodes'}, so the scheduler would preempt lower-priority pods there: "
        f"{listed}"
    )
    warning = PlanWarning(PREEMPTION_RISK, text, tuple(victims))
    refusal = None if allowed else f"{text}; use --max-unavailable instead, or --allow-preemption to accept it"
    return [warning], refusal


def read_budgets(list_budgets: Callable[[], list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], str]:
    """The namespace's PodDisruptionBudgets through `list_budgets`, and a note when RBAC does not let us read
    them. A cluster without the policy/v1 API (before 1.21) has none to apply."""
    try:
        return list_budgets(), ""
    except NotFound:
        return [], ""
    except Forbidden as error:
        return [], f"PodDisruptionBudgets were not checked: {error.message}"


def read_other_pods(
    list_active: Callable[[], list[dict[str, Any]]], daemonset: Obj, nodes: Sequence[Obj]
) -> tuple[dict[str, list[Obj]] | None, str]:
    """Every other pod per node (one cluster-wide list through `list_active`), for the surge headroom and
    preemption checks; None and a note when RBAC does not allow it."""
    try:
        active = list_active()
    except Forbidden as error:
        return None, f"surge headroom check left out: {error.message}"
    return other_pods_on_nodes(active, daemonset, [r.name(node) for node in nodes]), ""
