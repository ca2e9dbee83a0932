"""Pure. The reasons we give for a node, with stable codes for `-o json` (documented in the README)."""

from __future__ import annotations

from dataclasses import dataclass

# Controller side: the DaemonSet controller itself decides the node gets no pod (or loses it).
NODE_NAME = "NodeName"
NODE_SELECTOR = "NodeSelector"
NODE_AFFINITY = "NodeAffinity"
TAINT_NO_SCHEDULE = "TaintNoSchedule"
TAINT_NO_EXECUTE = "TaintNoExecute"
# Scheduler side: the controller wants a pod there, the scheduler cannot bind it.
INSUFFICIENT_RESOURCES = "InsufficientResources"
HOST_PORT_CONFLICT = "HostPortConflict"
FAILED_SCHEDULING = "FailedScheduling"
NODE_NO_ALLOCATABLE = "NodeNoAllocatable"  # status.allocatable not posted: the scheduler sees 0 pods allowed
# Pod side: the state of the pod(s) on the node.
POD_MISSING = "PodMissing"
POD_NOT_READY = "PodNotReady"
POD_NOT_AVAILABLE = "PodNotAvailable"
POD_CRASH_LOOPING = "PodCrashLooping"
POD_IMAGE_PULL = "PodImagePullError"
POD_WAITING = "PodWaiting"
POD_FAILED = "PodFailed"
POD_TERMINATING = "PodTerminating"
POD_OUTDATED = "PodOutdated"
EXTRA_PODS = "ExtraPods"
MISSCHEDULED = "Misscheduled"
# Node facts worth knowing that do not by themselves keep the pod away.
NODE_NOT_READY = "NodeNotReady"
NODE_CORDONED = "NodeCordoned"

CONTROLLER_CODES = frozenset({NODE_NAME, NODE_SELECTOR, NODE_AFFINITY, TAINT_NO_SCHEDULE, TAINT_NO_EXECUTE})
SCHEDULER_CODES = frozenset({INSUFFICIENT_RESOURCES, HOST_PORT_CONFLICT, FAILED_SCHEDULING, NODE_NO_ALLOCATABLE})
INFO_CODES = frozenset({NODE_NOT_READY, NODE_CORDONED})


@dataclass(frozen=True)
class Reason:
    """Why a node is (or is not) in the state it is in.

    `rule` is the short name of the rule, used to group nodes in the summary
    ("taint dedicated=gpu:NoSchedule"); `message` the full sentence; `hint` what would fix it, where
    "{node}" stands for the node's name; `detail` the raw text it came from (a scheduler message).
    """

    code: str
    message: str
    rule: str = ""
    hint: str = ""
    detail: str = ""

    def hint_for(self, node: str) -> str:
        return self.hint.replace("{node}", node)

    @property
    def is_info(self) -> bool:
        return self.code in INFO_CODES
