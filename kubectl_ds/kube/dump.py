"""Offline sources: dumps (`kubectl get ... -o yaml|json`, `kubectl cluster-info dump` and its
`--output-directory` tree, raw API list responses, must-gather style trees; see kube/documents.py for the
formats) and DaemonSet manifests for the what-if. Reads files (or stdin); everything after parsing is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from kubectl_ds import resources as r
from kubectl_ds.errors import InputError, NotFound
from kubectl_ds.kube.documents import Located, label_of, read_path
from kubectl_ds.labelselector import selector_matches

_KINDS = {"Node", "Pod", "DaemonSet", "ControllerRevision", "Event", "PodDisruptionBudget"}
_DUMP_COMMAND = "kubectl get nodes,pods,ds,controllerrevisions,events,pdb -A -o yaml"


def read_documents(path: str, stdin: TextIO | None = None) -> list[dict[str, Any]]:
    """Every object in a YAML/JSON file or directory (multi-document, `kind: List` and `*List` flattened)."""
    return [located.obj for located in read_path(path, stdin)]


def read_manifest(path: str, name: str | None = None, stdin: TextIO | None = None) -> dict[str, Any]:
    """The DaemonSet of a manifest file: the only one, or the one called `name` when it holds several."""
    located = read_path(path, stdin)
    label = label_of(path)
    daemonsets = [item for item in located if item.obj.get("kind") == "DaemonSet"]
    if not daemonsets:
        kinds = ", ".join(sorted({str(item.obj.get("kind")) for item in located})) or "nothing"
        raise InputError(f"{label} is not a DaemonSet manifest (found {kinds}); pass a file with kind: DaemonSet")
    for item in daemonsets:
        if not r.name(item.obj):
            raise InputError(f"the DaemonSet in {item.where} has no metadata.name")
    if len(daemonsets) > 1:
        names = [r.name(item.obj) for item in daemonsets]
        chosen = [item for item in daemonsets if r.name(item.obj) == name]
        if not chosen:
            listed = ", ".join(names)
            if name:
                raise InputError(f'{label} holds no DaemonSet "{name}" (it holds {listed}); name one of them')
            raise InputError(
                f"{label} holds {len(daemonsets)} DaemonSets ({listed}); name the one to explain: "
                f"kubectl ds explain {names[0]} -f {path}"
            )
        daemonsets = chosen[:1]
    daemonset = daemonsets[0]
    if not isinstance(r.spec(daemonset.obj).get("template"), dict) or not r.spec(daemonset.obj).get("template"):
        raise InputError(f'DaemonSet "{r.name(daemonset.obj)}" in {daemonset.where} has no spec.template')
    return daemonset.obj


class DumpReader:
    """A ClusterReader over objects loaded from dump files."""

    def __init__(self, objects: Iterable[Mapping[str, Any]], *, origin: str) -> None:
        self._by_kind: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _KINDS}
        for obj in objects:
            kind = r.kind_of(obj)
            if kind in self._by_kind:
                self._by_kind[kind].append(dict(obj))
        self.origin = origin

    @classmethod
    def from_files(cls, paths: Iterable[str], stdin: TextIO | None = None) -> DumpReader:
        paths = list(paths)
        located: list[Located] = []
        for path in paths:
            located.extend(read_path(path, stdin))
        reader = cls(_unique([item for item in located if r.kind_of(item.obj) in _KINDS]), origin=", ".join(paths))
        if not reader._by_kind["Node"]:
            raise InputError(f"no Node objects in {reader.origin}; dump them too: {_DUMP_COMMAND}")
        return reader

    def get_daemonset(self, *, namespace: str, name: str) -> dict[str, Any]:
        for daemonset in self._by_kind["DaemonSet"]:
            if r.name(daemonset) == name and (r.namespace(daemonset) or "default") == namespace:
                return daemonset
        raise NotFound(f'daemonset "{name}" not found in namespace "{namespace}" (in {self.origin})')

    def list_nodes(self) -> list[dict[str, Any]]:
        return list(self._by_kind["Node"])

    def list_daemonset_pods(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            pod
            for pod in self._by_kind["Pod"]
            if (r.namespace(pod) or "default") == namespace and selector_matches(selector, r.labels(pod))
        ]

    def list_active_pods(self) -> list[dict[str, Any]]:
        return [pod for pod in self._by_kind["Pod"] if r.status(pod).get("phase") not in ("Succeeded", "Failed")]

    def list_controller_revisions(self, *, namespace: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            rev
            for rev in self._by_kind["ControllerRevision"]
            if (r.namespace(rev) or "default") == namespace and selector_matches(selector, r.labels(rev))
        ]

    def list_scheduling_events(self, *, namespace: str) -> list[dict[str, Any]]:
        return [
            event
            for event in self._by_kind["Event"]
            if (r.namespace(event) or "default") == namespace and event.get("reason") == "FailedScheduling"
        ]

    # --- audit: a whole namespace (None: every namespace of the dump) -----------------------------------

    def _in_scope(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        return [obj for obj in self._by_kind[kind] if namespace is None or (r.namespace(obj) or "default") == namespace]

    def list_daemonsets(
        self, *, namespace: str | None, selector: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """As the API server lists them: by namespace and name, filtered by the selector."""
        found = [
            ds
            for ds in self._in_scope("DaemonSet", namespace)
            if selector is None or selector_matches(selector, r.labels(ds))
        ]
        return sorted(found, key=lambda ds: (r.namespace(ds) or "default", r.name(ds)))

    def list_pods(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return self._in_scope("Pod", namespace)

    def list_revisions(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return self._in_scope("ControllerRevision", namespace)

    def list_events(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return [event for event in self._in_scope("Event", namespace) if event.get("reason") == "FailedScheduling"]

    def list_budgets(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return self._in_scope("PodDisruptionBudget", namespace)

    # --- the NodeReader protocol (kubectl ds node) -------------------------------------------------------

    def get_node(self, *, name: str) -> dict[str, Any]:
        for node in self._by_kind["Node"]:
            if r.name(node) == name:
                return node
        raise NotFound(f'node "{name}" not found (in {self.origin})')

    def pods_on_node_versioned(self, *, node: str) -> tuple[list[dict[str, Any]], str]:
        """The pods bound to `node`; a dump has no resourceVersion to watch from."""
        return [pod for pod in self._by_kind["Pod"] if r.spec(pod).get("nodeName") == node], ""

    def list_unscheduled_pods(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return [pod for pod in self._in_scope("Pod", namespace) if not r.spec(pod).get("nodeName")]


def _unique(located: Iterable[Located]) -> list[dict[str, Any]]:
    """One object per kind, namespace and name. The same object read twice (a must-gather tree holds a pod in
    its namespace's pod list and again in its own file) is kept once, the later resourceVersion of it if the
    two copies were read at different times. Two different objects under one name (different uids: a dump of
    another cluster, or of a pod recreated between two dumps) cannot both be true: that is an error."""
    seen: dict[tuple[str, str, str], Located] = {}
    for item in located:
        obj = item.obj
        if not r.name(obj):
            raise InputError(
                f"{item.where} ({r.kind_of(obj)}) has no metadata.name; is this a dump written by kubectl get -o yaml?"
            )
        namespace = "" if r.kind_of(obj) == "Node" else (r.namespace(obj) or "default")
        key = (r.kind_of(obj), namespace, r.name(obj))
        first = seen.get(key)
        if first is None:
            seen[key] = item
            continue
        newer = _same_object_newer(first.obj, obj)
        if newer is None:
            title = f"{namespace}/{r.name(obj)}" if namespace else r.name(obj)
            raise InputError(
                f'{r.kind_of(obj)} "{title}" appears twice with different contents, in {first.where} and in '
                f"{item.where}; read one snapshot of one cluster"
            )
        if newer is obj:
            seen[key] = item
    return [item.obj for item in seen.values()]


def _same_object_newer(a: Mapping[str, Any], b: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The newer copy if a and b are the same object (b wins a tie), None if they are different objects."""
    if a == b:
        return b
    uid_a, uid_b = r.metadata(a).get("uid"), r.metadata(b).get("uid")
    if not uid_a or uid_a != uid_b:
        return None
    version_a, version_b = (
        str(r.metadata(a).get("resourceVersion") or ""),
        str(r.metadata(b).get("resourceVersion") or ""),
    )
    if not (version_a.isdigit() and version_b.isdigit()) or version_a == version_b:
        return None
    return b if int(version_b) > int(version_a) else a
