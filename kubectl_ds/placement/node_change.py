"""Pure. What-if for a node: a taint, label or cordon applied to the node in memory only, and what each
DaemonSet's pod there would then do (created, kept, kept as misscheduled, evicted, deleted).

The outcome follows the controller's verdict on the changed node (docs/rules.md#r-predicate,
docs/rules.md#r-manage): (T,T) keeps or creates a pod, (F,T) keeps a running pod but counts it as
misscheduled, (F,F) deletes it; an untolerated NoExecute taint is what evicts (the controller deletes
the pod and the taint-eviction controller evicts it too). Cordoning sets spec.unschedulable, which the
node lifecycle controller mirrors as the node.kubernetes.io/unschedulable:NoSchedule taint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubectl_ds import resources as r
from kubectl_ds.errors import UsageError
from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.report import NodeReport
from kubectl_ds.placement.taints import Taint
from kubectl_ds.resources import Obj

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_KEY = r"([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"

# Outcomes of a change for one DaemonSet on the node.
CREATED = "created"
KEPT = "kept"
KEPT_MISSCHEDULED = "kept (misscheduled)"
EVICTED = "evicted"
DELETED = "deleted"
STILL_WANTED = "still wanted"  # no pod before or after, wanted after (Pending, missing)
NO_LONGER_WANTED = "no longer created"  # wanted without a pod before, not after
UNAFFECTED = ""


@dataclass(frozen=True)
class NodeChange:
    add_taints: tuple[Taint, ...] = ()
    remove_taints: tuple[tuple[str, str], ...] = ()  # (key, effect), effect "" for every effect
    labels: tuple[tuple[str, str | None], ...] = ()  # value None removes the label
    cordon: bool = False

    @property
    def empty(self) -> bool:
        return not (self.add_taints or self.remove_taints or self.labels or self.cordon)

    def describe(self) -> str:
        parts = [f"taint {taint}" for taint in self.add_taints]
        parts += [f"remove taint {key}{':' + effect if effect else ''}" for key, effect in self.remove_taints]
        parts += [f"label {key}={value}" if value is not None else f"remove label {key}" for key, value in self.labels]
        if self.cordon:
            parts.append("cordon")
        return ", ".join(parts)


def parse_taint(text: str) -> Taint | tuple[str, str]:
    """`key=value:Effect` or `key:Effect` adds a taint; `key:Effect-` or `key-` removes (kubectl taint's syntax)."""
    if text.endswith("-"):
        key, _, effect = text[:-1].partition(":")
        if re.fullmatch(_KEY, key) and effect in ("", *_EFFECTS):
            return key, effect
    else:
        body, _, effect = text.rpartition(":")
        key, _, value = body.partition("=")
        if effect in _EFFECTS and re.fullmatch(_KEY, key) and re.fullmatch(_VALUE, value):
            return Taint(key=key, value=value, effect=effect)
    raise UsageError(
        f'invalid taint "{text}" for --taint; use KEY=VALUE:EFFECT or KEY:EFFECT to add, KEY:EFFECT- or KEY- to '
        f"remove, with EFFECT one of {', '.join(_EFFECTS)}"
    )


def parse_label(text: str) -> tuple[str, str | None]:
    """`key=value` sets a label, `key-` removes it (kubectl label's syntax)."""
    if text.endswith("-") and re.fullmatch(_KEY, text[:-1]):
        return text[:-1], None
    key, equals, value = text.partition("=")
    if equals and re.fullmatch(_KEY, key) and re.fullmatch(_VALUE, value) and len(value) <= 63:
        return key, value
    raise UsageError(f'invalid label "{text}" for --label; use KEY=VALUE to set or KEY- to remove')


def node_change(taints: tuple[str, ...], labels: tuple[str, ...], cordon: bool) -> NodeChange:
    parsed = [parse_taint(text) for text in taints]
    return NodeChange(
        add_taints=tuple(item for item in parsed if isinstance(item, Taint)),
        remove_taints=tuple(item for item in parsed if not isinstance(item, Taint)),
        labels=tuple(parse_label(text) for text in labels),
        cordon=cordon,
    )


def apply_change(node: Obj, change: NodeChange) -> Obj:
    """A copy of `node` with the change applied; the node itself is never touched (nor written anywhere)."""
    taints = [dict(taint) for taint in r.node_taints(node)]
    for key, effect in change.remove_taints:
        taints = [t for t in taints if not (t.get("key") == key and (not effect or t.get("effect") == effect))]
    added = list(change.add_taints)
    if change.cordon and not any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints):
        added.append(Taint(key=UNSCHEDULABLE_TAINT, value="", effect="NoSchedule"))
    for taint in added:  # kubectl taint --overwrite: one taint per key and effect
        taints = [t for t in taints if not (t.get("key") == taint.key and t.get("effect") == taint.effect)]
        taints.append({"key": taint.key, **({"value": taint.value} if taint.value else {}), "effect": taint.effect})
    labels = dict(r.labels(node))
    for key, value in change.labels:
        if value is None:
            labels.pop(key, None)
        else:
            labels[key] = value
    spec = {**r.spec(node), "taints": taints}
    if change.cordon:
        spec["unschedulable"] = True
    return {**node, "metadata": {**r.metadata(node), "labels": labels}, "spec": spec}


def outcome(before: NodeReport, after: NodeReport) -> str:
    """What the change does to this DaemonSet's pod on the node."""
    running = any(not pod.terminating for pod in before.pods)
    if running:
        if after.should_run:
            return KEPT
        if after.verdict.should_continue_running:
            return KEPT_MISSCHEDULED
        if any(reason.code == codes.TAINT_NO_EXECUTE for reason in after.reasons):
            return EVICTED
        return DELETED
    if after.should_run:
        return STILL_WANTED if before.should_run else CREATED
    return NO_LONGER_WANTED if before.should_run else UNAFFECTED
