"""Pure. How long a managed rollout may take: a floor from the observed start-up of the current pods and
minReadySeconds, and a ceiling that adds each step's wait for old pods to stop (docs/rules.md#r-termination)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from kubectl_ds import resources as r
from kubectl_ds.placement.pods import ready_since
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.plan import Plan


def observed_startup(pods: Iterable[Obj]) -> float | None:
    """Median seconds from a pod's status.startTime to its Ready transition, over ready pods that have both."""
    durations = []
    for pod in pods:
        started = r.parse_time(r.status(pod).get("startTime"))
        ready_at = ready_since(pod)
        if started is not None and ready_at is not None:
            durations.append((ready_at - started).total_seconds())
    return statistics.median(durations) if durations else None


def estimate_seconds(plan: Plan, min_ready_seconds: int, observed_startup_seconds: float | None) -> float:
    """A floor for the rollout's duration: each step waits for its pods to start, then minReadySeconds."""
    per_step = max(observed_startup_seconds or 0.0, 0.0) + max(min_ready_seconds, 0)
    return len(plan.steps) * per_step


def termination_grace_seconds(daemonset: Obj) -> int:
    """terminationGracePeriodSeconds of the pod template (the API's default is 30)."""
    value = r.template_pod_spec(daemonset).get("terminationGracePeriodSeconds")
    return 30 if value is None else int(value)


def longest_seconds(plan: Plan, floor: float, grace_seconds: int) -> float:
    """The estimate's ceiling: each step may also wait out the old pods' whole grace period, since under
    OnDelete the new pod is created only once the old one is gone (docs/rules.md#r-termination). Surge steps
    start the new pod next to the old one, so they do not wait for it."""
    return floor if plan.surge else floor + len(plan.steps) * max(grace_seconds, 0)
