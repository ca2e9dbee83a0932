"""`kubectl ds node` over real HTTP against the test API server: exact output, the NodeReport schema (its
daemonSets[] entries are explain's node entries), what-if, --wait's two ends, what it reads (never the whole
pod list; the same requests and bytes at two cluster sizes), offline, and one-line errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver import ApiServer
from tests.conftest import Invoke
from tests.node_support import daemonset, node_cluster


@pytest.fixture
def kubeconfig(apiserver: ApiServer, tmp_path: Path) -> str:
    apiserver.load(node_cluster())
    path = apiserver.write_kubeconfig(str(tmp_path / "kubeconfig"))
    apiserver.reset_requests()
    return path


def node(invoke: Invoke, kubeconfig: str, *args: str) -> tuple[int, str, str]:
    result = invoke("node", *args, "--kubeconfig", kubeconfig)
    return result.exit_code, result.stdout, result.stderr


HEALTHY = """\
Node node-1: Ready
Taints: <none>

NAMESPACE    DAEMONSET      WANTED    POD                   STATUS    REVISION    WHY
kube-system  cilium         yes       cilium-node-1         Running   1           -
kube-system  kube-proxy     yes       kube-proxy-node-1     Running   1           -
logging      fluentd        yes       fluentd-node-1        Running   1           -
monitoring   node-exporter  yes       node-exporter-node-1  Running   1           -

5 DaemonSets in all namespaces: 4 should run here, 4 with a ready pod; 1 not for this node: \
kube-system/nvidia-device-plugin (nodeSelector gpu=true)
"""


def test_a_healthy_node_lists_every_daemonset_that_runs_there(invoke: Invoke, kubeconfig: str) -> None:
    assert node(invoke, kubeconfig, "node-1", "-A") == (0, HEALTHY, "")


BOOTSTRAPPING = """\
Node node-new: NotReady
Taints: node.kubernetes.io/not-ready:NoSchedule (managed by the node lifecycle controller), \
node.cilium.io/agent-not-ready=true:NoSchedule (managed by Cilium)

NAMESPACE    DAEMONSET      WANTED         POD                  STATUS    REVISION    WHY
kube-system  cilium         yes            cilium-pending       Pending   1           \
pod cilium-pending is Pending and not yet scheduled
kube-system  kube-proxy     yes            kube-proxy-node-new  NotReady  1           \
pod kube-proxy-node-new is Running but not ready
logging      fluentd        no (until up)  -                    -         -           \
taint node.kubernetes.io/not-ready:NoSchedule not tolerated: no new pod is created; \
taint node.cilium.io/agent-not-ready=true:NoSchedule not tolerated: no new pod is created
monitoring   node-exporter  no (until up)  -                    -         -           \
taint node.kubernetes.io/not-ready:NoSchedule not tolerated: no new pod is created; \
taint node.cilium.io/agent-not-ready=true:NoSchedule not tolerated: no new pod is created

5 DaemonSets in all namespaces: 2 should run here, 0 with a ready pod; 1 Pending (kube-system/cilium); \
1 not ready (kube-system/kube-proxy); 2 once the node is up (logging/fluentd, \
monitoring/node-exporter); 1 not for this node: kube-system/nvidia-device-plugin (nodeSelector gpu=true + \
taint node.kubernetes.io/not-ready:NoSchedule + taint node.cilium.io/agent-not-ready=true:NoSchedule)

Fixes:
  taint node.kubernetes.io/not-ready:NoSchedule (logging/fluentd, monitoring/node-exporter): the node \
lifecycle controller sets and removes this taint; make the node Ready (its kubelet, container runtime and \
network plugin: kubectl describe node node-new) (removing the taint by hand does not last); a pod that must \
run there anyway adds toleration {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoSchedule}
  taint node.cilium.io/agent-not-ready=true:NoSchedule (logging/fluentd, monitoring/node-exporter): Cilium \
sets and removes this taint; it goes once the Cilium agent runs on the node: see the cilium pod there \
(kubectl ds node node-new -A) (removing the taint by hand does not last); a pod that must run there anyway \
adds toleration {key: node.cilium.io/agent-not-ready, operator: Equal, value: true, effect: NoSchedule}
"""


def test_a_bootstrapping_node_names_its_managed_taints_and_never_says_remove_them(
    invoke: Invoke, kubeconfig: str
) -> None:
    code, out, err = node(invoke, kubeconfig, "node-new", "-A")
    assert (code, out, err) == (0, BOOTSTRAPPING, "")
    assert "kubectl taint" not in out


def test_a_node_with_only_beta_os_labels_says_so(invoke: Invoke, kubeconfig: str) -> None:
    _, out, _ = node(invoke, kubeconfig, "old-1", "-A")
    assert out.splitlines()[2] == (
        "Labels: the node has only the pre-1.14 label beta.kubernetes.io/os=linux, not kubernetes.io/os (a kubelet "
        "of 1.14 or later sets both): upgrade its kubelet, or label it: kubectl label node old-1 kubernetes.io/os=linux"
    )
    assert out.endswith("logging/fluentd (nodeSelector kubernetes.io/os=linux)\n")


def test_one_namespace_by_default_as_kubectl(invoke: Invoke, kubeconfig: str) -> None:
    _, out, _ = node(invoke, kubeconfig, "node-1", "-n", "logging")
    assert out.splitlines()[-1] == '1 DaemonSet in namespace "logging": 1 should run here, 1 with a ready pod'
    _, default_ns, _ = node(invoke, kubeconfig, "node-1")
    assert default_ns.splitlines()[-3:] == [
        "No DaemonSet runs or should run here.",
        "",
        '0 DaemonSets in namespace "default": 0 should run here',
    ]


WHAT_IF = """\
Node node-1: Ready
Taints: <none>
What if: taint maintenance=true:NoExecute (in memory only; nothing is written)

NAMESPACE    DAEMONSET      WANTED    POD                   STATUS    REVISION    IF CHANGED    WHY THEN
kube-system  cilium         yes       cilium-node-1         Running   1           kept          -
kube-system  kube-proxy     yes       kube-proxy-node-1     Running   1           kept          -
logging      fluentd        yes       fluentd-node-1        Running   1           evicted       \
taint maintenance=true:NoExecute not tolerated: running pods are evicted; \
pod fluentd-node-1 is on a node that should not run it; the controller deletes it
monitoring   node-exporter  yes       node-exporter-node-1  Running   1           evicted       \
taint maintenance=true:NoExecute not tolerated: running pods are evicted; \
pod node-exporter-node-1 is on a node that should not run it; the controller deletes it

5 DaemonSets in all namespaces: 4 should run here, 4 with a ready pod; 1 not for this node: \
kube-system/nvidia-device-plugin (nodeSelector gpu=true)
If changed: 2 evicted (logging/fluentd, monitoring/node-exporter)
"""


def test_what_if_a_noexecute_taint_evicts_and_writes_nothing(
    invoke: Invoke, kubeconfig: str, apiserver: ApiServer
) -> None:
    before = copy.deepcopy(apiserver.objects("Node"))
    assert node(invoke, kubeconfig, "node-1", "-A", "--taint", "maintenance=true:NoExecute") == (0, WHAT_IF, "")
    assert {request.method for request in apiserver.requests} == {"GET"}
    assert apiserver.objects("Node") == before


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param(
            ["--taint", "dedicated=gpu:NoSchedule"],
            "If changed: 2 kept (misscheduled) (logging/fluentd, monitoring/node-exporter)",
            id="noschedule-keeps-running-pods-as-misscheduled",
        ),
        pytest.param(
            ["--cordon"],
            "If changed: no DaemonSet pod would be created, evicted or deleted here.",
            id="cordon-changes-nothing-for-daemonset-pods",
        ),
        pytest.param(
            ["--label", "kubernetes.io/os-"],
            "If changed: 1 deleted (logging/fluentd)",
            id="label-removed-deletes-the-selected-pod",
        ),
        pytest.param(
            ["--label", "gpu=true", "--taint", "dedicated=gpu:NoSchedule"],
            "If changed: 1 created (kube-system/nvidia-device-plugin); "
            "2 kept (misscheduled) (logging/fluentd, monitoring/node-exporter)",
            id="label-and-tolerated-taint-create-a-pod",
        ),
    ],
)
def test_what_if_outcomes(invoke: Invoke, kubeconfig: str, flags: list[str], expected: str) -> None:
    code, out, _ = node(invoke, kubeconfig, "node-1", "-A", *flags)
    assert code == 0
    assert out.splitlines()[-1] == expected


def test_what_if_removing_a_taint_lets_the_waiting_daemonsets_in(invoke: Invoke, kubeconfig: str) -> None:
    _, out, _ = node(
        invoke,
        kubeconfig,
        "node-new",
        "-A",
        "--taint",
        "node.kubernetes.io/not-ready:NoSchedule-",
        "--taint",
        "node.cilium.io/agent-not-ready-",
    )
    assert "If changed: 2 created (logging/fluentd, monitoring/node-exporter)" in out


def as_json(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data


def test_json_entries_are_explains_node_entries(invoke: Invoke, kubeconfig: str) -> None:
    code, out, _ = node(invoke, kubeconfig, "node-new", "-A", "-o", "json")
    report = as_json(out)
    assert code == 0 and report["apiVersion"] == "kubectl-ds/v1" and report["kind"] == "NodeReport"
    [entry] = report["nodes"]
    assert {key: entry[key] for key in ("name", "ready", "unschedulable")} == {
        "name": "node-new",
        "ready": False,
        "unschedulable": False,
    }
    assert entry["taints"] == [
        {
            "key": "node.kubernetes.io/not-ready",
            "value": "",
            "effect": "NoSchedule",
            "managedBy": "the node lifecycle controller",
        },
        {"key": "node.cilium.io/agent-not-ready", "value": "true", "effect": "NoSchedule", "managedBy": "Cilium"},
    ]
    by_name = {(ds["namespace"], ds["name"]): ds for ds in entry["daemonSets"]}
    assert list(by_name) == [
        ("kube-system", "cilium"),
        ("kube-system", "kube-proxy"),
        ("logging", "fluentd"),
        ("monitoring", "node-exporter"),
    ]
    for (namespace, name), ds in by_name.items():
        explained = invoke(
            "explain", name, "-n", namespace, "--node", "node-new", "-o", "json", "--kubeconfig", kubeconfig
        )
        [explain_entry] = as_json(explained.stdout)["nodes"]
        assert {key: value for key, value in ds.items() if key not in ("namespace", "name", "onceUp")} == {
            key: value for key, value in explain_entry.items() if key != "name"
        }
    assert [ds["onceUp"] for ds in by_name.values()] == [False, False, True, True]
    assert entry["excluded"] == [
        {
            "namespace": "kube-system",
            "name": "nvidia-device-plugin",
            "rule": "nodeSelector gpu=true + taint node.kubernetes.io/not-ready:NoSchedule + "
            "taint node.cilium.io/agent-not-ready=true:NoSchedule",
        }
    ]


def test_yaml_is_the_same_data(invoke: Invoke, kubeconfig: str) -> None:
    _, as_yaml, _ = node(invoke, kubeconfig, "node-1", "node-new", "-A", "-o", "yaml")
    _, json_text, _ = node(invoke, kubeconfig, "node-1", "node-new", "-A", "-o", "json")
    assert yaml.safe_load(as_yaml) == as_json(json_text)


def test_offline_answer_equals_the_live_one(invoke: Invoke, kubeconfig: str, tmp_path: Path) -> None:
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": node_cluster()}))
    _, live, _ = node(invoke, kubeconfig, "node-1", "node-new", "old-1", "-A", "-o", "json")
    offline = invoke("node", "node-1", "node-new", "old-1", "-A", "-o", "json", "--from-file", str(dump))
    assert offline.exit_code == 0 and as_json(offline.stdout) == as_json(live)


# --- what it reads ---------------------------------------------------------------------------------------------


def test_reads_the_node_its_pods_and_the_unscheduled_pods_never_the_whole_pod_list(
    invoke: Invoke, kubeconfig: str, apiserver: ApiServer
) -> None:
    node(invoke, kubeconfig, "node-new", "-A")
    calls = [(request.method, request.path, request.query.get("fieldSelector", "")) for request in apiserver.requests]
    assert calls == [
        ("GET", "/api/v1/nodes/node-new", ""),
        ("GET", "/apis/apps/v1/daemonsets", ""),
        ("GET", "/api/v1/pods", "spec.nodeName=node-new"),
        ("GET", "/api/v1/pods", "spec.nodeName="),
        ("GET", "/apis/apps/v1/controllerrevisions", ""),
        ("GET", "/api/v1/namespaces/kube-system/events", "involvedObject.kind=Pod,reason=FailedScheduling"),
    ]


def traffic_at(invoke: Invoke, filler: int, tmp_path: Path) -> tuple[int, int]:
    server = ApiServer().start()
    try:
        server.load(node_cluster(filler=filler))
        kubeconfig = server.write_kubeconfig(str(tmp_path / f"kc-{filler}"))
        server.reset_requests()
        assert invoke("node", "node-new", "-A", "--kubeconfig", kubeconfig).exit_code == 0
        traffic = server.traffic()
    finally:
        server.stop()
    return traffic.total_requests, traffic.total_bytes


def test_requests_and_bytes_do_not_grow_with_the_number_of_nodes(
    invoke: Invoke, tmp_path: Path, isolated_env: Path
) -> None:
    small_requests, small_bytes = traffic_at(invoke, 0, tmp_path)
    large_requests, large_bytes = traffic_at(invoke, 60, tmp_path)  # 60 more nodes and 240 more pods
    assert small_requests == large_requests == 6
    # Only the resourceVersions grow (more objects were written before: more digits); one more node or pod in
    # any answer would add hundreds of bytes.
    assert 0 <= large_bytes - small_bytes < 64


# --- --wait ------------------------------------------------------------------------------------------------------


def test_wait_on_a_node_that_is_up_exits_0_at_once(invoke: Invoke, kubeconfig: str) -> None:
    code, out, _ = node(invoke, kubeconfig, "node-1", "-A", "--wait")
    assert code == 0
    assert out == "node-1: 4 of 4 DaemonSets ready\n" + HEALTHY


def test_wait_times_out_naming_what_is_missing_and_why(invoke: Invoke, kubeconfig: str) -> None:
    code, out, _ = node(invoke, kubeconfig, "node-new", "-A", "--wait", "--timeout", "0s")
    lines = out.splitlines()
    assert code == 3
    assert lines[0] == (
        "node-new: 0 of 4 DaemonSets ready (node NotReady); waiting for kube-system/cilium (Pending: pod "
        "cilium-pending is Pending and not yet scheduled), kube-system/kube-proxy (not ready: pod "
        "kube-proxy-node-new is Running but not ready), logging/fluentd (until taint "
        "node.kubernetes.io/not-ready:NoSchedule, taint node.cilium.io/agent-not-ready=true:NoSchedule goes), "
        "monitoring/node-exporter (until taint node.kubernetes.io/not-ready:NoSchedule, taint "
        "node.cilium.io/agent-not-ready=true:NoSchedule goes)"
    )
    assert lines[-1] == (
        "timed out after 0s waiting for: node-new (kube-system/cilium, kube-system/kube-proxy, logging/fluentd, "
        "monitoring/node-exporter)"
    )


def test_wait_with_json_keeps_progress_off_stdout(invoke: Invoke, kubeconfig: str) -> None:
    code, out, err = node(invoke, kubeconfig, "node-1", "-A", "--wait", "-o", "json")
    assert code == 0
    assert as_json(out)["kind"] == "NodeReport"
    assert err == "node-1: 4 of 4 DaemonSets ready\n"


# --- errors --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(
            ["nope", "-A"], 1, 'error: node "nope" not found; kubectl get nodes lists them', id="unknown-node"
        ),
        pytest.param(["-A"], 2, "error: name the node(s) to show: kubectl ds node NODE...", id="no-node"),
        pytest.param(
            ["node-1", "-o", "xml"],
            2,
            'error: unknown output format "xml" for -o; use one of: table, wide, json, yaml',
            id="bad-output",
        ),
        pytest.param(
            ["node-1", "--taint", "oops"],
            2,
            'error: invalid taint "oops" for --taint; use KEY=VALUE:EFFECT or KEY:EFFECT to add, KEY:EFFECT- or '
            "KEY- to remove, with EFFECT one of NoSchedule, PreferNoSchedule, NoExecute",
            id="bad-taint",
        ),
        pytest.param(
            ["node-1", "--label", "a b=c"],
            2,
            'error: invalid label "a b=c" for --label; use KEY=VALUE to set or KEY- to remove',
            id="bad-label",
        ),
        pytest.param(
            ["node-1", "--wait", "--cordon"],
            2,
            "error: --wait waits for the node as it is: drop --taint, --label and --cordon",
            id="wait-with-what-if",
        ),
        pytest.param(
            ["node-1", "--timeout", "1m"],
            2,
            "error: --timeout applies to --wait: add --wait or drop --timeout",
            id="timeout-without-wait",
        ),
        pytest.param(
            ["node-1", "--wait", "--timeout", "soon"],
            2,
            'error: invalid duration "soon" for --timeout; use e.g. 30s, 1m30s or 10',
            id="bad-timeout",
        ),
    ],
)
def test_bad_input_is_one_line(invoke: Invoke, kubeconfig: str, args: list[str], code: int, message: str) -> None:
    result = invoke("node", *args, "--kubeconfig", kubeconfig)
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", message + "\n")


def test_wait_needs_a_live_cluster(invoke: Invoke, tmp_path: Path) -> None:
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": node_cluster()}))
    result = invoke("node", "node-1", "--wait", "--from-file", str(dump))
    assert (result.exit_code, result.stderr) == (2, "error: --wait needs a live cluster: drop --from-file\n")


def test_forbidden_pod_lists_degrade_with_a_note(invoke: Invoke, kubeconfig: str, apiserver: ApiServer) -> None:
    apiserver.deny("list", "pods")
    code, out, _ = node(invoke, kubeconfig, "node-1", "-A")
    assert code == 0
    assert "kube-system  cilium         yes       -" in out
    assert out.splitlines()[-2].startswith("Note: pod states left out: ")


def test_wait_follows_a_joining_node_on_a_pod_watch(invoke: Invoke, apiserver: ApiServer, tmp_path: Path) -> None:
    """The live path: a simulated cluster on the wall clock, held until the command waits on a watch of the pods
    bound to the joining node, then let go. The command ends when the condition holds; the timeouts only guard
    against a hang."""
    import threading
    import time

    from tests.simulator import ClusterSimulator

    apiserver.load([daemonset("cni", "cni:v1", tolerations=[{"operator": "Exists"}]), daemonset("logs", "logs:v1")])
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kc"))

    def watching() -> bool:
        return any(request.query.get("watch") for request in list(apiserver.requests))

    def release_once_watching(simulator: ClusterSimulator) -> None:
        deadline = time.monotonic() + 60
        while not watching() and time.monotonic() < deadline:
            time.sleep(0.01)
        simulator.paused = False

    with ClusterSimulator(apiserver, ready_after=0.05) as simulator:
        simulator.paused = True
        simulator.add_node("node-new")
        releaser = threading.Thread(target=release_once_watching, args=(simulator,), daemon=True)
        releaser.start()
        result = invoke("node", "node-new", "-A", "--wait", "--timeout", "60s", "--kubeconfig", kubeconfig)
        releaser.join(timeout=5)
    assert result.exit_code == 0, result.stdout
    progress = result.stdout.split("\nNode node-new: Ready\n")[0].splitlines()
    assert progress[0].startswith("node-new: 0 of 2 DaemonSets ready (node NotReady); waiting for kube-system/cni")
    assert progress[-1] == "node-new: 2 of 2 DaemonSets ready"
    watches = [request.query.get("fieldSelector") for request in apiserver.requests if request.query.get("watch")]
    assert watches and set(watches) == {"spec.nodeName=node-new"}


def test_wait_on_a_terminal_redraws_one_line(invoke: Invoke, kubeconfig: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import TerminalOutput

    monkeypatch.setattr(TerminalOutput, "isatty", lambda self: True, raising=False)
    code, out, _ = node(invoke, kubeconfig, "node-1", "-A", "--wait")
    assert code == 0
    assert out == "\r\x1b[Knode-1: 4 of 4 DaemonSets ready\n" + HEALTHY


@pytest.mark.parametrize(
    ("node_name", "row"),
    [
        pytest.param(
            "node-7",
            "logging      fluentd      yes       fluentd-7pend  Pending   2           "
            "pod fluentd-7pend is Pending; the "
            "scheduler says: Insufficient memory; insufficient memory: requests 300Mi, free 248Mi of 2Gi allocatable",
            id="insufficient-memory-from-the-other-pods-on-the-node",
        ),
        pytest.param(
            "node-8",
            "logging      fluentd      yes       fluentd-8pend  Pending   2           "
            "pod fluentd-8pend is Pending; the "
            "scheduler says: node(s) didn't have free ports for the requested pod ports; hostPort 24224/TCP held by "
            "monitoring/fluent-bit-x7k2p",
            id="host-port-holder-on-the-node",
        ),
    ],
)
def test_scheduler_side_reasons_as_explain_gives_them(
    invoke: Invoke, apiserver: ApiServer, tmp_path: Path, node_name: str, row: str
) -> None:
    from tests.conftest import EXAMPLE_DUMP

    apiserver.load(yaml.safe_load(EXAMPLE_DUMP.read_text())["items"])
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kc"))
    code, out, _ = node(invoke, kubeconfig, node_name, "-n", "logging")
    assert code == 0
    assert out.splitlines()[4] == row


def test_explain_gives_the_managed_taint_hint_too(invoke: Invoke, kubeconfig: str) -> None:
    result = invoke("explain", "fluentd", "-n", "logging", "--node", "node-new", "--kubeconfig", kubeconfig)
    fixes = result.stdout.split("Fixes:\n")[1].splitlines()
    assert fixes[0] == (
        "  taint node.kubernetes.io/not-ready:NoSchedule (node-new): the node lifecycle controller sets and removes "
        "this taint; make the node Ready (its kubelet, container runtime and network plugin: kubectl describe node "
        "node-new) (removing the taint by hand does not last); a pod that must run there anyway adds toleration "
        "{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoSchedule}"
    )
    assert "kubectl taint" not in result.stdout


def test_wide_adds_the_labels_each_daemonset_reads(invoke: Invoke, kubeconfig: str) -> None:
    _, out, _ = node(invoke, kubeconfig, "node-1", "-A", "-o", "wide")
    assert out.splitlines()[3:8] == [
        "NAMESPACE    DAEMONSET      WANTED    POD                   STATUS    REVISION    LABELS                  WHY",
        "kube-system  cilium         yes       cilium-node-1         Running   1           -                       -",
        "kube-system  kube-proxy     yes       kube-proxy-node-1     Running   1           -                       -",
        "logging      fluentd        yes       fluentd-node-1        Running   1           kubernetes.io/os=linux  -",
        "monitoring   node-exporter  yes       node-exporter-node-1  Running   1           -                       -",
    ]
