"""Pure. The plan of a change that is not applied yet: what `rollout plan` shows and `start --dry-run`
prints. The new template has no ControllerRevision yet, so every current pod counts as old."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from kubectl_ds.placement.requests import ParseQuantity
from kubectl_ds.placement.revisions import RevisionIndex, index_revisions
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.options import plan_options
from kubectl_ds.rollout.plan import Plan, plan_rollout
from kubectl_ds.rollout.preflight import tooling_warnings
from kubectl_ds.rollout.state import RolloutOptions

# A hash no pod carries: the revision the controller will snapshot for the new template.
NEW_REVISION = "(new)"


def with_template(daemonset: Obj, template: Obj) -> dict[str, Any]:
    """A copy of the DaemonSet as it will be once the template is changed."""
    preview: dict[str, Any] = json.loads(json.dumps(daemonset))
    preview.setdefault("spec", {})["template"] = json.loads(json.dumps(template))
    return preview


def preview_index(daemonset: Obj, revisions: Sequence[Obj]) -> RevisionIndex:
    """The DaemonSet's revisions, with a not-yet-existing one as current."""
    index = index_revisions(daemonset, revisions)
    return RevisionIndex(
        by_hash=index.by_hash, current_hash=NEW_REVISION, current_revision=None, template_generation=None
    )


def preview_plan(
    daemonset: Obj,
    template: Obj,
    nodes: Sequence[Obj],
    pods: Sequence[Obj],
    revisions: Sequence[Obj],
    options: RolloutOptions,
    *,
    now: datetime,
    parse_quantity: ParseQuantity | None = None,
    other_pods_by_node: Mapping[str, Sequence[Obj]] | None = None,
    last: Sequence[str] = (),
) -> Plan:
    """The plan of rolling `template` out over the DaemonSet's current pods, with the pre-flight findings."""
    plan = plan_rollout(
        with_template(daemonset, template),
        nodes,
        pods,
        preview_index(daemonset, revisions),
        replace(plan_options(options), last=tuple(last)),
        now=now,
        parse_quantity=parse_quantity,
        other_pods_by_node=other_pods_by_node,
    )
    return replace(plan, warnings=(*plan.warnings, *tooling_warnings(daemonset)))
