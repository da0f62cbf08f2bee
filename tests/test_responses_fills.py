"""A required scalar real servers omit is filled in, then taken out (issue 25).

Every real ``Response`` lacks ``usage.input_tokens_details.cache_write_tokens``, which
the SDK's type requires. ``typed_model`` remembers the path the first time; from then
on it fills a placeholder into a copy of the path's objects, validates the whole at
once and takes the field out of the result again (``typed._filled``). These tests
compare that path with the reference path, which remembers nothing
(``learn=False``: the part validated alone and built leniently where it fails), on
token counts never seen before, hostile values on the path and every shared
recording, and show that the wire is never written to.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Optional

import pytest
from conftest import recordings_dir
from openai.types.responses import Response, ResponseUsage
from openai.types.responses.response_usage import InputTokensDetails
from pydantic import BaseModel, Field
from test_responses_typed import _response_wire, _same

from runflow.protocols.responses import typed
from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.typed import typed_model

PATH = ("usage", "input_tokens_details", "cache_write_tokens")


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    """Each test starts from classes that remember nothing (and leaves them so)."""
    typed._plan.cache_clear()
    yield
    typed._plan.cache_clear()


def _fills(model: type[BaseModel]) -> set[tuple[str, ...]]:
    return {fill.path for fill in typed._plan(model).fills}


def _usage(cached: Any = 0, **details: Any) -> dict[str, Any]:
    return {"input_tokens": 36, "input_tokens_details": {"cached_tokens": cached, **details},
            "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 39}


def _both(model: type[BaseModel], wire: dict[str, Any], given: dict[str, Any]) -> Any:
    """The remembering path's result, after checking it is the reference one and that
    it left the wire as it was."""
    before = copy.deepcopy(wire)
    ours = typed_model(model, wire, given)
    assert wire == before  # nothing filled in stays in the wire
    _same(ours, typed_model(model, copy.deepcopy(wire), given, learn=False))
    return ours


def test_the_missing_field_is_learned_then_filled_in_for_any_token_count() -> None:
    _both(Response, _response_wire(), {"output": []})  # fails once: learned
    assert PATH in _fills(Response)
    assert "usage" not in typed._plan(Response).failed  # no longer typed alone first
    built_before = len(typed._plan(InputTokensDetails).built)
    for cached in (0, 1, 7, 1920, 10**12):  # values the class never saw
        built = _both(Response, _response_wire(usage=_usage(cached)), {"output": []})
        details = built.usage.input_tokens_details
        assert type(details) is InputTokensDetails and details.cached_tokens == cached
        assert "cache_write_tokens" not in details.model_fields_set
        assert "cache_write_tokens" not in details.__dict__
        assert details.model_dump(exclude_unset=True) == {"cached_tokens": cached}
    # nothing more was built leniently (nor remembered) for the new counts
    assert len(typed._plan(InputTokensDetails).built) == built_before


def test_the_fill_is_one_validation_of_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    _both(Response, _response_wire(), {"output": []})
    validated: list[str] = []
    real = typed._validate

    def counting(model: type[BaseModel], value: Any) -> Any:
        validated.append(model.__name__)
        return real(model, value)

    monkeypatch.setattr(typed, "_validate", counting)
    typed_model(Response, _response_wire(usage=_usage(12345)), {"output": []})
    assert validated == ["Response"]


def test_the_wire_and_its_nested_objects_are_left_as_they_were() -> None:
    _both(Response, _response_wire(), {"output": []})
    wire = _response_wire(usage=_usage(5))
    usage, details = wire["usage"], wire["usage"]["input_tokens_details"]
    typed_model(Response, wire, {"output": []})
    assert wire["usage"] is usage and usage["input_tokens_details"] is details
    assert details == {"cached_tokens": 5}


@pytest.mark.parametrize("details", [
    None, 5, "many", [], [{"cached_tokens": 1}], {}, {"cached_tokens": "many"},
    {"cached_tokens": 1, "cache_write_tokens": None},
    {"cached_tokens": 1, "cache_write_tokens": "x"},
    {"cached_tokens": 1, "cache_write_tokens": 4},
    {"cached_tokens": 1, "cache_write_tokens_details": {"x": 1}},
    {"cached_tokens": 1, "acme": {"nested": [1, 2]}},
    {"cached_tokens": 1, "_fields_set": 1, "cls": 2},
])
def test_hostile_values_on_the_path_build_what_the_reference_builds(details: Any) -> None:
    _both(Response, _response_wire(), {"output": []})
    usage = _usage()
    usage["input_tokens_details"] = details
    for _ in range(2):  # and again with whatever this one taught the classes
        _both(Response, _response_wire(usage=usage), {"output": []})
        _both(ResponseUsage, copy.deepcopy(usage), {})
        if type(details) is dict:
            _both(InputTokensDetails, copy.deepcopy(details), {})


@pytest.mark.parametrize("usage", [None, "lots", [1, 2], {}, {"input_tokens": 1},
                                   _usage(created="x"), {**_usage(), "total_tokens": "39"}])
def test_another_failure_beside_the_missing_field_builds_the_reference(usage: Any) -> None:
    _both(Response, _response_wire(), {"output": []})
    for _ in range(2):
        _both(Response, _response_wire(usage=usage), {"output": []})
        _both(Response, _response_wire(usage=usage, created_at="yesterday"), {"output": []})


class _Inner(BaseModel):
    n: int
    s: str
    tag: Literal["a"]
    at_least_one: Annotated[int, Field(ge=1)]
    aliased: int = Field(alias="Aliased")
    many: list[int]


class _Outer(BaseModel):
    inner: _Inner
    optional: Optional[_Inner] = None  # noqa: UP045 (the SDK's spelling, which typed reads)
    listed: list[_Inner] = []


def test_only_a_plain_scalar_at_a_path_of_single_models_is_filled() -> None:
    wire: dict[str, Any] = {"inner": {}, "optional": {"n": 1}, "listed": [{}]}
    for _ in range(3):
        _both(_Outer, copy.deepcopy(wire), {})
    assert _fills(_Outer) == {("inner", "n"), ("inner", "s"), ("optional", "s")}
    # the rest (a literal, a constrained int, an alias, a list, a path through a list)
    # is built leniently as before
    built = typed_model(_Outer, copy.deepcopy(wire), {})
    assert built.inner.model_fields_set == set()
    assert built.optional.model_fields_set == {"n"}


def test_a_value_that_fails_only_on_fillable_fields_is_validated_once_filled() -> None:
    class Flat(BaseModel):
        a: int
        b: str
        c: float
        d: bool
        e: int | None = None

    _both(Flat, {}, {})
    assert _fills(Flat) == {("a",), ("b",), ("c",), ("d",)}
    for wire in ({}, {"a": 1}, {"b": "x", "e": 3}, {"a": "x"}, {"a": 1, "b": "y", "c": 2.5,
                                                              "d": True}):
        _both(Flat, wire, {})


def test_what_a_class_remembers_to_fill_is_bounded() -> None:
    many = {f"f{i}": (int, ...) for i in range(typed._FILLS_MAX + 8)}
    from pydantic import create_model

    wide = create_model("Wide", **many)  # type: ignore[call-overload]
    for _ in range(3):
        _both(wide, {}, {})
    assert len(typed._plan(wide).fills) == typed._FILLS_MAX


def test_every_recording_with_token_counts_never_seen() -> None:
    folder = recordings_dir() / "responses"
    names = sorted(p.name for p in folder.glob("*.sse"))
    assert names
    read = 0
    for name in names:
        flow = ResponseFlow()
        flow.feed_sse((folder / name).read_bytes())
        flow.close()
        root = flow.state.root
        if root is None:
            continue
        output = list(flow.output)
        for step in range(3):
            wire = root.wire()
            usage = wire.get("usage")
            if type(usage) is dict and type(usage.get("input_tokens_details")) is dict:
                wire["usage"] = {**usage, "input_tokens_details": {
                    **usage["input_tokens_details"], "cached_tokens": 1000 + step}}
            _both(Response, wire, {"output": output})
            read += 1
    assert read and PATH in _fills(Response)


def test_reading_a_flow_leaves_what_the_server_sent_as_it_was() -> None:
    """The view types a finished item and the response from the server's objects
    themselves (no copy, view._final): reading never writes to them, and gives what
    typing a copy (tracker.wire()) gives."""
    folder = recordings_dir() / "responses"
    for name in sorted(p.name for p in folder.glob("*.sse")) * 2:  # then with fills
        flow = ResponseFlow()
        flow.feed_sse((folder / name).read_bytes())
        flow.close()
        trackers = [flow.state.root, *(t for kind in flow.state.children.values()
                                        for t in kind.values())]
        sent = [(t, t.raw, copy.deepcopy(t.raw)) for t in trackers if t is not None]
        response, output = flow.response, flow.output
        for tracker, raw, before in sent:
            assert tracker.raw is raw and raw == before, (name, tracker.label)
        root = flow.state.root
        if root is None:
            continue
        ours = [typed.item_model(t.wire()) for t in flow._items()]
        for a, b in zip(output, ours, strict=True):
            _same(a, b, name)
        _same(response, typed_model(Response, root.wire(), {"output": ours}), name)
