"""Pure. The rollout the DaemonSet controller runs by itself once a changed DaemonSet is applied, forecast
from the node changes of placement/diff.py and the strategy that will be in force (docs/rules.md#r-diff).

- No new revision (the pod template is unchanged): no pod is replaced; gained nodes get a pod and lost nodes
  lose theirs at once.
- OnDelete: nothing is replaced until someone deletes the pods; gained nodes get the new template at once.
- RollingUpdate, maxSurge 0: old pods go `maxUnavailable` nodes at a time (docs/rules.md#r-rolling-no-surge),
  so the available old pods take ceil(n / maxUnavailable) waves; unavailable ones are replaced at once;
  a node whose new pod cannot be scheduled (blocked) holds one unit of the budget for good, so once the
  blocked nodes hold all of it, the rollout stalls (docs/rules.md#r-ledger).
- RollingUpdate, maxSurge > 0: a new pod starts next to each old one, maxSurge nodes at a time
  (docs/rules.md#r-rolling-surge); a template with a host port can never start next to its old pod.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kubectl_ds import resources as r
from kubectl_ds.placement.diff import BLOCKED, GAINED, LOST, UNCHANGED, DaemonSetDiff
from kubectl_ds.placement.hostports import host_ports
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.budget import compute_budget
from kubectl_ds.strategy import ON_DELETE, allows_surge, rolling_update_values, update_strategy_type

NO_NEW_REVISION = "no new revision"
ON_DELETE_WAITS = "OnDelete"
ROLLING = "RollingUpdate"


@dataclass(frozen=True)
class Forecast:
    kind: str  # NO_NEW_REVISION, ON_DELETE_WAITS or ROLLING
    surge: bool = False
    spec: str = ""  # maxUnavailable (maxSurge) as written
    limit: int = 0  # nodes at a time
    desired: int = 0  # nodes that want the pod after the change
    budgeted: tuple[str, ...] = ()  # nodes whose available old pod waits its turn in the budget
    at_once: tuple[str, ...] = ()  # old pods replaced at once: not available now
    created: tuple[str, ...] = ()  # gained nodes: a new pod at once
    deleted: tuple[str, ...] = ()  # lost nodes: pod deleted
    kept_old: tuple[str, ...] = ()  # OnDelete: nodes that keep the old pod until it is deleted
    blocked: tuple[str, ...] = ()  # their new pod stays Pending: each holds budget for good
    host_port_surge: bool = False  # surge with a host port: no new pod can start next to its old one

    @property
    def waves(self) -> int:
        return math.ceil(len(self.budgeted) / self.limit) if self.limit else 0

    @property
    def stalls(self) -> bool:
        """The rollout stops for good before it is done: the blocked nodes take all of the budget, or no surge
        pod can ever start."""
        return self.host_port_surge or (self.kind == ROLLING and bool(self.blocked) and len(self.blocked) >= self.limit)


def strategy_after(live: Obj | None, manifest: Obj) -> Obj:
    """The DaemonSet whose updateStrategy will be in force: the manifest's if it sets one (or creates the
    DaemonSet), else the live one's (kubectl apply leaves a field the manifest never set alone)."""
    return manifest if "updateStrategy" in r.spec(manifest) or live is None else live


def forecast(diff: DaemonSetDiff, live: Obj | None, manifest: Obj) -> Forecast:
    """`live` None: the DaemonSet is created, every wanted node gets a pod at once."""
    created = tuple(node.node for node in diff.nodes if node.change in (GAINED, BLOCKED) and not node.has_pod)
    strategy_source = strategy_after(live, manifest)
    deleted = tuple(node.node for node in diff.nodes if node.change == LOST and not node.after.should_continue_running)
    if live is not None and not diff.spec.new_revision:
        return Forecast(NO_NEW_REVISION, created=created, deleted=deleted)
    # Nodes with a pod that will be wanted: their pod is replaced (a gained node may hold an old pod kept (F,T)).
    replaced = [node for node in diff.nodes if node.change in (GAINED, UNCHANGED, BLOCKED) and node.has_pod]
    blocked = diff.named(BLOCKED)
    if live is not None and update_strategy_type(strategy_source) == ON_DELETE:
        return Forecast(
            ON_DELETE_WAITS,
            created=created,
            deleted=deleted,
            kept_old=tuple(node.node for node in replaced),
            blocked=tuple(node.node for node in diff.nodes if node.change == BLOCKED and not node.has_pod),
        )
    desired = sum(1 for node in diff.nodes if node.after.should_run)
    max_unavailable, max_surge = rolling_update_values(strategy_source)
    budget = compute_budget(max_unavailable, max_surge, desired)
    surge = allows_surge(strategy_source)
    # Lost nodes whose pod the new spec merely stops wanting (F,T): the rolling update deletes it within the
    # budget and nothing replaces it.
    sunset = [node for node in diff.nodes if node.change == LOST and node.after.should_continue_running]
    waiting = [node.node for node in [*replaced, *([] if surge else sunset)] if node.pod_available]
    return Forecast(
        ROLLING,
        surge=surge,
        spec=str(max_surge if surge else max_unavailable),
        limit=budget.max_surge if surge else budget.max_unavailable,
        desired=desired,
        budgeted=tuple(waiting),
        at_once=tuple(node.node for node in replaced if not node.pod_available),
        created=created,
        deleted=deleted,
        blocked=blocked,
        host_port_surge=surge and bool(replaced) and live is not None and _ports_clash(live, manifest),
    )


def _ports_clash(live: Obj, manifest: Obj) -> bool:
    """A new pod's host port is held by the old pod beside it (docs/rules.md#r-host-ports): a surge pod never
    schedules, and the controller removes the old pod only once it is not Ready."""
    held = host_ports(r.template_pod_spec(live))
    return any(port.conflicts_with(old) for port in host_ports(r.template_pod_spec(manifest)) for old in held)
