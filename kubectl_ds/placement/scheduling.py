"""Pure. What the scheduler said about a pending DaemonSet pod (FailedScheduling events, PodScheduled).

A FailedScheduling message reads `0/N nodes are available: 1 Insufficient memory, N-1 node(s) didn't
satisfy plugin(s) [NodeAffinity]. preemption: ...` (framework/types.go FitError). For a DaemonSet pod
the NodeAffinity part only says "not the target node", so we drop it and the preemption tail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from kubectl_ds import resources as r
from kubectl_ds.resources import Obj

_HEAD = re.compile(r"^\s*\d+/\d+ nodes are available:\s*")
_NOISE = re.compile(r"didn't (satisfy plugin\(s\) \[NodeAffinity\]|match Pod's node affinity/selector)")
_COUNTED = re.compile(r"^\d+\s+")


def scheduler_message(pod: Obj, events: Sequence[Obj]) -> str | None:
    """The newest FailedScheduling message for `pod`, else its PodScheduled=False condition message."""
    matching = [event for event in events if _is_about(event, pod) and event.get("reason") == "FailedScheduling"]
    if matching:
        newest = max(matching, key=_event_time)
        return str(newest.get("message") or newest.get("note") or "").strip() or None
    scheduled = r.condition(pod, "PodScheduled") or {}
    if scheduled.get("status") == "False":
        return str(scheduled.get("message") or scheduled.get("reason") or "").strip() or None
    return None


def _is_about(event: Obj, pod: Obj) -> bool:
    involved = event.get("involvedObject") or event.get("regarding") or {}
    if involved.get("uid") and r.uid(pod):
        return bool(involved.get("uid") == r.uid(pod))
    return bool(
        involved.get("name") == r.name(pod) and (involved.get("namespace") or r.namespace(pod)) == r.namespace(pod)
    )


def _event_time(event: Obj) -> datetime:
    stamp = r.parse_time(
        event.get("lastTimestamp") or event.get("eventTime") or (event.get("metadata") or {}).get("creationTimestamp")
    )
    return stamp or datetime.min.replace(tzinfo=timezone.utc)


def target_node_reasons(message: str) -> list[str]:
    """The reasons in a FailedScheduling message that concern the pod's own node."""
    body = message.split(" preemption:", 1)[0].strip()
    body = _HEAD.sub("", body).rstrip(".")
    # Items are "<count> <reason>" joined by ", "; a reason may itself hold a comma
    # ("node(s) had taint {k: v}, that the pod didn't tolerate"), so split only before a count.
    parts = [part.strip() for part in re.split(r",\s+(?=\d+ )", body) if part.strip()]
    return [_COUNTED.sub("", part) for part in parts if not _NOISE.search(part)]


def short_scheduler_reason(message: str) -> str:
    reasons = target_node_reasons(message)
    return ", ".join(reasons) if reasons else message.strip()


def events_for(pods: Iterable[Obj], events: Sequence[Obj]) -> dict[str, str]:
    """Pod name -> scheduler message, for every pod the scheduler said something about."""
    result = {}
    for pod in pods:
        message = scheduler_message(pod, events)
        if message:
            result[r.name(pod)] = message
    return result
