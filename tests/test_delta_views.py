"""The live view a text or tool-call delta callback receives: a run of deltas to one
part (or call) gets the same view, made once; deltas that alternate between parts,
messages or calls each get the view of their own, showing its text so far."""

from __future__ import annotations

from typing import Any

from helpers import feed_all

from runflow import RunFlow
from runflow.protocols.assistants.parts import (
    TextDelta,
    TextSnapshot,
    ToolCallDelta,
    ToolCallSnapshot,
)

RUN = {"id": "run_1", "object": "thread.run", "thread_id": "thread_1", "status": "in_progress"}


def _message(mid: str) -> dict[str, Any]:
    return {"event": "thread.message.created",
            "data": {"id": mid, "object": "thread.message", "thread_id": "thread_1",
                     "run_id": "run_1", "role": "assistant", "status": "in_progress",
                     "content": []}}


def _text(mid: str, index: int, value: str) -> dict[str, Any]:
    return {"event": "thread.message.delta",
            "data": {"id": mid, "object": "thread.message.delta",
                     "delta": {"content": [{"index": index, "type": "text",
                                            "text": {"value": value}}]}}}


def test_text_deltas_alternating_between_parts_and_messages_see_their_own_part() -> None:
    events = [{"event": "thread.run.created", "data": {**RUN, "status": "queued"}},
              {"event": "thread.run.in_progress", "data": RUN},
              _message("msg_a"), _message("msg_b")]
    script = [("msg_a", 0, "a0"), ("msg_a", 0, "+"), ("msg_a", 1, "a1"), ("msg_a", 0, "!"),
              ("msg_b", 0, "b0"), ("msg_a", 1, "+"), ("msg_b", 0, "+"), ("msg_b", 0, "?")]
    events += [_text(mid, index, value) for mid, index, value in script]
    seen: list[tuple[str, int, str, str]] = []
    views: list[TextSnapshot] = []
    flow = RunFlow()

    @flow.on_text("delta")
    def on_delta(delta: TextDelta, snapshot: TextSnapshot) -> None:
        assert (delta.message_id, delta.index) == (snapshot.message_id, snapshot.index)
        seen.append((snapshot.message_id, snapshot.index, delta.value, snapshot.value))
        views.append(snapshot)

    feed_all(events, flow)
    assert not [v for v in flow.violations if v.severity == "error"]  # orphan warnings
    assert seen == [("msg_a", 0, "a0", "a0"), ("msg_a", 0, "+", "a0+"),
                    ("msg_a", 1, "a1", "a1"), ("msg_a", 0, "!", "a0+!"),
                    ("msg_b", 0, "b0", "b0"), ("msg_a", 1, "+", "a1+"),
                    ("msg_b", 0, "+", "b0+"), ("msg_b", 0, "?", "b0+?")]
    # a run of deltas to one part shares its view; a change of part makes a new one
    assert views[0] is views[1] and views[6] is views[7]
    assert len({id(v) for v in views}) == 6
    assert [v.value for v in views] == ["a0+!", "a0+!", "a1+", "a0+!", "b0+?", "a1+",
                                        "b0+?", "b0+?"]  # live: what each shows now


def test_tool_call_deltas_alternating_between_calls_see_their_own_call() -> None:
    step = {"id": "step_1", "object": "thread.run.step", "run_id": "run_1",
            "thread_id": "thread_1", "type": "tool_calls", "status": "in_progress",
            "step_details": {"type": "tool_calls", "tool_calls": []}}

    def call(index: int, arguments: str, name: str | None = None) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": arguments}
        item: dict[str, Any] = {"index": index, "type": "function", "function": function}
        if name is not None:
            function["name"] = name
            item["id"] = f"call_{index}"
        return {"event": "thread.run.step.delta",
                "data": {"id": "step_1", "object": "thread.run.step.delta",
                         "delta": {"step_details": {"type": "tool_calls",
                                                    "tool_calls": [item]}}}}

    events = [{"event": "thread.run.created", "data": {**RUN, "status": "queued"}},
              {"event": "thread.run.in_progress", "data": RUN},
              {"event": "thread.run.step.created", "data": step},
              call(0, "", "f"), call(0, '{"a"'), call(1, "", "g"), call(0, ":1}"),
              call(1, "{}")]
    seen: list[tuple[int, str, str]] = []
    flow = RunFlow()

    @flow.on_tool_call("delta")
    def on_delta(delta: ToolCallDelta, snapshot: ToolCallSnapshot) -> None:
        assert delta.index == snapshot.index
        seen.append((snapshot.index, delta.arguments, snapshot.arguments))

    feed_all(events, flow)
    assert not flow.violations
    assert seen == [(0, "", ""), (0, '{"a"', '{"a"'), (1, "", ""), (0, ":1}", '{"a":1}'),
                    (1, "{}", "{}")]
