"""Pure. PodDisruptionBudgets over a DaemonSet's pods, as the disruption controller and the eviction API
treat them (docs/rules.md#r-eviction):

- the controller counts a PDB's expected pods through the owner's scale subresource; a DaemonSet has
  none, so a PDB with `maxUnavailable` or a percentage `minAvailable` that selects its pods fails to sync
  (condition DisruptionAllowed=False, reason SyncFailed) and allows no eviction, ever;
- an integer `minAvailable` needs no scale: it allows evictions while more pods are healthy than it asks;
- the eviction API answers 500 for a pod that more than one PDB selects.

`plan` shows what each PDB will do; `start` refuses, before any write, a rollout that could never evict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubectl_ds import resources as r
from kubectl_ds.labelselector import selector_matches
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.plan import PlanWarning

PDB_NEVER_EVICTS = "PDBNeverAllowsEviction"
PDB_LIMITS_EVICTIONS = "PDBLimitsEvictions"
PDB_OVERLAP = "PDBOverlap"
BUDGETS_UNCHECKED = "PDBsNotChecked"


@dataclass(frozen=True)
class BudgetVerdict:
    name: str
    selects: int  # the DaemonSet's pods it selects
    never: str  # why it can never allow an eviction of them, or ""
    min_available: int | None = None
    allowed_now: int | None = None


def selected(pdb: Obj, pod: Obj) -> bool:
    """policy/v1: an empty selector selects every pod of the namespace, a missing one none."""
    selector = r.spec(pdb).get("selector")
    if selector is None or r.namespace(pdb) != r.namespace(pod):
        return False
    return selector_matches(selector, r.labels(pod))


def judge(pdb: Obj, pods: Sequence[Obj]) -> BudgetVerdict | None:
    """What one PDB does to evictions of the DaemonSet's `pods`, or None when it selects none of them."""
    chosen = [pod for pod in pods if selected(pdb, pod)]
    if not chosen:
        return None
    spec, status = r.spec(pdb), r.status(pdb)
    allowed = status.get("disruptionsAllowed")
    allowed_now = int(allowed) if isinstance(allowed, int) else None
    condition = r.condition(pdb, "DisruptionAllowed") or {}
    if condition.get("status") == "False" and condition.get("reason") == "SyncFailed":
        return BudgetVerdict(r.name(pdb), len(chosen), f"its status says SyncFailed ({condition.get('message', '')})")
    if spec.get("maxUnavailable") is not None:
        return BudgetVerdict(
            r.name(pdb),
            len(chosen),
            f"maxUnavailable {spec['maxUnavailable']} needs the owner's "
            "scale subresource, which a DaemonSet lacks, so the disruption controller fails to "
            "sync it (SyncFailed) and allows no eviction",
        )
    minimum = spec.get("minAvailable")
    if isinstance(minimum, str) and minimum.endswith("%"):
        return BudgetVerdict(
            r.name(pdb),
            len(chosen),
            f"minAvailable {minimum} (a percentage) needs the owner's "
            "scale subresource, which a DaemonSet lacks, so the disruption controller fails to "
            "sync it (SyncFailed) and allows no eviction",
        )
    expected = status.get("expectedPods")
    expected = int(expected) if isinstance(expected, int) and expected > 0 else len(chosen)
    if isinstance(minimum, int) and minimum >= expected:
        return BudgetVerdict(
            r.name(pdb), len(chosen), f"minAvailable {minimum} of the {expected} pods it selects leaves no pod to evict"
        )
    return BudgetVerdict(r.name(pdb), len(chosen), "", int(minimum) if minimum is not None else None, allowed_now)


def budget_findings(pdbs: Sequence[Obj], pods: Sequence[Obj]) -> tuple[list[PlanWarning], str | None]:
    """The plan's warnings about the PDBs over `pods`, and the reason a start must refuse (or None)."""
    verdicts = [verdict for pdb in pdbs if (verdict := judge(pdb, pods)) is not None]
    warnings: list[PlanWarning] = []
    refusals: list[str] = []
    for verdict in verdicts:
        if verdict.never:
            text = f"PodDisruptionBudget {verdict.name} never allows evicting these pods: {verdict.never}"
            warnings.append(PlanWarning(PDB_NEVER_EVICTS, text))
            refusals.append(text)
        else:
            now = "" if verdict.allowed_now is None else f"; it allows {verdict.allowed_now} now"
            warnings.append(
                PlanWarning(
                    PDB_LIMITS_EVICTIONS,
                    (
                        f"PodDisruptionBudget {verdict.name} (minAvailable {verdict.min_available}) allows an eviction "
                        f"only while more than {verdict.min_available} of the {verdict.selects} pods it selects are "
                        f"healthy{now}: a step waits for it"
                    ),
                )
            )
    overlapping = [r.name(pod) for pod in pods if sum(1 for pdb in pdbs if selected(pdb, pod)) > 1]
    if overlapping:
        names = ", ".join(verdict.name for verdict in verdicts)
        text = (
            f"more than one PodDisruptionBudget ({names}) selects {len(overlapping)} of these pods (e.g. "
            f"{overlapping[0]}): the eviction API answers 500 for every such pod"
        )
        warnings.append(PlanWarning(PDB_OVERLAP, text))
        refusals.append(text)
    refusal = None
    if refusals:
        refusal = "; ".join(refusals) + (
            "; fix the PodDisruptionBudget (an integer minAvailable works for a "
            "DaemonSet), or use --delete, which bypasses PodDisruptionBudgets"
        )
    return warnings, refusal
