"""explain's kubectl-style output flags on one DaemonSet (--no-headers, -o name, -L, --sort-by, --color),
with exact strings, and the shared table printer (render/table.py) they go through."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from kubectl_ds.render.table import BAD, WARN, Cell, TableStyle, format_table, label_header, label_keys, sort_column
from tests.apiserver import ApiServer
from tests.conftest import EXAMPLE_DUMP, Invoke

EXPLAIN = ["explain", "-n", "logging", "fluentd", "--from-file", str(EXAMPLE_DUMP)]


def test_output_name_lists_node_rows(invoke: Invoke) -> None:
    result = invoke(*EXPLAIN, "-o", "name", "--problems")
    assert (result.exit_code, result.stdout) == (0, "node/gpu-2\nnode/node-5\nnode/node-6\nnode/node-7\nnode/node-8\n")
    assert len(invoke(*EXPLAIN, "-o", "name").stdout.splitlines()) == 14


def test_no_headers_prints_the_rows_alone(invoke: Invoke) -> None:
    result = invoke(*EXPLAIN, "--no-headers", "--node", "node-1", "--node", "win-1")
    assert result.stdout == (
        "node-1  yes       fluentd-1abc  Running   2           -\n"
        "win-1   no        -             -         -           "
        "nodeSelector kubernetes.io/os=linux: node has kubernetes.io/os=windows\n"
    )


def test_label_columns_repeatable_and_comma_lists(invoke: Invoke) -> None:
    result = invoke(
        *EXPLAIN, "-L", "kubernetes.io/os", "-L", "topology.kubernetes.io/zone,kubernetes.io/os", "--node", "node-10"
    )
    assert result.stdout.splitlines()[:2] == [
        "NODE     WANTED    POD    STATUS    REVISION    OS     ZONE    WHY",
        "node-10  no        -      -         -           linux  zone-c  affinity term 1: topology.kubernetes.io/zone "
        "In [zone-a,zone-b]: node has topology.kubernetes.io/zone=zone-c",
    ]


def test_label_column_of_a_missing_label_is_a_dash(invoke: Invoke) -> None:
    result = invoke(*EXPLAIN, "-L", "no-such-label", "--no-headers", "--node", "node-1")
    assert result.stdout == "node-1  yes       fluentd-1abc  Running   2           -                -\n"


@pytest.mark.parametrize("column", ["STATUS", "status", "{.status}"])
def test_sort_by_a_column(invoke: Invoke, column: str) -> None:
    result = invoke(*EXPLAIN, "--sort-by", column, "--problems", "-o", "wide")
    order = [line.split()[0] for line in result.stdout.split("\n\n")[0].splitlines()[1:]]
    assert order == ["node-5", "node-7", "node-8", "gpu-2", "node-6"]  # CrashLoopBackOff, Pending x2, Running x2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["-L", "zone", "-o", "json"],
            "-L/--label-columns applies to the table; it cannot be used with -o json",
            id="label-columns-json",
        ),
        pytest.param(
            ["--sort-by", "NODE", "-o", "name"],
            "--sort-by applies to the table; it cannot be used with -o name",
            id="sort-by-name",
        ),
        pytest.param(
            ["--sort-by", "LABELS"],
            '--sort-by "LABELS": no such column; use one of: NODE, WANTED, POD, STATUS, REVISION, WHY',
            id="sort-by-wide-column-without-wide",
        ),
        pytest.param(
            ["--color", "sometimes"], 'invalid --color "sometimes"; use one of: auto, always, never', id="color-unknown"
        ),
    ],
)
def test_output_flag_misuse_is_a_usage_error(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke(*EXPLAIN, *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: {message}\n")


def test_no_headers_says_what_was_left_out_on_stderr(invoke: Invoke, apiserver: ApiServer, tmp_path: Path) -> None:
    apiserver.load(copy.deepcopy(yaml.safe_load(EXAMPLE_DUMP.read_text())["items"]))
    apiserver.deny("list", "controllerrevisions")
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kc"), namespace="logging")
    result = invoke("explain", "fluentd", "--kubeconfig", kubeconfig, "--no-headers", "--node", "win-1")
    assert result.stdout.startswith("win-1 ")
    assert result.stderr.startswith("Note: revision numbers left out: forbidden: RBAC does not allow you to list")


# --- the shared table printer ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "keys"),
    [
        pytest.param(["a,b", "c"], ("a", "b", "c"), id="comma-list-and-repeat"),
        pytest.param(["a, b", "a"], ("a", "b"), id="spaces-and-duplicates"),
        pytest.param([",", ""], (), id="empty"),
    ],
)
def test_label_keys_as_kubectl_reads_them(values: list[str], keys: tuple[str, ...]) -> None:
    assert label_keys(values) == keys


@pytest.mark.parametrize(
    ("key", "header"),
    [("topology.kubernetes.io/zone", "ZONE"), ("pool", "POOL"), ("node.kubernetes.io/instance-type", "INSTANCE-TYPE")],
)
def test_label_header_is_the_last_segment_upper_cased(key: str, header: str) -> None:
    assert label_header(key) == header


def test_table_layout_pads_all_but_the_last_column() -> None:
    # tabulate's "plain" layout: a column is as wide as its widest cell, or its header plus two.
    assert format_table(["A", "LONG"], [["xyz", "1"], ["q", ""]]) == "A    LONG\nxyz  1\nq"
    assert format_table(["NAME", "X"], [["a", "1"]]) == "NAME    X\na       1"


def test_table_colour_wraps_the_text_not_the_padding() -> None:
    text = format_table(["A", "B"], [[Cell("x", BAD), Cell("y", WARN)]], TableStyle(headers=False, colour=True))
    assert text == "\x1b[31mx\x1b[0m    \x1b[33my\x1b[0m"  # A's column: its header and two, padded outside
    assert format_table(["A", "B"], [[Cell("x", BAD), "y"]], TableStyle(headers=False)) == "x    y"


def test_table_wraps_only_when_the_last_column_keeps_some_room() -> None:
    rows = [["n", "one two three four five six seven eight nine ten eleven twelve"]]
    wrapped = format_table(["A", "B"], rows, TableStyle(width=30))
    assert wrapped.splitlines() == [
        "A    B",
        "n    one two three four five",
        "     six seven eight nine ten",
        "     eleven twelve",
    ]
    cramped = format_table(["A" * 20, "B"], rows, TableStyle(width=30))  # 6 columns left: not worth wrapping
    assert len(cramped.splitlines()) == 2


def test_sort_column_accepts_kubectl_spellings() -> None:
    headers = ["NODE", "UP-TO-DATE"]
    assert [sort_column(headers, by) for by in ("node", "{.up-to-date}", ".NODE", "nope")] == [0, 1, 0, None]


# --- rollout status and history take the same table flags ------------------------------------------------------


@pytest.fixture
def example_kubeconfig(apiserver: ApiServer, tmp_path: Path) -> str:
    apiserver.load(copy.deepcopy(yaml.safe_load(EXAMPLE_DUMP.read_text())["items"]))
    return apiserver.write_kubeconfig(str(tmp_path / "kc"), namespace="logging")


def test_rollout_status_rows_sorted_with_label_columns_and_colour(invoke: Invoke, example_kubeconfig: str) -> None:
    args = ["--no-headers", "--sort-by", "STATE", "-L", "topology.kubernetes.io/zone", "--color", "always"]
    result = invoke("rollout", "status", "fluentd", "--kubeconfig", example_kubeconfig, *args)
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines][5:9] == ["node-6", "node-5", "node-7", "node-8"]  # excluded, old, ...
    assert lines[6] == (
        "node-5   \x1b[31munavailable\x1b[0m  2           zone-a  "
        "\x1b[31mcontainer fluentd is crash-looping (14 restarts, last exit code 1 (Error))\x1b[0m"
    )
    assert lines[0] == "gpu-1    excluded     -           zone-a  -"


def test_rollout_history_no_headers_and_sort_by(invoke: Invoke, example_kubeconfig: str) -> None:
    result = invoke(
        "rollout", "history", "fluentd", "--kubeconfig", example_kubeconfig, "--no-headers", "--sort-by", "pods"
    )
    assert result.stdout == (
        "1           <none>          2       fluentd=fluent/fluentd:v1.16\n"
        "2           <none>          8       fluentd: fluent/fluentd:v1.16 -> fluent/fluentd:v1.17\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["history", "fluentd", "-L", "zone"],
            "-L/--label-columns shows node labels; rollout history lists revisions, not nodes",
            id="history-label-columns",
        ),
        pytest.param(
            ["history", "fluentd", "--sort-by", "AGE"],
            '--sort-by "AGE": no such column; use one of: REVISION, CHANGE-CAUSE, PODS, IMAGES',
            id="history-unknown-column",
        ),
        pytest.param(
            ["status", "fluentd", "--sort-by", "NODE", "-o", "json"],
            "--sort-by applies to the table; it cannot be used with -o json",
            id="status-sort-json",
        ),
    ],
)
def test_rollout_table_flag_misuse_exits_2(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke("rollout", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: {message}\n")
