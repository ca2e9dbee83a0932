"""Our error hierarchy and exit codes. Pure: raised anywhere, turned into `error: ...` only in cli.py."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    ERROR = 1  # the command could not do its job (cluster, input or config problem)
    USAGE = 2  # bad flags or arguments (click's own code for usage errors)
    UNHEALTHY = 3  # `explain --exit-code`: a node that should run the pod has no ready, up-to-date pod;
    # `rollout status --timeout`: the rollout was not done in time
    HALTED = 4  # a managed rollout stopped on a failure (new pods not available, budget exhausted, changed)
    REFUSED = 5  # a managed rollout refused to start: a pre-flight check says it cannot finish; nothing changed
    INTERRUPTED = 130  # Ctrl-C / SIGINT, as shells report it


class DsError(Exception):
    """An error with a one-line, user-facing message and the exit code it maps to."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(DsError):
    """Conflicting or invalid flags."""

    exit_code = ExitCode.USAGE


class InputError(DsError):
    """A dump or manifest file that cannot be used."""


class ConfigError(DsError):
    """Kubeconfig problems: missing, unreadable, unknown context."""


class ApiError(DsError):
    """The API server answered with an error (or did not answer)."""


class NotFound(ApiError):
    """The object does not exist."""


class Forbidden(ApiError):
    """RBAC denied a verb on a resource."""

    def __init__(self, message: str, *, verb: str, resource: str, namespace: str | None) -> None:
        super().__init__(message)
        self.verb = verb
        self.resource = resource
        self.namespace = namespace


class Unauthorized(ApiError):
    """The credentials were rejected (401)."""


class Unreachable(ApiError):
    """No connection to the API server."""


class RequestTimeout(ApiError):
    """The API server did not answer in time."""


class Interrupted(DsError):
    """Ctrl-C or SIGTERM; whatever was running has left things safe."""

    exit_code = ExitCode.INTERRUPTED


class Conflict(ApiError):
    """409: the object changed since we read it (or already exists)."""


class TooManyRequests(ApiError):
    """429: the API server sheds load (API Priority and Fairness); retry after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EvictionRefused(TooManyRequests):
    """429 from the eviction API with a DisruptionBudget cause: a PodDisruptionBudget allows no disruption
    now. Not load shedding: waiting is the answer, not a retry storm (docs/rules.md#r-eviction)."""


class DisruptionBudgetBlocked(ApiError):
    """The PodDisruptionBudget machinery refuses an eviction for good: 500 for a pod under more than one PDB,
    403 for a PDB whose status is inconsistent. Not an RBAC problem and not transient."""


class ServerError(ApiError):
    """5xx: the API server (or something behind it) failed; worth retrying."""


class Refused(DsError):
    """A mutating command saw, before its first write, that it cannot finish safely; nothing was changed."""

    exit_code = ExitCode.REFUSED


class RolloutNotDone(DsError):
    """`rollout status --timeout`: the rollout is not done by the deadline. Not exit 1 as kubectl's timeout:
    a script must tell "not done in time" (look at the rollout) from "could not ask" (look at the cluster)."""

    exit_code = ExitCode.UNHEALTHY


class RolloutHalted(DsError):
    """A managed rollout stopped on a failure; the DaemonSet stays parked."""

    exit_code = ExitCode.HALTED


# Errors a write or read may be retried on, with backoff.
TRANSIENT = (ServerError, RequestTimeout, Unreachable, TooManyRequests)
