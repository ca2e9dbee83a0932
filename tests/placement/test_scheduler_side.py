"""What the scheduler checks after the controller has said "run here" (docs/rules.md#r-resources,
docs/rules.md#r-host-ports, docs/rules.md#r-scheduler-message): pod
requests, NodeResourcesFit ("Too many pods", "Insufficient <resource>"), NodePorts conflicts, and reading
the scheduler's FailedScheduling message back.

Sources: noderesources/fit.go fitsRequest, resource helpers PodRequests (sidecar-aware), framework/types.go
HostPortInfo.CheckConflict and FitError.Error, pkg/scheduler/util GetHostPorts; cases A2, A4–A6, B21, B22,
B26, B27, M170, M171 (docs/rules.md#test-cases).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kubectl_ds.kube.quantity import parse_quantity
from kubectl_ds.placement.hostports import HostPort, host_ports, port_conflicts
from kubectl_ds.placement.predicate import node_should_run_daemon_pod
from kubectl_ds.placement.report import other_pods_on_nodes, scheduler_reasons
from kubectl_ds.placement.requests import format_quantity, pod_requests, resource_shortfalls
from kubectl_ds.placement.scheduling import scheduler_message, short_scheduler_reason, target_node_reasons
from tests.builders import EARLIER, NOW, container, make_daemonset, make_node, make_pod, timestamp

Spec = dict[str, Any]


def spec_of(obj: dict[str, Any]) -> Spec:
    """The pod spec of a pod, or of a DaemonSet's template."""
    if obj["kind"] == "DaemonSet":
        return obj["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return obj["spec"]  # type: ignore[no-any-return]


def quantities(**values: str) -> dict[str, Decimal]:
    return {name.replace("_", "-"): parse_quantity(value) for name, value in values.items()}


# --- pod requests -------------------------------------------------------------------------------------------

REQUEST_CASES = [
    # (pod spec, charged requests)
    pytest.param({"containers": [container()]}, {}, id="no-requests"),
    pytest.param(
        {"containers": [container("a", {"cpu": "100m", "memory": "64Mi"}), container("b", {"cpu": "200m"})]},
        quantities(cpu="300m", memory="64Mi"),
        id="containers-are-summed",
    ),
    pytest.param(
        {"initContainers": [container("init", {"cpu": "500m"})], "containers": [container("a", {"cpu": "300m"})]},
        quantities(cpu="500m"),
        id="larger-init-container-wins",
    ),
    pytest.param(
        {
            "initContainers": [container("init", {"cpu": "100m", "memory": "1Gi"})],
            "containers": [container("a", {"cpu": "300m", "memory": "64Mi"})],
        },
        quantities(cpu="300m", memory="1Gi"),
        id="max-is-taken-per-resource",
    ),
    pytest.param(
        {
            "initContainers": [container("i1", {"cpu": "400m"}), container("i2", {"cpu": "600m"})],
            "containers": [container("a", {"cpu": "100m"})],
        },
        quantities(cpu="600m"),
        id="init-containers-are-not-summed",
    ),
    pytest.param(
        {
            "initContainers": [container("sidecar", {"cpu": "200m"}, restart_policy="Always")],
            "containers": [container("a", {"cpu": "100m"})],
        },
        quantities(cpu="300m"),
        id="sidecar-adds-to-containers",
    ),
    pytest.param(
        {
            "initContainers": [
                container("sidecar", {"cpu": "200m"}, restart_policy="Always"),
                container("init", {"cpu": "250m"}),
            ],
            "containers": [container("a", {"cpu": "100m"})],
        },
        quantities(cpu="450m"),
        id="init-after-sidecar-runs-next-to-it",
    ),
    pytest.param(
        {
            "initContainers": [
                container("init", {"cpu": "250m"}),
                container("sidecar", {"cpu": "200m"}, restart_policy="Always"),
            ],
            "containers": [container("a", {"cpu": "100m"})],
        },
        quantities(cpu="300m"),
        id="init-before-sidecar-runs-alone",
    ),
    pytest.param(
        {
            "initContainers": [
                container("s1", {"cpu": "200m"}, restart_policy="Always"),
                container("s2", {"cpu": "300m"}, restart_policy="Always"),
            ],
            "containers": [container("a", {"cpu": "100m"})],
        },
        quantities(cpu="600m"),
        id="sidecars-accumulate",
    ),
    pytest.param(
        {"containers": [container("a", {"cpu": "100m"})], "overhead": {"cpu": "10m", "memory": "32Mi"}},
        quantities(cpu="110m", memory="32Mi"),
        id="overhead-is-added",
    ),
]


@pytest.mark.parametrize(("spec", "charged"), REQUEST_CASES)
def test_pod_requests(spec: Spec, charged: dict[str, Decimal]) -> None:
    assert pod_requests(spec, parse_quantity) == charged


# --- NodeResourcesFit ------------------------------------------------------------------------------------


def others(count: int, **requests: str) -> list[dict[str, Any]]:
    return [make_pod(f"other-{i}", node="n", requests=requests or None) for i in range(count)]


SHORTFALL_CASES = [
    # (DaemonSet requests, node allocatable, pods already on the node, messages)
    pytest.param(
        {},
        {"pods": "110"},
        others(110),
        ["too many pods: 110 pods already on the node, allocatable pods 110"],
        id="too-many-pods-even-without-requests",
    ),  # M171
    pytest.param({}, {"pods": "110"}, others(109), [], id="last-pod-slot-fits"),  # M171
    pytest.param(
        {"memory": "300Mi"},
        {"memory": "2Gi"},
        others(1, memory="1928Mi"),
        ["insufficient memory: requests 300Mi, free 120Mi of 2Gi allocatable"],
        id="insufficient-memory",
    ),
    pytest.param(
        {"cpu": "500m"},
        {"cpu": "1"},
        others(1, cpu="750m"),
        ["insufficient cpu: requests 500m, free 250m of 1 allocatable"],
        id="insufficient-cpu",
    ),
    pytest.param({"cpu": "250m"}, {"cpu": "1"}, others(1, cpu="750m"), [], id="exact-fit-is-enough"),
    pytest.param(
        {"cpu": "500m", "memory": "1Gi"},
        {"cpu": "1", "memory": "1Gi"},
        others(1, cpu="1", memory="1Gi"),
        [
            "insufficient cpu: requests 500m, free 0 of 1 allocatable",
            "insufficient memory: requests 1Gi, free 0 of 1Gi allocatable",
        ],
        id="every-short-resource-listed",
    ),
    pytest.param(
        {"cpu": "100m"},
        {"cpu": "1"},
        others(1, cpu="1500m"),
        ["insufficient cpu: requests 100m, free 0 of 1 allocatable"],
        id="overcommitted-free-shown-as-zero",
    ),
    pytest.param(
        {}, {"cpu": "1", "memory": "1Gi"}, others(1, cpu="2", memory="2Gi"), [], id="zero-request-always-fits"
    ),
    pytest.param(
        {"nvidia.com/gpu": "1"},
        {},
        [],
        ["insufficient nvidia.com/gpu: requests 1, free 0 of 0 allocatable"],
        id="extended-resource-missing-on-node",
    ),
    pytest.param(
        {"memory": "100M", "cpu": "500m"},
        {"memory": "100M", "cpu": "1"},
        others(1, memory="50M", cpu="500m"),
        ["insufficient memory: requests 95.4Mi, free 47.7Mi of 95.4Mi allocatable"],
        id="controller-ignores-scheduler-sees-memory",
    ),  # A5 (controller: (T,T))
    pytest.param(
        {"memory": "50M", "cpu": "500m"},
        {"memory": "100M", "cpu": "1"},
        others(1, memory="50M", cpu="500m"),
        [],
        id="fits-next-to-other-pod",
    ),  # A6
    pytest.param(
        {"memory": "75M", "cpu": "75m"},
        {"memory": "100M", "cpu": "200m"},
        others(1, memory="75M", cpu="75m"),
        ["insufficient memory: requests 71.5Mi, free 23.8Mi of 95.4Mi allocatable"],
        id="insufficient-capacity-pending-not-deleted",
    ),  # B21
]


@pytest.mark.parametrize(("requests", "allocatable", "pods", "messages"), SHORTFALL_CASES)
def test_resource_shortfalls(
    requests: dict[str, str], allocatable: dict[str, str], pods: list[dict[str, Any]], messages: list[str]
) -> None:
    daemonset = make_daemonset(requests=requests or None)
    node = make_node("n", allocatable=allocatable)
    assert [s.message for s in resource_shortfalls(spec_of(daemonset), node, pods, parse_quantity)] == messages
    # The controller never looks at any of this (docs/rules.md#r-not-checked): the node stays wanted.
    verdict = node_should_run_daemon_pod(daemonset, node)
    assert (verdict.should_run, verdict.should_continue_running) == (True, True)


def test_other_pods_requests_include_init_and_overhead() -> None:
    # The node's used resources are the other pods' charged requests (PodRequests), not just containers.
    heavy_init = make_pod("other", node="n")
    heavy_init["spec"]["initContainers"] = [container("init", {"memory": "1Gi"})]
    heavy_init["spec"]["overhead"] = {"memory": "512Mi"}
    daemonset = make_daemonset(requests={"memory": "1Gi"})
    node = make_node("n", allocatable={"memory": "2Gi"})
    shortfalls = resource_shortfalls(spec_of(daemonset), node, [heavy_init], parse_quantity)
    assert [s.message for s in shortfalls] == ["insufficient memory: requests 1Gi, free 512Mi of 2Gi allocatable"]


@pytest.mark.parametrize(
    ("resource", "value", "text"),
    [
        pytest.param("cpu", "2", "2", id="cpu-whole-cores"),
        pytest.param("cpu", "1.5", "1500m", id="cpu-fraction-as-millicores"),
        pytest.param("cpu", "250m", "250m", id="cpu-millicores"),
        pytest.param("memory", "2Gi", "2Gi", id="memory-gibibytes"),
        pytest.param("memory", "100M", "95.4Mi", id="memory-decimal-units-in-binary"),
        pytest.param("memory", "1Ki", "1Ki", id="memory-kibibytes"),
        pytest.param("memory", "512", "512", id="memory-bytes"),
        pytest.param("ephemeral-storage", "10Gi", "10Gi", id="ephemeral-storage-binary"),
        pytest.param("hugepages-2Mi", "4Mi", "4Mi", id="hugepages-binary"),
        pytest.param("nvidia.com/gpu", "3", "3", id="extended-plain-count"),
    ],
)
def test_format_quantity(resource: str, value: str, text: str) -> None:
    assert format_quantity(resource, parse_quantity(value)) == text


@pytest.mark.parametrize(
    ("requests", "allocatable", "pods", "rules"),
    [
        pytest.param({}, {"pods": "2"}, others(2), ["Too many pods"], id="rule-too-many-pods"),  # M171
        pytest.param(
            {"memory": "1Gi"},
            {"memory": "1Gi"},
            others(1, memory="1Mi"),
            ["Insufficient memory"],
            id="rule-insufficient-memory",
        ),
        pytest.param({"cpu": "2"}, {"cpu": "1"}, [], ["Insufficient cpu"], id="rule-insufficient-cpu"),
    ],
)
def test_scheduler_reason_rules_use_scheduler_words(
    requests: dict[str, str], allocatable: dict[str, str], pods: list[dict[str, Any]], rules: list[str]
) -> None:
    reasons = scheduler_reasons(
        spec_of(make_daemonset(requests=requests or None)),
        make_node("n", allocatable=allocatable),
        pods,
        parse_quantity,
    )
    assert [(reason.code, reason.rule) for reason in reasons] == [("InsufficientResources", rule) for rule in rules]


@pytest.mark.parametrize(
    "status",
    [
        pytest.param({}, id="rule-no-allocatable-status-not-posted"),
        pytest.param({"allocatable": {}}, id="rule-no-allocatable-empty-map"),
        pytest.param({"allocatable": None, "capacity": {"pods": "110"}}, id="rule-no-allocatable-capacity-alone"),
    ],
)
def test_node_without_allocatable_is_named_not_too_many_pods(status: dict[str, Any]) -> None:
    """The scheduler sees 0 allowed pods on a node whose kubelet never posted status.allocatable and says "Too
    many pods"; the cause to fix is the kubelet, not the pods (docs/rules.md#r-no-allocatable)."""
    node = make_node("n") | {"status": status}
    reasons = scheduler_reasons(spec_of(make_daemonset(requests={"cpu": "1"})), node, [], parse_quantity)
    assert [(reason.code, reason.rule, reason.message, reason.hint_for("n")) for reason in reasons] == [
        (
            "NodeNoAllocatable",
            "no allocatable resources",
            "node reports no allocatable resources (status.allocatable not posted): the scheduler places no pod "
            "here until its kubelet registers and posts them",
            "check the kubelet on n: kubectl describe node n",
        )
    ]


# --- NodePorts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "ports"),
    [
        pytest.param({"containers": [container(ports=[8080])]}, ["8080/TCP"], id="host-port-default-ip-and-tcp"),
        pytest.param(
            {
                "containers": [
                    container(ports=[{"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"}])
                ]
            },
            ["10.0.0.1:53/UDP"],
            id="host-ip-and-protocol-kept",
        ),
        pytest.param(
            {"containers": [container(ports=[{"containerPort": 80}])]}, [], id="container-port-alone-no-host-port"
        ),
        pytest.param(
            {"hostNetwork": True, "containers": [container(ports=[{"containerPort": 9100}])]},
            ["9100/TCP"],
            id="host-network-container-port-is-host-port",
        ),  # M170
        pytest.param(
            {"hostNetwork": True, "containers": [container(ports=[{"containerPort": 80, "hostPort": 8080}])]},
            ["8080/TCP"],
            id="host-network-explicit-host-port-kept",
        ),
        pytest.param(
            {
                "containers": [
                    container(ports=[{"containerPort": 80, "hostPort": 0}, {"containerPort": 81, "hostPort": -1}])
                ]
            },
            [],
            id="ports-zero-or-negative-ignored",
        ),
        pytest.param(
            {
                "initContainers": [container("sidecar", ports=[7000], restart_policy="Always")],
                "containers": [container()],
            },
            ["7000/TCP"],
            id="sidecar-init-container-port-counts",
        ),
        pytest.param(
            {"initContainers": [container("init", ports=[7000])], "containers": [container()]},
            [],
            id="run-once-init-container-port-ignored",
        ),
    ],
)
def test_host_ports(spec: Spec, ports: list[str]) -> None:
    assert [str(port) for port in host_ports(spec)] == ports


ANY = "0.0.0.0"


@pytest.mark.parametrize(
    ("wanted", "held", "conflict"),
    [
        pytest.param(HostPort(ANY, "TCP", 80), HostPort(ANY, "TCP", 80), True, id="same-port-any-ip"),
        pytest.param(
            HostPort(ANY, "TCP", 80), HostPort("10.0.0.1", "TCP", 80), True, id="any-ip-conflicts-with-every-ip"
        ),
        pytest.param(
            HostPort("10.0.0.1", "TCP", 80), HostPort(ANY, "TCP", 80), True, id="specific-ip-conflicts-with-any"
        ),
        pytest.param(HostPort("10.0.0.1", "TCP", 80), HostPort("10.0.0.1", "TCP", 80), True, id="same-specific-ip"),
        pytest.param(HostPort("10.0.0.1", "TCP", 80), HostPort("10.0.0.2", "TCP", 80), False, id="different-ips"),
        pytest.param(HostPort(ANY, "TCP", 53), HostPort(ANY, "UDP", 53), False, id="different-protocols"),
        pytest.param(HostPort(ANY, "TCP", 6662), HostPort(ANY, "TCP", 6661), False, id="different-ports"),  # B27
    ],
)
def test_host_port_conflict_rule(wanted: HostPort, held: HostPort, conflict: bool) -> None:
    assert wanted.conflicts_with(held) is conflict


def test_port_conflict_names_the_holder() -> None:
    # A4: the controller says (T,T), the scheduler will not bind the pod.
    daemonset = make_daemonset(host_ports=[666])
    conflicts = port_conflicts(spec_of(daemonset), [make_pod("web", node="n", namespace="apps", host_ports=[666])])
    assert [c.message for c in conflicts] == ["hostPort 666/TCP held by apps/web"]


def test_host_network_daemonsets_collide_on_container_ports() -> None:
    # M170: two hostNetwork pods both declaring containerPort 9100.
    daemonset = make_daemonset(host_network=True, host_ports=[{"containerPort": 9100}])
    exporter = make_pod(
        "node-exporter-x7k2p", node="n", namespace="monitoring", host_network=True, host_ports=[{"containerPort": 9100}]
    )
    conflicts = port_conflicts(spec_of(daemonset), [exporter])
    assert [c.message for c in conflicts] == ["hostPort 9100/TCP held by monitoring/node-exporter-x7k2p"]
    reasons = scheduler_reasons(spec_of(daemonset), make_node("n"), [exporter], parse_quantity)
    assert [(r.code, r.rule) for r in reasons] == [("HostPortConflict", "hostPort 9100/TCP")]


def test_no_conflict_on_other_port() -> None:
    # B27: a non-DS pod holds 6661, the DaemonSet wants 6662.
    conflicts = port_conflicts(
        spec_of(make_daemonset(host_ports=[6662])), [make_pod("other", node="n", host_ports=[6661])]
    )
    assert conflicts == []


def test_other_pods_exclude_the_daemonsets_own_and_finished_pods() -> None:
    # B26: the DaemonSet's own pod holding the port is not a conflict; Succeeded/Failed pods hold nothing;
    # only pods bound to the asked nodes count.
    daemonset = make_daemonset(host_ports=[666])
    pods = [
        make_pod("own", node="node-0", owner=daemonset, host_ports=[666]),
        make_pod("other-ds", node="node-0", owner=make_daemonset(name="other"), host_ports=[667]),
        make_pod("done", node="node-0", phase="Succeeded", ready=False, host_ports=[666]),
        make_pod("failed", node="node-0", phase="Failed", ready=False, host_ports=[666]),
        make_pod("elsewhere", node="node-9", host_ports=[666]),
        make_pod("unbound", target_node="node-0", phase="Pending", ready=False, host_ports=[666]),
    ]
    grouped = other_pods_on_nodes(pods, daemonset, ["node-0", "node-1"])
    assert {node: [p["metadata"]["name"] for p in group] for node, group in grouped.items()} == {
        "node-0": ["other-ds"],
        "node-1": [],
    }
    assert port_conflicts(spec_of(daemonset), grouped["node-0"]) == []


def test_without_an_owner_every_pod_is_other() -> None:
    # A manifest that is not applied yet owns nothing.
    daemonset = make_daemonset()
    grouped = other_pods_on_nodes([make_pod("own", node="node-0", owner=daemonset)], None, ["node-0"])
    assert [p["metadata"]["name"] for p in grouped["node-0"]] == ["own"]


# --- FailedScheduling messages -----------------------------------------------------------------------------

NOISE = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
PREEMPTION = (
    " preemption: 0/46 nodes are available: 1 No preemption victims found for incoming pod, "
    "45 Preemption is not helpful for scheduling."
)


@pytest.mark.parametrize(
    ("message", "reasons"),
    [
        pytest.param(
            f"0/46 nodes are available: 1 Too many pods, 45 {NOISE}.{PREEMPTION}",
            ["Too many pods"],
            id="too-many-pods-noise-and-preemption-dropped",
        ),  # M171
        pytest.param(
            f"0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 2 {NOISE}.",
            ["node(s) didn't have free ports for the requested pod ports"],
            id="free-ports",
        ),  # M170
        pytest.param(
            f"0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 2 {NOISE}.",
            ["Insufficient cpu", "Insufficient memory"],
            id="several-resources",
        ),
        pytest.param(
            f"0/2 nodes are available: 1 node(s) had untolerated taint {{dedicated: gpu}}, 1 {NOISE}.",
            ["node(s) had untolerated taint {dedicated: gpu}"],
            id="untolerated-taint",
        ),
        pytest.param(
            "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector.",
            ["Insufficient memory"],
            id="older-nodeaffinity-noise-dropped",
        ),
        pytest.param(
            "0/1 nodes are available: 1 Insufficient memory.", ["Insufficient memory"], id="single-node-cluster"
        ),
        pytest.param(
            f"0/2 nodes are available: 1 node(s) had taint {{dedicated: gpu}}, that the pod didn't tolerate, "
            f"1 {NOISE}.",
            ["node(s) had taint {dedicated: gpu}, that the pod didn't tolerate"],
            id="older-taint-message-with-a-comma",
        ),
    ],
)
def test_target_node_reasons(message: str, reasons: list[str]) -> None:
    assert target_node_reasons(message) == reasons


@pytest.mark.parametrize(
    ("message", "short"),
    [
        pytest.param(
            f"0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 2 {NOISE}.{PREEMPTION}",
            "Insufficient cpu, Insufficient memory",
            id="short-joins-reasons",
        ),
        pytest.param(
            f"0/2 nodes are available: 2 {NOISE}.",
            f"0/2 nodes are available: 2 {NOISE}.",
            id="only-noise-keeps-whole-message",
        ),
        pytest.param("  binding rejected: timeout  ", "binding rejected: timeout", id="unparsed-message-kept"),
    ],
)
def test_short_scheduler_reason(message: str, short: str) -> None:
    assert short_scheduler_reason(message) == short


def event(
    pod: dict[str, Any], message: str, when: Any, reason: str = "FailedScheduling", **involved: str
) -> dict[str, Any]:
    return {
        "reason": reason,
        "message": message,
        "lastTimestamp": timestamp(when),
        "involvedObject": involved
        or {
            "kind": "Pod",
            "name": pod["metadata"]["name"],
            "namespace": pod["metadata"]["namespace"],
            "uid": pod["metadata"]["uid"],
        },
    }


PENDING = make_pod("ds-abcde", phase="Pending", ready=False, target_node="node-7")


def test_newest_failed_scheduling_event_wins() -> None:
    events = [
        event(PENDING, "0/2 nodes are available: 1 Insufficient cpu.", EARLIER),
        event(PENDING, "0/2 nodes are available: 1 Too many pods.", NOW),
        event(PENDING, "Successfully assigned", NOW, reason="Scheduled"),
        event(
            PENDING,
            "0/2 nodes are available: 1 Insufficient memory.",
            NOW,
            name="other-pod",
            namespace="default",
            uid="uid-pod-other-pod",
        ),
    ]
    assert scheduler_message(PENDING, events) == "0/2 nodes are available: 1 Too many pods."


def test_event_matched_by_name_when_uid_missing() -> None:
    events = [
        event(
            PENDING, "0/1 nodes are available: 1 Too many pods.", NOW, kind="Pod", name="ds-abcde", namespace="default"
        )
    ]
    assert scheduler_message(PENDING, events) == "0/1 nodes are available: 1 Too many pods."


def test_events_k8s_io_shape_is_read() -> None:
    new_style = {
        "reason": "FailedScheduling",
        "note": "0/1 nodes are available: 1 Insufficient cpu.",
        "eventTime": timestamp(NOW),
        "regarding": {"kind": "Pod", "name": "ds-abcde", "namespace": "default", "uid": "uid-pod-ds-abcde"},
    }
    assert scheduler_message(PENDING, [new_style]) == "0/1 nodes are available: 1 Insufficient cpu."


def test_pod_scheduled_condition_is_the_fallback() -> None:
    pod = make_pod("ds-xyz", phase="Pending", ready=False, target_node="node-7")
    pod["status"]["conditions"].append(
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/5 nodes are available: 1 Too many pods.",
        }
    )
    assert scheduler_message(pod, []) == "0/5 nodes are available: 1 Too many pods."
    assert scheduler_message(make_pod("quiet", phase="Pending", ready=False), []) is None
