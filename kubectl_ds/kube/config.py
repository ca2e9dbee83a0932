"""Kubeconfig resolution the way kubectl does it: --kubeconfig, else $KUBECONFIG (a path list), else
~/.kube/config; the first file that names a context, cluster or user wins, and so does the first
current-context. Namespace: -n, else the context's namespace, else "default".
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_ds.errors import ConfigError, InputError
from kubectl_ds.kube.documents import yaml_documents

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
    server: str | None = None
    token: str | None = None
    certificate_authority: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    impersonate: str | None = None
    impersonate_groups: tuple[str, ...] = ()
    impersonate_uid: str | None = None
    disable_compression: bool = False

    def request_headers(self) -> tuple[tuple[str, str], ...]:
        """What every request carries besides credentials, as kubectl sends it: Accept-Encoding gzip unless
        --disable-compression (Go's transport asks for gzip by itself), and the impersonation headers of
        --as, --as-group (one header per group) and --as-uid (client-go's ImpersonatingRoundTripper)."""
        headers: list[tuple[str, str]] = [] if self.disable_compression else [("Accept-Encoding", "gzip")]
        if self.impersonate:
            headers.append(("Impersonate-User", self.impersonate))
            headers += [("Impersonate-Group", group) for group in self.impersonate_groups]
            if self.impersonate_uid:
                headers.append(("Impersonate-Uid", self.impersonate_uid))
        return tuple(headers)


@dataclass(frozen=True)
class ResolvedConfig:
    paths: tuple[str, ...]
    context: str
    namespace: str
    cluster: str
    user: str
    server: str


def kubeconfig_paths(flags: KubeFlags, environ: Mapping[str, str]) -> list[str]:
    """The kubeconfig files to merge; none at all is fine with --server (`kubectl -s URL --token T`)."""
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
    if not os.path.exists(path) and flags.server:
        return []
    if not os.path.exists(path):
        raise ConfigError("no kubeconfig found: set KUBECONFIG or pass --kubeconfig (looked in ~/.kube/config)")
    return [path]


def _read(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ConfigError(f'cannot read kubeconfig "{path}": {error.strerror or error}') from error
    except UnicodeDecodeError as error:
        raise ConfigError(
            f'kubeconfig "{path}" is not text (byte {error.start} is not UTF-8); check --kubeconfig'
        ) from error
    try:
        # The same limits as for dumps: a kubeconfig is YAML someone may have been sent, too.
        documents = yaml_documents(text, f'kubeconfig "{path}"', language="YAML")
    except InputError as error:
        raise ConfigError(error.message) from error
    data = documents[0] if documents else None
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
    if not context_name and flags.server and not flags.cluster:
        # No context, but --server says where to go: kubectl then talks to it with the flags' credentials.
        return ResolvedConfig(
            paths=tuple(paths),
            context="",
            namespace=flags.namespace or "default",
            cluster="",
            user="",
            server=flags.server,
        )
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
    server = flags.server or str(clusters[cluster_name].get("server") or "")
    if "://" not in server and flags.server:
        raise ConfigError(f'--server "{flags.server}" is not a URL; use e.g. https://203.0.113.10:6443')
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


_OVERRIDE = "kubectl-ds/override"


def overridden_cluster(cluster: Mapping[str, Any], flags: KubeFlags) -> dict[str, Any]:
    """The kubeconfig cluster with the flags applied as client-go applies ConfigOverrides (getCluster):
    --certificate-authority or --insecure-skip-tls-verify replace the CA data and the skip setting together,
    and --server without --tls-server-name drops the kubeconfig's tls-server-name (it named the old host)."""
    merged = dict(cluster)
    if flags.server:
        merged["server"] = flags.server
    if flags.certificate_authority or flags.insecure_skip_tls_verify:
        for key in ("certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify"):
            merged.pop(key, None)
        if flags.certificate_authority:
            merged["certificate-authority"] = os.path.abspath(os.path.expanduser(flags.certificate_authority))
        if flags.insecure_skip_tls_verify:
            merged["insecure-skip-tls-verify"] = True
    if flags.tls_server_name or flags.server:
        merged.pop("tls-server-name", None)
        if flags.tls_server_name:
            merged["tls-server-name"] = flags.tls_server_name
    return merged


def overridden_user(user: Mapping[str, Any], flags: KubeFlags) -> dict[str, Any]:
    """The kubeconfig user with --token, --client-certificate and --client-key applied (client-go's
    getAuthInfo). A --token is sent in the Authorization header, which client-go's exec and auth-provider
    plugins then leave alone; the Python client would run those plugins first, so they are dropped."""
    merged = dict(user)
    if flags.token:
        for key in ("token", "tokenFile", "exec", "auth-provider"):
            merged.pop(key, None)
        merged["token"] = flags.token
    for flag, key in ((flags.client_certificate, "client-certificate"), (flags.client_key, "client-key")):
        if flag:
            merged.pop(f"{key}-data", None)
            merged[key] = os.path.abspath(os.path.expanduser(flag))
    return merged


_FILE_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")


def _entry(items: Any, name: str, section: str) -> dict[str, Any]:
    """A copy of the named cluster or user, its file paths made absolute against the kubeconfig that holds
    it (the merged config keeps each entry's file on a ConfigNode), as the client would resolve them."""
    for item in items or []:
        entry, path = getattr(item, "value", item), getattr(item, "path", None)
        if isinstance(entry, Mapping) and entry.get("name") == name:
            copied = dict(entry.get(section) or {})
            base = os.path.dirname(os.path.abspath(path)) if path else ""
            for key in _FILE_KEYS:
                if base and isinstance(copied.get(key), str) and not os.path.isabs(copied[key]):
                    copied[key] = os.path.join(base, copied[key])
            return copied
    return {}


@contextlib.contextmanager
def _client_log_errors() -> Iterator[list[str]]:
    """The ERROR records the kubernetes client logs meanwhile (kept off the terminal): our one-line error says
    it instead."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    root = logging.getLogger()
    handler = Collect(level=logging.ERROR)
    root.addHandler(handler)
    try:
        yield messages
    finally:
        root.removeHandler(handler)


def new_api_client(resolved: ResolvedConfig, flags: KubeFlags | None = None) -> Any:
    """An ApiClient for the resolved context with the connection flags applied; imports the kubernetes
    client (only now)."""
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

    flags = flags or KubeFlags()
    what = f'kubeconfig context "{resolved.context}"' if resolved.context else f'server "{resolved.server}"'
    try:
        # With no kubeconfig at all (--server and credentials as flags), start from an empty one.
        config: Any = KubeConfigMerger(os.pathsep.join(resolved.paths)).config if resolved.paths else {}
        value = config.value if resolved.paths else config
        for section in ("clusters", "users", "contexts"):
            if not isinstance(value.get(section), list):
                value[section] = []
        # The flags override the context's cluster and user: select a synthetic context naming copies of them.
        cluster = overridden_cluster(_entry(value["clusters"], resolved.cluster, "cluster"), flags)
        user = overridden_user(_entry(value["users"], resolved.user, "user"), flags)
        value["clusters"].append({"name": _OVERRIDE, "cluster": {**cluster, "server": resolved.server}})
        value["users"].append({"name": _OVERRIDE, "user": user})
        value["contexts"].append(
            {"name": _OVERRIDE, "context": {"cluster": _OVERRIDE, "user": _OVERRIDE, "namespace": resolved.namespace}}
        )
        loader = KubeConfigLoader(config_dict=config, active_context=_OVERRIDE, config_base_path=None)
        configuration = type.__call__(Configuration)
        with _client_log_errors() as logged:
            loader.load_and_set(configuration)
        if logged:
            # The client logs a failing exec credential plugin (and a malformed answer from it) and carries on
            # without credentials, which would end in a 401 far from its cause.
            raise ConfigError(
                f'the credential plugin of user "{resolved.user}" failed: {" ".join(logged[0].split())}; '
                "run it by hand to see why, or log in again"
            )
    except ConfigException as error:
        raise ConfigError(f"{what} cannot be used: {error}") from error
    except OSError as error:
        raise ConfigError(f"{what} cannot be used: {error}") from error
    if flags.insecure_skip_tls_verify:
        import warnings

        from urllib3.exceptions import InsecureRequestWarning

        # kubectl says nothing either: the user asked for it; a warning per request would bury the output.
        warnings.simplefilter("ignore", InsecureRequestWarning)
    return ApiClient(configuration=configuration)
