"""The kubelets of the simulated nodes, and the node-lifecycle controller's part in a node going NotReady.

A bound pod goes Running, then Ready `ready_after` seconds later; images named `crash` crash-loop with
the kubelet's doubling back-off, images named `bad` or `nonexistent` fail to pull; a terminating pod goes
away once its grace (`ready_after` here) has passed, unless a finalizer holds it. On a node made NotReady
with ClusterSimulator.set_node_ready, pods turn Ready=False (the node-lifecycle controller's
MarkPodsNotReady), and a stopped kubelet starts nothing.

Sources: pkg/kubelet/status (generateAPIPodStatus, the pod conditions), pkg/kubelet/kuberuntime (image
pull and crash-loop back-off), pkg/controller/nodelifecycle (MarkPodsNotReady,
nodeConditionToTaintKeyStatusMap, the NoExecute taint pass).

Deviations: pods only ever fail because of their image name; no admission (OutOfcpu ...), no init
containers or probes; back-off runs on `ready_after` instead of 10s doubling to 5 minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.apiserver import rfc3339
from tests.sim import objects as o
from tests.sim import pods
from tests.sim.objects import Obj, View
from tests.sim.writer import Writer, set_condition

KUBELET = "kubelet"
NODE_LIFECYCLE = "node-lifecycle-controller"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
# Crash-loop back-off: 10s doubling to 5 min in a real kubelet; here `ready_after` doubling to 32 times it.
CRASH_BACKOFF_CAP = 32


def crash_restarts(elapsed: float, ready_after: float) -> int:
    """How often a crash-looping container has restarted `elapsed` seconds after it first started:
    restart k comes ready_after * min(2**(k-1), CRASH_BACKOFF_CAP) after restart k-1."""
    if ready_after <= 0:
        return 0
    restarts, at, delay = 0, 0.0, 1
    while delay < CRASH_BACKOFF_CAP:
        at += delay * ready_after
        if at > elapsed:
            return restarts
        restarts += 1
        delay *= 2
    return restarts + int((elapsed - at) // (CRASH_BACKOFF_CAP * ready_after))


def _fails_to_pull(image: str) -> bool:
    return "bad" in image or "nonexistent" in image


def _crashes(image: str) -> bool:
    return "crash" in image


def node_readiness(node: Obj, ready: bool, now: datetime) -> Obj:
    """What the node-lifecycle controller writes when a kubelet stops (or resumes) posting status: the Ready
    condition Unknown plus the `unreachable` NoSchedule and NoExecute taints, or Ready=True without the
    `unreachable` and `not-ready` taints."""
    status = node.setdefault("status", {})
    if ready:
        conditions = set_condition(list(status.get("conditions") or []), "Ready", "True", now,
                                   reason="KubeletReady", message="kubelet is posting ready status")
    else:
        conditions = set_condition(list(status.get("conditions") or []), "Ready", "Unknown", now,
                                   reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
    # Node conditions carry no lastProbeTime when there is none.
    status["conditions"] = [{k: v for k, v in c.items() if not (k == "lastProbeTime" and v is None)}
                            for c in conditions]
    spec = node.setdefault("spec", {})
    node_taints = list(spec.get("taints") or [])
    if ready:
        node_taints = [t for t in node_taints if t.get("key") not in (UNREACHABLE_TAINT, NOT_READY_TAINT)]
    else:
        for effect in ("NoSchedule", "NoExecute"):
            if not any(t.get("key") == UNREACHABLE_TAINT and t.get("effect") == effect for t in node_taints):
                added = {"timeAdded": rfc3339(now)} if effect == "NoExecute" else {}
                node_taints.append({"key": UNREACHABLE_TAINT, "effect": effect, **added})
    if node_taints:
        spec["taints"] = node_taints
    else:
        spec.pop("taints", None)
    return node


def _status_summary(status: View) -> str:
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), "?")
    waiting = [((s.get("state") or {}).get("waiting") or {}).get("reason")
               for s in status.get("containerStatuses") or []]
    reasons = ",".join(w for w in waiting if w)
    return f"{status.get('phase')} Ready={ready}" + (f" {reasons}" if reasons else "")


def _node_ip(node: View) -> str | None:
    return next((str(a.get("address")) for a in o.status_of(node).get("addresses") or []
                 if a.get("type") == "InternalIP"), None)


class Kubelet:
    """Every node's kubelet at once; it remembers what it started, by pod uid."""

    def __init__(self, writer: Writer, ready_after: float) -> None:
        self.writer = writer
        self.ready_after = ready_after
        self._started: dict[str, datetime] = {}
        self._terminating_since: dict[str, datetime] = {}
        self._marked_not_ready: set[str] = set()
        self._pod_ips: dict[str, str] = {}

    def run_pass(self) -> None:
        nodes = {o.name(node): node for node in self.writer.server.objects("nodes")}
        all_pods = self.writer.server.objects("pods")
        live = {o.uid(pod) for pod in all_pods}
        for memory in (self._started, self._terminating_since, self._pod_ips):
            for uid in [uid for uid in memory if uid not in live]:
                del memory[uid]
        self._marked_not_ready &= live
        for pod in all_pods:
            node = nodes.get(str(o.spec_of(pod).get("nodeName") or ""))
            if node is not None:
                self._sync_pod(pod, node)

    def _sync_pod(self, pod: Obj, node: View) -> None:
        uid, now = o.uid(pod), self.writer.clock()
        if o.is_terminating(pod):
            self._finish_termination(pod, now)
            return
        if o.is_terminal(pod):
            return
        node_ready = o.condition_is_true(node, "Ready")
        if uid not in self._started:
            fresh = o.phase(pod) in ("", "Pending") and not o.status_of(pod).get("containerStatuses")
            if not fresh:
                self._node_lifecycle(pod, node_ready, now)  # a pod this kubelet did not start: readiness only
                return
            if not node_ready:
                return  # a stopped kubelet starts nothing: the pod stays Pending
            self._started[uid] = now
        if not node_ready:
            self._mark_not_ready(pod, now)
            return
        desired = self._pod_status(pod, node, self._started[uid], now)
        self.writer.mutate("pods", o.namespace(pod), o.name(pod), lambda obj: {**obj, "status": desired},
                           f"{KUBELET}: {_status_summary(desired)}", uid=uid)

    def _finish_termination(self, pod: Obj, now: datetime) -> None:
        """A pod with a deletionTimestamp: its containers stop, then the kubelet's final delete removes it."""
        if o.meta(pod).get("finalizers"):
            return  # someone else's finalizer holds it
        due = self._terminating_since.setdefault(o.uid(pod), now) + timedelta(seconds=self.ready_after)
        if now < due:
            self.writer.wait_until(due)
            return
        self.writer.remove("pods", pod, f"{KUBELET}: containers stopped after the grace period")

    def _mark_not_ready(self, pod: Obj, now: datetime) -> None:
        """MarkPodsNotReady: the node-lifecycle controller flips Ready to False on a node that stopped reporting."""
        if pods.is_ready(pod):
            self._marked_not_ready.add(o.uid(pod))
        self._set_ready(pod, "False", now, f"{NODE_LIFECYCLE}: pod not ready")

    def _set_ready(self, pod: Obj, value: str, now: datetime, detail: str) -> None:
        def change(obj: Obj) -> Obj:
            status = obj.setdefault("status", {})
            status["conditions"] = set_condition(list(status.get("conditions") or []), "Ready", value, now)
            return obj
        self.writer.mutate("pods", o.namespace(pod), o.name(pod), change, detail, uid=o.uid(pod))

    def _node_lifecycle(self, pod: Obj, node_ready: bool, now: datetime) -> None:
        """Pods the simulation found running (seeded by a test): only node readiness changes them."""
        if not node_ready:
            self._mark_not_ready(pod, now)
        elif o.uid(pod) in self._marked_not_ready:
            self._marked_not_ready.discard(o.uid(pod))
            self._set_ready(pod, "True", now, f"{KUBELET}: node ready again")

    def _pod_status(self, pod: Obj, node: View, started: datetime, now: datetime) -> Obj:
        """The status this kubelet reports `now`, for a pod it started at `started`."""
        elapsed = (now - started).total_seconds()
        containers = list(o.spec_of(pod).get("containers") or [])
        images = [str(c.get("image") or "") for c in containers]
        pull_failed = any(_fails_to_pull(image) for image in images)
        ready = not pull_failed and not any(_crashes(image) for image in images) and elapsed >= self.ready_after
        if not ready and elapsed < self.ready_after:
            self.writer.wait_until(started + timedelta(seconds=self.ready_after))  # Ready, or ImagePullBackOff
        old = o.status_of(pod)
        statuses = [self._container_status(pod, c, started, elapsed, ready) for c in containers]
        unready = [str(c.get("name")) for c, s in zip(containers, statuses, strict=True) if not s["ready"]]
        reason = None if ready else "ContainersNotReady"
        message = None if ready else f"containers with unready status: [{' '.join(unready)}]"
        conditions = set_condition(list(old.get("conditions") or []), "Initialized", "True", started)
        for kind in ("Ready", "ContainersReady"):
            conditions = set_condition(conditions, kind, "True" if ready else "False", now, reason=reason,
                                       message=message)
        conditions = set_condition(conditions, "PodScheduled", "True", started)
        status: Obj = {**old, "phase": "Pending" if pull_failed else "Running", "conditions": conditions,
                       "startTime": rfc3339(started), "containerStatuses": statuses}
        host_ip = _node_ip(node)
        if host_ip:
            status["hostIP"] = host_ip
        status["podIP"] = host_ip if o.spec_of(pod).get("hostNetwork") and host_ip else self._pod_ip(o.uid(pod))
        return status

    def _container_status(self, pod: View, container: View, started: datetime, elapsed: float, ready: bool) -> Obj:
        name, image = str(container.get("name") or ""), str(container.get("image") or "")
        result: Obj = {"name": name, "image": image, "imageID": "", "ready": ready, "restartCount": 0,
                       "started": True, "state": {"running": {"startedAt": rfc3339(started)}}}
        if _fails_to_pull(image):
            if elapsed < self.ready_after:
                waiting = {"reason": "ErrImagePull",
                           "message": f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
                                      f'failed to resolve reference "{image}": {image}: not found'}
            else:
                waiting = {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}
            return {**result, "ready": False, "started": False, "state": {"waiting": waiting}}
        if _crashes(image):
            restarts = crash_restarts(elapsed, self.ready_after)
            if restarts == 0:
                return {**result, "ready": False}
            back_off = min(10 * 2 ** (restarts - 1), 300)
            pod_ref = f"{o.name(pod)}_{o.namespace(pod)}({o.uid(pod)})"
            return {**result, "ready": False, "started": False, "restartCount": restarts,
                    "state": {"waiting": {"reason": "CrashLoopBackOff",
                                          "message": f"back-off {back_off}s restarting failed "
                                                     f"container={name} pod={pod_ref}"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}
        return result

    def _pod_ip(self, uid: str) -> str:
        if uid not in self._pod_ips:
            index = len(self._pod_ips)
            self._pod_ips[uid] = f"10.244.{index // 250}.{index % 250 + 2}"
        return self._pod_ips[uid]
