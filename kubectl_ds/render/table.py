"""Pure. The one table printer every view shares, with kubectl's table habits: `--no-headers`, `-L` label
columns, `--sort-by` a column, colour only where the words already say something is wrong, and wrapping of
the last column to a terminal's width. Whether to colour and how wide the terminal is come in as
arguments: this module never looks at the terminal or the environment.

The layout is `tabulate`'s "plain" format, which the explain table used before (so its output did not
change): every column but the last padded to its widest cell or its header plus two, two spaces between
columns, nothing after the last cell.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Tones a cell may carry; only these are ever coloured (red: broken or blocking, yellow: needs a look).
BAD = "bad"
WARN = "warn"
_ANSI = {BAD: "\x1b[31m", WARN: "\x1b[33m"}
_RESET = "\x1b[0m"
_GAP = "  "
_HEADER_ROOM = 2
_MIN_WRAPPED = 24  # below this many columns left for the last cell, wrapping would only make it worse


@dataclass(frozen=True)
class Cell:
    """A cell's text and, where the words already say something is wrong, its tone."""

    text: str
    tone: str = ""


CellLike = str | Cell


@dataclass(frozen=True)
class TableStyle:
    """How to print a table: headers or not (`--no-headers`), colour or not (decided by the command from
    `--color`, NO_COLOR and whether stdout is a terminal), and the terminal's width (None in a pipe: never
    wrap, one row per line)."""

    headers: bool = True
    colour: bool = False
    width: int | None = None


def _cell(value: CellLike) -> Cell:
    return value if isinstance(value, Cell) else Cell(value)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[CellLike]], style: TableStyle = TableStyle()) -> str:
    """The table as text, without a final newline ("" for no rows and no headers)."""
    body = [[_cell(value) for value in row] for row in rows]
    table = ([[Cell(h) for h in headers]] if style.headers else []) + body
    if not table:
        return ""
    count = len(headers)
    # tabulate's "plain" layout, which the explain table has always had: a header gets two columns of room
    # beyond its own length; rows without headers keep the same widths, so they line up the same.
    widths = [max([len(headers[i]) + _HEADER_ROOM] + [len(row[i].text) for row in body]) for i in range(count - 1)]
    offset = sum(widths) + len(_GAP) * (count - 1)
    room = style.width - offset if style.width else None
    lines: list[str] = []
    for row in table:
        head = "".join(_paint(cell, style.colour, widths[i]) + _GAP for i, cell in enumerate(row[:-1]))
        last = row[-1]
        pieces = [last.text]
        if room is not None and room >= _MIN_WRAPPED and len(last.text) > room:
            pieces = textwrap.wrap(last.text, room, break_on_hyphens=False) or [""]
        lines.append(head + _paint(Cell(pieces[0], last.tone), style.colour, 0))
        lines += [" " * offset + _paint(Cell(piece, last.tone), style.colour, 0) for piece in pieces[1:]]
    return "\n".join(line.rstrip(" ") for line in lines)


def _paint(cell: Cell, colour: bool, width: int) -> str:
    padding = " " * (width - len(cell.text))
    if colour and cell.tone in _ANSI and cell.text:
        return f"{_ANSI[cell.tone]}{cell.text}{_RESET}{padding}"
    return cell.text + padding


def paint(text: str, tone: str, colour: bool) -> str:
    """A phrase outside a table (a summary's failing count), coloured when colour is on."""
    return f"{_ANSI[tone]}{text}{_RESET}" if colour and tone in _ANSI and text else text


# --- -L/--label-columns ------------------------------------------------------------------------------------


def label_keys(values: Iterable[str]) -> tuple[str, ...]:
    """`-L a,b -L c` as kubectl reads it (a comma list, repeatable): ("a", "b", "c"), duplicates dropped."""
    keys = [key.strip() for value in values for key in value.split(",")]
    return tuple(dict.fromkeys(key for key in keys if key))


def label_header(key: str) -> str:
    """kubectl's header for a label column: the key's last path segment, upper-cased
    (`topology.kubernetes.io/zone` -> ZONE)."""
    return key.rsplit("/", 1)[-1].upper()


def label_cells(keys: Sequence[str], labels: Mapping[str, str]) -> list[str]:
    """A row's label cells; "-" where the label is missing, as every other empty cell of our tables."""
    return [labels.get(key, "-") or "-" for key in keys]


# --- --sort-by ----------------------------------------------------------------------------------------------


def natural_key(value: CellLike) -> tuple[tuple[int, int | str], ...]:
    """A cell's sort key: node-2 before node-10 (digit runs compare as numbers)."""
    text = _cell(value).text
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def sort_column(headers: Sequence[str], by: str) -> int | None:
    """The index of the column `--sort-by` names (case-insensitive; `{.NAME}` accepted as kubectl users
    type it), or None when the table has no such column."""
    wanted = by.strip().removeprefix("{").removesuffix("}").removeprefix(".").upper()
    for index, header in enumerate(headers):
        if header.upper() == wanted:
            return index
    return None


def sorted_by(headers: Sequence[str], rows: Sequence[Sequence[CellLike]], by: str | None) -> list[Sequence[CellLike]]:
    """Rows ordered by the column `--sort-by` names, naturally; ties keep their order (a stable sort). No
    such column (the command's validate() refuses it first) or no --sort-by: the rows as they are."""
    column = sort_column(headers, by) if by else None
    if column is None:
        return list(rows)
    return sorted(rows, key=lambda row: natural_key(row[column]))


def rows_only(headers: Sequence[str], rows: Sequence[Sequence[CellLike]], style: TableStyle) -> str:
    """`--no-headers`: the rows alone, each on its line (nothing at all for no rows)."""
    text = format_table(headers, rows, style)
    return text + "\n" if text else ""
