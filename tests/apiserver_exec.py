"""The test API server's pods/exec subresource, over a WebSocket, as the kubernetes client's `stream()` speaks
it: a GET upgraded to a WebSocket (RFC 6455) with the `v4.channel.k8s.io` subprotocol, in which every binary
message starts with its channel (1 stdout, 2 stderr, 3 the error channel, which carries a metav1.Status at the
end: Success, or Failure with reason NonZeroExitCode and the exit code in details.causes[ExitCode]).

Authorization as the API server does it since 1.35 (KEP-4006, AuthorizePodWebsocketUpgradeCreatePermission, on by
default): the upgrade GET needs `get` on pods/exec (the request's own verb) and `create` as well.

What runs is not a process: the API server has no kubelet and containers to reach. `ApiServer.exec_handler`
(set by a test) answers (exit code, stdout, stderr) for (pod, container, argv); without one every command exits
0 with no output. Deviations from a real API server, none of which the plugin relies on: no stdin, tty or resize
channels (a request asking for stdin is refused), v5 is not offered (the client falls back to v4, as it does
against servers before 1.30), the whole output is sent at once when the command ends (a real one streams it),
and the client's frames after the upgrade are not read (its close frame included): the connection is closed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.apiserver_base import Obj, _Target, bad_request

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from tests.apiserver import ApiServer

ExecHandler = Callable[[Obj, str, list[str]], tuple[int, str, str]]
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
V4_CHANNEL = "v4.channel.k8s.io"
STDOUT, STDERR, ERROR = 1, 2, 3
_BINARY, _CLOSE = 0x2, 0x8


def serve_exec(handler: BaseHTTPRequestHandler, api: ApiServer, target: _Target, query: list[tuple[str, str]]) -> None:
    """One exec request: refused as the real server refuses it, or upgraded and answered."""
    api._authorize("create", target)  # the upgrade GET was authorized as `get` already
    pod = api._api_get(_Target(target.res, target.namespace, target.name, None))
    argv = [value for key, value in query if key == "command"]
    options = dict(query)
    containers = [str(c.get("name")) for c in pod["spec"].get("containers") or []]
    container = options.get("container") or (containers[0] if len(containers) == 1 else "")
    if not argv:
        raise bad_request("you must specify at least 1 command")
    if not container:
        raise bad_request(f"a container name must be specified for pod {target.name}, choose one of: {containers}")
    if container not in containers:
        raise bad_request(f"container {container} is not valid for pod {target.name}")
    if options.get("stdin", "").lower() in ("1", "true"):
        raise bad_request("stdin is not supported by the test API server")
    if (pod.get("status") or {}).get("phase") != "Running":
        raise bad_request(f"unable to upgrade connection: pod {target.name} is not running")
    key = handler.headers.get("Sec-WebSocket-Key")
    offered = [p.strip() for p in (handler.headers.get("Sec-WebSocket-Protocol") or "").split(",")]
    if (handler.headers.get("Upgrade") or "").lower() != "websocket" or not key:
        raise bad_request("Upgrade request required")
    if V4_CHANNEL not in offered:
        raise bad_request(f"unable to upgrade: no supported subprotocol in {offered}")
    accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()  # noqa: S324
    request = getattr(handler, "_request", None)
    if request is not None:  # in the request log, as every answer is
        request.status = 101
        api._record(request)
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept)
    handler.send_header("Sec-WebSocket-Protocol", V4_CHANNEL)
    handler.end_headers()
    code, out, err = api.exec_handler(pod, container, argv) if api.exec_handler else (0, "", "")
    for channel, text in ((STDOUT, out), (STDERR, err)):
        if text:
            handler.wfile.write(frame(_BINARY, bytes([channel]) + text.encode()))
    handler.wfile.write(frame(_BINARY, bytes([ERROR]) + json.dumps(exit_status(code, argv)).encode()))
    handler.wfile.write(frame(_CLOSE, struct.pack("!H", 1000)))
    handler.wfile.flush()
    handler.close_connection = True


def exit_status(code: int, argv: list[str]) -> dict[str, Any]:
    """The Status the kubelet's exec ends with on the error channel (remotecommand's v4 writeStatus)."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {argv}, exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (a server never masks: RFC 6455 section 5.1)."""
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        head += bytes([len(payload)])
    elif len(payload) < 1 << 16:
        head += bytes([126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([127]) + struct.pack("!Q", len(payload))
    return head + payload
