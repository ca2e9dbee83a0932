"""`kubectl ds rollout ...`: the read-only rollout commands (history so far).

Each command: flags -> options -> validate -> run(options, reader) -> text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

from kubectl_ds import resources as r
from kubectl_ds.commands.common import kube_flag_options, merged_kube_flags, pop_kube_flags
from kubectl_ds.errors import UsageError
from kubectl_ds.reader import ClusterReader
from kubectl_ds.rollout.history import NO_HISTORY, history, history_rows, select_revision

ROLLOUT_HELP = """Roll DaemonSets out step by step (read-only parts so far: history).

\b
Examples:
  kubectl ds rollout history -n logging fluentd
  kubectl ds rollout history -n logging fluentd --revision 2
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
