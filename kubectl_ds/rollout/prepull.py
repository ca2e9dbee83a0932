"""Pure. Pre-pulling a rollout's new images on the nodes it will update, before the first write to the
DaemonSet (docs/rules.md#r-prepull): which images, the pod that pulls them on one node, and what a pod's
status says about the pull there.

The workload: one Pod per node, bound by `spec.nodeName` (no scheduler: no queue for 500 pods, no
preemption, and it works while the scheduler is down), `restartPolicy: Never`, one container per changed image
(containers and initContainers of the template), each with the DaemonSet container's own imagePullPolicy (so
the pull is the one the new pod would make) and a command that no image holds. The kubelet pulls the image,
then fails to start the container (containerd: StartError, exit code 128; CRI-O: CreateContainerError), and
the pod ends at once whatever the image holds: distroless images have no shell to run `exit 0` in, and
running an image's own entrypoint would start the agent on the node. Regular containers, not init containers:
an init container that fails stops the ones after it from being pulled. What counts is the pull, read from
each container's state: anything past the pull (running, terminated, a create or start error) is pulled;
ErrImagePull / ImagePullBackOff is a failure once it has lasted `--image-pull-timeout` (a registry that
throttles recovers), InvalidImageName and ErrImageNeverPull at once.

Nothing is left behind: an ownerReference to the DaemonSet (not a controller reference, which the DaemonSet
controller would release as a pod its selector does not match) makes the garbage collector delete the pods
with it; activeDeadlineSeconds makes the kubelet stop a pod a killed driver left; the driver deletes each pod
as soon as its node has pulled, and every remaining one on every way out.

The pods copy what decides where a DaemonSet pod may run and what it may pull: nodeSelector, affinity (the
kubelet's admission checks them), tolerations with the ones the DaemonSet controller adds (the taint manager
evicts on an untolerated NoExecute taint), imagePullSecrets, hostNetwork (the sandbox comes before the pull,
and a node whose CNI is down can start only host-network pods); no resource requests (they fit on a full node);
a restricted security context (the Pod Security "restricted" level admits them); no service account token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubectl_ds import resources as r
from kubectl_ds.placement.predicate import node_should_run_daemon_pod
from kubectl_ds.placement.taints import daemonset_pod_tolerations
from kubectl_ds.resources import Obj

PREPULL_LABEL = "kubectl-ds.io/prepull-for"  # the DaemonSet's uid: every pre-pull pod of it, any run
RUN_LABEL = "kubectl-ds.io/prepull-run"  # one run's pods
COMMAND = "/kubectl-ds-prepull-exits-at-once"  # in no image: the container fails to start once pulled
DEADLINE_MARGIN = 60  # seconds the pods may outlive the driver's timeout before the kubelet stops them

# Waiting reasons of a pull that failed (pkg/kubelet/images/types.go).
PULL_FAILURES = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "RegistryUnavailable", "SignatureValidationFailed", "InvalidImageName"}
)
FINAL_AT_ONCE = frozenset({"InvalidImageName", "ErrImageNeverPull"})

PULLING, PULLED, FAILED = "pulling", "pulled", "failed"


@dataclass(frozen=True)
class PullTarget:
    """One image to pull: for which container of the template, and with which pull policy."""

    container: str
    image: str
    pull_policy: str
    init: bool = False


def images_to_pull(old_template: Obj, new_template: Obj) -> tuple[PullTarget, ...]:
    """The containers and initContainers of the new template whose image is not the one the old template's
    container of that name runs (a new container included), one per image and pull policy."""
    found: list[PullTarget] = []
    seen: set[tuple[str, str]] = set()
    for key, init in (("initContainers", True), ("containers", False)):
        old = {str(c.get("name")): str(c.get("image") or "") for c in r.spec(old_template).get(key) or []}
        for container in r.spec(new_template).get(key) or []:
            name, image = str(container.get("name") or ""), str(container.get("image") or "")
            policy = str(container.get("imagePullPolicy") or _default_policy(image))
            if not image or old.get(name) == image or (image, policy) in seen:
                continue
            seen.add((image, policy))
            found.append(PullTarget(name, image, policy, init))
    return tuple(found)


def _default_policy(image: str) -> str:
    """The API server's default: Always for :latest or no tag, else IfNotPresent."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


def staging_nodes(daemonset: Obj, nodes: Sequence[Obj]) -> tuple[str, ...]:
    """`kubectl ds prepull`: every node where the DaemonSet (with the new template) should run, except the
    unreachable ones (their kubelet reports nothing), by name."""
    return tuple(
        sorted(
            r.name(node)
            for node in nodes
            if node_should_run_daemon_pod(daemonset, node).should_run and not r.is_node_unreachable(node)
        )
    )


def pod_name(prefix: str, node: str) -> str:
    """`<prefix>-<node>`, a valid pod name (at most 253 characters) whatever the node's name."""
    name = f"{prefix}-{node}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(node.encode()).hexdigest()[:10]
    return f"{prefix[:200]}-{digest}"


def run_prefix(daemonset: Obj, run_id: str) -> str:
    return f"{r.name(daemonset)[:200]}-prepull-{run_id}"


def selector(daemonset: Obj, run_id: str | None = None) -> dict[str, Any]:
    """The label selector of the pre-pull pods of a DaemonSet: one run's, or every run's (None)."""
    labels = {PREPULL_LABEL: r.uid(daemonset)}
    if run_id is not None:
        labels[RUN_LABEL] = run_id
    return {"matchLabels": labels}


def prepull_pod(
    daemonset: Obj, template: Obj, node: str, targets: Sequence[PullTarget], *, run_id: str, timeout: float
) -> dict[str, Any]:
    """The pod that pulls `targets` on `node` (see the module's docstring for each choice)."""
    spec = r.spec(template)
    pod_spec: dict[str, Any] = {
        "nodeName": node,
        "restartPolicy": "Never",
        "activeDeadlineSeconds": int(timeout) + DEADLINE_MARGIN,
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "tolerations": daemonset_pod_tolerations(
            list(spec.get("tolerations") or []), host_network=bool(spec.get("hostNetwork"))
        ),
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_container(index, target) for index, target in enumerate(targets)],
    }
    # hostNetwork too: the kubelet creates the pod's sandbox before it pulls, and a pod on the pod network needs
    # the CNI, which is what a CNI DaemonSet's rollout (Cilium, Calico) may be replacing or repairing.
    for key in ("nodeSelector", "affinity", "imagePullSecrets", "hostNetwork"):
        if spec.get(key):
            pod_spec[key] = spec[key]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(run_prefix(daemonset, run_id), node),
            "namespace": r.namespace(daemonset),
            "labels": {PREPULL_LABEL: r.uid(daemonset), RUN_LABEL: run_id},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": r.name(daemonset), "uid": r.uid(daemonset)}
            ],
        },
        "spec": pod_spec,
    }


def _container(index: int, target: PullTarget) -> dict[str, Any]:
    return {
        "name": f"pull-{index}",
        "image": target.image,
        "imagePullPolicy": target.pull_policy,
        "command": [COMMAND],
        "resources": {},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }


@dataclass(frozen=True)
class NodePull:
    """How the pull stands on one node; for a failure, the container's image, the reason and the message."""

    node: str
    state: str  # PULLING, PULLED or FAILED
    image: str = ""
    reason: str = ""
    message: str = ""


def judge(
    node: str, pod: Obj | None, *, now: datetime, pull_timeout: float, messages: Mapping[str, str] | None = None
) -> NodePull:
    """What `pod` (None: it is gone) says of the pull on `node`. `messages`: the last ErrImagePull message seen
    per image, since ImagePullBackOff only says "Back-off pulling image"."""
    if pod is None:
        return NodePull(node, FAILED, reason="PodDeleted", message="its pre-pull pod was deleted by someone else")
    status = r.status(pod)
    images = {str(c.get("name")): str(c.get("image") or "") for c in r.spec(pod).get("containers") or []}
    by_name = {str(s.get("name")): s for s in status.get("containerStatuses") or []}
    created = r.parse_time(r.metadata(pod).get("creationTimestamp"))
    lasted = created is not None and (now - created).total_seconds() >= pull_timeout
    terminal = status.get("phase") in ("Failed", "Succeeded")
    if terminal and status.get("reason"):  # stopped by the kubelet: DeadlineExceeded, Evicted, its admission
        unpulled = [image for name, image in images.items() if not (by_name.get(name) or {}).get("imageID")]
        if unpulled:
            return NodePull(node, FAILED, unpulled[0], str(status["reason"]), str(status.get("message") or ""))
    pending: list[str] = []
    for name, image in images.items():
        verdict = _container_pulled(by_name.get(name))
        if verdict is True:
            continue
        if isinstance(verdict, tuple):
            reason, message = verdict
            if reason in FINAL_AT_ONCE or lasted or terminal:
                known = (messages or {}).get(image)
                if reason == "ImagePullBackOff" and known:
                    # The back-off repeats the ErrImagePull behind it: said as that, so one failure on many
                    # nodes is one group whichever of the two states each node was seen in.
                    reason, message = "ErrImagePull", known
                return NodePull(node, FAILED, image, reason, message)
        pending.append(image)
    if not pending:
        return NodePull(node, PULLED)
    if terminal:  # stopped before the pull ended: DeadlineExceeded, evicted, refused by the kubelet's admission
        reason = str(status.get("reason") or status.get("phase"))
        return NodePull(node, FAILED, pending[0], reason, str(status.get("message") or ""))
    return NodePull(node, PULLING, pending[0])


def _container_pulled(status: Obj | None) -> bool | tuple[str, str] | None:
    """True once the container is past its pull; (reason, message) of a failed pull; None while pulling."""
    if status is None:
        return None
    state = status.get("state") or {}
    if "running" in state or status.get("imageID"):
        return True
    terminated = state.get("terminated") or {}
    if terminated.get("reason") in ("StartError", "Completed", "Error", "ContainerCannotRun") and terminated.get(
        "finishedAt"
    ):
        return True
    waiting = state.get("waiting") or {}
    reason = str(waiting.get("reason") or "")
    if reason in PULL_FAILURES or reason in FINAL_AT_ONCE:
        return reason, str(waiting.get("message") or "")
    if reason in ("CreateContainerError", "CreateContainerConfigError", "RunContainerError", "CrashLoopBackOff"):
        return True  # these come after the pull
    return None


def abandoned(pod: Obj, now: datetime) -> bool:
    """A pre-pull pod of an earlier run that no driver follows any more: ended (the kubelet stopped it at its
    deadline, or it ended and its driver was killed before deleting it) or older than its deadline. A pod of a
    run that may still be followed (another terminal's `kubectl ds prepull`) is left to that run."""
    if r.status(pod).get("phase") in ("Failed", "Succeeded"):
        return True
    created = r.parse_time(r.metadata(pod).get("creationTimestamp"))
    deadline = r.spec(pod).get("activeDeadlineSeconds")
    return created is None or deadline is None or (now - created).total_seconds() > float(deadline)


def pull_error_messages(pods: Sequence[Obj]) -> dict[str, str]:
    """The ErrImagePull message per image in these pods' statuses (kept by the caller across events)."""
    found: dict[str, str] = {}
    for pod in pods:
        for status in r.status(pod).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") == "ErrImagePull" and waiting.get("message"):
                found[str(status.get("image") or "")] = str(waiting["message"])
    return found


def failure_reason(failures: Sequence[NodePull], total: int) -> str:
    """One line naming each failing node, grouped by image and reason."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for failure in failures:
        groups.setdefault((failure.image, failure.reason, failure.message), []).append(failure.node)
    parts = []
    for (image, reason, message), nodes in groups.items():
        what = f"{image}: {reason}" if image else reason
        parts.append(f"{what} on {', '.join(nodes)}" + (f" ({message})" if message else ""))
    return f"the new image could not be pulled on {len(failures)} of {total} nodes: " + "; ".join(parts)
