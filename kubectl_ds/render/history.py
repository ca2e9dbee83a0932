"""Pure. The `rollout history` view: kubectl's table (REVISION, CHANGE-CAUSE) plus the pods on each
revision and what changed, one revision's template, and the JSON/YAML shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubectl_ds.render.output import to_data_text, to_yaml
from kubectl_ds.render.table import CellLike, TableStyle, format_table, rows_only, sorted_by
from kubectl_ds.rollout.history import NO_HISTORY, RevisionEntry, history_rows


def render_revision(name: str, entry: RevisionEntry, output: str) -> str:
    """One revision (--revision N): its pod template."""
    if output == "table":
        return f"daemonset.apps/{name} with revision #{entry.number}\n" + to_yaml(entry.template)
    data: Any = {"revision": entry.number, "changeCause": entry.change_cause, "template": entry.template}
    return to_data_text(data, output)


HISTORY_HEADERS = ("REVISION", "CHANGE-CAUSE", "PODS", "IMAGES")


def render_history(
    namespace: str,
    name: str,
    entries: Sequence[RevisionEntry],
    output: str,
    *,
    style: TableStyle | None = None,
    sort_by: str | None = None,
) -> str:
    rows = history_rows(entries)
    if output != "table":
        return to_data_text({"daemonSet": {"namespace": namespace, "name": name}, "revisions": rows}, output)
    style = style or TableStyle()
    cells: list[list[CellLike]] = [
        [str(row["revision"]), str(row["changeCause"]), str(row["pods"]), row["changes"] or ", ".join(row["images"])]
        for row in rows
    ]
    table = sorted_by(HISTORY_HEADERS, cells, sort_by)
    if not style.headers:
        return rows_only(HISTORY_HEADERS, table, style)
    if not rows:
        return NO_HISTORY + "\n"
    return f"daemonset.apps/{name}\n" + format_table(HISTORY_HEADERS, table, style) + "\n"
