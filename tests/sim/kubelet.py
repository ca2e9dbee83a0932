"""The kubelets of the simulated nodes: they start bound pods, report their status, stop deleted pods and
delete them once their containers are gone, and shut a node down gracefully when told to.

A bound pod goes Running, then Ready `ready_after` seconds after its containers start; what its containers do
(fail to pull, crash, ignore SIGTERM) follows the image conventions of tests/sim/containers.py. A pod with a
deletionTimestamp gets SIGTERM when its kubelet first sees it; its containers stop `stop_after` seconds later
(or as containers.stop_seconds says, at most the grace period: docs/rules.md#r-termination). The kubelet then
reports the pod terminal (Succeeded when every container exited 0 on SIGTERM, Failed when one was killed)
and deletes it for good, unless a finalizer holds the object. A kubelet that stopped posting (its node is
unreachable, Ready=Unknown: tests/sim/nodelifecycle.py) does nothing at all: it starts nothing, reports
nothing and never finishes a deletion (docs/rules.md#r-node-lifecycle). On a node that is NotReady but whose
kubelet still posts, pods are stopped and deleted but nothing new starts.

Sources: pkg/kubelet/status (generateAPIPodStatus, getPhase, the pod conditions, terminal phase of deleted
pods), pkg/kubelet/kuberuntime (killContainer with the grace period, doBackOff), pkg/kubelet/status/
status_manager.go (canBeDeleted, the final delete with grace 0), pkg/kubelet/nodeshutdown (the reason and
message of pods killed by a graceful node shutdown).

A pod with restartPolicy Never runs each container once (containers.run_once): it ends Succeeded when every
container exited 0, Failed otherwise; a pull that fails where the image has no manifest for the node's
platform, or without credentials for a private registry (containers.pull_refusal), fails with containerd's
message. A pod active longer than its activeDeadlineSeconds (since the kubelet started it) is killed: Failed,
reason DeadlineExceeded (pkg/kubelet/active_deadline.go).

Deviations: no kubelet admission (OutOfcpu, node affinity, OS ...), no init containers, probes or preStop
hooks; restartPolicy OnFailure is run as Always; a container is Ready `ready_after` seconds after it starts;
the terminal status and the final delete are written in the same pass.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from tests.apiserver import rfc3339
from tests.sim import containers
from tests.sim import objects as o
from tests.sim.containers import State
from tests.sim.objects import Obj, View
from tests.sim.writer import Writer, set_condition

KUBELET = "kubelet"
SHUTDOWN_REASON = "Terminated"  # nodeshutdown nodeShutdownReason
SHUTDOWN_MESSAGE = "Pod was terminated in response to imminent node shutdown."
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"  # active_deadline.go


def go_duration(seconds: float) -> str:
    """time.Duration.String() for whole seconds: 10s, 1m20s, 5m0s."""
    whole = int(seconds)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60}s"


def _status_summary(status: View) -> str:
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), "?")
    waiting = [
        ((s.get("state") or {}).get("waiting") or {}).get("reason") for s in status.get("containerStatuses") or []
    ]
    reasons = ",".join(w for w in waiting if w)
    return f"{status.get('phase')} Ready={ready}" + (f" {reasons}" if reasons else "")


def _node_ip(node: View) -> str | None:
    return next(
        (str(a.get("address")) for a in o.status_of(node).get("addresses") or [] if a.get("type") == "InternalIP"), None
    )


def _images(pod: View) -> list[str]:
    return [str(c.get("image") or "") for c in o.spec_of(pod).get("containers") or []]


class Kubelet:
    """Every node's kubelet at once; it remembers what it started and what it was told to stop, by pod uid.
    `posting(node)` says whether a node's kubelet is alive (tests/sim/nodelifecycle.py)."""

    def __init__(
        self,
        writer: Writer,
        ready_after: float,
        stop_after: float,
        posting: Callable[[View], bool],
        marked_not_ready: set[str],
        backoff_scale: float = 1.0,
    ) -> None:
        self.writer = writer
        self.backoff_scale = backoff_scale
        self.ready_after = ready_after
        self.stop_after = stop_after
        self.posting = posting
        self._started: dict[str, datetime] = {}
        self._sigterm_at: dict[str, datetime] = {}
        self._pod_ips: dict[str, str] = {}
        self.marked_not_ready = marked_not_ready  # pods the node lifecycle controller marked, shared with it

    def run_pass(self) -> None:
        nodes = {o.name(node): node for node in self.writer.server.objects("nodes")}
        all_pods = self.writer.server.objects("pods")
        live = {o.uid(pod) for pod in all_pods}
        for memory in (self._started, self._sigterm_at, self._pod_ips):
            for uid in [uid for uid in memory if uid not in live]:
                del memory[uid]
        for pod in all_pods:
            node = nodes.get(str(o.spec_of(pod).get("nodeName") or ""))
            if node is not None and self.posting(node):
                self._sync_pod(pod, node)

    def _sync_pod(self, pod: Obj, node: View) -> None:
        uid, now = o.uid(pod), self.writer.clock()
        if o.is_terminating(pod):
            self._terminate(pod, now)
            return
        if o.is_terminal(pod):
            return
        node_ready = o.condition_is_true(node, "Ready")
        if uid not in self._started:
            fresh = o.phase(pod) in ("", "Pending") and not o.status_of(pod).get("containerStatuses")
            if not fresh:
                self._seeded(pod, node_ready)  # a pod this kubelet did not start: readiness only
                return
            if not node_ready:
                return  # a NotReady node starts nothing: the pod stays Pending
            self._started[uid] = now
        if not node_ready:
            return  # the node lifecycle controller marks its pods NotReady
        if self._past_deadline(pod, self._started[uid], now):
            return
        desired = self._pod_status(pod, node, self._started[uid], now)
        self.writer.mutate(
            "pods",
            o.namespace(pod),
            o.name(pod),
            lambda obj: {**obj, "status": desired},
            f"{KUBELET}: {_status_summary(desired)}",
            uid=uid,
        )

    def _past_deadline(self, pod: Obj, started: datetime, now: datetime) -> bool:
        """pkg/kubelet/active_deadline.go: a pod active on the node (since its startTime) longer than its
        activeDeadlineSeconds is killed and reported Failed, reason DeadlineExceeded."""
        deadline = o.spec_of(pod).get("activeDeadlineSeconds")
        if deadline is None:
            return False
        due = started + timedelta(seconds=float(deadline))
        if now < due:
            self.writer.wait_until(due)
            return False
        self._write_terminal(
            pod,
            now,
            exit_code=137,
            reason="Error",
            detail="active deadline exceeded",
            pod_reason="DeadlineExceeded",
            message=DEADLINE_MESSAGE,
            disruption=False,
        )
        return True

    # --- stopping -----------------------------------------------------------------------------------------------

    def _terminate(self, pod: Obj, now: datetime) -> None:
        """SIGTERM when first seen, containers gone after their stop time (SIGKILL at the end of the grace
        period), then the terminal status and, unless a finalizer holds it, the final delete."""
        sigterm = self._sigterm_at.setdefault(o.uid(pod), now)
        meta = o.meta(pod)
        grace = float(
            meta.get("deletionGracePeriodSeconds") or o.spec_of(pod).get("terminationGracePeriodSeconds") or 30
        )
        stop = containers.stop_seconds(_images(pod), o.annotations_of(pod), grace, self.stop_after)
        due = sigterm + timedelta(seconds=stop)
        if now < due:
            self.writer.wait_until(due)
            return
        if not o.is_terminal(pod):
            killed = stop >= grace and any(containers.behaviour_of(image).ignores_sigterm for image in _images(pod))
            self._write_terminal(
                pod,
                now,
                exit_code=137 if killed else 0,
                reason="Error" if killed else "Completed",
                detail="containers stopped",
            )
        if meta.get("finalizers"):
            return  # someone else's finalizer holds the object
        self.writer.remove("pods", pod, f"{KUBELET}: containers stopped, final delete")

    def _write_terminal(
        self,
        pod: Obj,
        now: datetime,
        *,
        exit_code: int,
        reason: str,
        detail: str,
        pod_reason: str | None = None,
        message: str | None = None,
        disruption: bool = True,
    ) -> None:
        """The status of a pod whose containers all exited: Succeeded if every one exited 0, else Failed."""

        def change(obj: Obj) -> Obj:
            status = obj.setdefault("status", {})
            status["phase"] = "Succeeded" if exit_code == 0 and pod_reason is None else "Failed"
            if pod_reason:
                status["reason"], status["message"] = pod_reason, message
            if pod_reason and disruption:
                status["conditions"] = set_condition(
                    list(status.get("conditions") or []),
                    "DisruptionTarget",
                    "True",
                    now,
                    reason="TerminationByKubelet",
                    message=message,
                )
            for kind in ("Ready", "ContainersReady"):
                status["conditions"] = set_condition(
                    list(status.get("conditions") or []), kind, "False", now, reason="PodCompleted"
                )
            finished = rfc3339(now)
            status["containerStatuses"] = [
                {
                    **s,
                    "ready": False,
                    "started": False,
                    "state": {
                        "terminated": {
                            "exitCode": exit_code,
                            "reason": reason,
                            "startedAt": ((s.get("state") or {}).get("running") or {}).get("startedAt"),
                            "finishedAt": finished,
                        }
                    },
                }
                for s in status.get("containerStatuses") or []
            ]
            return obj

        self.writer.mutate("pods", o.namespace(pod), o.name(pod), change, f"{KUBELET}: {detail}", uid=o.uid(pod))

    def shut_down(self, node: str) -> None:
        """Graceful node shutdown (pkg/kubelet/nodeshutdown): every pod still running there is killed and
        reported Failed with reason Terminated and a DisruptionTarget=True (TerminationByKubelet) condition."""
        now = self.writer.clock()
        for pod in self.writer.server.objects("pods"):
            if o.spec_of(pod).get("nodeName") == node and not o.is_terminal(pod):
                self._write_terminal(
                    pod,
                    now,
                    exit_code=137,
                    reason="Error",
                    detail="node shutdown",
                    pod_reason=SHUTDOWN_REASON,
                    message=SHUTDOWN_MESSAGE,
                )

    # --- running ------------------------------------------------------------------------------------------------

    def _seeded(self, pod: Obj, node_ready: bool) -> None:
        """A pod the simulation found running (a test seeded it): once its node is Ready again, the kubelet
        reports Ready what the node lifecycle controller marked NotReady."""
        if not node_ready or o.uid(pod) not in self.marked_not_ready:
            return
        self.marked_not_ready.discard(o.uid(pod))
        self.writer.set_pod_condition(pod, "Ready", "True", f"{KUBELET}: node ready again")

    def _pod_status(self, pod: Obj, node: View, started: datetime, now: datetime) -> Obj:
        """The status this kubelet reports `now` for a pod it started at `started` (getPhase: Pending while a
        container has never run, else Running)."""
        elapsed = (now - started).total_seconds()
        specs = list(o.spec_of(pod).get("containers") or [])
        one_shot = o.spec_of(pod).get("restartPolicy") == "Never"
        credentials = self._has_pull_credentials(pod)
        statuses = []
        for container in specs:
            image = str(container.get("image") or "")
            refusal = containers.pull_refusal(image, o.labels_of(node), credentials)
            behaviour = containers.Behaviour(failed_pulls=None) if refusal else containers.behaviour_of(image)
            if one_shot:
                ran = containers.run_once(
                    behaviour, image, container.get("command"), elapsed, self.ready_after, self.backoff_scale
                )
                if isinstance(ran, containers.Exit):
                    statuses.append(_exited(container, ran, started))
                    continue
                state = ran
            else:
                state = containers.state_at(behaviour, elapsed, self.ready_after, self.backoff_scale)
            self._arm_timers(behaviour, state, started, elapsed)
            statuses.append(self._container_status(pod, container, state, started, elapsed, refusal))
            if containers.unready_now(behaviour, elapsed):
                statuses[-1]["ready"] = False
        ready = all(s["ready"] for s in statuses)
        never_ran = any("waiting" in s["state"] and "lastState" not in s for s in statuses)
        exited = [s["state"]["terminated"]["exitCode"] for s in statuses if "terminated" in s["state"]]
        unready = [str(s["name"]) for s in statuses if not s["ready"]]
        reason = None if ready else "ContainersNotReady"
        message = None if ready else f"containers with unready status: [{' '.join(unready)}]"
        old = o.status_of(pod)
        conditions = set_condition(list(old.get("conditions") or []), "Initialized", "True", started)
        for kind in ("Ready", "ContainersReady"):
            conditions = set_condition(
                conditions, kind, "True" if ready else "False", now, reason=reason, message=message
            )
        conditions = set_condition(conditions, "PodScheduled", "True", started)
        phase = "Pending" if never_ran else "Running"
        if one_shot and len(exited) == len(statuses):  # getPhase: every container exited, none restarts
            phase = "Succeeded" if not any(exited) else "Failed"
        status: Obj = {
            **old,
            "phase": phase,
            "conditions": conditions,
            "startTime": rfc3339(started),
            "containerStatuses": statuses,
        }
        host_ip = _node_ip(node)
        if host_ip:
            status["hostIP"] = host_ip
        status["podIP"] = host_ip if o.spec_of(pod).get("hostNetwork") and host_ip else self._pod_ip(o.uid(pod))
        return status

    def _arm_timers(self, behaviour: containers.Behaviour, state: State, started: datetime, elapsed: float) -> None:
        """settle() waits for what changes by itself: readiness, and every step of a failure that ends (a
        flaky pull, a container that crashes a few times). A failure that never ends is followed only through
        its first steps (the first ImagePullBackOff, the first CrashLoopBackOff), or settle() would never end."""
        moments = []
        if state.running_since is not None and elapsed < state.running_since + self.ready_after:
            moments.append(state.running_since + self.ready_after)
        if behaviour.unready is not None:
            moments += [moment for moment in behaviour.unready if elapsed < moment]
        if state.changes_at is not None:
            ends = behaviour.failed_pulls is not None and behaviour.exits is not None
            if ends or state.changes_at <= 2 * self.ready_after:
                moments.append(state.changes_at)
        for moment in moments:
            self.writer.wait_until(started + timedelta(seconds=moment))

    def _has_pull_credentials(self, pod: View) -> bool:
        """Whether one of the pod's imagePullSecrets exists (the kubelet only warns about the missing ones)."""
        return any(
            self.writer.server.get("secrets", o.namespace(pod), str(ref.get("name") or "")) is not None
            for ref in o.spec_of(pod).get("imagePullSecrets") or []
        )

    def _container_status(
        self, pod: View, container: View, state: State, started: datetime, elapsed: float, refusal: str | None = None
    ) -> Obj:
        name, image = str(container.get("name") or ""), str(container.get("image") or "")
        result: Obj = {
            "name": name,
            "image": image,
            "imageID": "",
            "ready": False,
            "restartCount": state.restarts,
            "started": False,
        }
        if state.last_exit is not None:
            began, ended = (rfc3339(started + timedelta(seconds=moment)) for moment in state.last_exit)
            result["lastState"] = {
                "terminated": {"exitCode": 1, "reason": "Error", "startedAt": began, "finishedAt": ended}
            }
        if state.waiting == "ErrImagePull":
            why = refusal or f'failed to resolve reference "{image}": {image}: not found'
            code = "Unknown" if refusal and "authorization" in refusal else "NotFound"
            result["state"] = {
                "waiting": {
                    "reason": "ErrImagePull",
                    "message": f'rpc error: code = {code} desc = failed to pull and unpack image "{image}": {why}',
                }
            }
        elif state.waiting == "ImagePullBackOff":
            result["state"] = {
                "waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}
            }
        elif state.waiting == "CrashLoopBackOff":
            pod_ref = f"{o.name(pod)}_{o.namespace(pod)}({o.uid(pod)})"
            result["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {go_duration(state.back_off)} restarting failed "
                    f"container={name} pod={pod_ref}",
                }
            }
        else:
            since = state.running_since or 0.0
            result.update(
                started=True,
                ready=elapsed >= since + self.ready_after,
                state={"running": {"startedAt": rfc3339(started + timedelta(seconds=since))}},
            )
        return result

    def _pod_ip(self, uid: str) -> str:
        if uid not in self._pod_ips:
            index = len(self._pod_ips)
            self._pod_ips[uid] = f"10.244.{index // 250}.{index % 250 + 2}"
        return self._pod_ips[uid]


def _exited(container: View, ran: containers.Exit, started: datetime) -> Obj:
    """The status of a one-shot container that exited (a StartError never ran: containerd's message)."""
    command = list(container.get("command") or [])
    terminated: Obj = {
        "exitCode": ran.exit_code,
        "reason": ran.reason,
        "startedAt": rfc3339(started + timedelta(seconds=ran.started)),
        "finishedAt": rfc3339(started + timedelta(seconds=ran.finished)),
    }
    if ran.reason == "StartError":
        terminated["message"] = containers.start_error(str(command[0]))
    return {
        "name": str(container.get("name") or ""),
        "image": str(container.get("image") or ""),
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "started": False,
        "state": {"terminated": terminated},
    }
