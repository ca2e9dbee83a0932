"""Pure. The one JSON/YAML writer: every `-o json` and `-o yaml` goes through here, so all views print
data the same way (two-space JSON with a final newline; block-style YAML in the data's own key order)."""

from __future__ import annotations

import json
from typing import Any

DATA_FORMATS = ("json", "yaml")


def to_json(data: Any, *, compact: bool = False) -> str:
    """Indented JSON and a newline; `compact` is one line (a --watch stream of objects)."""
    return json.dumps(data) if compact else json.dumps(data, indent=2) + "\n"


def to_yaml(data: Any) -> str:
    import yaml  # only -o yaml pays for it

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def to_data_text(data: Any, output: str) -> str:
    """`data` in the chosen data format ("json" or "yaml")."""
    return to_json(data) if output == "json" else to_yaml(data)
