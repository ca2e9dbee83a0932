"""Every bad input is one line: `error: ...` naming the object and what to do, the documented exit code
(README "Exit codes": 1 the command failed, 2 usage), no traceback, and nothing written to the cluster.

One table, every command and flag: each case is named after the rule it pins and runs over HTTP against the
test API server (or offline, for dumps), which counts every request it serves: no write verb may arrive.
The fixture files are generated here (the 3 GiB one is sparse: it takes no disk).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import yaml

from kubectl_ds.cli import cli
from kubectl_ds.commands.rollout import rollout_group
from tests.apiserver import ApiServer
from tests.conftest import EXAMPLE_DUMP, Invoke
from tests.rollout_support import make_cluster_objects

EXAMPLE = yaml.safe_load(EXAMPLE_DUMP.read_text())["items"]
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
USAGE, ERROR = 2, 1
DUMP_HINT = "is this a dump written by kubectl get -o yaml or kubectl cluster-info dump?"
PERCENT = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%' or '93%'), "
    "or a non-negative integer"
)
LABEL_RULE = "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"


def example_daemonset(**spec: object) -> dict[str, object]:
    daemonset = copy.deepcopy(next(item for item in EXAMPLE if item["kind"] == "DaemonSet"))
    daemonset["spec"].update(spec)
    return daemonset  # type: ignore[no-any-return]


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\n"


def kubeconfig_with_user(server: ApiServer, path: Path, user: dict[str, object]) -> None:
    config = yaml.safe_load(Path(server.write_kubeconfig(str(path))).read_text())
    config["users"][0]["user"] = user
    path.write_text(yaml.safe_dump(config))


def write_files(root: Path, server: ApiServer) -> None:
    """Every fixture the table names, as {dir}/NAME."""
    texts: dict[str, str] = {
        "empty.yaml": "",
        "deep.json": "[" * 5000 + "]" * 5000,
        "deep.yaml": "\n".join(" " * depth + "a:" for depth in range(2000)) + " 1\n",
        "laughs.yaml": billion_laughs(),
        "recursive.yaml": "kind: List\nitems: &items [*items]\n",
        "tabs.yaml": "kind: Node\nmetadata:\n\tname: x\n",
        "truncated.json": '{"kind": "NodeList", "items": [{"metadata": {"name": "n"}}]}\n'
        '{"kind": "PodList", "items": [',
        "scalar.yaml": "just a sentence\n",
        "no-kind.json": '{"metadata": {"name": "x"}}',
        "items-not-a-list.json": '{"kind": "PodList", "apiVersion": "v1", "items": {"a": 1}}',
        "nameless-item.json": '{"kind": "NodeList", "apiVersion": "v1", "items": [{"metadata": {"name": "n1"}}, '
        '{"metadata": {}}]}',
        "metadata-not-a-mapping.yaml": "kind: Node\nmetadata: node-1\n",
        "pods-only.yaml": "apiVersion: v1\nkind: PodList\nitems: []\n",
        "deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
        "kc-list": "- a\n- b\n",
        "kc-empty": "",
        "kc-no-current-context": yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
        ),
        "kc-laughs": billion_laughs(),
    }
    for name, text in texts.items():
        (root / name).write_text(text)
    (root / "example.yaml").write_text(EXAMPLE_DUMP.read_text())
    (root / "agent.yaml").write_text(yaml.safe_dump(make_cluster_objects(0)[0]))
    (root / "binary.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)))
    (root / "kc-binary").write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)))
    with open(root / "huge.json", "wb") as huge:
        huge.truncate(3 * 1024**3)
    (root / "empty-dir").mkdir()
    (root / "empty-dir" / "logs.txt").write_text("not a dump\n")
    duplicated = copy.deepcopy(EXAMPLE)
    clash = copy.deepcopy(next(item for item in duplicated if item["metadata"]["name"] == "node-3"))
    clash["metadata"]["uid"] = "another-node-3"
    duplicated.append(clash)
    (root / "duplicates.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": duplicated}))
    manifests = {
        "two-daemonsets.yaml": [example_daemonset(), example_daemonset() | {"metadata": {"name": "fluentd-win"}}],
        "operator.yaml": [
            example_daemonset(selector={"matchExpressions": [{"key": "app", "operator": "Has", "values": ["fluentd"]}]})
        ],
        "in-without-values.yaml": [
            example_daemonset(selector={"matchExpressions": [{"key": "app", "operator": "In", "values": []}]})
        ],
        "empty-selector.yaml": [example_daemonset(selector={})],
        "mismatch.yaml": [example_daemonset(selector={"matchLabels": {"app": "other"}})],
        "no-template.yaml": [example_daemonset(template=None)],
        "no-selector-no-labels.yaml": [
            example_daemonset(selector=None, template={"spec": {"containers": [{"name": "c", "image": "i"}]}})
        ],
        "nameless.yaml": [example_daemonset() | {"metadata": {"namespace": "logging"}}],
    }
    for name, documents in manifests.items():
        for document in documents:
            spec = document["spec"]
            assert isinstance(spec, dict)
            for key in [key for key, value in spec.items() if value is None]:
                del spec[key]
        (root / name).write_text(yaml.safe_dump_all(documents))
    server.write_kubeconfig(str(root / "kc"))
    kubeconfig_with_user(
        server,
        root / "kc-exec-fails",
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": "sh",
                "args": ["-c", "echo 'error: the SSO session has expired' >&2; exit 1"],
            }
        },
    )
    kubeconfig_with_user(
        server,
        root / "kc-exec-missing",
        {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "kubectl-ds-no-such-plugin"}},
    )
    config = yaml.safe_load((root / "kc").read_text())
    config["clusters"][0]["cluster"] = {}
    (root / "kc-no-server").write_text(yaml.safe_dump(config))


@dataclass(frozen=True)
class Case:
    args: str  # split on spaces; {dir} is the fixture directory, {kc} the test server's kubeconfig
    code: int
    error: str  # the whole line after "error: "; {dir} and {url} filled in
    live: bool = True  # add --kubeconfig {kc}


CASES = {
    # --- the fleet and node views, the gates, kubectl's flags (exit 2 unless said) ----------------------------
    "audit-malformed-selector": Case(
        "audit -l a=b=c",
        USAGE,
        'invalid -l/--selector "a=b=c": requirements are separated by commas; use e.g. app=agent,tier!=canary',
    ),
    "audit-unknown-output": Case(
        "audit -o xml", USAGE, 'unknown output format "xml" for -o; use one of: table, wide, json, yaml'
    ),
    "audit-malformed-node-selector": Case(
        "audit --node-selector =x",
        USAGE,
        'invalid --node-selector "=x": "=" where a label key belongs; use e.g. app=agent,tier!=canary',
    ),
    "node-needs-a-name": Case("node", USAGE, "name the node(s) to show: kubectl ds node NODE..."),
    "node-malformed-taint": Case(
        "node node-1 --taint bad",
        USAGE,
        'invalid taint "bad" for --taint; use KEY=VALUE:EFFECT or KEY:EFFECT to add, KEY:EFFECT- or KEY- to '
        "remove, with EFFECT one of NoSchedule, PreferNoSchedule, NoExecute",
    ),
    "node-malformed-label": Case(
        "node node-1 --label =x", USAGE, 'invalid label "=x" for --label; use KEY=VALUE to set or KEY- to remove'
    ),
    "node-malformed-timeout": Case(
        "node node-1 --wait --timeout abc", USAGE, 'invalid duration "abc" for --timeout; use e.g. 30s, 1m30s or 10'
    ),
    "node-not-found": Case("node nosuchnode", ERROR, 'node "nosuchnode" not found; kubectl get nodes lists them'),
    "identity-impersonation-denied": Case(
        "explain fluentd -n logging --as bob",
        ERROR,
        'impersonation refused: users "bob" is forbidden: User "test-user" cannot impersonate resource "users" '
        "in API group \"\" at the cluster scope; ask for 'impersonate' on users, or drop --as/--as-group/--as-uid",
    ),
    "diff-needs-a-manifest": Case("diff", USAGE, "pass the changed DaemonSet with -f/--filename MANIFEST"),
    "prepull-needs-images": Case(
        "prepull agent", USAGE, "say what to pull with exactly one of --image CONTAINER=IMAGE or -f MANIFEST"
    ),
    "prepull-malformed-image": Case(
        "prepull agent --image bad",
        USAGE,
        'invalid --image "bad": use CONTAINER=IMAGE, e.g. --image fluentd=fluent/fluentd:v1.17',
    ),
    "status-malformed-timeout": Case(
        "rollout status agent --timeout xyz", USAGE, 'invalid duration "xyz" for --timeout; use e.g. 30s, 1m30s or 10'
    ),
    "gate-malformed-check-timeout": Case(
        "rollout start agent --image agent=v2 --check-timeout abc",
        USAGE,
        'invalid duration "abc" for --check-timeout; use e.g. 30s, 1m30s or 10',
    ),
    "gate-negative-bake": Case(
        "rollout start agent --image agent=v2 --bake -1s",
        USAGE,
        'invalid duration "-1s" for --bake; use e.g. 30s, 1m30s or 10',
    ),
    "prepull-timeout-not-positive": Case(
        "rollout start agent --image agent=v2 --prepull --prepull-timeout 0s",
        USAGE,
        "--prepull-timeout must be positive",
    ),
    "order-zero-in-growing-steps": Case(
        "rollout plan agent --image agent=v2 --step-size 1,0",
        USAGE,
        'invalid --step-size "1,0": every size must be greater than 0',
    ),
    "order-spread-of-pairs": Case(
        "rollout start agent --image agent=v2 --canary-spread zone=a",
        USAGE,
        'invalid --canary-spread "zone=a": expected label keys (KEY[,KEY...]), such as topology.kubernetes.io/zone',
    ),
    "order-malformed-scope": Case(
        "rollout resume agent --nodes zone=a=b",
        USAGE,
        'invalid --nodes "zone=a=b": requirements are separated by commas; use e.g. app=agent,tier!=canary',
    ),
    "output-unknown-colour": Case(
        "explain fluentd -n logging --color bogus", USAGE, 'invalid --color "bogus"; use one of: auto, always, never'
    ),
    "output-unknown-sort-column": Case(
        "explain fluentd -n logging --sort-by nope",
        USAGE,
        '--sort-by "nope": no such column; use one of: NODE, WANTED, POD, STATUS, REVISION, WHY',
    ),
    "scope-all-namespaces-with-a-name": Case(
        "explain -A fluentd",
        USAGE,
        "a DaemonSet cannot be explained by name across all namespaces: drop -A, or drop NAME and -f",
    ),
    "scope-malformed-selector": Case(
        "explain -l a=b=c",
        USAGE,
        'invalid -l "a=b=c": requirements are separated by commas; use e.g. app=agent,tier!=canary',
    ),
    "identity-group-without-user": Case(
        "explain fluentd -n logging --as-group g",
        USAGE,
        "--as-group and --as-uid need --as USER: the API server impersonates groups or a UID only together with a user",
    ),
    # --- usage: flags and arguments (exit 2) ---------------------------------------------------------------
    "usage-unknown-command": Case("bogus", USAGE, "no such command 'bogus'; see 'kubectl ds --help'", live=False),
    "usage-unknown-rollout-command": Case(
        "rollout bogus agent", USAGE, "no such command 'bogus'; see 'kubectl ds rollout --help'", live=False
    ),
    "usage-unknown-flag": Case(
        "explain x --nope",
        USAGE,
        "no such option '--nope' (did you mean one of: '--node', '--token'?); see 'kubectl ds explain --help'",
    ),
    "usage-extra-argument": Case(
        "explain a b", USAGE, "got unexpected extra argument (b); see 'kubectl ds explain --help'"
    ),
    "usage-node-filter-needs-a-daemonset": Case(
        "explain --node node-1", USAGE, "--node needs a DaemonSet: kubectl ds explain NAME --node NODE"
    ),
    "usage-rollout-needs-a-name": Case(
        "rollout start", USAGE, "missing argument 'NAME'; see 'kubectl ds rollout start --help'", live=False
    ),
    "usage-unknown-output-format": Case(
        "explain fluentd -n logging -o jsonpath",
        USAGE,
        'unknown output format "jsonpath" for -o; use one of: table, wide, json, yaml, name',
    ),
    "usage-unknown-rollout-output-format": Case(
        "rollout status agent -o xml", USAGE, 'unknown output format "xml" for -o; use one of: table, json'
    ),
    "conflict-stdin-read-twice": Case(
        "explain -f - --from-file -",
        USAGE,
        "standard input (-) can be read only once: use it for either --from-file or -f",
        live=False,
    ),
    "conflict-name-and-manifest-differ": Case(
        "explain other -f {dir}/agent.yaml",
        USAGE,
        'NAME "other" does not match the manifest\'s DaemonSet "agent"; drop NAME or fix the manifest',
    ),
    "conflict-image-and-restart": Case(
        "rollout plan agent --image agent=x --restart",
        USAGE,
        "say what to roll out with exactly one of --image CONTAINER=IMAGE, --restart or -f MANIFEST",
    ),
    "conflict-image-and-manifest": Case(
        "rollout start agent --image agent=x -f {dir}/two-daemonsets.yaml",
        USAGE,
        "say what to roll out with exactly one of --image CONTAINER=IMAGE, --restart or -f MANIFEST",
    ),
    "conflict-nothing-to-roll-out": Case(
        "rollout start agent",
        USAGE,
        "say what to roll out with exactly one of --image CONTAINER=IMAGE, --restart or -f MANIFEST",
    ),
    "conflict-budget-both-non-zero": Case(
        "rollout plan agent --image agent=x --max-unavailable 1 --max-surge 1",
        USAGE,
        'invalid --max-surge "1": may not be set when maxUnavailable is non-zero (the API allows only one of '
        "them to be non-zero; use --max-unavailable 1 or --max-surge 1 --max-unavailable 0)",
    ),
    "conflict-confirm-without-a-terminal": Case(
        "rollout start agent --image agent=x --confirm",
        USAGE,
        "--confirm asks before each step and needs a terminal; drop it, or use --steps N",
    ),
    # --- durations (exit 2) --------------------------------------------------------------------------------
    "duration-unknown-unit": Case(
        "explain fluentd --request-timeout 5x",
        USAGE,
        'invalid duration "5x" for --request-timeout; use e.g. 30s, 1m30s or 10',
    ),
    "duration-negative": Case(
        "explain fluentd --request-timeout -1s",
        USAGE,
        'invalid duration "-1s" for --request-timeout; use e.g. 30s, 1m30s or 10',
    ),
    "duration-a-word": Case(
        "rollout plan agent --image agent=x --step-timeout forever",
        USAGE,
        'invalid duration "forever" for --step-timeout; use e.g. 30s, 1m30s or 10',
    ),
    "duration-step-timeout-zero": Case(
        "rollout plan agent --image agent=x --step-timeout 0", USAGE, "--step-timeout must be positive"
    ),
    "duration-days-are-not-a-unit": Case(
        "rollout plan agent --image agent=x --pause-between 1d",
        USAGE,
        'invalid duration "1d" for --pause-between; use e.g. 30s, 1m30s or 10',
    ),
    "duration-image-pull-timeout": Case(
        "rollout plan agent --image agent=x --image-pull-timeout 1y",
        USAGE,
        'invalid duration "1y" for --image-pull-timeout; use e.g. 30s, 1m30s or 10',
    ),
    "duration-unschedulable-timeout": Case(
        "rollout start agent --restart --unschedulable-timeout soon",
        USAGE,
        'invalid duration "soon" for --unschedulable-timeout; use e.g. 30s, 1m30s or 10',
    ),
    # --- budgets and counts (exit 2) -----------------------------------------------------------------------
    "budget-fraction": Case(
        "rollout plan agent --image agent=x --max-unavailable 1.5",
        USAGE,
        f'invalid --max-unavailable "1.5": {PERCENT}',
    ),
    "budget-double-percent": Case(
        "rollout plan agent --image agent=x --max-unavailable 50%%",
        USAGE,
        f'invalid --max-unavailable "50%%": {PERCENT}',
    ),
    "budget-negative": Case(
        "rollout plan agent --image agent=x --max-surge -1 --max-unavailable 0",
        USAGE,
        'invalid --max-surge "-1": must be greater than or equal to 0',
    ),
    "budget-over-100-percent": Case(
        "rollout plan agent --image agent=x --max-unavailable 101%",
        USAGE,
        'invalid --max-unavailable "101%": must not be greater than 100%',
    ),
    "budget-both-zero": Case(
        "rollout restart agent --managed --max-unavailable 0",
        USAGE,
        'invalid --max-unavailable "0": cannot be 0 when maxSurge is 0 (one of them must be non-zero; use '
        "--max-unavailable 1 or --max-surge 1 --max-unavailable 0)",
    ),
    "budget-step-size-zero": Case(
        "rollout plan agent --image agent=x --step-size 0", USAGE, 'invalid --step-size "0": must be greater than 0'
    ),
    "budget-step-size-word": Case(
        "rollout plan agent --image agent=x --step-size all", USAGE, f'invalid --step-size "all": {PERCENT}'
    ),
    "count-partition-negative": Case(
        "rollout plan agent --image agent=x --partition -1",
        USAGE,
        'invalid --partition "-1": must be greater than or equal to 0',
    ),
    "count-partition-not-a-number": Case(
        "rollout plan agent --image agent=x --partition x",
        USAGE,
        "invalid value for '--partition': 'x' is not a valid integer; see 'kubectl ds rollout plan --help'",
    ),
    "count-max-restarts-below-one": Case(
        "rollout plan agent --image agent=x --max-restarts 0", USAGE, "invalid --max-restarts 0: must be at least 1"
    ),
    "count-steps-below-one": Case(
        "rollout start agent --image agent=x --steps 0", USAGE, "invalid --steps 0: must be at least 1"
    ),
    "count-history-revision-negative": Case(
        "rollout history agent --revision -3", USAGE, "revision must be a positive integer: -3"
    ),
    "count-undo-revision-negative": Case(
        "rollout undo agent --to-revision -1", USAGE, "revision must be a positive integer: -1"
    ),
    "enum-on-failure": Case(
        "rollout plan agent --image agent=x --on-failure retry",
        USAGE,
        'invalid --on-failure "retry": use halt or abort',
    ),
    "image-not-container-equals-image": Case(
        "rollout plan agent --image agent",
        USAGE,
        'invalid --image "agent": use CONTAINER=IMAGE, e.g. --image fluentd=fluent/fluentd:v1.17',
    ),
    "image-empty-image": Case(
        "rollout plan agent --image agent=",
        USAGE,
        'invalid --image "agent=": use CONTAINER=IMAGE, e.g. --image fluentd=fluent/fluentd:v1.17',
    ),
    # --- selectors ------------------------------------------------------------------------------------------
    "selector-canary-not-key-value": Case(
        "rollout plan agent --image agent=x --canary ===",
        USAGE,
        'invalid --canary "===": expected key=value[,key=value...]',
    ),
    "selector-canary-invalid-label-value": Case(
        "rollout plan agent --image agent=x --canary zone=a=b",
        USAGE,
        f'invalid --canary "zone=a=b": label value "a=b" is not valid ({LABEL_RULE}, or empty)',
    ),
    "selector-canary-invalid-label-key": Case(
        "rollout plan agent --image agent=x --canary bad_key!=v",
        USAGE,
        f'invalid --canary "bad_key!=v": label key "bad_key!" is not valid ({LABEL_RULE}, after an optional prefix/)',
    ),
    "selector-canary-invalid-key-prefix": Case(
        "rollout plan agent --image agent=x --canary Example.COM/zone=a",
        USAGE,
        'invalid --canary "Example.COM/zone=a": label key "Example.COM/zone" has an invalid prefix (a DNS '
        "subdomain such as example.com)",
    ),
    "selector-canary-label-twice": Case(
        "rollout plan agent --image agent=x --canary zone=a,zone=b",
        USAGE,
        'invalid --canary "zone=a,zone=b": label zone is given two values',
    ),
    "selector-manifest-unknown-operator": Case(
        "explain -f {dir}/operator.yaml",
        ERROR,
        'DaemonSet "fluentd" in "{dir}/operator.yaml" has an invalid spec.selector: matchExpressions[0] has '
        'operator "Has" (use In, NotIn, Exists or DoesNotExist); fix the manifest',
    ),
    "selector-manifest-in-without-values": Case(
        "explain -f {dir}/in-without-values.yaml",
        ERROR,
        'DaemonSet "fluentd" in "{dir}/in-without-values.yaml" has an invalid spec.selector: matchExpressions[0] '
        "(app In) needs values; fix the manifest",
    ),
    "selector-manifest-empty": Case(
        "explain -f {dir}/empty-selector.yaml",
        ERROR,
        'DaemonSet "fluentd" in "{dir}/empty-selector.yaml" has an invalid spec.selector: it is empty (the API '
        "server refuses an empty selector for a DaemonSet); fix the manifest",
    ),
    "selector-manifest-not-matching-the-template": Case(
        "explain -f {dir}/mismatch.yaml",
        ERROR,
        'DaemonSet "fluentd" in "{dir}/mismatch.yaml": spec.selector does not match the pod template\'s labels, '
        "so the API server would reject it and its pods would not be its own; make spec.template.metadata.labels "
        "match",
    ),
    "selector-manifest-missing-with-no-labels": Case(
        "explain -f {dir}/no-selector-no-labels.yaml",
        ERROR,
        'DaemonSet "fluentd" in "{dir}/no-selector-no-labels.yaml" has neither spec.selector nor labels on its pod '
        "template; add both (spec.selector.matchLabels and spec.template.metadata.labels, the same)",
    ),
    # --- kubeconfig, contexts, users, clusters (exit 1) ----------------------------------------------------
    "kubeconfig-unknown-context": Case(
        "explain fluentd --context prod",
        ERROR,
        'context "prod" not found in the kubeconfig (contexts: test); kubectl config get-contexts lists them',
    ),
    "kubeconfig-unknown-cluster": Case(
        "explain fluentd --cluster prod", ERROR, 'cluster "prod" of context "test" not found in the kubeconfig'
    ),
    "kubeconfig-unknown-user": Case(
        "rollout status agent --user admin", ERROR, 'user "admin" not found in the kubeconfig'
    ),
    "kubeconfig-missing-file": Case(
        "explain fluentd --kubeconfig {dir}/nope",
        ERROR,
        'kubeconfig "{dir}/nope" does not exist; check --kubeconfig',
    ),
    "kubeconfig-binary-file": Case(
        "explain fluentd --kubeconfig {dir}/kc-binary",
        ERROR,
        'kubeconfig "{dir}/kc-binary" is not text (byte 1 is not UTF-8); check --kubeconfig',
    ),
    "kubeconfig-not-a-mapping": Case(
        "explain fluentd --kubeconfig {dir}/kc-list",
        ERROR,
        'kubeconfig "{dir}/kc-list" is not a kubeconfig (expected a mapping)',
    ),
    "kubeconfig-empty": Case(
        "explain fluentd --kubeconfig {dir}/kc-empty",
        ERROR,
        "no current context in the kubeconfig; pass --context NAME (kubectl config get-contexts lists them)",
    ),
    "kubeconfig-no-current-context": Case(
        "rollout plan agent --restart --kubeconfig {dir}/kc-no-current-context",
        ERROR,
        "no current context in the kubeconfig; pass --context NAME (kubectl config get-contexts lists them)",
    ),
    "kubeconfig-billion-laughs": Case(
        "explain fluentd --kubeconfig {dir}/kc-laughs",
        ERROR,
        'kubeconfig "{dir}/kc-laughs" document 1 uses YAML aliases that expand 28 nodes to 490,329,064 (a '
        "billion-laughs document?); refusing to read it",
    ),
    "kubeconfig-cluster-without-server": Case(
        "explain fluentd --kubeconfig {dir}/kc-no-server",
        ERROR,
        'cluster "test" in the kubeconfig has no server address (https://...); fix the kubeconfig or pick '
        "another context with --context",
    ),
    "kubeconfig-exec-plugin-fails": Case(
        "explain fluentd --kubeconfig {dir}/kc-exec-fails",
        ERROR,
        'the credential plugin of user "test-user" failed: exec: process returned 1. error: the SSO session has '
        "expired; run it by hand to see why, or log in again",
    ),
    "kubeconfig-exec-plugin-missing": Case(
        "rollout undo agent --kubeconfig {dir}/kc-exec-missing",
        ERROR,
        'the credential plugin of user "test-user" failed: [Errno 2] No such file or directory: '
        "'kubectl-ds-no-such-plugin'; run it by hand to see why, or log in again",
    ),
    # --- objects that are not there (exit 1) ---------------------------------------------------------------
    "missing-daemonset": Case("explain ghost -n logging", ERROR, 'daemonset "ghost" not found in namespace "logging"'),
    "missing-daemonset-for-rollout": Case(
        "rollout restart ghost", ERROR, 'daemonset "ghost" not found in namespace "default"'
    ),
    "missing-node": Case(
        "explain fluentd -n logging --node ghost", ERROR, 'node "ghost" not found; kubectl get nodes lists them'
    ),
    "missing-daemonset-to-pause": Case(
        "rollout pause ghost -n logging", ERROR, 'daemonset "ghost" not found in namespace "logging"'
    ),
    "missing-rollout-to-step": Case(
        "rollout step agent",
        ERROR,
        'no managed rollout of daemonset "agent" to resume; start one with: kubectl ds rollout start agent '
        "--image CONTAINER=IMAGE",
    ),
    "missing-revision-for-undo": Case(
        "rollout undo agent --to-revision 7", ERROR, "unable to find specified revision 7 in history"
    ),
    "missing-rollout-to-resume": Case(
        "rollout resume agent",
        ERROR,
        'no managed rollout of daemonset "agent" to resume; start one with: kubectl ds rollout start agent '
        "--image CONTAINER=IMAGE",
    ),
    "missing-rollout-to-abort": Case(
        "rollout abort agent",
        ERROR,
        'no managed rollout of daemonset "agent" to abort (it is finished or was never started); to go back to an '
        "earlier revision use: kubectl ds rollout undo agent",
    ),
    # --- dumps (--from-file, exit 1) -----------------------------------------------------------------------
    "dump-missing-file": Case(
        "explain fluentd --from-file {dir}/nope.yaml", ERROR, 'cannot read "{dir}/nope.yaml": No such file or directory'
    ),
    "dump-empty-file": Case(
        "explain fluentd --from-file {dir}/empty.yaml",
        ERROR,
        '"{dir}/empty.yaml" is empty; pass a YAML or JSON file of Kubernetes objects',
    ),
    "dump-binary-file": Case(
        "explain fluentd --from-file {dir}/binary.gz",
        ERROR,
        '"{dir}/binary.gz" is not text (byte 1 is not UTF-8); pass a YAML or JSON dump, not an archive or binary file',
    ),
    "dump-huge-file": Case(
        "explain fluentd --from-file {dir}/huge.json",
        ERROR,
        '"{dir}/huge.json" is 3.0 GiB, more than the 2 GiB kubectl-ds reads; dump only what explain needs: '
        "kubectl get nodes,pods,ds,controllerrevisions,events -A -o json",
    ),
    "dump-deeply-nested-json": Case(
        "explain fluentd --from-file {dir}/deep.json",
        ERROR,
        '"{dir}/deep.json" is nested too deeply to be a Kubernetes object; pass a dump written by kubectl',
    ),
    "dump-deeply-nested-yaml": Case(
        "explain fluentd --from-file {dir}/deep.yaml",
        ERROR,
        '"{dir}/deep.yaml" is nested too deeply to be a Kubernetes object; pass a dump written by kubectl',
    ),
    "dump-billion-laughs": Case(
        "explain fluentd --from-file {dir}/laughs.yaml",
        ERROR,
        '"{dir}/laughs.yaml" document 1 uses YAML aliases that expand 28 nodes to 490,329,064 (a billion-laughs '
        "document?); refusing to read it",
    ),
    "dump-alias-refers-to-itself": Case(
        "explain fluentd --from-file {dir}/recursive.yaml",
        ERROR,
        '"{dir}/recursive.yaml" document 1 has a YAML alias that refers to itself; write the values out',
    ),
    "dump-invalid-yaml": Case(
        "explain fluentd --from-file {dir}/tabs.yaml",
        ERROR,
        '"{dir}/tabs.yaml" is not valid YAML or JSON: while scanning for the next token (line 3, column 1)',
    ),
    "dump-truncated-json-stream": Case(
        "explain fluentd --from-file {dir}/truncated.json",
        ERROR,
        '"{dir}/truncated.json" is not valid JSON at line 2 column 31: Expecting value',
    ),
    "dump-document-not-an-object": Case(
        "explain fluentd --from-file {dir}/scalar.yaml",
        ERROR,
        f'"{{dir}}/scalar.yaml" is not a Kubernetes object (it is a string); {DUMP_HINT}',
    ),
    "dump-object-without-kind": Case(
        "explain fluentd --from-file {dir}/no-kind.json", ERROR, f'"{{dir}}/no-kind.json" has no kind; {DUMP_HINT}'
    ),
    "dump-list-items-not-a-list": Case(
        "explain fluentd --from-file {dir}/items-not-a-list.json",
        ERROR,
        f'"{{dir}}/items-not-a-list.json" is a PodList whose items are not a list; {DUMP_HINT}',
    ),
    "dump-item-without-a-name-is-located": Case(
        "explain fluentd --from-file {dir}/nameless-item.json",
        ERROR,
        '"{dir}/nameless-item.json" items[1] (Node) has no metadata.name; is this a dump written by kubectl get '
        "-o yaml?",
    ),
    "dump-metadata-not-a-mapping": Case(
        "explain fluentd --from-file {dir}/metadata-not-a-mapping.yaml",
        ERROR,
        f'"{{dir}}/metadata-not-a-mapping.yaml" (Node) has a metadata that is not a mapping; {DUMP_HINT}',
    ),
    "dump-duplicate-objects": Case(
        "explain fluentd -n logging --from-file {dir}/duplicates.yaml",
        ERROR,
        'Node "node-3" appears twice with different contents, in "{dir}/duplicates.yaml" items[2] and in '
        '"{dir}/duplicates.yaml" items[31]; read one snapshot of one cluster',
    ),
    "dump-without-nodes": Case(
        "explain fluentd --from-file {dir}/pods-only.yaml",
        ERROR,
        "no Node objects in {dir}/pods-only.yaml; dump them too: kubectl get nodes,pods,ds,controllerrevisions,"
        "events,pdb -A -o yaml",
    ),
    "dump-directory-without-dumps": Case(
        "explain fluentd --from-file {dir}/empty-dir",
        ERROR,
        'directory "{dir}/empty-dir" holds no .json, .yaml or .yml files; pass a dump file or a kubectl '
        "cluster-info dump --output-directory tree",
    ),
    "dump-daemonset-not-in-it": Case(
        "explain ghost -n logging --from-file {dir}/example.yaml",
        ERROR,
        'daemonset "ghost" not found in namespace "logging" (in {dir}/example.yaml)',
    ),
    # --- manifests (-f, exit 1) ----------------------------------------------------------------------------
    "manifest-of-another-kind": Case(
        "explain -f {dir}/deployment.yaml",
        ERROR,
        '"{dir}/deployment.yaml" is not a DaemonSet manifest (found Deployment); pass a file with kind: DaemonSet',
    ),
    "manifest-of-another-kind-for-rollout": Case(
        "rollout start agent -f {dir}/deployment.yaml",
        ERROR,
        '"{dir}/deployment.yaml" is not a DaemonSet manifest (found Deployment); pass a file with kind: DaemonSet',
    ),
    "manifest-empty": Case(
        "explain -f {dir}/empty.yaml",
        ERROR,
        '"{dir}/empty.yaml" is empty; pass a YAML or JSON file of Kubernetes objects',
    ),
    "manifest-billion-laughs": Case(
        "rollout plan agent -f {dir}/laughs.yaml",
        ERROR,
        '"{dir}/laughs.yaml" document 1 uses YAML aliases that expand 28 nodes to 490,329,064 (a billion-laughs '
        "document?); refusing to read it",
    ),
    "manifest-several-daemonsets-without-a-name": Case(
        "explain -f {dir}/two-daemonsets.yaml",
        ERROR,
        '"{dir}/two-daemonsets.yaml" holds 2 DaemonSets (fluentd, fluentd-win); name the one to explain: kubectl '
        "ds explain fluentd -f {dir}/two-daemonsets.yaml",
    ),
    "manifest-name-not-among-several": Case(
        "rollout plan agent -f {dir}/two-daemonsets.yaml",
        ERROR,
        '"{dir}/two-daemonsets.yaml" holds no DaemonSet "agent" (it holds fluentd, fluentd-win); name one of them',
    ),
    "manifest-without-a-template": Case(
        "explain -f {dir}/no-template.yaml",
        ERROR,
        'DaemonSet "fluentd" in "{dir}/no-template.yaml" has no spec.template',
    ),
    "manifest-without-a-name": Case(
        "explain -f {dir}/nameless.yaml", ERROR, 'the DaemonSet in "{dir}/nameless.yaml" has no metadata.name'
    ),
    "manifest-binary": Case(
        "rollout start agent -f {dir}/binary.gz",
        ERROR,
        '"{dir}/binary.gz" is not text (byte 1 is not UTF-8); pass a YAML or JSON dump, not an archive or binary file',
    ),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, Path]]:
    server = ApiServer().start()
    try:
        server.load(copy.deepcopy(EXAMPLE))
        server.add(make_cluster_objects(0)[0])  # default/agent, for the rollout commands
        root = tmp_path_factory.mktemp("bad-input")
        write_files(root, server)
        server.deny_impersonation("users", "bob")
        yield server, root
    finally:
        server.stop()


def test_there_are_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input(invoke: Invoke, served: tuple[ApiServer, Path], isolated_env: Path, case: Case) -> None:
    server, root = served
    args = [word.replace("{dir}", str(root)) for word in case.args.split(" ")]
    if case.live and "--kubeconfig" not in args and "--from-file" not in args:
        args += ["--kubeconfig", str(root / "kc")]
    server.reset_requests()
    result = invoke(*args)
    expected = "error: " + case.error.replace("{dir}", str(root)).replace("{url}", server.url) + "\n"
    assert (result.exit_code, result.stderr) == (case.code, expected)
    assert result.stdout == ""
    writes = {verb: server.traffic().count(verb=verb) for verb in WRITE_VERBS}
    assert writes == dict.fromkeys(WRITE_VERBS, 0)


def test_the_table_covers_every_command() -> None:
    """Each command of `kubectl ds` and `kubectl ds rollout` has at least one bad-input case."""
    context = click.Context(cli)
    commands = {name for name in cli.list_commands(context) if name != "rollout"} | {
        f"rollout {name}" for name in rollout_group.commands
    }
    covered = {
        " ".join(case.args.split(" ")[:2]) if case.args.startswith("rollout") else case.args.split(" ")[0]
        for case in CASES.values()
    }
    assert commands - covered == set()


def test_a_json_dump_cut_short_names_the_line(tmp_path: Path, invoke: Invoke) -> None:
    """The line number is the file's own, logs of `kubectl cluster-info dump` included."""
    text = json.dumps({"kind": "NodeList", "apiVersion": "v1", "items": []}) + "\n"
    text += "==== START logs for container c of pod ns/p ====\nline 1\nline 2\n"
    text += "==== END logs for container c of pod ns/p ====\n"
    text += '{"kind": "PodList", "items": [\n'
    path = tmp_path / "dump.json"
    path.write_text(text)
    result = invoke("explain", "x", "--from-file", str(path))
    assert (result.exit_code, result.stderr) == (
        1,
        f'error: "{path}" is not valid JSON at line 7 column 1: Expecting value\n',
    )
