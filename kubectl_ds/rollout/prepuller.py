"""SHELL. Pre-pulls a rollout's new images on the nodes it will update (docs/rules.md#r-prepull), through
the rollout's Session: the pods of rollout/prepull.py created (the cluster adapter creates them a few at a
time), followed by one watch on their label (never a poll), each deleted as soon as its node has pulled,
and every remaining one deleted on every way out (success, failure, timeout, Ctrl-C, an error). A driver
killed outright leaves pods that the kubelet stops at their activeDeadlineSeconds and the garbage collector
deletes with the DaemonSet; the next run on the DaemonSet deletes them first.

It never writes to the DaemonSet: the caller decides what a failure means (before the first write of
`start`: exit 4 with the DaemonSet untouched; during `resume`: a halt before any eviction).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from kubectl_ds import resources as r
from kubectl_ds.errors import DsError, NotFound, Refused, RolloutHalted
from kubectl_ds.resources import Obj
from kubectl_ds.rollout import events as ev
from kubectl_ds.rollout import prepull as pp
from kubectl_ds.rollout.informer import PodInformer
from kubectl_ds.rollout.plan import Plan
from kubectl_ds.rollout.session import Session
from kubectl_ds.rollout.state import FORWARD, RolloutOptions, RolloutState

if TYPE_CHECKING:
    from kubectl_ds.rollout.runner import Rollout

WAIT_AT_MOST = 5.0  # seconds of one watch wait: the timeout is checked at least this often


def plan_nodes(plan: Plan) -> tuple[str, ...]:
    """The nodes a rollout will give the new pod: every step's, and those that get it without a step."""
    seen: dict[str, None] = {}
    for step in plan.steps:
        seen.update(dict.fromkeys(step.nodes))
    seen.update(dict.fromkeys(plan.create_only))
    return tuple(seen)


def preview(daemonset: Obj, template: Obj, nodes: Sequence[str], options: RolloutOptions) -> ev.PrepullPreview:
    """What a pre-pull would create (for `plan` and --dry-run)."""
    targets = pp.images_to_pull(r.pod_template(daemonset), template)
    prefix = pp.run_prefix(daemonset, "xxxxx")
    return ev.PrepullPreview(
        images=tuple(target.image for target in targets),
        nodes=tuple(nodes) if targets else (),
        pods=tuple(pp.pod_name(prefix, node) for node in nodes) if targets else (),
        timeout=options.prepull_timeout,
    )


class Prepuller:
    def __init__(self, io: Session) -> None:
        self.io = io
        self.cluster = io.cluster

    def run(
        self,
        daemonset: Obj,
        template: Obj,
        nodes: Sequence[str],
        *,
        timeout: float,
        pull_timeout: float,
        beat: Callable[[], None] = lambda: None,
    ) -> list[pp.NodePull]:
        """Pull the images `template` changes on `nodes`; the nodes where the pull failed (none: all pulled).
        `beat` is called while it waits (a resumed rollout's heartbeat, which also checks it is still ours)."""
        targets = pp.images_to_pull(r.pod_template(daemonset), template)
        if not targets or not nodes:
            return []
        run_id = uuid.uuid4().hex[:5]
        self._remove(daemonset, None)  # what a killed earlier run left
        pods = [pp.prepull_pod(daemonset, template, node, targets, run_id=run_id, timeout=timeout) for node in nodes]
        self.io.driver.say(ev.PrepullStarted(tuple(t.image for t in targets), len(nodes), timeout))
        try:
            self.io.retry(lambda: self.cluster.create_pods(namespace=r.namespace(daemonset), pods=pods))
            failures = self._follow(daemonset, run_id, list(nodes), timeout, pull_timeout, beat)
        finally:
            self._remove(daemonset, run_id)
        done = ev.PrepullFailed(len(failures), len(nodes)) if failures else ev.PrepullDone(len(nodes))
        self.io.driver.say(done)
        return failures

    def _follow(
        self,
        daemonset: Obj,
        run_id: str,
        nodes: list[str],
        timeout: float,
        pull_timeout: float,
        beat: Callable[[], None],
    ) -> list[pp.NodePull]:
        informer = self._informer(daemonset, run_id)
        deadline = self.io.now() + timedelta(seconds=timeout)
        pulled: set[str] = set()
        failed: dict[str, pp.NodePull] = {}
        messages: dict[str, str] = {}
        said = 0
        while True:
            self.io.checkpoint()
            beat()
            pods, _ = informer.pods()
            messages.update(pp.pull_error_messages(pods))
            by_node = {str(r.spec(pod).get("nodeName") or ""): pod for pod in pods}
            now = self.io.now()
            for node in nodes:
                if node in pulled or node in failed:
                    continue
                verdict = pp.judge(node, by_node.get(node), now=now, pull_timeout=pull_timeout, messages=messages)
                if verdict.state == pp.PULLED:
                    pulled.add(node)
                    self._delete(by_node[node])
                elif verdict.state == pp.FAILED:
                    failed[node] = verdict
            if len(pulled) != said:
                said = len(pulled)
                self.io.driver.say(ev.PrepullProgress(said, len(nodes)))
            if len(pulled) + len(failed) == len(nodes):
                break
            if now >= deadline:
                for node in nodes:
                    if node not in pulled and node not in failed:
                        message = f"no pull reported within {timeout:g}s (--prepull-timeout)"
                        failed[node] = pp.NodePull(node, pp.FAILED, reason="Timeout", message=message)
                break
            if informer.wait(min(WAIT_AT_MOST, max((deadline - now).total_seconds(), 0.1))) < 0:
                self.io.sleep(0.5)  # a watch that failed at once: the next read lists again
        return [failed[node] for node in nodes if node in failed]

    def _informer(self, daemonset: Obj, run_id: str | None) -> PodInformer:
        namespace, wanted = r.namespace(daemonset), pp.selector(daemonset, run_id)

        def list_pods() -> tuple[list[Obj], str]:
            items, version = self.io.retry(
                lambda: self.cluster.list_pods_versioned(namespace=namespace, selector=wanted)
            )
            return list(items), version

        def watch_pods(version: str, seconds: float) -> Iterator[tuple[str, Obj]]:
            return self.cluster.watch_pods(
                namespace=namespace, selector=wanted, resource_version=version, timeout=seconds
            )

        return PodInformer(list_pods, watch_pods, lambda pod: True)

    def _delete(self, pod: Obj) -> None:
        with contextlib.suppress(NotFound):
            self.io.retry(lambda: self.cluster.delete_pod(namespace=r.namespace(pod), name=r.name(pod), uid=r.uid(pod)))

    def _remove(self, daemonset: Obj, run_id: str | None) -> None:
        """Delete the pre-pull pods of one run (or those earlier runs abandoned), best effort: on a way out, an
        error here must not hide the one that brought us here, and whatever stays is stopped by its deadline."""
        with contextlib.suppress(DsError):
            namespace, wanted = r.namespace(daemonset), pp.selector(daemonset, run_id)
            items, _ = self.io.retry(lambda: self.cluster.list_pods_versioned(namespace=namespace, selector=wanted))
            now = self.io.now()
            for pod in items:
                if not r.metadata(pod).get("deletionTimestamp") and (run_id is not None or pp.abandoned(pod, now)):
                    self._delete(pod)


# --- what the runner calls ------------------------------------------------------------------------------------


def before_start(rollout: Rollout, daemonset: Obj, template: Obj, plan: Plan, options: RolloutOptions) -> None:
    """`start --prepull`: pull before the first write; a failure is exit 4 with the DaemonSet untouched."""
    if not options.prepull:
        return
    nodes = plan_nodes(plan)
    failures = Prepuller(rollout.io).run(
        daemonset, template, nodes, timeout=options.prepull_timeout, pull_timeout=options.image_pull_timeout
    )
    if failures:
        raise RolloutHalted(
            f'pre-pull for daemonset "{r.name(daemonset)}" failed, nothing was changed: '
            f"{pp.failure_reason(failures, len(nodes))}. Fix it and run the same command again"
        )
    # The pull took a while: a template changed meanwhile by someone else would be overwritten by the first write.
    if r.pod_template(rollout.io.get()) != r.pod_template(daemonset):
        raise Refused(
            f'refusing to start the rollout of daemonset "{r.name(daemonset)}" (nothing was changed): its pod '
            "template was changed during the pre-pull; run the same command again"
        )


def before_resume(rollout: Rollout, state: RolloutState) -> None:
    """A rollout started with --prepull pulls again, before resume's first eviction, on the nodes still to
    update (nodes that joined since, images the kubelet's garbage collection removed); a failure halts it."""
    if not state.options.prepull or state.direction != FORWARD:
        return
    daemonset = rollout.io.get()
    pods, _ = rollout.io.pods(daemonset, fresh=True)
    nodes = plan_nodes(rollout.plan(daemonset, state, rollout.io.nodes(fresh=True), pods))
    try:  # without the starting revision (deleted since), every image of the template is pulled
        start = rollout.io.template_of(daemonset, state.start_hash) if state.start_hash else {}
    except DsError:
        start = {}
    failures = Prepuller(rollout.io).run(
        {**daemonset, "spec": {**r.spec(daemonset), "template": start}},
        r.pod_template(daemonset),
        nodes,
        timeout=state.options.prepull_timeout,
        pull_timeout=state.options.image_pull_timeout,
        beat=rollout.own.beat,
    )
    if failures:
        rollout.halt(state, f"pre-pull before resuming: {pp.failure_reason(failures, len(nodes))}")


def stage(io: Session, template: Obj, *, timeout: float, pull_timeout: float, dry_run: bool) -> ev.Outcome:
    """`kubectl ds prepull`: pull a template's changed images on every node the DaemonSet runs on, changing
    nothing else; RolloutHalted (exit 4) where a pull failed."""
    from kubectl_ds.rollout.preview import with_template

    daemonset = io.get()
    nodes = pp.staging_nodes(with_template(daemonset, template), io.nodes())
    if dry_run:
        options = RolloutOptions(prepull=True, prepull_timeout=timeout)
        return ev.Outcome(ev.WOULD_PREPULL, r.name(daemonset), prepull=preview(daemonset, template, nodes, options))
    failures = Prepuller(io).run(daemonset, template, nodes, timeout=timeout, pull_timeout=pull_timeout)
    if failures:
        raise RolloutHalted(
            f'pre-pull for daemonset "{r.name(daemonset)}" failed: {pp.failure_reason(failures, len(nodes))}'
        )
    images = tuple(target.image for target in pp.images_to_pull(r.pod_template(daemonset), template))
    return ev.Outcome(ev.PREPULLED, r.name(daemonset), images=images, pulled_on=len(nodes) if images else 0)
