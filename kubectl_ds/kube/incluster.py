"""I/O. Where this process runs, when it runs in a pod of the cluster it drives: the node under it. A
rollout puts that node last, since replacing its kube-proxy or CNI pod can cut this driver off."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from kubectl_ds.errors import DsError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class PodReader(Protocol):
    def get_pod(self, *, namespace: str, name: str) -> dict[str, Any]: ...


def own_node(cluster: PodReader, environ: Mapping[str, str], service_account: Path = SERVICE_ACCOUNT) -> str | None:
    """The node this process's pod runs on, or None outside a pod (or when it cannot be told).

    In a pod the kubelet sets KUBERNETES_SERVICE_HOST; the downward API's NODE_NAME, when the pod sets it, is
    the answer; else the pod is read (its name is the hostname, its namespace the service account's)."""
    if not environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    if environ.get("NODE_NAME"):
        return environ["NODE_NAME"]
    try:
        namespace = (service_account / "namespace").read_text().strip()
    except OSError:
        return None
    name = environ.get("HOSTNAME", "")
    if not namespace or not name:
        return None
    try:
        pod = cluster.get_pod(namespace=namespace, name=name)
    except DsError:
        return None
    return str((pod.get("spec") or {}).get("nodeName") or "") or None
