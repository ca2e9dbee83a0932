"""render/output.py writes JSON exactly as json.dumps(data, indent=2) does, only faster."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubectl_ds.render.output import to_json


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"a": 1, "b": [1, 2, {"c": None}], "d": {}, "e": [], "f": True, "g": False}, id="nested"),
        pytest.param({"name": 'caf\u00e9 \u2192 "quoted"\n\\ \x01'}, id="escapes-and-non-ascii"),
        pytest.param([[], [[]], {}, {"x": {}}], id="empty-containers"),
        pytest.param({"n": -12345678901234567890, "t": (1, "two")}, id="big-int-and-tuple"),
        pytest.param({"f": 1.5, "nan": float("nan")}, id="floats-through-json"),
        pytest.param({1: "int key"}, id="non-string-key-through-json"),
        pytest.param("just a string", id="scalar"),
    ],
)
def test_to_json_is_json_dumps_with_indent_2(data: Any) -> None:
    assert to_json(data) == json.dumps(data, indent=2) + "\n"


def test_to_json_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError):
        to_json({"a": object()})
