"""Pure. DaemonSet pods: which node each one belongs to, and what state it is in.

Sources: pkg/controller/daemon/util GetTargetNodeName, daemon_controller.go getNodesToDaemonPods and
podByCreationTimestampAndPhase, pkg/api/v1/pod/util.go IsPodReady/IsPodAvailable
(docs/rules.md#r-pod-node, docs/rules.md#r-manage, docs/rules.md#r-availability).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kubectl_ds import resources as r
from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.reasons import Reason
from kubectl_ds.resources import Obj

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
_IMAGE_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})


def target_node(pod: Obj) -> str | None:
    """spec.nodeName, else the single `metadata.name In [x]` matchField the controller pins pods with.

    A pending DaemonSet pod has no nodeName yet; the value is ambiguous (None) when a term lists more
    than one name, and the controller then skips the pod.
    """
    spec = r.spec(pod)
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In":
                values = field.get("values") or []
                return str(values[0]) if len(values) == 1 else None
    return None


def is_terminal(pod: Obj) -> bool:
    return r.status(pod).get("phase") in TERMINAL_PHASES


def is_terminating(pod: Obj) -> bool:
    return bool(r.metadata(pod).get("deletionTimestamp"))


def pods_by_node(pods: Iterable[Obj]) -> dict[str, list[Obj]]:
    """Group DaemonSet pods by target node, dropping terminal pods that are already being deleted."""
    grouped: dict[str, list[Obj]] = {}
    for pod in pods:
        if is_terminal(pod) and is_terminating(pod):
            continue
        node = target_node(pod)
        if node is not None:
            grouped.setdefault(node, []).append(pod)
    return grouped


def oldest_first(pods: Sequence[Obj]) -> list[Obj]:
    """podByCreationTimestampAndPhase: bound pods first, then older, then by name."""
    return sorted(
        pods,
        key=lambda pod: (
            not r.spec(pod).get("nodeName"),
            str(r.metadata(pod).get("creationTimestamp") or ""),
            r.name(pod),
        ),
    )


def is_ready(pod: Obj) -> bool:
    condition = r.condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True"


def is_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready, and for at least minReadySeconds (current rule: LTT + minReadySeconds <= now)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    condition = r.condition(pod, "Ready") or {}
    since = r.parse_time(condition.get("lastTransitionTime"))
    return since is not None and since + timedelta(seconds=min_ready_seconds) <= now


def ready_since(pod: Obj) -> datetime | None:
    """When the pod last became Ready (its Ready condition's lastTransitionTime), if it is Ready."""
    if not is_ready(pod):
        return None
    return r.parse_time((r.condition(pod, "Ready") or {}).get("lastTransitionTime"))


def is_unschedulable(pod: Obj) -> bool:
    """The scheduler's verdict on its last attempt: PodScheduled=False with reason Unschedulable."""
    scheduled = r.condition(pod, "PodScheduled") or {}
    return scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable"


@dataclass(frozen=True)
class PodProblem:
    """What is wrong with a pod's containers, as kubectl's STATUS column would say it."""

    status: str
    reason: Reason | None


def container_problem(pod: Obj) -> PodProblem | None:
    """The first waiting/terminated container state that explains a pod that is not ready."""
    statuses = list(r.status(pod).get("initContainerStatuses") or []) + list(
        r.status(pod).get("containerStatuses") or []
    )
    for container in statuses:
        state = container.get("state") or {}
        waiting = state.get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        message = str(waiting.get("message") or "").strip()
        name = container.get("name", "?")
        if reason == "CrashLoopBackOff":
            restarts = container.get("restartCount", 0)
            last = (container.get("lastState") or {}).get("terminated") or {}
            detail = f", last exit code {last.get('exitCode')} ({last.get('reason', 'Error')})" if last else ""
            return PodProblem(
                reason,
                Reason(
                    code=codes.POD_CRASH_LOOPING,
                    rule="crash-looping",
                    message=f"container {name} is crash-looping ({restarts} "
                    f"restart{'' if restarts == 1 else 's'}{detail})",
                    hint=f"kubectl logs -n {r.namespace(pod)} {r.name(pod)} -c {name} --previous",
                ),
            )
        if reason in _IMAGE_PULL_REASONS:
            image = container.get("image", "")
            return PodProblem(
                reason,
                Reason(
                    code=codes.POD_IMAGE_PULL,
                    rule="image pull error",
                    message=f"container {name} cannot pull image {image}: {reason}"
                    + (f" ({message})" if message else ""),
                    hint="check the image name and tag, and the pull secret",
                ),
            )
        if reason and reason not in ("ContainerCreating", "PodInitializing"):
            return PodProblem(
                reason,
                Reason(
                    code=codes.POD_WAITING,
                    rule=f"waiting: {reason}",
                    message=f"container {name} is waiting: {reason}" + (f" ({message})" if message else ""),
                ),
            )
    return None
