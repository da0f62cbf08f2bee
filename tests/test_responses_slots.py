"""The slot keys of Responses items and parts, made once (issue 25), against the keys
formatted on each lookup that they replace; and the rules and reads that use them on
streams past the keys made once (items past output_index 255, parts past 15)."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest

from runflow.engine.state import Children
from runflow.protocols.responses import slots
from runflow.protocols.responses.flow import ResponseFlow


def _naive_run(state: Any, prefix: str) -> list[Any]:
    """The loop slots.streamed_items and slots' part lookups replaced: the entities at
    ``PREFIX/0``, ``PREFIX/1``, ... up to the first gap (a key formatted per lookup)."""
    out: list[Any] = []
    while (found := state.slots.get(f"{prefix}/{len(out)}")) is not None:
        entity = state.children[found[0]].get(found[1])
        if entity is None:
            break
        out.append(entity)
    return out


def _state(items: int, parts: dict[tuple[str, int], int], gap: int | None = None,
           orphan: int | None = None) -> Any:
    """A state with ``items`` items (none at ``gap``; ``orphan``'s slot names no
    entity) and, per (group, item), that many parts."""
    state = SimpleNamespace(slots={}, children=Children())
    for i in range(items):
        if i == gap:
            continue
        state.slots[f"output/{i}"] = ("message", f"m{i}")
        if i != orphan:
            state.children.setdefault("message", {})[f"m{i}"] = ("item", i)
    for (group, i), count in parts.items():
        for j in range(count):
            state.slots[f"{group}/{i}/{j}"] = ("part", f"{group}{i}.{j}")
            state.children.setdefault("part", {})[f"{group}{i}.{j}"] = ("part", group, i, j)
    return state


@pytest.mark.parametrize("items,gap,orphan", [
    (0, None, None), (1, None, None), (255, None, None), (256, None, None),
    (257, None, None), (600, None, None), (600, 300, None), (600, 100, None),
    (600, None, 256), (300, None, 12), (10, 0, None),
])
def test_streamed_items_are_the_naive_loops(items: int, gap: int | None,
                                            orphan: int | None) -> None:
    state = _state(items, {}, gap, orphan)
    assert slots.streamed_items(state) == _naive_run(state, "output")


@pytest.mark.parametrize("index", [0, 1, 15, 16, 17, 255, 256, 700])
@pytest.mark.parametrize("count", [0, 1, 15, 16, 17, 40])
def test_parts_are_the_naive_loops(index: int, count: int) -> None:
    state = _state(0, {(group, index): count for group in slots.PART_GROUPS})
    for group in slots.PART_GROUPS:
        naive = _naive_run(state, f"{group}/{index}")
        assert len(naive) == count
        assert slots.parts(state, group, index) == naive
        first = dict(slots.first_parts(index))[group]
        assert first == f"{group}/{index}/0"
        assert slots.parts(state, group, index, first) == naive
    assert slots.parts(state, "other", index) == []  # a group with no keys made


def test_keys_and_indices_are_the_formatted_and_parsed_ones() -> None:
    for index in [*range(300), 1023, 10**6]:
        key = f"output/{index}"
        assert slots.output_key(index) == key
        assert slots.index_of(SimpleNamespace(slot=key)) == index
        assert slots.previous_slot(key) == (f"output/{index - 1}" if index else None)
        assert slots.first_parts(index) == tuple(
            (group, f"{group}/{index}/0") for group in slots.PART_GROUPS)
        for group in slots.PART_GROUPS:
            part = f"{group}/{index}/{index % 40}"
            assert slots.index_of(SimpleNamespace(slot=part)) == index % 40
            assert slots.previous_slot(part) == (
                f"{group}/{index}/{index % 40 - 1}" if index % 40 else None)


# --------------------------------------------------------------------------- #
# the rules and the read past the keys made once
# --------------------------------------------------------------------------- #
P = "response."


def _stream(items: int, texts: dict[int, int]) -> list[dict[str, Any]]:
    """A response of ``items`` items: reasoning items without parts, but a message of
    ``texts[i]`` output_text parts at each index i of ``texts``."""
    response = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress",
                "model": "m", "output": [], "parallel_tool_calls": True, "tool_choice": "auto",
                "tools": []}
    events: list[dict[str, Any]] = [{"type": P + "created", "response": copy.deepcopy(response)}]
    output = []
    for i in range(items):
        if i in texts:
            item: dict[str, Any] = {"id": f"msg_{i}", "type": "message", "role": "assistant",
                                    "status": "in_progress", "content": []}
            events.append({"type": P + "output_item.added", "output_index": i, "item": item})
            content = []
            for j in range(texts[i]):
                part = {"type": "output_text", "text": "", "annotations": []}
                where = {"item_id": f"msg_{i}", "output_index": i, "content_index": j}
                events.append({"type": P + "content_part.added", **where, "part": part})
                events.append({"type": P + "output_text.delta", **where, "delta": f"p{j} "})
                events.append({"type": P + "output_text.done", **where, "text": f"p{j} "})
                done = {**part, "text": f"p{j} "}
                events.append({"type": P + "content_part.done", **where, "part": done})
                content.append(done)
            item = {**item, "status": "completed", "content": content}
        else:
            item = {"id": f"rs_{i}", "type": "reasoning", "summary": []}
            events.append({"type": P + "output_item.added", "output_index": i, "item": item})
        events.append({"type": P + "output_item.done", "output_index": i, "item": item})
        output.append(item)
    events.append({"type": P + "completed",
                   "response": {**response, "status": "completed", "output": output}})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


def _fed(events: list[dict[str, Any]]) -> ResponseFlow:
    flow = ResponseFlow()
    for event in events:
        flow.feed(event)
    flow.close()
    return flow


def _codes(flow: ResponseFlow) -> list[tuple[str, int, str]]:
    return [(v.code.value, v.index, v.message) for v in flow.violations]


def test_a_long_clean_response_past_the_keys_made_once() -> None:
    flow = _fed(_stream(300, {3: 2, 270: 20}))
    assert _codes(flow) == []
    assert flow.status == "completed"
    response = flow.response
    assert response is not None and len(response.output) == 300
    assert [item.id for item in response.output] == [
        f"msg_{i}" if i in (3, 270) else f"rs_{i}" for i in range(300)]
    assert flow.text == "p0 p1 \n\n" + "".join(f"p{j} " for j in range(20))


def _index_of(events: list[dict[str, Any]], kind: str, **where: Any) -> int:
    return next(i for i, e in enumerate(events) if e["type"] == P + kind
                and all(e.get(k) == v for k, v in where.items()))


def test_a_gap_past_the_keys_made_once_is_reported_at_its_index() -> None:
    events = _stream(300, {270: 20})
    added = _index_of(events, "output_item.added", output_index=290)
    events = [e for i, e in enumerate(events) if i not in (added, added + 1)]
    events[-1]["response"]["output"].pop(290)
    for number, event in enumerate(events):
        event["sequence_number"] = number
    at = _index_of(events, "output_item.added", output_index=291)
    flow = _fed(events)
    assert ("content_index_gap", at, "response.output_item.added at output_index 291, but "
            "output_index 290 was never added; indices are dense and in order") in _codes(flow)


def test_a_part_gap_past_the_keys_made_once_rejects_the_part() -> None:
    events = _stream(300, {270: 20})
    added = _index_of(events, "content_part.added", output_index=270, content_index=17)
    events = [e for i, e in enumerate(events) if not added <= i < added + 4]  # part 17
    for number, event in enumerate(events):
        event["sequence_number"] = number
    gap = _index_of(events, "content_part.added", output_index=270, content_index=18)
    assert _codes(_fed(events))[0] == (
        "content_index_gap", gap, "response.content_part.added at content_index 18, but "
        "content_index 17 was never added; indices are dense and in order")


def test_an_open_part_past_the_keys_made_once_is_reported_when_its_item_ends() -> None:
    events = _stream(300, {270: 20})
    events.pop(_index_of(events, "content_part.done", output_index=270, content_index=19))
    for number, event in enumerate(events):
        event["sequence_number"] = number
    closed = _index_of(events, "output_item.done", output_index=270)
    assert [c for c in _codes(_fed(events)) if c[1] == closed] == [
        ("children_open_at_terminal", closed,
         "message msg_270 ended while its output_text msg_270:19 is still 'text_done'")]


def test_an_item_added_while_the_one_before_is_open_past_the_keys_made_once() -> None:
    events = _stream(300, {})
    done = _index_of(events, "output_item.done", output_index=280)
    events.insert(done + 3, events.pop(done))  # item 281 is added while 280 is open
    for number, event in enumerate(events):
        event["sequence_number"] = number
    at = _index_of(events, "output_item.added", output_index=281)
    assert ("items_interleaved", at, "reasoning rs_281 was added while reasoning rs_280 is "
            "still 'in_progress'; OpenAI closes each item before the next") in _codes(
                _fed(events))
