"""The commands that drive a managed rollout: start, resume, step, abort and pause. Each: flags -> a frozen
Options -> validate() (before touching the cluster) -> run -> the outcome's message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from kubectl_ds.commands.common import interruptible, kube_flags, parse_duration
from kubectl_ds.commands.help import GroupedCommand
from kubectl_ds.commands.rollout.flags import budget_flags, change_flags, connect, finish, make_rollout
from kubectl_ds.errors import UsageError

if TYPE_CHECKING:
    from kubectl_ds.kube.config import KubeFlags
    from kubectl_ds.rollout.change import Change
    from kubectl_ds.rollout.state import RolloutOptions


def _check_steps(steps: int | None) -> None:
    if steps is not None and steps < 1:
        raise UsageError(f"invalid --steps {steps}: must be at least 1")


@dataclass(frozen=True)
class StartOptions:
    name: str
    kube: KubeFlags
    change: Change
    budget: RolloutOptions
    steps: int | None = None
    confirm: bool = False
    dry_run: bool = False

    def validate(self) -> None:
        from kubectl_ds.rollout.options import validate_options

        validate_options(self.budget)
        _check_steps(self.steps)


def run_start(options: StartOptions) -> int:
    cluster, namespace = connect(options.kube)
    rollout = make_rollout(cluster, namespace, options.name, confirm=options.confirm)
    return finish(rollout.start(options.change, options.budget, steps=options.steps, dry_run=options.dry_run))


@click.command("start", cls=GroupedCommand, short_help="Begin a managed, step-wise rollout.")
@click.argument("name")
@change_flags
@budget_flags
@click.option("--steps", type=int, default=None, help="Stop (successfully, parked) after this many steps.")
@click.option("--confirm", is_flag=True, help="Ask before each step (needs a terminal).")
@click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
@kube_flags
@interruptible
def start_command(**params: Any) -> int:
    """Change the pod template and roll it out node by node: park the DaemonSet (OnDelete), then per step
    evict the old pods (PodDisruptionBudgets apply) and wait until the new ones are available. A failing
    step halts the rollout (exit 4), parked; --on-failure abort rolls back instead.

    \b
    Examples:
      kubectl ds rollout start -n logging fluentd --image fluentd=fluent/fluentd:v1.17
      kubectl ds rollout start -n logging fluentd --restart --canary pool=canary --steps 1
      kubectl ds rollout start -n logging fluentd -f fluentd.yaml --max-surge 1 --max-unavailable 0
    """
    options = StartOptions(**params)
    options.validate()
    return run_start(options)


@dataclass(frozen=True)
class ContinueOptions:
    """resume, step and abort: continue (or reverse) a managed rollout from where its pods say it is."""

    verb: str  # "resume", "step" or "abort"
    name: str
    kube: KubeFlags
    steps: int | None = None
    confirm: bool = False
    force: bool = False
    dry_run: bool = False
    step_timeout: float | None = None
    partition: int | None = None
    nodes: str | None = None  # a new --nodes scope; "" for every node

    def validate(self) -> None:
        _check_steps(self.steps)
        if self.nodes:
            from kubectl_ds.labelselector import parse_selector

            parse_selector(self.nodes, flag="--nodes")  # a bad selector is refused before any request
        if self.partition is not None and self.partition < 0:
            raise UsageError(f"invalid --partition {self.partition}: must be greater than or equal to 0")
        if self.step_timeout is not None and self.step_timeout <= 0:
            raise UsageError("--step-timeout must be positive")


def run_continue(options: ContinueOptions) -> int:
    cluster, namespace = connect(options.kube)
    rollout = make_rollout(cluster, namespace, options.name, confirm=options.confirm)
    if options.verb == "abort":
        return finish(
            rollout.abort(
                force=options.force, dry_run=options.dry_run, steps=options.steps, step_timeout=options.step_timeout
            )
        )
    return finish(
        rollout.resume(
            steps=options.steps,
            force=options.force,
            dry_run=options.dry_run,
            step_timeout=options.step_timeout,
            partition=options.partition,
            nodes=options.nodes,
        )
    )


def _continue_command(verb: str, doc: str) -> Any:
    one_step = verb == "step"

    @click.argument("name")
    @click.option("--force", is_flag=True, help="Take over from a driver whose heartbeat is not yet stale.")
    @click.option(
        "--step-timeout", default=None, metavar="DURATION", help="Override the rollout's --step-timeout from now on."
    )
    @click.option(
        "--partition",
        type=int,
        default=None,
        help="Override the rollout's --partition (e.g. 0 to finish a partitioned rollout).",
    )
    @click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
    @kube_flags
    @interruptible
    def command(**params: Any) -> int:
        timeout = params.pop("step_timeout")
        options = ContinueOptions(
            verb=verb,
            steps=1 if one_step else params.pop("steps"),
            step_timeout=parse_duration(timeout, flag="--step-timeout") if timeout else None,
            **params,
        )
        options.validate()
        return run_continue(options)

    command.__doc__ = doc
    if not one_step:
        command = click.option("--steps", type=int, default=None, help="Stop after this many steps.")(command)
        command = click.option("--confirm", is_flag=True, help="Ask before each step (needs a terminal).")(command)
    if verb != "abort":  # abort returns every node, whatever the scope
        command = click.option(
            "--nodes",
            default=None,
            metavar="SELECTOR",
            help="Override the rollout's --nodes scope from now on ('' for every node).",
        )(command)
    return command


resume_command = click.command(
    "resume", cls=GroupedCommand, short_help="Continue a managed rollout (or un-park a paused one)."
)(
    _continue_command(
        "resume",
        """Continue a managed rollout from where the pods say it is, from any terminal.
    A DaemonSet parked by `rollout pause` gets its original updateStrategy back.

    \b
    Examples:
      kubectl ds rollout resume -n logging fluentd
      kubectl ds rollout resume -n logging fluentd --steps 2
    """,
    )
)
step_command = click.command("step", cls=GroupedCommand, short_help="Run one step of a managed rollout.")(
    _continue_command(
        "step",
        """Run exactly one step of a managed rollout, then stop (parked).

    \b
    Examples:
      kubectl ds rollout step -n logging fluentd
    """,
    )
)
abort_command = click.command("abort", cls=GroupedCommand, short_help="Roll every node back to the starting revision.")(
    _continue_command(
        "abort",
        """Return every node to the revision the rollout started from, with the same
    budget, then restore the original updateStrategy.

    \b
    Examples:
      kubectl ds rollout abort -n logging fluentd
    """,
    )
)


@dataclass(frozen=True)
class PauseOptions:
    name: str
    kube: KubeFlags
    dry_run: bool = False

    def validate(self) -> None:
        """Nothing to check before the cluster: any DaemonSet name may be paused."""


@click.command("pause", cls=GroupedCommand, short_help="Pause a rollout (managed or the controller's own).")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
@kube_flags
@interruptible
def pause_command(**params: Any) -> int:
    """Pause a managed rollout at the next step boundary; or park a DaemonSet that the controller is
    rolling (RollingUpdate) right now — the pause kubectl lacks for DaemonSets.

    \b
    Examples:
      kubectl ds rollout pause -n logging fluentd
    """
    options = PauseOptions(**params)
    options.validate()
    cluster, namespace = connect(options.kube)
    return finish(make_rollout(cluster, namespace, options.name).pause(dry_run=options.dry_run))
