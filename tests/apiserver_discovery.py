"""Discovery documents, the OpenAPI v3 stub kubectl needs, and kubeconfig text."""

from __future__ import annotations

import base64
import json

from tests.apiserver_base import _STATUS_VERBS, _VERBS, GROUPS, RESOURCES, SERVER_VERSION, Obj, Resource


def discovery_document(path: str, address: str) -> Obj | None:
    """The discovery document kubectl and client-go read at `path`, or None for other paths."""
    group_versions = ["api/v1", *(f"apis/{group}/v1" for group in GROUPS)]
    if path == "/version":
        return dict(SERVER_VERSION)
    if path == "/api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
        }
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_api_group(group) for group in GROUPS]}
    if path.removeprefix("/apis/") in GROUPS:
        return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(path.removeprefix("/apis/"))}
    if path == "/api/v1":
        return _resource_list("", "v1")
    if path.removeprefix("/").removesuffix("/v1") in (f"apis/{group}" for group in GROUPS):
        return _resource_list(path.removeprefix("/apis/").removesuffix("/v1"), "v1")
    if path == "/openapi/v3":
        return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_OPENAPI_HASH}"} for gv in group_versions}}
    if path.removeprefix("/openapi/v3/") in group_versions:
        return _openapi_v3(path.removeprefix("/openapi/v3/"))
    return None


def _api_group(group: str) -> Obj:
    version = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {"name": group, "versions": [version], "preferredVersion": version}


def _resource_list(group: str, version: str) -> Obj:
    resources: list[Obj] = []
    for res in RESOURCES:
        if res.group != group:
            continue
        entry: Obj = {
            "name": res.plural,
            "singularName": res.singular,
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": list(_VERBS),
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        resources.append(entry)
        if res.has_status:
            resources.append(
                {
                    "name": f"{res.plural}/status",
                    "singularName": "",
                    "namespaced": res.namespaced,
                    "kind": res.kind,
                    "verbs": list(_STATUS_VERBS),
                }
            )
        if res.plural == "pods":
            # kubectl drain looks for exactly this entry to decide it can evict.
            resources.append(
                {
                    "name": "pods/eviction",
                    "singularName": "",
                    "namespaced": True,
                    "group": "policy",
                    "version": "v1",
                    "kind": "Eviction",
                    "verbs": ["create"],
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


_OPENAPI_HASH = "fake-apiserver-1"
_OPENAPI_WRITE_PARAMETERS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation")
]


def _openapi_v3(group_version_path: str) -> Obj:
    """Just enough OpenAPI v3 for kubectl apply/create/patch.

    kubectl reads it to learn that PATCH supports the fieldValidation parameter (so it validates
    server-side instead of downloading the v2 schema, which this server does not have). The PATCH
    operations declare no request body, so kubectl computes strategic merge patches from its
    built-in types rather than from schemas.
    """
    prefix = "/" + group_version_path
    paths: Obj = {}
    for res in RESOURCES:
        if f"{res.group}/{res.version}".lstrip("/") != group_version_path.removeprefix("api/").removeprefix("apis/"):
            continue
        gvk = {"group": res.group, "version": res.version, "kind": res.kind}
        collection = f"{prefix}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{prefix}/{res.plural}"

        def operation(action: str, gvk: Obj = gvk, res: Resource = res) -> Obj:
            return {
                "operationId": f"{action}{res.kind}",
                "parameters": list(_OPENAPI_WRITE_PARAMETERS),
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            }

        paths[collection] = {"post": operation("post")}
        paths[f"{collection}/{{name}}"] = {"put": operation("put"), "patch": operation("patch")}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _kubeconfig_yaml(
    clusters: dict[str, tuple[str, str | None]],
    users: dict[str, str],
    contexts: dict[str, tuple[str, str, str | None]],
    current: str,
) -> str:
    """A kubeconfig in plain YAML; scalars are JSON strings, which YAML reads as double-quoted."""
    q = json.dumps
    lines = ["apiVersion: v1", "kind: Config", "preferences: {}", "clusters:"]
    for name, (server, ca) in clusters.items():
        lines += [f"- name: {q(name)}", "  cluster:", f"    server: {q(server)}"]
        if ca:
            lines.append(f"    certificate-authority-data: {base64.b64encode(ca.encode()).decode()}")
    lines.append("users:")
    for name, token in users.items():
        lines += [f"- name: {q(name)}", "  user:", f"    token: {q(token)}"]
    lines.append("contexts:")
    for name, (cluster, user, namespace) in contexts.items():
        lines += [f"- name: {q(name)}", "  context:", f"    cluster: {q(cluster)}", f"    user: {q(user)}"]
        if namespace:
            lines.append(f"    namespace: {q(namespace)}")
    lines.append(f"current-context: {q(current)}")
    return "\n".join(lines) + "\n"
