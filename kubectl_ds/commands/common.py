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

_KUBE_FLAG_NAMES = ("kubeconfig", "context", "cluster", "user", "namespace", "request_timeout")


def kube_flag_options(func: F) -> F:
    """Add --kubeconfig, --context, --cluster, --user, -n/--namespace and --request-timeout."""
    options = [
        click.option(
            "--kubeconfig",
            metavar="PATH",
            help="Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).",
        ),
        click.option("--context", metavar="NAME", help="The kubeconfig context to use."),
        click.option("--cluster", metavar="NAME", help="The kubeconfig cluster to use."),
        click.option("--user", metavar="NAME", help="The kubeconfig user to use."),
        click.option(
            "-n",
            "--namespace",
            metavar="NS",
            help="Namespace of the DaemonSet (default: the context's namespace, else default).",
        ),
        click.option(
            "--request-timeout",
            metavar="DURATION",
            help="Time to wait for each API request, e.g. 30s, 2m or 10 (seconds); 0 waits forever.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
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
    """KubeFlags from the group's flags overridden by the subcommand's."""
    from kubectl_ds.kube.config import KubeFlags

    group: dict[str, Any] = ctx.find_root().params or {}
    values = {name: local.get(name) if local.get(name) is not None else group.get(name) for name in _KUBE_FLAG_NAMES}
    timeout = values.pop("request_timeout")
    seconds = parse_duration(timeout, flag="--request-timeout") if timeout else None
    return KubeFlags(request_timeout=seconds or None, **values)


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
    """A ClusterReader: the dump in `from_files` (offline), else the cluster the kubeconfig names; and the
    namespace a namespaced command uses (-n, else the context's, else "default")."""
    if from_files:
        from kubectl_ds.kube.dump import DumpReader

        return DumpReader.from_files(from_files), flags.namespace or "default"
    from kubectl_ds.kube.cluster import Cluster
    from kubectl_ds.kube.config import resolve

    resolved = resolve(flags)
    return Cluster.connect(flags, resolved), resolved.namespace


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
