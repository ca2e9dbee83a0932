"""Failure correlation (placement/correlation.py): the node label the failing nodes of one state share and no
running node has. Each case is named after the rule it pins; the wording is pinned through render."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from kubectl_ds.placement.correlation import Correlation, correlate
from kubectl_ds.placement.report import assess_nodes
from kubectl_ds.placement.revisions import index_revisions
from kubectl_ds.render.explain import correlation_text
from tests.builders import NOW, make_daemonset, make_node, make_pod, make_revision

ARM = {"kubernetes.io/arch": "arm64"}
AMD = {"kubernetes.io/arch": "amd64"}

Row = tuple[str, dict[str, str], str]  # node, labels, "ok" | "crash" | "pull" | "pending" | "missing"


def correlations(rows: Sequence[Row], *, pods_known: bool = True) -> tuple[Correlation, ...]:
    daemonset = make_daemonset()
    revision = make_revision(daemonset, 1, "h1")
    nodes, pods = [], []
    for name, labels, state in rows:
        nodes.append(make_node(name, labels={"kubernetes.io/hostname": name, **labels}))
        pod: dict[str, Any] | None = None
        if state == "ok":
            pod = make_pod(f"p-{name}", node=name, owner=daemonset, revision_hash="h1")
        elif state == "crash":
            pod = make_pod(
                f"p-{name}", node=name, owner=daemonset, revision_hash="h1", ready=False,
                container_waiting="CrashLoopBackOff", restart_count=7,
            )  # fmt: skip
        elif state == "pull":
            pod = make_pod(
                f"p-{name}", node=name, owner=daemonset, revision_hash="h1", ready=False,
                container_waiting="ImagePullBackOff",
            )  # fmt: skip
        elif state == "pending":
            pod = make_pod(
                f"p-{name}", target_node=name, owner=daemonset, revision_hash="h1", phase="Pending", ready=False
            )
        if pod is not None:
            pods.append(pod)
    index = index_revisions(daemonset, [revision])
    assessment = assess_nodes(daemonset, nodes, pods if pods_known else None, index, now=NOW)
    return correlate(assessment)


def texts(rows: Sequence[Row], **kwargs: Any) -> list[str]:
    return [correlation_text(found) for found in correlations(rows, **kwargs)]


def fleet(failing: int, healthy: int, state: str = "crash") -> list[Row]:
    return [(f"arm-{i}", dict(ARM), state) for i in range(failing)] + [
        (f"amd-{i}", dict(AMD), "ok") for i in range(healthy)
    ]


CASES = [
    pytest.param(
        fleet(5, 40),
        ["all 5 crash-looping nodes are kubernetes.io/arch=arm64; 0 of 40 amd64 nodes fail"],
        id="failing-nodes-share-a-value-no-healthy-node-has",
    ),
    pytest.param(fleet(1, 40), [], id="one-failing-node-is-not-a-pattern"),
    pytest.param(fleet(3, 1), [], id="too-few-healthy-nodes-to-compare"),
    pytest.param(
        fleet(3, 4) + [("arm-ok", dict(ARM), "ok")],
        [],
        id="a-healthy-node-with-the-value-breaks-the-correlation",
    ),
    pytest.param(
        [
            ("a", {"zone": "z1"}, "crash"),
            ("b", {"zone": "z1"}, "crash"),
            ("c", {"zone": "z2"}, "ok"),
            ("d", {"zone": "z2"}, "ok"),
        ],  # fmt: skip
        ["all 2 crash-looping nodes are zone=z1; 0 of 2 z2 nodes fail"],
        id="any-label-is-considered-and-the-hostname-never-is",
    ),
    pytest.param(
        [(f"f{i}", {**ARM, "pool": "big"}, "crash") for i in range(3)]
        + [(f"h{i}", {**AMD, "pool": "small"}, "ok") for i in range(3)],
        ["all 3 crash-looping nodes are kubernetes.io/arch=arm64; 0 of 3 amd64 nodes fail (they also share pool=big)"],
        id="well-known-labels-lead-others-are-listed",
    ),
    pytest.param(
        fleet(2, 2) + [("x-1", {"kubernetes.io/arch": "s390x"}, "ok"), ("amd-p", dict(AMD), "pending")],
        ["all 2 crash-looping nodes are kubernetes.io/arch=arm64; 1 of 4 other nodes fail"],
        id="others-of-several-values-are-other-nodes-and-their-failures-counted",
    ),
    pytest.param(
        fleet(2, 3) + [("gpu-1", {"gpu": "yes"}, "pending"), ("gpu-2", {"gpu": "yes"}, "pending")],
        [
            "all 2 crash-looping nodes are kubernetes.io/arch=arm64; 2 of 5 other nodes fail",
            "all 2 Pending nodes are gpu=yes; 2 of 5 other nodes fail",
        ],
        id="each-failing-state-is-its-own-group",
    ),
    pytest.param(
        fleet(2, 3, state="missing"),
        ["all 2 nodes missing a pod are kubernetes.io/arch=arm64; 0 of 3 amd64 nodes fail"],
        id="missing-pods-are-failures",
    ),
    pytest.param(
        [("a", ARM, "crash"), ("b", ARM, "pull"), ("c", AMD, "ok"), ("d", AMD, "ok")],
        [],
        id="different-failure-states-are-not-pooled",
    ),
]


@pytest.mark.parametrize(("rows", "expected"), CASES)
def test_correlation_rules(rows: list[Row], expected: list[str]) -> None:
    assert texts(rows) == expected


def test_no_correlation_when_pod_states_are_unknown() -> None:
    assert correlations(fleet(5, 40), pods_known=False) == ()


def test_correlation_counts() -> None:
    (found,) = correlations(fleet(5, 40))
    assert (found.state, found.key, found.value, found.failing, found.others, found.others_failing) == (
        "crash-looping",
        "kubernetes.io/arch",
        "arm64",
        5,
        40,
        0,
    )
