"""`kubectl ds explain` without NAME (one summary line per DaemonSet), -A/--all-namespaces and -l/--selector,
over real HTTP against tests/apiserver.py and from the bundled dump: exact lines, one list per kind whatever
the number of DaemonSets, and the usage errors of conflicting flags."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver import ApiServer
from tests.conftest import EXAMPLE_DUMP, Invoke

EXAMPLE = yaml.safe_load(EXAMPLE_DUMP.read_text())["items"]
DUMP = str(EXAMPLE_DUMP)
FLUENTD_WHY = (
    "1 crash-looping on node-5; 2 Pending on node-7 (Insufficient memory), node-8 (hostPort 24224/TCP); "
    "1 node on an old revision (node-6); 1 pod on a node that should not run it (gpu-2)"
)


def daemonset(namespace: str, name: str, labels: dict[str, str], node_selector: dict[str, str]) -> dict[str, Any]:
    match = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "uid": f"{name}-uid", "labels": labels},
        "spec": {
            "selector": {"matchLabels": match},
            "template": {
                "metadata": {"labels": match},
                "spec": {"nodeSelector": node_selector, "containers": [{"name": "c", "image": f"{name}:1"}]},
            },
        },
    }


# node-exporter should run on win-1 only and has no pod there; fluent-bit should run nowhere.
EXTRA = [
    daemonset("monitoring", "node-exporter", {"tier": "monitoring"}, {"kubernetes.io/os": "windows"}),
    daemonset("logging", "fluent-bit", {"tier": "logging"}, {"kubernetes.io/os": "plan9"}),
]


@pytest.fixture
def kubeconfig(apiserver: ApiServer, tmp_path: Path) -> str:
    apiserver.load(copy.deepcopy(EXAMPLE) + copy.deepcopy(EXTRA))
    path = apiserver.write_kubeconfig(str(tmp_path / "kubeconfig"), namespace="logging")
    apiserver.reset_requests()
    return path


def test_lists_the_namespace_with_one_line_each(invoke: Invoke, apiserver: ApiServer, kubeconfig: str) -> None:
    result = invoke("explain", "--kubeconfig", kubeconfig)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "NAME        NODES    READY    UP-TO-DATE    AVAILABLE    WHY\n"
        "fluent-bit  0/14     0        0             0            -\n"
        f"fluentd     9/14     6        8             6            {FLUENTD_WHY}\n"
    )


def test_one_list_per_kind_for_every_daemonset(invoke: Invoke, apiserver: ApiServer, kubeconfig: str) -> None:
    assert invoke("explain", "-A", "--kubeconfig", kubeconfig).exit_code == 0
    calls = [(r.method, r.path, r.query.get("fieldSelector", "")) for r in apiserver.requests]
    assert calls == [
        ("GET", "/apis/apps/v1/daemonsets", ""),
        ("GET", "/api/v1/nodes", ""),
        ("GET", "/api/v1/pods", ""),
        ("GET", "/apis/apps/v1/controllerrevisions", ""),
        ("GET", "/api/v1/pods", "status.phase!=Succeeded,status.phase!=Failed"),
    ]


def test_all_namespaces_adds_the_namespace_column(invoke: Invoke, kubeconfig: str) -> None:
    result = invoke("explain", "-A", "--kubeconfig", kubeconfig)
    assert result.stdout == (
        "NAMESPACE    NAME           NODES    READY    UP-TO-DATE    AVAILABLE    WHY\n"
        "logging      fluent-bit     0/14     0        0             0            -\n"
        f"logging      fluentd        9/14     6        8             6            {FLUENTD_WHY}\n"
        "monitoring   node-exporter  1/14     0        0             0            1 missing a pod on win-1 (no pod)\n"
    )


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        pytest.param("tier=monitoring", ["daemonset.apps/node-exporter"], id="equality"),
        pytest.param(
            "tier in (logging,monitoring)", ["daemonset.apps/fluent-bit", "daemonset.apps/node-exporter"], id="set"
        ),
        pytest.param("tier,tier!=logging", ["daemonset.apps/node-exporter"], id="exists-and-not-equal"),
        pytest.param("!tier", ["daemonset.apps/fluentd"], id="does-not-exist"),
    ],
)
def test_selector_picks_daemonsets_on_the_server_and_in_a_dump(
    invoke: Invoke, apiserver: ApiServer, kubeconfig: str, tmp_path: Path, selector: str, names: list[str]
) -> None:
    live = invoke("explain", "-A", "-l", selector, "-o", "name", "--kubeconfig", kubeconfig)
    assert live.stdout.splitlines() == names
    # The selector reaches the server as the same requirements (`a!=b` is sent in its set form, `a notin (b)`).
    assert apiserver.requests[0].query["labelSelector"] == selector.replace("tier!=logging", "tier notin (logging)")
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": EXAMPLE + EXTRA}))
    offline = invoke("explain", "-A", "-l", selector, "-o", "name", "--from-file", str(dump))
    assert offline.stdout.splitlines() == names


def test_problems_and_exit_code_in_the_list(invoke: Invoke, kubeconfig: str) -> None:
    result = invoke("explain", "-A", "--problems", "--exit-code", "-o", "name", "--kubeconfig", kubeconfig)
    assert (result.exit_code, result.stdout) == (3, "daemonset.apps/fluentd\ndaemonset.apps/node-exporter\n")


def test_sort_by_and_no_headers_in_the_list(invoke: Invoke, kubeconfig: str) -> None:
    result = invoke("explain", "-A", "--no-headers", "--sort-by", "nodes", "--kubeconfig", kubeconfig)
    assert [line.split()[1] for line in result.stdout.splitlines()] == ["fluent-bit", "node-exporter", "fluentd"]


def test_json_list_carries_each_summary(invoke: Invoke) -> None:
    result = invoke("explain", "-n", "logging", "--from-file", DUMP, "-o", "json")
    data = json.loads(result.stdout)
    assert data["kind"] == "DaemonSetSummaryList"
    [item] = data["items"]
    assert item["daemonSet"] == {"namespace": "logging", "name": "fluentd"}
    assert item["summary"]["status"]["numberAvailable"] == 6
    assert item["why"] == FLUENTD_WHY


def test_empty_namespace(invoke: Invoke) -> None:
    result = invoke("explain", "-n", "nowhere", "--from-file", DUMP)
    assert (result.exit_code, result.stdout) == (0, 'No DaemonSets found in namespace "nowhere".\n')


def test_forbidden_pods_leave_the_counts_out_with_a_note(invoke: Invoke, apiserver: ApiServer, kubeconfig: str) -> None:
    apiserver.deny("list", "pods")
    result = invoke("explain", "--kubeconfig", kubeconfig)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-2] == (
        'Note: pod states left out: forbidden: RBAC does not allow you to list pods in namespace "logging" '
        '(pods is forbidden: User "test-user" cannot list resource "pods" in API group "" in the namespace '
        "\"logging\"); ask for 'list' on pods"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["fluentd", "-A"],
            "a DaemonSet cannot be explained by name across all namespaces: drop -A, or drop NAME and -f",
            id="name-and-all",
        ),
        pytest.param(
            ["fluentd", "-l", "a=b"],
            "-l/--selector picks DaemonSets to list: drop NAME or -f, or drop -l",
            id="name-and-selector",
        ),
        pytest.param(
            ["-l", "a=b,,c"],
            'invalid -l "a=b,,c": "," where a label key belongs; use e.g. app=agent,tier!=canary',
            id="selector-empty-requirement",
        ),
        pytest.param(
            ["-l", "x in (a"],
            'invalid -l "x in (a": it ends too early; use e.g. app=agent,tier!=canary',
            id="selector-unclosed-set",
        ),
        pytest.param(
            ["-l", "Bad Key=1"],
            'invalid -l "Bad Key=1": "Key" is not an operator; use e.g. app=agent,tier!=canary',
            id="selector-bad-key",
        ),
        pytest.param(
            ["-L", "zone"],
            "-L/--label-columns adds node labels to explain NAME's table; name a DaemonSet",
            id="label-columns-in-list",
        ),
        pytest.param(
            ["--sort-by", "WHO"],
            '--sort-by "WHO": no such column; use one of: NAME, NODES, READY, UP-TO-DATE, AVAILABLE, WHY',
            id="sort-by-unknown-column",
        ),
    ],
)
def test_conflicting_or_malformed_flags_exit_2_before_any_request(
    invoke: Invoke, apiserver: ApiServer, kubeconfig: str, args: list[str], message: str
) -> None:
    result = invoke("explain", *args, "--kubeconfig", kubeconfig)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: {message}\n")
    assert apiserver.requests == []
