"""What an enter callback receives costs less (issue 25) and still shares nothing.

The Assistants flow's callbacks get an object built from a copy of the wire object
(``Tracker.detached_snapshot``), or the cached snapshot copied by hand
(``copy_model``) instead of ``model_copy(deep=True)``; the Responses flow's objects are
copied by ``copy_model`` too. Here, on every real capture of both protocols, a
callback on every state of every kind records what it got and then wrecks it down to
the leaves: what it got is the SDK's type with the flow's values at that point, and
the flow ends exactly as a flow with no callbacks does. ``copy_model`` gives what
pydantic's deep copy gives and shares no container with the original.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import recordings_dir
from pydantic import BaseModel

from runflow.engine.entities import copy_model
from runflow.engine.flow import Flow
from runflow.protocols.assistants.flow import RunFlow
from runflow.protocols.responses.flow import ResponseFlow


def _captures(protocol: str) -> list[bytes]:
    folder = recordings_dir() / ("responses" if protocol == "responses" else "")
    return [p.read_bytes() for p in sorted(folder.glob("*.sse"))]


def _new(protocol: str) -> Flow:
    return ResponseFlow() if protocol == "responses" else RunFlow()


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return (type(value).__qualname__, value.model_dump(mode="json", warnings=False))
    return json.loads(json.dumps(value))


def _wreck(value: Any) -> None:
    """Change everything reachable from ``value`` in place, leaves first."""
    if isinstance(value, BaseModel):
        extra = value.__pydantic_extra__ or {}
        for inner in [*value.__dict__.values(), *extra.values()]:
            _wreck(inner)
        for key in list(value.__dict__):
            object.__setattr__(value, key, "wrecked")
        extra.clear()
    elif isinstance(value, dict):
        for inner in value.values():
            _wreck(inner)
        for key in value:
            value[key] = "wrecked"
        value["added"] = ["wrecked"]
    elif isinstance(value, list):
        for inner in value:
            _wreck(inner)
        value[:] = ["wrecked"]


def _fed(protocol: str, data: bytes, wreck: bool | None) -> tuple[Flow, list[Any]]:
    """A flow fed ``data``; unless ``wreck`` is None, with a callback on every state
    of every kind that records what it got (and wrecks it when ``wreck``)."""
    flow, got = _new(protocol), []
    if wreck is not None:
        for kind, table in flow.protocol.tables.items():
            for state in table.states:
                if state == table.initial:
                    continue

                def seen(obj: Any, kind: str = kind, state: str = state) -> None:
                    got.append((kind, state, type(obj), _dump(obj)))
                    if wreck:
                        _wreck(obj)

                flow._on_enter(kind, state)(seen)
    flow.feed_sse(data)
    flow.close()
    return flow, got


@pytest.mark.parametrize("protocol", ["assistants", "responses"])
def test_callbacks_that_wreck_what_they_get_change_nothing(protocol: str) -> None:
    called = 0
    for data in _captures(protocol):
        plain, _ = _fed(protocol, data, None)
        kept, reference = _fed(protocol, data, False)
        wrecked, got = _fed(protocol, data, True)
        assert got == reference
        called += len(got)
        for flow in (kept, wrecked):
            assert flow.to_json() == plain.to_json()
        snapshots = [_dump(t.snapshot()) for kids in wrecked.state.children.values()
                     for t in kids.values() if t.model is not None]
        assert snapshots == [_dump(t.snapshot()) for kids in plain.state.children.values()
                             for t in kids.values() if t.model is not None]
    assert called > 50  # the captures do fire callbacks


def _containers(value: Any, out: dict[int, Any]) -> dict[int, Any]:
    """Every dict, list and model reachable from ``value``, by id (kept alive)."""
    if isinstance(value, BaseModel):
        out[id(value)] = value
        for inner in [*value.__dict__.values(), *(value.__pydantic_extra__ or {}).values()]:
            _containers(inner, out)
    elif isinstance(value, (dict, list)):
        out[id(value)] = value
        for inner in value.values() if isinstance(value, dict) else value:
            _containers(inner, out)
    return out


def _typed(protocol: str) -> list[BaseModel]:
    out: list[BaseModel] = []
    for data in _captures(protocol):
        flow, _ = _fed(protocol, data, None)
        trackers = [t for kids in flow.state.children.values() for t in kids.values()]
        trackers += [t for t in (flow.state.root,) if t is not None]
        out += [t.snapshot() for t in trackers if t.model is not None]
    return out


@pytest.mark.parametrize("protocol", ["assistants", "responses"])
def test_copy_model_is_a_deep_copy_sharing_no_container(protocol: str) -> None:
    models = _typed(protocol)
    assert len(models) > 10
    for model in models:
        copied, reference = copy_model(model), model.model_copy(deep=True)
        assert type(copied) is type(model)
        assert copied == reference == model
        assert copied.model_fields_set == model.model_fields_set
        assert copied.model_extra == model.model_extra
        assert not set(_containers(copied, {})) & set(_containers(model, {}))


def test_a_detached_snapshot_is_the_snapshot_sharing_nothing_with_the_tracker() -> None:
    for data in _captures("assistants"):
        flow, _ = _fed("assistants", data, None)
        for kids in flow.state.children.values():
            for tracker in kids.values():
                tracker.typed = None
                built = tracker.detached_snapshot()  # from a copy of the wire object
                assert tracker.typed is None  # not cached
                cached = tracker.snapshot()
                again = tracker.detached_snapshot()  # the cached one copied
                assert type(built) is type(cached) is type(again)
                assert built == cached == again
                flow_side = _containers(cached, {})
                _containers(tracker.raw, flow_side)
                if tracker.acc is not None:
                    _containers(tracker.wire(), flow_side)
                for copy in (built, again):
                    assert not set(_containers(copy, {})) & set(flow_side)


# --------------------------------------------------------------------------- #
# per-flow set-up: a kind's dict made with its first entity, slots as tuples
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("protocol", ["assistants", "responses"])
def test_children_hold_only_the_kinds_seen_and_checkpoints_every_kind(protocol: str) -> None:
    for data in _captures(protocol):
        flow, _ = _fed(protocol, data, None)
        state, kinds = flow.state, flow.protocol.children
        seen = {t.entity for kids in state.children.values() for t in kids.values()}
        assert set(state.children) == seen
        for kind in set(kinds) - seen:
            assert dict(state.children[kind]) == {}  # reads as empty
            assert state.children.get(kind) is None
        assert all(type(named) is tuple and len(named) == 2 for named in state.slots.values())

        saved = json.loads(flow.to_json())["state"]
        assert list(saved["children"]) == list(kinds)  # every kind, the definition's order
        restored = type(flow).from_json(flow.to_json())
        assert restored.to_json() == flow.to_json()
        assert set(restored.state.children) == seen
        assert restored.state.slots == state.slots
        assert all(type(named) is tuple for named in restored.state.slots.values())


def test_the_shared_empty_kind_refuses_writes_and_stays_empty() -> None:
    from runflow.engine.state import NO_CHILDREN

    flow = ResponseFlow()
    empty = flow.state.children["message"]
    assert empty is NO_CHILDREN
    tracker = _typed_trackers()[0]
    for write in (lambda: empty.__setitem__("x", tracker), lambda: empty.setdefault("x", tracker),
                  lambda: empty.update(x=tracker)):
        with pytest.raises(TypeError, match="read-only"):
            write()
    assert dict(NO_CHILDREN) == {} and ResponseFlow().state.children["message"] == {}


def _typed_trackers() -> list[Any]:
    flow, _ = _fed("responses", _captures("responses")[0], None)
    return [t for kids in flow.state.children.values() for t in kids.values()]


def test_a_checkpoint_slot_of_the_wrong_length_is_refused() -> None:
    from runflow import CheckpointError

    flow, _ = _fed("responses", _captures("responses")[0], None)
    record = json.loads(flow.to_json())
    slot = next(iter(record["state"]["slots"]))
    for bad in ([], ["message"], ["message", "a", "b"], "message a", None):
        record["state"]["slots"][slot] = bad
        with pytest.raises(CheckpointError, match=rf"state\.slots\.{slot}"):
            ResponseFlow.from_json(json.dumps(record))
