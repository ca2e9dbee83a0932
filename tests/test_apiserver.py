"""Pins the fake API server's behaviour through the official client, raw HTTP and a real kubectl."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.apiserver import TEMPLATE_GENERATION, ApiServer, human_duration, strategic_merge_patch

Obj = dict[str, Any]


# --- fixtures and builders ------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ApiServer]:
    with ApiServer() as api:
        yield api


@pytest.fixture
def api_client(server: ApiServer, tmp_path: Path) -> Iterator[client.ApiClient]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    api = config.new_client_from_config(config_file=kubeconfig)
    yield api
    api.close()


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


def node(name: str, **labels: str) -> Obj:
    return {"kind": "Node", "metadata": {"name": name, "labels": labels}}


def pod(
    name: str, namespace: str = "default", node_name: str | None = "n1", phase: str = "Running", **labels: str
) -> Obj:
    spec: Obj = {"containers": [{"name": "app", "image": "app:1"}]}
    if node_name:
        spec["nodeName"] = node_name
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
        "status": {"phase": phase},
    }


def daemonset(name: str, namespace: str = "default", image: str = "agent:1") -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "agent", "image": image}]},
            },
        },
    }


def raw(
    api_client: client.ApiClient,
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    body: Any = None,
    content_type: str | None = None,
) -> tuple[int, Any]:
    """A request through the client's own transport and auth, decoded as plain JSON."""
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    serialized = api_client.param_serialize(
        method=method,
        resource_path=path,
        query_params=query or [],
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(*serialized)
    data = response.read()
    return response.status, json.loads(data) if data else None


def error_body(error: ApiException) -> Obj:
    return json.loads(error.body)


# --- get, list, 404 -------------------------------------------------------------------------------


def test_add_fills_server_metadata(server: ApiServer) -> None:
    stored = server.add(daemonset("agent"))
    meta = stored["metadata"]
    assert meta["uid"] and meta["resourceVersion"] == "1" and meta["generation"] == 1
    assert meta["creationTimestamp"].endswith("Z") and len(meta["creationTimestamp"]) == 20
    assert meta["annotations"][TEMPLATE_GENERATION] == "1"
    assert server.add(pod("p", namespace=""))["metadata"]["namespace"] == "default"
    assert "namespace" not in server.add({"kind": "Node", "metadata": {"name": "n", "namespace": "x"}})["metadata"]
    server.load({"kind": "List", "items": [node("a"), node("b")]})
    assert [n["metadata"]["name"] for n in server.objects("nodes")] == ["a", "b", "n"]
    with pytest.raises(ValueError, match="already exists"):
        server.add(node("a"))


def test_get_list_and_not_found(
    server: ApiServer, core: client.CoreV1Api, apps: client.AppsV1Api, api_client: client.ApiClient
) -> None:
    server.load([node("n1"), pod("b", "kube-system"), pod("a", "kube-system"), pod("z", "default"), daemonset("agent")])
    assert core.read_node("n1").metadata.name == "n1"
    assert apps.read_namespaced_daemon_set("agent", "default").spec.template.spec.containers[0].image == "agent:1"

    status, listed = raw(api_client, "GET", "/api/v1/pods")
    assert status == 200 and listed["kind"] == "PodList" and listed["apiVersion"] == "v1"
    assert listed["metadata"]["resourceVersion"] == server.resource_version
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in listed["items"]] == [
        ("default", "z"),
        ("kube-system", "a"),
        ("kube-system", "b"),
    ]  # etcd key order
    assert "kind" not in listed["items"][0]  # like the real server: only the list carries a kind
    assert raw(api_client, "GET", "/apis/apps/v1/daemonsets")[1]["kind"] == "DaemonSetList"

    with pytest.raises(ApiException) as caught:
        apps.read_namespaced_daemon_set("x", "default")
    assert caught.value.status == 404
    assert error_body(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'daemonsets.apps "x" not found',
        "reason": "NotFound",
        "details": {"name": "x", "group": "apps", "kind": "daemonsets"},
        "code": 404,
    }
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod("a", "default")
    assert error_body(caught.value)["details"] == {"name": "a", "kind": "pods"}


def test_unknown_paths_and_bad_bodies(server: ApiServer, api_client: client.ApiClient) -> None:
    status, body = raw(api_client, "GET", "/apis/apps/v1/pods")
    assert (status, body["reason"], body["message"]) == (
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
    assert raw(api_client, "GET", "/openapi/v2")[0] == 404
    http = urllib3.PoolManager()
    response = http.request(
        "POST",
        f"{server.url}/api/v1/namespaces/default/pods",
        body=b"{not json",
        headers={"Authorization": "Bearer test-token", "Content-Type": "application/json"},
    )
    assert response.status == 400 and json.loads(response.data)["reason"] == "BadRequest"
    status, body = raw(
        api_client,
        "POST",
        "/api/v1/namespaces/default/pods",
        body={"metadata": {"name": "p", "labels": {"on": True}}, "spec": {}},
    )
    assert status == 400 and "cannot unmarshal bool" in body["message"]


def test_discovery(api_client: client.ApiClient) -> None:
    assert raw(api_client, "GET", "/version")[1]["gitVersion"].startswith("v1.")
    assert raw(api_client, "GET", "/apis")[1]["groups"][0]["name"] == "apps"
    core_resources = {r["name"]: r for r in raw(api_client, "GET", "/api/v1")[1]["resources"]}
    assert core_resources["pods"]["shortNames"] == ["po"] and core_resources["nodes"]["shortNames"] == ["no"]
    assert core_resources["nodes"]["namespaced"] is False and "watch" in core_resources["pods"]["verbs"]
    assert core_resources["pods/eviction"]["group"] == "policy"
    apps_resources = {r["name"]: r for r in raw(api_client, "GET", "/apis/apps/v1")[1]["resources"]}
    assert apps_resources["daemonsets"]["shortNames"] == ["ds"] and "daemonsets/status" in apps_resources


# --- selectors and pagination ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", ["a", "b"]),
        ("tier==web", ["a", "b"]),
        ("tier!=web", ["c", "d"]),  # includes nodes without the label
        ("tier in (web, db)", ["a", "b", "c"]),
        ("tier notin (web)", ["c", "d"]),
        ("zone", ["a", "c"]),
        ("!zone", ["b", "d"]),
        ("tier=web,zone", ["a"]),
        ("tier=web,zone=z2", []),
        ("", ["a", "b", "c", "d"]),
    ],
)
def test_label_selectors(server: ApiServer, core: client.CoreV1Api, selector: str, expected: list[str]) -> None:
    server.load([node("a", tier="web", zone="z1"), node("b", tier="web"), node("c", tier="db", zone="z1"), node("d")])
    assert [n.metadata.name for n in core.list_node(label_selector=selector).items] == expected


def test_malformed_label_selector_is_a_bad_request(server: ApiServer, core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.list_node(label_selector="a in b")
    assert caught.value.status == 400 and error_body(caught.value)["reason"] == "BadRequest"


def test_field_selectors(server: ApiServer, core: client.CoreV1Api) -> None:
    server.load(
        [
            pod("a", node_name="n1"),
            pod("b", node_name="n2", phase="Pending"),
            pod("c", "other", node_name=None, phase="Pending"),
            {
                "kind": "Event",
                "metadata": {"name": "e1", "namespace": "default"},
                "reason": "Killing",
                "type": "Normal",
                "involvedObject": {"kind": "Pod", "name": "a", "namespace": "default"},
            },
        ]
    )

    def names(field_selector: str) -> list[str]:
        return [p.metadata.name for p in core.list_pod_for_all_namespaces(field_selector=field_selector).items]

    assert names("spec.nodeName=n1") == ["a"]
    assert names("spec.nodeName==n2") == ["b"]
    assert names("spec.nodeName=") == ["c"]  # unscheduled
    assert names("status.phase!=Running") == ["b", "c"]
    assert names("metadata.namespace=default,status.phase=Pending") == ["b"]
    assert names("metadata.name=c") == ["c"]
    events = core.list_namespaced_event(
        "default", field_selector="involvedObject.kind=Pod,involvedObject.name=a,reason=Killing,type=Normal"
    )
    assert [e.metadata.name for e in events.items] == ["e1"]
    with pytest.raises(ApiException) as caught:
        names("spec.foo=bar")
    assert caught.value.status == 400
    assert error_body(caught.value)["message"] == "field label not supported: spec.foo"


def test_pagination_yields_every_item_once(server: ApiServer, core: client.CoreV1Api) -> None:
    server.load([node(f"n{i}") for i in range(5)])
    pages, token, rvs = [], None, set()
    while True:
        page = core.list_node(limit=2, _continue=token)
        pages.append([n.metadata.name for n in page.items])
        rvs.add(page.metadata.resource_version)
        token = page.metadata._continue
        if not token:
            break
        server.add(node(f"late{len(pages)}"))  # a consistent snapshot: later pages do not see it
    assert pages == [["n0", "n1"], ["n2", "n3"], ["n4"]]
    assert len(rvs) == 1


def test_page_size_cap_forces_smaller_pages(tmp_path: Path) -> None:
    with ApiServer(page_size_cap=2) as api:
        api.load([node(f"n{i}") for i in range(5)])
        with config.new_client_from_config(config_file=api.write_kubeconfig(tmp_path / "k")) as api_client:
            core = client.CoreV1Api(api_client)
            first = core.list_node(limit=500)
            assert len(first.items) == 2 and first.metadata.remaining_item_count == 3
            assert len(core.list_node().items) == 5  # like a real server, no limit means no paging
            assert [n.metadata.name for n in core.list_node(limit=500, _continue=first.metadata._continue).items] == [
                "n2",
                "n3",
            ]


def test_bad_continue_token(server: ApiServer, core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.list_node(limit=1, _continue="garbage")
    assert caught.value.status == 400


# --- authentication and authorization -------------------------------------------------------------


def test_bad_token_is_unauthorized(server: ApiServer, tmp_path: Path) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "k", token="wrong")
    with config.new_client_from_config(config_file=kubeconfig) as api_client, pytest.raises(ApiException) as caught:
        client.CoreV1Api(api_client).list_node()
    assert caught.value.status == 401
    assert error_body(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    assert urllib3.PoolManager().request("GET", f"{server.url}/api/v1/nodes").status == 401


def test_denied_list_is_forbidden_with_the_real_message(server: ApiServer, core: client.CoreV1Api) -> None:
    server.deny("list", "pods", "default")
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod("default")
    assert caught.value.status == 403
    body = error_body(caught.value)
    assert body["message"] == (
        'pods is forbidden: User "test-user" cannot list resource "pods" in API group "" in the namespace "default"'
    )
    assert (body["reason"], body["details"]) == ("Forbidden", {"kind": "pods"})
    with pytest.raises(ApiException) as caught:
        core.list_pod_for_all_namespaces()  # needs cluster-wide rights, which the denial takes away
    assert error_body(caught.value)["message"].endswith('in API group "" at the cluster scope')
    assert core.list_namespaced_pod("kube-system").items == []


def test_denied_get_names_the_object(server: ApiServer, apps: client.AppsV1Api) -> None:
    server.add(daemonset("agent"))
    server.deny("get", "daemonsets")
    with pytest.raises(ApiException) as caught:
        apps.read_namespaced_daemon_set("agent", "default")
    body = error_body(caught.value)
    assert body["message"] == (
        'daemonsets.apps "agent" is forbidden: User "test-user" cannot get resource '
        '"daemonsets" in API group "apps" in the namespace "default"'
    )
    assert body["details"] == {"name": "agent", "group": "apps", "kind": "daemonsets"}
    assert apps.list_namespaced_daemon_set("default").items  # other verbs stay allowed


# --- writes ---------------------------------------------------------------------------------------


def test_create_conflicts_and_update_preconditions(server: ApiServer, apps: client.AppsV1Api) -> None:
    created = apps.create_namespaced_daemon_set("default", daemonset("agent"))
    assert created.metadata.generation == 1 and created.metadata.uid
    assert created.spec.update_strategy.rolling_update.max_unavailable == 1  # defaulted like the real server
    with pytest.raises(ApiException) as caught:
        apps.create_namespaced_daemon_set("default", daemonset("agent"))
    assert (caught.value.status, error_body(caught.value)["reason"]) == (409, "AlreadyExists")
    assert error_body(caught.value)["message"] == 'daemonsets.apps "agent" already exists'

    stale = apps.read_namespaced_daemon_set("agent", "default")
    stale.metadata.labels = {"a": "b"}
    fresh = apps.replace_namespaced_daemon_set("agent", "default", stale)
    assert int(fresh.metadata.resource_version) > int(stale.metadata.resource_version)
    with pytest.raises(ApiException) as caught:
        apps.replace_namespaced_daemon_set("agent", "default", stale)
    assert caught.value.status == 409
    assert error_body(caught.value)["message"] == (
        'Operation cannot be fulfilled on daemonsets.apps "agent": the object has been modified; please apply '
        "your changes to the latest version and try again"
    )
    assert error_body(caught.value)["reason"] == "Conflict"


def test_generate_name_and_invalid_names(server: ApiServer, core: client.CoreV1Api) -> None:
    body = pod("")
    body["metadata"] = {"generateName": "agent-"}
    created = core.create_namespaced_pod("default", body)
    assert created.metadata.name.startswith("agent-") and len(created.metadata.name) == 11
    assert created.status.phase == "Pending"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod("default", pod("Bad_Name"))
    assert (caught.value.status, error_body(caught.value)["reason"]) == (422, "Invalid")


def test_merge_patch(server: ApiServer, apps: client.AppsV1Api) -> None:
    server.add(
        {
            **daemonset("agent"),
            "metadata": {"name": "agent", "namespace": "default", "labels": {"keep": "1", "drop": "1"}},
        }
    )
    patched = apps.patch_namespaced_daemon_set(
        "agent",
        "default",
        {"metadata": {"labels": {"drop": None, "new": "1"}}},
        _content_type="application/merge-patch+json",
    )
    assert patched.metadata.labels == {"keep": "1", "new": "1"}
    # A merge patch replaces lists wholesale.
    patched = apps.patch_namespaced_daemon_set(
        "agent",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "other", "image": "o"}]}}}},
        _content_type="application/merge-patch+json",
    )
    assert [c.name for c in patched.spec.template.spec.containers] == ["other"]


def test_json_patch_and_failing_test_op(server: ApiServer, apps: client.AppsV1Api) -> None:
    server.add(daemonset("agent"))
    patched = apps.patch_namespaced_daemon_set(
        "agent",
        "default",
        [
            {"op": "test", "path": "/spec/template/spec/containers/0/image", "value": "agent:1"},
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "agent:2"},
            {"op": "add", "path": "/metadata/labels", "value": {"a/b": "c"}},
            {"op": "copy", "from": "/metadata/labels/a~1b", "path": "/metadata/labels/d"},
        ],
    )
    assert patched.spec.template.spec.containers[0].image == "agent:2"
    assert patched.metadata.labels == {"a/b": "c", "d": "c"}
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_daemon_set(
            "agent",
            "default",
            [
                {"op": "test", "path": "/spec/template/spec/containers/0/image", "value": "agent:1"},
                {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "agent:3"},
            ],
        )
    assert caught.value.status == 422
    assert error_body(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid",
        "details": {},
        "code": 422,
    }
    assert server.get("ds", "default", "agent")["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:2"


def test_strategic_merge_patch_merges_containers_by_name(server: ApiServer, apps: client.AppsV1Api) -> None:
    ds = daemonset("agent")
    template_spec = ds["spec"]["template"]["spec"]
    template_spec["initContainers"] = [{"name": "init", "image": "init:1"}]
    template_spec["containers"].append({"name": "sidecar", "image": "side:1", "args": ["-a", "-b"]})
    template_spec["tolerations"] = [{"operator": "Exists"}]
    template_spec["nodeSelector"] = {"a": "1", "b": "2"}
    server.add(ds)
    patched = apps.patch_namespaced_daemon_set(
        "agent",
        "default",
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "agent", "image": "agent:2"},
                            {"name": "sidecar", "args": ["-c"]},
                            {"name": "new", "image": "new:1"},
                        ],
                        "initContainers": [{"name": "init", "image": "init:2"}],
                        "tolerations": [{"key": "k", "operator": "Exists"}],
                        "nodeSelector": {"$patch": "replace", "c": "3"},
                    }
                }
            }
        },
    )  # the client's default content type for a dict is strategic merge
    spec = patched.spec.template.spec
    assert [(c.name, c.image, c.args) for c in spec.containers] == [
        ("agent", "agent:2", None),
        ("sidecar", "side:1", ["-c"]),
        ("new", "new:1", None),
    ]
    assert [(c.name, c.image) for c in spec.init_containers] == [("init", "init:2")]
    assert [t.key for t in spec.tolerations] == ["k"]  # lists without a merge key are replaced
    assert spec.node_selector == {"c": "3"}
    patched = apps.patch_namespaced_daemon_set(
        "agent",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "new", "$patch": "delete"}], "nodeSelector": None}}}},
    )
    assert [c.name for c in patched.spec.template.spec.containers] == ["agent", "sidecar"]
    assert patched.spec.template.spec.node_selector is None
    assert server.requests[-1].content_type == "application/strategic-merge-patch+json"


def test_strategic_merge_patch_directives() -> None:
    original = {"metadata": {"finalizers": ["a"]}, "spec": {"strategy": {"type": "X", "x": {"n": 1}}}}
    patched = strategic_merge_patch(
        original,
        {
            "metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {"strategy": {"$retainKeys": ["type"], "type": "Y"}},
        },
    )
    assert patched == {"metadata": {"finalizers": ["b"]}, "spec": {"strategy": {"type": "Y"}}}


def test_patch_preconditions_and_unsupported_types(
    server: ApiServer, apps: client.AppsV1Api, api_client: client.ApiClient
) -> None:
    stored = server.add(daemonset("agent"))
    server.update_object({**stored, "metadata": {**stored["metadata"], "labels": {"moved": "on"}}})
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_daemon_set(
            "agent",
            "default",
            {"metadata": {"resourceVersion": stored["metadata"]["resourceVersion"], "labels": {"x": "y"}}},
        )
    assert (caught.value.status, error_body(caught.value)["reason"]) == (409, "Conflict")
    current = server.get("daemonsets", "default", "agent")["metadata"]["resourceVersion"]
    apps.patch_namespaced_daemon_set(
        "agent",
        "default",
        {"metadata": {"resourceVersion": current, "labels": {"x": "y"}}},
        _content_type="application/merge-patch+json",
    )
    status, body = raw(
        api_client,
        "PATCH",
        "/apis/apps/v1/namespaces/default/daemonsets/agent",
        body={"metadata": {}},
        content_type="application/apply-patch+yaml",
    )
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")


def test_delete_preconditions(server: ApiServer, core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    stored = server.add(pod("p"))
    for preconditions in ({"uid": "other"}, {"resourceVersion": "999"}):
        with pytest.raises(ApiException) as caught:
            core.delete_namespaced_pod("p", "default", body={"preconditions": preconditions})
        assert (caught.value.status, error_body(caught.value)["reason"]) == (409, "Conflict")
        assert "Precondition failed" in error_body(caught.value)["message"]
    deleted = core.delete_namespaced_pod(
        "p",
        "default",
        body={
            "preconditions": {
                "uid": stored["metadata"]["uid"],
                "resourceVersion": stored["metadata"]["resourceVersion"],
            }
        },
    )
    assert deleted.metadata.name == "p" and server.get("pods", "default", "p") is None
    server.add(daemonset("agent"))
    status = apps.delete_namespaced_daemon_set("agent", "default")
    assert status["status"] == "Success" and status["details"]["kind"] == "daemonsets"  # this client types it `object`
    with pytest.raises(ApiException) as caught:
        apps.delete_namespaced_daemon_set("agent", "default")
    assert caught.value.status == 404


def test_graceful_pod_deletion_leaves_removal_to_the_test(tmp_path: Path) -> None:
    with ApiServer(graceful_pod_deletion=True) as api:
        api.load([pod("running"), pod("unscheduled", node_name=None)])
        with config.new_client_from_config(config_file=api.write_kubeconfig(tmp_path / "k")) as api_client:
            core = client.CoreV1Api(api_client)
            terminating = core.delete_namespaced_pod("running", "default")
            assert terminating.metadata.deletion_timestamp is not None
            assert terminating.metadata.deletion_grace_period_seconds == 30
            assert api.get("pods", "default", "running")["metadata"]["deletionTimestamp"]
            core.delete_namespaced_pod("unscheduled", "default")  # never scheduled: goes at once
            assert api.get("pods", "default", "unscheduled") is None
            api.delete_object("pods", "default", "running")  # the kubelet's final word
            assert api.objects("pods") == []


def test_finalizers_hold_deletion_until_removed(server: ApiServer, apps: client.AppsV1Api) -> None:
    server.add({**daemonset("agent"), "metadata": {"name": "agent", "finalizers": ["example.com/x"]}})
    apps.delete_namespaced_daemon_set("agent", "default")
    held = server.get("ds", "default", "agent")
    assert held["metadata"]["deletionTimestamp"]
    apps.patch_namespaced_daemon_set(
        "agent", "default", {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    assert server.get("ds", "default", "agent") is None


def test_daemonset_generations(server: ApiServer, apps: client.AppsV1Api) -> None:
    created = apps.create_namespaced_daemon_set("default", daemonset("agent"))
    assert (created.metadata.generation, created.metadata.annotations[TEMPLATE_GENERATION]) == (1, "1")

    def patch(body: Obj) -> tuple[int, str]:
        result = apps.patch_namespaced_daemon_set("agent", "default", body)
        return result.metadata.generation, result.metadata.annotations[TEMPLATE_GENERATION]

    assert patch({"metadata": {"labels": {"a": "b"}}}) == (1, "1")
    assert patch({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 2}}}}) == (2, "1")
    assert patch({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:2"}]}}}}) == (3, "2")
    assert patch({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:2"}]}}}}) == (3, "2")
    before = server.resource_version
    assert patch({"metadata": {"labels": {"a": "b"}}}) == (3, "2")
    assert server.resource_version == before  # a no-op write bumps nothing, as on a real server

    # status is a subresource: written only there, never through the main resource.
    ds = apps.read_namespaced_daemon_set("agent", "default")
    ds.status.number_ready = 5
    assert apps.replace_namespaced_daemon_set("agent", "default", ds).status.number_ready == 0
    ds = apps.read_namespaced_daemon_set("agent", "default")
    ds.status.number_ready = 5
    ds.spec.min_ready_seconds = 30
    updated = apps.replace_namespaced_daemon_set_status("agent", "default", ds)
    assert (updated.status.number_ready, updated.spec.min_ready_seconds, updated.metadata.generation) == (5, None, 3)
    patched = apps.patch_namespaced_daemon_set_status("agent", "default", {"status": {"observedGeneration": 3}})
    assert patched.status.observed_generation == 3 and patched.status.number_ready == 5
    assert apps.read_namespaced_daemon_set_status("agent", "default").status.number_ready == 5


def test_server_side_update_bumps_generation_and_keeps_identity(server: ApiServer) -> None:
    stored = server.add(daemonset("agent"))
    changed = json.loads(json.dumps(stored))
    changed["metadata"]["uid"] = "forged"
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:9"
    changed["status"] = {"numberReady": 1}
    updated = server.update_object(changed)
    assert updated["metadata"]["uid"] == stored["metadata"]["uid"]
    assert (updated["metadata"]["generation"], updated["metadata"]["annotations"][TEMPLATE_GENERATION]) == (2, "2")
    assert updated["status"] == {"numberReady": 1}  # server-side writes may set status
    with pytest.raises(KeyError):
        server.update_object(daemonset("missing"))


# --- eviction -------------------------------------------------------------------------------------


def eviction(name: str) -> Obj:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}


def test_eviction_deletes_the_pod(server: ApiServer, core: client.CoreV1Api) -> None:
    server.add(pod("p"))
    core.create_namespaced_pod_eviction("p", "default", eviction("p"))
    assert server.get("pods", "default", "p") is None
    assert server.requests[-1].status == 201
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod_eviction("p", "default", eviction("p"))
    assert caught.value.status == 404


def test_eviction_can_be_denied_or_blocked(server: ApiServer, core: client.CoreV1Api) -> None:
    server.add(pod("p"))
    server.deny("create", "pods/eviction")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod_eviction("p", "default", eviction("p"))
    assert error_body(caught.value)["message"] == (
        'pods "p" is forbidden: User "test-user" cannot create resource "pods/eviction" in API group "" '
        'in the namespace "default"'
    )
    server.clear_denials()
    server.inject_fault(status=429, path_contains="/eviction")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod_eviction("p", "default", eviction("p"))
    assert caught.value.status == 429
    assert "disruption budget" in error_body(caught.value)["message"]
    core.create_namespaced_pod_eviction("p", "default", eviction("p"))
    assert server.get("pods", "default", "p") is None


# --- watches --------------------------------------------------------------------------------------


def test_watch_delivers_changes_in_order(server: ApiServer, core: client.CoreV1Api) -> None:
    start = server.resource_version
    created = core.create_namespaced_pod("default", pod("p"))
    seen: list[tuple[str, str]] = []
    stream = watch.Watch()

    def writer() -> None:
        time.sleep(0.1)  # after the watch has caught up: these arrive live
        core.patch_namespaced_pod("p", "default", {"metadata": {"labels": {"a": "b"}}})
        core.delete_namespaced_pod("p", "default")

    thread = threading.Thread(target=writer)
    thread.start()
    for event in stream.stream(core.list_namespaced_pod, "default", resource_version=start, timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.resource_version))
        if event["type"] == "DELETED":
            stream.stop()
    thread.join()
    assert [kind for kind, _ in seen] == ["ADDED", "MODIFIED", "DELETED"]
    assert seen[0][1] == created.metadata.resource_version
    assert [int(rv) for _, rv in seen] == sorted(int(rv) for _, rv in seen)


def test_watch_without_resource_version_starts_with_current_state(server: ApiServer, core: client.CoreV1Api) -> None:
    server.load([node("a"), node("b")])
    events = list(watch.Watch().stream(core.list_node, timeout_seconds=1, _request_timeout=5))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_too_old_resource_version_is_gone(server: ApiServer, core: client.CoreV1Api) -> None:
    server.add(node("a"))
    server.add(node("b"))
    server.compact()
    with pytest.raises(ApiException) as caught:
        list(watch.Watch().stream(core.list_node, resource_version="1", timeout_seconds=1))
    assert caught.value.status == 410
    assert "too old resource version: 1 (3)" in caught.value.reason


def test_watch_history_is_bounded(tmp_path: Path) -> None:
    with ApiServer(watch_history=3) as api:
        for i in range(5):
            api.add(node(f"n{i}"))
        headers = {"Authorization": "Bearer test-token"}
        http = urllib3.PoolManager()
        late = (
            http.request("GET", f"{api.url}/api/v1/nodes?watch=1&resourceVersion=2&timeoutSeconds=1", headers=headers)
            .data.decode()
            .splitlines()
        )
        assert [json.loads(line)["object"]["metadata"]["name"] for line in late] == ["n2", "n3", "n4"]
        gone = json.loads(
            http.request("GET", f"{api.url}/api/v1/nodes?watch=1&resourceVersion=1", headers=headers).data
        )
        assert gone["type"] == "ERROR" and gone["object"]["code"] == 410


def test_raw_watch_stream_is_chunked_and_honours_selectors_and_timeout(server: ApiServer) -> None:
    server.load([pod("in", app="x"), pod("out", app="y")])
    start = server.resource_version
    http = urllib3.PoolManager()
    began = time.monotonic()
    response = http.request(
        "GET",
        f"{server.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion={start}"
        "&labelSelector=app%3Dx&timeoutSeconds=1",
        headers={"Authorization": "Bearer test-token"},
        preload_content=False,
    )
    assert response.status == 200 and response.headers["Transfer-Encoding"] == "chunked"

    def relabel(name: str, app: str) -> None:
        current = server.get("pods", "default", name)
        assert current is not None
        current["metadata"]["labels"]["app"] = app
        server.update_object(current)

    relabel("in", "z")  # leaves the selection: DELETED
    relabel("out", "x")  # enters it: ADDED
    server.delete_object("pods", "default", "out")
    lines = [json.loads(line) for line in response.stream() for line in line.splitlines() if line.strip()]
    response.release_conn()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [
        ("DELETED", "in"),
        ("ADDED", "out"),
        ("DELETED", "out"),
    ]
    assert 0.9 < time.monotonic() - began < 3


def test_watch_ends_when_the_server_stops() -> None:
    api = ApiServer().start()
    response = urllib3.PoolManager().request(
        "GET",
        f"{api.url}/api/v1/nodes?watch=1",
        headers={"Authorization": "Bearer test-token"},
        preload_content=False,
        timeout=5,
    )
    began = time.monotonic()
    threading.Timer(0.2, api.stop).start()
    try:
        for _ in response.stream():
            pass
    except (urllib3.exceptions.HTTPError, OSError):
        pass  # cut off rather than ended: fine too, as long as the watch does not hang
    assert 0.15 < time.monotonic() - began < 3


# --- faults ---------------------------------------------------------------------------------------


def test_injected_500_then_success(server: ApiServer, core: client.CoreV1Api) -> None:
    server.add(node("a"))
    server.inject_fault(status=500, method="GET", path_contains="/api/v1/nodes")
    with pytest.raises(ApiException) as caught:
        core.list_node()
    assert caught.value.status == 500 and error_body(caught.value)["reason"] == "InternalError"
    assert [n.metadata.name for n in core.list_node().items] == ["a"]
    assert [r.status for r in server.requests] == [500, 200]


@pytest.mark.parametrize(("code", "reason"), [(409, "Conflict"), (503, "ServiceUnavailable"), (429, "TooManyRequests")])
def test_injected_status_bodies(server: ApiServer, core: client.CoreV1Api, code: int, reason: str) -> None:
    # A PATCH, because urllib3 itself retries a GET answered 429/503 with a Retry-After header.
    server.add(node("a"))
    server.inject_fault(status=code)
    with pytest.raises(ApiException) as caught:
        core.patch_node("a", {"metadata": {"labels": {"x": "y"}}})
    assert (caught.value.status, error_body(caught.value)["reason"], error_body(caught.value)["code"]) == (
        code,
        reason,
        code,
    )
    if code == 409:
        assert error_body(caught.value)["details"] == {"name": "a", "kind": "nodes"}
    if code == 429:
        assert caught.value.headers["Retry-After"] == "1"


def test_injected_timeout(server: ApiServer, core: client.CoreV1Api) -> None:
    server.inject_fault(status="timeout", method="POST")
    began = time.monotonic()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.create_namespaced_pod("default", pod("p"), _request_timeout=0.5)
    assert time.monotonic() - began < 2
    assert server.get("pods", "default", "p") is None and server.requests[-1].status == 0


def test_urllib3_retries_idempotent_requests_after_a_timeout(server: ApiServer, core: client.CoreV1Api) -> None:
    # Worth knowing when testing retries: urllib3 transparently retries a GET whose read timed out.
    server.add(node("a"))
    server.inject_fault(status="timeout", method="GET")
    assert core.read_node("a", _request_timeout=0.3).metadata.name == "a"
    assert [r.status for r in server.requests] == [0, 200]


def test_injected_drop(server: ApiServer, core: client.CoreV1Api) -> None:
    server.inject_fault(status="drop", method="POST", count=1)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        core.create_namespaced_pod("default", pod("p"))
    core.create_namespaced_pod("default", pod("p"))
    assert [r.status for r in server.requests] == [0, 201]


# --- listeners, kubeconfig ------------------------------------------------------------------------


def test_listeners_see_every_change_in_order(server: ApiServer, core: client.CoreV1Api) -> None:
    seen: list[tuple[str, str]] = []

    def controller(event_type: str, obj: Obj) -> None:
        seen.append((event_type, obj["metadata"]["name"]))
        if obj["kind"] == "Pod" and event_type == "ADDED":
            server.add(
                {
                    "kind": "Event",
                    "metadata": {"name": obj["metadata"]["name"] + ".1"},
                    "reason": "Seen",
                    "involvedObject": {"kind": "Pod", "name": obj["metadata"]["name"]},
                }
            )

    server.add_listener(controller)
    core.create_namespaced_pod("default", pod("p"))
    assert seen == [("ADDED", "p"), ("ADDED", "p.1")]  # delivered before the client's call returned
    assert core.read_namespaced_event("p.1", "default").reason == "Seen"
    assert server.listener_errors == []


def test_kubeconfig_contexts(server: ApiServer, tmp_path: Path) -> None:
    path = server.write_kubeconfig(
        tmp_path / "k", namespace="apps", extra_contexts={"other": {"namespace": "kube-system", "token": "nope"}}
    )
    data = yaml.safe_load(Path(path).read_text())
    assert data["current-context"] == "test" and data["clusters"][0]["cluster"]["server"] == server.url
    assert {c["name"]: c["context"].get("namespace") for c in data["contexts"]} == {
        "test": "apps",
        "other": "kube-system",
    }
    with (
        config.new_client_from_config(config_file=path, context="other") as api_client,
        pytest.raises(ApiException) as caught,
    ):
        client.CoreV1Api(api_client).list_node()
    assert caught.value.status == 401
    tls = yaml.safe_load(Path(server.write_kubeconfig(tmp_path / "tls", tls=True)).read_text())
    assert tls["clusters"][0]["cluster"]["server"] == server.https_url
    with config.new_client_from_config(config_file=str(tmp_path / "tls")) as api_client:
        assert client.CoreV1Api(api_client).list_node().items == []  # the Python client verifies the test CA


def test_human_duration() -> None:
    assert [human_duration(s) for s in (5, 150, 3600 * 5 + 60, 3600 * 30, 86400 * 3)] == [
        "5s",
        "2m30s",
        "5h1m",
        "30h",
        "3d",
    ]


# --- kubectl --------------------------------------------------------------------------------------

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


@pytest.fixture
def kubectl(server: ApiServer, tmp_path: Path) -> Any:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", tls=True)  # kubectl sends tokens only over TLS

    def run(*args: str) -> str:
        result = subprocess.run(
            [str(KUBECTL), "--kubeconfig", kubeconfig, "--cache-dir", str(tmp_path / "cache"), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run


@needs_kubectl
def test_kubectl_get_nodes_and_pods(server: ApiServer, kubectl: Any) -> None:
    server.load([node("n1"), pod("a", "kube-system"), pod("b")])
    listed = json.loads(kubectl("get", "nodes,pods", "-A", "-o", "json"))
    assert [(i["kind"], i["metadata"]["name"]) for i in listed["items"]] == [("Node", "n1"), ("Pod", "b"), ("Pod", "a")]
    table = kubectl("get", "pods", "-A", "-o", "wide")
    assert table.split("\n")[0].split()[:4] == ["NAMESPACE", "NAME", "READY", "STATUS"]


@needs_kubectl
def test_kubectl_get_and_patch_daemonset(server: ApiServer, kubectl: Any) -> None:
    server.add(daemonset("agent", "kube-system"))
    shown = yaml.safe_load(kubectl("get", "ds", "-n", "kube-system", "agent", "-o", "yaml"))
    assert shown["kind"] == "DaemonSet" and shown["metadata"]["generation"] == 1
    out = kubectl(
        "patch",
        "ds",
        "agent",
        "-n",
        "kube-system",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"agent","image":"agent:2"}]}}}}',
    )
    assert out.strip() == "daemonset.apps/agent patched"
    stored = server.get("ds", "kube-system", "agent")
    assert stored is not None
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:2"
    assert stored["metadata"]["generation"] == 2
    patch_request = next(r for r in server.requests if r.method == "PATCH")
    assert patch_request.content_type == "application/strategic-merge-patch+json"


@needs_kubectl
def test_kubectl_rollout_status_follows_a_watch(server: ApiServer, kubectl: Any) -> None:
    stored = server.add(
        {
            **daemonset("agent"),
            "status": {
                "desiredNumberScheduled": 2,
                "updatedNumberScheduled": 1,
                "numberAvailable": 1,
                "observedGeneration": 1,
            },
        },
        defaults=True,
    )  # rollout status insists on the defaulted updateStrategy

    def finish() -> None:
        server.update_object(
            {**stored, "status": {**stored["status"], "updatedNumberScheduled": 2, "numberAvailable": 2}}
        )

    timer = threading.Timer(0.3, finish)
    timer.start()
    try:
        out = kubectl("rollout", "status", "ds/agent", "--timeout=10s")
    finally:
        timer.join()
    assert out.splitlines() == [
        'Waiting for daemon set "agent" rollout to finish: 1 out of 2 new pods have been updated...',
        'daemon set "agent" successfully rolled out',
    ]
    assert kubectl("get", "ds", "agent").split("\n")[0].split()[:3] == ["NAME", "DESIRED", "CURRENT"]


@needs_kubectl
def test_kubectl_apply_creates_then_patches(server: ApiServer, kubectl: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "ds.json"
    manifest.write_text(json.dumps(daemonset("agent")))
    assert kubectl("apply", "-f", str(manifest)).strip() == "daemonset.apps/agent created"
    manifest.write_text(json.dumps(daemonset("agent", image="agent:2")))
    assert kubectl("apply", "-f", str(manifest)).strip() == "daemonset.apps/agent configured"
    stored = server.get("ds", "default", "agent")
    assert stored is not None and stored["metadata"]["annotations"][TEMPLATE_GENERATION] == "2"
