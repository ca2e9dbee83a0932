"""Pure. The small text helpers every view shares: plurals, counts, node lists, durations.

A leaf module (it imports nothing of the project), so the few rule modules that word their own reasons
may use it too without reaching up into the render layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

MAX_NAMES = 3


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """The word for `count` things: "node" for 1, else "nodes" (or the given plural form)."""
    return singular if count == 1 else (plural_form or singular + "s")


def count(number: int, noun: str, plural_form: str | None = None) -> str:
    """ "1 node", "3 nodes"."""
    return f"{number} {plural(number, noun, plural_form)}"


def some_names(names: Sequence[str], limit: int = MAX_NAMES) -> str:
    """ "a, b, c and 4 more": a list of names that stays one short line however long the list."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def duration(seconds: float) -> str:
    """ "2m05s", "40s": minutes and seconds, rounded to the second."""
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def moment(when: datetime | None) -> str:
    """A time as the API writes it ("2026-11-21T09:00:00Z"), or "an unknown time"."""
    if when is None:
        return "an unknown time"
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
