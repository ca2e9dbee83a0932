"""`kubectl ds explain` end to end: CLI → kube adapter → official client → real HTTP → tests/apiserver.py.

Pins the live path (same answer as from a dump), what is fetched and when, kubectl's connection flags,
and the one-line error for every way the cluster can fail us.
"""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver import ApiServer
from tests.conftest import EXAMPLE_DUMP, Invoke

EXAMPLE = yaml.safe_load(EXAMPLE_DUMP.read_text())["items"]


@pytest.fixture
def cluster(apiserver: ApiServer, tmp_path: Path) -> tuple[ApiServer, str]:
    apiserver.load(copy.deepcopy(EXAMPLE))
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kubeconfig"), namespace="logging")
    apiserver.reset_requests()
    return apiserver, kubeconfig


def healthy_cluster(server: ApiServer, nodes: int) -> None:
    """`nodes` nodes, each with a ready, up-to-date pod of default/agent."""
    uid = "agent-uid"
    labels = {"app": "agent"}
    server.add(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "default", "uid": uid},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "a", "image": "agent:1"}]},
                },
            },
        }
    )
    owner = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": uid, "controller": True}]
    server.add(
        {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "revision": 1,
            "metadata": {
                "name": "agent-abc",
                "namespace": "default",
                "ownerReferences": owner,
                "labels": {**labels, "controller-revision-hash": "abc"},
            },
        }
    )
    for i in range(nodes):
        server.add(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"n{i}"},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
        )
        server.add(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"agent-{i}",
                    "namespace": "default",
                    "ownerReferences": owner,
                    "labels": {**labels, "controller-revision-hash": "abc"},
                },
                "spec": {"nodeName": f"n{i}", "containers": [{"name": "a", "image": "agent:1"}]},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
            }
        )


def as_json(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_live_answer_equals_the_dump_answer(invoke: Invoke, cluster: tuple[ApiServer, str]) -> None:
    _, kubeconfig = cluster
    live = as_json(invoke("explain", "fluentd", "--kubeconfig", kubeconfig, "-o", "json"))
    offline = as_json(invoke("explain", "fluentd", "-n", "logging", "--from-file", str(EXAMPLE_DUMP), "-o", "json"))
    assert live == offline


def test_reads_only_and_fetches_other_pods_and_events_once_when_needed(
    invoke: Invoke, cluster: tuple[ApiServer, str]
) -> None:
    server, kubeconfig = cluster
    invoke("explain", "fluentd", "--kubeconfig", kubeconfig)
    calls = [(request.method, request.path, request.query.get("fieldSelector", "")) for request in server.requests]
    # The first four overlap (their order is the threads'); events and other pods follow what they showed.
    assert sorted(calls[:4]) == [
        ("GET", "/api/v1/namespaces/logging/pods", ""),
        ("GET", "/api/v1/nodes", ""),
        ("GET", "/apis/apps/v1/namespaces/logging/controllerrevisions", ""),
        ("GET", "/apis/apps/v1/namespaces/logging/daemonsets/fluentd", ""),
    ]
    assert calls[4:] == [
        ("GET", "/api/v1/namespaces/logging/events", "involvedObject.kind=Pod,reason=FailedScheduling"),
        ("GET", "/api/v1/pods", "status.phase!=Succeeded,status.phase!=Failed"),
    ]


@pytest.mark.parametrize("nodes", [3, 40])
def test_healthy_cluster_needs_four_requests_whatever_the_node_count(
    invoke: Invoke, apiserver: ApiServer, tmp_path: Path, nodes: int
) -> None:
    healthy_cluster(apiserver, nodes)
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kc"))
    apiserver.reset_requests()
    data = as_json(invoke("explain", "agent", "--kubeconfig", kubeconfig, "-o", "json"))
    assert data["summary"]["status"]["numberAvailable"] == nodes
    assert len(apiserver.requests) == 4


def test_lists_follow_continue_tokens(invoke: Invoke, tmp_path: Path, isolated_env: Path) -> None:
    server = ApiServer(page_size_cap=7).start()
    try:
        healthy_cluster(server, 20)
        kubeconfig = server.write_kubeconfig(str(tmp_path / "kc"))
        server.reset_requests()
        data = as_json(invoke("explain", "agent", "--kubeconfig", kubeconfig, "-o", "json"))
        node_pages = [r for r in server.requests if r.path == "/api/v1/nodes"]
    finally:
        server.stop()
    assert data["summary"]["nodes"] == 20
    assert len(node_pages) == 3
    assert [bool(r.query.get("continue")) for r in node_pages] == [False, True, True]


def test_kube_flags_before_the_subcommand(invoke: Invoke, cluster: tuple[ApiServer, str]) -> None:
    _, kubeconfig = cluster
    result = invoke("--kubeconfig", kubeconfig, "-n", "logging", "explain", "fluentd", "--node", "win-1")
    assert result.exit_code == 0
    assert "nodeSelector kubernetes.io/os=linux: node has kubernetes.io/os=windows" in result.stdout


def test_namespace_flag_beats_the_context_namespace(invoke: Invoke, cluster: tuple[ApiServer, str]) -> None:
    _, kubeconfig = cluster
    result = invoke("explain", "fluentd", "--kubeconfig", kubeconfig, "-n", "default")
    assert (result.exit_code, result.stderr) == (1, 'error: daemonset "fluentd" not found in namespace "default"\n')


def test_kubeconfig_env_path_list_and_context_flag(
    invoke: Invoke, cluster: tuple[ApiServer, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = cluster
    first = server.write_kubeconfig(str(tmp_path / "first"), context="broken", token="wrong")
    # Distinct user names: like kubectl, the first file that names a user wins.
    second = server.write_kubeconfig(str(tmp_path / "second"), context="good", namespace="logging", user="good-user")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    assert invoke("explain", "fluentd").exit_code == 1  # current-context comes from the first file: "broken"
    result = invoke("explain", "fluentd", "--context", "good", "--node", "node-1")
    assert result.exit_code == 0 and "fluentd-1abc" in result.stdout


def test_unknown_context(invoke: Invoke, cluster: tuple[ApiServer, str]) -> None:
    _, kubeconfig = cluster
    result = invoke("explain", "fluentd", "--kubeconfig", kubeconfig, "--context", "prod")
    assert (result.exit_code, result.stderr) == (
        1,
        'error: context "prod" not found in the kubeconfig (contexts: test); kubectl config get-contexts lists them\n',
    )


def test_unreadable_kubeconfig(invoke: Invoke, tmp_path: Path) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text("clusters: [\n")
    result = invoke("explain", "fluentd", "--kubeconfig", str(broken))
    assert result.exit_code == 1
    assert result.stderr.startswith(f'error: kubeconfig "{broken}" is not valid YAML: ')
    assert result.stderr.count("\n") == 1


def test_missing_kubeconfig(invoke: Invoke, isolated_env: Path) -> None:
    result = invoke("explain", "fluentd")
    assert (result.exit_code, result.stderr) == (
        1,
        "error: no kubeconfig found: set KUBECONFIG or pass --kubeconfig (looked in ~/.kube/config)\n",
    )


def test_unreachable_server(invoke: Invoke, apiserver: ApiServer, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kc"))
    text = Path(kubeconfig).read_text().replace(apiserver.url, f"http://127.0.0.1:{port}")
    Path(kubeconfig).write_text(text)
    result = invoke("explain", "fluentd", "--kubeconfig", kubeconfig)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach the API server at http://127.0.0.1:{port}: ")
    assert result.stderr.endswith("check that the cluster is running and the kubeconfig context points at it\n")
    assert "Traceback" not in result.stderr


def test_bad_credentials(invoke: Invoke, cluster: tuple[ApiServer, str], tmp_path: Path) -> None:
    server, _ = cluster
    kubeconfig = server.write_kubeconfig(str(tmp_path / "kc"), token="expired")
    result = invoke("explain", "fluentd", "--kubeconfig", kubeconfig, "-n", "logging")
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: the API server at {server.url} rejected the credentials (401 Unauthorized); log in again or "
        "refresh the kubeconfig's token\n",
    )


def test_forbidden_daemonset_names_verb_and_resource(invoke: Invoke, cluster: tuple[ApiServer, str]) -> None:
    server, kubeconfig = cluster
    server.deny("get", "daemonsets", "logging")
    result = invoke("explain", "fluentd", "--kubeconfig", kubeconfig)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        'error: forbidden: RBAC does not allow you to get daemonsets in namespace "logging" ('
    )
    assert result.stderr.endswith("); ask for 'get' on daemonsets\n")


def test_forbidden_pods_still_prints_verdicts(invoke: Invoke, cluster: tuple[ApiServer, str]) -> None:
    server, kubeconfig = cluster
    server.deny("list", "pods", "logging")
    result = invoke("explain", "fluentd", "--kubeconfig", kubeconfig)
    assert result.exit_code == 0
    assert "nodeSelector kubernetes.io/os=linux: node has kubernetes.io/os=windows" in result.stdout
    assert (
        "Note: pod states left out: forbidden: RBAC does not allow you to list pods in namespace "
        '"logging"' in result.stdout
    )


def test_forbidden_events_and_cluster_pods_are_left_out_with_a_note(
    invoke: Invoke, cluster: tuple[ApiServer, str]
) -> None:
    server, kubeconfig = cluster
    server.deny("list", "events", "logging")
    server.deny("list", "pods", "kube-system")  # takes away the cluster-wide list, not the one in logging
    data = as_json(invoke("explain", "fluentd", "--kubeconfig", kubeconfig, "-o", "json"))
    assert [note.split(":")[0] for note in data["omitted"]] == [
        "scheduler events left out",
        "resource and host-port checks left out",
    ]
    node7 = next(node for node in data["nodes"] if node["name"] == "node-7")
    assert [reason["code"] for reason in node7["reasons"]] == ["FailedScheduling"]


def test_request_timeout(invoke: Invoke, cluster: tuple[ApiServer, str]) -> None:
    server, kubeconfig = cluster
    server.inject_fault(status="timeout", count=10, path_contains="/api/v1/nodes")  # outlast the client's retries
    result = invoke("explain", "fluentd", "--kubeconfig", kubeconfig, "--request-timeout", "500ms")
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: the API server at {server.url} did not answer after 0.5s while trying to list nodes; retry, "
        "or raise --request-timeout\n",
    )


def test_server_error(invoke: Invoke, cluster: tuple[ApiServer, str]) -> None:
    server, kubeconfig = cluster
    server.inject_fault(status=500, path_contains="/api/v1/nodes")
    result = invoke("explain", "fluentd", "--kubeconfig", kubeconfig)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: list nodes failed with HTTP 500")


def test_manifest_what_if_against_live_nodes(invoke: Invoke, cluster: tuple[ApiServer, str], tmp_path: Path) -> None:
    _, kubeconfig = cluster
    daemonset = copy.deepcopy(next(item for item in EXAMPLE if item["kind"] == "DaemonSet"))
    daemonset["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] = "3Gi"
    manifest = tmp_path / "fluentd.yaml"
    manifest.write_text(yaml.safe_dump(daemonset))
    data = as_json(invoke("explain", "-f", str(manifest), "--kubeconfig", kubeconfig, "-o", "json"))
    short = {node["name"]: [r["code"] for r in node["reasons"]] for node in data["nodes"]}
    # 3Gi does not fit next to postgres on the 2Gi node-7; the 8Gi nodes still fit it.
    assert "InsufficientResources" in short["node-7"]
    assert "InsufficientResources" not in short["node-1"]


def test_user_and_cluster_flags_override_the_context(
    invoke: Invoke, cluster: tuple[ApiServer, str], tmp_path: Path
) -> None:
    server, _ = cluster
    path = Path(server.write_kubeconfig(str(tmp_path / "kc"), token="expired", namespace="logging"))
    config = yaml.safe_load(path.read_text())
    config["users"].append({"name": "admin", "user": {"token": "test-token"}})
    config["clusters"].append({"name": "live", "cluster": {"server": server.url}})
    config["clusters"][0]["cluster"]["server"] = "http://127.0.0.1:9"  # the context's own cluster is dead
    path.write_text(yaml.safe_dump(config))
    assert invoke("explain", "fluentd", "--kubeconfig", str(path)).exit_code == 1
    result = invoke(
        "explain", "fluentd", "--kubeconfig", str(path), "--user", "admin", "--cluster", "live", "--node", "node-1"
    )
    assert result.exit_code == 0, result.stderr
    assert "fluentd-1abc" in result.stdout
    unknown = invoke("explain", "fluentd", "--kubeconfig", str(path), "--user", "nobody")
    assert (unknown.exit_code, unknown.stderr) == (1, 'error: user "nobody" not found in the kubeconfig\n')


def test_a_server_that_does_not_speak_json(invoke: Invoke, tmp_path: Path, isolated_env: Path) -> None:
    import http.server
    import threading

    class Html(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>login</html>")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    try:
        result = invoke("explain", "fluentd", "--kubeconfig", str(kubeconfig))
    finally:
        server.shutdown()
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: the API server at {url} answered get daemonsets with something that is not JSON; is the "
        "kubeconfig's server address right?\n",
    )


def test_kubeconfig_cluster_without_a_server(invoke: Invoke, tmp_path: Path, isolated_env: Path) -> None:
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    result = invoke("explain", "x", "--kubeconfig", str(kubeconfig))
    assert (result.exit_code, result.stderr) == (
        1,
        'error: cluster "c" in the kubeconfig has no server address (https://...); fix the kubeconfig or pick '
        "another context with --context\n",
    )
