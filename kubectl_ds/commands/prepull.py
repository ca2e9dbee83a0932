"""`kubectl ds prepull NAME (--image C=IMG ... | -f MANIFEST)`: pull a rollout's new images on every node the
DaemonSet runs on, ahead of a maintenance window, changing nothing else (rollout/prepuller.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from kubectl_ds.commands.common import interruptible, kube_flags, parse_duration
from kubectl_ds.commands.help import GroupedCommand
from kubectl_ds.commands.rollout.flags import connect, finish, make_rollout, prepull_options
from kubectl_ds.errors import UsageError

if TYPE_CHECKING:
    from kubectl_ds.kube.config import KubeFlags


@dataclass(frozen=True)
class PrepullOptions:
    name: str
    kube: KubeFlags
    images: tuple[str, ...] = ()
    manifest: str | None = None
    prepull_timeout: str = "5m"
    image_pull_timeout: str = "60s"
    dry_run: bool = False

    def validate(self) -> None:
        if bool(self.images) == bool(self.manifest):
            raise UsageError("say what to pull with exactly one of --image CONTAINER=IMAGE or -f MANIFEST")
        if self.timeout <= 0:
            raise UsageError("--prepull-timeout must be positive")
        if self.pull_timeout <= 0:
            raise UsageError("--image-pull-timeout must be positive")

    @property
    def timeout(self) -> float:
        return parse_duration(self.prepull_timeout, flag="--prepull-timeout")

    @property
    def pull_timeout(self) -> float:
        return parse_duration(self.image_pull_timeout, flag="--image-pull-timeout")


def run_prepull(options: PrepullOptions) -> int:
    from kubectl_ds import resources as r
    from kubectl_ds.kube.dump import read_manifest
    from kubectl_ds.rollout.change import image_change, template_change
    from kubectl_ds.rollout.prepuller import stage

    if options.images:
        change = image_change(options.images)
    else:
        manifest = read_manifest(str(options.manifest))
        change = template_change(r.pod_template(manifest), f"pod template from {options.manifest}")
    cluster, namespace = connect(options.kube)
    io = make_rollout(cluster, namespace, options.name).io
    template = change.apply(io.get(), io.now())
    return finish(
        stage(io, template, timeout=options.timeout, pull_timeout=options.pull_timeout, dry_run=options.dry_run)
    )


def _with(options: list[Any], func: Any) -> Any:
    for option in reversed(options):
        func = option(func)
    return func


@click.command(
    "prepull", cls=GroupedCommand, short_help="Pull a rollout's new images on every node, changing nothing else."
)
@click.argument("name")
@click.option("--image", "images", multiple=True, metavar="CONTAINER=IMAGE", help="A container's new image.")
@click.option("-f", "--filename", "manifest", default=None, metavar="MANIFEST", help="The images of this manifest.")
@lambda func: _with(prepull_options(flag=False), func)
@click.option(
    "--image-pull-timeout",
    default="60s",
    metavar="DURATION",
    help="A node whose pull errors last this long has failed (default 60s).",
)
@click.option("--dry-run", is_flag=True, help="Print the pods it would create, create nothing.")
@kube_flags
@interruptible
def prepull_command(**params: Any) -> int:
    """Pre-stage a DaemonSet's new images before a maintenance window: one short-lived pod per node where the
    DaemonSet runs (bound to the node, owned by the DaemonSet, with its nodeSelector, affinity, tolerations and
    imagePullSecrets) pulls the images that change; each pod is deleted once its node has pulled. Exit 4,
    naming each node and why, when a pull fails somewhere; the DaemonSet is never changed.

    \b
    Examples:
      kubectl ds prepull -n kube-system cilium --image cilium-agent=quay.io/cilium/cilium:v1.16.4
      kubectl ds prepull -n logging fluentd -f fluentd-v2.yaml --prepull-timeout 10m
    """
    options = PrepullOptions(**params)
    options.validate()
    return run_prepull(options)
