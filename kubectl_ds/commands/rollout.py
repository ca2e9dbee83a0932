"""`kubectl ds rollout ...`: plan, start, resume, step, pause, abort, status, history, undo, restart.

Each command: flags -> options -> validate -> run(...) -> text. The driving loop is rollout.runner; the
decisions are the pure rollout.plan/budget/state modules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

from kubectl_ds import resources as r
from kubectl_ds.commands.common import interruptible, kube_flag_options, merged_kube_flags, pop_kube_flags
from kubectl_ds.errors import UsageError
from kubectl_ds.reader import ClusterReader
from kubectl_ds.rollout.history import NO_HISTORY, history, history_rows, select_revision

ROLLOUT_HELP = """Roll DaemonSets out step by step, with pause, resume and abort from any terminal.

\b
A managed rollout parks the DaemonSet (updateStrategy OnDelete, the original kept in an annotation), so
the controller moves nothing by itself, then replaces pods node by node within --max-unavailable (or
lets the controller surge --max-surge nodes per step). Interrupt it at any moment: the DaemonSet stays
parked and `rollout resume` continues from any terminal.

\b
Examples:
  kubectl ds rollout plan -n logging fluentd --image fluentd=fluent/fluentd:v1.17 --canary pool=canary
  kubectl ds rollout start -n logging fluentd --image fluentd=fluent/fluentd:v1.17 --max-unavailable 2
  kubectl ds rollout status -n logging fluentd --watch
  kubectl ds rollout pause -n logging fluentd
  kubectl ds rollout resume -n logging fluentd
  kubectl ds rollout abort -n logging fluentd
  kubectl ds rollout history -n logging fluentd
"""


@click.group("rollout", help=ROLLOUT_HELP, short_help="Inspect and drive DaemonSet rollouts.")
def rollout_group() -> None:
    """Subcommands carry their own flags."""


@dataclass(frozen=True)
class HistoryOptions:
    name: str
    namespace: str
    revision: int | None = None
    output: str = "table"

    def validate(self) -> None:
        if self.output not in ("table", "json", "yaml"):
            raise UsageError(f'unknown output format "{self.output}" for -o; use one of: table, json, yaml')
        if self.revision is not None and self.revision < 0:
            raise UsageError(f"revision must be a positive integer: {self.revision}")


def run_history(options: HistoryOptions, reader: ClusterReader) -> str:
    daemonset = reader.get_daemonset(namespace=options.namespace, name=options.name)
    selector = r.spec(daemonset).get("selector") or {}
    revisions = reader.list_controller_revisions(namespace=options.namespace, selector=selector)
    pods = reader.list_daemonset_pods(namespace=options.namespace, selector=selector)
    entries = history(daemonset, revisions, pods)
    title = f"daemonset.apps/{options.name}"
    if options.revision:
        entry = select_revision(entries, options.revision)
        data: Any = {"revision": entry.number, "changeCause": entry.change_cause, "template": entry.template}
        if options.output == "table":
            return f"{title} with revision #{entry.number}\n" + _yaml(entry.template)
        return _data(data, options.output)
    rows = history_rows(entries)
    if options.output != "table":
        return _data({"daemonSet": {"namespace": options.namespace, "name": options.name}, "revisions": rows},
                     options.output)
    if not rows:
        return NO_HISTORY + "\n"
    from tabulate import tabulate

    table = [[row["revision"], row["changeCause"], row["pods"], row["changes"] or ", ".join(row["images"])]
             for row in rows]
    return f"{title}\n" + tabulate(table, headers=["REVISION", "CHANGE-CAUSE", "PODS", "IMAGES"],
                                   tablefmt="plain", disable_numparse=True) + "\n"


def _yaml(data: Any) -> str:
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def _data(data: Any, output: str) -> str:
    return json.dumps(data, indent=2) + "\n" if output == "json" else _yaml(data)


@rollout_group.command("history", short_help="Show the revisions of a DaemonSet.")
@click.argument("name")
@click.option("--revision", type=int, default=None, help="Show the pod template of this revision.")
@click.option("-o", "--output", default="table", metavar="FORMAT", help="table, json or yaml.")
@kube_flag_options
@click.pass_context
@interruptible
def history_command(ctx: click.Context, /, **params: Any) -> int:
    """Show the revisions of a DaemonSet (its ControllerRevisions), with change-cause, the images that
    changed, and how many pods still run each revision.

    \b
    Examples:
      kubectl ds rollout history -n logging fluentd
      kubectl ds rollout history -n logging fluentd --revision 2 -o yaml
    """
    flags = merged_kube_flags(ctx, pop_kube_flags(params))
    from kubectl_ds.kube.cluster import Cluster
    from kubectl_ds.kube.config import resolve

    options = HistoryOptions(name=params["name"], namespace=flags.namespace or "default",
                             revision=params["revision"], output=params["output"])
    options.validate()
    resolved = resolve(flags)
    options = HistoryOptions(name=options.name, namespace=resolved.namespace, revision=options.revision,
                             output=options.output)
    click.echo(run_history(options, Cluster.connect(flags, resolved)), nl=False)
    return 0


# --- the managed rollout commands ----------------------------------------------------------------------

def plan_flag_options(func: Any) -> Any:
    options = [
        click.option("--max-unavailable", default=None, metavar="N|P%",
                     help="Nodes that may be without an available pod at once (default 1)."),
        click.option("--max-surge", default=None, metavar="N|P%",
                     help="Nodes that may run a second (new) pod at once; the controller picks them (default 0)."),
        click.option("--step-size", default=None, metavar="N|P%", help="Nodes per step (default: the budget)."),
        click.option("--canary", default=None, metavar="SELECTOR",
                     help="Nodes matching these labels (key=value,...) form the first step."),
        click.option("--partition", type=int, default=0, help="Leave this many nodes on the old revision."),
        click.option("--step-timeout", default="5m", metavar="DURATION",
                     help="Halt when a step's new pods are not available in time (default 5m)."),
        click.option("--on-failure", default="halt", metavar="halt|abort",
                     help="On a failing step: stay parked (halt) or roll back (abort)."),
        click.option("--delete", "use_delete", is_flag=True,
                     help="Delete old pods instead of evicting them (bypasses PodDisruptionBudgets)."),
        click.option("--pause-between", default="0s", metavar="DURATION", help="Wait this long between steps."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def change_options(func: Any) -> Any:
    options = [
        click.option("--image", "images", multiple=True, metavar="CONTAINER=IMAGE",
                     help="Set a container's image (repeatable)."),
        click.option("--restart", is_flag=True, help="Restart every pod (as kubectl rollout restart does)."),
        click.option("-f", "--filename", "manifest", default=None, metavar="MANIFEST",
                     help="Roll out the pod template of this DaemonSet manifest."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _rollout_options(params: dict[str, Any]) -> Any:
    from kubectl_ds.commands.common import parse_duration
    from kubectl_ds.rollout.state import RolloutOptions

    return RolloutOptions(
        max_unavailable=_int_or_percent(params["max_unavailable"], 0 if params["max_surge"] else 1),
        max_surge=_int_or_percent(params["max_surge"], 0),
        step_size=_int_or_percent(params["step_size"], None),
        canary=params["canary"], partition=params["partition"],
        step_timeout=parse_duration(params["step_timeout"], flag="--step-timeout"),
        on_failure=params["on_failure"], evict=not params["use_delete"],
        pause_between=parse_duration(params["pause_between"], flag="--pause-between"))


def _int_or_percent(value: str | None, default: Any) -> Any:
    if value is None:
        return default
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _change(params: dict[str, Any]) -> Any:
    from kubectl_ds.dump import read_manifest
    from kubectl_ds.rollout.runner import Change, image_flags

    chosen = [bool(params["images"]), bool(params["restart"]), bool(params["manifest"])]
    if sum(chosen) != 1:
        raise UsageError("say what to roll out with exactly one of --image CONTAINER=IMAGE, --restart or -f MANIFEST")
    if params["images"]:
        images = image_flags(params["images"])
        return Change(images=images, description="image " + ", ".join(f"{c}={i}" for c, i in images))
    if params["restart"]:
        return Change(restart=True, description="restart")
    manifest = read_manifest(params["manifest"])
    return Change(template=r.pod_template(manifest), description=f"pod template from {params['manifest']}")


def _validated_options(params: dict[str, Any]) -> Any:
    from kubectl_ds.rollout.runner import validate_options

    options = _rollout_options(params)
    validate_options(options)
    return options


def _checked_change_and_options(params: dict[str, Any]) -> tuple[Any, Any]:
    """Flags first: a usage error should not wait for (or depend on) the cluster."""
    options = _validated_options(params)
    return _change(params), options


def _connect(ctx: click.Context, params: dict[str, Any]) -> tuple[Any, str, str]:
    from kubectl_ds.kube.cluster import Cluster
    from kubectl_ds.kube.config import resolve

    flags = merged_kube_flags(ctx, pop_kube_flags(params))
    resolved = resolve(flags)
    return Cluster.connect(flags, resolved), resolved.namespace, params["name"]


def _rollout(cluster: Any, namespace: str, name: str, *, confirm: bool = False) -> Any:
    import sys
    import time
    from datetime import datetime, timezone

    from kubectl_ds.rollout.runner import Driver, Rollout

    asker = None
    if confirm:
        if not sys.stdin.isatty():
            raise UsageError("--confirm asks before each step and needs a terminal; drop it, or use --steps N")
        asker = lambda question: click.confirm(question, default=True)  # noqa: E731
    driver = Driver(cluster=cluster, clock=lambda: datetime.now(timezone.utc), sleep=time.sleep,
                    say=lambda line: click.echo(line), confirm=asker)
    return Rollout(driver, namespace=namespace, name=name)


def _finish(outcome: Any) -> int:
    click.echo(outcome.message)
    return 0


@rollout_group.command("plan", short_help="Show the steps a rollout would take (read-only).")
@click.argument("name")
@change_options
@plan_flag_options
@click.option("-o", "--output", default="table", metavar="FORMAT", help="table or json.")
@kube_flag_options
@click.pass_context
@interruptible
def plan_command(ctx: click.Context, /, **params: Any) -> int:
    """Show, without changing anything, the ordered steps of a managed rollout and its pre-flight checks:
    nodes that will not get the pod (and why), nodes already unavailable, hostPort with --max-surge,
    surge headroom, and an estimated duration.

    \b
    Examples:
      kubectl ds rollout plan -n logging fluentd --image fluentd=fluent/fluentd:v1.17
      kubectl ds rollout plan -n logging fluentd --restart --canary pool=canary --step-size 10%
    """
    output = params.pop("output")
    if output not in ("table", "json"):
        raise UsageError(f'unknown output format "{output}" for -o; use one of: table, json')
    change, options = _checked_change_and_options(params)
    cluster, namespace, name = _connect(ctx, params)
    from kubectl_ds.commands.rollout_read import plan_view

    text = plan_view(cluster, namespace, name, change, options, output=output)
    click.echo(text, nl=False)
    return 0


@rollout_group.command("start", short_help="Begin a managed, step-wise rollout.")
@click.argument("name")
@change_options
@plan_flag_options
@click.option("--steps", type=int, default=None, help="Stop (successfully, parked) after this many steps.")
@click.option("--confirm", is_flag=True, help="Ask before each step (needs a terminal).")
@click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
@kube_flag_options
@click.pass_context
@interruptible
def start_command(ctx: click.Context, /, **params: Any) -> int:
    """Change the pod template and roll it out node by node: park the DaemonSet (OnDelete), then per step
    evict the old pods (PodDisruptionBudgets apply) and wait until the new ones are available. A failing
    step halts the rollout (exit 4), parked; --on-failure abort rolls back instead.

    \b
    Examples:
      kubectl ds rollout start -n logging fluentd --image fluentd=fluent/fluentd:v1.17
      kubectl ds rollout start -n logging fluentd --restart --canary pool=canary --steps 1
      kubectl ds rollout start -n logging fluentd -f fluentd.yaml --max-surge 1 --max-unavailable 0
    """
    steps, confirm, dry_run = params.pop("steps"), params.pop("confirm"), params.pop("dry_run")
    change, options = _checked_change_and_options(params)
    cluster, namespace, name = _connect(ctx, params)
    rollout = _rollout(cluster, namespace, name, confirm=confirm)
    return _finish(rollout.start(change, options, steps=steps, dry_run=dry_run))


def _continue_command(verb: str, doc: str, *, one_step: bool = False) -> Any:
    @click.argument("name")
    @click.option("--force", is_flag=True, help="Take over from a driver whose heartbeat is not yet stale.")
    @click.option("--step-timeout", default=None, metavar="DURATION",
                  help="Override the rollout's --step-timeout from now on.")
    @click.option("--partition", type=int, default=None,
                  help="Override the rollout's --partition (e.g. 0 to finish a partitioned rollout).")
    @click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
    @kube_flag_options
    @click.pass_context
    @interruptible
    def command(ctx: click.Context, /, **params: Any) -> int:
        from kubectl_ds.commands.common import parse_duration

        steps = 1 if one_step else params.pop("steps", None)
        confirm = params.pop("confirm", False)
        force, dry_run = params.pop("force"), params.pop("dry_run")
        timeout_flag, partition = params.pop("step_timeout"), params.pop("partition")
        step_timeout = parse_duration(timeout_flag, flag="--step-timeout") if timeout_flag else None
        cluster, namespace, name = _connect(ctx, params)
        rollout = _rollout(cluster, namespace, name, confirm=confirm)
        if verb == "abort":
            return _finish(rollout.abort(force=force, dry_run=dry_run, steps=steps, step_timeout=step_timeout))
        return _finish(rollout.resume(steps=steps, force=force, dry_run=dry_run, step_timeout=step_timeout,
                                      partition=partition))

    command.__doc__ = doc
    if not one_step:
        command = click.option("--steps", type=int, default=None, help="Stop after this many steps.")(command)
        command = click.option("--confirm", is_flag=True, help="Ask before each step (needs a terminal).")(command)
    return command


rollout_group.command("resume", short_help="Continue a managed rollout (or un-park a paused one).")(
    _continue_command("resume", """Continue a managed rollout from where the pods say it is, from any terminal.
    A DaemonSet parked by `rollout pause` gets its original updateStrategy back.

    \b
    Examples:
      kubectl ds rollout resume -n logging fluentd
      kubectl ds rollout resume -n logging fluentd --steps 2
    """))
rollout_group.command("step", short_help="Run one step of a managed rollout.")(
    _continue_command("step", """Run exactly one step of a managed rollout, then stop (parked).

    \b
    Examples:
      kubectl ds rollout step -n logging fluentd
    """, one_step=True))
rollout_group.command("abort", short_help="Roll every node back to the starting revision.")(
    _continue_command("abort", """Return every node to the revision the rollout started from, with the same
    budget, then restore the original updateStrategy.

    \b
    Examples:
      kubectl ds rollout abort -n logging fluentd
    """))


@rollout_group.command("pause", short_help="Pause a rollout (managed or the controller's own).")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
@kube_flag_options
@click.pass_context
@interruptible
def pause_command(ctx: click.Context, /, **params: Any) -> int:
    """Pause a managed rollout at the next step boundary; or park a DaemonSet that the controller is
    rolling (RollingUpdate) right now — the pause kubectl lacks for DaemonSets.

    \b
    Examples:
      kubectl ds rollout pause -n logging fluentd
    """
    dry_run = params.pop("dry_run")
    cluster, namespace, name = _connect(ctx, params)
    return _finish(_rollout(cluster, namespace, name).pause(dry_run=dry_run))


@rollout_group.command("status", short_help="Per-node rollout progress.")
@click.argument("name")
@click.option("-w", "--watch", is_flag=True, help="Keep watching until the rollout is done.")
@click.option("-o", "--output", default="table", metavar="FORMAT", help="table or json.")
@kube_flag_options
@click.pass_context
@interruptible
def status_command(ctx: click.Context, /, **params: Any) -> int:
    """Show the rollout's progress: step k of N, paused or halted and why (managed), kubectl's message
    (RollingUpdate) or the updated count (OnDelete), and every node's revision state with the reasons of
    nodes that are stuck.

    \b
    Examples:
      kubectl ds rollout status -n logging fluentd
      kubectl ds rollout status -n logging fluentd --watch
    """
    watch, output = params.pop("watch"), params.pop("output")
    if output not in ("table", "json"):
        raise UsageError(f'unknown output format "{output}" for -o; use one of: table, json')
    cluster, namespace, name = _connect(ctx, params)
    from kubectl_ds.commands.rollout_read import show_status

    return show_status(cluster, namespace, name, watch=watch, output=output)


@rollout_group.command("undo", short_help="Roll back to an earlier revision.")
@click.argument("name")
@click.option("--to-revision", type=int, default=0, help="The revision to go back to (default: the previous one).")
@click.option("--managed", is_flag=True, help="Roll back step by step, as a managed rollout.")
@plan_flag_options
@click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
@kube_flag_options
@click.pass_context
@interruptible
def undo_command(ctx: click.Context, /, **params: Any) -> int:
    """Roll back to an earlier revision, as kubectl rollout undo does; with --managed, step by step.

    \b
    Examples:
      kubectl ds rollout undo -n logging fluentd
      kubectl ds rollout undo -n logging fluentd --to-revision 3 --managed --max-unavailable 2
    """
    to_revision, managed, dry_run = params.pop("to_revision"), params.pop("managed"), params.pop("dry_run")
    options = _validated_options(params)
    cluster, namespace, name = _connect(ctx, params)
    from kubectl_ds.rollout.runner import undo

    return _finish(undo(cluster, namespace, name, to_revision=to_revision, dry_run=dry_run,
                        managed=_rollout(cluster, namespace, name) if managed else None, options=options))


@rollout_group.command("restart", short_help="Restart every pod of a DaemonSet.")
@click.argument("name")
@click.option("--managed", is_flag=True, help="Restart step by step, as a managed rollout.")
@plan_flag_options
@click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
@kube_flag_options
@click.pass_context
@interruptible
def restart_command(ctx: click.Context, /, **params: Any) -> int:
    """Restart every pod, as kubectl rollout restart does (the controller rolls it); with --managed, step
    by step.

    \b
    Examples:
      kubectl ds rollout restart -n logging fluentd
      kubectl ds rollout restart -n logging fluentd --managed --canary pool=canary
    """
    managed, dry_run = params.pop("managed"), params.pop("dry_run")
    options = _validated_options(params)
    cluster, namespace, name = _connect(ctx, params)
    from kubectl_ds.rollout.runner import restart

    return _finish(restart(cluster, namespace, name, dry_run=dry_run,
                           managed=_rollout(cluster, namespace, name) if managed else None, options=options))
