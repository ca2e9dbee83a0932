"""What a pre-pull pod's status says of the pull on its node (docs/rules.md#r-prepull), and which images a
change pulls: pure tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubectl_ds.rollout import prepull as pp

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
Obj = dict[str, Any]


def pod(*states: Obj, age: float = 5, phase: str = "Pending", reason: str | None = None, image_id: str = "") -> Obj:
    created = (NOW - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status: Obj = {
        "phase": phase,
        "containerStatuses": [
            {"name": f"pull-{i}", "image": f"img:{i}", "imageID": image_id, "state": state}
            for i, state in enumerate(states)
        ],
    }
    if reason:
        status["reason"], status["message"] = reason, f"{reason} message"
    return {
        "metadata": {"name": "p", "creationTimestamp": created},
        "spec": {
            "nodeName": "n",
            "containers": [{"name": f"pull-{i}", "image": f"img:{i}"} for i in range(len(states))],
        },
        "status": status,
    }


def waiting(reason: str, message: str = "") -> Obj:
    return {"waiting": {"reason": reason, "message": message}}


START_ERROR = {"terminated": {"reason": "StartError", "exitCode": 128, "finishedAt": "2026-01-01T12:00:00Z"}}


@pytest.mark.parametrize(
    ("found", "state", "reason"),
    [
        pytest.param(pod(waiting("ContainerCreating")), pp.PULLING, "", id="creating-is-still-pulling"),
        pytest.param(pod(START_ERROR, phase="Failed"), pp.PULLED, "", id="start-error-comes-after-the-pull"),
        pytest.param(pod(waiting("CreateContainerError")), pp.PULLED, "", id="cri-o-create-error-after-the-pull"),
        pytest.param(pod({"running": {}}), pp.PULLED, "", id="running"),
        pytest.param(pod(waiting("ContainerCreating"), image_id="sha256:x"), pp.PULLED, "", id="image-id-is-pulled"),
        pytest.param(pod(waiting("ErrImagePull", "m")), pp.PULLING, "", id="pull-error-within-the-timeout-waits"),
        pytest.param(pod(waiting("ErrImagePull", "m"), age=60), pp.FAILED, "ErrImagePull", id="pull-error-that-lasted"),
        pytest.param(pod(waiting("InvalidImageName", "m")), pp.FAILED, "InvalidImageName", id="invalid-name-at-once"),
        pytest.param(pod(waiting("ErrImageNeverPull", "m")), pp.FAILED, "ErrImageNeverPull", id="never-pull-at-once"),
        pytest.param(
            pod(START_ERROR, waiting("ImagePullBackOff")), pp.PULLING, "", id="every-container-must-have-pulled"
        ),
        pytest.param(
            pod(waiting("ErrImagePull"), phase="Failed", reason="DeadlineExceeded"),
            pp.FAILED,
            "DeadlineExceeded",
            id="killed-at-its-deadline-before-the-pull",
        ),
        pytest.param(
            pod(waiting("ContainerCreating"), phase="Failed", reason="OutOfpods"),
            pp.FAILED,
            "OutOfpods",
            id="refused-by-kubelet-admission",
        ),
        pytest.param(None, pp.FAILED, "PodDeleted", id="pod-deleted-by-someone-else"),
    ],
)
def test_judge(found: Obj | None, state: str, reason: str) -> None:
    verdict = pp.judge("n", found, now=NOW, pull_timeout=60)
    assert (verdict.state, verdict.reason) == (state, reason)


def test_judge_names_the_pull_error_behind_a_back_off() -> None:
    """ImagePullBackOff says only "Back-off pulling image": the last ErrImagePull message seen is reported."""
    found = pod(waiting("ImagePullBackOff", 'Back-off pulling image "img:0"'), age=61)
    verdict = pp.judge("n", found, now=NOW, pull_timeout=60, messages={"img:0": "no match for platform"})
    assert (verdict.image, verdict.reason, verdict.message) == ("img:0", "ErrImagePull", "no match for platform")


def test_one_pull_error_is_one_group_whether_a_node_is_in_its_error_or_its_back_off() -> None:
    """Nodes seen at different moments of the kubelet's retry loop (ErrImagePull, then ImagePullBackOff) fail
    for one reason: the failure names them together."""
    messages = {"img:0": "manifest unknown"}
    seen = [
        pp.judge("n1", pod(waiting("ErrImagePull", "manifest unknown"), age=61), now=NOW, pull_timeout=60),
        pp.judge(
            "n2",
            pod(waiting("ImagePullBackOff", 'Back-off pulling image "img:0"'), age=61),
            now=NOW,
            pull_timeout=60,
            messages=messages,
        ),
    ]
    assert pp.failure_reason(seen, 2) == (
        "the new image could not be pulled on 2 of 2 nodes: img:0: ErrImagePull on n1, n2 (manifest unknown)"
    )


def _template(containers: list[Obj], init: list[Obj] | None = None) -> Obj:
    return {"spec": {"containers": containers, **({"initContainers": init} if init else {})}}


@pytest.mark.parametrize(
    ("old", "new", "pulled"),
    [
        pytest.param(
            _template([{"name": "a", "image": "a:1"}]),
            _template([{"name": "a", "image": "a:2"}]),
            ["a:2"],
            id="changed",
        ),
        pytest.param(
            _template([{"name": "a", "image": "a:1"}]), _template([{"name": "a", "image": "a:1"}]), [], id="unchanged"
        ),
        pytest.param(
            _template([{"name": "a", "image": "a:1"}], [{"name": "i", "image": "i:1"}]),
            _template([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}], [{"name": "i", "image": "i:2"}]),
            ["i:2", "b:1"],
            id="init-containers-and-new-containers",
        ),
        pytest.param(
            _template([{"name": "a", "image": "a:1"}]),
            _template([{"name": "a", "image": "x:2"}, {"name": "b", "image": "x:2"}]),
            ["x:2"],
            id="one-pull-per-image",
        ),
    ],
)
def test_images_to_pull(old: Obj, new: Obj, pulled: list[str]) -> None:
    assert [target.image for target in pp.images_to_pull(old, new)] == pulled


def test_pod_names_stay_valid_for_long_node_names() -> None:
    name = pp.pod_name("agent-prepull-abcde", "n" * 250)
    assert len(name) <= 253 and name.startswith("agent-prepull-abcde-")
    assert pp.pod_name("agent-prepull-abcde", "node-1") == "agent-prepull-abcde-node-1"


def test_failure_reason_groups_nodes_by_image_and_message() -> None:
    failures = [
        pp.NodePull("node-1", pp.FAILED, "a:2", "ErrImagePull", "no match"),
        pp.NodePull("node-2", pp.FAILED, "a:2", "ErrImagePull", "no match"),
        pp.NodePull("node-3", pp.FAILED, "", "Timeout", "late"),
    ]
    assert pp.failure_reason(failures, 5) == (
        "the new image could not be pulled on 3 of 5 nodes: a:2: ErrImagePull on node-1, node-2 (no match); "
        "Timeout on node-3 (late)"
    )


@pytest.mark.parametrize(
    ("template_spec", "host_network"),
    [
        pytest.param({}, None, id="pod-network-like-the-daemonset"),
        pytest.param({"hostNetwork": True}, True, id="host-network-daemonset-needs-no-cni-to-pull"),
    ],
)
def test_the_pod_shares_the_daemonsets_network_mode(template_spec: Obj, host_network: bool | None) -> None:
    daemonset = {"metadata": {"name": "cilium", "namespace": "kube-system", "uid": "u-1"}, "spec": {}}
    template = {"spec": {"containers": [{"name": "agent", "image": "a:2"}], **template_spec}}
    targets = pp.images_to_pull({}, template)
    pod = pp.prepull_pod(daemonset, template, "node-0", targets, run_id="r1", timeout=300)
    assert pod["spec"].get("hostNetwork") == host_network
    assert pod["metadata"]["name"] == "cilium-prepull-r1-node-0"
    assert pod["metadata"]["labels"] == {pp.PREPULL_LABEL: "u-1", pp.RUN_LABEL: "r1"}
    network_toleration = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}
    assert (network_toleration in pod["spec"]["tolerations"]) == bool(host_network)


@pytest.mark.parametrize(
    ("phase", "age", "gone"),
    [
        pytest.param("Failed", 5, True, id="ended-deadline-or-start-error"),
        pytest.param("Pending", 361, True, id="older-than-its-deadline"),
        pytest.param("Pending", 5, False, id="another-run-may-still-follow-it"),
    ],
)
def test_abandoned_pods_of_earlier_runs(phase: str, age: float, gone: bool) -> None:
    found = pod(waiting("ContainerCreating"), age=age, phase=phase)
    found["spec"]["activeDeadlineSeconds"] = 360
    assert pp.abandoned(found, NOW) is gone
