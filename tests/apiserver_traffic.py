"""What the test API server counts and what it refuses for load: request and byte accounting for tests and
benchmarks, and API Priority and Fairness (APF) throttling.

Accounting: every request is recorded (ApiServer.requests) with its verb as the authorizer sees it (`get`,
`list` and `watch` are told apart, as they are in the apiserver_request_total metric) and its resource
(`pods`, `pods/eviction`, `daemonsets/status`, or the path of a non-resource request such as `/api/v1`), and
the bytes of the response body it was sent (a watch adds each event as it streams; headers and chunk framing
are not counted). `ApiServer.traffic()` adds them up.

Throttling: the APF filter (k8s.io/apiserver pkg/server/filters/priority-and-fairness.go, tooManyRequests)
rejects a request it cannot seat with 429, a `Retry-After` header and a plain-text body, before the request
reaches authorization or any handler. That is unlike every other 429 a client sees: the eviction subresource
answers a PodDisruptionBudget refusal with a JSON metav1.Status (reason TooManyRequests, a DisruptionBudget
cause), so a client can tell the two apart by the body. ApiServer.throttle() makes chosen requests get the
APF answer.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tests.apiserver_base import Request

# http.Error writes the message and a newline, as text/plain.
APF_BODY = "Too many requests, please try again later.\n"
# The filter names the FlowSchema and PriorityLevelConfiguration by uid, never by name (setResponseHeaders);
# these are the uids of the suggested `global-default` objects in a fresh cluster, only their shape matters.
_APF_HEADERS = {
    "X-Kubernetes-PF-FlowSchema-UID": "5f5b6a8f-30a1-4a3c-8a39-0d1b8b5b1a01",
    "X-Kubernetes-PF-PriorityLevel-UID": "7c0a0c5e-5b5f-4b8e-9f0b-2b4f6d1c9e02",
}


@dataclass(frozen=True)
class Traffic:
    """Requests and response-body bytes by (verb, resource), added up from ApiServer.requests."""

    requests: Mapping[tuple[str, str], int]
    response_bytes: Mapping[tuple[str, str], int]

    def count(self, verb: str | None = None, resource: str | None = None) -> int:
        """Requests with this verb and/or resource (None: any)."""
        return sum(n for key, n in self.requests.items() if _selected(key, verb, resource))

    def bytes(self, verb: str | None = None, resource: str | None = None) -> int:
        """Response-body bytes of the requests with this verb and/or resource (None: any)."""
        return sum(n for key, n in self.response_bytes.items() if _selected(key, verb, resource))

    @property
    def total_requests(self) -> int:
        return self.count()

    @property
    def total_bytes(self) -> int:
        return self.bytes()

    def table(self) -> list[tuple[str, str, int, int]]:
        """(verb, resource, requests, bytes), most requests first: what a benchmark prints."""
        rows = [
            (verb, resource, n, self.response_bytes.get((verb, resource), 0))
            for (verb, resource), n in self.requests.items()
        ]
        return sorted(rows, key=lambda row: (-row[2], row[0], row[1]))


def _selected(key: tuple[str, str], verb: str | None, resource: str | None) -> bool:
    return (verb is None or key[0] == verb) and (resource is None or key[1] == resource)


def traffic_of(requests: Iterable[Request]) -> Traffic:
    counts: Counter[tuple[str, str]] = Counter()
    sizes: Counter[tuple[str, str]] = Counter()
    for request in requests:
        key = (request.verb or request.method.lower(), request.resource or request.path)
        counts[key] += 1
        sizes[key] += request.response_bytes
    return Traffic(dict(counts), dict(sizes))


@dataclass
class _Throttle:
    verb: str | None
    resource: str | None
    retry_after: int
    remaining: int | None  # None: until cleared

    def matches(self, verb: str, resource: str) -> bool:
        return (self.verb in (None, "*", verb)) and (self.resource in (None, "*", resource))


@dataclass
class Throttles:
    """The APF rejections ApiServer.throttle() asked for, checked in order."""

    _rules: list[_Throttle] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, verb: str | None, resource: str | None, retry_after: int, count: int | None) -> None:
        with self._lock:
            self._rules.append(_Throttle(verb, resource, retry_after, count))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, verb: str, resource: str) -> dict[str, str] | None:
        """The headers of an APF rejection for this request, or None if it may pass."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(verb, resource):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return {"Retry-After": str(rule.retry_after), "X-Content-Type-Options": "nosniff", **_APF_HEADERS}
        return None
