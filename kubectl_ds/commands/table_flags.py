"""kubectl's output and scope habits as option groups any read-only command can adopt:

- `table_flags`: --no-headers, -L/--label-columns (repeatable, comma lists), --sort-by COLUMN and
  --color auto|always|never, handed over as one `table: TableFlags`;
- `scope_flags`: -A/--all-namespaces and -l/--selector, handed over as `scope: Scope`.

`table_style` is where the terminal is looked at (is stdout a terminal, how wide, NO_COLOR), so that the
render layer gets plain arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from kubectl_ds.commands.common import GroupedOption
from kubectl_ds.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])

COLOR_MODES = ("auto", "always", "never")
OUTPUT_GROUP = "Output flags"


@dataclass(frozen=True)
class TableFlags:
    no_headers: bool = False
    label_columns: tuple[str, ...] = ()  # the -L keys, comma lists split
    sort_by: str | None = None
    color: str = "auto"

    def validate(self, headers: list[str], output: str, table_outputs: tuple[str, ...]) -> None:
        """Check the flags against the table the command will print (its headers) before any request."""
        from kubectl_ds.render.table import sort_column

        if self.color not in COLOR_MODES:
            raise UsageError(f'invalid --color "{self.color}"; use one of: {", ".join(COLOR_MODES)}')
        if output not in table_outputs:
            for given, flag in ((self.label_columns, "-L/--label-columns"), (self.sort_by, "--sort-by")):
                if given:
                    raise UsageError(f"{flag} applies to the table; it cannot be used with -o {output}")
        if self.sort_by and sort_column(headers, self.sort_by) is None:
            raise UsageError(f'--sort-by "{self.sort_by}": no such column; use one of: {", ".join(headers)}')


@dataclass(frozen=True)
class Scope:
    all_namespaces: bool = False
    selector: str | None = None

    def validate(self) -> None:
        from kubectl_ds.labelselector import parse_selector

        if self.selector is not None:
            parse_selector(self.selector, flag="-l")


def _option(*names: str, group: str = OUTPUT_GROUP, **kwargs: Any) -> Callable[[F], F]:
    return click.option(*names, cls=GroupedOption, help_group=group, **kwargs)


def table_flags(func: F) -> F:
    """Adds --no-headers, -L, --sort-by and --color; hands the command `table: TableFlags`."""
    from kubectl_ds.render.table import label_keys

    @functools.wraps(func)
    def wrapper(*args: Any, **params: Any) -> Any:
        table = TableFlags(
            no_headers=params.pop("no_headers"),
            label_columns=label_keys(params.pop("label_columns")),
            sort_by=params.pop("sort_by"),
            color=params.pop("color"),
        )
        return func(*args, table=table, **params)

    options = [
        _option("--no-headers", is_flag=True, help="Print the table's rows only: no header, summary or fixes."),
        _option(
            "-L",
            "--label-columns",
            multiple=True,
            metavar="KEY,...",
            help="Add a column with the value of this node label (repeatable, or a comma list).",
        ),
        _option("--sort-by", metavar="COLUMN", help="Sort the table's rows by this column (its header, e.g. STATUS)."),
        _option(
            "--color",
            default="auto",
            metavar="WHEN",
            help="Colour failing and blocked rows: auto (on a terminal, unless NO_COLOR is set), always or never.",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def scope_flags(func: F) -> F:
    """Adds -A/--all-namespaces and -l/--selector; hands the command `scope: Scope`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **params: Any) -> Any:
        scope = Scope(all_namespaces=params.pop("all_namespaces"), selector=params.pop("selector"))
        return func(*args, scope=scope, **params)

    options = [
        _option(
            "-A",
            "--all-namespaces",
            is_flag=True,
            group="Scope flags",
            help="The DaemonSets of every namespace (without NAME).",
        ),
        _option(
            "-l",
            "--selector",
            metavar="SELECTOR",
            group="Scope flags",
            help="Only DaemonSets with these labels, as kubectl takes it (app=x,tier!=db, env in (a,b)).",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def table_style(table: TableFlags, environ: Mapping[str, str] | None = None) -> Any:
    """The TableStyle for this terminal: colour with --color always, or auto on a terminal without NO_COLOR
    (https://no-color.org: any non-empty value) and TERM=dumb; never in a pipe. On a terminal the last column
    wraps to its width; in a pipe nothing wraps (one row a line, for grep and awk)."""
    import os
    import sys

    from kubectl_ds.render.table import TableStyle

    env = os.environ if environ is None else environ
    terminal = sys.stdout.isatty()
    colour = table.color == "always" or (
        table.color == "auto" and terminal and not env.get("NO_COLOR") and env.get("TERM") != "dumb"
    )
    return TableStyle(headers=not table.no_headers, colour=colour, width=terminal_width(env) if terminal else None)


def terminal_width(environ: Mapping[str, str]) -> int | None:
    """The terminal's columns: $COLUMNS first (as shutil and click read it), else the terminal's own size."""
    import os
    import sys

    if environ.get("COLUMNS", "").isdigit() and int(environ["COLUMNS"]) > 0:
        return int(environ["COLUMNS"])
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns or None
    except (OSError, ValueError):
        return None
