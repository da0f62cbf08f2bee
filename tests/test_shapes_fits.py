"""A shape's fast check (``fits``) and its named check (``problem``) agree on every
value: the engine asks ``fits`` first and names only a misfit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import recordings_dir

from runflow.engine.shapes import ANY, ID, INDEX, STR, Choice, List, Obj, Opt, Req, Shape
from runflow.protocols.assistants.definition import ASSISTANTS
from runflow.protocols.responses.definition import RESPONSES

_ODD: list[Any] = [None, 0, -1, 1.5, "", "x", True, [], [1], {}, {"type": 1}, [{}]]


def _shapes() -> list[Shape]:
    out: list[Shape] = []
    for protocol in (RESPONSES, ASSISTANTS):
        out += [s for s in protocol.event_shapes.values() if s is not None]
        for table in protocol.tables.values():
            out += [s for s in (table.shape, table.delta_shape) if s is not None]
        if protocol.error_shape is not None:
            out.append(protocol.error_shape)
    return out


def _variants(value: Any, depth: int = 0) -> Iterator[Any]:
    """``value``, and ``value`` with each field (to depth 3) replaced by odd values."""
    yield value
    if depth >= 3:
        return
    if type(value) is dict:
        for key, inner in value.items():
            for odd in [*_ODD, *_variants(inner, depth + 1)]:
                yield {**value, key: odd}
            yield {k: v for k, v in value.items() if k != key}
    elif type(value) is list and value:
        for odd in [*_ODD, *_variants(value[0], depth + 1)]:
            yield [odd, *value[1:]]


def _agree(shape: Shape, value: Any) -> None:
    named = shape.explain(value)
    assert shape.fits(value) == (named is None), (shape, value)
    assert shape.problem(value) == named, (shape, value)


def test_fits_and_problem_agree_on_the_combinators() -> None:
    shapes: list[Shape] = [
        ANY, STR, ID, INDEX, Opt(STR), Req(ID), Choice("a", "b"), List(), List(INDEX),
        Obj({"a": INDEX, "b": Opt(List(Obj({"c": STR}, required=("c",))))}, required=("a",),
            tag="type", variants={"x": {"d": Req(STR)}, "y": {"e": Opt(INDEX)}}),
    ]
    values = [*_ODD, {"a": 1}, {"a": 1, "b": [{"c": "s"}]}, {"a": 1, "b": [{}]},
              {"a": 1, "type": "x"}, {"a": 1, "type": "x", "d": "s"}, {"a": 1, "type": "y",
              "e": None}, {"a": 1, "type": "y", "e": "s"}, {"a": 1, "type": ["x"]}]
    for shape in shapes:
        for value in values:
            for variant in _variants(value):
                _agree(shape, variant)


def test_fits_and_problem_agree_on_mutated_recorded_events() -> None:
    folder = recordings_dir() / "responses"
    events = []
    for path in sorted(folder.glob("*.sse"))[:8]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                events.append(json.loads(line[5:]))
    shapes = _shapes()
    assert shapes and events
    for event in events[:60]:
        for variant in _variants(event):
            for shape in shapes:
                _agree(shape, variant)


@pytest.mark.parametrize("value", [{"a": 1, "type": "x"}, {"a": 1, "type": "x", "d": None}])
def test_a_required_variant_field_is_named(value: Any) -> None:
    shape = Obj({"a": INDEX}, tag="type", variants={"x": {"d": Req(STR)}})
    assert not shape.fits(value)
    assert shape.problem(value) == "d: required, got " + ("null" if "d" in value else "nothing")
