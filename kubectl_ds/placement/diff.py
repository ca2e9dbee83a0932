"""Pure. What applying a changed DaemonSet does to the live one, node by node: nodes gained, lost (their pods
deleted), newly blocked (the new template's requests or host ports do not fit next to the other pods, the
holder named), unchanged; and whether the pod template changes at all (a new ControllerRevision, so pods are
replaced) or only the rest of the spec (docs/rules.md#r-diff).

Both sides are judged by the placement engine exactly as `explain` judges them: `assess_nodes` with the
scheduler checks added for every node that wants the pod. The node lists compare those two assessments.

Whether the template changes: `kubectl apply` sends what the manifest says, so the manifest's template is
compared with the last-applied configuration kubectl keeps in an annotation (a field dropped from the
manifest is a change), and with the live template for every field the manifest sets (a field the API server
defaulted and the manifest leaves out is not a change). Without the annotation only the second comparison
can be made: a field removed from the manifest then goes unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.predicate import NodeVerdict
from kubectl_ds.placement.reasons import Reason
from kubectl_ds.placement.report import Assessment, NodeReport, natural_key
from kubectl_ds.resources import Obj

GAINED = "gained"  # the pod will run where it does not run now
LOST = "lost"  # the pod will no longer run here: its pod is deleted
BLOCKED = "blocked"  # wanted after, but the new pod does not fit where the current one does
UNCHANGED = "unchanged"
CHANGES = (GAINED, LOST, BLOCKED, UNCHANGED)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# The parts of the spec outside the template that change how pods are replaced, not which pods exist.
ROLLOUT_FIELDS = ("updateStrategy", "minReadySeconds", "revisionHistoryLimit")
# Blockers the new template may meet on a node that the controller's verdict does not show.
_BLOCKER_CODES = frozenset({codes.INSUFFICIENT_RESOURCES, codes.HOST_PORT_CONFLICT})


@dataclass(frozen=True)
class NodeChange:
    node: str
    change: str  # one of CHANGES
    before: NodeVerdict | None  # None: the DaemonSet does not exist yet
    after: NodeVerdict
    has_pod: bool  # a live pod of the DaemonSet runs there now
    pod_available: bool
    reasons: tuple[Reason, ...]  # lost: why the new spec excludes it; gained: why the live one did; blocked: misfits


@dataclass(frozen=True)
class SpecDiff:
    """What differs outside the node lists: the template's paths (a new revision) and the rollout fields."""

    template_paths: tuple[str, ...]
    rollout_paths: tuple[str, ...]
    basis: str  # "last-applied" or "live"

    @property
    def new_revision(self) -> bool:
        return bool(self.template_paths)


@dataclass(frozen=True)
class DaemonSetDiff:
    namespace: str
    name: str
    exists: bool
    spec: SpecDiff
    nodes: tuple[NodeChange, ...]  # every node that wants the pod before or after, or has one
    excluded: int  # nodes that want it neither before nor after

    def named(self, change: str) -> tuple[str, ...]:
        return tuple(node.node for node in self.nodes if node.change == change)

    @property
    def differs(self) -> bool:
        return (
            not self.exists
            or self.spec.new_revision
            or bool(self.spec.rollout_paths)
            or any(node.change != UNCHANGED for node in self.nodes)
        )


def diff_nodes(before: Assessment | None, after: Assessment) -> tuple[tuple[NodeChange, ...], int]:
    """Compare the live DaemonSet's assessment with the manifest's, node by node. Both carry the scheduler
    checks (add_scheduler_checks) for the nodes that want the pod."""
    live = {node.name: node for node in before.nodes} if before is not None else {}
    changes: list[NodeChange] = []
    excluded = 0
    for new in sorted(after.nodes, key=lambda node: natural_key(node.name)):
        old = live.get(new.name)
        pods = [pod for pod in old.pods if not pod.terminating] if old is not None else []
        change, reasons = _change(old, new, has_pod=bool(pods))
        if not change:
            excluded += 1
            continue
        changes.append(
            NodeChange(
                node=new.name,
                change=change,
                before=old.verdict if old is not None else None,
                after=new.verdict,
                has_pod=bool(pods),
                pod_available=any(pod.available for pod in pods),
                reasons=reasons,
            )
        )
    return tuple(changes), excluded


def _change(old: NodeReport | None, new: NodeReport, *, has_pod: bool) -> tuple[str, tuple[Reason, ...]]:
    """The node's change, or "" for a node that wants the pod neither before nor after."""
    if not new.should_run:
        # Lost: wanted now, or a pod kept now (F,T) that the new spec evicts (F,F). After (F,T) no new pod comes;
        # the old one stays only until the rolling update or a deletion removes it.
        evicted = has_pod and old is not None and old.verdict.should_continue_running
        if old is not None and (old.should_run or (evicted and not new.verdict.should_continue_running)):
            return LOST, tuple(reason for reason in new.verdict.reasons if not reason.is_info)
        return (UNCHANGED, ()) if has_pod else ("", ())
    blockers = _blockers(new)
    already = {(reason.code, reason.rule) for reason in _blockers(old)} if old is not None else set()
    fresh = tuple(reason for reason in blockers if (reason.code, reason.rule) not in already)
    if fresh:
        return BLOCKED, fresh
    if old is None or not old.should_run:
        # What kept the pod away until now: the live spec's reasons.
        return GAINED, tuple(reason for reason in old.verdict.reasons if not reason.is_info) if old else ()
    return UNCHANGED, ()


def _blockers(node: NodeReport | None) -> list[Reason]:
    return [reason for reason in node.reasons if reason.code in _BLOCKER_CODES] if node is not None else []


def spec_diff(live: Obj, manifest: Obj) -> SpecDiff:
    """The template paths and rollout fields applying `manifest` changes on `live`."""
    wanted_template = r.spec(manifest).get("template") or {}
    live_spec = r.spec(live)
    template_paths = _uncovered(live_spec.get("template") or {}, wanted_template, "template")
    basis = "live"
    last = _last_applied(live)
    if last is not None:
        basis = "last-applied"
        template_paths += _differing((last.get("spec") or {}).get("template") or {}, wanted_template, "template")
    rollout_paths: list[str] = []
    for field in ROLLOUT_FIELDS:
        if field in r.spec(manifest):
            rollout_paths += _uncovered(live_spec.get(field), r.spec(manifest)[field], field)
        if last is not None:
            rollout_paths += _differing((last.get("spec") or {}).get(field), r.spec(manifest).get(field), field)
    return SpecDiff(tuple(dict.fromkeys(template_paths)), tuple(dict.fromkeys(rollout_paths)), basis)


def _last_applied(live: Obj) -> dict[str, Any] | None:
    text = r.annotations_of(live).get(LAST_APPLIED)
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _uncovered(live: Any, wanted: Any, path: str) -> list[str]:
    """Paths where `wanted` sets something `live` does not hold (fields only `live` has are defaults)."""
    return _paths_apart(live, wanted, path, only_set=True)


def _differing(before: Any, after: Any, path: str) -> list[str]:
    """Paths where two configurations differ at all (both are what a user wrote)."""
    return _paths_apart(before, after, path, only_set=False)


def _paths_apart(before: Any, after: Any, path: str, *, only_set: bool) -> list[str]:
    """The paths where `after` differs from `before`; with `only_set`, only among the fields `after` sets."""
    found: list[str] = []
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        keys = list(after) if only_set else list(dict.fromkeys([*before, *after]))
        for key in keys:
            found += _paths_apart(before.get(key), after.get(key), f"{path}.{key}", only_set=only_set)
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            found += _paths_apart(old, new, _item(path, new, index), only_set=only_set)
        return found
    return [] if _same(before, after) else [path]


def _item(path: str, item: Any, index: int) -> str:
    """containers[agent] for named items, tolerations[0] otherwise."""
    name = item.get("name") if isinstance(item, Mapping) else None
    return f"{path}[{name if name else index}]"


def _same(a: Any, b: Any) -> bool:
    # A manifest may write a port or a count as a string the API server turns into a number, and back.
    return a == b or (a is not None and b is not None and str(a) == str(b))


def image_changes(live: Obj, manifest: Obj) -> tuple[str, ...]:
    """ "agent: agent:v1 -> agent:v2", "+sidecar=busybox", "-old": containers and init containers."""
    before = _images(live)
    after = _images(manifest)
    changes = [
        f"{name}: {before[name]} -> {image}" if name in before else f"+{name}={image}"
        for name, image in after.items()
        if before.get(name) != image
    ]
    return tuple(changes + [f"-{name}" for name in before if name not in after])


def _images(daemonset: Obj) -> dict[str, str]:
    spec = r.template_pod_spec(daemonset)
    containers: Sequence[Obj] = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    return {str(c.get("name")): str(c.get("image")) for c in containers}
