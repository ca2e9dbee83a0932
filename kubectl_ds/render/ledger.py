"""Pure. The budget ledger of a controller-driven RollingUpdate in words (`rollout status`, and the audit's
finding), and its JSON shape."""

from __future__ import annotations

from typing import Any

from kubectl_ds.render.text import count, some_names
from kubectl_ds.rollout import ledger as lg
from kubectl_ds.rollout.ledger import Ledger, budget_text

_TEMPLATE_CAUSES = frozenset({lg.CRASH_LOOPING, lg.IMAGE_PULL, lg.CONTAINER_WAITING, lg.UNSCHEDULABLE})
_NODE_CAUSES = frozenset({lg.NODE_UNREACHABLE, lg.NODE_NOT_READY, lg.TERMINATING_UNREACHABLE})


def ledger_lines(ledger: Ledger) -> list[str]:
    """What the status shows under kubectl's line while a rollout is under way (nothing once complete)."""
    if ledger.verdict == lg.COMPLETE:
        return []
    lines = [f"budget: {budget_text(ledger)}: {ledger.used} used, {ledger.left} left"]
    width = max(len(use.node) for use in ledger.users) if ledger.users else 0
    lines += [f"  {use.node.ljust(width)}  {use.message}" for use in ledger.users]
    if ledger.waiting:
        lines.append(f"waiting with an old pod: {count(len(ledger.waiting), 'node')} ({some_names(ledger.waiting)})")
    lines.append(f"next: {next_action(ledger)}")
    if ledger.stuck:
        lines.append(f"stuck: {stuck_advice(ledger)}")
    return lines


def next_action(ledger: Ledger) -> str:
    """What the controller's next rolling-update pass does (docs/rules.md#r-rolling-no-surge, #r-rolling-surge)."""
    parts = []
    if ledger.free:
        names = some_names([use.node for use in ledger.free])
        parts.append(
            f"a new pod next to the unavailable old pod on {names}, free of surge"
            if ledger.surge
            else f"delete the unavailable old pod on {names} at once, whatever the budget"
        )
    if ledger.next_count:
        verb = "create a new pod next to the old one on" if ledger.surge else "delete the old pod on"
        parts.append(
            f"{verb} {ledger.next_count} of the {count(len(ledger.waiting), 'waiting node')} "
            "(Go's map order picks which)"
        )
    if parts:
        return "; ".join(parts)
    if ledger.waiting:
        return "nothing more until a node holding the budget has an available new pod"
    return "nothing more: the nodes holding the budget finish when their new pods are available"


def stuck_advice(ledger: Ledger) -> str:
    """What someone has to do, by the kind of cause holding the budget."""
    causes = {use.cause for use in ledger.users}
    advice = []
    if causes & _TEMPLATE_CAUSES:
        advice.append(
            f"fix the new template, or go back to the previous one: kubectl rollout undo ds/{ledger.name} "
            f"-n {ledger.namespace}"
        )
    if causes & _NODE_CAUSES:
        nodes = some_names([use.node for use in ledger.users if use.cause in _NODE_CAUSES])
        advice.append(
            f"bring {nodes} back, or delete the Node object, or taint it "
            "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute so that its pods are removed"
        )
    advice.append(f"or raise {ledger.budget_name}")
    head = (
        "the controller will not replace another old pod by itself"
        if ledger.waiting
        else "these nodes will not get an available pod by themselves"
    )
    return f"{head}; " + "; ".join(advice)


def ledger_data(ledger: Ledger) -> dict[str, Any]:
    return {
        "budget": ledger.budget_name,
        "value": ledger.spec,
        "limit": ledger.limit,
        "desired": ledger.desired,
        "used": ledger.used,
        "left": ledger.left,
        "holders": [
            {"node": use.node, "cause": use.cause, "lasting": use.lasting, "pod": use.pod, "message": use.message}
            for use in ledger.users
        ],
        "waiting": list(ledger.waiting),
        "replacedAtOnce": [use.node for use in ledger.free],
        "next": next_action(ledger),
        "verdict": ledger.verdict,
        "stuck": ledger.stuck,
        "reason": ledger.reason,
    }
