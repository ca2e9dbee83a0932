"""What every command shares: kubectl's connection flags, accepted before and after the subcommand
(kubectl passes everything after `ds` to us and refuses flags before it), durations, and interruption."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import click

from kubectl_ds.errors import Interrupted, UsageError

F = TypeVar("F", bound=Callable[..., Any])

# Set by a Ctrl-C or SIGTERM while a command runs (see interruptible).
INTERRUPTED = threading.Event()

_KUBE_FLAG_NAMES = (
    "kubeconfig",
    "context",
    "cluster",
    "user",
    "namespace",
    "request_timeout",
    "server",
    "token",
    "certificate_authority",
    "client_certificate",
    "client_key",
    "insecure_skip_tls_verify",
    "tls_server_name",
    "impersonate",
    "impersonate_groups",
    "impersonate_uid",
    "disable_compression",
)
CONNECTION = "Connection flags (also before the subcommand)"


class GroupedOption(click.Option):
    """An option that names the help section it is listed under (see GroupedCommand)."""

    def __init__(self, *args: Any, help_group: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_group = help_group


def kube_flag_options(func: F) -> F:
    """Add kubectl's connection flags (genericclioptions.ConfigFlags): --kubeconfig, --context, --cluster,
    --user, -n/--namespace, --request-timeout, -s/--server, --token, --certificate-authority,
    --client-certificate, --client-key, --insecure-skip-tls-verify, --tls-server-name, --as,
    --as-group (repeatable), --as-uid and --disable-compression. Defaults are None (not given), so the
    subcommand's value overrides the group's only when given."""

    def option(*names: str, **kwargs: Any) -> Callable[[F], F]:
        return click.option(*names, cls=GroupedOption, help_group=CONNECTION, **kwargs)

    options = [
        option(
            "--kubeconfig",
            metavar="PATH",
            help="Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).",
        ),
        option("--context", metavar="NAME", help="The kubeconfig context to use."),
        option("--cluster", metavar="NAME", help="The kubeconfig cluster to use."),
        option("--user", metavar="NAME", help="The kubeconfig user to use."),
        option(
            "-n",
            "--namespace",
            metavar="NS",
            help="Namespace of the DaemonSet (default: the context's namespace, else default).",
        ),
        option(
            "--request-timeout",
            metavar="DURATION",
            help="Time to wait for each API request, e.g. 30s, 2m or 10 (seconds); 0 waits forever.",
        ),
        option("-s", "--server", metavar="URL", help="The address and port of the Kubernetes API server."),
        option("--token", metavar="TOKEN", help="Bearer token for authentication to the API server."),
        option("--certificate-authority", metavar="PATH", help="Path to a cert file for the certificate authority."),
        option("--client-certificate", metavar="PATH", help="Path to a client certificate file for TLS."),
        option("--client-key", metavar="PATH", help="Path to a client key file for TLS."),
        option(
            "--insecure-skip-tls-verify",
            is_flag=True,
            default=None,
            help="Do not check the server's certificate (insecure).",
        ),
        option(
            "--tls-server-name",
            metavar="NAME",
            help="Server name to validate the server's certificate against (default: the server's host name).",
        ),
        option("--as", "impersonate", metavar="USER", help="Username to impersonate for the operation."),
        option(
            "--as-group",
            "impersonate_groups",
            multiple=True,
            metavar="GROUP",
            help="Group to impersonate for the operation (repeatable).",
        ),
        option("--as-uid", "impersonate_uid", metavar="UID", help="UID to impersonate for the operation."),
        option(
            "--disable-compression",
            is_flag=True,
            default=None,
            help="Do not ask the server to compress responses.",
        ),
    ]
    for each in reversed(options):
        func = each(func)
    return func


def parse_duration(text: str, *, flag: str) -> float:
    """kubectl-style durations: a plain number of seconds, or a sequence like 1m30s, 500ms, 2h."""
    value = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        raise UsageError(f'invalid duration "{text}" for {flag}; use e.g. 30s, 1m30s or 10')
    return sum(float(number) * units[unit] for number, unit in parts)


def merged_kube_flags(ctx: click.Context, local: dict[str, Any]) -> Any:
    """KubeFlags from the group's flags overridden by the subcommand's; --as-group given on both sides
    adds up, as kubectl's repeatable flags do."""
    from kubectl_ds.kube.config import KubeFlags

    group: dict[str, Any] = ctx.find_root().params or {}
    values: dict[str, Any] = {
        name: local.get(name) if local.get(name) is not None else group.get(name) for name in _KUBE_FLAG_NAMES
    }
    values["impersonate_groups"] = tuple(group.get("impersonate_groups") or ()) + tuple(
        local.get("impersonate_groups") or ()
    )
    for name in ("insecure_skip_tls_verify", "disable_compression"):
        values[name] = bool(values[name])
    timeout = values.pop("request_timeout")
    seconds = parse_duration(timeout, flag="--request-timeout") if timeout else None
    flags = KubeFlags(request_timeout=seconds or None, **values)
    if (flags.impersonate_groups or flags.impersonate_uid) and not flags.impersonate:
        raise UsageError(
            "--as-group and --as-uid need --as USER: "
            "the API server impersonates groups or a UID only together with a user"
        )
    return flags


def pop_kube_flags(params: dict[str, Any]) -> dict[str, Any]:
    return {name: params.pop(name, None) for name in _KUBE_FLAG_NAMES}


def kube_flags(func: F) -> F:
    """The kube connection flags as one option group: adds them, consumes them, and hands the command one
    `kube` value (a KubeFlags, the group's flags overridden by the subcommand's)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **params: Any) -> Any:
        local = pop_kube_flags(params)
        return func(*args, kube=merged_kube_flags(click.get_current_context(), local), **params)

    return kube_flag_options(wrapper)  # type: ignore[return-value]


def open_reader(flags: Any, from_files: tuple[str, ...]) -> tuple[Any, str]:
    """A ClusterReader: the dump in `from_files` (offline), else the cluster the kubeconfig names (read over the
    standard library where the credentials allow: kube/transport.py); and the namespace a namespaced command
    uses (-n, else the context's, else "default")."""
    if from_files:
        from kubectl_ds.kube.dump import DumpReader

        return DumpReader.from_files(from_files), flags.namespace or "default"
    from kubectl_ds.kube.cluster import Cluster
    from kubectl_ds.kube.config import resolve

    resolved = resolve(flags)
    return Cluster.connect(flags, resolved, plain_reads=True), resolved.namespace


def from_file_option(help_text: str) -> Callable[[F], F]:
    """--from-file PATH (repeatable), handed over as `from_files`: read a dump instead of the cluster."""
    return click.option("--from-file", "from_files", multiple=True, metavar="PATH", help=help_text)


def parse_quantity(value: Any) -> Any:
    """Kubernetes quantities through the client's parser (imported only when a check needs it)."""
    from kubectl_ds.kube.quantity import parse_quantity as parse

    return parse(value)


def check_output(output: str, allowed: tuple[str, ...]) -> None:
    if output not in allowed:
        raise UsageError(f'unknown output format "{output}" for -o; use one of: {", ".join(allowed)}')


def interruptible(func: F) -> F:
    """Ctrl-C / SIGTERM become our Interrupted error (exit 130, one line), before click turns them into
    its own Abort with a stray blank line. SIGTERM is routed through KeyboardInterrupt so that a rollout
    cleans up (parks, releases ownership) the same way for both."""
    import functools
    import signal

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        def on_signal(signum: int, frame: Any) -> None:
            # Remembered as well as raised: a KeyboardInterrupt raised while a finalizer runs (a watch stream
            # closed by the garbage collector) is printed and dropped by Python; the rollout's waits check
            # the flag, so the interruption is not lost (rollout/session.py).
            INTERRUPTED.set()
            raise KeyboardInterrupt

        previous = {}
        try:
            for number in (signal.SIGINT, signal.SIGTERM):
                previous[number] = signal.signal(number, on_signal)
        except ValueError:  # not the main thread (embedded use): leave signals alone
            pass
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            INTERRUPTED.clear()

    return wrapper  # type: ignore[return-value]
