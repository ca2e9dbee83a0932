"""What the test API server does to an object before storing it: defaulting, and the admission steps
it models."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tests.apiserver_base import ApiError, Obj, Resource, _details, invalid


def _default_pod_spec(spec: Obj) -> None:
    """The subset of pod defaulting that shows up when reading a pod or a DaemonSet template back."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        tag = image.rsplit("/", 1)[-1].partition(":")[2] if "@" not in image else "digest"
        container.setdefault("imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports", []) or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def apply_defaults(res: Resource, obj: Obj) -> None:
    """Defaulting the real server applies on every write made through the API."""
    spec = obj.get("spec")
    if res.plural == "pods" and isinstance(spec, dict):
        _default_pod_spec(spec)
    if res.plural == "daemonsets" and isinstance(spec, dict):
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        template_spec = (spec.get("template") or {}).get("spec")
        if isinstance(template_spec, dict):
            _default_pod_spec(template_spec)


# --- admission --------------------------------------------------------------------------------------------

# The PriorityClasses every cluster has (pkg/apis/scheduling SystemPriorityClasses); admission knows them
# without their objects being listed here (a deliberate simplification: a real server creates them at start).
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"


class Admission:
    """The mutating and validating steps a write through the API goes through before it is stored: defaulting,
    the Priority admission plugin for new pods, PodDisruptionBudget validation, and defaults added to pod
    templates by add_template_default() (what an API server upgrade or a mutating webhook does)."""

    def __init__(self) -> None:
        self.template_defaults: list[tuple[tuple[str, ...], Any]] = []

    def admit(self, res: Resource, obj: Obj, *, create: bool, priority_classes: Mapping[str, Obj]) -> None:
        """Default and check `obj` in place; raises ApiError as the real plugins answer."""
        apply_defaults(res, obj)
        template = (obj.get("spec") or {}).get("template") if res.plural == "daemonsets" else None
        if isinstance(template, dict):
            for path, value in self.template_defaults:
                _set_default(template, path, value)
        if res.plural == "pods" and create:
            _resolve_priority(res, obj, priority_classes)
        elif res.plural == "priorityclasses":
            obj.setdefault("preemptionPolicy", PREEMPT_LOWER_PRIORITY)
        elif res.plural == "poddisruptionbudgets":
            _validate_pdb(res, obj)


def _set_default(node: Any, path: tuple[str, ...], value: Any) -> None:
    """Set the field at `path` (`*` walks every element of a list) where it is missing."""
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == "*":
        for element in node if isinstance(node, list) else []:
            _set_default(element, rest, value)
    elif isinstance(node, dict):
        if not rest:
            node.setdefault(head, copy.deepcopy(value))
        else:
            _set_default(node.get(head), rest, value)


def _resolve_priority(res: Resource, pod: Obj, priority_classes: Mapping[str, Obj]) -> None:
    """plugin/pkg/admission/priority admitPod, on create: spec.priority and spec.preemptionPolicy come from
    the pod's PriorityClass (or the global default class, else 0); a pod may not set them differently."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    name = str(spec.get("priorityClassName") or "")
    if not name:
        default = next((pc for pc in priority_classes.values() if pc.get("globalDefault")), None)
        if default is not None:
            spec["priorityClassName"] = (default.get("metadata") or {}).get("name")
        priority, policy = _class_values(default)
    else:
        found = priority_classes.get(name)
        if found is None and name in SYSTEM_PRIORITY_CLASSES:
            found = {"value": SYSTEM_PRIORITY_CLASSES[name]}
        if found is None:
            raise _forbidden(res, pod, f"no PriorityClass with name {name} was found")
        priority, policy = _class_values(found)
    if spec.get("priority") is not None and spec["priority"] != priority:
        raise _forbidden(
            res,
            pod,
            f"the integer value of priority ({spec['priority']}) must not be provided in pod "
            f"spec; priority admission controller computed {priority} from the given "
            "PriorityClass name",
        )
    spec["priority"] = priority
    if spec.get("preemptionPolicy") is not None and spec["preemptionPolicy"] != policy:
        raise _forbidden(
            res,
            pod,
            f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) must not be "
            f"provided in pod spec; priority admission controller computed {policy} from "
            "the given PriorityClass name",
        )
    spec["preemptionPolicy"] = policy


def _class_values(priority_class: Obj | None) -> tuple[int, str]:
    if priority_class is None:
        return 0, PREEMPT_LOWER_PRIORITY  # scheduling.DefaultPriorityWhenNoDefaultClassExists
    return int(priority_class.get("value") or 0), str(priority_class.get("preemptionPolicy") or PREEMPT_LOWER_PRIORITY)


def _forbidden(res: Resource, obj: Obj, why: str) -> ApiError:
    """admission.NewForbidden: `<resource> "<name>" is forbidden: <why>` (no name yet for generateName)."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    subject = f'{res.group_resource} "{name}"' if name else res.group_resource
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(res, name or None))


def _validate_pdb(res: Resource, pdb: Obj) -> None:
    """ValidatePodDisruptionBudgetSpec: minAvailable and maxUnavailable exclude each other. (Go prints the
    whole spec as the invalid value; only the sentence is reproduced.)"""
    spec = pdb.get("spec") or {}
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        name = str((pdb.get("metadata") or {}).get("name") or "")
        raise invalid(res, name, 'spec: Invalid value: "spec": minAvailable and maxUnavailable cannot be both set')
