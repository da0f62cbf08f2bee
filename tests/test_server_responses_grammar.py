"""A checker of Responses streams, written from shared/RESPONSES.md, and its own tests.

:func:`stream_problems` reads a whole stream (the event payloads, in wire order)
and lists every place it leaves the grammar OpenAI follows: sequence numbers
0..n-1, ``created`` → [``queued``] → ``in_progress`` → items → one terminal
event, dense ``output_index``, ``item_id`` equal to the item's id, content and
summary indexes in order, deltas that concatenate to the ``.done`` value, which
is the part in ``content_part.done``, the item in ``output_item.done`` and the
output of the terminal response. It knows nothing of the server: the other
test modules run it over what the server sends, and here it must accept real
OpenAI captures and reject streams broken on purpose.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import recordings_dir

Event = dict[str, Any]

TERMINAL = {"response.completed": "completed", "response.incomplete": "incomplete",
            "response.failed": "failed"}
PART_BODY = {"output_text": ("response.output_text", "text"),
             "refusal": ("response.refusal", "refusal")}


class _Problems(Exception):
    pass


def _comparable(item: Event) -> Event:
    """An item without ``encrypted_content``, which OpenAI re-encrypts between its
    ``added``, ``done`` and final copies (RESPONSES.md §10)."""
    return {k: v for k, v in item.items() if k != "encrypted_content"}


def wire_events(raw: bytes) -> list[Event]:
    """The payloads of an SSE body framed as OpenAI frames it (else AssertionError):
    ``event: <type>`` then one ``data: <json>`` line then a blank line, ``event`` equal
    to ``data.type``, no ``[DONE]``, no ``id:``/``retry:``/comments."""
    text = raw.decode("utf-8")
    assert text == "" or text.endswith("\n\n"), "the body must end with a blank line"
    events = []
    for block in text.split("\n\n")[:-1]:
        lines = block.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith(
            "data: "), f"not an OpenAI frame: {block[:120]!r}"
        data = json.loads(lines[1][len("data: "):])
        assert data["type"] == lines[0][len("event: "):], "event must equal data.type"
        events.append(data)
    return events


class _Reader:
    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.at = 0
        self.problems: list[str] = []

    def peek(self) -> Event | None:
        return self.events[self.at] if self.at < len(self.events) else None

    def take(self, type_: str, **fields: Any) -> Event:
        event = self.peek()
        if event is None or event["type"] != type_:
            got = "the end" if event is None else event["type"]
            raise _Problems(f"event {self.at}: expected {type_}, got {got}")
        for key, value in fields.items():
            self.expect(event.get(key) == value,
                        f"{type_} {key} is {event.get(key)!r}, expected {value!r}")
        self.at += 1
        return event

    def expect(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(f"event {self.at}: {problem}")


def _part(r: _Reader, item: Event, index: int, content_index: int) -> Event:
    ids = {"item_id": item["id"], "output_index": index, "content_index": content_index}
    added = r.take("response.content_part.added", **ids)
    kind = added["part"]["type"]
    if kind not in PART_BODY:
        raise _Problems(f"unexpected part type {kind}")
    prefix, key = PART_BODY[kind]
    r.expect(added["part"][key] == "", f"{kind} part starts non-empty")
    pieces = []
    while (event := r.peek()) is not None and event["type"] == f"{prefix}.delta":
        pieces.append(r.take(f"{prefix}.delta", **ids)["delta"])
    done = r.take(f"{prefix}.done", **ids)
    r.expect(done[key] == "".join(pieces), f"{prefix} deltas do not add up to the .done value")
    part = r.take("response.content_part.done", **ids)["part"]
    r.expect(part == dict(added["part"], **{key: done[key]}),
             "content_part.done differs from the part added and its .done value")
    return dict(part)


def _reasoning_part(r: _Reader, item: Event, index: int, summary_index: int) -> Event:
    ids = {"item_id": item["id"], "output_index": index, "summary_index": summary_index}
    added = r.take("response.reasoning_summary_part.added", **ids)
    pieces = []
    while (event := r.peek()) is not None and (
            event["type"] == "response.reasoning_summary_text.delta"):
        pieces.append(r.take("response.reasoning_summary_text.delta", **ids)["delta"])
    done = r.take("response.reasoning_summary_text.done", **ids)
    r.expect(done["text"] == "".join(pieces), "summary deltas do not add up to the .done text")
    part = r.take("response.reasoning_summary_part.done", **ids)["part"]
    r.expect(part == dict(added["part"], text=done["text"]), "summary part.done differs")
    return dict(part)


def _item(r: _Reader, index: int, seen_ids: set[str]) -> Event:
    """One item: added, its body, done; returns the item as done."""
    added = r.take("response.output_item.added", output_index=index)["item"]
    r.expect(added["id"] not in seen_ids, f"item id {added['id']} used twice")
    seen_ids.add(added["id"])
    built = copy.deepcopy(added)
    if added["type"] == "message":
        r.expect(added.get("content") == [], "a message is added with content []")
        r.expect(added.get("status") == "in_progress", "a message is added in_progress")
        built["content"] = []
        while (event := r.peek()) is not None and event["type"] == "response.content_part.added":
            built["content"].append(_part(r, added, index, len(built["content"])))
    elif added["type"] == "function_call":
        r.expect(added.get("arguments") == "", "a function call is added with arguments ''")
        ids = {"item_id": added["id"], "output_index": index}
        pieces = []
        while (event := r.peek()) is not None and (
                event["type"] == "response.function_call_arguments.delta"):
            pieces.append(r.take("response.function_call_arguments.delta", **ids)["delta"])
        done = r.take("response.function_call_arguments.done", **ids)
        r.expect(done["arguments"] == "".join(pieces), "argument deltas do not add up")
        built["arguments"] = done["arguments"]
    elif added["type"] == "reasoning":
        built["summary"] = []
        while (event := r.peek()) is not None and (
                event["type"] == "response.reasoning_summary_part.added"):
            built["summary"].append(_reasoning_part(r, added, index, len(built["summary"])))
    else:
        raise _Problems(f"item type {added['type']} is not one this checker knows")
    item = r.take("response.output_item.done", output_index=index)["item"]
    built_keys = {k: v for k, v in _comparable(built).items() if k != "status"}
    r.expect({k: item.get(k) for k in built_keys} == built_keys,
             f"output_item.done {index} differs from what its events built")
    r.expect(item["id"] == added["id"], "output_item.done names another item")
    return dict(item)


def _check(r: _Reader) -> None:
    created = r.take("response.created")["response"]
    background = bool(created.get("background"))
    r.expect(created["status"] == ("queued" if background else "in_progress"),
             f"created with status {created['status']}")
    r.expect(created.get("output") == [] and created.get("usage") is None,
             "created carries output or usage")
    lifecycle = [created]
    if background:
        lifecycle.append(r.take("response.queued")["response"])
        r.expect(lifecycle[-1]["status"] == "queued", "queued is not queued")
    lifecycle.append(r.take("response.in_progress")["response"])
    r.expect(lifecycle[-1]["status"] == "in_progress", "in_progress is not in_progress")
    items: list[Event] = []
    seen: set[str] = set()
    while (event := r.peek()) is not None and event["type"] == "response.output_item.added":
        items.append(_item(r, len(items), seen))
    error = r.take("error") if (event := r.peek()) is not None and (
        event["type"] == "error") else None
    event = r.peek()
    if event is None or event["type"] not in TERMINAL:
        raise _Problems(f"event {r.at}: expected a terminal event, got "
                        f"{'the end' if event is None else event['type']}")
    final = r.take(event["type"])["response"]
    lifecycle.append(final)
    status = TERMINAL[event["type"]]
    r.expect(final["status"] == status, f"{event['type']} with status {final['status']}")
    r.expect(r.peek() is None, "events after the terminal event")
    r.expect(len({resp["id"] for resp in lifecycle}) == 1, "the response id changes")
    r.expect(all(resp.get("usage") is None and resp.get("completed_at") is None
                 for resp in lifecycle[:-1]), "usage or completed_at before the end")
    if status == "failed":
        r.expect(error is not None, "response.failed without an error event before it")
        r.expect(final.get("output") == [] and final.get("usage") is None,
                 "a failed response keeps output or usage")
        if error is not None:
            nested = error.get("error") or {}
            r.expect(set(nested) >= {"type", "code", "message", "param"},
                     "the error event is not nested as OpenAI sends it")
            r.expect(final.get("error") == {"code": nested.get("code"),
                                            "message": nested.get("message")},
                     "response.error differs from the error event")
        return
    r.expect(error is None, "an error event before a terminal other than failed")
    r.expect([_comparable(i) for i in final.get("output") or []] == [
        _comparable(i) for i in items], "the final output differs from the streamed items")
    r.expect(final.get("usage") is not None, "no usage at the terminal event")
    if status == "completed":  # older captures have no completed_at at all
        r.expect(final.get("completed_at", 0) is not None, "completed without completed_at")
    else:
        r.expect(items != [] and items[-1].get("status") == "incomplete",
                 "an incomplete response whose last item is not incomplete")
        r.expect(bool((final.get("incomplete_details") or {}).get("reason")),
                 "incomplete without incomplete_details.reason")


def stream_problems(events: list[Event]) -> list[str]:
    """Every rule of the module docstring the stream breaks ([] when it follows them)."""
    numbers = [event.get("sequence_number") for event in events]
    problems = [] if numbers == list(range(len(events))) else [
        f"sequence numbers are {numbers}, not 0..{len(events) - 1}"]
    reader = _Reader(events)
    try:
        _check(reader)
    except _Problems as exc:
        reader.problems.append(str(exc))
    except (KeyError, TypeError, IndexError) as exc:
        reader.problems.append(f"event {reader.at}: malformed ({type(exc).__name__}: {exc})")
    return problems + reader.problems


# -- the checker accepts OpenAI's own streams ----------------------------------------------

CAPTURES = ["openaidotnet_hello_text_gpt4omini.sse", "mirascope_parallel_function_calls_gpt4o.sse",
            "pydanticai_reasoning_summary_o3mini.sse",
            "ddtrace_incomplete_max_output_tokens_gpt4o.sse",
            "prism_error_rate_limited_gpt4o.sse", "pydanticai_background_create_gpt4o.sse"]


def capture(name: str) -> list[Event]:
    return wire_events((recordings_dir() / "responses" / name).read_bytes())


@pytest.mark.parametrize("name", CAPTURES)
def test_the_checker_accepts_openai_captures(name: str) -> None:
    events = capture(name)
    assert events and stream_problems(events) == []


# -- and rejects streams broken on purpose -------------------------------------------------


def _renumber(events: list[Event]) -> list[Event]:
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


def broken_streams() -> Iterator[tuple[str, list[Event]]]:
    text = capture("openaidotnet_hello_text_gpt4omini.sse")
    calls = capture("mirascope_parallel_function_calls_gpt4o.sse")
    reasoning = capture("pydanticai_reasoning_summary_o3mini.sse")
    failed = capture("prism_error_rate_limited_gpt4o.sse")
    yield "a gap in sequence numbers", text[:3] + text[4:]
    yield "a stream cut before its terminal event", text[:-1]
    yield "no response.created", _renumber(copy.deepcopy(text[1:]))
    broken = copy.deepcopy(text)
    broken[4]["delta"] += "!"
    yield "a delta that does not add up", broken
    broken = copy.deepcopy(text)
    broken[5]["item_id"] = "msg_other"
    yield "an item_id of another item", broken
    broken = copy.deepcopy(calls)
    broken[12]["output_index"] = 3
    yield "an output_index that is not dense", broken
    broken = copy.deepcopy(calls)
    broken[-1]["response"]["output"].reverse()
    yield "a final output in another order", broken
    broken = copy.deepcopy(reasoning)
    next(e for e in broken if e["type"] == "response.reasoning_summary_part.added"
         and e["summary_index"] == 1)["summary_index"] = 2
    yield "a summary_index skipped", broken
    broken = copy.deepcopy(text)
    broken[-2]["item"]["content"][0]["text"] = "something else"
    yield "an output_item.done unlike its parts", broken
    yield "two terminal events", _renumber(copy.deepcopy(text + text[-1:]))
    broken = copy.deepcopy(failed)
    broken[2]["error"] = {"message": "flat"}
    yield "an error event not nested", broken
    broken = copy.deepcopy(text)
    broken[1]["response"]["usage"] = {"total_tokens": 1}
    yield "usage before the end", broken


def test_the_checker_rejects_broken_streams() -> None:
    cases = list(broken_streams())
    assert len(cases) == 12
    for what, events in cases:
        assert stream_problems(events) != [], what


def test_the_wire_parser_refuses_other_framings() -> None:
    good = b'event: response.created\ndata: {"type":"response.created"}\n\n'
    assert wire_events(good) == [{"type": "response.created"}]
    for bad in (good + b"data: [DONE]\n\n", good.replace(b"event: response.created\n", b""),
                good.replace(b"event: response.created", b"event: other"), good[:-1],
                b": comment\n" + good, b"id: 1\n" + good):
        with pytest.raises((AssertionError, json.JSONDecodeError)):
            wire_events(bad)
