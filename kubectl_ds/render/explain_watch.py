"""Pure. What `explain --watch` prints in a pipe after the first answer: one line per node that changed,
naming each column that changed (`node-7: STATUS Pending -> Running, REVISION 1 (old) -> 2`), and the
summary line when it changed. A terminal gets the whole table redrawn instead (commands/explain_watch.py)."""

from __future__ import annotations

from kubectl_ds.placement.report import NodeReport
from kubectl_ds.render.explain import (
    ExplainView,
    pod_cell,
    revision_cell,
    status_cell,
    summary_line,
    wanted_word,
    why_cell,
)

COLUMNS = ("WANTED", "POD", "STATUS", "REVISION", "WHY")


def node_cells(node: NodeReport) -> tuple[str, ...]:
    """The table's cells of a node, in COLUMNS order."""
    return (wanted_word(node), pod_cell(node), status_cell(node), revision_cell(node), why_cell(node))


def change_lines(before: ExplainView, after: ExplainView, *, arrow: str = "→") -> list[str]:
    """A line per node that appeared, went, or shows other cells; then the summary, if it changed."""
    old = {node.name: node_cells(node) for node in before.assessment.nodes}
    lines = []
    for node in after.assessment.nodes:
        cells = node_cells(node)
        if node.name not in old:
            shown = ", ".join(f"{column} {cell}" for column, cell in zip(COLUMNS, cells, strict=True))
            lines.append(f"{node.name}: new node: {shown}")
            continue
        changed = [
            f"{column} {was} -> {now}"
            for column, was, now in zip(COLUMNS, old.pop(node.name), cells, strict=True)
            if was != now
        ]
        if changed:
            lines.append(f"{node.name}: " + ", ".join(changed))
    lines += [f"{name}: node removed" for name in old]  # what is left was not seen again
    summary = summary_line(after.summary, arrow=arrow)
    if summary != summary_line(before.summary, arrow=arrow):
        lines.append(summary)
    return lines
