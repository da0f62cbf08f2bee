"""The ``call_id_unique`` rule (``duplicate_call_id``: no earlier call of the response
has a call's ``call_id``) keeps the call ids on the root
(:mod:`runflow.protocols.responses.call_ids`) instead of walking the earlier items at
every call, which made the work calls x calls (250 -> 2,000 calls: 96 -> 164 µs a
call). Here: the work is linear (counted, not timed); the findings are the walk's
(:func:`_walked`, the rule as it was) on streams of interleaved, renamed, adopted and
wrongly typed calls; a flow loaded from a checkpoint at any event, and one whose event
was undone half-way, find the same."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import runflow.protocols.responses.call_ids as call_ids_module
import runflow.protocols.responses.definition as definition
from runflow.engine.definition import Finding, Rule
from runflow.engine.violations import Code
from runflow.protocols.responses import slots
from runflow.protocols.responses.definition import RULES, build_responses
from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.slots import streamed_items


def _walked(state: Any, call: Any, obj: Any, event: str) -> Any:
    """The rule as it was: the earlier items walked at every call."""
    call_id = obj.get("call_id")
    if type(call_id) is not str:
        return ()
    for item in streamed_items(state):
        if item is call:
            return ()
        raw = item.raw
        if (item.entity in call_ids_module.CALL_KINDS and type(raw) is dict
                and raw.get("call_id") == call_id):
            return (Finding(f"{call.label} has call_id {definition._short(call_id)}, which "
                            f"{item.label} already has; an output answers a call by its "
                            "call_id, so one of them cannot be answered"),)
    return ()


def _reference_rules() -> tuple[Rule, ...]:
    return tuple(Rule(r.name, r.code, r.entity, r.phase, _walked, events=r.events,
                      source=r.source) if r.name == "call_id_unique" else r
                 for r in RULES if r.name != "call_ids_noted")


REFERENCE = build_responses(rules=_reference_rules())


def _response(status: str, output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "created_at": 1, "status": status,
            "model": "gpt-4o", "output": output or [], "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": []}


def _item(i: int, call_id: Any, status: str, kind: str = "function_call") -> dict[str, Any]:
    if kind == "message":
        return {"type": "message", "id": f"msg_{i}", "role": "assistant", "status": status,
                "content": []}
    return {"type": kind, "id": f"fc_{i}", "call_id": call_id, "name": "f",
            "arguments": "{}" if status == "completed" else "", "status": status}


def _done(i: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    """A call's arguments done (a function call's), then its output_item.done."""
    arguments = ([{"type": "response.function_call_arguments.done", "item_id": item["id"],
                   "output_index": i, "arguments": "{}"}]
                 if item["type"] == "function_call" else [])
    return [*arguments, {"type": "response.output_item.done", "output_index": i,
                         "item": item}]


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n".encode()
        for n, e in enumerate(events))


def _calls(call_ids: list[Any]) -> list[dict[str, Any]]:
    """A response with one function call per id, each added then done."""
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response("in_progress")}]
    for i, call_id in enumerate(call_ids):
        events.append({"type": "response.output_item.added", "output_index": i,
                       "item": _item(i, call_id, "in_progress")})
        events.extend(_done(i, _item(i, call_id, "completed")))
    events.append({"type": "response.completed", "response": _response(
        "completed", [_item(i, c, "completed") for i, c in enumerate(call_ids)])})
    return events


def _random(seed: int) -> list[dict[str, Any]]:
    """Calls and messages added and done in a shuffled order (interleaved), some
    never added (adopted at their done, past a gap or not), some renamed between
    added and done, some call ids of another type."""
    rng = random.Random(seed)
    ids = ["a", "b", "c", 7, None, ["a"]]
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response("in_progress")}]
    pending: list[tuple[int, dict[str, Any]]] = []
    n = rng.randint(1, 12)
    for i in range(n):
        kind = rng.choice(["function_call", "function_call", "shell_call", "message"])
        first, last = rng.choice(ids), rng.choice(ids)
        if rng.random() < 0.7:
            last = first
        if rng.random() < 0.85:
            events.append({"type": "response.output_item.added", "output_index": i,
                           "item": _item(i, first, "in_progress", kind)})
        pending.append((i, _item(i, last, "completed", kind)))
        while pending and rng.random() < 0.5:
            j, item = pending.pop(rng.randrange(len(pending)))
            events.extend(_done(j, item))
    rng.shuffle(pending)
    for j, item in pending:
        events.extend(_done(j, item))
    events.append({"type": "response.completed", "response": _response("completed")})
    return events


def _found(flow: ResponseFlow) -> list[tuple[str, int, str]]:
    return [(v.code.value, v.index, v.message) for v in flow.violations]


def _run(data: bytes, protocol: Any = None) -> ResponseFlow:
    flow = ResponseFlow(protocol=protocol)
    flow.feed_sse(data)
    flow.close()
    return flow


def test_the_earlier_items_are_not_walked_at_every_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Items looked at, by any rule, across a stream of n calls: linear in n (the walk
    at every call looked at n * (n - 1) / 2)."""
    looked: list[int] = []

    def counted_items(state: Any) -> list[Any]:
        items = streamed_items(state)  # (the function itself, imported before the patch)
        looked.append(len(items))
        return items

    item_at = slots.item_at

    def counted_item_at(state: Any, index: int) -> Any:
        looked.append(1)
        return item_at(state, index)

    monkeypatch.setattr(slots, "streamed_items", counted_items)  # what the rules call
    monkeypatch.setattr(definition, "streamed_items", counted_items, raising=False)  # (or
    # called: the walk at every call did)
    monkeypatch.setattr(call_ids_module, "item_at", counted_item_at)
    n = 400
    flow = _run(_sse(_calls([f"call_{i}" for i in range(n - 1)] + ["call_7"])))
    assert [(v.code, v.index) for v in flow.violations] == [
        (Code.DUPLICATE_CALL_ID, 3 * n)]  # the last call's output_item.done
    assert sum(looked) < 10 * n


def test_the_first_earlier_call_is_named() -> None:
    flow = _run(_sse(_calls(["x", "y", "x", "x"])))
    assert [(v.code, v.index) for v in flow.violations] == [
        (Code.DUPLICATE_CALL_ID, 9), (Code.DUPLICATE_CALL_ID, 12)]
    assert all("function_call fc_0 already has" in v.message for v in flow.violations)


@pytest.mark.parametrize("seed", range(300))
def test_the_findings_are_the_walk_s(seed: int) -> None:
    data = _sse(_random(seed))
    assert _found(_run(data)) == _found(_run(data, REFERENCE))


@pytest.mark.parametrize("seed", range(0, 300, 7))
def test_a_flow_loaded_at_any_event_finds_the_same(seed: int) -> None:
    events = _random(seed)
    whole = _found(_run(_sse(events)))
    data = _sse(events)
    cuts = [i for i in range(len(data)) if data.startswith(b"event: ", i)]
    for cut in cuts:
        first = ResponseFlow()
        first.feed_sse(data[:cut])
        loaded = ResponseFlow.from_json(first.to_json())
        loaded.feed_sse(data[cut:])
        loaded.close()
        assert _found(loaded) == whole, cut


def test_an_event_undone_half_way_leaves_the_call_ids_as_they_were() -> None:
    """Call 0 is added with call_id ``a``; its output_item.done names ``b`` and an
    after rule fails on it (only a bug can): the event is undone, call 0 holds ``a``
    again, and call 1 with ``a`` is its duplicate, as the walk finds too."""
    def failing(state: Any, call: Any, obj: Any, event: str) -> Any:
        if obj.get("call_id") == "b":
            raise RuntimeError("a bug")
        return ()

    fails = Rule("fails", Code.DUPLICATE_CALL_ID, "function_call", "after", failing,
                 events=frozenset({"response.output_item.done"}))
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response("in_progress")},
        {"type": "response.output_item.added", "output_index": 0,
         "item": _item(0, "a", "in_progress")},
        *_done(0, _item(0, "b", "completed")),
        {"type": "response.output_item.added", "output_index": 1,
         "item": _item(1, "a", "in_progress")},
        *_done(1, _item(1, "a", "completed")),
    ]
    data = _sse(events)
    new = _run(data, build_responses(rules=(*RULES, fails)))
    old = _run(data, build_responses(rules=(*_reference_rules(), fails)))
    assert _found(new) == _found(old)
    assert [(v.code, v.index) for v in new.violations
            if v.code in (Code.INTERNAL_ERROR, Code.DUPLICATE_CALL_ID)] == [
        (Code.INTERNAL_ERROR, 3), (Code.DUPLICATE_CALL_ID, 6)]
