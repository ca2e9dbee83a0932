"""Offline sources: dumps written by `kubectl get nodes,pods,ds,controllerrevisions -A -o yaml`, and
DaemonSet manifests for the what-if. Reads files (or stdin); everything after parsing is pure.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from kubectl_ds import resources as r
from kubectl_ds.errors import InputError, NotFound
from kubectl_ds.labelselector import selector_matches

_KINDS = {"Node", "Pod", "DaemonSet", "ControllerRevision", "Event", "PodDisruptionBudget"}


def read_documents(path: str, stdin: TextIO | None = None) -> list[dict[str, Any]]:
    """Every object in a YAML/JSON file (multi-document, `kind: List` and `*List` flattened)."""
    import yaml

    label = "standard input" if path == "-" else f'"{path}"'
    try:
        text = (stdin or sys.stdin).read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise InputError(f"cannot read {label}: {error.strerror or error}") from error
    try:
        documents = list(yaml.safe_load_all(text)) if not text.lstrip().startswith("{") else [json.loads(text)]
    except (yaml.YAMLError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{label} is not valid YAML or JSON: {first}") from error
    objects = list(_flatten(doc for doc in documents if doc is not None))
    for obj in objects:
        if not isinstance(obj, dict) or not obj.get("kind"):
            raise InputError(f"{label} holds something that is not a Kubernetes object (no kind)")
    return objects


def _flatten(documents: Iterable[Any]) -> Iterator[Any]:
    for document in documents:
        if isinstance(document, dict) and str(document.get("kind", "")).endswith("List") and "items" in document:
            yield from _flatten(document.get("items") or [])
        else:
            yield document


def read_manifest(path: str, stdin: TextIO | None = None) -> dict[str, Any]:
    """The one DaemonSet in a manifest file."""
    objects = read_documents(path, stdin)
    daemonsets = [obj for obj in objects if obj.get("kind") == "DaemonSet"]
    label = "standard input" if path == "-" else f'"{path}"'
    if not daemonsets:
        kinds = ", ".join(sorted({str(obj.get("kind")) for obj in objects})) or "nothing"
        raise InputError(f"{label} is not a DaemonSet manifest (found {kinds}); pass a file with kind: DaemonSet")
    if len(daemonsets) > 1:
        names = ", ".join(r.name(ds) for ds in daemonsets)
        raise InputError(f"{label} holds {len(daemonsets)} DaemonSets ({names}); pass a file with exactly one")
    daemonset = daemonsets[0]
    if not r.name(daemonset):
        raise InputError(f"the DaemonSet in {label} has no metadata.name")
    if not r.spec(daemonset).get("template"):
        raise InputError(f'DaemonSet "{r.name(daemonset)}" in {label} has no spec.template')
    return daemonset


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
        objects: list[dict[str, Any]] = []
        for path in paths:
            objects.extend(read_documents(path, stdin))
        for obj in objects:
            if r.kind_of(obj) in _KINDS and not r.name(obj):
                raise InputError(
                    f"a {r.kind_of(obj)} in {', '.join(paths)} has no metadata.name; "
                    "is this a dump written by kubectl get -o yaml?"
                )
        reader = cls(objects, origin=", ".join(paths))
        if not reader._by_kind["Node"]:
            raise InputError(
                f"no Node objects in {reader.origin}; dump them too: "
                "kubectl get nodes,pods,ds,controllerrevisions -A -o yaml"
            )
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
