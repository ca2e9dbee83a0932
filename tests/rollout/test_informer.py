"""The pod informer (rollout/informer.py, docs/rules.md#r-list-watch): one list, then watch events applied to a
store keyed by uid; a list again only after a failed watch; a catch-up (timeout 0) before a read that must
see the cluster's latest state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubectl_ds import resources as r
from kubectl_ds.rollout.informer import PodInformer
from tests.builders import make_daemonset, make_pod

DS = make_daemonset()
OTHER = make_daemonset(name="other")
Obj = dict[str, Any]


def pod(name: str, version: int, *, owner: Obj = DS, **kwargs: Any) -> Obj:
    made = make_pod(name, node="n", owner=owner, **kwargs)
    made["metadata"]["resourceVersion"] = str(version)
    return made


class Fake:
    """The list and watch calls, scripted: each watch hands out the next burst."""

    def __init__(self, listed: list[Obj], version: str, bursts: list[list[tuple[str, Obj]]]) -> None:
        self.listed, self.version, self.bursts = listed, version, bursts
        self.calls: list[str] = []

    def list_pods(self) -> tuple[list[Obj], str]:
        self.calls.append("list")
        return list(self.listed), self.version

    def watch_pods(self, version: str, timeout: float) -> Iterator[tuple[str, Obj]]:
        self.calls.append(f"watch {version} {timeout:g}")
        yield from self.bursts.pop(0) if self.bursts else []

    def informer(self) -> PodInformer:
        return PodInformer(self.list_pods, self.watch_pods, lambda p: r.is_controlled_by(p, DS))


def names(informer: PodInformer) -> list[str]:
    return [p["metadata"]["name"] for p in informer.pods()[0]]


def test_one_list_then_events_replace_and_remove_by_uid() -> None:
    fake = Fake(
        [pod("b", 5), pod("a", 4), pod("x", 3, owner=OTHER)],
        "10",
        [
            [("MODIFIED", pod("a", 11, ready=False)), ("DELETED", pod("b", 12)), ("ADDED", pod("c", 13))],
            [("ADDED", pod("y", 14, owner=OTHER)), ("MODIFIED", pod("c", 15, owner=OTHER))],
        ],
    )
    informer = fake.informer()
    assert (names(informer), informer.pods()[1]) == (["a", "b"], "10")  # only its own pods, in list order
    assert informer.wait(2.0) == 3
    assert (names(informer), informer.pods()[1]) == (["a", "c"], "13")
    assert informer.pods()[0][0]["status"]["conditions"][0]["status"] == "False"  # the MODIFIED copy
    assert informer.wait(2.0) == 2
    assert names(informer) == ["a"]  # a pod whose controller is no longer ours leaves the store
    assert (fake.calls, informer.lists) == (["list", "watch 10 2", "watch 13 2"], 1)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"kind": "Status", "code": 410, "reason": "Expired"}, id="410-gone"),
        pytest.param({"kind": "Status", "code": 0, "reason": "BrokenStream"}, id="broken-stream"),
    ],
)
def test_a_failed_watch_costs_one_list_at_the_next_read(failure: Obj) -> None:
    fake = Fake([pod("a", 4)], "10", [[("ADDED", pod("b", 11)), ("ERROR", failure)], []])
    informer = fake.informer()
    informer.pods()
    fake.listed, fake.version = [pod("a", 4), pod("b", 11), pod("c", 19)], "20"
    assert informer.wait(2.0) == -1
    assert fake.calls == ["list", "watch 10 2"]
    assert names(informer) == ["a", "b", "c"]
    assert informer.wait(2.0) == 0
    assert (fake.calls[2:], informer.lists) == (["list", "watch 20 2"], 2)


def test_behind_catches_up_without_waiting_before_the_next_read_only() -> None:
    fake = Fake([pod("a", 4)], "10", [[("MODIFIED", pod("a", 12, deletion_timestamp="2024-06-01T12:00:00Z"))]])
    informer = fake.informer()
    informer.pods()
    informer.behind()  # our eviction
    informer.behind()
    assert informer.pods()[0][0]["metadata"]["deletionTimestamp"] == "2024-06-01T12:00:00Z"
    informer.pods()
    assert fake.calls == ["list", "watch 10 0"]  # one catch-up (timeout 0), then the store serves


def test_a_failed_catch_up_lists_at_once() -> None:
    fake = Fake([pod("a", 4)], "10", [[("ERROR", {"kind": "Status", "code": 410})]])
    informer = fake.informer()
    informer.pods()
    informer.behind()
    fake.listed, fake.version = [pod("b", 30)], "30"
    assert names(informer) == ["b"]
    assert (fake.calls, informer.lists) == (["list", "watch 10 0", "list"], 2)
