"""Kubeconfig resolution the way kubectl does it: --kubeconfig, else $KUBECONFIG (a path list), else
~/.kube/config; the first file that names a context, cluster or user wins, and so does the first
current-context. Namespace: -n, else the context's namespace, else "default".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubectl_ds.errors import ConfigError

DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True)
class KubeFlags:
    """kubectl's connection flags, which the plugin parses itself (kubectl refuses flags before it)."""

    kubeconfig: str | None = None
    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    namespace: str | None = None
    request_timeout: float | None = None


@dataclass(frozen=True)
class ResolvedConfig:
    paths: tuple[str, ...]
    context: str
    namespace: str
    cluster: str
    user: str
    server: str


def kubeconfig_paths(flags: KubeFlags, environ: Mapping[str, str]) -> list[str]:
    if flags.kubeconfig:
        path = os.path.expanduser(flags.kubeconfig)
        if not os.path.exists(path):
            raise ConfigError(f'kubeconfig "{flags.kubeconfig}" does not exist; check --kubeconfig')
        return [path]
    if environ.get("KUBECONFIG"):
        paths = [os.path.expanduser(p) for p in environ["KUBECONFIG"].split(os.pathsep) if p]
        existing = [p for p in paths if os.path.exists(p)]
        if not existing:
            raise ConfigError(f"no kubeconfig found: none of the KUBECONFIG paths exist ({environ['KUBECONFIG']})")
        return existing
    path = os.path.expanduser(DEFAULT_KUBECONFIG)
    if not os.path.exists(path):
        raise ConfigError("no kubeconfig found: set KUBECONFIG or pass --kubeconfig (looked in ~/.kube/config)")
    return [path]


def _read(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigError(f'cannot read kubeconfig "{path}": {error.strerror or error}') from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f'kubeconfig "{path}" is not valid YAML: {str(error).splitlines()[0]}') from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f'kubeconfig "{path}" is not a kubeconfig (expected a mapping)')
    return data


def _named(items: Any, path: str, section: str) -> dict[str, dict[str, Any]]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise ConfigError(f'kubeconfig "{path}": {section} must be a list')
    result = {}
    for item in items:
        if not isinstance(item, dict) or "name" not in item:
            raise ConfigError(f'kubeconfig "{path}": every entry of {section} needs a name')
        result[str(item["name"])] = item.get(section[:-1]) or {}
    return result


def resolve(flags: KubeFlags, environ: Mapping[str, str] | None = None) -> ResolvedConfig:
    """Which context, cluster, user, namespace and server a command would use."""
    env = os.environ if environ is None else environ
    paths = kubeconfig_paths(flags, env)
    contexts: dict[str, dict[str, Any]] = {}
    clusters: dict[str, dict[str, Any]] = {}
    users: dict[str, dict[str, Any]] = {}
    current = ""
    for path in paths:
        data = _read(path)
        for target, section in ((contexts, "contexts"), (clusters, "clusters"), (users, "users")):
            for key, value in _named(data.get(section), path, section).items():
                target.setdefault(key, value)
        current = current or str(data.get("current-context") or "")
    context_name = flags.context or current
    if not context_name:
        raise ConfigError(
            "no current context in the kubeconfig; pass --context NAME (kubectl config get-contexts lists them)"
        )
    if context_name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise ConfigError(
            f'context "{context_name}" not found in the kubeconfig (contexts: {known}); '
            "kubectl config get-contexts lists them"
        )
    context = contexts[context_name]
    cluster_name = flags.cluster or str(context.get("cluster") or "")
    if cluster_name not in clusters:
        raise ConfigError(f'cluster "{cluster_name}" of context "{context_name}" not found in the kubeconfig')
    user_name = flags.user or str(context.get("user") or "")
    if flags.user and user_name not in users:
        raise ConfigError(f'user "{user_name}" not found in the kubeconfig')
    namespace = flags.namespace or str(context.get("namespace") or "") or "default"
    server = str(clusters[cluster_name].get("server") or "")
    if "://" not in server:
        raise ConfigError(
            f'cluster "{cluster_name}" in the kubeconfig has no server address (https://...); '
            "fix the kubeconfig or pick another context with --context"
        )
    return ResolvedConfig(
        paths=tuple(paths),
        context=context_name,
        namespace=namespace,
        cluster=cluster_name,
        user=user_name,
        server=server,
    )


def kubeconfig_entries(resolved: ResolvedConfig) -> tuple[dict[str, Any], Path, dict[str, Any], Path]:
    """The resolved cluster's and user's entries, each with the folder of the kubeconfig that holds it (where
    their relative file paths start); the first file that names them wins, as in resolve()."""
    found: dict[str, tuple[dict[str, Any], Path]] = {}
    for path in resolved.paths:
        data = _read(path)
        for section, name in (("clusters", resolved.cluster), ("users", resolved.user)):
            entries = _named(data.get(section), path, section)
            if section not in found and name in entries:
                found[section] = (entries[name], Path(path).resolve().parent)
    cluster, cluster_dir = found.get("clusters", ({}, Path.cwd()))
    user, user_dir = found.get("users", ({}, Path.cwd()))
    return cluster, cluster_dir, user, user_dir


_OVERRIDE_CONTEXT = "kubectl-ds/override"


def new_api_client(resolved: ResolvedConfig) -> Any:
    """An ApiClient for the resolved context; imports the kubernetes client (only now)."""
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

    try:
        merger = KubeConfigMerger(os.pathsep.join(resolved.paths))
        # --cluster/--user override the context's own: select a synthetic context naming them.
        merger.config.value["contexts"].append(
            {
                "name": _OVERRIDE_CONTEXT,
                "context": {"cluster": resolved.cluster, "user": resolved.user, "namespace": resolved.namespace},
            }
        )
        loader = KubeConfigLoader(config_dict=merger.config, active_context=_OVERRIDE_CONTEXT, config_base_path=None)
        configuration = type.__call__(Configuration)
        loader.load_and_set(configuration)
    except ConfigException as error:
        raise ConfigError(f'kubeconfig context "{resolved.context}" cannot be used: {error}') from error
    except OSError as error:
        raise ConfigError(f'kubeconfig context "{resolved.context}" cannot be used: {error}') from error
    return ApiClient(configuration=configuration)
