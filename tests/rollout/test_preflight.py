"""Pre-flight findings (rollout/preflight.py): the tools that own a DaemonSet and would fight a managed
rollout, found by their marks (docs/rules.md#r-gitops)."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_ds.rollout.preflight import MANAGED_BY_GITOPS, MANAGED_BY_HELM, tooling_warnings
from tests.builders import make_daemonset


def marked(
    *, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None, managers: tuple[str, ...] = ()
) -> dict[str, Any]:
    daemonset = make_daemonset(labels=labels)
    daemonset["metadata"]["labels"] = {**daemonset["metadata"].get("labels", {}), **(labels or {})}
    daemonset["metadata"]["annotations"] = dict(annotations or {})
    daemonset["metadata"]["managedFields"] = [{"manager": manager, "operation": "Apply"} for manager in managers]
    return daemonset


@pytest.mark.parametrize(
    ("daemonset", "codes", "names"),
    [
        pytest.param(marked(), [], None, id="an-unmarked-daemonset-has-no-finding"),
        pytest.param(
            marked(annotations={"argocd.argoproj.io/tracking-id": "app:apps/DaemonSet:ns/ds"}),
            [MANAGED_BY_GITOPS],
            "Argo CD (annotation argocd.argoproj.io/tracking-id)",
            id="argo-cd-tracking-id",
        ),
        pytest.param(
            marked(labels={"kustomize.toolkit.fluxcd.io/name": "infra"}),
            [MANAGED_BY_GITOPS],
            "Flux (label kustomize.toolkit.fluxcd.io/name)",
            id="flux-kustomization",
        ),
        pytest.param(
            marked(annotations={"meta.helm.sh/release-name": "fluentd"}),
            [MANAGED_BY_HELM],
            "Helm (annotation meta.helm.sh/release-name)",
            id="helm-release",
        ),
        pytest.param(
            marked(managers=("argocd-controller",)),
            [MANAGED_BY_GITOPS],
            "Argo CD (field manager argocd-controller)",
            id="argo-cd-server-side-apply-manager",
        ),
        pytest.param(
            marked(labels={"helm.toolkit.fluxcd.io/name": "r"}, annotations={"meta.helm.sh/release-name": "r"}),
            [MANAGED_BY_GITOPS, MANAGED_BY_HELM],
            None,
            id="flux-helm-release-is-both",
        ),
        pytest.param(marked(managers=("kubectl-client-side-apply",)), [], None, id="kubectl-apply-is-no-tool"),
    ],
)
def test_tools_that_own_the_daemonset(daemonset: dict[str, Any], codes: list[str], names: str | None) -> None:
    warnings = tooling_warnings(daemonset)
    assert [w.code for w in warnings] == codes
    if names is not None:
        assert names in warnings[0].message
