"""tests/e2e/kind-config.yaml, checked without a cluster (these tests are not marked e2e: they run in the main
suite). kind decodes the file strictly, so a misspelt or misplaced field, a wrong type or a role kind does not
know fails `kind create cluster`, which only the e2e workflow would notice. Here the file is checked against
kind's v1alpha4 config API (the fields of pkg/apis/config/v1alpha4/types.go, the rules of
pkg/internal/apis/config/validate.go, both at KIND_VERSION), against the kubelet's rules for the node labels
kind passes it (--node-labels), and against what the e2e tests expect of the cluster. Every rule is also
shown to catch the breakage it is there for.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .cluster import CLUSTER, GPU_SELECTOR, KIND_CONFIG

# The kind release whose config API is encoded below; .github/workflows/e2e.yml must install this one.
KIND_VERSION = "v0.29.0"
E2E_WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "e2e.yml"

# A field's expected type: a Python type, or a nested schema (a dict, or a one-element list of one).
Schema = dict[str, Any]
PATCH_JSON6902: Schema = {"group": str, "version": str, "kind": str, "patch": str}
MOUNT: Schema = {"containerPath": str, "hostPath": str, "readOnly": bool, "selinuxRelabel": bool, "propagation": str}
PORT_MAPPING: Schema = {"containerPort": int, "hostPort": int, "listenAddress": str, "protocol": str}
NODE: Schema = {
    "role": str,
    "image": str,
    "labels": dict,
    "extraMounts": [MOUNT],
    "extraPortMappings": [PORT_MAPPING],
    "kubeadmConfigPatches": [str],
    "kubeadmConfigPatchesJSON6902": [PATCH_JSON6902],
}
NETWORKING: Schema = {
    "ipFamily": str,
    "apiServerPort": int,
    "apiServerAddress": str,
    "podSubnet": str,
    "serviceSubnet": str,
    "disableDefaultCNI": bool,
    "kubeProxyMode": str,
    "dnsSearch": [str],
}
CLUSTER_SCHEMA: Schema = {
    "kind": str,
    "apiVersion": str,
    "name": str,
    "nodes": [NODE],
    "networking": NETWORKING,
    "featureGates": dict,
    "runtimeConfig": dict,
    "kubeadmConfigPatches": [str],
    "kubeadmConfigPatchesJSON6902": [PATCH_JSON6902],
    "containerdConfigPatches": [str],
    "containerdConfigPatchesJSON6902": [str],
}
ENUMS = {
    "role": {"control-plane", "worker"},
    "ipFamily": {"ipv4", "ipv6", "dual"},
    "kubeProxyMode": {"iptables", "ipvs", "nftables", "none"},
    "propagation": {"None", "HostToContainer", "Bidirectional"},
    "protocol": {"TCP", "UDP", "SCTP"},
}
CLUSTER_NAME = re.compile(r"^[a-z0-9.-]+$")  # kind's validNameRE

# Label syntax (a qualified name, and a value), and the kubelet's --node-labels rule: nothing in the
# kubernetes.io / k8s.io namespaces but its own well-known labels and two namespaces, or it refuses to start.
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
KUBELET_LABELS = {
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "node.kubernetes.io/windows-build",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
}
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def shape_problems(value: Any, schema: Any, where: str) -> list[str]:
    """Unknown fields and wrong types, as kind's strict decoder would refuse them."""
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{where}: must be a list"]
        return [problem for i, item in enumerate(value) for problem in shape_problems(item, schema[0], f"{where}[{i}]")]
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{where}: must be a mapping"]
        problems = []
        for key, item in value.items():
            if key not in schema:
                problems.append(f"{where}.{key}: unknown field (kind {KIND_VERSION} knows {', '.join(sorted(schema))})")
                continue
            problems.extend(shape_problems(item, schema[key], f"{where}.{key}"))
            if key in ENUMS and isinstance(item, str) and item not in ENUMS[key]:
                problems.append(f"{where}.{key}: {item!r} is not one of {', '.join(sorted(ENUMS[key]))}")
        return problems
    expected: type = schema
    if expected is dict:
        ok = isinstance(value, dict)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    return [] if ok else [f"{where}: must be of type {expected.__name__}, not {type(value).__name__} {value!r}"]


def label_problems(labels: dict[Any, Any], where: str) -> list[str]:
    problems = []
    for key, value in labels.items():
        if not isinstance(value, str):  # map[string]string: `gpu: true` is a bool, `gpu: "true"` a string
            problems.append(f"{where}.{key}: label value must be a string (quote it), not {value!r}")
            continue
        prefix, _, name = str(key).rpartition("/")
        if not LABEL_NAME.match(name) or (prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix))):
            problems.append(f"{where}.{key}: not a valid label key")
        if not LABEL_VALUE.match(value):
            problems.append(f"{where}.{key}: {value!r} is not a valid label value")
        in_k8s_namespace = any(prefix == ns or prefix.endswith("." + ns) for ns in ("kubernetes.io", "k8s.io"))
        kubelet_namespace = any(prefix == ns or prefix.endswith("." + ns) for ns in KUBELET_LABEL_NAMESPACES)
        if in_k8s_namespace and not kubelet_namespace and key not in KUBELET_LABELS:
            problems.append(f"{where}.{key}: the kubelet refuses --node-labels in the {prefix} namespace")
    return problems


def kind_config_problems(config: Any) -> list[str]:
    """Everything `kind create cluster --config` (kind KIND_VERSION) would refuse, as far as it is static."""
    if not isinstance(config, dict):
        return ["the config must be a mapping"]
    problems = []
    if config.get("kind") != "Cluster" or config.get("apiVersion") != "kind.x-k8s.io/v1alpha4":
        problems.append('kind/apiVersion: must be "Cluster" / "kind.x-k8s.io/v1alpha4"')
    problems.extend(shape_problems(config, CLUSTER_SCHEMA, "config"))
    nodes = config.get("nodes") or [{}]  # no nodes: kind makes one control plane
    if isinstance(nodes, list):
        if not any(isinstance(node, dict) and node.get("role", "control-plane") == "control-plane" for node in nodes):
            problems.append("nodes: must have at least one control-plane node")
        for i, node in enumerate(nodes):
            if isinstance(node, dict) and isinstance(node.get("labels"), dict):
                problems.extend(label_problems(node["labels"], f"config.nodes[{i}].labels"))
    return problems


def load_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(KIND_CONFIG.read_text(encoding="utf-8"))
    return config


def nodes_labelled(config: dict[str, Any], key: str, value: str) -> list[dict[str, Any]]:
    return [node for node in config["nodes"] if node.get("labels", {}).get(key) == value]


# --- the file itself ---------------------------------------------------------------------------------


def test_kind_config_is_a_valid_kind_cluster_config() -> None:
    assert kind_config_problems(load_config()) == []


def test_e2e_workflow_installs_the_kind_whose_api_is_checked_here() -> None:
    workflow = yaml.safe_load(E2E_WORKFLOW.read_text(encoding="utf-8"))
    assert workflow["env"]["KIND_VERSION"] == KIND_VERSION, (
        "kind was bumped in e2e.yml: check its pkg/apis/config/v1alpha4/types.go and update this file's schema"
    )


def test_kind_config_has_the_nodes_the_e2e_tests_expect() -> None:
    config = load_config()
    assert CLUSTER_NAME.match(CLUSTER)
    workers = [node for node in config["nodes"] if node.get("role") == "worker"]
    gpu_key, gpu_value = GPU_SELECTOR.split("=")
    gpu = nodes_labelled(config, gpu_key, gpu_value)
    assert len(gpu) == 1 and gpu[0]["role"] == "worker", "conftest.py taints exactly one GPU worker"
    assert nodes_labelled(config, "disktype", "ssd") and nodes_labelled(config, "disktype", "hdd")
    assert all(node in workers for node in nodes_labelled(config, "disktype", "ssd"))


# --- each rule catches what it is for ------------------------------------------------------------

BROKEN: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "wrong-api-version": (lambda c: c.update(apiVersion="kind.x-k8s.io/v1alpha3"), "kind/apiVersion"),
    "wrong-kind": (lambda c: c.update(kind="Config"), "kind/apiVersion"),
    "unknown-top-field": (lambda c: c.update(node=[]), "config.node: unknown field"),
    "unknown-node-field": (lambda c: c["nodes"][1].update(label={"a": "b"}), "config.nodes[1].label: unknown field"),
    "misplaced-taints": (lambda c: c["nodes"][3].update(taints=["dedicated=gpu:NoSchedule"]), "unknown field"),
    "unknown-role": (lambda c: c["nodes"][1].update(role="master"), "'master' is not one of"),
    "no-control-plane": (lambda c: c["nodes"][0].update(role="worker"), "at least one control-plane"),
    "nodes-not-a-list": (lambda c: c.update(nodes={"role": "worker"}), "config.nodes: must be a list"),
    "unquoted-bool-label": (
        lambda c: c["nodes"][3]["labels"].update({"e2e.kubectl-ds.io/gpu": True}),
        "must be a string (quote it)",
    ),
    "invalid-label-key": (lambda c: c["nodes"][1]["labels"].update({"disk type": "ssd"}), "not a valid label key"),
    "invalid-label-value": (lambda c: c["nodes"][1]["labels"].update(disktype="s s d"), "not a valid label value"),
    "kubelet-refused-label": (
        lambda c: c["nodes"][1]["labels"].update({"node-role.kubernetes.io/gpu": ""}),
        "kubelet refuses",
    ),
    "bad-proxy-mode": (lambda c: c.update(networking={"kubeProxyMode": "userspace"}), "is not one of"),
    "port-as-string": (lambda c: c.update(networking={"apiServerPort": "6443"}), "must be of type int"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_kind_config_rule_catches_its_breakage(case: str) -> None:
    config = copy.deepcopy(load_config())
    breakage, expected = BROKEN[case]
    breakage(config)
    problems = kind_config_problems(config)
    assert any(expected in problem for problem in problems), problems


def test_allowed_kubelet_labels_pass() -> None:
    labels = {"node.kubernetes.io/pool": "a", "kubernetes.io/os": "linux", "example.com/x": ""}
    assert label_problems(labels, "labels") == []
