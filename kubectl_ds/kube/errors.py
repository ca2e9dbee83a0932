"""Translate HTTP answers and client exceptions into our errors, with kubectl-like messages that say
what was attempted and what to do next."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubectl_ds.errors import (
    ApiError,
    ConfigError,
    Conflict,
    DisruptionBudgetBlocked,
    DsError,
    EvictionRefused,
    Forbidden,
    NotFound,
    RequestTimeout,
    ServerError,
    TooManyRequests,
    Unauthorized,
    Unreachable,
)

# Resource names as kubectl prints them in "not found" messages.
_SINGULAR = {
    "daemonsets": "daemonset",
    "pods": "pod",
    "nodes": "node",
    "controllerrevisions": "controllerrevision",
    "events": "event",
    "namespaces": "namespace",
}


@dataclass(frozen=True)
class Attempt:
    """What a request tried to do, for the message if it fails."""

    verb: str  # get, list, patch, ...
    resource: str  # plural, e.g. "daemonsets"
    namespace: str | None = None
    name: str | None = None

    def scope(self) -> str:
        return f' in namespace "{self.namespace}"' if self.namespace else ""


def _status(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {"message": body.decode("utf-8", "replace").strip()[:200]}
    return data if isinstance(data, dict) else {}


def _budget_causes(status: dict[str, Any]) -> list[str]:
    """The DisruptionBudget causes of an eviction answer (StatusCause's type is serialized as "reason")."""
    causes = (status.get("details") or {}).get("causes") or []
    return [
        str(cause.get("message") or "")
        for cause in causes
        if isinstance(cause, dict) and cause.get("reason") == "DisruptionBudget"
    ]


def _eviction_error(status: int, answer: dict[str, Any], attempt: Attempt) -> DsError | None:
    """What the PodDisruptionBudget machinery answered an eviction (docs/rules.md#r-eviction), or None."""
    if attempt.resource != "pods/eviction":
        return None
    message = str(answer.get("message") or "")
    details = answer.get("details") or {}
    budget = _budget_causes(answer)
    if status == 429 and (budget or message.startswith("Cannot evict pod")):
        return EvictionRefused("; ".join(budget) or message)
    if status == 500 and "more than one PodDisruptionBudget" in message:
        return DisruptionBudgetBlocked(
            f"pod {attempt.name} is selected by more than one PodDisruptionBudget, "
            "which the eviction API does not support (it answers 500 for every eviction); "
            "make one PDB select it, or use --delete"
        )
    if status == 403 and details.get("kind") in ("poddisruptionbudget", "poddisruptionbudgets"):
        return DisruptionBudgetBlocked(
            f"the PodDisruptionBudget {details.get('name', '')} refuses evictions, not "
            f"RBAC: {message}; its status is inconsistent until the disruption "
            "controller recomputes it (check kube-controller-manager), or use --delete"
        )
    return None


def error_for_status(
    status: int, body: bytes, attempt: Attempt, server: str, retry_after: float | None = None
) -> DsError:
    answer = _status(body)
    message = str(answer.get("message") or "")
    eviction = _eviction_error(status, answer, attempt)
    if eviction is not None:
        return eviction
    if status == 404 and attempt.name:
        kind = _SINGULAR.get(attempt.resource, attempt.resource)
        return NotFound(f'{kind} "{attempt.name}" not found{attempt.scope()}')
    if status == 401:
        return Unauthorized(
            f"the API server at {server} rejected the credentials (401 Unauthorized); "
            "log in again or refresh the kubeconfig's token"
        )
    if status == 403 and "cannot impersonate" in message:
        # Not a missing right on what we read: the server refuses to act as --as/--as-group/--as-uid at all,
        # so no request can succeed (never an "omitted" note).
        kind = str((answer.get("details") or {}).get("kind") or "users")
        return ApiError(
            f"impersonation refused: {message}; ask for 'impersonate' on {kind}, or drop --as/--as-group/--as-uid"
        )
    if status == 403:
        target = f"{attempt.verb} {attempt.resource}{attempt.scope() or ' at the cluster scope'}"
        return Forbidden(
            f"forbidden: RBAC does not allow you to {target} ({message}); "
            f"ask for '{attempt.verb}' on {attempt.resource}",
            verb=attempt.verb,
            resource=attempt.resource,
            namespace=attempt.namespace,
        )
    if status == 404:
        return NotFound(f"the API server has no {attempt.resource} API ({message or 'not found'})")
    detail = f": {message}" if message else ""
    text = f"{attempt.verb} {attempt.resource}{attempt.scope()} failed with HTTP {status}{detail}"
    if status == 409:
        return Conflict(text)
    if status == 429:
        return TooManyRequests(text, retry_after=retry_after)
    if status >= 500:
        return ServerError(text)
    return ApiError(text)


def error_for_exception(error: BaseException, attempt: Attempt, server: str, timeout: float | None) -> DsError:
    """Map urllib3/client exceptions (imported lazily by the caller) by class name, so this module
    stays importable without them."""
    names = {cls.__name__ for cls in type(error).__mro__}
    reason = getattr(error, "reason", None)
    reason_names = {cls.__name__ for cls in type(reason).__mro__} if reason is not None else set()
    if "NewConnectionError" in names | reason_names:  # urllib3 makes it a ConnectTimeoutError subclass
        return Unreachable(
            f"cannot reach the API server at {server}: {_root_cause(error)}; check that the "
            "cluster is running and the kubeconfig context points at it"
        )
    if names & {"ReadTimeoutError", "TimeoutError", "ConnectTimeoutError"} or reason_names & {
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "TimeoutError",
    }:
        after = f" after {timeout:g}s" if timeout else ""
        return RequestTimeout(
            f"the API server at {server} did not answer{after} while trying to "
            f"{attempt.verb} {attempt.resource}; retry, or raise --request-timeout"
        )
    if "ConfigException" in names:
        return ConfigError(f"kubeconfig cannot be used: {error}")
    if "CERTIFICATE_VERIFY_FAILED" in str(error) or "certificate verify failed" in str(error):
        cause = _root_cause(error)
        why = cause.split("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0].strip(" ;(") or "untrusted"
        return Unreachable(
            f"the API server at {server} has a certificate that cannot be verified ({why}); trust its CA with "
            "--certificate-authority or the kubeconfig's certificate-authority-data, check --tls-server-name, "
            "or (insecure) pass --insecure-skip-tls-verify"
        )
    if names & {"MaxRetryError", "NewConnectionError", "ProtocolError", "ConnectionError", "SSLError"}:
        cause = _root_cause(error)
        return Unreachable(
            f"cannot reach the API server at {server}: {cause}; check that the cluster is "
            "running and the kubeconfig context points at it"
        )
    return ApiError(f"{attempt.verb} {attempt.resource}{attempt.scope()} failed: {error}")


def _root_cause(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    text = str(reason)
    # urllib3 wraps the socket error as "<object>: Failed to establish a new connection: [Errno 111] ..."
    if "Failed to establish a new connection:" in text:
        text = text.split("Failed to establish a new connection:", 1)[1].strip()
    return text.rstrip("')\"")
