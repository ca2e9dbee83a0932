"""The verbs of the test API server as HTTP serves them: get, list (with pagination), create, replace,
patch, delete and eviction."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import random
import uuid
from datetime import timedelta
from typing import Any

from tests.apiserver_base import (
    _GENERATE_ALPHABET,
    _MODIFIED,
    TEMPLATE_GENERATION,
    ApiError,
    Obj,
    Resource,
    _details,
    _int_param,
    _key,
    _meta,
    _Target,
    _validate_name,
    already_exists,
    bad_request,
    check_decodable,
    conflict,
    invalid,
    not_found,
    rfc3339,
)
from tests.apiserver_eviction import evict
from tests.apiserver_patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from tests.apiserver_selectors import parse_field_selector, parse_label_selector
from tests.apiserver_store import Store

log = logging.getLogger(__name__)
CONTINUE_VERSION = "meta.k8s.io/v1"


class Verbs(Store):
    """The verbs as served over HTTP (called by the handler; each raises ApiError for a failure answer)."""

    graceful_pod_deletion: bool
    page_size_cap: int | None

    def _lookup(self, res: Resource, namespace: str | None, name: str) -> Obj:
        found = self._objects[res.plural].get((namespace or "", name))
        if found is None:
            raise not_found(res, name)
        return found

    def _api_get(self, target: _Target) -> Obj:
        with self._lock:
            return copy.deepcopy(self._lookup(target.res, target.namespace, target.name or ""))

    def _api_list(self, res: Resource, namespace: str | None, query: dict[str, str]) -> Obj:
        """A list, or one page of it, served from the resource's sorted index (tests/apiserver_index.py)."""
        label_text, field_text = query.get("labelSelector", ""), query.get("fieldSelector", "")
        try:
            by_labels = parse_label_selector(label_text)
        except ValueError as error:
            raise bad_request(str(error)) from None
        by_fields = parse_field_selector(res, field_text)
        limit = _int_param(query, "limit")
        page_size = min(x for x in (limit, self.page_size_cap) if x) if limit else 0
        with self._lock:
            rv, after = self._rv, None
            if query.get("continue"):
                rv, after = self._resume(res, namespace, query["continue"])
            page = self._indexes[res.plural].page(
                namespace=namespace if res.namespaced else None,
                after=after,
                rv=rv,
                limit=page_size,
                selected=lambda obj: by_labels(obj) and by_fields(obj),
            )
            items = [copy.deepcopy(obj) for obj in page.items]
        metadata: Obj = {"resourceVersion": str(rv)}
        if page_size and page.more and page.last is not None:
            metadata["continue"] = _continue_token(res, namespace, rv, page.last)
            if not label_text and not field_text:
                metadata["remainingItemCount"] = page.remaining
        for item in items:
            # Items of a real list carry no apiVersion/kind; only the list does.
            item.pop("apiVersion", None)
            item.pop("kind", None)
        return {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": metadata, "items": items}

    def _resume(self, res: Resource, namespace: str | None, token: str) -> tuple[int, tuple[str, str]]:
        """The resourceVersion and the key a continue token names (apiserver/pkg/storage/continue.go)."""
        try:
            payload = json.loads(base64.urlsafe_b64decode(token.encode()))
            rv, start = int(payload["rv"]), str(payload["start"])
            valid = payload["v"] == CONTINUE_VERSION and start.endswith("\x00") and rv > 0
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise bad_request(f"continue key is not valid: {token}") from None
        relative = start[:-1] if valid else ""
        parts = relative.split("/")
        if not valid or not all(parts) or len(parts) != (2 if res.namespaced and namespace is None else 1):
            raise bad_request(f"continue key is not valid: {token}")
        if rv < self._history_floor:
            raise ApiError(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent "
                "list result. You can start a new list without the continue parameter.",
            )
        key = (parts[0], parts[1]) if len(parts) == 2 else ((namespace or "") if res.namespaced else "", parts[0])
        return rv, key

    def _api_create(self, res: Resource, namespace: str | None, body: Any, *, dry_run: bool) -> Obj:
        if not isinstance(body, dict):
            raise bad_request(f"the body of the request was in an unknown format - expected a {res.kind} object")
        self._check_type(res, body)
        check_decodable(res, body)
        new = copy.deepcopy(body)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta = _meta(new)
        if res.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        self._scope(res, meta, namespace)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise invalid(res, "", "metadata.name: Required value: name or generateName is required")
            meta["name"] = meta["generateName"] + "".join(random.choices(_GENERATE_ALPHABET, k=5))
        _validate_name(res, meta["name"])
        for server_owned in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "managedFields",
        ):
            meta.pop(server_owned, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(self.now())
        self._admit(res, new, create=True)
        self._prepare_create(res, new)
        with self._lock:
            if _key(new) in self._objects[res.plural]:
                raise already_exists(res, meta["name"])
            if dry_run:
                return new
            stored = self._commit(res, "ADDED", new, None)
        self._dispatch()
        return stored

    @staticmethod
    def _prepare_create(res: Resource, new: Obj) -> None:
        """The create strategies: status starts fresh, DaemonSets start at generation 1."""
        if res.plural == "pods":
            new["status"] = {"phase": "Pending"}
        elif res.plural == "namespaces":
            new["spec"] = {"finalizers": ["kubernetes"]}
            new["status"] = {"phase": "Active"}
        elif res.plural == "poddisruptionbudgets":
            new["metadata"]["generation"] = 1
            new["status"] = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
        elif res.plural == "daemonsets":
            new["metadata"]["generation"] = 1
            annotations = new["metadata"].setdefault("annotations", {})
            try:
                template_generation = max(int(annotations.get(TEMPLATE_GENERATION, 1)), 1)
            except ValueError:
                template_generation = 1
            annotations[TEMPLATE_GENERATION] = str(template_generation)
            new["status"] = {
                "currentNumberScheduled": 0,
                "numberMisscheduled": 0,
                "desiredNumberScheduled": 0,
                "numberReady": 0,
            }

    @staticmethod
    def _check_type(res: Resource, body: Obj) -> None:
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if (kind and kind != res.kind) or (api_version and api_version != res.api_version):
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({res.api_version})"
                if kind == res.kind
                else f'{kind} in version "{res.version}" cannot be handled as a {res.kind}'
            )

    def _api_replace(self, target: _Target, body: Any, *, dry_run: bool) -> Obj:
        res, name = target.res, target.name or ""
        if not isinstance(body, dict):
            raise bad_request(f"the body of the request was in an unknown format - expected a {res.kind} object")
        self._check_type(res, body)
        check_decodable(res, body)
        meta: Obj = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
        if meta.get("name") != name:
            raise bad_request(
                f"the name of the object ({meta.get('name', '')}) does not match the name on the URL ({name})"
            )
        if res.namespaced and meta.get("namespace") and meta["namespace"] != target.namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        with self._lock:
            old = self._lookup(res, target.namespace, name)
            self._check_preconditions(res, old, uid=meta.get("uid"), rv=meta.get("resourceVersion"))
            new = copy.deepcopy(body)
            if target.subresource != "status":
                self._admit(res, new, create=False)
            stored = self._store_update(res, old, new, subresource=target.subresource, dry_run=dry_run)
        self._dispatch()
        return stored

    def _api_patch(self, target: _Target, content_type: str, body: Any, *, dry_run: bool) -> Obj:
        res, name = target.res, target.name or ""
        with self._lock:
            old = self._lookup(res, target.namespace, name)
            try:
                if content_type == "application/json-patch+json":
                    if not isinstance(body, list):
                        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                    patched = json_patch(old, body)
                elif content_type == "application/merge-patch+json":
                    patched = merge_patch(old, body)
                else:
                    patched = strategic_merge_patch(old, body)
            except PatchError as error:
                if content_type == "application/json-patch+json":
                    log.debug("JSON patch did not apply: %s", error)
                    raise ApiError(
                        422, "Invalid", "the server rejected our request due to an error in our request", {}
                    ) from None
                raise bad_request(str(error)) from None
            if not isinstance(patched, dict):
                raise bad_request("the patch turned the object into something that is not an object")
            check_decodable(res, patched)
            # A resourceVersion in the patched result is a precondition, as on a PUT.
            patched_meta: Obj = patched["metadata"] if isinstance(patched.get("metadata"), dict) else {}
            self._check_preconditions(res, old, uid=patched_meta.get("uid"), rv=patched_meta.get("resourceVersion"))
            if target.subresource != "status":
                self._admit(res, patched, create=False)
            stored = self._store_update(res, old, patched, subresource=target.subresource, dry_run=dry_run)
        self._dispatch()
        return stored

    @staticmethod
    def _check_preconditions(res: Resource, old: Obj, *, uid: Any, rv: Any) -> None:
        meta, name = old["metadata"], old["metadata"]["name"]
        if uid and uid != meta.get("uid"):
            raise conflict(
                res, name, f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.get('uid')}"
            )
        if rv and str(rv) != meta.get("resourceVersion"):
            raise conflict(res, name, _MODIFIED)

    def _api_delete(self, target: _Target, options: Obj, *, dry_run: bool) -> tuple[int, Obj]:
        res, name = target.res, target.name or ""
        with self._lock:
            old = self._lookup(res, target.namespace, name)
            preconditions = options.get("preconditions") or {}
            meta = old["metadata"]
            if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
                raise conflict(
                    res,
                    name,
                    f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                    f"UID in object meta: {meta.get('uid')}",
                )
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta.get("resourceVersion"):
                raise conflict(
                    res,
                    name,
                    "Precondition failed: ResourceVersion in precondition: "
                    f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                    f"{meta.get('resourceVersion')}",
                )
            result = self._delete(res, old, options.get("gracePeriodSeconds"), dry_run=dry_run)
        self._dispatch()
        if result is not None:
            return 200, result
        # Deleted at once: pods answer with the object, the other types with a Success status.
        if res.plural == "pods":
            return 200, copy.deepcopy(old)
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {**_details(res, name), "uid": meta.get("uid")},
        }

    def _delete(self, res: Resource, old: Obj, grace: Any, *, dry_run: bool) -> Obj | None:
        """Delete or start deleting. Returns the object when it stays around (terminating), else None."""
        meta = old["metadata"]
        if res.plural == "pods" and self.graceful_pod_deletion and self._grace_period(old, grace) > 0:
            if meta.get("deletionTimestamp"):
                return copy.deepcopy(old)  # already terminating
            seconds = self._grace_period(old, grace)
            return self._mark_terminating(res, old, seconds, dry_run=dry_run)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return copy.deepcopy(old)
            return self._mark_terminating(res, old, 0, dry_run=dry_run)
        if not dry_run:
            self._commit(res, "DELETED", copy.deepcopy(old), old)
        return None

    def _mark_terminating(self, res: Resource, old: Obj, seconds: int, *, dry_run: bool) -> Obj:
        new = copy.deepcopy(old)
        new["metadata"]["deletionTimestamp"] = rfc3339(self.now() + timedelta(seconds=seconds))
        new["metadata"]["deletionGracePeriodSeconds"] = seconds
        return new if dry_run else self._commit(res, "MODIFIED", new, old)

    @staticmethod
    def _grace_period(pod: Obj, grace: Any) -> int:
        """The pod strategy's CheckGracefulDelete: unscheduled or finished pods go at once."""
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if grace is not None:
            return int(grace)
        return int(spec.get("terminationGracePeriodSeconds", 30))

    def _api_evict(self, target: _Target, body: Any, *, dry_run: bool) -> tuple[int, Obj]:
        """POST .../pods/<name>/eviction: the PodDisruptionBudget checks, then a delete
        (tests/apiserver_eviction.py)."""
        return evict(self, target, body, dry_run=dry_run)


def _continue_token(res: Resource, namespace: str | None, rv: int, last: tuple[str, str]) -> str:
    """A real server's token: the list's resourceVersion and the key to start after, relative to the
    request's prefix ("NAME" in a namespace, "NS/NAME" across namespaces), with a NUL appended."""
    relative = f"{last[0]}/{last[1]}" if res.namespaced and namespace is None else last[1]
    payload = {"v": CONTINUE_VERSION, "rv": rv, "start": relative + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
