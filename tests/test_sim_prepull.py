"""The simulated cluster runs one-shot pods as a real one does (docs/rules.md#r-prepull): a pod bound by
nodeName with restartPolicy Never pulls its images on that node, fails to pull where the image has no
manifest for the node's platform or the registry wants credentials the pod does not carry, runs its command
(StartError when the image lacks the executable), ends Succeeded or Failed, is stopped at its
activeDeadlineSeconds, and goes with its owner (any ownerReference, not only a controller's). Everything runs
on a ManualClock.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import make_node
from tests.sim import containers
from tests.sim_support import READY_AFTER, advance, cluster

Obj = dict[str, Any]


def one_shot(
    name: str,
    node: str,
    image: str,
    *,
    command: list[str] | None = None,
    secrets: list[str] | None = None,
    deadline: int | None = None,
    owner: Obj | None = None,
) -> Obj:
    container: Obj = {"name": "pull", "image": image, "imagePullPolicy": "IfNotPresent"}
    if command is not None:
        container["command"] = command
    spec: Obj = {"nodeName": node, "restartPolicy": "Never", "containers": [container]}
    if secrets is not None:
        spec["imagePullSecrets"] = [{"name": secret} for secret in secrets]
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    metadata: Obj = {"name": name, "namespace": "default"}
    if owner is not None:
        owned = owner["metadata"]
        metadata["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": owned["name"], "uid": owned["uid"]}
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def pod(server: Any, name: str) -> Obj:
    found = server.get("pods", "default", name)
    assert found is not None, f"pod {name} is gone"
    return dict(found)


def run_now(sim: Any) -> None:
    """Passes at this instant, the clock standing (settle() would jump to the pull back-off and deadline timers)."""
    while sim.reconcile_once():
        pass


def pull_outcome(server: Any, sim: Any, clock: Any, shot: Obj) -> str | None:
    """Create the one-shot pod; None if it then runs to Succeeded, else the message of its first ErrImagePull
    (it shows ImagePullBackOff afterwards, Pending, until the back-off ends)."""
    server.add(shot, defaults=True)
    run_now(sim)
    first_pull = pod(server, "shot")
    advance(sim, clock, READY_AFTER * 2)
    found = pod(server, "shot")
    if found["status"]["phase"] == "Succeeded":
        return None
    assert (waiting(first_pull)[0], waiting(found)[0], found["status"]["phase"]) == (
        "ErrImagePull",
        "ImagePullBackOff",
        "Pending",
    )
    return waiting(first_pull)[1]


def waiting(found: Obj) -> tuple[str, str]:
    state = found["status"]["containerStatuses"][0]["state"]
    return state["waiting"]["reason"], state["waiting"]["message"]


@pytest.mark.parametrize(
    ("command", "phase", "reason", "exit_code"),
    [
        pytest.param(["/bin/true"], "Succeeded", "Completed", 0, id="command-in-the-image-exits-0"),
        pytest.param(["/kubectl-ds-prepull"], "Failed", "StartError", 128, id="command-not-in-the-image-start-error"),
    ],
)
def test_r_prepull_a_one_shot_pod_bound_by_node_name_runs_to_its_end(
    command: list[str], phase: str, reason: str, exit_code: int
) -> None:
    """No scheduler for a pod with spec.nodeName; restartPolicy Never: a container that exits is not
    restarted, and the pod ends Succeeded (every container exited 0) or Failed. A command the image lacks
    never starts: containerd's StartError, exit code 128 (the image was pulled: that is what a pre-pull needs)."""
    server, sim, clock = cluster(2)
    server.add(one_shot("shot", "node-1", "registry/agent:v2", command=command), defaults=True)
    sim.settle()
    found = pod(server, "shot")
    assert found["spec"]["nodeName"] == "node-1"
    assert found["status"]["phase"] == phase
    terminated = found["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == (reason, exit_code)
    if reason == "StartError":
        assert '"/kubectl-ds-prepull"' in terminated["message"]


def test_r_prepull_distroless_images_have_no_shell() -> None:
    """An image without a shell (distroless) fails to start `sh`: why a pre-pull must not rely on one."""
    server, sim, clock = cluster(1)
    server.add(one_shot("shot", "node-0", "gcr.io/distroless/static:v2", command=["sh", "-c", "exit 0"]), defaults=True)
    sim.settle()
    assert pod(server, "shot")["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "StartError"


@pytest.mark.parametrize(
    ("arch", "pulls"),
    [pytest.param("amd64", True, id="amd64-node-pulls"), pytest.param("arm64", False, id="arm64-node-no-manifest")],
)
def test_r_prepull_an_image_without_an_arm64_manifest_fails_on_arm64_nodes(arch: str, pulls: bool) -> None:
    server, sim, clock = cluster(0)
    server.add(make_node("node-a", labels={"kubernetes.io/arch": arch}, allocatable={"cpu": "4", "memory": "8Gi"}))
    message = pull_outcome(
        server, sim, clock, one_shot("shot", "node-a", "registry/agent-no-arm64:v2", command=["/bin/true"])
    )
    assert (message is None) == pulls
    if message is not None:
        assert message.endswith("no match for platform in manifest: not found")


@pytest.mark.parametrize(
    ("secrets", "pulls"),
    [
        pytest.param(None, False, id="no-pull-secret-401"),
        pytest.param(["missing"], False, id="pull-secret-that-does-not-exist"),
        pytest.param(["regcred"], True, id="pull-secret-present"),
    ],
)
def test_r_prepull_a_private_image_needs_an_existing_pull_secret(secrets: list[str] | None, pulls: bool) -> None:
    """The kubelet pulls with the credentials of the pod's imagePullSecrets that exist (a missing one is only
    a warning); a private registry answers 401 without them."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": "default"}}
    server, sim, clock = cluster(1, seed=[secret])
    message = pull_outcome(
        server, sim, clock, one_shot("shot", "node-0", "private.example/agent:v2", command=["true"], secrets=secrets)
    )
    assert (message is None) == pulls
    if message is not None:
        assert "pull access denied" in message and "authorization failed" in message


def test_r_prepull_active_deadline_seconds_fails_a_pod_that_never_pulls() -> None:
    """The kubelet fails a pod active longer than activeDeadlineSeconds: phase Failed, reason DeadlineExceeded,
    its containers killed; the object stays until someone deletes it."""
    server, sim, clock = cluster(1)
    server.add(one_shot("shot", "node-0", "registry/nonexistent:v2", command=["true"], deadline=30), defaults=True)
    run_now(sim)
    assert waiting(pod(server, "shot"))[0] in ("ErrImagePull", "ImagePullBackOff")
    advance(sim, clock, 29)
    assert pod(server, "shot")["status"]["phase"] == "Pending"
    advance(sim, clock, 2)
    found = pod(server, "shot")
    assert found["status"]["phase"] == "Failed"
    assert found["status"]["reason"] == "DeadlineExceeded"
    assert found["status"]["message"] == "Pod was active on the node longer than the specified deadline"


def test_r_prepull_a_dependent_goes_with_its_owner_daemonset() -> None:
    """The garbage collector deletes a pod whose every owner is gone, whether or not the reference is the
    controller's (a non-controller ownerReference is how a helper pod belongs to a DaemonSet without the
    DaemonSet controller claiming it)."""
    server, sim, clock = cluster(1)
    owner = server.get("daemonsets", "default", "ds")
    assert owner is not None
    server.add(one_shot("shot", "node-0", "registry/nonexistent:v2", command=["true"], owner=owner), defaults=True)
    sim.settle()
    daemon_pods = [p for p in server.objects("pods") if p["metadata"]["name"] != "shot"]
    assert all(p["metadata"]["ownerReferences"][0].get("controller") for p in daemon_pods)
    assert pod(server, "shot")["status"]["phase"] == "Pending"  # not adopted, not deleted, by the controller
    server.delete_object("daemonsets", "default", "ds")
    advance(sim, clock, READY_AFTER * 3)
    assert server.get("pods", "default", "shot") is None


def test_r_prepull_the_image_conventions() -> None:
    """The conventions a test can rely on (tests/sim/containers.py)."""
    assert containers.pull_refusal("registry/agent-no-arm64:v2", {"kubernetes.io/arch": "arm64"}, False) is not None
    assert containers.pull_refusal("registry/agent-no-arm64:v2", {"kubernetes.io/arch": "amd64"}, False) is None
    assert containers.pull_refusal("private.example/agent:v2", {}, False) is not None
    assert containers.pull_refusal("private.example/agent:v2", {}, True) is None
    assert containers.has_executable("registry/agent:v2", "/bin/true")
    assert not containers.has_executable("gcr.io/distroless/static:v2", "sh")
    assert not containers.has_executable("registry/agent:v2", "/kubectl-ds-prepull")
