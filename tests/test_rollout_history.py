"""`kubectl ds rollout history` end to end over HTTP: kubectl's wording, plus images and pod counts."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from tests.apiserver import ApiServer
from tests.conftest import EXAMPLE_DUMP, Invoke

EXAMPLE = yaml.safe_load(EXAMPLE_DUMP.read_text())["items"]


@pytest.fixture
def kubeconfig(apiserver: ApiServer, tmp_path: Path) -> str:
    apiserver.load(copy.deepcopy(EXAMPLE))
    return apiserver.write_kubeconfig(str(tmp_path / "kc"), namespace="logging")


def test_history_table_lists_revisions_with_image_changes_and_pod_counts(invoke: Invoke, kubeconfig: str) -> None:
    result = invoke("rollout", "history", "fluentd", "--kubeconfig", kubeconfig)
    assert (result.exit_code, result.stdout) == (
        0,
        (
            "daemonset.apps/fluentd\n"
            "REVISION    CHANGE-CAUSE    PODS    IMAGES\n"
            "1           <none>          2       fluentd=fluent/fluentd:v1.16\n"
            "2           <none>          8       fluentd: fluent/fluentd:v1.16 -> fluent/fluentd:v1.17\n"
        ),
    )


def test_change_cause_comes_from_the_revision_annotation(invoke: Invoke, apiserver: ApiServer, kubeconfig: str) -> None:
    revision = apiserver.get("ControllerRevision", "logging", "fluentd-7d9f8c6b5")
    assert revision is not None
    revision["metadata"].setdefault("annotations", {})["kubernetes.io/change-cause"] = "bump to v1.17"
    apiserver.update_object(revision)
    data = json.loads(invoke("rollout", "history", "fluentd", "--kubeconfig", kubeconfig, "-o", "json").stdout)
    assert [row["changeCause"] for row in data["revisions"]] == ["<none>", "bump to v1.17"]


def test_revision_shows_its_pod_template(invoke: Invoke, kubeconfig: str) -> None:
    result = invoke("rollout", "history", "fluentd", "--kubeconfig", kubeconfig, "--revision", "1")
    assert result.exit_code == 0
    assert result.stdout.startswith("daemonset.apps/fluentd with revision #1\n")
    assert yaml.safe_load(result.stdout.split("\n", 1)[1])["spec"]["containers"][0]["image"] == "fluent/fluentd:v1.16"


@pytest.mark.parametrize(
    ("revision", "code", "message"),
    [
        pytest.param("7", 1, "error: unable to find the specified revision 7\n", id="unknown-revision"),
        pytest.param("-1", 2, "error: revision must be a positive integer: -1\n", id="negative-revision"),
    ],
)
def test_bad_revision(invoke: Invoke, kubeconfig: str, revision: str, code: int, message: str) -> None:
    result = invoke("rollout", "history", "fluentd", "--kubeconfig", kubeconfig, "--revision", revision)
    assert (result.exit_code, result.stderr) == (code, message)


def test_no_history(invoke: Invoke, apiserver: ApiServer, kubeconfig: str) -> None:
    for revision in apiserver.objects("ControllerRevision", "logging"):
        apiserver.delete_object("ControllerRevision", "logging", revision["metadata"]["name"])
    result = invoke("rollout", "history", "fluentd", "--kubeconfig", kubeconfig)
    assert (result.exit_code, result.stdout) == (0, "No rollout history found.\n")


def test_missing_daemonset(invoke: Invoke, kubeconfig: str) -> None:
    result = invoke("rollout", "history", "nope", "--kubeconfig", kubeconfig)
    assert (result.exit_code, result.stderr) == (1, 'error: daemonset "nope" not found in namespace "logging"\n')
