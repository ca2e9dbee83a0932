"""Help the way kubectl users read it: the one-line summary, then the examples, then the rest of the
description, then the flags grouped (the command's own first, kubectl's connection flags last), all wrapped
to the terminal's width (click measures it; a long example line is continued with a trailing backslash, as
a shell would take it). Every command and group of the plugin uses these classes."""

from __future__ import annotations

import inspect
import textwrap

import click

from kubectl_ds.commands.common import CONNECTION

EXAMPLES = "Examples"
OWN_FLAGS = "Flags"


def help_parts(text: str) -> tuple[str, list[str], list[str]]:
    """(summary, example lines, description paragraphs) of a help text whose examples follow a line
    `Examples:` (after click's no-rewrap marker \\b, if any) and run to the end."""
    text = inspect.cleandoc(text).partition("\f")[0]
    summary, _, rest = text.partition("\n\n")
    lines = rest.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == EXAMPLES + ":"]
    examples = lines[starts[0] + 1 :] if starts else []
    body = lines[: starts[0]] if starts else lines
    if body and body[-1].strip() == "\b":
        body = body[:-1]
    paragraphs = [" ".join(p.replace("\b", " ").split()) for p in "\n".join(body).split("\n\n")]
    # A \b line between examples separates two of them: a blank line.
    examples = ["" if line.strip() == "\b" else line for line in examples]
    return summary.strip(), examples, [p for p in paragraphs if p]


def wrap_example(line: str, width: int) -> list[str]:
    """An example line that fits, or broken at spaces with a trailing backslash (a comment: with `#`)."""
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    comment = line.lstrip().startswith("#")
    follow = indent + ("# " if comment else "    ")
    pieces = textwrap.wrap(
        line.strip(),
        width - (0 if comment else 2),
        initial_indent=indent,
        subsequent_indent=follow,
        break_long_words=False,
        break_on_hyphens=False,
    )
    if comment:
        return pieces
    return [piece + " \\" for piece in pieces[:-1]] + pieces[-1:]


def write_help_text(command: click.Command, formatter: click.HelpFormatter) -> None:
    if not command.help:
        return
    summary, examples, paragraphs = help_parts(command.help)
    width = max(formatter.width - formatter.current_indent, 20)
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(summary)
    if examples:
        with formatter.section(EXAMPLES):
            for line in examples:
                for piece in wrap_example(line.rstrip(), width - 2) if line.strip() else [""]:
                    formatter.write(f"{'':>{formatter.current_indent}}{piece}".rstrip() + "\n")
    for paragraph in paragraphs:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(paragraph)


def write_grouped_options(command: click.Command, ctx: click.Context, formatter: click.HelpFormatter) -> None:
    """The options by their help_group: the command's own first, other groups as they come, connection last."""
    groups: dict[str, list[tuple[str, str]]] = {OWN_FLAGS: []}
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is not None:
            groups.setdefault(getattr(param, "help_group", "") or OWN_FLAGS, []).append(record)
    order = sorted(groups, key=lambda name: (name == CONNECTION, name != OWN_FLAGS))
    for name in order:
        if groups[name]:
            with formatter.section(name):
                formatter.write_dl(groups[name])


class GroupedCommand(click.Command):
    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        write_help_text(self, formatter)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        write_grouped_options(self, ctx, formatter)


class GroupedGroup(click.Group):
    """A group whose help lists its commands first, then its flags grouped."""

    command_class = GroupedCommand

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        write_help_text(self, formatter)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.format_commands(ctx, formatter)
        write_grouped_options(self, ctx, formatter)
