"""A command group whose subcommands are imported only when one is run (or its own help is asked for).

`kubectl ds --help` lists every command with its short help; importing the command modules for that would
import the judging and rendering layers they use (tens of milliseconds each, against a 150 ms budget). The
short help is therefore declared here beside the module that holds the command, and a test checks that it
is the command's own."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import click

from kubectl_ds.commands.help import GroupedGroup


class LazyCommand(NamedTuple):
    module: str  # e.g. "kubectl_ds.commands.audit"
    attribute: str  # the click command in it
    short_help: str  # what the group's help lists; must equal the command's own short_help


class LazyGroup(GroupedGroup):
    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            entry = self.lazy[cmd_name]
            command = getattr(importlib.import_module(entry.module), entry.attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Click's listing, with the short help of commands not imported yet taken from their declaration."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is not None and command.hidden:
                continue
            short = command.get_short_help_str(limit) if command is not None else self.lazy[name].short_help
            rows.append((name, short))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
