"""`kubectl ds audit` end to end: CLI → kube adapter → real HTTP → tests/apiserver.py, and offline from a dump.

Pins the table, the JSON document (its `summary` and `nodes[]` are exactly `explain -o json`'s), the scope
flags, --exit-code, what is read (one list each for the whole scope, whatever the number of nodes) and how a
forbidden list degrades.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver import ApiServer
from tests.builders import make_daemonset, make_node, make_pod, make_revision, rolling_update, toleration
from tests.conftest import EXAMPLE_DUMP, Invoke

Obj = dict[str, Any]
ARCH = "kubernetes.io/arch"


def fleet(extra_nodes: int = 0) -> list[Obj]:
    """Six nodes (amd-1..4, arm-1..2) and three DaemonSets:
    kube-system/proxy healthy everywhere; monitoring/exporter crash-looping on the two arm64 nodes;
    logging/shipper healthy, but with a surge and a host port, a toleration of every taint and no priority, and a
    PodDisruptionBudget that never allows an eviction."""
    nodes = [make_node(f"amd-{i}", labels={ARCH: "amd64", "kubernetes.io/hostname": f"amd-{i}"}) for i in range(1, 5)]
    nodes += [make_node(f"arm-{i}", labels={ARCH: "arm64", "kubernetes.io/hostname": f"arm-{i}"}) for i in (1, 2)]
    nodes += [make_node(f"amd-x{i}", labels={ARCH: "amd64"}) for i in range(extra_nodes)]
    proxy = make_daemonset("proxy", "kube-system", labels={"app": "proxy"}, tolerations=[toleration(operator="Exists")])
    proxy["spec"]["template"]["spec"]["priorityClassName"] = "system-node-critical"
    proxy["metadata"]["labels"] = {"tier": "node"}
    exporter = make_daemonset("exporter", "monitoring", labels={"app": "exporter"})
    exporter["metadata"]["labels"] = {"tier": "metrics"}
    shipper = make_daemonset(
        "shipper",
        "logging",
        labels={"app": "shipper"},
        host_ports=[24224],
        strategy=rolling_update(0, 1),
        tolerations=[toleration(operator="Exists")],
    )
    shipper["metadata"]["labels"] = {"tier": "node"}
    objects: list[Obj] = [*nodes]
    for daemonset in (proxy, exporter, shipper):
        objects += [daemonset, make_revision(daemonset, 1, "h1")]
        for node in nodes:
            name = node["metadata"]["name"]
            short = daemonset["metadata"]["name"]
            if short == "exporter" and name.startswith("arm"):
                pod = make_pod(
                    f"{short}-{name}", node=name, owner=daemonset, revision_hash="h1", ready=False,
                    container_waiting="CrashLoopBackOff", restart_count=12,
                )  # fmt: skip
            else:
                pod = make_pod(f"{short}-{name}", node=name, owner=daemonset, revision_hash="h1")
            objects.append(pod)
    objects.append(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "shipper", "namespace": "logging"},
            "spec": {"selector": {"matchLabels": {"app": "shipper"}}, "maxUnavailable": 1},
        }
    )
    return objects


@pytest.fixture
def live(apiserver: ApiServer, tmp_path: Path) -> tuple[ApiServer, str]:
    apiserver.load(copy.deepcopy(fleet()))
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kubeconfig"), namespace="monitoring")
    apiserver.reset_requests()
    return apiserver, kubeconfig


def audit(invoke: Invoke, kubeconfig: str, *args: str) -> tuple[int, str, str]:
    result = invoke("audit", "--kubeconfig", kubeconfig, *args)
    return result.exit_code, result.stdout, result.stderr


TABLE = """\
NAMESPACE    NAME      SHOULD RUN    READY    UP-TO-DATE    PROBLEMS         TOP REASON
kube-system  proxy     6             6        6             -                -
logging      shipper   6             6        6             -                -
monitoring   exporter  6             4        6             2 crash-looping  crash-looping (2 nodes)

logging/shipper: no node needs attention; 1 error and 2 warnings
  error SurgeWithHostPort: updateStrategy RollingUpdate with maxSurge and host port 24224/TCP: the surge pod \
cannot bind the port next to the old pod, so the next rolling update deadlocks; set maxSurge 0 and use maxUnavailable
  warning ToleratesEverythingWithoutPriority: it tolerates every taint (a toleration with operator Exists and no \
key) but has no priorityClassName: on a full node its pod cannot preempt and stays Pending; give it one that may \
preempt, e.g. system-node-critical (unless a globalDefault PriorityClass already does)
  warning PDBNeverAllowsEviction: PodDisruptionBudget shipper never allows evicting these pods: maxUnavailable 1 \
needs the owner's scale subresource, which a DaemonSet lacks, so the disruption controller fails to sync it \
(SyncFailed) and allows no eviction

monitoring/exporter: 2 of 6 nodes need attention
  2 nodes: crash-looping: arm-1, arm-2
  correlation: all 2 crash-looping nodes are kubernetes.io/arch=arm64; 0 of 4 amd64 nodes fail
"""


def test_table_rows_groups_correlation_and_findings(invoke: Invoke, live: tuple[ApiServer, str]) -> None:
    _, kubeconfig = live
    code, out, err = audit(invoke, kubeconfig, "-A")
    assert (code, err) == (0, "")
    assert out == TABLE


def test_reads_one_list_each_for_the_whole_cluster(invoke: Invoke, live: tuple[ApiServer, str]) -> None:
    server, kubeconfig = live
    audit(invoke, kubeconfig, "-A")
    calls = [(request.method, request.path) for request in server.requests]
    assert calls == [
        ("GET", "/api/v1/nodes"),
        ("GET", "/apis/apps/v1/daemonsets"),
        ("GET", "/api/v1/pods"),
        ("GET", "/apis/apps/v1/controllerrevisions"),
        ("GET", "/apis/policy/v1/poddisruptionbudgets"),
    ]


@pytest.mark.parametrize("extra_nodes", [0, 60])
def test_request_count_does_not_grow_with_nodes(
    invoke: Invoke, apiserver: ApiServer, tmp_path: Path, extra_nodes: int
) -> None:
    apiserver.load(copy.deepcopy(fleet(extra_nodes)))
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kc"))
    apiserver.reset_requests()
    code, _, _ = audit(invoke, kubeconfig, "-A", "-o", "json")
    assert code == 0
    traffic = apiserver.traffic()
    assert traffic.total_requests == 5
    assert [traffic.count("list", resource) for resource in ("nodes", "daemonsets", "pods")] == [1, 1, 1]


def test_events_and_other_pods_only_when_needed(invoke: Invoke, apiserver: ApiServer, tmp_path: Path) -> None:
    """A Pending DaemonSet pod makes audit read the scheduler's events once; with -n, the cluster's other pods
    are read once more (cluster-wide) for the resource and host-port checks."""
    objects = fleet()
    exporter = next(obj for obj in objects if obj["metadata"]["name"] == "exporter")
    objects = [obj for obj in objects if obj["metadata"]["name"] != "exporter-amd-1"]
    objects.append(
        make_pod("exporter-pend", target_node="amd-1", owner=exporter, revision_hash="h1", phase="Pending", ready=False)
    )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "exporter-pend.1", "namespace": "monitoring"},
            "involvedObject": {"kind": "Pod", "name": "exporter-pend", "namespace": "monitoring"},
            "reason": "FailedScheduling",
            "message": "0/6 nodes are available: 1 Insufficient cpu, "
            "5 node(s) didn't satisfy plugin(s) [NodeAffinity].",
            "lastTimestamp": "2024-06-01T11:00:00Z",
        }
    )
    apiserver.load(copy.deepcopy(objects))
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kc"))
    apiserver.reset_requests()
    code, out, _ = audit(invoke, kubeconfig, "-n", "monitoring")
    assert code == 0
    assert "  1 node: Pending (Insufficient cpu): amd-1\n" in out
    calls = [(request.path, request.query.get("fieldSelector", "")) for request in apiserver.requests]
    assert calls == [
        ("/api/v1/nodes", ""),
        ("/apis/apps/v1/namespaces/monitoring/daemonsets", ""),
        ("/api/v1/namespaces/monitoring/pods", ""),
        ("/apis/apps/v1/namespaces/monitoring/controllerrevisions", ""),
        ("/api/v1/namespaces/monitoring/events", "involvedObject.kind=Pod,reason=FailedScheduling"),
        ("/apis/policy/v1/namespaces/monitoring/poddisruptionbudgets", ""),
        ("/api/v1/pods", "status.phase!=Succeeded,status.phase!=Failed"),
    ]


def as_json(result: Any) -> Obj:
    assert result.stderr == ""
    data: Obj = json.loads(result.stdout)
    return data


def test_json_summary_and_nodes_are_explains(invoke: Invoke, live: tuple[ApiServer, str]) -> None:
    _, kubeconfig = live
    data = as_json(invoke("audit", "-A", "--kubeconfig", kubeconfig, "-o", "json"))
    assert (data["apiVersion"], data["kind"], data["omitted"]) == ("kubectl-ds/v1", "Audit", [])
    assert [(ds["namespace"], ds["name"]) for ds in data["daemonSets"]] == [
        ("kube-system", "proxy"),
        ("logging", "shipper"),
        ("monitoring", "exporter"),
    ]
    for entry in data["daemonSets"]:
        explained = as_json(
            invoke("explain", entry["name"], "-n", entry["namespace"], "--kubeconfig", kubeconfig, "-o", "json",
                   "--problems")
        )  # fmt: skip
        assert entry["summary"] == explained["summary"]
        assert entry["nodes"] == explained["nodes"]
    exporter = data["daemonSets"][2]
    assert [node["name"] for node in exporter["nodes"]] == ["arm-1", "arm-2"]
    assert exporter["summary"]["correlations"][0]["label"] == "kubernetes.io/arch=arm64"
    assert [(item["code"], item["severity"]) for item in data["daemonSets"][1]["findings"]] == [
        ("SurgeWithHostPort", "error"),
        ("ToleratesEverythingWithoutPriority", "warning"),
        ("PDBNeverAllowsEviction", "warning"),
    ]


def test_all_lists_every_node(invoke: Invoke, live: tuple[ApiServer, str]) -> None:
    _, kubeconfig = live
    data = as_json(invoke("audit", "-n", "kube-system", "--all", "--kubeconfig", kubeconfig, "-o", "json"))
    explained = as_json(invoke("explain", "proxy", "-n", "kube-system", "--kubeconfig", kubeconfig, "-o", "json"))
    assert data["daemonSets"][0]["nodes"] == explained["nodes"]
    code, out, _ = audit(invoke, kubeconfig, "-n", "kube-system", "--all")
    assert out.split("\n\n")[1] == (
        "kube-system/proxy: no node needs attention\n  6 nodes: healthy: amd-1, amd-2, amd-3, amd-4, arm-1 and 1 more\n"
    )
    _, wide, _ = audit(invoke, kubeconfig, "-n", "kube-system", "--all", "-o", "wide")
    assert "  6 nodes: healthy: amd-1, amd-2, amd-3, amd-4, arm-1, arm-2\n" in wide


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        pytest.param((), ["exporter"], id="the-context-namespace-by-default"),
        pytest.param(("-n", "logging"), ["shipper"], id="namespace-flag"),
        pytest.param(("-A", "-l", "tier=node"), ["proxy", "shipper"], id="daemonset-label-selector"),
        pytest.param(("-A", "-l", "tier notin (node)"), ["exporter"], id="set-based-selector"),
        pytest.param(("-n", "logging", "-A"), ["proxy", "shipper", "exporter"], id="all-namespaces-beats-namespace"),
    ],
)
def test_scope(invoke: Invoke, live: tuple[ApiServer, str], args: tuple[str, ...], listed: list[str]) -> None:
    _, kubeconfig = live
    data = as_json(invoke("audit", "--kubeconfig", kubeconfig, "-o", "json", *args))
    assert [ds["name"] for ds in data["daemonSets"]] == listed


def test_node_selector_judges_only_those_nodes(invoke: Invoke, live: tuple[ApiServer, str]) -> None:
    _, kubeconfig = live
    code, out, _ = audit(invoke, kubeconfig, "--node-selector", f"{ARCH}=amd64", "--exit-code")
    assert code == 0
    assert out == (
        "NAMESPACE    NAME      SHOULD RUN    READY    UP-TO-DATE    PROBLEMS    TOP REASON\n"
        "monitoring   exporter  4             4        4             -           -\n"
    )


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param(("-n", "monitoring"), 3, id="a-wanted-node-without-a-ready-pod"),
        pytest.param(("-n", "logging"), 3, id="an-error-finding-alone"),
        pytest.param(("-n", "kube-system"), 0, id="healthy-and-no-error-finding"),
        pytest.param(("-n", "empty"), 0, id="nothing-in-scope"),
    ],
)
def test_exit_code(invoke: Invoke, live: tuple[ApiServer, str], args: tuple[str, ...], code: int) -> None:
    _, kubeconfig = live
    assert audit(invoke, kubeconfig, "--exit-code", *args)[0] == code
    assert audit(invoke, kubeconfig, *args)[0] == 0


def test_nothing_in_scope(invoke: Invoke, live: tuple[ApiServer, str]) -> None:
    _, kubeconfig = live
    assert audit(invoke, kubeconfig, "-n", "empty") == (0, 'No DaemonSets found in namespace "empty".\n', "")


def test_forbidden_lists_degrade_with_a_note(invoke: Invoke, live: tuple[ApiServer, str]) -> None:
    server, kubeconfig = live
    server.deny("list", "pods", "kube-system")
    server.deny("list", "poddisruptionbudgets")
    data = as_json(invoke("audit", "-A", "--kubeconfig", kubeconfig, "-o", "json"))
    assert data["omitted"] == [
        "pod states left out: forbidden: RBAC does not allow you to list pods at the cluster scope "
        '(pods is forbidden: User "test-user" cannot list resource "pods" in API group "" at the cluster scope); '
        "ask for 'list' on pods",
        "PodDisruptionBudget findings left out: forbidden: RBAC does not allow you to list poddisruptionbudgets "
        'at the cluster scope (poddisruptionbudgets.policy is forbidden: User "test-user" cannot list resource '
        '"poddisruptionbudgets" in API group '
        "\"policy\" at the cluster scope); ask for 'list' on poddisruptionbudgets",
    ]
    assert {node["state"] for ds in data["daemonSets"] for node in ds["nodes"]} == {"unknown"}


def test_forbidden_daemonsets_is_an_error(invoke: Invoke, live: tuple[ApiServer, str]) -> None:
    server, kubeconfig = live
    server.deny("list", "daemonsets")
    code, out, err = audit(invoke, kubeconfig, "-A")
    assert (code, out) == (1, "")
    assert err.startswith("error: forbidden: RBAC does not allow you to list daemonsets at the cluster scope (")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("-l", "tier in (node"),
            'error: invalid -l/--selector "tier in (node": it ends too early; use e.g. app=agent,tier!=canary\n',
            id="bad-selector",
        ),
        pytest.param(
            ("--node-selector", "a=b c"),
            'error: invalid --node-selector "a=b c": requirements are separated by commas; use e.g. '
            "app=agent,tier!=canary\n",
            id="bad-node-selector",
        ),
        pytest.param(
            ("-o", "xml"),
            'error: unknown output format "xml" for -o; use one of: table, wide, json, yaml\n',
            id="bad-o",
        ),
    ],
)
def test_usage_errors_before_any_request(
    invoke: Invoke, live: tuple[ApiServer, str], args: tuple[str, ...], message: str
) -> None:
    server, kubeconfig = live
    assert audit(invoke, kubeconfig, *args) == (2, "", message)
    assert server.requests == []


def test_offline_dump_equals_live(invoke: Invoke, live: tuple[ApiServer, str], tmp_path: Path) -> None:
    _, kubeconfig = live
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": fleet()}))
    online = as_json(invoke("audit", "-A", "--kubeconfig", kubeconfig, "-o", "json"))
    offline = as_json(invoke("audit", "-A", "--from-file", str(dump), "-o", "json"))
    assert offline == online
    yaml_out = yaml.safe_load(invoke("audit", "-A", "--from-file", str(dump), "-o", "yaml").stdout)
    assert yaml_out == online


EXAMPLE_TABLE = """\
NAMESPACE    NAME     SHOULD RUN    READY    UP-TO-DATE    PROBLEMS                                                    \
TOP REASON
logging      fluentd  9             6        8             1 crash-looping, 2 Pending, 1 old revision, 1 misscheduled  \
crash-looping (1 node)

logging/fluentd: 5 of 14 nodes need attention; 1 error
  1 node: crash-looping: node-5
  1 node: Pending (Insufficient memory): node-7
  1 node: Pending (hostPort 24224/TCP): node-8
  1 node: old revision: node-6
  1 node: taint dedicated=gpu:NoSchedule not tolerated (pod kept, misscheduled): gpu-2
  error RollingUpdateStuck: maxUnavailable 1 is used up by nodes that will not recover by themselves \
(node-5: pod fluentd-5abc: container fluentd is crash-looping (14 restarts, last exit code 1 (Error)); \
node-7: pod fluentd-7pend is Pending: Unschedulable; node-8: pod fluentd-8pend is Pending: Unschedulable); \
2 nodes wait with an old pod (gpu-2, node-6)
"""


def test_the_bundled_example_offline_every_namespace(invoke: Invoke) -> None:
    result = invoke("audit", "-A", "--from-file", str(EXAMPLE_DUMP), "--exit-code")
    assert (result.exit_code, result.stdout, result.stderr) == (3, EXAMPLE_TABLE, "")


def test_explain_shows_the_correlation(invoke: Invoke, live: tuple[ApiServer, str]) -> None:
    _, kubeconfig = live
    out = invoke("explain", "exporter", "--kubeconfig", kubeconfig).stdout
    assert out.split("\n\n")[1:] == [
        "6 nodes → 6 should run; 4 running, 2 crash-looping on arm-1, arm-2\n"
        "Correlation: all 2 crash-looping nodes are kubernetes.io/arch=arm64; 0 of 4 amd64 nodes fail",
        "Fixes:\n  crash-looping (arm-1, arm-2): kubectl logs -n monitoring exporter-arm-1 -c foo --previous\n",
    ]
    data = as_json(invoke("explain", "exporter", "--kubeconfig", kubeconfig, "-o", "json"))
    assert data["summary"]["correlations"] == [
        {
            "state": "crash-looping",
            "label": "kubernetes.io/arch=arm64",
            "failing": 2,
            "others": 4,
            "othersFailing": 0,
            "alsoShared": [],
            "text": "all 2 crash-looping nodes are kubernetes.io/arch=arm64; 0 of 4 amd64 nodes fail",
        }
    ]


FLEET_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fleet.yaml"


def test_the_bundled_fleet_example_is_this_fleet(invoke: Invoke) -> None:
    """examples/fleet.yaml (the README's audit sample) is fleet(); `python -m tests.test_audit_cli` rewrites it."""
    assert yaml.safe_load(FLEET_EXAMPLE.read_text())["items"] == fleet()
    result = invoke("audit", "-A", "--from-file", str(FLEET_EXAMPLE))
    assert (result.exit_code, result.stdout) == (0, TABLE)


if __name__ == "__main__":
    FLEET_EXAMPLE.write_text(
        "# The fleet of tests/test_audit_cli.py (three DaemonSets on six nodes), the README's `kubectl ds audit`\n"
        "# sample. Regenerate: python -m tests.test_audit_cli\n"
        + yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": fleet()}, sort_keys=False)
    )


def test_forbidden_revisions_leave_out_revision_numbers(invoke: Invoke, live: tuple[ApiServer, str]) -> None:
    server, kubeconfig = live
    server.deny("list", "controllerrevisions")
    data = as_json(invoke("audit", "-n", "monitoring", "--kubeconfig", kubeconfig, "-o", "json"))
    assert [note.split(":")[0] for note in data["omitted"]] == ["revision numbers left out"]
    assert {pod["revision"] for node in data["daemonSets"][0]["nodes"] for pod in node["pods"]} == {None}


def test_lists_follow_continue_tokens(invoke: Invoke, tmp_path: Path, isolated_env: Path) -> None:
    server = ApiServer(page_size_cap=4).start()
    try:
        server.load(copy.deepcopy(fleet()))
        kubeconfig = server.write_kubeconfig(str(tmp_path / "kc"))
        server.reset_requests()
        result = invoke("audit", "-A", "--kubeconfig", kubeconfig)
        assert (result.exit_code, result.stdout) == (0, TABLE)
        assert server.traffic().count("list", "pods") == 5  # 18 pods in pages of 4
    finally:
        server.stop()


def test_a_halted_managed_rollout_is_an_error_finding_with_since_when(
    invoke: Invoke, apiserver: ApiServer, tmp_path: Path
) -> None:
    """The time comes from the managedFields entry that owns the state annotation (a real API server keeps it;
    the test API server stores what it is given)."""
    from kubectl_ds.rollout import state as st

    daemonset = make_daemonset("agent", "ops", labels={"app": "agent"}, strategy="OnDelete")
    state = st.RolloutState(
        rollout_id="r1", phase=st.HALTED, direction=st.FORWARD, start_hash="h1", start_revision=1,
        target_hash="h2", target_revision=2, reason="new pods crash-loop on amd-1", change="image foo=foo/bar:v2",
    )  # fmt: skip
    daemonset["metadata"]["annotations"] = {st.STATE_ANNOTATION: st.encode(state)}
    daemonset["metadata"]["managedFields"] = [
        {"manager": "kubectl-ds", "operation": "Update", "time": "2024-06-01T10:00:00Z",
         "fieldsV1": {"f:metadata": {"f:annotations": {f"f:{st.STATE_ANNOTATION}": {}}}}},
    ]  # fmt: skip
    node = make_node("amd-1")
    apiserver.load(
        [
            node,
            daemonset,
            make_revision(daemonset, 1, "h1"),
            make_pod("agent-1", "amd-1", daemonset, revision_hash="h1"),
        ]
    )
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kc"), namespace="ops")
    code, out, _ = audit(invoke, kubeconfig, "--exit-code")
    assert code == 3
    [line] = [line for line in out.splitlines() if "ManagedRolloutHalted" in line]
    assert line.startswith(
        "  error ManagedRolloutHalted: managed rollout to revision 2 (image foo=foo/bar:v2) halted since "
        "2024-06-01T10:00:00Z ("
    )
    assert line.endswith(
        " ago): new pods crash-loop on amd-1; the DaemonSet stays parked (OnDelete); retry with kubectl ds rollout "
        "resume -n ops agent or roll back with kubectl ds rollout abort -n ops agent"
    )
