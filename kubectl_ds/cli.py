"""The `kubectl ds` entry point, and THE place where errors become `error: ...` and exit codes.

Imports stay light: `kubectl ds --help` must not load the kubernetes client.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from kubectl_ds import __version__
from kubectl_ds.commands.common import kube_flag_options
from kubectl_ds.commands.lazy import LazyCommand, LazyGroup
from kubectl_ds.errors import DsError, ExitCode

MAIN_HELP = """Explain and roll out DaemonSets.

\b
Examples:
  kubectl ds explain -n logging fluentd
  kubectl ds explain -n logging fluentd --problems -o wide
  kubectl ds explain -A --problems
  kubectl ds explain -f fluentd.yaml
  kubectl ds diff -f fluentd.yaml
  kubectl ds audit -A
  kubectl ds node node-7 -A
  kubectl ds rollout history -n logging fluentd
"""


# Each command is imported when it runs (commands/lazy.py): `kubectl ds --help` stays light.
COMMANDS = {
    "explain": LazyCommand(
        "kubectl_ds.commands.explain", "explain_command", "Explain where a DaemonSet's pods run, and why not."
    ),
    "audit": LazyCommand("kubectl_ds.commands.audit", "audit_command", "Audit every DaemonSet on every node."),
    "node": LazyCommand("kubectl_ds.commands.node", "node_command", "Every DaemonSet on a node, and why not."),
    "diff": LazyCommand(
        "kubectl_ds.commands.diff", "diff_command", "What applying a changed DaemonSet would do, node by node."
    ),
    "rollout": LazyCommand("kubectl_ds.commands.rollout", "rollout_group", "Inspect and drive DaemonSet rollouts."),
    "prepull": LazyCommand(
        "kubectl_ds.commands.prepull",
        "prepull_command",
        "Pull a rollout's new images on every node, changing nothing else.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    help=MAIN_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, "--version", prog_name="kubectl-ds")
@kube_flag_options
def cli(**_: Any) -> None:
    """The group only carries the kubectl flags; subcommands read them from the root context."""


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(argv))


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code; never lets a traceback reach the user."""
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["__complete"]:
        return complete(words[1:])
    try:
        result = cli.main(args=argv, prog_name="kubectl ds", standalone_mode=False)
    except click.exceptions.Exit as done:  # --help, --version
        return int(done.exit_code)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except click.UsageError as error:
        # kubectl style: one line that says what is wrong and where help is, not click's usage block.
        command = error.ctx.command_path if error.ctx is not None else "kubectl ds"
        message = " ".join(error.format_message().split()).rstrip(".")
        for marker in (". (Did you mean ", ". Did you mean "):
            if marker in message:
                head, suggestion = message.split(marker, 1)
                message = f"{head} (did you mean {suggestion.rstrip(')')})"
                break
        click.echo(f"error: {message[:1].lower()}{message[1:]}; see '{command} --help'", err=True)
        return int(error.exit_code)
    except click.ClickException as error:
        click.echo(f"error: {error.format_message()}", err=True)
        return int(error.exit_code)
    except DsError as error:
        click.echo(f"error: {error.message}", err=True)
        return int(error.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.OK)  # the reader (e.g. `| head`) went away; nothing left to say
    except Exception as error:  # noqa: BLE001 - the last resort: a bug or an object we did not expect
        if os.environ.get("KUBECTL_DS_DEBUG"):
            raise
        click.echo(
            f"error: unexpected {type(error).__name__}: {error}; this is a bug in kubectl-ds or an object "
            "it did not expect: please report it (KUBECTL_DS_DEBUG=1 shows the traceback)",
            err=True,
        )
        return int(ExitCode.ERROR)
    return int(result or 0)


def complete(words: list[str]) -> int:
    """kubectl's plugin completion protocol (cobra's `__complete`): one candidate a line, then
    `:<directive>` (0: default, 4: no file completion). kubectl calls it through a `kubectl_complete-ds`
    script on PATH that runs `kubectl-ds __complete "$@"` (see the README)."""
    from click.shell_completion import ShellComplete

    args, incomplete = words[:-1], (words[-1] if words else "")
    items = ShellComplete(cli, {}, "kubectl ds", "_KUBECTL_DS_COMPLETE").get_completions(args, incomplete)
    for item in items:
        click.echo(f"{item.value}\t{item.help}" if item.help else item.value)
    click.echo(":0" if any(item.type == "file" for item in items) else ":4")
    return 0
