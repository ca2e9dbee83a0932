"""Placeholder: `kubectl ds rollout` against a kind cluster, once the command exists (issue 3).

Intended coverage: update a DaemonSet's image and drive the rollout node by node with
`kubectl ds rollout`, asserting after each step that exactly the expected nodes run the new
ControllerRevision, that pods become ready before the next node is touched, and that `explain`
reports every node up to date at the end. Reuses the kind_cluster fixture from conftest.py.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.skip(reason="kubectl ds rollout is not implemented yet (issue 3)")]


def test_rollout_updates_nodes_one_by_one() -> None:
    raise AssertionError("write this test together with kubectl ds rollout (issue 3)")
