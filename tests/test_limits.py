"""Resource limits: each is configurable, has a safe default, is reported once as
``limit_exceeded``; the offending entity stops growing and the flow goes on.

Streams here are small synthetic runs in the shape of the real captures (built by
the helpers below, also used by ``test_hostile.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from helpers import feed_all, function_calls_of, of_type, tool_calls_of
from openai.types.beta.threads import TextContentBlock
from openai.types.beta.threads.runs import CodeInterpreterToolCall

from runflow import Limits, RunFlow
from runflow.engine.violations import Code, Violation
from runflow.testing.events import Event, message_event, run_event, step_event
from runflow.testing.fuzz import encode_sse


# --------------------------------------------------------------------------- #
# stream builders
# --------------------------------------------------------------------------- #
def text_delta(mid: str, value: str, index: int = 0,
               annotations: list[Any] | None = None) -> Event:
    text: dict[str, Any] = {"value": value}
    if annotations is not None:
        text["annotations"] = annotations
    return {"event": "thread.message.delta",
            "data": {"id": mid, "object": "thread.message.delta",
                     "delta": {"content": [{"index": index, "type": "text", "text": text}]}}}


def tool_delta(sid: str, index: int, *, args: str = "", call_id: str | None = None,
               name: str | None = None) -> Event:
    fn: dict[str, Any] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    call: dict[str, Any] = {"index": index, "type": "function", "function": fn}
    if call_id is not None:
        call["id"] = call_id
    return {"event": "thread.run.step.delta",
            "data": {"id": sid, "object": "thread.run.step.delta",
                     "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}}}


def prologue() -> list[Event]:
    return [run_event("thread.run.created", "queued"), run_event("thread.run.queued", "queued"),
            run_event("thread.run.in_progress", "in_progress")]


def epilogue() -> list[Event]:
    return [run_event("thread.run.completed", "completed"), {"event": "done", "data": "[DONE]"}]


def message_block(sid: str, mid: str, deltas: Iterable[Event],
                  final: list[Any] | None = None) -> Iterator[Event]:
    """step.created, message.created, the deltas, message.completed (with ``final``
    content, default: the text the deltas carry), step.completed."""
    yield step_event("thread.run.step.created", sid, "in_progress", mid=mid)
    yield message_event("thread.message.created", mid, "in_progress")
    text = []
    for d in deltas:
        for item in d["data"]["delta"]["content"]:
            text.append(item.get("text", {}).get("value", ""))
        yield d
    content = final if final is not None else [
        {"type": "text", "text": {"value": "".join(text), "annotations": []}}]
    yield message_event("thread.message.completed", mid, "completed", content)
    yield step_event("thread.run.step.completed", sid, "completed", mid=mid)


def limit_violations(flow: RunFlow) -> list[Violation]:
    return [v for v in flow.violations if v.code is Code.LIMIT_EXCEEDED]


def codes(flow: RunFlow) -> list[str]:
    return [v.code.value for v in flow.violations]


def text_of(flow: RunFlow, mid: str) -> str:
    return "".join(p.text.value for p in flow.message(mid).content if p.type == "text")


# --------------------------------------------------------------------------- #
# defaults
# --------------------------------------------------------------------------- #
def test_every_limit_has_a_safe_default_and_is_configurable() -> None:
    defaults = Limits()
    assert set(defaults.to_dict()) == {"max_event_bytes", "max_message_chars",
                                       "max_tool_chars", "max_index", "max_entities",
                                       "max_repeated_violations", "max_history",
                                       "max_message_text"}
    for name, value in defaults.to_dict().items():
        assert 0 < value <= 64 * 1024 * 1024, name
        assert getattr(Limits(**{name: 7}), name) == 7
    assert RunFlow().limits == defaults
    assert RunFlow(limits=Limits(max_index=3)).limits.max_index == 3


# --------------------------------------------------------------------------- #
# bytes per SSE event, and the decoder's buffer
# --------------------------------------------------------------------------- #
def test_oversized_event_is_dropped_once_and_the_flow_goes_on() -> None:
    big = text_delta("msg_1", "x" * 5000)
    events = [*prologue(),
              *message_block("step_1", "msg_1", [text_delta("msg_1", "ok "), big],
                             final=[{"type": "text", "text": {"value": "ok ",
                                                             "annotations": []}}]),
              *message_block("step_2", "msg_2", [text_delta("msg_2", "later")]),
              *epilogue()]
    data, _ = encode_sse(events)
    flow = RunFlow(limits=Limits(max_event_bytes=1024))
    most = 0
    for i in range(0, len(data), 100):
        flow.feed_sse(data[i : i + 100])
        # internals: no public API shows the bytes the SSE decoder holds, the bound here
        most = max(most, flow._s.decoder.buffered)
    assert flow.close() == "done"
    assert most <= 1024 + 100
    [limit] = limit_violations(flow)
    assert "max_event_bytes=1024" in limit.message
    assert text_of(flow, "msg_1") == "ok "
    assert text_of(flow, "msg_2") == "later"
    assert flow.run_status == "completed"
    assert codes(flow) == ["limit_exceeded"]


def test_undecoded_buffer_stays_bounded_on_an_endless_line() -> None:
    flow = RunFlow(limits=Limits(max_event_bytes=4096))
    flow.feed_sse(b"event: thread.message.delta\ndata: ")
    for _ in range(200):  # 200 KB, no line end at all
        flow.feed_sse(b"a" * 1000)
        # internals: no public API shows the bytes the SSE decoder holds, the bound here
        assert flow._s.decoder.buffered <= 4096 + 1000
    assert len(limit_violations(flow)) == 1  # once per event, not once per chunk
    flow.feed_sse(b"\n\n")
    for e in [*prologue(), *message_block("step_1", "msg_1", [text_delta("msg_1", "hi")]),
              *epilogue()]:
        flow.feed_sse(encode_sse([e])[0])
    assert flow.close() == "done"
    assert text_of(flow, "msg_1") == "hi"
    assert codes(flow) == ["limit_exceeded"]


# --------------------------------------------------------------------------- #
# text per message, tool call arguments
# --------------------------------------------------------------------------- #
def test_message_text_stops_growing_at_max_message_chars() -> None:
    flow = RunFlow(limits=Limits(max_message_chars=100))
    head = [*prologue(), step_event("thread.run.step.created", "step_1", "in_progress",
                                    mid="msg_1"),
            message_event("thread.message.created", "msg_1", "in_progress")]
    for e in head:
        flow.feed(e)
    for _ in range(30):
        flow.feed(text_delta("msg_1", "0123456789"))
        assert len(text_of(flow, "msg_1")) <= 100
    [limit] = limit_violations(flow)
    assert limit.entity == "message msg_1" and "max_message_chars=100" in limit.message
    assert text_of(flow, "msg_1") == "0123456789" * 10
    rest = [message_event("thread.message.completed", "msg_1", "completed",
                          [{"type": "text", "text": {"value": "0123456789" * 30,
                                                     "annotations": []}}]),
            step_event("thread.run.step.completed", "step_1", "completed", mid="msg_1"),
            *message_block("step_2", "msg_2", [text_delta("msg_2", "0123456789")] * 5),
            *epilogue()]
    feed_all(rest, flow, close=True)
    assert text_of(flow, "msg_2") == "0123456789" * 5
    assert codes(flow) == ["limit_exceeded"]  # no divergence for the capped message
    assert flow.run_status == "completed"


def tool_block(sid: str, call_id: str, fragments: Iterable[str]) -> list[Event]:
    frags = list(fragments)
    call = {"id": call_id, "type": "function",
            "function": {"name": "f", "arguments": "".join(frags), "output": None}}
    return [step_event("thread.run.step.created", sid, "in_progress"),
            tool_delta(sid, 0, call_id=call_id, name="f"),
            *(tool_delta(sid, 0, args=a) for a in frags),
            step_event("thread.run.step.completed", sid, "completed", calls=[call])]


def test_tool_arguments_stop_growing_at_max_tool_chars() -> None:
    flow = RunFlow(limits=Limits(max_tool_chars=50))
    events = [*prologue(), *tool_block("step_1", "call_1", ["0123456789"] * 20),
              *tool_block("step_2", "call_2", ['{"a":', " 1}"]), *epilogue()]
    feed_all(events[: 3 + 22], flow, close=True)  # up to the first step's last delta
    assert len(function_calls_of(flow.step("step_1"))[0].function.arguments) <= 50
    flow = feed_all(events, limits=Limits(max_tool_chars=50), close=True)
    [limit] = limit_violations(flow)
    assert limit.entity == "step step_1" and "max_tool_chars=50" in limit.message
    call = function_calls_of(flow.step("step_2"))[0]
    assert call.function.arguments == '{"a": 1}'
    assert codes(flow) == ["limit_exceeded"]


# --------------------------------------------------------------------------- #
# indices
# --------------------------------------------------------------------------- #
def test_part_index_beyond_max_index_is_limit_exceeded() -> None:
    flow = RunFlow(limits=Limits(max_index=3))
    deltas = [text_delta("msg_1", f"p{i}", index=i) for i in range(5)]
    final = [{"type": "text", "text": {"value": f"p{i}", "annotations": []}} for i in range(3)]
    feed_all([*prologue(), *message_block("step_1", "msg_1", deltas, final=final),
                    *message_block("step_2", "msg_2", [text_delta("msg_2", "ok")]),
                    *epilogue()], flow, close=True)
    # index 3 reaches the limit (rejected); index 4 is then past the end: a gap
    assert [(v.code.value, str(v.entity)) for v in flow.violations] == [
        ("limit_exceeded", "message msg_1"), ("content_index_gap", "message msg_1")]
    assert len(flow.message("msg_1").content) == 3
    assert text_of(flow, "msg_2") == "ok"


def test_sparse_part_index_is_a_gap_not_an_allocation() -> None:
    flow = RunFlow()
    feed_all([*prologue(),
                    *message_block("step_1", "msg_1", [text_delta("msg_1", "x", index=10**9)],
                                   final=[]),
                    *epilogue()], flow, close=True)
    assert "content_index_gap" in codes(flow)
    # what the deltas built: a delta at index 0 would show here, final content or not
    assert flow.message("msg_1").content == []


def test_tool_call_index_beyond_max_index_is_limit_exceeded() -> None:
    flow = RunFlow(limits=Limits(max_index=2))
    sid = "step_1"
    events = [*prologue(), step_event("thread.run.step.created", sid, "in_progress"),
              *(tool_delta(sid, i, call_id=f"call_{i}", name="f") for i in range(3)),
              tool_delta(sid, 10**9, call_id="call_x", name="f")]
    for e in events:
        flow.feed(e)
    assert codes(flow) == ["limit_exceeded", "content_index_gap"]
    assert len(tool_calls_of(flow.step(sid))) == 2


def code_delta(sid: str, outputs: list[Any]) -> Event:
    call = {"index": 0, "type": "code_interpreter",
            "code_interpreter": {"input": "", "outputs": outputs}}
    if not outputs:
        call["id"] = "call_ci"
    return {"event": "thread.run.step.delta",
            "data": {"id": sid, "object": "thread.run.step.delta",
                     "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}}}


def test_output_index_beyond_max_index_is_limit_exceeded() -> None:
    """Code interpreter outputs are indexed like parts: max_index bounds them too."""
    flow = RunFlow(limits=Limits(max_index=2))
    sid = "step_ci"
    events = [*prologue(), step_event("thread.run.step.created", sid, "in_progress"),
              code_delta(sid, []),
              *(code_delta(sid, [{"index": i, "type": "logs", "logs": "x"}]) for i in range(3))]
    for e in events:
        flow.feed(e)
    assert codes(flow) == ["limit_exceeded"]
    call = of_type(CodeInterpreterToolCall, tool_calls_of(flow.step(sid))[0])
    assert len(call.code_interpreter.outputs) == 2
    flow.feed(code_delta(sid, [{"index": 10**9, "type": "logs", "logs": "x"}]))
    assert codes(flow)[-1] == "content_index_gap"


def test_annotation_index_beyond_max_index_is_limit_exceeded() -> None:
    """Annotations are indexed like parts: max_index bounds them too."""
    flow = RunFlow(limits=Limits(max_index=2))
    head = [*prologue(), step_event("thread.run.step.created", "step_1", "in_progress",
                                    mid="msg_1"),
            message_event("thread.message.created", "msg_1", "in_progress"),
            text_delta("msg_1", "a", annotations=[])]
    for e in head:
        flow.feed(e)
    for i in range(3):
        ann = {"index": i, "type": "file_citation", "text": "[1]", "start_index": 0,
               "end_index": 1, "file_citation": {"file_id": "file_1"}}
        flow.feed(text_delta("msg_1", "", annotations=[ann]))
    assert codes(flow) == ["limit_exceeded"]
    assert len(of_type(TextContentBlock, flow.message("msg_1").content[0]).text.annotations) == 2


# --------------------------------------------------------------------------- #
# entities per flow
# --------------------------------------------------------------------------- #
def test_entities_beyond_max_entities_are_rejected_and_the_flow_goes_on() -> None:
    flow = RunFlow(limits=Limits(max_entities=4))
    events = [*prologue(),
              *message_block("step_1", "msg_1", [text_delta("msg_1", "one")]),
              *message_block("step_2", "msg_2", [text_delta("msg_2", "two")]),
              step_event("thread.run.step.created", "step_3", "in_progress", mid="msg_3"),
              step_event("thread.run.step.created", "step_4", "in_progress", mid="msg_4"),
              *epilogue()]
    feed_all(events, flow, close=True)
    assert [v.entity for v in limit_violations(flow)] == ["step step_3", "step step_4"]
    assert [s.id for s in flow.steps] == ["step_1", "step_2"]
    assert text_of(flow, "msg_1") == "one" and text_of(flow, "msg_2") == "two"
    assert flow.run_status == "completed" and flow.ending == "done"


def test_limits_survive_a_checkpoint() -> None:
    flow = RunFlow(limits=Limits(max_message_chars=10))
    flow.feed(json.loads(json.dumps(prologue()[0])))
    again = RunFlow.from_json(flow.to_json())
    assert again.limits == flow.limits


@pytest.mark.parametrize("limit", ["max_message_chars", "max_tool_chars"])
def test_capped_entity_reports_once(limit: str) -> None:
    flow = RunFlow(limits=Limits(**{limit: 5}))
    if limit == "max_message_chars":
        events = [*prologue(), *message_block("step_1", "msg_1",
                                              [text_delta("msg_1", "abcd")] * 50),
                  *epilogue()]
    else:
        events = [*prologue(), *tool_block("step_1", "call_1", ["abcd"] * 50), *epilogue()]
    feed_all(events, flow, close=True)
    assert codes(flow) == ["limit_exceeded"]


# --------------------------------------------------------------------------- #
# Responses: a limit counts per message and per tool call, as documented
# --------------------------------------------------------------------------- #
def _message_of_parts(parts: int, deltas: int, size: int,
                      finish: bool = True) -> list[dict[str, Any]]:
    from test_responses_hostile import Stream

    s = Stream()
    s.add("response.output_item.added", output_index=0, item={
        "id": "msg_0", "type": "message", "status": "in_progress", "content": [],
        "role": "assistant"})
    for j in range(parts):
        where = {"item_id": "msg_0", "output_index": 0, "content_index": j}
        s.add("response.content_part.added", **where,
              part={"type": "output_text", "annotations": [], "text": ""})
        for _ in range(deltas):
            s.add("response.output_text.delta", **where, delta="x" * size, logprobs=[])
        text = "x" * size * deltas
        if not finish:
            continue
        s.add("response.output_text.done", **where, text=text, logprobs=[])
        s.add("response.content_part.done", **where,
              part={"type": "output_text", "annotations": [], "text": text})
    return s.events


def test_max_message_chars_bounds_a_whole_responses_message_not_each_part() -> None:
    from test_responses_hostile import fed

    limits = Limits(max_message_chars=2500)
    flow = fed(_message_of_parts(parts=5, deltas=10, size=100, finish=False), limits=limits)
    assert [(v.code, v.entity and v.entity.id) for v in flow.violations] == [
        (Code.LIMIT_EXCEEDED, "msg_0")]  # once for the message
    assert flow.violations[0].index == 2 + 1 + 11 * 2 + 1 + 5  # the 26th delta
    assert len(flow.text) == 2500
    again = type(flow).from_json(flow.to_json())  # the counters load back
    assert again.text == flow.text
    # the server's finished values replace what deltas built (a limit bounds what
    # deltas add), and the parts that stopped growing are not called divergent
    finished = fed(_message_of_parts(parts=5, deltas=10, size=100), limits=limits)
    assert [v.code for v in finished.violations] == [Code.LIMIT_EXCEEDED]
    assert len(finished.text) == 5000


def test_responses_tool_values_count_against_max_tool_chars() -> None:
    from test_responses_hostile import Stream, fed

    events = Stream().function_call(['{"city":', '"' + "P" * 3000 + '"}']).end()
    small_tools = fed(events, limits=Limits(max_message_chars=10**6, max_tool_chars=100))
    assert [v.code for v in small_tools.violations] == [Code.LIMIT_EXCEEDED]
    assert "max_tool_chars=100" in small_tools.violations[0].message
    small_text = fed(events, limits=Limits(max_message_chars=100, max_tool_chars=10**6))
    assert small_text.violations == []
    assert len(small_text.function_calls[0].arguments) == 3011
