"""The test API server's impersonation filter, as k8s.io/apiserver's WithImpersonation does it: after
authentication, the Impersonate-User, Impersonate-Group (one header per group) and Impersonate-Uid headers
are checked, each one authorized as the verb `impersonate` on users, groups (or serviceaccounts for a
`system:serviceaccount:NS:NAME` user) and uids, and the request then runs as the impersonated user.

Deviations from the real filter, on purpose: what may be impersonated is allowed unless a test denied it
(deny_impersonation), instead of RBAC rules; Impersonate-Extra-* headers are recorded nowhere and ignored; the
500 for groups or a UID without a user carries a shorter message than the real `requested [...] without
impersonating a user`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from tests.apiserver_base import ApiError

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class Identity:
    """Who a request acts as: the authenticated user, or the one it impersonates."""

    user: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    impersonated: bool = False


class Impersonation:
    """Which impersonations a test refused (everything else is allowed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._denied: set[tuple[str, str]] = set()

    def deny(self, resource: str, name: str) -> None:
        """Refuse impersonating `name` as `resource` ("users", "groups", "uids" or "serviceaccounts"; a service
        account's name is "NS/NAME")."""
        with self._lock:
            self._denied.add((resource, name))

    def clear(self) -> None:
        with self._lock:
            self._denied.clear()

    def identity(self, authenticated: str, header: Callable[[str], list[str]]) -> Identity:
        """The identity a request acts as, given the authenticated user and the request's header values."""
        users, groups, uids = header("Impersonate-User"), header("Impersonate-Group"), header("Impersonate-Uid")
        if not users:
            if groups or uids:
                raise ApiError(
                    500,
                    "InternalError",
                    "Internal error occurred: requested groups or a uid without impersonating a user",
                )
            return Identity(authenticated)
        user, uid = users[0], (uids[0] if uids else "")
        self._check(authenticated, *_subject(user))
        for group in groups:
            self._check(authenticated, "groups", group)
        if uid:
            self._check(authenticated, "uids", uid)
        return Identity(user, tuple(groups), uid, impersonated=True)

    def _check(self, authenticated: str, resource: str, name: str) -> None:
        with self._lock:
            denied = (resource, name) in self._denied
        if not denied:
            return
        group = "authentication.k8s.io" if resource == "uids" else ""
        namespace, _, short = name.rpartition("/")
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        message = (
            f'{resource} "{short}" is forbidden: User "{authenticated}" cannot impersonate resource '
            f'"{resource}" in API group "{group}" {where}'
        )
        raise ApiError(403, "Forbidden", message, {"name": short, "group": group, "kind": resource})


def _subject(user: str) -> tuple[str, str]:
    """What impersonating `user` is authorized as: a service account in its namespace, else a user."""
    if user.startswith(SERVICE_ACCOUNT_PREFIX):
        namespace, _, name = user.removeprefix(SERVICE_ACCOUNT_PREFIX).partition(":")
        if namespace and name:
            return "serviceaccounts", f"{namespace}/{name}"
    return "users", user
