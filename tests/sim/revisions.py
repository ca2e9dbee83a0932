"""ControllerRevisions: what one holds, how it is named and hashed, and when it matches a template.

Source: pkg/controller/daemon/update.go (getPatch, Match, snapshot) and pkg/controller/history
(ControllerRevision naming). Go hashes the template with FNV (controller.ComputeHash), which cannot be
reproduced from JSON; any stable hash serves, since nothing compares it with a real cluster's.

Deviation: templates are compared and hashed in their API-defaulted form (see defaulted_template), where Go
compares bytes. Only the server's fixed defaults are applied, so a field the server starts defaulting later
(ApiServer.add_template_default, an upgrade or a mutating webhook: docs/rules.md#r-revisions) still makes the
template differ from its revision, as it does upstream.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any, cast

from tests.apiserver import apply_defaults, resolve_resource
from tests.sim import objects as o
from tests.sim.objects import Obj, View


def defaulted_template(template: Mapping[str, Any]) -> Obj:
    """The template as the API server stores it once defaulted (restartPolicy, imagePullPolicy, ...).

    A real cluster only ever holds defaulted templates; fixtures seeded with add(defaults=False) do not, and an
    HTTP write defaults them later. Comparing and hashing defaulted forms keeps such a no-op from looking like
    a new revision, and makes a rollback to an undefaulted revision match it again.
    """
    wrapper: Obj = {"spec": {"template": copy.deepcopy(dict(template))}}
    apply_defaults(resolve_resource("daemonsets"), wrapper)
    return cast(Obj, wrapper["spec"]["template"])


def same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Match: Go compares the revision's stored patch with the DaemonSet's, byte for byte."""
    return a == b or defaulted_template(a) == defaulted_template(b)


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """ComputeHash's role: a short hash of the (defaulted) template, changed by status.collisionCount."""
    canonical = json.dumps(defaulted_template(template), sort_keys=True, separators=(",", ":"))
    if collision_count:
        canonical += f"#{collision_count}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def patch_of(template: Mapping[str, Any]) -> Obj:
    """getPatch: {"spec": {"template": {..., "$patch": "replace"}}}, the marker inside the template."""
    return {"spec": {"template": {**copy.deepcopy(dict(template)), "$patch": "replace"}}}


def template_in(revision: View) -> Obj:
    """The pod template a revision's patch restores."""
    stored = ((revision.get("data") or {}).get("spec") or {}).get("template") or {}
    return {key: value for key, value in stored.items() if key != "$patch"}


def hash_of(revision: View) -> str:
    """The revision's controller-revision-hash label; constructHistory labels a revision that lacks it with
    the revision's name, so that is its hash then."""
    return o.labels_of(revision).get(o.REVISION_HASH_LABEL) or o.name(revision)


def number_of(revision: View) -> int:
    return int(revision.get("revision") or 0)
