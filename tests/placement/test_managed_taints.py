"""Taints a component manages (docs/rules.md#r-managed-taints) and nodes with only the pre-1.14 os/arch labels
(docs/rules.md#r-legacy-os-arch-labels): which taints are managed, by whom, and the hints explain gives."""

from __future__ import annotations

import pytest

from kubectl_ds.placement import reasons as codes
from kubectl_ds.placement.legacy_labels import legacy_label_hint
from kubectl_ds.placement.managed_taints import managed_taint
from kubectl_ds.placement.predicate import node_should_run_daemon_pod
from tests.builders import expr, make_daemonset, make_node, node_affinity, taint, term

LIFECYCLE = "the node lifecycle controller"
MANAGED_CASES = [
    # (key, manager or None, words the fix must contain)
    pytest.param("node.kubernetes.io/not-ready", LIFECYCLE, "make the node Ready", id="not-ready"),
    pytest.param("node.kubernetes.io/unreachable", LIFECYCLE, "stopped reporting", id="unreachable"),
    pytest.param("node.kubernetes.io/memory-pressure", "the node lifecycle controller", "MemoryPressure", id="memory"),
    pytest.param("node.kubernetes.io/disk-pressure", "the node lifecycle controller", "DiskPressure", id="disk"),
    pytest.param("node.kubernetes.io/pid-pressure", "the node lifecycle controller", "PIDPressure", id="pid"),
    pytest.param(
        "node.kubernetes.io/network-unavailable", "the node lifecycle controller", "NetworkUnavailable", id="network"
    ),
    pytest.param(
        "node.kubernetes.io/unschedulable",
        "the node lifecycle controller (from spec.unschedulable)",
        "kubectl uncordon {node}",
        id="unschedulable-mirrors-cordon",
    ),
    pytest.param(
        "node.kubernetes.io/out-of-service", "whoever handles the node's non-graceful shutdown", "down", id="oos"
    ),
    pytest.param(
        "node.cloudprovider.kubernetes.io/uninitialized", "the cloud-controller-manager", "initializes", id="uninit"
    ),
    pytest.param("node.cloudprovider.kubernetes.io/shutdown", "the cloud-controller-manager", "shut down", id="shut"),
    pytest.param("node.cilium.io/agent-not-ready", "Cilium", "Cilium agent", id="cilium-startup-taint"),
    pytest.param(
        "ebs.csi.aws.com/agent-not-ready", "the agent this taint is named after", "CSI", id="any-agent-not-ready"
    ),
    pytest.param("karpenter.sh/unregistered", "Karpenter", "registers", id="karpenter-unregistered"),
    pytest.param("karpenter.sh/disrupted", "Karpenter", "disrupted", id="karpenter-disrupted"),
    pytest.param("ToBeDeletedByClusterAutoscaler", "the cluster-autoscaler", "scaled down", id="autoscaler"),
    pytest.param("node.cluster.x-k8s.io/uninitialized", "Cluster API", "Machine", id="cluster-api"),
    pytest.param(
        "readiness.k8s.io/acme.com/network-unavailable",
        "the node readiness controller (a NodeReadinessRule)",
        "conditions",
        id="node-readiness-controller-prefix",
    ),
    pytest.param("dedicated", None, "", id="operator-taint-not-managed"),
    pytest.param("node-role.kubernetes.io/control-plane", None, "", id="control-plane-role-not-managed"),
    pytest.param("node.kubernetes.io/not-ready-ish", None, "", id="exact-key-only"),
    pytest.param("agent-not-ready", None, "", id="suffix-needs-a-prefix"),
]


@pytest.mark.parametrize(("key", "manager", "fix_words"), MANAGED_CASES)
def test_r_managed_taints_classification(key: str, manager: str | None, fix_words: str) -> None:
    found = managed_taint(key)
    if manager is None:
        assert found is None
        return
    assert found is not None
    assert found.manager == manager
    assert fix_words in found.fix
    assert "kubectl taint" not in found.hint()
    assert found.hint().endswith("(removing the taint by hand does not last)")
    leaving = {
        "node.kubernetes.io/out-of-service",
        "node.cloudprovider.kubernetes.io/shutdown",
        "karpenter.sh/disrupted",
        "ToBeDeletedByClusterAutoscaler",
    }
    assert found.node_leaving is (key in leaving)


def test_r_managed_taints_hint_in_the_predicate_never_removes_the_taint() -> None:
    node = make_node("n1", ready=False, taints=[taint("node.kubernetes.io/not-ready", "NoSchedule")])
    verdict = node_should_run_daemon_pod(make_daemonset(), node)
    [reason] = [reason for reason in verdict.reasons if reason.code == codes.TAINT_NO_SCHEDULE]
    assert reason.hint_for("n1") == (
        "the node lifecycle controller sets and removes this taint; make the node Ready (its kubelet, container "
        "runtime and network plugin: kubectl describe node n1) (removing the taint by hand does not last); a pod "
        "that must run there anyway adds toleration "
        "{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoSchedule}"
    )


def test_r_managed_taints_an_operator_taint_keeps_the_taint_command() -> None:
    node = make_node("n1", taints=[taint("dedicated", "NoSchedule", "gpu")])
    verdict = node_should_run_daemon_pod(make_daemonset(), node)
    [reason] = [reason for reason in verdict.reasons if reason.code == codes.TAINT_NO_SCHEDULE]
    assert reason.hint_for("n1").endswith("or: kubectl taint node n1 dedicated=gpu:NoSchedule-")


LEGACY_CASES = [
    # (selector keys, node labels, expected hint)
    pytest.param(
        ["kubernetes.io/os"],
        {"beta.kubernetes.io/os": "linux"},
        "the node has only the pre-1.14 label beta.kubernetes.io/os=linux, not kubernetes.io/os (a kubelet of 1.14 "
        "or later sets both): upgrade its kubelet, or label it: kubectl label node {node} kubernetes.io/os=linux",
        id="beta-os-only",
    ),
    pytest.param(
        ["kubernetes.io/arch"],
        {"beta.kubernetes.io/arch": "arm64"},
        "the node has only the pre-1.14 label beta.kubernetes.io/arch=arm64, not kubernetes.io/arch (a kubelet of "
        "1.14 or later sets both): upgrade its kubelet, or label it: "
        "kubectl label node {node} kubernetes.io/arch=arm64",
        id="beta-arch-only",
    ),
    pytest.param(
        ["kubernetes.io/os"], {"beta.kubernetes.io/os": "linux", "kubernetes.io/os": "windows"}, "", id="stable-present"
    ),
    pytest.param(["kubernetes.io/os"], {}, "", id="neither-label"),
    pytest.param(["topology.kubernetes.io/zone"], {"beta.kubernetes.io/os": "linux"}, "", id="other-key"),
]


@pytest.mark.parametrize(("keys", "labels", "expected"), LEGACY_CASES)
def test_r_legacy_os_arch_labels_hint(keys: list[str], labels: dict[str, str], expected: str) -> None:
    assert legacy_label_hint(keys, labels) == expected


def test_r_legacy_os_arch_labels_in_node_selector_and_affinity_hints() -> None:
    node = make_node("old-1", labels={"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"})
    by_selector = node_should_run_daemon_pod(make_daemonset(node_selector={"kubernetes.io/os": "linux"}), node)
    by_affinity = node_should_run_daemon_pod(
        make_daemonset(affinity=node_affinity(term(expr("kubernetes.io/arch", "In", "amd64")))), node
    )
    assert not by_selector.should_run and not by_affinity.should_run
    assert by_selector.reasons[0].hint_for("old-1").endswith("kubectl label node old-1 kubernetes.io/os=linux")
    assert by_affinity.reasons[0].hint_for("old-1").endswith("kubectl label node old-1 kubernetes.io/arch=amd64")
