"""I/O. The pods/exec subresource, through the kubernetes client's `stream()`: a WebSocket on which the API server
relays the container's stdout and stderr and, at the end, a metav1.Status with the exit code (the
`v5.channel.k8s.io` / `v4.channel.k8s.io` subprotocols, docs/rules.md#r-pod-exec)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

POLL = 0.5  # seconds between two looks at a running command (and two calls of `tick`)
ERROR_CHANNEL = 3


def exec_in_pod(
    api_client: Any,
    namespace: str,
    pod: str,
    container: str,
    argv: Sequence[str],
    timeout: float,
    tick: Callable[[], None],
) -> tuple[int | None, str]:
    """Run `argv` in `container` of `pod`: (its exit code, None when it still ran after `timeout` seconds and was
    abandoned, -1 when it could not run at all; its stdout and stderr, or why it could not run). `tick` is called
    every POLL seconds while it runs; whatever it raises (a Ctrl-C) closes the stream first."""
    from kubernetes.client import CoreV1Api
    from kubernetes.stream import stream

    try:
        socket = stream(
            CoreV1Api(api_client).connect_get_namespaced_pod_exec,
            pod,
            namespace,
            container=container,
            command=list(argv),
            stdin=False,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
    except Exception as error:  # noqa: BLE001 - the client wraps every handshake failure in one ApiException
        return -1, refusal(error)
    deadline = time.monotonic() + timeout
    try:
        while socket.is_open():
            socket.update(timeout=max(0.0, min(POLL, deadline - time.monotonic())))
            if socket.is_open() and time.monotonic() >= deadline:
                return None, socket.read_all()
            tick()
        return exit_code(socket.read_channel(ERROR_CHANNEL), socket.read_all())
    finally:
        socket.close()


def exit_code(status_text: str, output: str) -> tuple[int, str]:
    """The exit code the error channel's Status gives: 0 on Success, the ExitCode cause on NonZeroExitCode; any
    other failure (the executable not found, the container gone) is -1 with the Status's message."""
    try:
        status = json.loads(status_text) if status_text else {}
    except ValueError:
        return -1, f"{output}{status_text}"
    if status.get("status") == "Success":
        return 0, output
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode" and str(cause.get("message") or "").isdigit():
            return int(cause["message"]), output
    if not status:
        return -1, f"{output}the stream ended without an exit status"
    return -1, f"{output}{status.get('message') or status_text}"


def refusal(error: BaseException) -> str:
    """What the API server answered to the upgrade (403 with its Status message, 400 "pod is not running"...), from
    the client's exception text ("Handshake status 403 Forbidden -+-+- {headers} -+-+- b'{Status}'")."""
    text = str(getattr(error, "reason", None) or error)
    status = re.search(r"Handshake status (\d+)", text)
    message = re.search(r'"message":\s*"((?:[^"\\]|\\.)*)"', text)
    if status and message:
        return f"HTTP {status.group(1)}: {json.loads(chr(34) + message.group(1) + chr(34))}"
    return text
