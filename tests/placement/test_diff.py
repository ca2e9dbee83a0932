"""`kubectl ds diff`'s pure pipeline (docs/rules.md#r-diff): the live DaemonSet and the manifest judged by the
placement engine, compared node by node, and the rollout the controller then runs. Run over a DumpReader of
builder objects: no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_ds.commands.diff import DIFFERENCES, NO_DIFFERENCE, DiffOptions, run
from kubectl_ds.kube.dump import DumpReader
from kubectl_ds.kube.quantity import parse_quantity
from kubectl_ds.placement.diff import spec_diff
from kubectl_ds.render.output import to_json
from tests.builders import NOW, rolling_update
from tests.diff_support import changed, cluster_objects, live_daemonset

Obj = dict[str, Any]


def diff_data(manifest: Obj, objects: list[Obj] | None = None) -> tuple[int, dict[str, Any]]:
    import json

    reader = DumpReader(objects if objects is not None else cluster_objects(), origin="test")
    result = run(
        DiffOptions(manifest="agent.yaml", namespace="default", output="json"),
        reader,
        manifest,
        now=NOW,
        parse_quantity=parse_quantity,
    )
    return result.exit_code, json.loads(result.text)


def changes(data: dict[str, Any]) -> dict[str, str]:
    return {node["name"]: node["change"] for node in data["nodes"] if node["change"] != "unchanged"}


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        pytest.param({}, {}, id="same-manifest-no-difference"),
        pytest.param({"tolerate_gpu": True}, {"gpu-1": "gained"}, id="toleration-of-a-noschedule-taint-gains-the-node"),
        pytest.param({"pool": "general"}, {"node-3": "lost"}, id="nodeselector-that-no-longer-matches-loses-the-node"),
        pytest.param({"memory": "1Gi"}, {"node-1": "blocked"}, id="larger-requests-that-do-not-fit-block-the-node"),
        pytest.param({"host_port": 9100}, {"node-4": "blocked"}, id="host-port-held-by-another-pod-blocks-the-node"),
        pytest.param({"host_port": 9200}, {}, id="free-host-port-blocks-nothing"),
        pytest.param({"image": "foo/bar:v2"}, {}, id="image-change-moves-no-node"),
    ],
)
def test_node_changes(edits: dict[str, Any], expected: dict[str, str]) -> None:
    _, data = diff_data(changed(**edits))
    assert changes(data) == expected


def test_blocked_names_the_holder() -> None:
    _, data = diff_data(changed(host_port=9100, memory="1Gi"))
    why = {node["name"]: node["why"] for node in data["nodes"]}
    assert why["node-4"] == "hostPort 9100/TCP held by monitoring/node-exporter-x"
    assert why["node-1"] == "insufficient memory: requests 1Gi, free 596Mi of 4Gi allocatable"


def test_a_node_blocked_before_and_after_is_not_newly_blocked() -> None:
    objects = cluster_objects()
    live = objects[0]
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] = "1Gi"
    _, data = diff_data(changed(memory="2Gi"), objects)
    assert changes(data) == {}  # node-1 could not take the live template either


def test_lost_node_with_a_noexecute_taint_deletes_its_pod_and_noschedule_keeps_it_until_the_rollout() -> None:
    _, data = diff_data(changed(pool="general"))
    node3 = next(node for node in data["nodes"] if node["name"] == "node-3")
    assert node3["why"] == "nodeSelector pool=general: node has pool=batch; its pod is deleted"
    assert data["rollout"]["deleted"] == ["node-3"]


def test_exit_codes_follow_kubectl_diff() -> None:
    assert diff_data(changed())[0] == NO_DIFFERENCE
    assert diff_data(changed(image="foo/bar:v2"))[0] == DIFFERENCES
    assert diff_data(changed(min_ready=10))[0] == DIFFERENCES


@pytest.mark.parametrize(
    ("edits", "template_paths", "rollout_paths"),
    [
        pytest.param({}, [], [], id="defaulted-fields-the-manifest-leaves-out-are-not-a-change"),
        pytest.param(
            {"image": "foo/bar:v2"},
            ["template.spec.containers[foo].image"],
            [],
            id="template-change-is-a-new-revision",
        ),
        pytest.param(
            {"new_strategy": rolling_update(2)},
            [],
            ["updateStrategy.rollingUpdate.maxUnavailable"],
            id="strategy-change-is-no-new-revision",
        ),
    ],
)
def test_spec_diff(edits: dict[str, Any], template_paths: list[str], rollout_paths: list[str]) -> None:
    diff = spec_diff(live_daemonset(), changed(**edits))
    assert (list(diff.template_paths), list(diff.rollout_paths), diff.basis) == (
        template_paths,
        rollout_paths,
        "last-applied",
    )


def test_a_field_removed_from_the_manifest_is_seen_through_last_applied_only() -> None:
    manifest = changed()
    del manifest["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert spec_diff(live_daemonset(), manifest).template_paths == ("template.spec.containers[foo].resources",)
    bare = live_daemonset()
    del bare["metadata"]["annotations"]
    assert spec_diff(bare, manifest).template_paths == ()  # without the annotation it cannot be told (documented)


@pytest.mark.parametrize(
    ("strategy", "edits", "expected"),
    [
        pytest.param(
            None,
            {"image": "foo/bar:v2"},
            {"kind": "RollingUpdate", "nodesAtATime": 1, "waves": 4, "stalls": False},
            id="max-unavailable-1-replaces-one-node-per-wave",
        ),
        pytest.param(
            rolling_update("50%"),
            {"image": "foo/bar:v2"},
            {"kind": "RollingUpdate", "nodesAtATime": 2, "waves": 2, "stalls": False},
            id="percent-rounded-up-against-the-nodes-that-want-the-pod",
        ),
        pytest.param(
            rolling_update(0, 1),
            {"image": "foo/bar:v2"},
            {"kind": "RollingUpdate", "nodesAtATime": 1, "waves": 4, "stalls": False},
            id="surge-creates-next-to-the-old-pod",
        ),
        pytest.param(
            None,
            {"memory": "1Gi", "host_port": 9100},
            {"kind": "RollingUpdate", "nodesAtATime": 1, "waves": 4, "stalls": True},
            id="blocked-nodes-hold-max-unavailable-for-good-and-stall-the-rollout",
        ),
        pytest.param(
            {"type": "OnDelete"},
            {"image": "foo/bar:v2"},
            {"kind": "OnDelete", "nodesAtATime": 0, "waves": 0, "stalls": False},
            id="on-delete-replaces-nothing-by-itself",
        ),
        pytest.param(
            None,
            {"new_strategy": rolling_update(3)},
            {"kind": "no new revision", "nodesAtATime": 0, "waves": 0, "stalls": False},
            id="no-template-change-replaces-no-pod",
        ),
    ],
)
def test_rollout_forecast(strategy: Obj | None, edits: dict[str, Any], expected: dict[str, Any]) -> None:
    objects = cluster_objects(strategy)
    manifest = changed(strategy, **edits)
    _, data = diff_data(manifest, objects)
    assert {key: data["rollout"][key] for key in expected} == expected


def test_surge_with_a_host_port_the_old_pod_holds_stalls() -> None:
    objects = cluster_objects(rolling_update(0, 1))
    objects[0]["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 9200, "hostPort": 9200}]
    _, data = diff_data(changed(rolling_update(0, 1), image="foo/bar:v2", host_port=9200), objects)
    assert data["rollout"]["stalls"] is True


def test_unavailable_old_pods_are_replaced_at_once() -> None:
    _, data = diff_data(changed(image="foo/bar:v2"), cluster_objects(unavailable=("node-2",)))
    assert (data["rollout"]["replacedAtOnce"], data["rollout"]["waves"]) == (["node-2"], 3)


def test_a_new_daemonset_gains_every_node() -> None:
    objects = [obj for obj in cluster_objects() if obj.get("kind") in ("Node", "Pod") and "owner" not in obj]
    objects = [obj for obj in objects if not obj["metadata"].get("ownerReferences")]
    code, data = diff_data(changed(), objects)
    assert code == DIFFERENCES
    assert data["daemonSet"]["exists"] is False
    assert changes(data) == {"node-1": "gained", "node-2": "gained", "node-3": "gained", "node-4": "gained"}
    assert to_json(data["rollout"]["created"], compact=True) == '["node-1", "node-2", "node-3", "node-4"]'


def test_a_parked_managed_rollout_is_told_that_applying_halts_it() -> None:
    objects = cluster_objects({"type": "OnDelete"})
    objects[0]["metadata"]["annotations"]["kubectl-ds.io/rollout"] = "{}"
    _, data = diff_data(changed({"type": "OnDelete"}, image="foo/bar:v2"), objects)
    assert data["managedRollout"] is True
    _, data = diff_data(changed(image="foo/bar:v2"))
    assert data["managedRollout"] is False


def test_surge_counts_the_old_pod_next_to_the_new_one() -> None:
    """With maxSurge the new pod must fit beside the old one: on node-1, where a 3500Mi job runs, the old pod's
    100Mi counts against the new 500Mi."""
    objects = cluster_objects(rolling_update(0, 1))
    for obj in objects:
        if obj.get("kind") == "Pod" and obj["metadata"]["name"] == "agent-1":
            obj["spec"]["containers"][0]["resources"] = {"requests": {"memory": "100Mi"}}
    _, data = diff_data(changed(rolling_update(0, 1), memory="500Mi"), objects)
    why = {node["name"]: node["why"] for node in data["nodes"]}
    assert why["node-1"] == "insufficient memory: requests 500Mi, free 496Mi of 4Gi allocatable"
    _, data = diff_data(changed(memory="500Mi"))
    assert changes(data) == {}  # without surge the old pod goes first: 596Mi free
