"""Deltas cost work proportional to their own size, never to the snapshot's.

Shown without timing, by counting work: every pydantic dump/validate/construct,
every ``json`` call and every read of an accumulator's joined text is spied on
while a long generated stream (built from a real recording) is fed. Per-delta
counts must be zero; whole-run counts must not grow with the number of deltas;
the characters joined must grow exactly with the characters received.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import openai._models
import pydantic
import pytest
from conftest import load_events
from helpers import function_calls_of, of_type, text_of
from openai.types.beta.threads import Message
from openai.types.beta.threads.runs import RunStep

import runflow.engine.flow
from runflow import RunFlow
from runflow.protocols.assistants.accumulators import MessageContent, StepDetails
from runflow.protocols.assistants.content import Part, ToolCall

Event = dict[str, Any]
FRAGMENT = "abcdefg "  # every generated delta carries these 8 characters
ARGS_OPEN, ARGS_CLOSE = '{"text": "', '"}'  # arguments streams are wrapped in JSON


class Spy:
    """Counts calls (and characters returned by text reads) while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: Counter[str] = Counter()
        self.chars = 0
        self._install(monkeypatch)

    def reset(self) -> None:
        self.calls.clear()
        self.chars = 0

    def _install(self, mp: pytest.MonkeyPatch) -> None:
        calls = self.calls

        def wrap_classmethod(owner: type, name: str) -> None:
            func = owner.__dict__[name].__func__

            def spy(cls: type, *args: Any, **kwargs: Any) -> Any:
                calls[name] += 1
                return func(cls, *args, **kwargs)

            mp.setattr(owner, name, classmethod(spy))

        def wrap_function(owner: Any, name: str, key: str) -> None:
            func = getattr(owner, name)

            def spy(*args: Any, **kwargs: Any) -> Any:
                calls[key] += 1
                return func(*args, **kwargs)

            mp.setattr(owner, name, spy)

        def wrap_text(owner: type, name: str) -> None:
            getter = owner.__dict__[name].fget

            def read(obj: Any) -> str:
                value: str = getter(obj)
                calls[f"{owner.__name__}.{name}"] += 1
                self.chars += len(value)
                return value

            mp.setattr(owner, name, property(read))

        wrap_classmethod(openai._models.BaseModel, "construct")
        wrap_classmethod(openai._models.BaseModel, "model_construct")
        wrap_classmethod(pydantic.BaseModel, "model_validate")
        wrap_classmethod(pydantic.BaseModel, "model_construct")
        wrap_function(pydantic.BaseModel, "model_dump", "model_dump")
        wrap_function(pydantic.BaseModel, "model_dump_json", "model_dump_json")
        wrap_function(json, "dumps", "json.dumps")
        wrap_function(json, "loads", "json.loads")
        wrap_function(runflow.engine.flow, "from_json", "parse_json")
        wrap_text(Part, "value")
        wrap_text(ToolCall, "text")


def text_stream(n: int) -> tuple[list[Event], list[Event], list[Event], str]:
    """(prelude, n message deltas, closing events, message id) from a real text run."""
    base = load_events("dotnet_text_answer.jsonl")
    first = next(i for i, e in enumerate(base) if e["event"] == "thread.message.delta")
    prelude, closing = base[:first], copy.deepcopy(base[-4:])
    mid = base[first]["data"]["id"]
    deltas = []
    for k in range(n):
        text: dict[str, Any] = {"value": FRAGMENT}
        if k == 0:
            text["annotations"] = []
        deltas.append({
            "event": "thread.message.delta",
            "data": {"id": mid, "object": "thread.message.delta",
                     "delta": {"content": [{"index": 0, "type": "text", "text": text}]}},
        })
    assert closing[0]["event"] == "thread.message.completed"
    closing[0]["data"]["content"][0]["text"]["value"] = FRAGMENT * n
    return prelude, deltas, closing, mid


def arguments_stream(n: int) -> tuple[list[Event], list[Event], list[Event], str]:
    """(prelude, n argument deltas, requires_action + done, step id) from a real call."""
    base = load_events("dotnet_create_and_run_function_requires_action.jsonl")
    first = next(i for i, e in enumerate(base) if e["event"] == "thread.run.step.delta")
    prelude = base[: first + 1]  # the first delta names the call
    sid = base[first]["data"]["id"]
    fragments = [ARGS_OPEN, *[FRAGMENT] * n, ARGS_CLOSE]  # valid JSON once joined
    deltas = [{
        "event": "thread.run.step.delta",
        "data": {"id": sid, "object": "thread.run.step.delta", "delta": {"step_details": {
            "type": "tool_calls",
            "tool_calls": [{"index": 0, "type": "function",
                            "function": {"arguments": fragment}}],
        }}},
    } for fragment in fragments]
    closing = copy.deepcopy(base[-2:])
    assert closing[0]["event"] == "thread.run.requires_action"
    fn = closing[0]["data"]["required_action"]["submit_tool_outputs"]["tool_calls"][0]
    fn["function"]["arguments"] = expected("arguments", n)
    return prelude, deltas, closing, sid


def expected(kind: str, n: int) -> str:
    """The text a stream of ``n`` generated deltas rebuilds."""
    body = FRAGMENT * n
    return body if kind == "text" else ARGS_OPEN + body + ARGS_CLOSE


def run(spy: Spy, n: int, kind: str) -> dict[str, Any]:
    """Feed a generated stream; return the work counted per phase."""
    prelude, deltas, closing, oid = (text_stream if kind == "text" else arguments_stream)(n)
    flow = RunFlow()
    for e in prelude:
        flow.feed(e)
    spy.reset()
    for e in deltas:
        flow.feed(e)
    during = Counter(spy.calls)
    accumulator: Part | ToolCall
    # internals: the fragments an accumulator holds are not shown by any public API
    if kind == "text":
        accumulator = of_type(MessageContent, flow._s.children["message"][oid].acc).parts[0]
    else:
        accumulator = of_type(StepDetails, flow._s.children["step"][oid].acc).calls[0]
    fragments_held = len(accumulator.chunks)

    spy.reset()
    for e in closing:
        flow.feed(e)
    snap = flow.message(oid) if kind == "text" else flow.step(oid)
    snap_again = flow.message(oid) if kind == "text" else flow.step(oid)
    after = Counter(spy.calls)
    chars = spy.chars
    if kind == "text":
        rebuilt = text_of(of_type(Message, snap).content[0])
    else:
        rebuilt = function_calls_of(of_type(RunStep, snap))[0].function.arguments
    assert flow.close() == "done"
    assert flow.violations == []
    assert snap_again is snap  # cached until the next change
    return {"during": during, "held": fragments_held, "after": after, "chars": chars,
            "rebuilt": rebuilt}


@pytest.mark.parametrize("kind", ["text", "arguments"])
def test_deltas_never_rebuild_or_reserialize_the_snapshot(
    monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    spy = Spy(monkeypatch)
    small = run(spy, 1250, kind)
    large = run(spy, 5000, kind)
    # no delta dumps, validates, constructs, serializes or re-joins anything
    assert small["during"] == Counter()
    assert large["during"] == Counter()
    # the accumulator holds the fragments as received, not a re-joined string
    wrap = 0 if kind == "text" else 2  # the JSON opening and closing fragments
    assert small["held"] == 1250 + wrap
    assert large["held"] == 5000 + wrap
    # closing and reading the snapshot costs the same number of calls at any length
    assert small["after"] == large["after"]
    # the spy sees the snapshot being built (validated, or constructed leniently)
    assert large["after"]["construct"] + large["after"]["model_validate"] >= 1
    # and the characters joined grow with the characters received, no more
    assert small["rebuilt"] == expected(kind, 1250)
    assert large["rebuilt"] == expected(kind, 5000)
    body = len(FRAGMENT) * 1250
    assert small["chars"] >= body  # the text was read at least once (the spy works)
    # the same number of whole-text reads at both lengths: characters per rebuilt
    # character are equal, i.e. total characters joined is linear in the input
    assert large["chars"] * len(small["rebuilt"]) == small["chars"] * len(large["rebuilt"])
    assert large["chars"] <= 4 * len(large["rebuilt"])


def test_reading_joins_once_then_reads_are_free(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    prelude, deltas, _, mid = text_stream(3000)
    flow = RunFlow()
    for e in [*prelude, *deltas]:
        flow.feed(e)
    # internals: the fragments an accumulator holds are not shown by any public API
    part = of_type(MessageContent, flow._s.children["message"][mid].acc).parts[0]
    assert len(part.chunks) == 3000
    assert flow.text == FRAGMENT * 3000
    assert part.chunks == [FRAGMENT * 3000]  # compacted once
    first = flow.message(mid)
    spy.reset()
    assert flow.message(mid) is first
    assert flow.messages[0] is first
    assert spy.calls == Counter()
    # one more delta: only its fragment is appended to the compacted text
    flow.feed(deltas[1])
    assert part.chunks == [FRAGMENT * 3000, FRAGMENT]
    assert flow.message(mid) is not first
    assert text_of(flow.message(mid).content[0]) == FRAGMENT * 3001


def test_sse_input_parses_each_event_once(monkeypatch: pytest.MonkeyPatch) -> None:
    prelude, deltas, closing, _ = text_stream(2000)
    blocks = [
        f"event: {e['event']}\ndata: {json.dumps(e['data'])}\n\n".encode()
        for e in [*prelude, *deltas, *closing[:-1]]
    ]
    blocks.append(b"event: done\ndata: [DONE]\n\n")
    blob = b"".join(blocks)
    largest = max(len(b) for b in blocks)
    spy = Spy(monkeypatch)
    flow = RunFlow()
    for start in range(0, len(blob), 37):  # chunks cut anywhere, mid-event
        flow.feed_sse(blob[start : start + 37])
        # internals: no public API shows the bytes the SSE decoder holds
        assert flow._s.decoder.buffered < largest + 37  # only the unfinished event is held
    assert flow.close() == "done"
    assert flow.violations == []
    events = len(prelude) + len(deltas) + len(closing)
    assert spy.calls["parse_json"] == events - 1  # every event but [DONE], exactly once
    assert spy.calls["json.dumps"] == 0
    assert spy.calls["model_validate"] == 0
