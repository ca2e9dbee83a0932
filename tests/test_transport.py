"""explain's reads over the standard library (kube/transport.py): which kubeconfigs it serves itself and which
it leaves to the official client, that both authenticate against the test API server, and that a plain
read never imports `kubernetes`."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_ds.commands.background import Background
from kubectl_ds.kube.config import KubeFlags, resolve
from kubectl_ds.kube.transport import early_continue as _early_continue
from kubectl_ds.kube.transport import plain_transport
from tests.apiserver import TEST_CA_PEM, ApiServer
from tests.apiserver_tls import _TLS_CERT_PEM, _TLS_KEY_PEM

Obj = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def kubeconfig(tmp_path: Path, cluster: Obj, user: Obj) -> Path:
    path = tmp_path / "config"
    data = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(data))
    return path


HTTPS = {"server": "https://127.0.0.1:1", "certificate-authority-data": b64(TEST_CA_PEM)}
HTTP = {"server": "http://127.0.0.1:1"}


@pytest.mark.parametrize(
    ("cluster", "user", "environ", "plain"),
    [
        pytest.param(HTTP, {"token": "t"}, {}, True, id="token"),
        pytest.param(HTTPS, {"tokenFile": "token.txt"}, {}, True, id="token-file-relative-to-the-kubeconfig"),
        pytest.param(HTTPS, {"username": "a", "password": "b"}, {}, True, id="basic-auth"),
        pytest.param(
            HTTPS,
            {"client-certificate-data": b64(_TLS_CERT_PEM), "client-key-data": b64(_TLS_KEY_PEM)},
            {},
            True,
            id="client-certificate-data",
        ),
        pytest.param({**HTTPS, "insecure-skip-tls-verify": True}, {"token": "t"}, {}, True, id="insecure"),
        pytest.param(
            HTTP,
            {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "x"}},
            {},
            False,
            id="exec-plugin-left-to-the-client",
        ),  # fmt: skip
        pytest.param(HTTP, {"auth-provider": {"name": "oidc"}}, {}, False, id="auth-provider-left-to-the-client"),
        pytest.param(HTTP, {"token": "t", "as": "someone"}, {}, False, id="impersonation-left-to-the-client"),
        pytest.param({**HTTP, "proxy-url": "http://proxy:3128"}, {"token": "t"}, {}, False, id="proxy-url"),
        pytest.param({**HTTPS, "tls-server-name": "api"}, {"token": "t"}, {}, False, id="tls-server-name"),
        pytest.param(HTTP, {"token": "t"}, {"HTTPS_PROXY": "http://proxy:3128"}, False, id="proxy-environment"),
        pytest.param(HTTPS, {"client-key-data": "not base64!"}, {}, False, id="unreadable-left-to-the-client"),
    ],
)
def test_plain_reads_serve_plain_credentials_and_leave_the_rest_to_the_client(
    tmp_path: Path, cluster: Obj, user: Obj, environ: dict[str, str], plain: bool
) -> None:
    (tmp_path / "token.txt").write_text("t\n")
    flags = KubeFlags(kubeconfig=str(kubeconfig(tmp_path, cluster, user)))
    assert (plain_transport(flags, resolve(flags, environ={}), environ) is not None) is plain


def test_a_token_file_is_read_relative_to_its_kubeconfig_and_sent_over_tls(tmp_path: Path) -> None:
    with ApiServer() as server:
        server.add({"kind": "Node", "metadata": {"name": "n1"}})
        (tmp_path / "token.txt").write_text(server.token + "\n")
        path = kubeconfig(tmp_path, {**HTTPS, "server": server.https_url}, {"tokenFile": "token.txt"})
        flags = KubeFlags(kubeconfig=str(path))
        transport = plain_transport(flags, resolve(flags, environ={}), {})
        assert transport is not None
        answer = transport.get("/api/v1/nodes", [("limit", "10")], timeout=10)
        assert (answer.status, [item["metadata"]["name"] for item in json.loads(answer.body)["items"]]) == (200, ["n1"])
        assert transport.get("/api/v1/nodes", [], timeout=10).status == 200  # the kept-alive connection again


def run_explain(kubeconfig_path: str) -> subprocess.CompletedProcess[str]:
    probe = (
        "import sys\n"
        "from kubectl_ds.cli import run_cli\n"
        "code = run_cli(sys.argv[1:])\n"
        "print('kubernetes imported:', 'kubernetes' in sys.modules, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    command = [sys.executable, "-c", probe, "explain", "agent", "-o", "json", "--kubeconfig", kubeconfig_path]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)


def seed(server: ApiServer) -> None:
    labels = {"app": "agent"}
    server.add({"kind": "Node", "metadata": {"name": "n1"}, "status": {"allocatable": {"pods": "10"}}})
    server.add(
        {
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "default"},
            "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {}}},
        }
    )


def test_explain_with_a_token_never_imports_the_client(tmp_path: Path) -> None:
    with ApiServer() as server:
        seed(server)
        result = run_explain(server.write_kubeconfig(tmp_path / "kc", tls=True))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["nodes"] == 1
    assert result.stderr.strip() == "kubernetes imported: False"


def test_explain_with_an_exec_plugin_authenticates_through_the_client(tmp_path: Path) -> None:
    with ApiServer() as server:
        seed(server)
        plugin = tmp_path / "plugin.py"
        credential = {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "kind": "ExecCredential",
            "status": {"token": server.token},
        }
        plugin.write_text(f"import json\nprint(json.dumps({credential!r}))\n")
        exec_user = {
            "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                     "args": [str(plugin)]}
        }  # fmt: skip
        path = kubeconfig(tmp_path, {"server": server.url}, exec_user)
        result = run_explain(str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["nodes"] == 1
    assert result.stderr.strip() == "kubernetes imported: True"


@pytest.mark.parametrize(
    ("body", "token"),
    [
        pytest.param(
            b'{"kind":"NodeList","metadata":{"resourceVersion":"5","continue":"abc"},"items":[{}]}',
            "abc",
            id="metadata-before-items-as-the-api-server-writes-it",
        ),  # fmt: skip
        pytest.param(b'{"kind": "NodeList", "metadata": {"resourceVersion": "5"}, "items": []}', "", id="last-page"),
        pytest.param(
            b'{"items":[{"metadata":{"name":"n","continue":"x"}}],"metadata":{"continue":"abc"}}',
            "",
            id="items-first-left-to-the-decoded-page",
        ),  # fmt: skip
        pytest.param(b'{"metadata":{"continue":"ab', "", id="cut-short"),
        pytest.param(b"<html>", "", id="not-json"),
    ],
)
def test_the_next_page_is_asked_for_from_the_head_of_the_body(body: bytes, token: str) -> None:
    assert _early_continue(body) == token


def test_a_kept_alive_connection_the_server_dropped_is_tried_once_more(tmp_path: Path) -> None:
    """A GET is idempotent: a reused connection that the server closed (here: dropped without an answer) is
    reopened once, as urllib3 does; a second drop in a row is the caller's error."""
    with ApiServer() as server:
        server.add({"kind": "Node", "metadata": {"name": "n1"}})
        flags = KubeFlags(kubeconfig=server.write_kubeconfig(tmp_path / "kc"))
        transport = plain_transport(flags, resolve(flags, environ={}), {})
        assert transport is not None
        assert transport.get("/api/v1/nodes", [], timeout=10).status == 200
        server.inject_fault(status="drop", path_contains="/api/v1/nodes")
        assert transport.get("/api/v1/nodes", [], timeout=10).status == 200
        server.inject_fault(status="drop", count=2, path_contains="/api/v1/nodes")
        with pytest.raises(ConnectionError):
            transport.get("/api/v1/nodes", [], timeout=10)


def test_background_hands_over_the_result_or_the_error() -> None:
    def fail() -> int:
        raise LookupError("gone")

    assert Background(lambda: 42).result() == 42
    with pytest.raises(LookupError, match="gone"):
        Background(fail).result()
