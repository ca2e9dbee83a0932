"""--prepull against the simulated cluster on manual time (docs/rules.md#r-prepull): the new images are pulled
on every node the rollout will update before its first write; a pull that fails anywhere stops it with the
DaemonSet untouched and no old pod evicted; nothing is left behind on any way out, even by a killed driver.

Numbers to read them by: the simulated kubelet pulls at once; a failed pull shows ErrImagePull, then
ImagePullBackOff, and a pull error is a failure once it has lasted --image-pull-timeout (60 s) since the pod
was created; a watch waits at most 5 s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from kubectl_ds.rollout import prepull as pp
from kubectl_ds.rollout.change import restart_change
from kubectl_ds.rollout.state import STATE_ANNOTATION, RolloutOptions
from tests.rollout.test_runner import V2, halt_message, image, manual_cluster
from tests.rollout_harness import Harness, Wait
from tests.rollout_support import NAMESPACE

PREPULL = RolloutOptions(prepull=True)
Obj = dict[str, Any]


def prepull_pods(h: Harness) -> list[Obj]:
    return [pod for pod in h.server.objects("Pod", NAMESPACE) if pp.PREPULL_LABEL in pod["metadata"].get("labels", {})]


def requests(h: Harness, method: str, suffix: str) -> list[str]:
    return [r.path for _, r in h.cluster.log if r.method == method and r.path.endswith(suffix)]


def label_node(h: Harness, node: str, labels: dict[str, str]) -> None:
    found = h.server.get("nodes", None, node)
    assert found is not None
    found["metadata"]["labels"].update(labels)
    h.server.update_object(found)


def untouched(h: Harness, before: Obj) -> None:
    """The DaemonSet as it was (no write at all), no old pod evicted or deleted, no pre-pull pod left."""
    after = h.daemonset()
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert requests(h, "POST", "/eviction") == [] and requests(h, "PUT", "/daemonsets/agent") == []
    h.cluster.run_for(5)
    assert prepull_pods(h) == []


def test_r_prepull_pulls_on_every_node_then_the_rollout_proceeds() -> None:
    h = manual_cluster(nodes=3)
    h.invariants.armed = True
    outcome = h.rollout().start(V2, PREPULL)
    assert outcome.kind == "finished"
    lines = h.lines()
    assert lines[:5] == [
        "pre-pulling agent:v2 on 3 nodes (one pod per node, timeout 5m00s)",
        "pulled on 3 of 3 nodes",
        "pre-pull done: the new images are on all 3 nodes",
        "daemonset.apps/agent parked (updateStrategy OnDelete) and changed: image agent=agent:v2",
        "step 1 of 3: node-0",
    ]
    # One create per node, before the first write to the DaemonSet; each pod deleted once pulled.
    creates = [i for i, (_, r) in enumerate(h.cluster.log) if r.method == "POST" and r.path.endswith("/pods")]
    first_write = next(i for i, (_, r) in enumerate(h.cluster.log) if r.method == "PUT")
    assert len(creates) == 3 and max(creates) < first_write
    assert len([r for _, r in h.cluster.log if r.method == "DELETE" and "-prepull-" in r.path]) == 3
    assert h.node_images() == {"node-0": "agent:v2", "node-1": "agent:v2", "node-2": "agent:v2"}
    h.cluster.run_for(5)
    assert prepull_pods(h) == []
    assert h.invariants.violations == []


def test_r_prepull_the_pods_copy_placement_and_pull_secrets() -> None:
    """What a pre-pull pod is: bound to its node, the DaemonSet's nodeSelector, tolerations (with the ones the
    controller adds) and imagePullSecrets, owned by the DaemonSet without being its controller, a deadline, no
    requests, a command no image holds."""
    h = manual_cluster(
        nodes=1,
        tolerations=[{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        pod_spec={"nodeSelector": {"kubernetes.io/hostname": "node-0"}, "imagePullSecrets": [{"name": "regcred"}]},
    )
    seen: list[Obj] = []
    h.cluster.on_wait.append(lambda wait: seen.extend(prepull_pods(h)) if not seen else None)
    h.rollout().start(V2, PREPULL)
    pod = seen[0]
    spec = pod["spec"]
    assert spec["nodeName"] == "node-0" and spec["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == 360
    assert spec["nodeSelector"] == {"kubernetes.io/hostname": "node-0"}
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"} in spec["tolerations"]
    [owner] = pod["metadata"]["ownerReferences"]
    assert owner["kind"] == "DaemonSet" and owner["name"] == "agent" and not owner.get("controller")
    [container] = spec["containers"]
    assert container["image"] == "agent:v2" and container["command"] == [pp.COMMAND]
    assert container["resources"] == {}


@pytest.mark.parametrize(
    ("tag", "setup", "failing", "why"),
    [
        pytest.param(
            "agent-no-arm64:v2",
            lambda h: label_node(h, "node-1", {"kubernetes.io/arch": "arm64"}),
            "node-1",
            "no match for platform in manifest: not found",
            id="no-arm64-manifest-fails-on-the-arm64-node",
        ),
        pytest.param(
            "private.example/agent:v2",
            lambda h: None,
            "node-0, node-1, node-2",
            "pull access denied",
            id="missing-pull-secret-fails-everywhere",
        ),
        pytest.param(
            "agent:nonexistent",
            lambda h: None,
            "node-0, node-1, node-2",
            "agent:nonexistent: not found",
            id="nonexistent-image",
        ),
    ],
)
def test_r_prepull_a_failed_pull_halts_before_any_write(tag: str, setup: Any, failing: str, why: str) -> None:
    h = manual_cluster(nodes=3)
    setup(h)
    h.cluster.run_for(1)
    before = h.daemonset()
    message = halt_message(lambda: h.rollout().start(image(tag), PREPULL))
    assert message.startswith('pre-pull for daemonset "agent" failed, nothing was changed: the new image could not')
    assert f"{tag}: ErrImagePull on {failing} (" in message or f"{tag}: ImagePullBackOff on {failing} (" in message
    assert why in message
    count = len(failing.split(", "))
    assert h.lines()[-1] == f"pre-pull failed on {count} of 3 nodes"
    assert STATE_ANNOTATION not in (h.daemonset()["metadata"].get("annotations") or {})
    untouched(h, before)
    # A pull error is a failure once it lasted --image-pull-timeout, seen at the next look.
    assert 60 <= h.elapsed() <= 70


def test_r_prepull_a_pull_secret_that_exists_is_used() -> None:
    h = manual_cluster(nodes=2, pod_spec={"imagePullSecrets": [{"name": "regcred"}]})
    h.server.add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": NAMESPACE}})
    assert h.rollout().start(image("private.example/agent:v2"), PREPULL).kind == "finished"


def test_r_prepull_nodes_that_never_report_fail_at_the_timeout() -> None:
    """A node whose kubelet stopped posting never reports: the pod stays Pending without status."""
    h = manual_cluster(nodes=2)
    before = h.daemonset()
    options = RolloutOptions(prepull=True, prepull_timeout=20)
    h.simulator.paused = True  # nothing moves: no kubelet reports anything
    message = halt_message(lambda: h.rollout().start(V2, options))
    assert "could not be pulled on 2 of 2 nodes: Timeout on node-0, node-1 (no pull reported within 20s" in message
    assert 20 <= h.elapsed() <= 26
    h.simulator.paused = False
    untouched(h, before)


def test_r_prepull_ctrl_c_during_the_prepull_leaves_nothing_behind() -> None:
    h = manual_cluster(nodes=3)
    before = h.daemonset()
    h.cluster.run_for(0)

    def interrupt(wait: Wait) -> None:
        if prepull_pods(h) and wait.kind == "watch":
            raise KeyboardInterrupt

    h.cluster.on_wait.append(interrupt)
    with pytest.raises(KeyboardInterrupt):
        h.rollout().start(image("agent:nonexistent"), PREPULL)
    h.cluster.on_wait.clear()
    untouched(h, before)
    # Nothing to resume (nothing was written): the same start again does it.
    assert h.rollout().start(V2, PREPULL).kind == "finished"


def test_r_prepull_a_killed_driver_leaves_pods_that_end_at_their_deadline_and_go_with_the_daemonset() -> None:
    """A driver killed outright (SIGKILL: no cleanup) leaves its pods: the kubelet stops them at their
    activeDeadlineSeconds, the next pre-pull of the DaemonSet deletes them, and the garbage collector deletes
    them with the DaemonSet."""
    h = manual_cluster(nodes=2)
    daemonset = h.daemonset()
    template = {**daemonset["spec"]["template"]}
    template["spec"] = {**template["spec"], "containers": [{"name": "agent", "image": "agent:nonexistent"}]}
    targets = pp.images_to_pull(daemonset["spec"]["template"], template)
    for node in ("node-0", "node-1"):
        h.server.add(pp.prepull_pod(daemonset, template, node, targets, run_id="dead1", timeout=30), defaults=True)
    h.cluster.run_for(89)
    assert {p["status"]["phase"] for p in prepull_pods(h)} == {"Pending"}
    h.cluster.run_for(2)
    assert {(p["status"]["phase"], p["status"].get("reason")) for p in prepull_pods(h)} == {
        ("Failed", "DeadlineExceeded")
    }
    # The next run deletes them first, then pulls with its own pods.
    assert h.rollout().start(V2, PREPULL).kind == "finished"
    assert not [p for p in prepull_pods(h) if "dead1" in p["metadata"]["name"]]
    # Left by a killed run, they go with the DaemonSet.
    h.server.add(pp.prepull_pod(h.daemonset(), template, "node-0", targets, run_id="dead2", timeout=30), defaults=True)
    h.server.delete_object("daemonsets", NAMESPACE, "agent")
    h.cluster.run_for(5)
    assert prepull_pods(h) == []


def test_r_prepull_is_kept_in_the_state_and_resume_pulls_the_nodes_left() -> None:
    h = manual_cluster(nodes=3)
    h.rollout().start(V2, PREPULL, steps=1)
    assert h.state()["options"]["prepull"] is True
    h.restart_clock()
    assert h.rollout().resume().kind == "finished"
    assert h.lines()[:3] == [
        "pre-pulling agent:v2 on 2 nodes (one pod per node, timeout 5m00s)",
        "pulled on 2 of 2 nodes",
        "pre-pull done: the new images are on all 2 nodes",
    ]
    assert h.lines()[-1:] == ["step 3 of 3 done: node-2 updated (3 of 3 nodes done)"]


def test_r_prepull_a_failure_before_resuming_halts_before_any_eviction() -> None:
    h = manual_cluster(nodes=3)
    tag = "agent-no-arm64:v2"
    h.rollout().start(image(tag), PREPULL, steps=1)
    label_node(h, "node-2", {"kubernetes.io/arch": "arm64"})
    evictions = len(requests(h, "POST", "/eviction"))
    message = halt_message(lambda: h.rollout().resume())
    assert f"halted: pre-pull before resuming: the new image could not be pulled on 1 of 2 nodes: {tag}" in message
    assert "on node-2 (" in message
    assert len(requests(h, "POST", "/eviction")) == evictions
    assert h.state()["phase"] == "halted"
    h.cluster.run_for(5)
    assert prepull_pods(h) == []


def test_r_prepull_nothing_to_pull_for_a_restart() -> None:
    """A restart changes no image: nothing to pull, no pod created."""
    h = manual_cluster(nodes=2)
    assert h.rollout().start(restart_change(), PREPULL).kind == "finished"
    assert requests(h, "POST", "/pods") == []
    assert not any(line.startswith("pre-pull") for line in h.lines())


def test_r_prepull_ctrl_c_during_resumes_prepull_pauses_and_resume_works() -> None:
    h = manual_cluster(nodes=3)
    h.rollout().start(V2, PREPULL, steps=1)

    def interrupt(wait: Wait) -> None:
        if prepull_pods(h) and wait.kind == "watch":
            raise KeyboardInterrupt

    h.cluster.on_wait.append(interrupt)
    with pytest.raises(KeyboardInterrupt):
        h.rollout().resume()
    h.cluster.on_wait.clear()
    state = h.state()
    assert (state["phase"], state["reason"], state["owner"]) == ("paused", "interrupted", "")
    h.cluster.run_for(5)
    assert prepull_pods(h) == []
    assert h.node_images() == {"node-0": "agent:v2", "node-1": "agent:v1", "node-2": "agent:v1"}
    assert h.rollout().resume().kind == "finished"


def prepull_traffic(nodes: int) -> dict[str, int]:
    """The pre-pull's requests on `nodes` nodes (what `start --prepull` sends before its first write)."""
    h = manual_cluster(nodes=nodes)
    h.rollout().start(V2, PREPULL, steps=1)
    first_write = next(i for i, (_, r) in enumerate(h.cluster.log) if r.method == "PUT")
    counts: dict[str, int] = {}
    for _, request in h.cluster.log[:first_write]:
        if not request.path.endswith("/pods"):
            continue
        verb = "watch" if request.query.get("watch") else {"GET": "list", "POST": "create"}[request.method]
        selector = request.query.get("labelSelector", "")
        if verb != "create" and pp.PREPULL_LABEL not in selector:
            continue  # the rollout's own reads of the DaemonSet's pods
        counts[verb] = counts.get(verb, 0) + 1
    counts["delete"] = len([r for _, r in h.cluster.log[:first_write] if r.method == "DELETE"])
    return counts


def test_r_prepull_api_load_one_create_and_one_delete_per_node_lists_and_watches_do_not_grow() -> None:
    """Per node: one create, one delete. Lists of the pre-pull pods: the leftovers of earlier runs, the watch's
    start and the final clean-up, whatever the number of nodes; progress comes from watch events, not polls."""
    small, large = prepull_traffic(4), prepull_traffic(40)
    assert (small["create"], small["delete"]) == (4, 4)
    assert (large["create"], large["delete"]) == (40, 40)
    assert small["list"] == large["list"] == 3
    assert small["watch"] == large["watch"] == 1  # every pull lands at one moment of manual time


def test_r_prepull_a_template_changed_during_the_prepull_is_not_overwritten() -> None:
    """The pre-pull takes a while; someone else's template change meanwhile refuses the start (exit 5)."""
    from kubectl_ds.errors import Refused

    h = manual_cluster(nodes=2)

    def edit(wait: Wait) -> None:
        if prepull_pods(h) and not h.cluster.waits[:-1]:
            h.update_daemonset(lambda ds: ds["spec"]["template"]["spec"]["containers"][0].update(image="agent:v9"))

    h.cluster.on_wait.append(edit)
    with pytest.raises(Refused, match="its pod template was changed during the pre-pull"):
        h.rollout().start(V2, PREPULL)
    assert h.daemonset()["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:v9"
    assert STATE_ANNOTATION not in (h.daemonset()["metadata"].get("annotations") or {})


def test_r_prepull_during_resume_keeps_the_heartbeat_fresh() -> None:
    """A pre-pull before resuming may take minutes (here a pull failing on node-2 until --image-pull-timeout):
    the driver's heartbeat stays fresh meanwhile, so no other terminal takes over a live driver."""
    h = manual_cluster(nodes=3)
    tag = "agent-no-arm64:v2"
    h.rollout().start(image(tag), PREPULL, steps=1)
    label_node(h, "node-2", {"kubernetes.io/arch": "arm64"})
    ages: list[float] = []

    def look(wait: Wait) -> None:
        if prepull_pods(h):
            beat = datetime.fromisoformat(h.state()["heartbeat"].replace("Z", "+00:00"))
            ages.append((h.clock() - beat).total_seconds())

    h.cluster.on_wait.append(look)
    h.restart_clock()
    halt_message(lambda: h.rollout().resume())
    assert h.elapsed() >= 60 and len(ages) > 10
    assert max(ages) < 10
