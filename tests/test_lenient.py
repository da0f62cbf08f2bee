"""The lenient snapshot (runflow.engine.lenient): an object that does not validate
is built field by field -- validated where it can be, by the SDK's ``construct_type``
where not -- and must be exactly what the SDK's own ``construct`` makes of it, on
the recordings' objects and on hostile variants of them, sharing nothing with the
wire object when asked to."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from conftest import RECORDINGS, load_events, recordings_dir
from openai._models import BaseModel as SDKModel
from openai.types.beta.threads import Run
from pydantic import BaseModel, Field, ValidationError

from runflow import RunFlow
from runflow.engine.entities import Tracker, copy_of, merge_server_object
from runflow.engine.lenient import bound_to_fail, lenient_model
from runflow.protocols.assistants.definition import ASSISTANTS, Entity

KINDS: dict[str, Entity] = {
    "thread.run": Entity.RUN, "thread.run.step": Entity.STEP,
    "thread.message": Entity.MESSAGE, "thread": Entity.THREAD,
}
"""The entity of each full object, by its ``object`` field."""

HOSTILE: list[Any] = [None, "x", "5", 5, 0, 1.5, 1.0, -0.0, True, False, 2**64, 2**53 + 1,
                      [], {}, [None], ["x"], [{"type": "retrieval"}], [{"type": "function"}],
                      {"type": "nope"}, {"type": "function", "function": 5},
                      {"x": [1, {"y": None}]}, float("nan")]
"""Values put in place of a field: every JSON type, the lax-mode coercions pydantic
makes and ``construct`` does not ("5" to 5, 1.0 to 1, 0 to False), tools and tool
calls of unknown or broken types."""

STRIDE = 7
"""One variant in seven is checked (about 5,000; all of them take half a minute):
coprime with the number of variants made per field (23) and per nested field (6),
so each change is tried on every seventh field."""

MINIMAL_RUN: dict[str, Any] = {
    "id": "run_1", "object": "thread.run", "created_at": 1, "assistant_id": "asst_1",
    "thread_id": "thread_1", "status": "queued", "instructions": None, "model": "gpt-4o",
    "tools": [{"type": "retrieval"}, {"type": "code_interpreter"}], "metadata": {"k": "v"},
    "vendor": {"nested": [1, 2]},
}
"""A run as an old server sends it (no recordings needed): a null ``instructions``,
no ``parallel_tool_calls``, a ``retrieval`` tool, a vendor field."""


def _reference(model: type[BaseModel], wire: dict[str, Any]) -> BaseModel:
    """The snapshot as runflow built it before the lenient builder: validated, else
    the SDK's ``construct`` on a copy."""
    try:
        return model.model_validate(wire)
    except ValidationError:
        return model.construct(**copy_of(wire))


def _tracker(kind: Entity, wire: dict[str, Any]) -> Tracker:
    """A tracker of ``kind`` whose last full object is ``wire``."""
    tracker = Tracker(ASSISTANTS.tables[kind], "id_1")
    merge_server_object(tracker, wire)
    return tracker


def _built(model: type[BaseModel], wire: dict[str, Any]) -> BaseModel:
    """The snapshot of a run whose last full object is ``wire``, as a callback gets it."""
    assert model is Run
    return _tracker(Entity.RUN, wire).detached_snapshot()


def _same(a: Any, b: Any, path: str = "$") -> None:
    """``a`` and ``b`` are the same snapshot: same classes (``1``, ``1.0`` and
    ``True`` are three), values, set fields, field order and extras, to the leaves."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, BaseModel):
        assert a.model_fields_set == b.model_fields_set, path
        assert list(a.__dict__) == list(b.__dict__), path
        for key in a.__dict__:
            _same(a.__dict__[key], b.__dict__[key], f"{path}.{key}")
        _same(a.__pydantic_extra__, b.__pydantic_extra__, f"{path}[extra]")
        assert a.__pydantic_private__ == b.__pydantic_private__, path
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key in a:
            _same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif a != a:  # nan
        assert b != b, path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _containers(value: Any, out: dict[int, Any]) -> dict[int, Any]:
    """Every mutable container reachable from ``value``, by id (kept alive in ``out``)."""
    if isinstance(value, BaseModel):
        out[id(value)] = value
        for inner in (value.__dict__, value.__pydantic_extra__ or {}):
            out[id(inner)] = inner
            for item in inner.values():
                _containers(item, out)
    elif isinstance(value, dict):
        out[id(value)] = value
        for item in value.values():
            _containers(item, out)
    elif isinstance(value, list):
        out[id(value)] = value
        for item in value:
            _containers(item, out)
    return out


def _shape(value: Any) -> Any:
    """``value`` with its numbers and long strings replaced by their type's name."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    short = isinstance(value, str) and len(value) <= 24
    return value if short or value is None or isinstance(value, bool) else type(value).__name__


def _objects() -> list[tuple[Entity, dict[str, Any]]]:
    """A full object of the Assistants recordings of each distinct shape (fields,
    types, short strings such as types and statuses), with its entity."""
    recordings_dir()
    seen: dict[str, tuple[Entity, dict[str, Any]]] = {}
    for path in sorted(RECORDINGS.glob("*.jsonl")):
        for event in load_events(path.name):
            data = event.get("data")
            if not isinstance(data, dict):
                continue
            kind = KINDS.get(str(data.get("object")))
            if kind is not None:
                seen.setdefault(json.dumps([kind, _shape(data)], sort_keys=True), (kind, data))
    return list(seen.values())


def _variants(wire: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``wire`` with one field removed or replaced by each :data:`HOSTILE` value, with
    a vendor field added, and with one field of a nested object (at any depth, in
    the first element of a list) removed or replaced by a few."""
    yield {**wire, "vendor_field": {"a": [1, {"b": None}]}}
    for key in wire:
        yield {k: v for k, v in wire.items() if k != key}
        for bad in HOSTILE:
            yield {**wire, key: bad}
    for key, value in wire.items():
        for changed in _nested(value):
            yield {**wire, key: changed}


def _nested(value: Any, depth: int = 5) -> Iterator[Any]:
    """``value`` with one field of an object in it removed or replaced."""
    if depth == 0:
        return
    if isinstance(value, list) and value:
        for changed in _nested(value[0], depth):
            yield [changed, *value[1:]]
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield {k: v for k, v in value.items() if k != key}
            for bad in (None, "x", "5", 1.0, {"type": "nope"}):
                yield {**value, key: bad}
            for changed in _nested(inner, depth - 1):
                yield {**value, key: changed}


# --------------------------------------------------------------------------- #
def test_an_old_servers_run_is_what_construct_makes_of_it() -> None:
    assert bound_to_fail(Run, MINIMAL_RUN)  # no parallel_tool_calls: no validation tried
    built = _built(Run, MINIMAL_RUN)
    _same(built, Run.construct(**copy_of(MINIMAL_RUN)))
    assert built.instructions is None and built.parallel_tool_calls is None  # type: ignore[attr-defined]
    assert built.metadata == {"k": "v"} and built.model_extra == {"vendor": {"nested": [1, 2]}}  # type: ignore[attr-defined]
    assert "parallel_tool_calls" not in built.model_fields_set


def test_a_value_pydantic_would_coerce_is_kept_as_it_came() -> None:
    # "5" for an int passes lax validation, not construct: the object failed (null
    # instructions), so it is kept as construct keeps it; an optional field is
    # validated by construct in lax mode (1.0 to 1), and an int for a float is a float
    wire = {**MINIMAL_RUN, "parallel_tool_calls": True, "created_at": "5", "expires_at": 1.0,
            "temperature": 1}
    built = _built(Run, wire)
    _same(built, Run.construct(**copy_of(wire)))
    assert built.created_at == "5"  # type: ignore[attr-defined]
    assert type(built.expires_at) is int  # type: ignore[attr-defined]
    assert type(built.temperature) is float  # type: ignore[attr-defined]


def test_a_nested_object_that_validates_only_in_lax_mode_is_validated_as_construct_does() -> None:
    # construct validates a union (Optional[Usage]) in lax mode first: "5" becomes 5
    # there, while a plain int field keeps its "5" (see above)
    wire = {**MINIMAL_RUN, "usage": {"completion_tokens": 1.0, "prompt_tokens": "5",
                                     "total_tokens": 6}}
    built = _built(Run, wire)
    _same(built, Run.construct(**copy_of(wire)))
    assert built.usage is not None and built.usage.prompt_tokens == 5  # type: ignore[attr-defined]


class _Inner(SDKModel):
    n: int
    tag: Literal["a", "b"] | None = None


class _Outer(SDKModel):
    inner: _Inner
    inners: list[_Inner] | None = None
    kind: Literal["outer"]


def test_a_model_field_not_in_a_union_is_built_as_construct_builds_it() -> None:
    # construct builds a field typed as a model (not Optional) by construct, which
    # keeps "5": validating it, even in a strict outer model, would make it 5
    wire = {"inner": {"n": "5", "tag": "a"}, "inners": [{"n": 1.0}, {"n": 2}], "kind": "?"}
    reference = _Outer.construct(**copy_of(wire))
    assert reference.inner.n == "5"  # type: ignore[comparison-overlap]
    for failed in ((), ("kind",)):
        _same(lenient_model(_Outer, copy_of(wire), failed, copy_of), reference)


class _TypedExtra(SDKModel):
    __pydantic_extra__: dict[str, _Inner]
    n: int


class _Aliased(SDKModel):
    schema_: int = Field(alias="schema")
    kind: Literal["k"]


def test_a_model_the_fields_copy_cannot_stand_for_is_built_by_construct() -> None:
    # construct builds the extras of the first as _Inner; the second's field has an alias
    for model, wire in ((_TypedExtra, {"n": "x", "m": {"n": "5"}}),
                        (_Aliased, {"schema": 1.0, "kind": "?", "x": [1]})):
        assert not bound_to_fail(model, wire)
        _same(lenient_model(model, copy_of(wire), (), copy_of), model.construct(**copy_of(wire)))


def test_a_null_instructions_alone_is_bound_to_fail_and_a_conforming_run_is_not() -> None:
    wire = {**MINIMAL_RUN, "parallel_tool_calls": True, "tools": []}
    assert bound_to_fail(Run, wire)
    assert not bound_to_fail(Run, {**wire, "instructions": ""})
    assert not bound_to_fail(Run, {**wire, "instructions": "", "temperature": None})
    _same(_built(Run, wire), Run.construct(**copy_of(wire)))


def test_recorded_objects_and_hostile_variants_are_what_runflow_built_before() -> None:
    objects = _objects()
    assert {kind for kind, _ in objects} >= {Entity.RUN, Entity.STEP, Entity.MESSAGE}
    checked = lenient = 0
    for kind, wire in objects:
        for variant in itertools.islice(_variants(wire), None, None, STRIDE):
            shape = ASSISTANTS.tables[kind].shape
            if shape is not None and not shape.fits(variant):
                continue  # a flow reports it (malformed_event) and never merges it
            tracker = _tracker(kind, variant)
            model = tracker.model
            assert model is not None
            reference = _reference(model, tracker.wire())
            detached, cached = tracker.detached_snapshot(), tracker.snapshot()
            try:
                _same(detached, reference)
                _same(cached, reference)
            except AssertionError as exc:
                raise AssertionError(f"{kind} {json.dumps(variant)[:300]}") from exc
            checked += 1
            if not _validates(model, tracker.wire()):
                lenient += 1  # built from a copy, whether cached or handed to a callback
                flow_side = _containers(tracker.raw, _containers(tracker.wire(), {}))
                assert not set(_containers(detached, {})) & set(flow_side)
                assert not set(_containers(cached, {})) & set(flow_side)
    assert checked > 4000 and lenient > 3000  # most variants take the lenient path


def _validates(model: type[BaseModel], wire: dict[str, Any]) -> bool:
    try:
        model.model_validate(wire)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("stream", ["dotnet_file_search_file_citation.sse",
                                    "simpleopenai_create_and_run_function_requires_action_v1_2024.sse"])
def test_a_callback_gets_the_lenient_snapshot_and_editing_it_changes_nothing(stream: str) -> None:
    data = (recordings_dir() / stream).read_bytes()
    got: list[Run] = []
    flow = RunFlow()
    flow.on_run("completed")(got.append)
    flow.on_run("requires_action")(got.append)
    flow.feed_sse(data)
    flow.close()
    root = flow.state.root
    assert got and root is not None and not _validates(Run, root.wire())
    _same(got[-1], Run.construct(**copy_of(root.wire())))
    before = flow.run
    assert before is not None
    dumped = before.model_dump()
    for run in got:
        for key in list(run.__dict__):
            run.__dict__[key] = "edited"
        run.__pydantic_extra__.clear()  # type: ignore[union-attr]
    assert flow.run is not None and flow.run.model_dump() == dumped
