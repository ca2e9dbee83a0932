"""What the test API server does to an object before storing it: defaulting, and the admission steps
it models."""

from __future__ import annotations

from tests.apiserver_base import Obj, Resource


def _default_pod_spec(spec: Obj) -> None:
    """The subset of pod defaulting that shows up when reading a pod or a DaemonSet template back."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        tag = image.rsplit("/", 1)[-1].partition(":")[2] if "@" not in image else "digest"
        container.setdefault("imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports", []) or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def apply_defaults(res: Resource, obj: Obj) -> None:
    """Defaulting the real server applies on every write made through the API."""
    spec = obj.get("spec")
    if res.plural == "pods" and isinstance(spec, dict):
        _default_pod_spec(spec)
    if res.plural == "daemonsets" and isinstance(spec, dict):
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        template_spec = (spec.get("template") or {}).get("spec")
        if isinstance(template_spec, dict):
            _default_pod_spec(template_spec)

