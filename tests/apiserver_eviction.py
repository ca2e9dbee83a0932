"""The eviction subresource (POST .../pods/<name>/eviction) and the PodDisruptionBudget checks it makes.

Source: pkg/registry/core/pod/storage/eviction.go (EvictionREST.Create, checkAndDecrement, canIgnorePDB,
shouldEnforceResourceVersion, addConditionAndDeletePod, getPodDisruptionBudgets, createTooManyRequestsError)
and k8s.io/component-helpers apps/poddisruptionbudget (UpdateDisruptionAllowedCondition). The rules are
summarised in docs/rules.md#r-eviction. What a client sees:

  * a pod that is Pending, Succeeded, Failed or already terminating skips the budgets (canIgnorePDB) and is
    deleted as a DELETE would;
  * more than one budget selecting the pod: 500 with a Status of its own ("This pod has more than one
    PodDisruptionBudget, which the eviction subresource does not support.", no reason);
  * a budget whose status.observedGeneration is behind its generation (never synced, or edited since):
    429, Retry-After 10, cause "The disruption budget <name> is still being processed by the server.";
  * disruptionsAllowed < 0, or more than 2000 entries in disruptedPods: 403 on the budget;
  * disruptionsAllowed == 0: 429 without Retry-After, cause "The disruption budget <name> needs <desired>
    healthy pods and has <current> currently";
  * otherwise disruptionsAllowed goes down by one (the DisruptionAllowed condition turns False at 0) and the
    pod is recorded in status.disruptedPods, so the disruption controller does not count it as healthy;
  * a pod that is not Ready does not use up the budget when the budget is healthy anyway (currentHealthy >=
    desiredHealthy > 0) or its unhealthyPodEvictionPolicy is AlwaysAllow;
  * before the delete the pod gets the condition DisruptionTarget=True, reason EvictionByEvictionAPI.

The delete is the ordinary one (tests/apiserver_verbs.py): graceful for a bound, running pod when the
server deletes pods gracefully. Everything runs under the store lock, so evictions never race (the real
handler retries conflicts on the budget's status instead).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.apiserver_base import ApiError, Obj, _Target, bad_request, resolve_resource, rfc3339
from tests.apiserver_selectors import label_selector_matches

if TYPE_CHECKING:
    from tests.apiserver_verbs import Verbs

MAX_DISRUPTED_POD_SIZE = 2000
DISRUPTION_ALLOWED = "DisruptionAllowed"
_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


def evict(server: Verbs, target: _Target, body: Any, *, dry_run: bool) -> tuple[int, Obj]:
    """EvictionREST.Create: (HTTP status, body) of an eviction, or ApiError."""
    if not isinstance(body, dict) or body.get("kind", "Eviction") != "Eviction":
        raise bad_request("the body of the request was in an unknown format - expected an Eviction")
    name = (body.get("metadata") or {}).get("name")
    if name and name != target.name:
        raise bad_request("name in URL does not match name in Eviction object")
    options = dict(body.get("deleteOptions") or {})
    dry_run = dry_run or options.get("dryRun") == ["All"]
    pods = target.res
    with server._lock:
        pod = server._lookup(pods, target.namespace, target.name or "")
        if not can_ignore_pdb(pod):
            budgets = matching_budgets(server, pod)
            if len(budgets) > 1:
                return 500, ApiError(
                    500,
                    "",
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ).status()
            if budgets and not _unhealthy_pod_may_go(pod, budgets[0]):
                _check_and_decrement(server, pod, budgets[0], dry_run=dry_run)
        _add_condition_and_delete(server, pod, options, dry_run=dry_run)
    server._dispatch()
    return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def can_ignore_pdb(pod: Obj) -> bool:
    """Pending, terminal and terminating pods are deleted without asking any budget."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Pending", "Succeeded", "Failed") or bool(pod["metadata"].get("deletionTimestamp"))


def matching_budgets(server: Verbs, pod: Obj) -> list[Obj]:
    """getPodDisruptionBudgets: the budgets of the pod's namespace whose selector matches its labels; an
    invalid, missing or empty selector matches nothing here."""
    namespace = pod["metadata"].get("namespace") or "default"
    labels = pod["metadata"].get("labels") or {}
    found = []
    for (pdb_namespace, _), pdb in sorted(server._objects["poddisruptionbudgets"].items()):
        selector = (pdb.get("spec") or {}).get("selector") or {}
        empty = not selector.get("matchLabels") and not selector.get("matchExpressions")
        if pdb_namespace == namespace and not empty and label_selector_matches(selector, labels) is True:
            found.append(pdb)
    return found


def _is_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _unhealthy_pod_may_go(pod: Obj, pdb: Obj) -> bool:
    """A pod that is not Ready does not count as healthy: it may go without using up the budget when the
    policy says AlwaysAllow, or (IfHealthyBudget, the default) when the application is healthy anyway."""
    if _is_ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    status = pdb.get("status") or {}
    desired = int(status.get("desiredHealthy") or 0)
    return int(status.get("currentHealthy") or 0) >= desired > 0


def _too_many_requests(cause: str, retry_after: int) -> ApiError:
    details: Obj = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    headers = {}
    if retry_after:  # Retry-After only when the Status asks for a delay (responsewriters.ErrorNegotiated)
        details["retryAfterSeconds"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return ApiError(429, "TooManyRequests", _REFUSED, details, headers)


def _pdb_forbidden(name: str, why: str) -> ApiError:
    """errors.NewForbidden(policy.Resource("poddisruptionbudget"), name, err)."""
    return ApiError(
        403,
        "Forbidden",
        f'poddisruptionbudget.policy "{name}" is forbidden: {why}',
        {"name": name, "group": "policy", "kind": "poddisruptionbudget"},
    )


def _check_and_decrement(server: Verbs, pod: Obj, pdb: Obj, *, dry_run: bool) -> None:
    """checkAndDecrement: refuse, or take one disruption from the budget and record the pod."""
    name, status = pdb["metadata"]["name"], pdb.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 0):
        raise _too_many_requests(f"The disruption budget {name} is still being processed by the server.", 10)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise _pdb_forbidden(name, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
        raise _pdb_forbidden(name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller")
    if allowed == 0:
        raise _too_many_requests(
            f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
            f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently",
            0,
        )
    if dry_run:
        return
    new = copy.deepcopy(pdb)
    new_status = new.setdefault("status", {})
    new_status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        update_disruption_allowed_condition(new_status, server.now())
    new_status["disruptedPods"] = {
        **(new_status.get("disruptedPods") or {}),
        pod["metadata"]["name"]: rfc3339(server.now()),
    }
    server._store_update(resolve_resource("poddisruptionbudgets"), pdb, new, subresource="status")


def update_disruption_allowed_condition(
    status: Obj, now: datetime, *, reason: str | None = None, message: str = ""
) -> None:
    """pdbhelper.UpdateDisruptionAllowedCondition (SufficientPods / InsufficientPods from disruptionsAllowed),
    or with `reason` the disruption controller's failSafe condition (SyncFailed); apimeta.SetStatusCondition
    moves lastTransitionTime only when the status changes."""
    allowed = int(status.get("disruptionsAllowed") or 0) > 0
    if reason is None:
        reason = "SufficientPods" if allowed else "InsufficientPods"
    else:
        allowed = False
    wanted: Obj = {"type": DISRUPTION_ALLOWED, "status": "True" if allowed else "False"}
    if status.get("observedGeneration"):
        wanted["observedGeneration"] = status["observedGeneration"]
    conditions = list(status.get("conditions") or [])
    old = next((c for c in conditions if c.get("type") == DISRUPTION_ALLOWED), None)
    moved = old is None or old.get("status") != wanted["status"]
    wanted["lastTransitionTime"] = rfc3339(now) if moved else (old or {}).get("lastTransitionTime")
    wanted.update(reason=reason, message=message)
    status["conditions"] = [wanted if c is old else c for c in conditions] if old is not None else [*conditions, wanted]


def _add_condition_and_delete(server: Verbs, pod: Obj, options: Obj, *, dry_run: bool) -> None:
    """addConditionAndDeletePod: the client's preconditions hold against the pod as it is, then the pod gets
    DisruptionTarget=True and is deleted (the delete's own preconditions are this server's write)."""
    pods = resolve_resource("pods")
    preconditions = options.get("preconditions") or {}
    meta = pod["metadata"]
    for field_name, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted = preconditions.get(field_name)
        if wanted and wanted != meta.get(field_name):
            why = (
                "The object might have been deleted and then recreated"
                if field_name == "uid"
                else "The object might have been modified"
            )
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on Pod "{meta["name"]}": the {label} in '
                f"the precondition ({wanted}) does not match the {label} in record "
                f"({meta.get(field_name)}). {why}",
                {"name": meta["name"], "kind": "Pod"},
            )
    if dry_run:
        return
    marked = copy.deepcopy(pod)
    status = marked.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
    old = next((c for c in status.get("conditions") or [] if c.get("type") == "DisruptionTarget"), None)
    stamp = (old or {}).get("lastTransitionTime") if (old or {}).get("status") == "True" else rfc3339(server.now())
    status["conditions"] = [
        *conditions,
        {
            "type": "DisruptionTarget",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": stamp,
            "reason": "EvictionByEvictionAPI",
            "message": "Eviction API: evicting",
        },
    ]
    server._store_update(pods, pod, marked, subresource="status")
    current = server._lookup(pods, meta.get("namespace"), meta["name"])
    server._delete(pods, current, options.get("gracePeriodSeconds"), dry_run=False)
