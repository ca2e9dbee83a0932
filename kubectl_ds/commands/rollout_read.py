"""The read-only rollout views: `rollout plan` and `rollout status [--watch]`. They read through the
cluster adapter and hand everything to the pure plan/status/explain modules."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

import click

from kubectl_ds import resources as r
from kubectl_ds.errors import Forbidden
from kubectl_ds.kube.quantity import parse_quantity
from kubectl_ds.placement.report import assess_nodes, other_pods_on_nodes
from kubectl_ds.placement.revisions import RevisionIndex, index_revisions
from kubectl_ds.rollout.budget import scaled
from kubectl_ds.rollout.plan import estimate_seconds, observed_startup, plan_rollout
from kubectl_ds.rollout.runner import Change, plan_options, validate_options
from kubectl_ds.rollout.state import RolloutOptions
from kubectl_ds.rollout.status import one_line, render_status, rollout_status, status_data


def _now() -> datetime:
    return datetime.now(timezone.utc)


def plan_view(cluster: Any, namespace: str, name: str, change: Change, options: RolloutOptions, *,
              output: str) -> str:
    validate_options(options)
    daemonset = cluster.get_daemonset(namespace=namespace, name=name)
    selector = r.spec(daemonset).get("selector") or {}
    now = _now()
    preview: dict[str, Any] = json.loads(json.dumps(daemonset))
    preview["spec"]["template"] = change.apply(daemonset, now)
    nodes = cluster.list_nodes()
    pods = [pod for pod in cluster.list_daemonset_pods(namespace=namespace, selector=selector)
            if r.is_controlled_by(pod, daemonset)]
    index = index_revisions(daemonset, cluster.list_controller_revisions(namespace=namespace, selector=selector))
    # Every current pod is "old" against the new template, whose hash does not exist yet.
    new_index = RevisionIndex(by_hash=index.by_hash, current_hash="(new)", current_revision=None,
                              template_generation=None)
    others, notes = _other_pods_for_headroom(cluster, daemonset, nodes, options)
    plan = plan_rollout(preview, nodes, pods, new_index, plan_options(options), now=now,
                        parse_quantity=parse_quantity, other_pods_by_node=others)
    startup = observed_startup(pods)
    seconds = estimate_seconds(plan, int(r.spec(daemonset).get("minReadySeconds") or 0), startup)
    excluded = [node for node in assess_nodes(preview, nodes, [], new_index, now=now).nodes if not node.should_run]
    if output == "json":
        return json.dumps({
            "daemonSet": {"namespace": namespace, "name": name}, "change": change.description,
            "surge": plan.surge, "budget": {"maxUnavailable": plan.budget.max_unavailable,
                                            "maxSurge": plan.budget.max_surge, "desired": plan.desired},
            "steps": [{"number": s.number, "nodes": list(s.nodes), "canary": s.canary} for s in plan.steps],
            "createOnly": list(plan.create_only), "alreadyUnavailable": list(plan.already_unavailable),
            "partitioned": list(plan.partitioned),
            "excluded": [{"node": n.name, "reasons": [x.message for x in n.reasons if not x.is_info]}
                         for n in excluded],
            "warnings": [{"code": w.code, "message": w.message, "nodes": list(w.nodes)} for w in plan.warnings],
            "estimatedSeconds": seconds}, indent=2) + "\n"
    mode = (f"surge: up to {plan.budget.max_surge} nodes with a second pod at once (the controller picks them)"
            if plan.surge else f"up to {plan.budget.max_unavailable} nodes without an available pod at once")
    lines = [f"Plan for daemonset.apps/{name}: {change.description}",
             f"{plan.desired} nodes should run the pod; {len(plan.nodes_to_update)} to update in "
             f"{len(plan.steps)} steps; {mode}"]
    for step in plan.steps:
        lines.append(f"  step {step.number}{' (canary)' if step.canary else ''}: {', '.join(step.nodes)}")
    if plan.create_only:
        lines.append(f"  no pod yet, the controller creates the new one: {', '.join(plan.create_only)}")
    if plan.partitioned:
        lines.append(f"  stay on the old revision (--partition): {', '.join(plan.partitioned)}")
    for node in excluded:
        why = "; ".join(x.message for x in node.reasons if not x.is_info)
        lines.append(f"  will not get the pod: {node.name}: {why}")
    lines += [f"warning ({w.code}): {w.message}" for w in plan.warnings]
    basis = f"observed start-up {startup:.0f}s" if startup is not None else "no observed start-up time"
    lines.append(f"Estimated duration: {_duration(seconds)} ({basis}, minReadySeconds "
                 f"{int(r.spec(daemonset).get('minReadySeconds') or 0)})")
    lines += [f"note: {note}" for note in notes]
    lines.append(f"Start it with: kubectl ds rollout start {name} -n {namespace} ...same flags")
    return "\n".join(lines) + "\n"


def _other_pods_for_headroom(cluster: Any, daemonset: Any, nodes: list[Any], options: RolloutOptions) -> tuple[
        dict[str, list[Any]] | None, list[str]]:
    """Other pods per node, for the surge headroom check: only with --max-surge (a second pod needs room),
    and left out with a note when RBAC does not allow listing pods cluster-wide."""
    if not scaled(options.max_surge, 1):
        return None, []
    try:
        active = cluster.list_active_pods()
    except Forbidden as error:
        return None, [f"surge headroom check left out: {error.message}"]
    return other_pods_on_nodes(active, daemonset, [r.name(n) for n in nodes]), []


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def _status(cluster: Any, namespace: str, name: str) -> tuple[Any, str]:
    daemonset = cluster.get_daemonset(namespace=namespace, name=name)
    selector = r.spec(daemonset).get("selector") or {}
    pods, version = cluster.list_pods_versioned(namespace=namespace, selector=selector)
    pods = [pod for pod in pods if r.is_controlled_by(pod, daemonset)]
    view = rollout_status(daemonset, cluster.list_nodes(), pods,
                          cluster.list_controller_revisions(namespace=namespace, selector=selector), now=_now())
    return view, version


def show_status(cluster: Any, namespace: str, name: str, *, watch: bool, output: str) -> int:
    """Print the status once, or with --watch until done: redrawn on a terminal, a line per change
    otherwise. Between redraws it waits on a pod watch, not a poll."""
    view, version = _status(cluster, namespace, name)
    if not watch:
        text = json.dumps(status_data(view), indent=2) + "\n" if output == "json" else render_status(view)
        click.echo(text, nl=False)
        return 0
    tty = sys.stdout.isatty() and output != "json"
    last = ""
    while True:
        text = (json.dumps(status_data(view)) if output == "json" else
                render_status(view, bar_width=40) if tty else one_line(view))
        if text != last:
            if tty:
                click.echo("\x1b[H\x1b[2J" + text, nl=False)
            else:
                click.echo(text)
            last = text
        if view.done:
            return 0
        daemonset = cluster.get_daemonset(namespace=namespace, name=name)
        for _ in cluster.watch_pods(namespace=namespace, selector=r.spec(daemonset).get("selector") or {},
                                    resource_version=version, timeout=2.0):
            break
        view, version = _status(cluster, namespace, name)
