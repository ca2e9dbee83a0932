"""kubectl's own rollout commands for DaemonSets, `undo` and `restart`: the controller rolls the change by
the DaemonSet's strategy, as `kubectl rollout undo|restart` do; with --managed the same change becomes a
managed, step-wise rollout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from kubectl_ds import resources as r
from kubectl_ds.commands.common import interruptible, kube_flags
from kubectl_ds.commands.help import GroupedCommand
from kubectl_ds.commands.rollout.flags import budget_flags, connect, finish, make_rollout
from kubectl_ds.errors import UsageError

if TYPE_CHECKING:
    from kubectl_ds.kube.config import KubeFlags
    from kubectl_ds.rollout.state import RolloutOptions


@dataclass(frozen=True)
class UndoOptions:
    name: str
    kube: KubeFlags
    budget: RolloutOptions
    to_revision: int = 0
    managed: bool = False
    dry_run: bool = False

    def validate(self) -> None:
        from kubectl_ds.rollout.options import validate_options

        if self.to_revision < 0:
            raise UsageError(f"revision must be a positive integer: {self.to_revision}")  # kubectl's words
        validate_options(self.budget)


def run_undo(options: UndoOptions) -> int:
    from kubectl_ds.rollout import controller_driven

    cluster, namespace = connect(options.kube)
    daemonset = cluster.get_daemonset(namespace=namespace, name=options.name)
    revisions = cluster.list_controller_revisions(namespace=namespace, selector=r.spec(daemonset).get("selector") or {})
    target = controller_driven.undo_target(daemonset, revisions, options.to_revision)
    if options.managed and not target.is_current:
        rollout = make_rollout(cluster, namespace, options.name)
        return finish(rollout.start(target.change(), options.budget, dry_run=options.dry_run))
    return finish(controller_driven.undo(cluster, daemonset, target, dry_run=options.dry_run))


@click.command("undo", cls=GroupedCommand, short_help="Roll back to an earlier revision.")
@click.argument("name")
@click.option("--to-revision", type=int, default=0, help="The revision to go back to (default: the previous one).")
@click.option("--managed", is_flag=True, help="Roll back step by step, as a managed rollout.")
@budget_flags
@click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
@kube_flags
@interruptible
def undo_command(**params: Any) -> int:
    """Roll back to an earlier revision, as kubectl rollout undo does; with --managed, step by step.

    \b
    Examples:
      kubectl ds rollout undo -n logging fluentd
      kubectl ds rollout undo -n logging fluentd --to-revision 3 --managed --max-unavailable 2
    """
    options = UndoOptions(**params)
    options.validate()
    return run_undo(options)


@dataclass(frozen=True)
class RestartOptions:
    name: str
    kube: KubeFlags
    budget: RolloutOptions
    managed: bool = False
    dry_run: bool = False

    def validate(self) -> None:
        from kubectl_ds.rollout.options import validate_options

        validate_options(self.budget)


def run_restart(options: RestartOptions) -> int:
    from kubectl_ds.rollout import controller_driven
    from kubectl_ds.rollout.change import restart_change

    cluster, namespace = connect(options.kube)
    if options.managed:
        rollout = make_rollout(cluster, namespace, options.name)
        return finish(rollout.start(restart_change(), options.budget, dry_run=options.dry_run))
    daemonset = cluster.get_daemonset(namespace=namespace, name=options.name)
    return finish(
        controller_driven.restart(cluster, daemonset, now=lambda: datetime.now(timezone.utc), dry_run=options.dry_run)
    )


@click.command("restart", cls=GroupedCommand, short_help="Restart every pod of a DaemonSet.")
@click.argument("name")
@click.option("--managed", is_flag=True, help="Restart step by step, as a managed rollout.")
@budget_flags
@click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
@kube_flags
@interruptible
def restart_command(**params: Any) -> int:
    """Restart every pod, as kubectl rollout restart does (the controller rolls it); with --managed, step
    by step.

    \b
    Examples:
      kubectl ds rollout restart -n logging fluentd
      kubectl ds rollout restart -n logging fluentd --managed --canary pool=canary
    """
    options = RestartOptions(**params)
    options.validate()
    return run_restart(options)
