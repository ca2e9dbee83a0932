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
    what `explain -o json` spends after reading 5,000 nodes). TypeError for anything else."""
    out: list[str] = []
    append = out.append

    def write(value: Any, pad: str) -> None:
        if isinstance(value, str):
            append(encode_basestring_ascii(value))
        elif isinstance(value, dict):
            if not value:
                append("{}")
                return
            inner = pad + "  "
            separator = "{\n" + inner
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(key)
                append(separator)
                append(encode_basestring_ascii(key))
                append(": ")
                write(item, inner)
                separator = ",\n" + inner
            append("\n" + pad + "}")
        elif isinstance(value, (list, tuple)):
            if not value:
                append("[]")
                return
            inner = pad + "  "
            separator = "[\n" + inner
            for item in value:
                append(separator)
                write(item, inner)
                separator = ",\n" + inner
            append("\n" + pad + "]")
        elif value is None or value is True or value is False:
            append("null" if value is None else "true" if value else "false")
        elif isinstance(value, int):
            append(int.__repr__(value))
        else:
            raise TypeError(value)

    write(data, "")
    return "".join(out)


def to_yaml(data: Any) -> str:
    import yaml  # only -o yaml pays for it

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def to_data_text(data: Any, output: str) -> str:
    """`data` in the chosen data format ("json" or "yaml")."""
    return to_json(data) if output == "json" else to_yaml(data)
