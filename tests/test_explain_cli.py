"""`kubectl ds explain` through the CLI on the bundled example dump: exact user-visible strings,
the JSON schema, flags, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLE_DUMP, Invoke

DUMP = str(EXAMPLE_DUMP)


def explain(invoke: Invoke, *args: str) -> tuple[int, str, str]:
    result = invoke("explain", "-n", "logging", "fluentd", "--from-file", DUMP, *args)
    return result.exit_code, result.stdout, result.stderr


def rows(text: str) -> dict[str, str]:
    """Table rows keyed by node name (the first column)."""
    lines = text.split("\n\n", 1)[0].splitlines()[1:]
    return {line.split()[0]: line for line in lines}


def test_table_header_and_one_row_per_node(invoke: Invoke) -> None:
    code, out, err = explain(invoke)
    assert code == 0 and err == ""
    header = out.splitlines()[0].split()
    assert header == ["NODE", "WANTED", "POD", "STATUS", "REVISION", "WHY"]
    assert list(rows(out)) == [
        "gpu-1",
        "gpu-2",
        "node-1",
        "node-2",
        "node-3",
        "node-4",
        "node-5",
        "node-6",
        "node-7",
        "node-8",
        "node-9",
        "node-10",
        "node-11",
        "win-1",
    ]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        pytest.param(
            "win-1",
            "nodeSelector kubernetes.io/os=linux: node has kubernetes.io/os=windows",
            id="nodeselector-names-key-and-node-value",
        ),
        pytest.param(
            "node-10",
            "affinity term 1: topology.kubernetes.io/zone In [zone-a,zone-b]: "
            "node has topology.kubernetes.io/zone=zone-c",
            id="affinity-names-term-and-expression",
        ),
        pytest.param(
            "gpu-1", "taint dedicated=gpu:NoSchedule not tolerated: no new pod is created", id="noschedule-taint-named"
        ),
        pytest.param(
            "node-9",
            "taint maintenance=true:NoExecute not tolerated: running pods are evicted",
            id="noexecute-taint-named",
        ),
        pytest.param(
            "node-7",
            "insufficient memory: requests 300Mi, free 248Mi of 2Gi allocatable",
            id="insufficient-memory-with-figures",
        ),
        pytest.param(
            "node-7",
            "pod fluentd-7pend is Pending; the scheduler says: Insufficient memory",
            id="failedscheduling-message-without-nodeaffinity-noise",
        ),
        pytest.param("node-8", "hostPort 24224/TCP held by monitoring/fluent-bit-x7k2p", id="hostport-names-holder"),
        pytest.param(
            "node-5", "container fluentd is crash-looping (14 restarts, last exit code 1 (Error))", id="crashloop-named"
        ),
        pytest.param("node-6", "pod fluentd-6old runs revision 1, current is revision 2", id="old-revision-named"),
        pytest.param(
            "gpu-2",
            "pod fluentd-gpu2old keeps running although no new pod would be placed here (counted as misscheduled)",
            id="noschedule-keeps-existing-pod",
        ),
        pytest.param(
            "node-11",
            "node is cordoned; DaemonSet pods tolerate node.kubernetes.io/unschedulable",
            id="cordon-reported-but-not-blocking",
        ),
    ],
)
def test_why_column_names_the_failing_rule(invoke: Invoke, node: str, expected: str) -> None:
    _, out, _ = explain(invoke)
    assert expected in rows(out)[node]


@pytest.mark.parametrize(
    ("node", "wanted", "status", "revision"),
    [
        pytest.param("node-1", "yes", "Running", "2", id="healthy"),
        pytest.param("node-6", "yes", "Running", "1 (old)", id="old-revision-marked"),
        pytest.param("node-5", "yes", "CrashLoopBackOff", "2", id="crashloop-status"),
        pytest.param("node-7", "yes", "Pending", "2", id="pending-status"),
        pytest.param("gpu-1", "no (keep)", "-", "-", id="noschedule-verdict-keep"),
        pytest.param("node-9", "no", "-", "-", id="noexecute-verdict-no"),
    ],
)
def test_row_columns(invoke: Invoke, node: str, wanted: str, status: str, revision: str) -> None:
    _, out, _ = explain(invoke)
    header = out.splitlines()[0]
    line = rows(out)[node]
    cells = {name: line[header.index(name) :].split("  ")[0].strip() for name in ("WANTED", "STATUS", "REVISION")}
    assert cells == {"WANTED": wanted, "STATUS": status, "REVISION": revision}


def test_summary_reconciles_the_counts(invoke: Invoke) -> None:
    _, out, _ = explain(invoke)
    assert (
        "14 nodes → 9 should run: 2 excluded by taint dedicated=gpu:NoSchedule, "
        "1 by affinity topology.kubernetes.io/zone In [zone-a,zone-b], 1 by nodeSelector kubernetes.io/os=linux, "
        "1 by taint maintenance=true:NoExecute; 6 running (1 on an old revision), 1 crash-looping on node-5, "
        "2 Pending on node-7 (Insufficient memory), node-8 (hostPort 24224/TCP); "
        "1 pod on a node that should not run it (gpu-2)\n"
    ) in out


def test_summary_falls_back_to_ascii_arrow(invoke: Invoke) -> None:
    result = invoke("explain", "-n", "logging", "fluentd", "--from-file", DUMP, encoding="ascii")
    assert "\n14 nodes -> 9 should run: " in result.stdout


def test_fix_hints_group_nodes_by_rule(invoke: Invoke) -> None:
    _, out, _ = explain(invoke)
    fixes = out.split("Fixes:\n", 1)[1]
    assert (
        "  taint dedicated=gpu:NoSchedule (gpu-1, gpu-2): add toleration {key: dedicated, operator: Equal, "
        "value: gpu, effect: NoSchedule} or: kubectl taint node NODE dedicated=gpu:NoSchedule-\n"
    ) in fixes
    assert (
        "  nodeSelector kubernetes.io/os=linux (win-1): kubectl label node win-1 kubernetes.io/os=linux "
        "--overwrite\n" in fixes
    )


def test_problems_shows_only_nodes_needing_attention(invoke: Invoke) -> None:
    _, out, _ = explain(invoke, "--problems")
    assert list(rows(out)) == ["gpu-2", "node-5", "node-6", "node-7", "node-8"]


def test_wide_adds_labels_and_taints_that_mattered(invoke: Invoke) -> None:
    _, out, _ = explain(invoke, "-o", "wide", "--node", "gpu-1")
    assert out.splitlines()[0].split() == ["NODE", "WANTED", "POD", "STATUS", "REVISION", "LABELS", "TAINTS", "WHY"]
    assert "kubernetes.io/os=linux,topology.kubernetes.io/zone=zone-a  dedicated=gpu:NoSchedule" in out


def test_json_schema(invoke: Invoke) -> None:
    code, out, _ = explain(invoke, "-o", "json")
    data = json.loads(out)
    assert code == 0
    assert data["daemonSet"] == {"namespace": "logging", "name": "fluentd", "revision": 2, "hash": "7d9f8c6b5"}
    assert set(data["summary"]) >= {"nodes", "shouldRun", "excluded", "states", "problems", "status", "text"}
    assert data["summary"]["status"] == {
        "desiredNumberScheduled": 9,
        "currentNumberScheduled": 9,
        "numberReady": 6,
        "updatedNumberScheduled": 8,
        "numberAvailable": 6,
        "numberMisscheduled": 1,
    }
    nodes = {node["name"]: node for node in data["nodes"]}
    assert set(nodes["node-1"]) >= {"name", "shouldRun", "shouldContinueRunning", "pods", "reasons"}
    assert nodes["node-6"]["pods"][0] | {} == {
        "name": "fluentd-6old",
        "phase": "Running",
        "ready": True,
        "available": True,
        "revision": 1,
        "updated": False,
        "status": "Running",
        "terminating": False,
    }
    codes = {name: [reason["code"] for reason in node["reasons"]] for name, node in nodes.items()}
    assert codes["win-1"] == ["NodeSelector"]
    assert codes["node-10"] == ["NodeAffinity"]
    assert codes["gpu-1"] == ["TaintNoSchedule"]
    assert codes["node-9"] == ["TaintNoExecute"]
    assert codes["node-7"] == ["FailedScheduling", "InsufficientResources"]
    assert codes["node-8"] == ["FailedScheduling", "HostPortConflict"]
    assert (nodes["gpu-1"]["shouldRun"], nodes["gpu-1"]["shouldContinueRunning"]) == (False, True)
    assert (nodes["node-9"]["shouldRun"], nodes["node-9"]["shouldContinueRunning"]) == (False, False)


def test_yaml_output_is_the_same_data(invoke: Invoke) -> None:
    _, as_json, _ = explain(invoke, "-o", "json")
    _, as_yaml, _ = explain(invoke, "-o", "yaml")
    assert yaml.safe_load(as_yaml) == json.loads(as_json)


def test_exit_code_3_when_a_wanted_node_lacks_a_ready_updated_pod(invoke: Invoke) -> None:
    code, _, _ = explain(invoke, "--exit-code")
    assert code == 3


def test_exit_code_0_when_the_selected_nodes_are_healthy(invoke: Invoke) -> None:
    code, _, _ = explain(invoke, "--exit-code", "--node", "node-1", "--node", "win-1")
    assert code == 0


def test_from_stdin(invoke: Invoke) -> None:
    result = invoke("explain", "-n", "logging", "fluentd", "--from-file", "-", stdin=EXAMPLE_DUMP.read_text())
    assert result.exit_code == 0 and "14 nodes → 9 should run" in result.stdout


def test_a_dump_with_unquoted_timestamps_reads_the_same(invoke: Invoke, tmp_path: Path) -> None:
    """Valid YAML may hold times unquoted (`lastTransitionTime: 2024-06-01T10:00:05Z`, or without a zone),
    which YAML reads as datetimes; the answer must be the one the quoted dump gives (minReadySeconds makes
    explain read the Ready transition times)."""
    import re

    dump = yaml.safe_load(EXAMPLE_DUMP.read_text())
    for item in dump["items"]:
        if item["kind"] == "DaemonSet":
            item["spec"]["minReadySeconds"] = 10
    quoted = yaml.safe_dump(dump)
    unquoted = re.sub(r"""'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)Z'""", r"\1Z", quoted)
    zoneless = re.sub(r"""'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)Z'""", r"\1", quoted)
    assert unquoted != quoted != zoneless
    answers = []
    for name, text in (("quoted", quoted), ("unquoted", unquoted), ("zoneless", zoneless)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        result = invoke("explain", "-n", "logging", "fluentd", "--from-file", str(path), "-o", "json")
        assert (result.exit_code, result.stderr) == (0, ""), name
        answers.append(json.loads(result.stdout))
    assert answers[0] == answers[1] == answers[2]


def test_manifest_what_if_against_the_dump(invoke: Invoke, tmp_path: Path) -> None:
    dump = yaml.safe_load(EXAMPLE_DUMP.read_text())
    daemonset = next(item for item in dump["items"] if item["kind"] == "DaemonSet")
    # The new template tolerates the GPU taint: the what-if shows those nodes admitted.
    daemonset["spec"]["template"]["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    manifest = tmp_path / "fluentd.yaml"
    manifest.write_text(yaml.safe_dump(daemonset))
    result = invoke("explain", "-f", str(manifest), "--from-file", DUMP, "-o", "json")
    data = json.loads(result.stdout)
    nodes = {node["name"]: node for node in data["nodes"]}
    assert result.exit_code == 0
    assert nodes["gpu-1"]["shouldRun"] is True
    assert data["summary"]["shouldRun"] == 11
    assert all(pod["updated"] is False for node in data["nodes"] for pod in node["pods"])


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        pytest.param(
            ["explain", "-n", "logging", "nope", "--from-file", DUMP],
            f'error: daemonset "nope" not found in namespace "logging" (in {DUMP})\n',
            1,
            id="missing-daemonset",
        ),
        pytest.param(
            ["explain", "fluentd", "--from-file", "/nonexistent.yaml"],
            'error: cannot read "/nonexistent.yaml": No such file or directory\n',
            1,
            id="unreadable-dump",
        ),
        pytest.param(
            ["explain", "-n", "logging", "fluentd", "--from-file", DUMP, "-o", "xml"],
            'error: unknown output format "xml" for -o; use one of: table, wide, json, yaml, name\n',
            2,
            id="bad-output-format",
        ),
        pytest.param(
            ["explain", "--node", "node-1", "--from-file", DUMP],
            "error: --node needs a DaemonSet: kubectl ds explain NAME --node NODE\n",
            2,
            id="node-without-name",
        ),
        pytest.param(
            ["explain", "-f", "-", "--from-file", "-"],
            "error: standard input (-) can be read only once: use it for either --from-file or -f\n",
            2,
            id="stdin-twice",
        ),
        pytest.param(
            ["explain", "-n", "logging", "fluentd", "--from-file", DUMP, "--node", "ghost"],
            'error: node "ghost" not found; kubectl get nodes lists them\n',
            1,
            id="unknown-node",
        ),
        pytest.param(
            ["explain", "x", "--request-timeout", "soon"],
            'error: invalid duration "soon" for --request-timeout; use e.g. 30s, 1m30s or 10\n',
            2,
            id="bad-timeout",
        ),
    ],
)
def test_bad_input_gives_one_line_error(invoke: Invoke, args: list[str], message: str, code: int) -> None:
    result = invoke(*args)
    assert (result.exit_code, result.stderr) == (code, message)


def test_malformed_dump(invoke: Invoke, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [\n")
    result = invoke("explain", "fluentd", "--from-file", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith(f'error: "{bad}" is not valid YAML or JSON: ')
    assert result.stderr.count("\n") == 1


def test_manifest_that_is_not_a_daemonset(invoke: Invoke, tmp_path: Path) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n")
    result = invoke("explain", "-f", str(manifest), "--from-file", DUMP)
    assert (result.exit_code, result.stderr) == (
        1,
        f'error: "{manifest}" is not a DaemonSet manifest (found Deployment); pass a file with kind: DaemonSet\n',
    )


def test_dump_without_nodes(invoke: Invoke, tmp_path: Path) -> None:
    dump = tmp_path / "pods.yaml"
    dump.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    result = invoke("explain", "fluentd", "--from-file", str(dump))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: no Node objects in {dump}; dump them too: "
        "kubectl get nodes,pods,ds,controllerrevisions,events,pdb -A -o yaml\n"
    )


def test_name_conflicting_with_manifest(invoke: Invoke, tmp_path: Path) -> None:
    manifest = tmp_path / "ds.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\n"
        "spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, "
        "spec: {containers: [{name: c, image: i}]}}}\n"
    )
    result = invoke("explain", "other", "-f", str(manifest), "--from-file", DUMP)
    assert (result.exit_code, result.stderr) == (
        2,
        'error: NAME "other" does not match the manifest\'s DaemonSet "agent"; drop NAME or fix the manifest\n',
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["bogus"], "error: no such command 'bogus'; see 'kubectl ds --help'\n", id="unknown-command"),
        pytest.param(
            ["explain", "a", "b"],
            "error: got unexpected extra argument (b); see 'kubectl ds explain --help'\n",
            id="extra-argument",
        ),
        pytest.param(
            ["explain", "x", "--nope"],
            "error: no such option '--nope' (did you mean one of: '--node', '--token'?); "
            "see 'kubectl ds explain --help'\n",
            id="unknown-flag",
        ),
    ],
)
def test_click_usage_errors_are_one_kubectl_style_line(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke(*args)
    assert (result.exit_code, result.stderr) == (2, message)


def test_manifest_not_applied_yet_shows_where_pods_would_go(invoke: Invoke, tmp_path: Path) -> None:
    manifest = tmp_path / "new.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: newcomer}\n"
        "spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}},\n"
        "  spec: {nodeSelector: {kubernetes.io/os: windows}, containers: [{name: c, image: i}]}}}\n"
    )
    result = invoke("explain", "-f", str(manifest), "--from-file", DUMP, "-n", "logging")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f'Explaining DaemonSet "newcomer" from {manifest} (not applied yet)'
    assert rows("\n".join(result.stdout.splitlines()[1:]))["win-1"].split()[:4] == ["win-1", "yes", "-", "-"]
    assert "; 1 would get a new pod\n" in result.stdout
    assert "Missing" not in result.stdout and "no DaemonSet pod" not in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            "kind: List\nitems:\n- kind: Node\n",
            '"{path}" items[0] (Node) has no metadata.name; is this a dump written by kubectl get -o yaml?',
            id="object-without-a-name",
        ),
    ],
)
def test_malformed_objects_in_a_dump(invoke: Invoke, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "dump.yaml"
    path.write_text(content)
    result = invoke("explain", "x", "--from-file", str(path))
    assert (result.exit_code, result.stderr) == (1, f"error: {message.format(path=path)}\n")


def test_an_unexpected_object_shape_is_a_one_line_error_not_a_traceback(invoke: Invoke, tmp_path: Path) -> None:
    dump = yaml.safe_load(EXAMPLE_DUMP.read_text())
    node = next(item for item in dump["items"] if item["kind"] == "Node")
    node["spec"]["taints"] = "not-a-list"
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump(dump))
    result = invoke("explain", "-n", "logging", "fluentd", "--from-file", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unexpected ")
    assert result.stderr.endswith("please report it (KUBECTL_DS_DEBUG=1 shows the traceback)\n")
    assert result.stderr.count("\n") == 1
