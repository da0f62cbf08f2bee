"""Hostile input on the Responses definition.

* Type confusion at every field of every event (:mod:`runflow.testing.typefuzz`
  with :data:`~runflow.testing.typefuzz.RESPONSES_FUZZ`): wrong types, huge, deep
  and odd-unicode values, fed as SSE bytes, as dicts and as the openai SDK's own
  event objects, each input checked event by event (no untyped exception, no
  ``internal_error``, every violation at its event's index, a rejected event
  changes nothing, nothing received is lost).
* Limits reached on Responses streams: a typed ``limit_exceeded``, the flow goes
  on, memory stays bounded (``tracemalloc`` peaks and growth, never time).
* What the fuzzer found, pinned as strict xfails: each says what a fix must make
  true, and turns into a failure once it holds (then drop the mark and, for an
  escape, its row of :data:`KNOWN_ESCAPES`).

The bounded fuzz takes :data:`BUDGET` inputs over the short captures and a few
seed streams built here. The long run over every capture::

    RUNFLOW_RESPONSES_FUZZ=100000 RUNFLOW_RESPONSES_FUZZ_CORPUS=all \\
    RUNFLOW_RESPONSES_FUZZ_SEED=1 pytest tests/test_responses_hostile.py -k fuzz_finds -s
"""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest
from conftest import recordings_dir

from runflow import Limits
from runflow.engine.violations import Code
from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.values import StreamedText
from runflow.testing.typefuzz import (
    RESPONSES_FUZZ,
    Corpus,
    Input,
    json_paths,
    load_corpus,
    run_input,
    run_typefuzz,
    seed_corpus,
    stepwise_problems,
)

BUDGET = int(os.environ.get("RUNFLOW_RESPONSES_FUZZ", "1500"))
SEED = int(os.environ.get("RUNFLOW_RESPONSES_FUZZ_SEED", "0"))
MAX_EVENTS = 60
"""Captures up to this many events make the bounded run's corpus (the long run
takes every capture)."""
MB = 1024 * 1024

KNOWN_ESCAPES: set[tuple[str, str, str, str, str]] = set()
# (exception, file, function, mode, value) the fuzzer may still find; none today


# --------------------------------------------------------------------------- #
# seed streams in the wire shape of the OpenAI captures
# --------------------------------------------------------------------------- #
Event = dict[str, Any]
RID = "resp_hostile"


def response(status: str, output: list[Event] | None = None) -> Event:
    return {"id": RID, "object": "response", "created_at": 1774963893, "status": status,
            "error": None, "incomplete_details": None, "model": "gpt-4o-mini",
            "output": output or [], "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": [], "temperature": 1.0, "top_p": 1.0, "usage": None, "metadata": {}}


class Stream:
    """Numbered Responses events (data-named dicts), built item by item."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.output: list[Event] = []
        self.add("response.created", response=response("in_progress"))
        self.add("response.in_progress", response=response("in_progress"))

    def add(self, kind: str, **fields: Any) -> None:
        self.events.append({"type": kind, "sequence_number": len(self.events), **fields})

    def message(self, deltas: list[str]) -> Stream:
        index, mid = len(self.output), f"msg_{len(self.output)}"
        self.add("response.output_item.added", output_index=index,
                 item={"id": mid, "type": "message", "status": "in_progress", "content": [],
                       "role": "assistant"})
        where = {"item_id": mid, "output_index": index, "content_index": 0}
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        self.add("response.content_part.added", **where, part=part)
        for delta in deltas:
            self.add("response.output_text.delta", **where, delta=delta, logprobs=[])
        text = "".join(deltas)
        self.add("response.output_text.done", **where, text=text, logprobs=[])
        done = {**part, "text": text}
        self.add("response.content_part.done", **where, part=done)
        item = {"id": mid, "type": "message", "status": "completed", "content": [done],
                "role": "assistant"}
        self.add("response.output_item.done", output_index=index, item=item)
        self.output.append(item)
        return self

    def function_call(self, fragments: list[str]) -> Stream:
        index, fid = len(self.output), f"fc_{len(self.output)}"
        item = {"id": fid, "type": "function_call", "status": "in_progress", "arguments": "",
                "call_id": f"call_{index}", "name": "get_weather"}
        self.add("response.output_item.added", output_index=index, item=item)
        for fragment in fragments:
            self.add("response.function_call_arguments.delta", item_id=fid, output_index=index,
                     delta=fragment)
        arguments = "".join(fragments)
        self.add("response.function_call_arguments.done", item_id=fid, output_index=index,
                 arguments=arguments)
        done = {**item, "status": "completed", "arguments": arguments}
        self.add("response.output_item.done", output_index=index, item=done)
        self.output.append(done)
        return self

    def reasoning(self, summaries: list[list[str]]) -> Stream:
        index, rid = len(self.output), f"rs_{len(self.output)}"
        self.add("response.output_item.added", output_index=index,
                 item={"id": rid, "type": "reasoning", "summary": []})
        parts = []
        for s, deltas in enumerate(summaries):
            where = {"item_id": rid, "output_index": index, "summary_index": s}
            self.add("response.reasoning_summary_part.added", **where,
                     part={"type": "summary_text", "text": ""})
            for delta in deltas:
                self.add("response.reasoning_summary_text.delta", **where, delta=delta)
            text = "".join(deltas)
            self.add("response.reasoning_summary_text.done", **where, text=text)
            parts.append({"type": "summary_text", "text": text})
            self.add("response.reasoning_summary_part.done", **where, part=parts[-1])
        done = {"id": rid, "type": "reasoning", "summary": parts}
        self.add("response.output_item.done", output_index=index, item=done)
        self.output.append(done)
        return self

    def end(self) -> list[Event]:
        self.add("response.completed", response=response("completed", self.output))
        return self.events


def seeds() -> dict[str, list[Event]]:
    return {
        "seed: text": Stream().message(["Hel", "lo", " there"]).end(),
        "seed: reasoning, call, text": Stream().reasoning([["**Plan**", " look"], ["ok"]])
        .function_call(['{"city":', '"Paris"}']).message(["Done", "."]).end(),
    }


def sse(events: list[Event]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def fed(events: list[Event], **options: Any) -> ResponseFlow:
    flow = ResponseFlow(**options)
    for event in events:
        flow.feed(event)
    return flow


def codes(flow: ResponseFlow) -> list[str]:
    return [v.code.value for v in flow.violations]


@cache
def corpus() -> Corpus:
    folder = recordings_dir() / "responses"
    if os.environ.get("RUNFLOW_RESPONSES_FUZZ_CORPUS") == "all":
        names = None
    else:
        names = [p.name for p in sorted(folder.glob("*.sse"))
                 if p.read_bytes().count(b"\n\n") <= MAX_EVENTS]
    captures = load_corpus(folder, names, RESPONSES_FUZZ)
    return Corpus((*captures.sources, *seed_corpus(seeds(), RESPONSES_FUZZ).sources),
                  captures.skipped, RESPONSES_FUZZ)


# --------------------------------------------------------------------------- #
# the fuzz
# --------------------------------------------------------------------------- #
def test_the_fuzz_finds_no_escape_and_no_inconsistency() -> None:
    c = corpus()
    assert len(c.sources) >= 12 and all(s.paths for s in c.sources)
    report = run_typefuzz(c, BUDGET, seed=SEED)
    print(report.format(30))
    assert report.inputs == BUDGET
    assert set(report.per_value) == set(RESPONSES_FUZZ.labels)
    assert report.inconsistent == [], report.format(30)
    assert report.corrupted == []  # no flow changed the events it was given
    unknown = [e for e in report.escapes
               if (e.type, *e.site.rsplit(":", 2)[::2], e.input.mode, e.input.value)
               not in KNOWN_ESCAPES]
    assert unknown == [], report.format(30)
    assert report.detected > report.inputs // 4  # most mutations are seen


def test_every_field_of_every_event_is_in_the_corpus() -> None:
    source = next(s for s in corpus().sources if s.name == "seed: reasoning, call, text")
    fields = {(source.events[i]["data"]["type"], path) for i, path in source.paths}
    for event in source.events:
        data = event["data"]
        for key in data:
            assert (data["type"], (key,)) in fields
    assert ("response.completed", ("response", "output", 1, "arguments")) in fields
    assert ("response.completed", ("response", "output", 2)) not in fields  # list_items=2
    assert list(json_paths([1, 2, 3], 2)) == [(), (0,), (1,)]


def test_each_way_of_feeding_reaches_the_flow_as_that_kind_of_input() -> None:
    from openai.types.responses import ResponseTextDeltaEvent

    source = next(s for s in corpus().sources if s.name == "seed: text")
    delta = next(e for e in source.events if e["event"] == "response.output_text.delta")
    assert RESPONSES_FUZZ.sdk_event is not None
    assert isinstance(RESPONSES_FUZZ.sdk_event(delta), ResponseTextDeltaEvent)
    index = source.events.index(delta)
    for mode in RESPONSES_FUZZ.modes:
        # a delta that is not a string: rejected, detected, nothing else found
        result = run_input(source, Input(source.name, index, ("delta",), "0", mode),
                           target=RESPONSES_FUZZ)
        assert (result.escape, result.detected, result.inconsistent) == (None, True, ()), mode
        # NaN as JSON text: the parser refuses it; through the SDK it is a float
        result = run_input(source, Input(source.name, index, ("delta",), "NaN", mode),
                           target=RESPONSES_FUZZ)
        assert (result.escape, result.detected, result.inconsistent) == (None, True, ()), mode


# --------------------------------------------------------------------------- #
# the fuzzer's own checks can fail
# --------------------------------------------------------------------------- #
def _text_stream() -> tuple[list[Event], int]:
    events = [{"event": e["type"], "data": e} for e in Stream().message(["a", "b", "c"]).end()]
    return events, next(i for i, e in enumerate(events)
                        if e["event"] == "response.output_text.delta")


def test_a_rejected_event_that_changes_the_state_is_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = StreamedText._other

    def leaky(self: StreamedText, data: Any, room: int, max_index: int) -> Any:
        self.chunks.append("?")  # changes the value, then rejects the event
        self.value = None
        return original(self, data, room, max_index)

    monkeypatch.setattr(StreamedText, "_other", leaky)
    events, at = _text_stream()
    bad = {"event": events[at]["event"], "data": {**events[at]["data"], "delta": 5}}
    problems = stepwise_problems(ResponseFlow(), "events", events, at, bad)
    assert any(p.startswith(f"event #{at} was rejected (malformed_event) but changed "
                            "output_text") for p in problems), problems


def test_a_value_that_loses_what_it_had_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def forgetful(self: StreamedText, data: Any, room: int, max_index: int) -> Any:
        self.chunks, self.value = [str(data["delta"])], None  # replaces instead of adding
        return len(self.chunks[0])

    events, at = _text_stream()
    flow = ResponseFlow()
    monkeypatch.setattr(StreamedText, "merge", forgetful)
    problems = stepwise_problems(flow, "events", events, at + 1, events[at + 1])
    assert any(f"after event #{at + 1}: the value of output_text" in p and "lost" in p
               for p in problems), problems


def test_a_violation_at_the_wrong_index_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from runflow.engine.flow import Flow

    original = Flow._violate

    def shifted(self: Flow, code: Code, index: int, *args: Any, **kwargs: Any) -> None:
        original(self, code, index + 1, *args, **kwargs)

    monkeypatch.setattr(Flow, "_violate", shifted)
    events, at = _text_stream()
    bad = {"event": events[at]["event"], "data": {**events[at]["data"], "delta": 5}}
    problems = stepwise_problems(ResponseFlow(), "events", events, at, bad)
    assert f"malformed_event of event #{at} says it is #{at + 1}" in problems, problems


# --------------------------------------------------------------------------- #
# limits
# --------------------------------------------------------------------------- #
def peak_of(work: Callable[[], Any]) -> tuple[int, Any]:
    tracemalloc.start()
    try:
        result = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def limit_violations(flow: ResponseFlow) -> list[Any]:
    return [v for v in flow.violations if v.code is Code.LIMIT_EXCEEDED]


def test_output_text_stops_growing_at_max_message_chars() -> None:
    events = Stream().message(["0123456789"] * 30).message(["next"]).end()
    flow = ResponseFlow(limits=Limits(max_message_chars=100))
    done = next(i for i, e in enumerate(events) if e["type"] == "response.output_text.done")
    for event in events[:done]:
        flow.feed(event)
        assert len(flow.text) <= 100
    [limit] = limit_violations(flow)
    # the limit counts per message (issue 24), so the message is named
    assert limit.entity == "message msg_0" and "max_message_chars=100" in limit.message
    assert limit.index == 2 + 2 + 10  # the 11th delta would pass 100 characters
    assert flow.text == "0123456789" * 10
    for event in events[done:]:
        flow.feed(event)
    assert flow.close() == "done" and flow.status == "completed"
    assert codes(flow) == ["limit_exceeded"]  # no divergence for the capped part
    assert flow.text.endswith("\n\nnext")  # the next message streamed whole


def test_function_arguments_stop_growing_at_max_tool_chars() -> None:
    # arguments are tool input: max_tool_chars bounds them, not max_message_chars
    flow = fed(Stream().function_call(["{}"] * 40).end(), limits=Limits(max_tool_chars=10))
    [limit] = limit_violations(flow)
    assert limit.entity == "function_call fc_0" and "max_tool_chars=10" in limit.message


def huge_text(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A message whose text arrives as ``total`` characters of deltas, generated
    on the fly, in SSE bytes."""
    start = Stream()
    start.add("response.output_item.added", output_index=0,
              item={"id": "msg_0", "type": "message", "status": "in_progress", "content": [],
                    "role": "assistant"})
    start.add("response.content_part.added", item_id="msg_0", output_index=0,
              content_index=0, part={"type": "output_text", "annotations": [], "text": ""})
    yield sse(start.events)
    value = "a" * chunk
    for n in range(total // chunk):
        yield sse([{"type": "response.output_text.delta", "sequence_number": 4 + n,
                    "item_id": "msg_0", "output_index": 0, "content_index": 0,
                    "delta": value}])


def test_64_mb_of_text_deltas_stay_bounded_by_max_message_chars() -> None:
    limits = Limits(max_message_chars=1 * MB)

    def work() -> ResponseFlow:
        flow = ResponseFlow(limits=limits)
        for chunk in huge_text(64 * MB):
            flow.feed_sse(chunk)
        return flow

    peak, flow = peak_of(work)
    assert peak < 2 * limits.max_message_chars + 4 * MB, peak
    assert codes(flow) == ["limit_exceeded"]
    assert len(flow.text) <= limits.max_message_chars


def item_flood(start: int, n: int, seq: int | None = None) -> Iterator[Event]:
    """``n`` function calls added at output_index ``start``... (numbered from ``seq``)."""
    first = 2 + (start if seq is None else seq)
    for k, i in enumerate(range(start, start + n)):
        yield {"type": "response.output_item.added", "sequence_number": first + k,
               "output_index": i, "item": {"id": f"fc_{i}", "type": "function_call",
                                           "status": "in_progress", "arguments": "",
                                           "call_id": f"call_{i}", "name": "f"}}


def test_items_past_max_entities_are_rejected_and_memory_stays_flat() -> None:
    flow = fed(Stream().events, limits=Limits(max_entities=50, max_index=100_000))
    for event in item_flood(0, 1000):  # warm up: the limit and the first rejections
        flow.feed(event)
    first = limit_violations(flow)[0]
    assert (first.index, first.event) == (52, "response.output_item.added")
    assert "would exceed max_entities=50" in first.message

    def more(start: int, n: int) -> Callable[[], None]:
        def work() -> None:
            for event in item_flood(start, n):
                flow.feed(event)
        return work

    small, _ = peak_of(more(1000, 2000))
    large, _ = peak_of(more(3000, 20_000))
    assert len(flow.output) == 50
    assert large - small < 1 * MB, f"memory grows with rejected items: {small} -> {large}"
    assert sum(flow.suppressed.values()) > 20_000  # counted, not stored


def test_an_index_past_max_index_is_rejected_and_allocates_nothing() -> None:
    head = Stream().events

    def work() -> ResponseFlow:
        flow = fed(head, limits=Limits(max_index=8))
        for event in item_flood(10**9, 200, seq=0):
            flow.feed(event)
        return flow

    peak, flow = peak_of(work)
    assert peak < 1 * MB
    assert flow.output == [] and flow.status == "in_progress"
    limit = Limits().max_repeated_violations  # stored; the rest only counted
    assert [(v.code.value, v.index) for v in flow.violations[:limit]] == [
        ("limit_exceeded", i) for i in range(2, 2 + limit)]
    assert "output_index 1000000000 exceeds the limit 8" in flow.violations[0].message
    assert flow.suppressed == {"limit_exceeded": 200 - limit}


def test_an_oversized_responses_event_is_dropped_and_the_flow_goes_on() -> None:
    events = Stream().message(["ok", "", " then"]).end()
    padded = next(e for e in events if e.get("delta") == "")
    padded["obfuscation"] = "x" * 5000  # the padding real servers add, grown past the limit
    flow = ResponseFlow(limits=Limits(max_event_bytes=2048))
    data = sse(events)
    for i in range(0, len(data), 300):
        flow.feed_sse(data[i : i + 300])
    assert flow.close() == "done" and flow.status == "completed"
    assert flow.text == "ok then"
    [limit, gap] = flow.violations
    assert (limit.code, limit.index) == (Code.LIMIT_EXCEEDED, events.index(padded))
    assert "max_event_bytes=2048" in limit.message
    assert (gap.code, gap.index) == (Code.SEQUENCE_GAP, events.index(padded) + 1)


# --------------------------------------------------------------------------- #
# what the fuzzer found (strict xfails: each fails once the bug is fixed)
# --------------------------------------------------------------------------- #
def _sdk_created(**extra: Any) -> Any:
    from openai._models import construct_type
    from openai.types.responses import ResponseStreamEvent

    data = {"type": "response.created", "sequence_number": 0,
            "response": {**response("in_progress"), **extra}}
    return construct_type(type_=ResponseStreamEvent, value=data)


def test_an_sdk_event_nested_too_deep_is_a_violation() -> None:
    deep = json.loads("[" * 300 + "]" * 300)
    flow = ResponseFlow()
    new = flow.feed(_sdk_created(metadata={"x": deep}))
    assert [(v.code.value, v.index) for v in new] == [("malformed_event", 0)]


def test_an_sdk_event_with_an_integer_too_large_for_a_float_is_a_violation() -> None:
    flow = ResponseFlow()
    new = flow.feed(_sdk_created(top_p=10**400))
    assert [(v.code.value, v.index) for v in new] == [("malformed_event", 0)]


def test_an_index_at_max_index_is_limit_exceeded() -> None:
    flow = fed(Stream().events, limits=Limits(max_index=3))
    for event in item_flood(0, 4):
        flow.feed(event)
    # the flood never closes its items: interleaving warnings beside the one error
    assert [v.code.value for v in flow.errors] == ["limit_exceeded"]
    assert flow.errors[0].index == 5
    assert len(flow.output) == 3


def test_a_responses_flow_checkpointed_mid_stream_loads_again() -> None:
    events = Stream().reasoning([["think"]]).function_call(["{}"]).end()
    for n in range(1, len(events) + 1):
        flow = fed(events[:n])
        again = ResponseFlow.from_json(flow.to_json())
        assert again.item_states == flow.item_states, n


def test_arguments_changed_after_their_done_event_are_a_divergence() -> None:
    """A function call whose arguments came only from function_call_arguments.done (no
    deltas: LM Studio, vercel_lmstudio_reasoning_tool_call_glm47flash) and that
    output_item.done then changes: the engine compares a final object with what deltas
    built, so the definition's value_kept rule compares it with the value event's."""
    events = [e for e in Stream().function_call(['{"city":"Paris"}']).end()
              if e["type"] != "response.function_call_arguments.delta"]
    for n, event in enumerate(events):
        event["sequence_number"] = n
    at = next(i for i, e in enumerate(events) if e["type"] == "response.output_item.done")
    events[at] = {**events[at], "item": {**events[at]["item"], "arguments": '{"city":"Rome"}'}}
    flow = fed(events)
    assert flow.function_calls[0].arguments == '{"city":"Rome"}'  # the server's word is kept
    assert ("snapshot_divergence", at) in [(v.code.value, v.index) for v in flow.violations]


_AMPLIFY = """
import resource, sys
sys.path.insert(0, {tests!r})
from test_responses_hostile import response
from runflow.protocols.responses.flow import ResponseFlow
flow = ResponseFlow()
flow.feed({{"type": "response.created", "sequence_number": 0,
           "response": response("in_progress")}})
_ = flow.response  # schemas built, caches warm
flow.feed({{"type": "response.in_progress", "sequence_number": 1,
           "response": {{**response("in_progress"), "instructions": list(range(5000))}}}})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
_ = flow.response
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_reading_the_response_of_a_long_wrongly_typed_list_stays_bounded() -> None:
    """A 30 KB response.in_progress whose instructions is a list of 5,000 integers:
    pydantic's smart union would keep one error per element per input-item class
    (33 each), about 350 MiB; the view types a long list of a union element by
    element, by tag, so reading flow.response stays small. Allocations tracemalloc
    cannot see: this measures the resident set of a fresh process."""
    import subprocess
    import sys
    from pathlib import Path

    code = _AMPLIFY.format(tests=str(Path(__file__).resolve().parent))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert int(out.strip().splitlines()[-1]) < 64, f"{out.strip()} MiB grown"
