"""Pure. A DaemonSet's update strategy as the API serves it: its type, its rolling-update values with the
API's defaults, and whether it surges (docs/rules.md#r-budget, docs/rules.md#r-validation).

Placement (explain) and the rollout both read these facts; this is their one home.
"""

from __future__ import annotations

import re

from kubectl_ds import resources as r
from kubectl_ds.resources import Obj

ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
# SetDefaults_DaemonSet: a RollingUpdate without values gets maxUnavailable=1, maxSurge=0.
DEFAULT_MAX_UNAVAILABLE = 1
DEFAULT_MAX_SURGE = 0

_POSITIVE = re.compile(r"0*[1-9][0-9]*%?")


def update_strategy_type(daemonset: Obj) -> str:
    """spec.updateStrategy.type; the API defaults a missing one to RollingUpdate."""
    return str((r.spec(daemonset).get("updateStrategy") or {}).get("type") or ROLLING_UPDATE)


def is_on_delete(daemonset: Obj) -> bool:
    """OnDelete: the controller replaces a pod only once someone deletes it (how a managed rollout parks)."""
    return update_strategy_type(daemonset) == ON_DELETE


def rolling_update_values(daemonset: Obj) -> tuple[int | str, int | str]:
    """(maxUnavailable, maxSurge) of the DaemonSet, with the API defaults for what is missing."""
    rolling = (r.spec(daemonset).get("updateStrategy") or {}).get("rollingUpdate") or {}
    unavailable = rolling.get("maxUnavailable")
    surge = rolling.get("maxSurge")
    return (
        DEFAULT_MAX_UNAVAILABLE if unavailable is None else unavailable,
        DEFAULT_MAX_SURGE if surge is None else surge,
    )


def surges(max_surge: int | str) -> bool:
    """util.AllowsSurge's test: maxSurge scaled against ONE node, rounding up, is positive, so "1%" surges.
    That holds exactly for a positive integer or a positive percentage; anything the API server would
    reject counts as no surge."""
    return _POSITIVE.fullmatch(str(max_surge).strip()) is not None


def allows_surge(daemonset: Obj) -> bool:
    """util.AllowsSurge: a RollingUpdate whose maxSurge is positive."""
    return update_strategy_type(daemonset) == ROLLING_UPDATE and surges(rolling_update_values(daemonset)[1])
