"""`kubectl ds rollout ...`: one file per job, as kubectl splits cmd/rollout/rollout_*.go.

- drivers.py: start, resume, step, abort, pause (the managed rollout);
- views.py: plan, status, history (read-only);
- kubectl.py: undo, restart (kubectl's own, controller-driven; --managed makes them managed);
- flags.py: the option groups (budget, change) and the runner's terminal wiring.
"""

from __future__ import annotations

import click

from kubectl_ds.commands.help import GroupedGroup
from kubectl_ds.commands.rollout.drivers import (
    abort_command,
    pause_command,
    resume_command,
    start_command,
    step_command,
)
from kubectl_ds.commands.rollout.kubectl import restart_command, undo_command
from kubectl_ds.commands.rollout.views import history_command, plan_command, status_command

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


@click.group("rollout", cls=GroupedGroup, help=ROLLOUT_HELP, short_help="Inspect and drive DaemonSet rollouts.")
def rollout_group() -> None:
    """Subcommands carry their own flags."""


# The order `kubectl ds rollout --help` lists them in (click sorts by name).
for command in (
    history_command,
    plan_command,
    start_command,
    resume_command,
    step_command,
    abort_command,
    pause_command,
    status_command,
    undo_command,
    restart_command,
):
    rollout_group.add_command(command)
