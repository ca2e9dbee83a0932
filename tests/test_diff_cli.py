"""`kubectl ds diff` end to end: CLI → kube adapter → official client → real HTTP → tests/apiserver.py, and the
same offline from a dump. Exact strings pinned; exit codes as kubectl diff's (0 same, 1 differs, 2 error)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import ApiServer
from tests.conftest import Invoke
from tests.diff_support import changed, cluster_objects

Obj = dict[str, Any]


@pytest.fixture
def cluster(apiserver: ApiServer, tmp_path: Path) -> tuple[ApiServer, str]:
    apiserver.load(cluster_objects())
    return apiserver, apiserver.write_kubeconfig(str(tmp_path / "kubeconfig"))


def write(tmp_path: Path, manifest: Obj) -> str:
    path = tmp_path / "agent.yaml"
    path.write_text(json.dumps(manifest))
    return str(path)


def diff(invoke: Invoke, kubeconfig: str, *args: str) -> tuple[int, str, str]:
    result = invoke("diff", *args, "--kubeconfig", kubeconfig)
    return result.exit_code, result.stdout, result.stderr


EXPECTED = """\
daemonset.apps/agent in default: what applying {path} changes
pod template: changed, a new revision: image foo: foo/bar -> foo/bar:v2; template.spec.containers[foo].image, \
template.spec.containers[foo].resources.requests.memory, template.spec.containers[foo].ports, \
template.spec.tolerations, template.spec.nodeSelector

NODE    NOW        AFTER    CHANGE     WHY
gpu-1   no (keep)  yes      gained     until now: taint dedicated=gpu:NoSchedule not tolerated: no new pod is created
node-1  yes        yes      blocked    insufficient memory: requests 1Gi, free 596Mi of 4Gi allocatable
node-2  yes        yes      unchanged  -
node-3  yes        no       lost       nodeSelector pool=general: node has pool=batch; its pod is deleted
node-4  yes        yes      blocked    hostPort 9100/TCP held by monitoring/node-exporter-x

4 nodes want the pod now, 4 after: 1 gained (gpu-1), 1 lost (node-3), 2 newly blocked (node-1, node-4), 1 unchanged
rollout: RollingUpdate, maxUnavailable 1 (of 4 nodes): 3 available old pods replaced 1 at a time (old pod deleted, \
then the new one created), in 3 waves
a new pod at once on: gpu-1
pods deleted at once on: node-3
stalls: the new pods on node-1, node-4 cannot be scheduled; once the rollout reaches them they use up \
maxUnavailable 1 for good and it stops (the nodes not reached by then keep the old revision)
"""

EVERYTHING = {"image": "foo/bar:v2", "memory": "1Gi", "host_port": 9100, "tolerate_gpu": True, "pool": "general"}


def test_diff_table_node_by_node_and_the_rollout(
    invoke: Invoke, cluster: tuple[ApiServer, str], tmp_path: Path
) -> None:
    _, kubeconfig = cluster
    path = write(tmp_path, changed(**EVERYTHING))
    code, out, err = diff(invoke, kubeconfig, "-f", path)
    assert (code, err) == (1, "")
    assert out == EXPECTED.format(path=path)


def test_diff_offline_from_a_dump_says_the_same(invoke: Invoke, tmp_path: Path, isolated_env: Path) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": cluster_objects()}))
    path = write(tmp_path, changed(**EVERYTHING))
    result = invoke("diff", "-f", path, "--from-file", str(dump))
    assert (result.exit_code, result.stderr) == (1, "")
    assert result.stdout == EXPECTED.format(path=path)


def test_no_difference_exits_0(invoke: Invoke, cluster: tuple[ApiServer, str], tmp_path: Path) -> None:
    _, kubeconfig = cluster
    code, out, _ = diff(invoke, kubeconfig, "-f", write(tmp_path, changed()))
    assert code == 0
    assert out.splitlines()[1] == "pod template: unchanged (no new revision)"
    assert out.splitlines()[-2:] == [
        "4 nodes want the pod now, 4 after: 4 unchanged",
        "rollout: none: the pod template does not change, no pod is replaced",
    ]


def test_strategy_only_change_makes_no_new_revision(
    invoke: Invoke, cluster: tuple[ApiServer, str], tmp_path: Path
) -> None:
    _, kubeconfig = cluster
    manifest = changed(new_strategy={"type": "OnDelete"})
    code, out, _ = diff(invoke, kubeconfig, "-f", write(tmp_path, manifest))
    assert code == 1
    assert out.splitlines()[1:3] == [
        "pod template: unchanged (no new revision)",
        "rollout settings: updateStrategy.type, updateStrategy.rollingUpdate",
    ]


def test_on_delete_waits_for_deletions(invoke: Invoke, apiserver: ApiServer, tmp_path: Path) -> None:
    apiserver.load(cluster_objects({"type": "OnDelete"}))
    kubeconfig = apiserver.write_kubeconfig(str(tmp_path / "kubeconfig"))
    code, out, _ = diff(invoke, kubeconfig, "-f", write(tmp_path, changed({"type": "OnDelete"}, image="foo/bar:v2")))
    assert code == 1
    assert out.splitlines()[-1] == (
        "rollout: none by itself: updateStrategy OnDelete replaces a pod only once it is deleted; 4 nodes keep "
        "the old revision until then (node-1, node-2, node-3 and 1 more)"
    )


def test_diff_json(invoke: Invoke, cluster: tuple[ApiServer, str], tmp_path: Path) -> None:
    _, kubeconfig = cluster
    code, out, _ = diff(invoke, kubeconfig, "-f", write(tmp_path, changed(image="foo/bar:v2")), "-o", "json")
    data = json.loads(out)
    assert code == 1
    assert (data["apiVersion"], data["kind"], data["differs"]) == ("kubectl-ds/v1", "DaemonSetDiff", True)
    assert data["template"] == {
        "newRevision": True,
        "paths": ["template.spec.containers[foo].image"],
        "images": ["foo: foo/bar -> foo/bar:v2"],
        "comparedWith": "last-applied",
    }
    assert data["summary"] == {
        "gained": [],
        "lost": [],
        "blocked": [],
        "unchanged": ["node-1", "node-2", "node-3", "node-4"],
    }
    assert data["rollout"] == {
        "kind": "RollingUpdate",
        "surge": False,
        "value": "1",
        "nodesAtATime": 1,
        "waves": 4,
        "replacedInWaves": ["node-1", "node-2", "node-3", "node-4"],
        "replacedAtOnce": [],
        "created": [],
        "deleted": [],
        "keptOld": [],
        "blocked": [],
        "stalls": False,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], "error: pass the changed DaemonSet with -f/--filename MANIFEST", id="no-manifest-is-usage"),
        pytest.param(
            ["-f", "missing.yaml"],
            'error: cannot read "missing.yaml": No such file or directory',
            id="unreadable-manifest-exits-2-not-1",
        ),
        pytest.param(
            ["-f", "x.yaml", "-o", "wide"],
            'error: unknown output format "wide" for -o; use one of: table, json, yaml',
            id="bad-output",
        ),
    ],
)
def test_errors_exit_above_1(
    invoke: Invoke, cluster: tuple[ApiServer, str], args: list[str], message: str, tmp_path: Path, monkeypatch: Any
) -> None:
    _, kubeconfig = cluster
    monkeypatch.chdir(tmp_path)
    code, out, err = diff(invoke, kubeconfig, *args)
    assert (code, out, err) == (2, "", message + "\n")


def test_unreachable_cluster_exits_2(invoke: Invoke, cluster: tuple[ApiServer, str], tmp_path: Path) -> None:
    server, kubeconfig = cluster
    path = write(tmp_path, changed())
    server.stop()
    code, _, err = diff(invoke, kubeconfig, "-f", path, "--request-timeout", "2s")
    assert code == 2 and err.startswith("error: ")


def test_namespace_flag_must_match_the_manifests(
    invoke: Invoke, cluster: tuple[ApiServer, str], tmp_path: Path
) -> None:
    _, kubeconfig = cluster
    code, out, err = diff(invoke, kubeconfig, "-f", write(tmp_path, changed()), "-n", "logging")
    assert (code, out) == (2, "")
    assert err == (
        'error: the namespace from the provided object "default" does not match the namespace "logging"; '
        "pass --namespace=default or drop -n\n"
    )
