"""Pure. Findings about a DaemonSet itself (not about one node), each with a stable code, for `kubectl ds audit`:

- PDBNeverAllowsEviction / PDBOverlap: a PodDisruptionBudget over its pods can never allow an eviction
  (rollout/disruption.py's verdicts): drains that evict and `kubectl ds rollout` block on it forever;
- SurgeWithHostPort: a RollingUpdate with maxSurge claims a host port: the surge pod can never bind next to
  the old one, so the controller's rolling update deadlocks on the first node (docs/rules.md#r-budget);
- ToleratesEverythingWithoutPriority: an empty-key `Exists` toleration puts the pod on every node, tainted or
  full, but without a priorityClassName it cannot preempt: on a full node it stays Pending for days;
- ManagedRolloutHalted / ManagedRolloutPaused / ManagedRolloutAbandoned / ManagedRolloutUnreadable: the state
  of a `kubectl ds rollout` in its annotation (rollout/state.py), and since when;
- RollingUpdateStuck: a rolling update the controller drives cannot make progress (rollout/ledger.py: the
  nodes holding its budget will not free it by themselves).

An "error" finding makes `audit --exit-code` exit 3; a "warning" does not. (The stuck controller-driven
RollingUpdate comes from the budget ledger, which `audit.finish` computes and hands in.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kubectl_ds import resources as r
from kubectl_ds.placement.hostports import host_ports
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import state as st
from kubectl_ds.rollout.disruption import PDB_NEVER_EVICTS, PDB_OVERLAP, budget_findings
from kubectl_ds.strategy import allows_surge

ERROR = "error"
WARNING = "warning"

SURGE_WITH_HOST_PORT = "SurgeWithHostPort"
TOLERATES_EVERYTHING = "ToleratesEverythingWithoutPriority"
ROLLOUT_HALTED = "ManagedRolloutHalted"
ROLLOUT_PAUSED = "ManagedRolloutPaused"
ROLLOUT_ABANDONED = "ManagedRolloutAbandoned"
ROLLOUT_UNREADABLE = "ManagedRolloutUnreadable"

_ANNOTATION_FIELD = f"f:{st.STATE_ANNOTATION}"  # how managedFields' fieldsV1 names the annotation


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # ERROR or WARNING
    message: str


def findings(
    daemonset: Obj,
    pods: Sequence[Obj],
    budgets: Sequence[Obj] | None,
    *,
    now: datetime,
    stuck: tuple[str, str] | None = None,
) -> list[Finding]:
    """Every finding about `daemonset`; `pods` are its own pods, `budgets` the PDBs of its namespace (None:
    they could not be read), `stuck` the ledger's (code, message) when its rolling update is stuck."""
    found = [*_surge_with_host_port(daemonset), *_tolerates_everything(daemonset), *_managed_rollout(daemonset, now)]
    if stuck is not None:
        found.append(Finding(stuck[0], ERROR, stuck[1]))
    found += _budget_findings(pods, budgets or [])
    return sorted(found, key=lambda item: item.severity != ERROR)  # errors first, otherwise in this order


def _budget_findings(pods: Sequence[Obj], budgets: Sequence[Obj]) -> list[Finding]:
    warnings, _ = budget_findings(budgets, pods)
    return [
        Finding(warning.code, WARNING, warning.message)
        for warning in warnings
        if warning.code in (PDB_NEVER_EVICTS, PDB_OVERLAP)
    ]


def _surge_with_host_port(daemonset: Obj) -> list[Finding]:
    ports = host_ports(r.template_pod_spec(daemonset))
    if not allows_surge(daemonset) or not ports:
        return []
    listed = ", ".join(str(port) for port in ports)
    return [
        Finding(
            SURGE_WITH_HOST_PORT,
            ERROR,
            f"updateStrategy RollingUpdate with maxSurge and host port {listed}: the surge pod cannot bind the "
            "port next to the old pod, so the next rolling update deadlocks; set maxSurge 0 and use "
            "maxUnavailable",
        )
    ]


def tolerates_every_taint(pod_spec: Obj) -> bool:
    """An empty key with operator Exists matches every taint key and value (v1 Toleration); with no effect it
    matches every effect, else only its own, so NoSchedule and NoExecute must both be covered."""
    effects = {
        str(toleration.get("effect") or "")
        for toleration in pod_spec.get("tolerations") or []
        if not toleration.get("key") and toleration.get("operator") == "Exists"
    }
    return "" in effects or {"NoSchedule", "NoExecute"} <= effects


def _tolerates_everything(daemonset: Obj) -> list[Finding]:
    pod_spec = r.template_pod_spec(daemonset)
    if not tolerates_every_taint(pod_spec) or pod_spec.get("priorityClassName"):
        return []
    return [
        Finding(
            TOLERATES_EVERYTHING,
            WARNING,
            "it tolerates every taint (a toleration with operator Exists and no key) but has no "
            "priorityClassName: on a full node its pod cannot preempt and stays Pending; give it one that may "
            "preempt, e.g. system-node-critical (unless a globalDefault PriorityClass already does)",
        )
    ]


def _managed_rollout(daemonset: Obj, now: datetime) -> list[Finding]:
    try:
        state = st.read_state(daemonset)
    except st.StateError as error:
        return [Finding(ROLLOUT_UNREADABLE, ERROR, error.message)]
    if state is None:
        return []
    namespace, name = r.namespace(daemonset), r.name(daemonset)
    resume = f"kubectl ds rollout resume -n {namespace} {name}"
    what = f"managed rollout to revision {state.target_revision}" + (f" ({state.change})" if state.change else "")
    since = _since(daemonset, state, now)
    why = f": {state.reason}" if state.reason else ""
    if state.phase == st.HALTED:
        return [
            Finding(
                ROLLOUT_HALTED,
                ERROR,
                f"{what} halted {since}{why}; the DaemonSet stays parked (OnDelete); retry with {resume} or roll "
                f"back with kubectl ds rollout abort -n {namespace} {name}",
            )
        ]
    if state.phase == st.PARKED:
        return [
            Finding(
                ROLLOUT_PAUSED,
                WARNING,
                f"parked by kubectl ds rollout pause {since}: the controller rolls nothing out; undo with {resume}",
            )
        ]
    if state.phase == st.PAUSED:
        return [Finding(ROLLOUT_PAUSED, WARNING, f"{what} paused {since}{why}; continue with {resume}")]
    if state.phase == st.RUNNING and not state.driver_alive(now):
        return [
            Finding(
                ROLLOUT_ABANDONED,
                ERROR,
                f"{what} has no live driver {since} (owner {state.owner or 'none'}): nothing moves it and the "
                f"DaemonSet stays parked; take it over with {resume}",
            )
        ]
    return []


def _since(daemonset: Obj, state: st.RolloutState, now: datetime) -> str:
    """ "since 2026-11-21T09:00:00Z (3h ago)": the last write of the state annotation, as the API server's
    managedFields record it (the entry that owns the annotation; its time moves with every write of that
    manager); the rollout's last heartbeat or its start when the object carries no managedFields (a dump
    stripped of them)."""
    written = [
        moment
        for entry in r.metadata(daemonset).get("managedFields") or []
        if _ANNOTATION_FIELD in (((entry.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:annotations") or {})
        and (moment := r.parse_time(entry.get("time"))) is not None
    ]
    if written:
        return f"since {_stamp(max(written), now)}"
    heartbeat = r.parse_time(state.heartbeat)
    if heartbeat is not None:
        return f"since {_stamp(heartbeat, now)} (its last heartbeat)"
    started = r.parse_time(state.started_at)
    return f"(started {_stamp(started, now)})" if started is not None else "(since an unknown time)"


def _stamp(moment: datetime, now: datetime) -> str:
    return f"{st.rfc3339(moment)} ({age(now - moment)} ago)" if now >= moment else st.rfc3339(moment)


def age(delta: timedelta) -> str:
    """Like kubectl's AGE column: 45s, 12m, 5h, 3d (hours from 2h, days from 2d)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
