"""The test API server serves list pages as a real one does: from a sorted index, a continue token that
names the list's resourceVersion and the key to start after, a consistent snapshot across writes, and
410 Expired once compaction passed the token (tests/apiserver_index.py)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.apiserver import ApiServer
from tests.apiserver_index import ListIndex

Obj = dict[str, Any]


@pytest.fixture
def server() -> Iterator[ApiServer]:
    with ApiServer() as api:
        yield api


def get(server: ApiServer, path: str, **query: str) -> Obj:
    url = f"{server.url}{path}?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {server.token}"})
    with urllib.request.urlopen(request) as response:
        result: Obj = json.loads(response.read())
        return result


def status_of(server: ApiServer, path: str, **query: str) -> tuple[int, str]:
    with pytest.raises(urllib.error.HTTPError) as caught:
        get(server, path, **query)
    return caught.value.code, json.loads(caught.value.read())["reason"]


def names(page: Obj) -> list[str]:
    return [item["metadata"]["name"] for item in page["items"]]


def node(name: str) -> Obj:
    return {"kind": "Node", "metadata": {"name": name}}


def pod(namespace: str, name: str, app: str = "agent") -> Obj:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}}}


def decode(token: str) -> Obj:
    result: Obj = json.loads(base64.urlsafe_b64decode(token.encode()))
    return result


def test_continue_token_names_the_list_version_and_the_key_to_start_after_as_a_real_server(server: ApiServer) -> None:
    server.load([pod("ns", f"p{i}") for i in range(3)])
    first = get(server, "/api/v1/namespaces/ns/pods", limit="2")
    assert decode(first["metadata"]["continue"]) == {
        "v": "meta.k8s.io/v1",
        "rv": int(first["metadata"]["resourceVersion"]),
        "start": "p1\x00",
    }
    across = get(server, "/api/v1/pods", limit="2")
    assert decode(across["metadata"]["continue"])["start"] == "ns/p1\x00"
    assert names(get(server, "/api/v1/pods", limit="2", **{"continue": across["metadata"]["continue"]})) == ["p2"]


def test_later_pages_show_the_objects_as_they_were_at_the_lists_version(server: ApiServer) -> None:
    server.load([node(f"n{i}") for i in range(6)])
    first = get(server, "/api/v1/nodes", limit="2")
    token = first["metadata"]["continue"]
    server.add(node("n2a"))  # created after the list: not in it
    server.delete_object("node", None, "n3")  # deleted after the list: still in it
    changed = server.get("node", None, "n4")
    assert changed is not None
    server.update_object({**changed, "metadata": {**changed["metadata"], "labels": {"late": "yes"}}})
    rest = get(server, "/api/v1/nodes", limit="10", **{"continue": token})
    assert names(first) + names(rest) == ["n0", "n1", "n2", "n3", "n4", "n5"]
    assert rest["items"][2]["metadata"].get("labels") is None  # n4 as it was
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert names(get(server, "/api/v1/nodes")) == ["n0", "n1", "n2", "n2a", "n4", "n5"]


def test_limit_fills_a_page_with_matching_objects_and_the_last_page_has_no_token(server: ApiServer) -> None:
    server.load([pod("ns", f"p{i}", app="agent" if i % 2 else "web") for i in range(7)])
    first = get(server, "/api/v1/namespaces/ns/pods", limit="2", labelSelector="app=agent")
    assert names(first) == ["p1", "p3"]
    assert "remainingItemCount" not in first["metadata"]  # unknown with a selector, as on a real server
    rest = get(
        server,
        "/api/v1/namespaces/ns/pods",
        limit="2",
        labelSelector="app=agent",
        **{"continue": first["metadata"]["continue"]},
    )
    assert names(rest) == ["p5"]
    assert "continue" not in rest["metadata"]
    whole = get(server, "/api/v1/namespaces/ns/pods", limit="3")
    assert (names(whole), whole["metadata"]["remainingItemCount"]) == (["p0", "p1", "p2"], 4)
    assert "continue" not in get(server, "/api/v1/namespaces/ns/pods", limit="7")["metadata"]


def test_a_namespaced_list_stays_in_its_namespace(server: ApiServer) -> None:
    server.load([pod(namespace, f"p{i}") for namespace in ("a", "b", "c") for i in range(3)])
    first = get(server, "/api/v1/namespaces/b/pods", limit="2")
    rest = get(server, "/api/v1/namespaces/b/pods", limit="2", **{"continue": first["metadata"]["continue"]})
    assert [item["metadata"]["namespace"] for item in first["items"] + rest["items"]] == ["b"] * 3
    assert "continue" not in rest["metadata"]


def test_a_token_older_than_the_compaction_answers_410_expired(server: ApiServer) -> None:
    server.load([node(f"n{i}") for i in range(3)])
    token = get(server, "/api/v1/nodes", limit="1")["metadata"]["continue"]
    server.add(node("later"))
    server.compact()
    assert status_of(server, "/api/v1/nodes", limit="1", **{"continue": token}) == (410, "Expired")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("garbage", id="not-base64-json"),
        pytest.param(
            base64.urlsafe_b64encode(b'{"v": "meta.k8s.io/v1", "rv": 1, "start": "n0"}').decode(), id="no-nul"
        ),
        pytest.param(base64.urlsafe_b64encode(b'{"v": "other", "rv": 1, "start": "n0\\u0000"}').decode(), id="version"),
        pytest.param(
            base64.urlsafe_b64encode(b'{"v": "meta.k8s.io/v1", "rv": 1, "start": "a/b/c\\u0000"}').decode(), id="path"
        ),
    ],
)
def test_a_malformed_continue_token_answers_400(server: ApiServer, token: str) -> None:
    server.load([node("n0")])
    assert status_of(server, "/api/v1/nodes", limit="1", **{"continue": token})[0] == 400


def test_a_page_walks_only_its_own_keys() -> None:
    """O(page): a page of 3 in one namespace of 3,000 objects looks at 3 objects (and one more to know
    whether a next page exists), not at all of them."""
    index = ListIndex()
    for rv, (namespace, name) in enumerate(((ns, f"p{i:04d}") for ns in ("a", "b", "c") for i in range(1000)), 1):
        index.write((namespace, name), rv, {"metadata": {"name": name}}, floor=0)
    looked: list[str] = []

    def selected(obj: Obj) -> bool:
        looked.append(obj["metadata"]["name"])
        return True

    page = index.page(namespace="b", after=("b", "p0499"), rv=3000, limit=3, selected=selected)
    assert [item["metadata"]["name"] for item in page.items] == looked == ["p0500", "p0501", "p0502"]
    assert (page.last, page.more, page.remaining) == (("b", "p0502"), True, 497)


def test_versions_older_than_the_floor_are_forgotten_and_deleted_keys_leave_the_index() -> None:
    index = ListIndex()
    index.write(("", "n0"), 1, {"v": 1}, floor=0)
    index.write(("", "n1"), 2, {"v": 1}, floor=0)
    index.write(("", "n0"), 3, {"v": 2}, floor=0)
    index.write(("", "n1"), 4, None, floor=0)

    def at(rv: int) -> list[Obj]:
        return index.page(namespace=None, after=None, rv=rv, limit=0, selected=lambda obj: True).items

    assert (at(2), at(3), at(4)) == ([{"v": 1}, {"v": 1}], [{"v": 2}, {"v": 1}], [{"v": 2}])
    index.write(("", "n2"), 5, {"v": 1}, floor=4)  # compaction at 4: n1's deletion is final
    assert index.page(namespace=None, after=None, rv=5, limit=0, selected=lambda obj: True).remaining == 0
    assert [key for key in (("", "n0"), ("", "n1"), ("", "n2")) if key in index._versions] == [("", "n0"), ("", "n2")]
    assert len(index._versions[("", "n0")]) == 1
