"""`--from-file` reads what people have: every format is generated here from the test API server's own list
responses (items without kind, as a real API server serves them), so the fixtures are what kubectl would have
written, and the answer must be the one the live cluster gives."""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver import ApiServer
from tests.conftest import EXAMPLE_DUMP, Invoke

EXAMPLE = yaml.safe_load(EXAMPLE_DUMP.read_text())["items"]
NAMESPACES = sorted({item["metadata"]["namespace"] for item in EXAMPLE if item["metadata"].get("namespace")})
# What `kubectl cluster-info dump` writes for each namespace, in its order (clusterinfo_dump.go Run).
DUMP_LISTS = (
    ("events", "/api/v1/namespaces/{ns}/events"),
    ("replication-controllers", "/api/v1/namespaces/{ns}/replicationcontrollers"),
    ("services", "/api/v1/namespaces/{ns}/services"),
    ("daemonsets", "/apis/apps/v1/namespaces/{ns}/daemonsets"),
    ("deployments", "/apis/apps/v1/namespaces/{ns}/deployments"),
    ("replicasets", "/apis/apps/v1/namespaces/{ns}/replicasets"),
    ("pods", "/api/v1/namespaces/{ns}/pods"),
)
LOG_LINES = '{"level":"info","msg":"a log line that is JSON"}\n- also: a line that looks like YAML\n'


@pytest.fixture
def server(apiserver: ApiServer) -> ApiServer:
    apiserver.load(copy.deepcopy(EXAMPLE))
    return apiserver


def api_list(server: ApiServer, path: str) -> dict[str, Any]:
    """A list as the API server answers it (typed list, items without kind or apiVersion)."""
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {server.token}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local test server
        data: dict[str, Any] = json.loads(response.read())
    return data


def known_lists(server: ApiServer, namespace: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The namespace's lists of `kubectl cluster-info dump`, skipping kinds the test server does not serve
    (replication controllers, services, deployments, replica sets: explain ignores them anyway, and the
    stdout test below adds hand-made ones so that skipping them is exercised)."""
    for name, template in DUMP_LISTS:
        try:
            yield name, api_list(server, template.format(ns=namespace))
        except urllib.error.HTTPError as error:
            assert error.code == 404, error
            yield name, {"kind": _list_kind(name), "apiVersion": "v1", "metadata": {}, "items": []}


def _list_kind(name: str) -> str:
    kinds = {"replication-controllers": "ReplicationController", "services": "Service", "deployments": "Deployment"}
    return kinds.get(name, "ReplicaSet") + "List"


def explain_json(invoke: Invoke, *sources: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    args = ["explain", "-n", "logging", "fluentd", "-o", "json", *extra]
    for source in sources:
        args += ["--from-file", source]
    result = invoke(*args)
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def without_revisions(tmp_path: Path) -> str:
    """The example dump without ControllerRevisions, which `kubectl cluster-info dump` does not write."""
    path = tmp_path / "expected.yaml"
    items = [item for item in EXAMPLE if item["kind"] != "ControllerRevision"]
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    return str(path)


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_cluster_info_dump_on_stdout_reads_like_the_objects_it_holds(
    invoke: Invoke, server: ApiServer, tmp_path: Path, output: str
) -> None:
    """Concatenated lists whose items have no kind (indented JSON, or YAML documents that kubectl's printer
    separates with ---), and each pod's logs between them."""
    lists = [api_list(server, "/api/v1/nodes")]
    logs: dict[int, list[str]] = {}
    for namespace in NAMESPACES:
        lists += [listed for _, listed in known_lists(server, namespace)]
        for pod in api_list(server, f"/api/v1/namespaces/{namespace}/pods")["items"]:
            for container in pod["spec"]["containers"]:
                name = f"{namespace}/{pod['metadata']['name']}"
                logs.setdefault(len(lists), []).append(
                    f"==== START logs for container {container['name']} of pod {name} ====\n{LOG_LINES}"
                    f"==== END logs for container {container['name']} of pod {name} ====\n"
                )
    parts = []
    for index, listed in enumerate(lists):
        if output == "json":
            parts.append(json.dumps(listed, indent=4) + "\n")
        else:
            parts.append(("---\n" if index else "") + yaml.safe_dump(listed))
        parts += logs.get(index + 1, [])
    assert sum(len(blocks) for blocks in logs.values()) > 10
    dump = tmp_path / "cluster-info.dump"
    dump.write_text("".join(parts))
    assert explain_json(invoke, str(dump)) == explain_json(invoke, without_revisions(tmp_path))


def test_cluster_info_dump_output_directory(invoke: Invoke, server: ApiServer, tmp_path: Path) -> None:
    """nodes.json at the top, NAMESPACE/<list>.json, NAMESPACE/POD/logs.txt (skipped)."""
    root = tmp_path / "cluster-state"
    root.mkdir()
    (root / "nodes.json").write_text(json.dumps(api_list(server, "/api/v1/nodes"), indent=4))
    for namespace in NAMESPACES:
        (root / namespace).mkdir()
        for name, listed in known_lists(server, namespace):
            (root / namespace / f"{name}.json").write_text(json.dumps(listed, indent=4))
        for pod in api_list(server, f"/api/v1/namespaces/{namespace}/pods")["items"]:
            (root / namespace / pod["metadata"]["name"]).mkdir()
            (root / namespace / pod["metadata"]["name"] / "logs.txt").write_text(LOG_LINES)
    assert explain_json(invoke, str(root)) == explain_json(invoke, without_revisions(tmp_path))


def test_raw_api_list_responses_give_the_live_answer(invoke: Invoke, server: ApiServer, tmp_path: Path) -> None:
    paths = {
        "nodes.json": "/api/v1/nodes",
        "pods.json": "/api/v1/pods",
        "daemonsets.json": "/apis/apps/v1/daemonsets",
        "revisions.json": "/apis/apps/v1/controllerrevisions",
        "events.json": "/api/v1/events",
    }
    files = []
    for name, path in paths.items():
        listed = api_list(server, path)
        assert listed["items"] and all("kind" not in item for item in listed["items"])
        (tmp_path / name).write_text(json.dumps(listed))
        files.append(str(tmp_path / name))
    kubeconfig = server.write_kubeconfig(str(tmp_path / "kubeconfig"), namespace="logging")
    live = invoke("explain", "fluentd", "--kubeconfig", kubeconfig, "-o", "json")
    assert explain_json(invoke, *files) == json.loads(live.stdout)


def test_must_gather_tree_of_yaml(invoke: Invoke, server: ApiServer, tmp_path: Path) -> None:
    """OpenShift must-gather (oc adm inspect): cluster-scoped-resources/core/nodes/NODE.yaml, namespaces/NS/
    core/pods.yaml and apps/daemonsets.yaml lists, each pod again in pods/POD/POD.yaml, other tools' JSON and
    logs beside them."""
    root = tmp_path / "must-gather.local.123" / "quay-io-openshift-must-gather-sha256-abc"
    nodes = root / "cluster-scoped-resources" / "core" / "nodes"
    nodes.mkdir(parents=True)
    for node in api_list(server, "/api/v1/nodes")["items"]:
        (nodes / f"{node['metadata']['name']}.yaml").write_text(
            yaml.safe_dump({"apiVersion": "v1", "kind": "Node"} | node)
        )
    for namespace in NAMESPACES:
        base = root / "namespaces" / namespace
        for group, name, path in (
            ("core", "pods", f"/api/v1/namespaces/{namespace}/pods"),
            ("core", "events", f"/api/v1/namespaces/{namespace}/events"),
            ("apps", "daemonsets", f"/apis/apps/v1/namespaces/{namespace}/daemonsets"),
            ("apps", "controllerrevisions", f"/apis/apps/v1/namespaces/{namespace}/controllerrevisions"),
        ):
            (base / group).mkdir(parents=True, exist_ok=True)
            (base / group / f"{name}.yaml").write_text(yaml.safe_dump(api_list(server, path)))
        for pod in api_list(server, f"/api/v1/namespaces/{namespace}/pods")["items"]:
            pod_dir = base / "pods" / pod["metadata"]["name"]
            (pod_dir / "fluentd" / "fluentd" / "logs").mkdir(parents=True)
            (pod_dir / f"{pod['metadata']['name']}.yaml").write_text(
                yaml.safe_dump({"apiVersion": "v1", "kind": "Pod"} | pod)
            )
            (pod_dir / "fluentd" / "fluentd" / "logs" / "current.log").write_text(LOG_LINES)
    (root / "monitoring").mkdir()
    (root / "monitoring" / "status.json").write_text('{"status": "success", "data": {"uptime": 1}}')
    (root / "timestamp").write_text("2026-12-01 10:00:00\n")
    kubeconfig = server.write_kubeconfig(str(tmp_path / "kubeconfig"), namespace="logging")
    live = invoke("explain", "fluentd", "--kubeconfig", kubeconfig, "-o", "json")
    assert explain_json(invoke, str(tmp_path / "must-gather.local.123")) == json.loads(live.stdout)


def test_the_same_object_twice_keeps_the_newer_copy(invoke: Invoke, tmp_path: Path) -> None:
    """Two copies of one pod (same uid), read at different times: the later resourceVersion is the truth."""
    items = copy.deepcopy(EXAMPLE)
    pod = next(item for item in items if item["kind"] == "Pod" and item["metadata"]["name"] == "fluentd-5abc")
    pod["metadata"] |= {"uid": "pod-5-uid", "resourceVersion": "10"}
    recovered = copy.deepcopy(pod)
    recovered["metadata"]["resourceVersion"] = "11"
    recovered["status"]["containerStatuses"][0] |= {"ready": True, "state": {"running": {}}}
    recovered["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    (tmp_path / "dump.yaml").write_text(yaml.safe_dump({"kind": "List", "items": items}))
    (tmp_path / "later.yaml").write_text(yaml.safe_dump(recovered))
    for order in (["dump.yaml", "later.yaml"], ["later.yaml", "dump.yaml"]):
        data = explain_json(invoke, *(str(tmp_path / name) for name in order), extra=("--node", "node-5"))
        assert data["nodes"][0]["pods"][0]["status"] == "Running", order


def test_a_directory_read_recursively_in_name_order(invoke: Invoke, tmp_path: Path) -> None:
    kinds = sorted({item["kind"] for item in EXAMPLE})
    for index, kind in enumerate(kinds):
        folder = tmp_path / "dump" / f"level-{index}" / kind.lower()
        folder.mkdir(parents=True)
        items = [item for item in EXAMPLE if item["kind"] == kind]
        (folder / "objects.yml").write_text(yaml.safe_dump_all(items))
    (tmp_path / "dump" / ".hidden.yaml").write_text("not: [valid\n")
    assert explain_json(invoke, str(tmp_path / "dump")) == explain_json(invoke, str(EXAMPLE_DUMP))


@pytest.mark.parametrize(
    ("name", "render"),
    [
        pytest.param(
            "flow.yaml",
            lambda items: yaml.safe_dump({"kind": "List", "items": items}, default_flow_style=True),
            id="yaml-flow-style-starting-with-a-brace-is-not-json",
        ),
        pytest.param(
            "bom.json",
            lambda items: "\ufeff" + json.dumps({"kind": "List", "items": items}),
            id="utf8-byte-order-mark-skipped",
        ),
        pytest.param(
            "crlf.yaml", lambda items: yaml.safe_dump_all(items).replace("\n", "\r\n"), id="windows-line-ends"
        ),
    ],
)
def test_text_variants_read_the_same(invoke: Invoke, tmp_path: Path, name: str, render: Any) -> None:
    path = tmp_path / name
    path.write_bytes(render(EXAMPLE).encode("utf-8"))
    assert explain_json(invoke, str(path)) == explain_json(invoke, str(EXAMPLE_DUMP))
