"""Hostile servers: memory stays under the configured bounds (``tracemalloc``
peaks, not time), ids are opaque data, recordings are data, callbacks are isolated.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import load_events
from helpers import text_of
from mutations import Event, replace_id
from test_limits import prologue, text_delta

from runflow import Limits, RunFlow
from runflow.adapters.recording import RecordingError, read_recording
from runflow.testing.events import message_event, step_event
from runflow.testing.fuzz import encode_sse

MB = 1024 * 1024
CHUNK = 64 * 1024


def peak_of(work: Callable[[], Any]) -> tuple[int, Any]:
    tracemalloc.start()
    try:
        result = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def head(mid: str = "msg_1") -> bytes:
    return encode_sse([*prologue(), step_event("thread.run.step.created", "step_1",
                                                "in_progress", mid=mid),
                       message_event("thread.message.created", mid, "in_progress")])[0]


# --------------------------------------------------------------------------- #
# 100 MB of text
# --------------------------------------------------------------------------- #
def one_huge_delta(total: int) -> Iterator[bytes]:
    """One delta event whose text is ``total`` bytes, in 64 KiB chunks."""
    yield (b'event: thread.message.delta\ndata: {"id": "msg_1", "object": '
           b'"thread.message.delta", "delta": {"content": [{"index": 0, "type": "text", '
           b'"text": {"value": "')
    block = b"a" * CHUNK
    for _ in range(total // CHUNK):
        yield block
    yield b'"}}]}}\n\n'


def many_deltas(total: int) -> Iterator[bytes]:
    """``total`` bytes of text as 64 KiB deltas, generated on the fly."""
    value = "a" * CHUNK
    event = encode_sse([text_delta("msg_1", value)])[0]
    for _ in range(total // CHUNK):
        yield event


@pytest.mark.parametrize("source", [one_huge_delta, many_deltas])
def test_100_mb_of_text_stays_bounded(source: Callable[[int], Iterator[bytes]]) -> None:
    def work() -> RunFlow:
        flow = RunFlow()
        flow.feed_sse(head())
        for chunk in source(100 * MB):
            flow.feed_sse(chunk)
        return flow

    peak, flow = peak_of(work)
    limits = Limits()
    assert peak < 2 * max(limits.max_event_bytes, limits.max_message_chars) + 8 * MB
    assert peak < 50 * MB
    assert [v.code.value for v in flow.violations] == ["limit_exceeded"]
    content = flow.message("msg_1").content
    assert len(text_of(content[0]) if content else "") <= limits.max_message_chars


def test_sparse_index_allocates_nothing() -> None:
    start = head()
    huge = {"event": "thread.message.delta",
            "data": {"id": "msg_1", "delta": {"content": [
                {"index": 10**9, "type": "text", "text": {"value": "x"}}]}}}

    def work() -> RunFlow:
        flow = RunFlow()
        flow.feed_sse(start)
        for _ in range(100):
            flow.feed(huge)
        return flow

    peak, flow = peak_of(work)
    assert peak < 1 * MB
    assert {v.code.value for v in flow.violations} == {"content_index_gap"}
    assert flow.message("msg_1").content == []


# --------------------------------------------------------------------------- #
# a million step ids
# --------------------------------------------------------------------------- #
STEP_IDS = int(os.environ.get("RUNFLOW_HOSTILE_IDS", "60000"))


def step_flood(n: int) -> Iterator[Event]:
    for i in range(n):
        yield step_event("thread.run.step.created", f"step_{i}", "in_progress")


def test_step_id_flood_is_bounded_by_max_entities() -> None:
    """Each step past max_entities is rejected, and memory stays flat: the
    violations list must not grow with every rejected event (it does today:
    about 1 KB per rejected step -- the finding this test records)."""
    flow = RunFlow(limits=Limits(max_entities=100))
    for e in prologue():
        flow.feed(e)
    for e in step_flood(1000):  # warm up: the first rejections
        flow.feed(e)

    def more(n: int) -> Callable[[], None]:
        def work() -> None:
            for e in step_flood(n):
                flow.feed(e)
        return work

    small, _ = peak_of(more(STEP_IDS // 10))
    large, _ = peak_of(more(STEP_IDS))
    assert len(flow.step_states) == 100
    assert flow.violations[-1].code.value == "limit_exceeded"
    assert large - small < 1 * MB, f"memory grows with rejected ids: {small} -> {large}"


# --------------------------------------------------------------------------- #
# ids are opaque
# --------------------------------------------------------------------------- #
TEXT = "dotnet_text_answer.jsonl"
HOSTILE_IDS = ["__proto__", "__class__", "../../etc/passwd", "{0.__class__}", "%s%n",
               "label", "__dict__", "x" * MB]


@pytest.mark.parametrize("new", HOSTILE_IDS, ids=lambda s: s[:20])
def test_ids_are_opaque(new: str) -> None:
    events = load_events(TEXT)
    step_id = events[3]["data"]["id"]
    msg_id = next(e["data"]["id"] for e in events if e["event"] == "thread.message.created")
    clean = RunFlow()
    for e in events:
        clean.feed(e)
    flow = RunFlow()
    for e in replace_id(replace_id(events, msg_id, new), step_id, new + "_step"):
        flow.feed(e)
    assert flow.close() == "done"
    assert flow.violations == clean.violations == []
    assert flow.message(new).id == new
    assert flow.message(new).content == clean.message(msg_id).content
    assert flow.step(new + "_step").status == "completed"
    assert not hasattr(RunFlow, new) or new in ("__class__", "__dict__")
    again = RunFlow.from_json(flow.to_json())
    assert again.message(new).model_dump() == flow.message(new).model_dump()
    # a violation quotes the id verbatim: never formatted, never a path
    flow.feed({"event": "thread.message.delta", "data": {"id": new + "{0}", "delta": {}}})
    last = flow.violations[-1]
    assert last.entity is not None and last.entity.id == new + "{0}"  # the id, whole
    assert len(last.message) < 1100  # the message is cut, and says how long it was
    assert str(flow.violations[-1])


def test_recordings_are_data(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    code = f"__import__('os').system('touch {marker}')"
    pickle = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    lines = [json.dumps({"event": code, "data": {"id": code}}),
             json.dumps({"event": "thread.run.created", "data": code}),
             pickle.decode("latin-1").replace("\n", " ")]
    jsonl = tmp_path / "evil.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    sse = tmp_path / "evil.sse"
    sse.write_bytes(b"event: " + code.encode() + b"\ndata: " + pickle.replace(b"\n", b" ")
                    + b"\n\n")
    for path in (jsonl, sse):
        replay = read_recording(path).replay()
        assert replay.flow.violations
        assert {v.code.value for v in replay.flow.violations} <= {
            "unknown_event", "malformed_event", "truncated"}
    with pytest.raises(RecordingError):
        (tmp_path / "evil.pkl").write_bytes(pickle + b"\x00\x80")
        read_recording(tmp_path / "evil.pkl")
    assert not marker.exists()


# --------------------------------------------------------------------------- #
# callbacks
# --------------------------------------------------------------------------- #
RECORDINGS = [TEXT, "dotnet_create_and_run_function_requires_action.jsonl",
              "openllmetry_code_interpreter_logs_message_tool_message_2024.jsonl",
              "dotnet_file_search_file_citation.jsonl",
              "simpleopenai_EDITED_error_event_after_partial_message.jsonl"]


class Boom(Exception):
    pass


def raising(flow: RunFlow) -> list[int]:
    calls: list[int] = []

    def cb(*args: Any) -> None:
        calls.append(1)
        raise Boom

    for state in ("queued", "in_progress", "requires_action", "completed", "failed"):
        flow.on_run(state)(cb)
    for shared in ("in_progress", "completed"):  # states of both steps and messages
        flow.on_step(shared)(cb)
        flow.on_message(shared)(cb)
    for phase in ("created", "delta", "done"):
        flow.on_text(phase)(cb)
        flow.on_tool_call(phase)(cb)
    flow.on_violation(cb)
    flow.on_end(cb)
    return calls


def state_of(flow: RunFlow) -> Any:
    return (flow.run_status, flow.ending, [v.model_dump() for v in flow.violations],
            [s.model_dump() for s in flow.steps], [m.model_dump() for m in flow.messages],
            flow.history)


@pytest.mark.parametrize("name", RECORDINGS)
def test_collected_callback_errors_change_nothing(name: str) -> None:
    data, _ = encode_sse(load_events(name))
    clean = RunFlow()
    clean.feed_sse(data)
    clean.close()
    flow = RunFlow(callback_errors="collect")
    calls = raising(flow)
    for i in range(0, len(data), 300):
        flow.feed_sse(data[i : i + 300])
    flow.close()
    assert calls and len(flow.callback_failures) == len(calls)
    assert all(isinstance(f.error, Boom) for f in flow.callback_failures)
    assert state_of(flow) == state_of(clean)


@pytest.mark.parametrize("name", RECORDINGS)
def test_raising_callback_never_leaves_the_flow_half_updated(name: str) -> None:
    events = load_events(name)
    flow = RunFlow()
    raising(flow)
    reference = RunFlow()
    for e in events:
        reference.feed(e)
        try:
            flow.feed(e)
        except Boom:
            pass
        assert state_of(flow) == state_of(reference)
    try:
        flow.close()
    except Boom:
        pass
    reference.close()
    assert state_of(flow) == state_of(reference)
