"""The rollout commands' option groups. Each adds its flags, consumes them, and hands the command one
typed value: `budget` (a RolloutOptions, from --max-unavailable ... --pause-between) and `change` (a
Change, from --image / --restart / -f). Plus what every rollout command does with them: connect, and
build the runner with the terminal's collaborators."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kubectl_ds.commands.common import INTERRUPTED, parse_duration
from kubectl_ds.errors import UsageError

if TYPE_CHECKING:
    from kubectl_ds.kube.cluster import Cluster
    from kubectl_ds.kube.config import KubeFlags
    from kubectl_ds.rollout.change import Change
    from kubectl_ds.rollout.events import Event, Outcome
    from kubectl_ds.rollout.gates import CheckResult
    from kubectl_ds.rollout.runner import Rollout
    from kubectl_ds.rollout.state import RolloutOptions

F = TypeVar("F", bound=Callable[..., Any])

_BUDGET_FLAGS = (
    "max_unavailable",
    "max_surge",
    "step_size",
    "canary",
    "partition",
    "step_timeout",
    "on_failure",
    "use_delete",
    "pause_between",
    "skip_unreachable",
    "max_restarts",
    "image_pull_timeout",
    "unschedulable_timeout",
    "allow_preemption",
    "canary_spread",
    "nodes",
    "wave_by",
    # --- pre-pull ---
    "prepull",
    "prepull_timeout",
    # gates between steps (rollout/gates.py)
    "check",
    "check_exec",
    "check_timeout",
    "bake",
    "canary_bake",
)
_CHANGE_FLAGS = ("images", "restart", "manifest")


def _with_options(func: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def budget_flags(func: F) -> F:
    """--max-unavailable, --max-surge, --step-size, --canary, --partition, --step-timeout, --on-failure,
    --delete and --pause-between, handed over as `budget: RolloutOptions` (checked by Options.validate)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **params: Any) -> Any:
        values = {name: params.pop(name) for name in _BUDGET_FLAGS}
        return func(*args, budget=rollout_options(values), **params)

    return _with_options(
        wrapper,
        [  # type: ignore[return-value]
            click.option(
                "--max-unavailable",
                default=None,
                metavar="N|P%",
                help="Nodes that may be without an available pod at once (default 1).",
            ),
            click.option(
                "--max-surge",
                default=None,
                metavar="N|P%",
                help="Nodes that may run a second (new) pod at once; the controller picks them (default 0).",
            ),
            click.option(
                "--step-size",
                default=None,
                metavar="N|P%[,...]",
                help="Nodes per step (default: the budget); a list grows step by step, the last size repeating "
                "(1,5,10%,25%).",
            ),
            click.option(
                "--canary",
                default=None,
                metavar="SELECTOR",
                help="Nodes matching these labels (key=value,...) form the first step.",
            ),
            click.option(
                "--canary-spread",
                default=None,
                metavar="KEY,...",
                help="The canary step takes one node per distinct value of these node labels (of the --canary "
                "nodes, if given).",
            ),
            click.option(
                "--nodes",
                default=None,
                metavar="SELECTOR",
                help="Update only nodes matching this label selector; the rest stay on their revision, parked.",
            ),
            click.option(
                "--wave-by",
                default=None,
                metavar="KEY",
                help="One value of this node label (a zone) per wave; no step mixes two waves.",
            ),
            click.option("--partition", type=int, default=0, help="Leave this many nodes on the old revision."),
            click.option(
                "--step-timeout",
                default="5m",
                metavar="DURATION",
                help="Halt when a step's new pods are not available in time (default 5m).",
            ),
            click.option(
                "--on-failure",
                default="halt",
                metavar="halt|abort",
                help="On a failing step: stay parked (halt) or roll back (abort).",
            ),
            click.option(
                "--delete",
                "use_delete",
                is_flag=True,
                help="Delete old pods instead of evicting them (bypasses PodDisruptionBudgets).",
            ),
            click.option("--pause-between", default="0s", metavar="DURATION", help="Wait this long between steps."),
            click.option(
                "--skip-unreachable",
                is_flag=True,
                help="Leave unreachable nodes out of the budget too (they are never part of a step).",
            ),
            click.option(
                "--max-restarts",
                type=int,
                default=3,
                metavar="N",
                help="Halt when a new pod's container has restarted N times in a crash loop (default 3).",
            ),
            click.option(
                "--image-pull-timeout",
                default="60s",
                metavar="DURATION",
                help="Halt when a new pod still cannot pull its image after this long (default 60s).",
            ),
            click.option(
                "--unschedulable-timeout",
                default="30s",
                metavar="DURATION",
                help="Halt when a new pod stays Unschedulable, with no node nominated, this long (default 30s).",
            ),
            click.option(
                "--allow-preemption",
                is_flag=True,
                help="Let a --max-surge rollout whose surge pods do not fit preempt lower-priority pods.",
            ),
            # --- pre-pull ---
            *prepull_options(),
            *_GATE_OPTIONS,
        ],
    )


# Gates between steps (rollout/gates.py): after a step's pods are available, before the next step starts.
_GATE_OPTIONS = [
    click.option(
        "--check",
        default="",
        metavar="CMD",
        help="After each step, run CMD through the shell (KUBECTL_DS_STEP, _NODES, _PODS... in its environment); "
        "a non-zero exit halts the rollout.",
    ),
    click.option(
        "--check-exec",
        default="",
        metavar="CMD",
        help="After each step, run CMD inside each new pod of the step (pods/exec); a non-zero exit halts.",
    ),
    click.option(
        "--check-timeout",
        default="5m",
        metavar="DURATION",
        help="Kill a --check or --check-exec still running after this long, and halt (default 5m).",
    ),
    click.option(
        "--bake",
        default="0s",
        metavar="DURATION",
        help="After each step, watch the updated pods this long: a restart, a readiness loss or a pod leaving halts.",
    ),
    click.option(
        "--canary-bake",
        default=None,
        metavar="DURATION",
        help="The bake after the canary step (default: --bake).",
    ),
]


def rollout_options(values: dict[str, Any]) -> RolloutOptions:
    from kubectl_ds.rollout.state import RolloutOptions

    return RolloutOptions(
        max_unavailable=_int_or_percent(values["max_unavailable"], 0 if values["max_surge"] else 1),
        max_surge=_int_or_percent(values["max_surge"], 0),
        step_size=_int_or_percent(values["step_size"], None),
        canary=values["canary"],
        partition=values["partition"],
        step_timeout=parse_duration(values["step_timeout"], flag="--step-timeout"),
        on_failure=values["on_failure"],
        evict=not values["use_delete"],
        pause_between=parse_duration(values["pause_between"], flag="--pause-between"),
        skip_unreachable=values["skip_unreachable"],
        max_restarts=values["max_restarts"],
        image_pull_timeout=parse_duration(values["image_pull_timeout"], flag="--image-pull-timeout"),
        unschedulable_timeout=parse_duration(values["unschedulable_timeout"], flag="--unschedulable-timeout"),
        allow_preemption=values["allow_preemption"],
        canary_spread=values["canary_spread"],
        nodes=values["nodes"],
        wave_by=values["wave_by"],
        # --- pre-pull ---
        prepull=values["prepull"],
        prepull_timeout=parse_duration(values["prepull_timeout"], flag="--prepull-timeout"),
        # gates between steps
        check=values["check"],
        check_exec=values["check_exec"],
        check_timeout=parse_duration(values["check_timeout"], flag="--check-timeout"),
        bake=parse_duration(values["bake"], flag="--bake"),
        canary_bake=None
        if values["canary_bake"] is None
        else parse_duration(values["canary_bake"], flag="--canary-bake"),
    )


def prepull_options(*, flag: bool = True) -> list[Callable[[F], F]]:
    """--prepull (unless `flag` is False: the prepull command always pulls) and --prepull-timeout."""
    options: list[Callable[[F], F]] = [
        click.option(
            "--prepull-timeout",
            default="5m",
            metavar="DURATION",
            help="With --prepull: nodes that have not pulled the images by then count as failed (default 5m).",
        )
    ]
    if flag:
        options.insert(
            0,
            click.option(
                "--prepull",
                is_flag=True,
                help="Before the first write, pull the new images on every node to update; halt (exit 4, the "
                "DaemonSet untouched) where a pull fails.",
            ),
        )
    return options


def _int_or_percent(value: str | None, default: Any) -> Any:
    if value is None:
        return default
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def change_flags(func: F) -> F:
    """--image (repeatable), --restart or -f MANIFEST, exactly one, handed over as `change: Change`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **params: Any) -> Any:
        values = {name: params.pop(name) for name in _CHANGE_FLAGS}
        return func(*args, change=_change(values, params.get("name")), **params)

    return _with_options(
        wrapper,
        [  # type: ignore[return-value]
            click.option(
                "--image",
                "images",
                multiple=True,
                metavar="CONTAINER=IMAGE",
                help="Set a container's image (repeatable).",
            ),
            click.option("--restart", is_flag=True, help="Restart every pod (as kubectl rollout restart does)."),
            click.option(
                "-f",
                "--filename",
                "manifest",
                default=None,
                metavar="MANIFEST",
                help="Roll out the pod template of this DaemonSet manifest.",
            ),
        ],
    )


def _change(values: dict[str, Any], name: str | None) -> Change:
    from kubectl_ds import resources as r
    from kubectl_ds.kube.dump import read_manifest
    from kubectl_ds.rollout.change import image_change, restart_change, template_change

    if sum([bool(values["images"]), bool(values["restart"]), bool(values["manifest"])]) != 1:
        raise UsageError("say what to roll out with exactly one of --image CONTAINER=IMAGE, --restart or -f MANIFEST")
    if values["images"]:
        return image_change(values["images"])
    if values["restart"]:
        return restart_change()
    manifest = read_manifest(values["manifest"], name)
    return template_change(r.pod_template(manifest), f"pod template from {values['manifest']}")


def connect(kube: KubeFlags) -> tuple[Cluster, str]:
    """The cluster and the namespace to use (-n, else the context's, else default)."""
    from kubectl_ds.kube.cluster import Cluster
    from kubectl_ds.kube.config import resolve

    resolved = resolve(kube)
    return Cluster.connect(kube, resolved), resolved.namespace


def make_rollout(cluster: Cluster, namespace: str, name: str, *, confirm: bool = False) -> Rollout:
    """The runner, with the terminal's clock, sleep, output and (with --confirm) prompt."""
    import sys
    import time

    from kubectl_ds.render.rollout import confirm_question
    from kubectl_ds.rollout.events import StepStarted
    from kubectl_ds.rollout.runner import Rollout
    from kubectl_ds.rollout.session import Driver

    asker: Callable[[StepStarted], bool] | None = None
    if confirm:
        if not sys.stdin.isatty():
            raise UsageError("--confirm asks before each step and needs a terminal; drop it, or use --steps N")
        asker = lambda event: click.confirm(confirm_question(event), default=True)  # noqa: E731
    # Time is the API server's: pods' Ready transitions and heartbeats are stamped with it.
    import os

    from kubectl_ds.kube.incluster import own_node
    from kubectl_ds.kube.quantity import parse_quantity

    driver = Driver(
        cluster=cluster,
        clock=cluster.server_now,
        sleep=time.sleep,
        parse_quantity=parse_quantity,
        own_node=own_node(cluster, os.environ),
        interrupted=INTERRUPTED.is_set,
        say=terminal_say(sys.stdout.isatty()),
        confirm=asker,
        run_check=run_check,
        exec_in_pod=lambda *call: cluster.exec_in_pod(*call),  # bound when --check-exec runs, not before
    )
    return Rollout(driver, namespace=namespace, name=name)


def terminal_say(tty: bool) -> Callable[[Event], None]:
    """Print each event on a line; on a terminal, pre-pull progress redraws one line ("pulled on 412 of 500
    nodes") that the next other line ends."""
    from kubectl_ds.render.rollout import event_line
    from kubectl_ds.rollout.events import PrepullProgress

    open_line = False

    def say(event: Event) -> None:
        nonlocal open_line
        if tty and isinstance(event, PrepullProgress):
            click.echo(f"\r\033[K{event_line(event)}", nl=False, color=True)
            open_line = True
            return
        if open_line:
            click.echo("")
            open_line = False
        click.echo(event_line(event))

    return say


def finish(outcome: Outcome) -> int:
    from kubectl_ds.render.rollout import outcome_message

    click.echo(outcome_message(outcome))
    return 0


def run_check(command: str, environment: Mapping[str, str], timeout: float, tick: Callable[[], None]) -> CheckResult:
    """--check: the shell command, run by kube/process.py (the one place that starts a process)."""
    from kubectl_ds.kube.process import run_shell
    from kubectl_ds.rollout.gates import CheckResult

    code, output = run_shell(command, environment, timeout, tick)
    return CheckResult(code, output)
