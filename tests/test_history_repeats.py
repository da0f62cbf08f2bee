"""Repeated self-loop status events collapse in the history: counted on the last
entry, not appended (a flood costs O(1) memory), through checkpoints too."""

from __future__ import annotations

import json
from typing import Any

from runflow.protocols.assistants.flow import RunFlow


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


RUN = {"id": "run_1", "object": "thread.run", "status": "queued", "thread_id": "t",
       "assistant_id": "a", "created_at": 1}
MESSAGE = {"id": "msg_1", "object": "thread.message", "status": "in_progress",
           "thread_id": "t", "role": "assistant", "content": [], "created_at": 1,
           "run_id": "run_1", "assistant_id": "a", "attachments": [], "metadata": {}}
HEAD = (_sse("thread.run.created", RUN) + _sse("thread.run.queued", RUN)
        + _sse("thread.run.in_progress", {**RUN, "status": "in_progress"})
        + _sse("thread.message.created", MESSAGE))
REPEAT = _sse("thread.message.in_progress", MESSAGE)


def test_a_flood_of_one_self_loop_event_is_one_history_entry_with_its_count() -> None:
    flow = RunFlow()
    flow.feed_sse(HEAD)
    before = len(flow.history)
    flow.feed_sse(REPEAT * 500)
    assert len(flow.history) == before + 1
    last = flow.history[-1]
    assert (last.entity, last.id, last.event, last.source, last.dest, last.count) == (
        "message", "msg_1", "thread.message.in_progress", "in_progress", "in_progress", 500)
    assert last.index == 4  # the first of them
    assert flow.history_dropped == 0


def test_a_repeat_after_another_change_starts_a_new_entry() -> None:
    flow = RunFlow()
    flow.feed_sse(HEAD + REPEAT * 3)
    flow.feed_sse(_sse("thread.message.created", {**MESSAGE, "id": "msg_2"}))
    flow.feed_sse(REPEAT * 2)
    counts = [(c.id, c.event, c.count) for c in flow.history[-3:]]
    assert counts == [("msg_1", "thread.message.in_progress", 3),
                      ("msg_2", "thread.message.created", 1),
                      ("msg_1", "thread.message.in_progress", 2)]


def test_a_checkpoint_keeps_the_count() -> None:
    flow = RunFlow()
    flow.feed_sse(HEAD + REPEAT * 7)
    again = RunFlow.from_json(flow.to_json())
    assert [(c.index, c.event, c.count) for c in again.history] == [
        (c.index, c.event, c.count) for c in flow.history]
    assert again.history[-1].count == 7
    again.feed_sse(REPEAT)
    assert again.history[-1].count == 8


def test_alternating_self_loops_are_each_kept_up_to_max_history() -> None:
    from runflow import Limits

    flow = RunFlow(limits=Limits(max_history=10))
    other = {**MESSAGE, "id": "msg_2"}
    flow.feed_sse(HEAD + _sse("thread.message.created", other))
    flow.feed_sse((REPEAT + _sse("thread.message.in_progress", other)) * 20)
    assert len(flow.history) == 10
    assert flow.history_dropped > 0  # the bound still holds for changes that differ
    assert all(c.count == 1 for c in flow.history)
