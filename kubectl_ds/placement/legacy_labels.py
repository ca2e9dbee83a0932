"""Pure. Nodes that carry only the pre-1.14 os/arch labels (docs/rules.md#r-legacy-os-arch-labels).

Kubelets before 1.14 labelled nodes `beta.kubernetes.io/os` and `beta.kubernetes.io/arch` only; newer
ones set the stable `kubernetes.io/os` and `kubernetes.io/arch` as well (the beta ones were deprecated
in 1.14 and kubelets stopped setting them later). A DaemonSet that selects on the stable key excludes
such a node although its beta label says the same thing: the hint names both.

Source: k8s.io/api core/v1 well_known_labels.go (LabelOSStable, LabelArchStable and their deprecated
beta forms); pkg/kubelet/kubelet_node_status.go (the labels the kubelet sets).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

BETA_OF_STABLE = {"kubernetes.io/os": "beta.kubernetes.io/os", "kubernetes.io/arch": "beta.kubernetes.io/arch"}


def legacy_label_hint(keys: Iterable[str], node_labels: Mapping[str, str]) -> str:
    """A hint for a node excluded by a selector on `keys`, when the node lacks a stable os/arch label but
    has its beta form; "" otherwise. "{node}" stands for the node's name."""
    parts = []
    for key in sorted(set(keys)):
        beta = BETA_OF_STABLE.get(key)
        if beta is None or key in node_labels or beta not in node_labels:
            continue
        value = node_labels[beta]
        parts.append(
            f"the node has only the pre-1.14 label {beta}={value}, not {key} (a kubelet of 1.14 or later sets "
            f"both): upgrade its kubelet, or label it: kubectl label node {{node}} {key}={value}"
        )
    return "; ".join(parts)
