"""Hostile cases: memory that :class:`~runflow.Limits` must count, the SSE decoder,
and output that must stay valid JSON and UTF-8 (:mod:`runflow.testing.hostile`)."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from runflow import Limits, RunFlow
from runflow.engine.jsonparse import JSONError, parse_json
from runflow.testing.events import (
    Event,
    message_delta,
    run_event,
    step_delta,
    step_event,
)
from runflow.testing.hostile_model import (
    MID,
    PROLOGUE,
    SID,
    Bound,
    KiB,
    MiB,
    Outcome,
    fed,
    said,
    sse,
    with_message,
    with_tool_step,
)
from runflow.testing.hostile_payloads import message_content, step_details

# --------------------------------------------------------------------------- #
# memory that Limits must count
# --------------------------------------------------------------------------- #
SMALL = Limits(max_tool_chars=1 * MiB, max_message_chars=1 * MiB)
FLOOD = 8 * MiB  # eight times the limit: unbounded growth would break the bound
FRAGMENT = 4 * KiB
TOOL_BOUND = Bound(2 * SMALL.max_tool_chars + 1 * MiB,
                   "2 × `max_tool_chars` + 1 MiB (3 MiB; the flood is 8 MiB)")
MESSAGE_BOUND = Bound(2 * SMALL.max_message_chars + 1 * MiB,
                      "2 × `max_message_chars` + 1 MiB (3 MiB; the flood is 8 MiB)")


def fragments(count: int = FLOOD // FRAGMENT) -> Iterator[str]:
    """Distinct 4 KiB strings (each fresh, as a server's deltas are)."""
    for i in range(count):
        yield f"{i:08d}" + "x" * (FRAGMENT - 8)


def _flood(head: list[Event], deltas: Iterator[Event], read: Callable[[RunFlow], Any]
           ) -> tuple[RunFlow, int, int]:
    """Feed the head then the deltas as SSE bytes; read the snapshot at the end.

    Returns the flow and the ``str.join`` calls made while the deltas streamed and
    while the snapshot was read: growth must be by fragments joined once, on read,
    which is linear work (counted, not timed)."""
    flow = fed(head, limits=SMALL)
    joins = 0

    def count(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal joins
        if event == "c_call" and getattr(arg, "__name__", None) == "join" and isinstance(
                getattr(arg, "__self__", None), str):
            joins += 1

    for delta in deltas:
        block = sse(delta)
        sys.setprofile(count)
        try:
            flow.feed_sse(block)
        finally:
            sys.setprofile(None)
    streaming, joins = joins, 0
    sys.setprofile(count)
    try:
        read(flow)
    finally:
        sys.setprofile(None)
    return flow, streaming, joins


def case_logs_flood() -> Outcome:
    head = [*with_tool_step(), step_delta(SID, {
        "index": 0, "id": "call_ci", "type": "code_interpreter",
        "code_interpreter": {"input": "print(1)", "outputs": [{"index": 0, "type": "logs",
                                                                "logs": ""}]}})]
    deltas = (step_delta(SID, {"index": 0, "type": "code_interpreter", "code_interpreter": {
        "outputs": [{"index": 0, "type": "logs", "logs": f}]}}) for f in fragments())
    flow, streaming, reading = _flood(head, deltas, step_details)
    return Outcome(f"{said(flow)}; `str.join` calls: {streaming} while streaming, "
                   f"{reading} on read")


def case_outputs_flood() -> Outcome:
    head = [*with_tool_step(), step_delta(SID, {
        "index": 0, "id": "call_ci", "type": "code_interpreter",
        "code_interpreter": {"input": "print(1)", "outputs": []}})]
    deltas = (step_delta(SID, {"index": 0, "type": "code_interpreter", "code_interpreter": {
        "outputs": [{"index": i % SMALL.max_index, "type": "logs", "logs": f}]}})
        for i, f in enumerate(fragments()))
    flow, _, _ = _flood(head, deltas, step_details)
    return Outcome(said(flow))


def case_name_flood() -> Outcome:
    head = [*with_tool_step(), step_delta(SID, {"index": 0, "id": "call_1", "type": "function",
                                                "function": {"name": "f", "arguments": ""}})]
    deltas = (step_delta(SID, {"index": 0, "type": "function", "function": {"name": f}})
              for f in fragments())
    flow, _, _ = _flood(head, deltas, step_details)
    return Outcome(said(flow))


def case_annotation_flood() -> Outcome:
    head = [*with_message(), message_delta(MID, {"index": 0, "type": "text",
                                                 "text": {"value": "[1]"}})]
    deltas = (message_delta(MID, {"index": 0, "type": "text", "text": {"annotations": [{
        "index": i % SMALL.max_index, "type": "file_citation", "text": f, "start_index": 0,
        "end_index": 3, "file_citation": {"file_id": "file_1"}}]}})
        for i, f in enumerate(fragments()))
    flow, _, _ = _flood(head, deltas, message_content)
    return Outcome(said(flow))


def case_image_flood() -> Outcome:
    deltas = (message_delta(MID, {"index": i % SMALL.max_index, "type": "image_file",
                                  "image_file": {"file_id": f}})
              for i, f in enumerate(fragments()))
    flow, _, _ = _flood(with_message(), deltas, message_content)
    return Outcome(said(flow))


HISTORY = Limits(max_history=50)
SELF_LOOPS = 1000


def case_history_flood() -> Outcome:
    flow = fed(with_tool_step(), limits=HISTORY)
    for _ in range(SELF_LOOPS):
        flow.feed(step_event("thread.run.step.in_progress", SID, "in_progress"))
    return Outcome(f"{said(flow)}; `history` keeps {len(flow.history)}, "
                   f"`history_dropped` {flow.history_dropped}, the last entry counts "
                   f"{flow.history[-1].count:,}")


NAME_CHARS = 2 * MiB
NAMED_EVENTS = 100
NAME_BOUND = Bound(16 * MiB, "16 MiB (kept whole: 100 × 2 MiB × 2 = 400 MiB)")


def case_violation_messages() -> Outcome:
    flow = RunFlow()
    for i in range(NAMED_EVENTS):
        flow.feed({"event": f"{i:08d}" + "x" * (NAME_CHARS - 8), "data": {}})
    most = flow.limits.max_message_text + 64  # the cut text says how long it was
    cut = all(len(v.message) <= most and len(v.event or "") <= most
              and f"({NAME_CHARS} characters)" in (v.event or "") for v in flow.violations)
    codes = {v.code.value for v in flow.violations}
    how = "cut at `max_message_text`, stating the length" if cut else "KEPT WHOLE"
    return Outcome(f"{len(flow.violations)} × `{'`, `'.join(sorted(codes))}`; names and "
                   f"messages {how}")


# --------------------------------------------------------------------------- #
# the SSE decoder
# --------------------------------------------------------------------------- #
def case_empty_chunk_after_cr() -> Outcome:
    data = json.dumps(PROLOGUE[0]["data"]).encode()
    flow = RunFlow()
    for chunk in [b"event: thread.run.created\r", b"", b"\ndata: " + data + b"\r", b"",
                  b"\n\r", b"", b"\n"]:
        flow.feed_sse(chunk)
    return Outcome(f"{flow.event_count} event, run `{flow.run_status}`; {said(flow)}")


# --------------------------------------------------------------------------- #
# output and encoding
# --------------------------------------------------------------------------- #
def _valid_json(text: str) -> bool:
    try:
        parse_json(text.encode("utf-8"))
    except (UnicodeEncodeError, JSONError):
        return False
    return True


def case_lone_surrogate() -> Outcome:
    flow = RunFlow()
    flow.feed({"event": "thread.run.\udc80created", "data": {}})
    fed([*with_message(), message_delta(MID, {"index": 0, "type": "text",
                                              "text": {"value": "caf\udce9"}})], flow)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = flow.to_json()
    valid = "is valid UTF-8 JSON" if _valid_json(saved) else "is NOT valid UTF-8 JSON"
    warned = sorted({w.category.__name__ for w in caught})
    told = f", with a `{'`, `'.join(warned)}`" if warned else ", with NO warning"
    return Outcome(f"{said(flow)}; `to_json()` {valid}{told}")


def case_surrogate_escape_in_sse() -> Outcome:
    flow = RunFlow()
    flow.feed_sse(b'event: thread.run.created\ndata: {"id": "run_x", "object": "thread.run", '
                  b'"thread_id": "t", "status": "queued", "instructions": "a\\udc80"}\n\n')
    return Outcome(f"{said(flow)}; run `{flow.run_status}`")


def case_nan_in_sse() -> Outcome:
    flow = RunFlow()
    flow.feed_sse(b'event: thread.run.created\ndata: {"id": "run_x", "object": "thread.run", '
                  b'"thread_id": "t", "status": "queued", "temperature": NaN}\n\n')
    return Outcome(f"{said(flow)}; run `{flow.run_status}`")


def case_infinity_in_data() -> Outcome:
    flow = RunFlow()
    flow.feed(run_event("thread.run.created", "queued", temperature=float("inf")))
    valid = "is valid JSON" if _valid_json(flow.to_json()) else "is NOT valid JSON"
    return Outcome(f"{said(flow)}; run `{flow.run_status}`; `to_json()` {valid}")


