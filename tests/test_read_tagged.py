"""Reading ``flow.response`` types every list of a union whose ``type`` picks one
class by that tag (runflow.protocols.responses.typed, ``_Plan.tagged``), instead of
letting pydantic's smart union try each class: the same snapshot as the smart
union gives -- same classes, values and set fields -- on every shared recording and
on hostile values at every path of their final response."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import recordings_dir
from openai.types.responses import FunctionTool, Response, WebSearchTool
from pydantic import BaseModel
from test_responses_typed import _same

from runflow.engine.entities import copy_of
from runflow.protocols.responses import plans, typed
from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.typed import item_model, typed_model
from runflow.testing.typefuzz import json_paths

HOSTILE: tuple[Any, ...] = (None, "x", [{"type": "function"}, 3], {"type": "message"})
"""Values put at each path: JSON types, and lists and objects a tag could pick."""


def _alike(a: Any, b: Any, path: str = "") -> None:
    """The same snapshot: same classes, values, extras and set fields, down to the
    leaves; but where a model was built by ``construct`` (a required field failed)
    its extra fields are not among its set fields, and where it validated they are:
    set fields are compared on the declared ones. Reading a hostile value by tag,
    where pydantic failed, can validate a model that was constructed before."""
    assert type(a) is type(b), path
    if isinstance(a, BaseModel):
        declared = set(type(a).model_fields)
        assert a.model_fields_set & declared == b.model_fields_set & declared, path
        assert a.__dict__.keys() == b.__dict__.keys(), path
        for key in a.__dict__:
            _alike(a.__dict__[key], b.__dict__[key], f"{path}.{key}")
        a_extra, b_extra = a.model_extra or {}, b.model_extra or {}
        assert a_extra.keys() == b_extra.keys(), path
        for key in a_extra:
            _alike(a_extra[key], b_extra[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _alike(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _alike(a[key], b[key], f"{path}.{key}")
    else:
        assert a == b and type(a) is type(b), path


@contextmanager
def smart_union(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The path before tags picked: a short list of a union goes to pydantic whole."""
    typed._plan.cache_clear()
    with monkeypatch.context() as patch:
        patch.setattr(plans, "tags_pick", lambda models, tags: False)
        try:
            yield
        finally:
            typed._plan.cache_clear()


def _final_responses() -> list[tuple[str, ResponseFlow]]:
    out = []
    for path in sorted((recordings_dir() / "responses").glob("*.sse")):
        flow = ResponseFlow()
        flow.feed_sse(path.read_bytes())
        flow.close()
        if flow.state.root is not None:
            out.append((path.stem, flow))
    assert out
    return out


def _snapshot(flow: ResponseFlow) -> Response:
    """The response as ``flow.response`` builds it, by the path that remembers nothing."""
    root = flow.state.root
    assert root is not None
    output = [item_model(flow._item_wire(item)) for item in flow._items()]
    result: Response = typed_model(Response, root.wire(), {"output": output}, learn=False)
    return result


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    value = copy.copy(value)
    value[path[0]] = _replaced(value[path[0]], path[1:], new)
    return value


def test_the_tagged_lists_are_those_whose_tags_pick() -> None:
    plan = typed._plan(Response)
    assert plan.tagged == {"output", "tools"}
    # instructions: "message" names three classes, and some take no type at all
    assert "instructions" in plan.lists and "instructions" not in plan.tagged


def test_a_tool_is_its_types_class() -> None:
    wire = {"id": "resp_1", "object": "response", "created_at": 1, "model": "m",
            "output": [], "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": False},
                      {"type": "web_search"}, {"type": "nonesuch", "x": 1},
                      {"type": "function", "name": 5}]}
    built = typed_model(Response, wire, {})
    function, search, unknown, bad = built.tools
    assert type(function) is FunctionTool and function.name == "f"
    assert type(search) is WebSearchTool
    assert unknown == {"type": "nonesuch", "x": 1}  # as it came, as the smart union left it
    assert type(bad) is FunctionTool  # its own class, built leniently:
    name: object = bad.name  # the wire's int, not the str the class declares
    assert name == 5
    assert "tools" in built.model_fields_set


def test_the_response_is_the_smart_unions_on_every_recording(
        monkeypatch: pytest.MonkeyPatch) -> None:
    flows = _final_responses()
    with smart_union(monkeypatch):
        before = [_snapshot(flow) for _, flow in flows]
    tools = 0
    for (name, flow), reference in zip(flows, before, strict=True):
        assert flow.response is not None
        _same(flow.response, reference, name)
        _same(_snapshot(flow), reference, name)
        tools += len(reference.tools)
    assert tools > 10  # the recordings do list tools of several types


def test_the_response_is_the_smart_unions_on_hostile_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each path into the tagged lists of each recording's final response (its
    server ``output`` included, so both are typed here): the lists, their first
    elements and those elements' fields, each holding each hostile value."""
    wires = []
    for _, flow in _final_responses():
        root = flow.state.root
        assert root is not None
        final = root.wire()
        for path in json_paths(final, list_items=1):
            if path and path[0] in ("tools", "output") and len(path) <= 3:
                wires += [_replaced(final, tuple(path), value) for value in HOSTILE]
    assert len(wires) > 1000  # about 1,100
    with smart_union(monkeypatch):
        before = [typed_model(Response, copy_of(w), {}, learn=False) for w in wires]
    for n, (wire, reference) in enumerate(zip(wires, before, strict=True)):
        _alike(typed_model(Response, copy_of(wire), {}), reference, f"input {n}")
