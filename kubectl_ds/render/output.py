"""Pure. The one JSON/YAML writer: every `-o json` and `-o yaml` goes through here, so all views print
data the same way (two-space JSON with a final newline; block-style YAML in the data's own key order)."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

DATA_FORMATS = ("json", "yaml")


def to_json(data: Any, *, compact: bool = False) -> str:
    """Indented JSON and a newline; `compact` is one line (a --watch stream of objects)."""
    if compact:
        return json.dumps(data)
    try:
        return _indented(data) + "\n"
    except TypeError:  # a float or a key that is not a string: json's own rules for them
        return json.dumps(data, indent=2) + "\n"


def _indented(data: Any) -> str:
    """json.dumps(data, indent=2), character for character, for strings, integers, booleans, None, lists and
    string-keyed dicts; twice as fast (json indents in pure Python, through a generator per value: half of
    what `explain -o json` spends after reading 5,000 nodes). Each element of a list is joined into one
    string as soon as it is written, so the pieces of 5,000 nodes (a million small strings, 25 MB) never
    exist at once. TypeError for anything else."""

    def write(value: Any, pad: str, out: list[str]) -> None:
        if isinstance(value, str):
            out.append(encode_basestring_ascii(value))
        elif isinstance(value, dict):
            if not value:
                out.append("{}")
                return
            inner = pad + "  "
            separator = "{\n" + inner
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(key)
                head = separator + encode_basestring_ascii(key) + ": "
                kind = type(item)
                if kind is str:  # most values: written here, without a call per value
                    out.append(head + encode_basestring_ascii(item))
                elif kind is bool or item is None:
                    out.append(head + ("null" if item is None else "true" if item else "false"))
                else:
                    out.append(head)
                    write(item, inner, out)
                separator = ",\n" + inner
            out.append("\n" + pad + "}")
        elif isinstance(value, (list, tuple)):
            if not value:
                out.append("[]")
                return
            inner = pad + "  "
            separator = "[\n" + inner
            for item in value:
                out.append(separator)
                pieces: list[str] = []
                write(item, inner, pieces)
                out.append("".join(pieces))
                separator = ",\n" + inner
            out.append("\n" + pad + "]")
        elif value is None or value is True or value is False:
            out.append("null" if value is None else "true" if value else "false")
        elif isinstance(value, int):
            out.append(int.__repr__(value))
        else:
            raise TypeError(value)

    result: list[str] = []
    write(data, "", result)
    return "".join(result)


def to_yaml(data: Any) -> str:
    import yaml  # only -o yaml pays for it

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def to_data_text(data: Any, output: str) -> str:
    """`data` in the chosen data format ("json" or "yaml")."""
    return to_json(data) if output == "json" else to_yaml(data)
