"""Pure. What a rollout changes in the pod template: images, a restart, or a whole template from a
manifest (or a revision, for undo)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.errors import DsError, UsageError
from kubectl_ds.resources import Obj
from kubectl_ds.rollout.state import rfc3339

# The template annotation `kubectl rollout restart` sets; a new value is a new template, so new pods.
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True)
class Change:
    """What a rollout changes in the pod template."""

    images: tuple[tuple[str, str], ...] = ()  # (container, image)
    restart: bool = False
    template: Obj | None = None  # from a manifest (-f) or a revision (undo)
    description: str = ""

    def apply(self, daemonset: Obj, now: datetime) -> dict[str, Any]:
        """The DaemonSet's pod template with the change made (a copy; the DaemonSet is untouched)."""
        template: dict[str, Any] = json.loads(json.dumps(r.pod_template(daemonset)))
        if self.template is not None:
            template = json.loads(json.dumps(self.template))
        if self.images:
            spec = template.get("spec") or {}
            containers = {c.get("name"): c for c in spec.get("containers") or []}
            containers.update({c.get("name"): c for c in spec.get("initContainers") or []})
            for container, image in self.images:
                if container not in containers:
                    known = ", ".join(str(name) for name in containers)
                    raise DsError(
                        f'container "{container}" not found in daemonset "{r.name(daemonset)}" '
                        f"(containers: {known}); use --image CONTAINER=IMAGE"
                    )
                containers[container]["image"] = image
        if self.restart:
            metadata = template.setdefault("metadata", {})
            metadata.setdefault("annotations", {})[RESTARTED_AT] = rfc3339(now)
        return template


def image_change(values: Iterable[str]) -> Change:
    """--image CONTAINER=IMAGE (repeatable) as a Change."""
    pairs = []
    for value in values:
        container, sep, image = value.partition("=")
        if not sep or not container or not image:
            raise UsageError(
                f'invalid --image "{value}": use CONTAINER=IMAGE, e.g. --image fluentd=fluent/fluentd:v1.17'
            )
        pairs.append((container, image))
    return Change(images=tuple(pairs), description="image " + ", ".join(f"{c}={i}" for c, i in pairs))


def restart_change() -> Change:
    return Change(restart=True, description="restart")


def template_change(template: Obj, description: str) -> Change:
    return Change(template=template, description=description)
