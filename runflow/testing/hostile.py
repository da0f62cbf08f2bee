"""Hostile inputs as data: what each gets from runflow, for the README's table.

Issue 12 lists hostile servers and callers that once crashed runflow, corrupted a
flow or grew it without bound. Each flow-level one is a :class:`Case` here: the
"Why" bullet it covers, the input, a function that builds the input and feeds it
through the public API only, and what runflow must answer (violation codes at
their event index, an exception type, an ending, plus facts such as "the entity
is not registered"). Memory cases carry a :class:`Bound` in bytes derived from
:class:`~runflow.Limits`, and their peak is measured with ``tracemalloc``.

:func:`hostile_table` runs every case and renders a Markdown table of what runflow
*actually* answered, so a regression shows in the table and in
``tests/test_hostile_table.py``, which also checks the README holds the table as
generated. The measured peaks are never printed (they vary between runs), only
whether each stayed under its bound. What is about processes and servers (the CLI
and the orchestrator) is proved by tests elsewhere: :data:`PROVED_ELSEWHERE` names
them, and the test checks those test functions exist.

Regenerate the README block with ``python -m runflow.testing.hostile --write``.
"""

from __future__ import annotations

import copy
import json
import sys
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from runflow import CheckpointError, Limits, RunFlow
from runflow.engine.jsonparse import JSONError, parse_json
from runflow.testing.events import (
    RUN,
    Event,
    message_delta,
    message_event,
    run_event,
    step_delta,
    step_event,
)

__all__ = [
    "CASES",
    "PROVED_ELSEWHERE",
    "WHY",
    "Bound",
    "Case",
    "Outcome",
    "Proof",
    "Result",
    "hostile_table",
    "render",
    "run_case",
    "run_cases",
]

MiB = 1024 * 1024
KiB = 1024

WHY: dict[str, str] = {
    "types": "Wrong types inside valid JSON",
    "nesting": "Deeply nested JSON",
    "memory": "Memory that `Limits` does not count",
    "sse": "The SSE decoder",
    "encoding": "Output and encoding",
    "cli": "CLI tracebacks",
    "callbacks": "Callbacks can corrupt the flow",
    "ids": "Ids colliding across kinds",
    "checkpoints": "Checkpoints",
    "orchestrator": "The orchestrator",
}
"""The bullets under "Why" in issue 12, by key."""


# --------------------------------------------------------------------------- #
# the data model
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Bound:
    """A memory bound for a case: ``limit`` bytes, said as ``text``."""

    limit: int
    text: str


@dataclass(frozen=True)
class Outcome:
    """What runflow answered, rendered deterministically from the flow."""

    answer: str


@dataclass(frozen=True)
class Case:
    name: str
    why: str
    """A key of :data:`WHY`."""
    input: str
    """The hostile input, in a few words (Markdown)."""
    expect: str
    """The answer runflow must give (compared with :attr:`Outcome.answer`)."""
    feed: Callable[[], Outcome]
    bound: Bound | None = None


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: Outcome
    peak: int | None
    """Peak traced memory in bytes, for cases with a bound."""

    @property
    def answered(self) -> bool:
        return self.outcome.answer == self.case.expect

    @property
    def bounded(self) -> bool:
        bound = self.case.bound
        return bound is None or (self.peak is not None and self.peak < bound.limit)

    @property
    def ok(self) -> bool:
        return self.answered and self.bounded


@dataclass(frozen=True)
class Proof:
    """A row proved by a test elsewhere (processes, servers)."""

    why: str
    name: str
    input: str
    answer: str
    test: str
    """``tests/FILE.py::test_function``."""


# --------------------------------------------------------------------------- #
# stream builders: small synthetic runs in the shape of the real captures
# --------------------------------------------------------------------------- #
PROLOGUE: list[Event] = [run_event("thread.run.created", "queued"),
                         run_event("thread.run.queued", "queued"),
                         run_event("thread.run.in_progress", "in_progress")]
MID, SID, MSTEP = "msg_hostile", "step_hostile", "step_hostile_message"


def with_message() -> list[Event]:
    """The prologue, a message_creation step and its message (5 events)."""
    return [*PROLOGUE, step_event("thread.run.step.created", MSTEP, "in_progress", mid=MID),
            message_event("thread.message.created", MID, "in_progress")]


def with_tool_step() -> list[Event]:
    """The prologue and a tool_calls step (4 events)."""
    return [*PROLOGUE, step_event("thread.run.step.created", SID, "in_progress")]


def sse(event: Event) -> bytes:
    """One SSE block as a server sends it."""
    return (f"event: {event['event']}\ndata: ".encode()
            + json.dumps(event["data"], ensure_ascii=False).encode("utf-8", "surrogatepass")
            + b"\n\n")


def fed(events: list[Event], flow: RunFlow | None = None, **options: Any) -> RunFlow:
    flow = flow if flow is not None else RunFlow(**options)
    for event in events:
        flow.feed(event)
    return flow


def said(flow: RunFlow) -> str:
    """The flow's violations as ``code @ index``, or "no violation"."""
    if not flow.violations:
        return "no violation"
    return ", ".join(f"`{v.code.value}` @ {v.index}" for v in flow.violations)


# --------------------------------------------------------------------------- #
# wrong types inside valid JSON
# --------------------------------------------------------------------------- #
def _rejected_created(events: list[Event], bad: Event, kind: str, entity_id: str) -> Outcome:
    flow = fed([*events, bad])
    states = flow.message_states if kind == "message" else flow.step_states
    registered = ("not registered" if entity_id not in states
                  else f"REGISTERED ({states[entity_id]})")
    return Outcome(f"{said(flow)}; the {kind} is {registered}")


def _rejected_delta(events: list[Event], bad: Event, kind: str, read: Callable[[RunFlow], Any]
                    ) -> Outcome:
    flow = fed(events)
    before = read(flow)
    flow.feed(bad)
    same = "unchanged" if read(flow) == before else "CHANGED"
    return Outcome(f"{said(flow)}; the {kind} snapshot is {same}")


def _message_content(flow: RunFlow) -> Any:
    return flow.message(MID).model_dump(mode="json")


def _step_details(flow: RunFlow) -> Any:
    return flow.step(SID).model_dump(mode="json")


def case_text_is_a_string() -> Outcome:
    bad = message_event("thread.message.created", "msg_bad", "in_progress",
                        [{"type": "text", "text": "hello"}])
    return _rejected_created([*PROLOGUE, step_event("thread.run.step.created", MSTEP,
                                                    "in_progress", mid="msg_bad")],
                             bad, "message", "msg_bad")


def case_value_is_an_int() -> Outcome:
    bad = message_delta(MID, {"index": 0, "type": "text", "text": {"value": 42}})
    return _rejected_delta(with_message(), bad, "message", _message_content)


def case_refusal_is_an_int() -> Outcome:
    bad = message_event("thread.message.created", "msg_bad", "in_progress",
                        [{"type": "refusal", "refusal": 7}])
    return _rejected_created([*PROLOGUE, step_event("thread.run.step.created", MSTEP,
                                                    "in_progress", mid="msg_bad")],
                             bad, "message", "msg_bad")


def case_annotations_is_an_int() -> Outcome:
    bad = message_delta(MID, {"index": 0, "type": "text",
                              "text": {"value": "x", "annotations": 5}})
    return _rejected_delta(with_message(), bad, "message", _message_content)


def case_function_is_a_string() -> Outcome:
    bad = step_event("thread.run.step.created", "step_bad", "in_progress",
                     calls=[{"id": "call_1", "type": "function", "function": "get_weather()"}])
    return _rejected_created(list(PROLOGUE), bad, "step", "step_bad")


def case_outputs_of_one() -> Outcome:
    events = [*with_tool_step(), step_delta(SID, {
        "index": 0, "id": "call_ci", "type": "code_interpreter",
        "code_interpreter": {"input": "1+1", "outputs": []}})]
    bad = step_delta(SID, {"index": 0, "type": "code_interpreter",
                           "code_interpreter": {"outputs": [1]}})
    return _rejected_delta(events, bad, "step", _step_details)


def case_type_is_a_list() -> Outcome:
    bad = step_event("thread.run.step.created", "step_bad", "in_progress",
                     calls=[{"id": "call_1", "type": ["function"],
                             "function": {"name": "f", "arguments": "{}", "output": None}}])
    return _rejected_created(list(PROLOGUE), bad, "step", "step_bad")


def case_error_with_odd_keys() -> Outcome:
    body = {"error": {"message": "boom", "type": "server_error", "weird": [1, {"x": None}],
                      "extra": True}}
    flow = fed([*PROLOGUE, {"event": "error", "data": body}])
    error = flow.error
    kept = error is not None and error.model_dump() .get("weird") == [1, {"x": None}]
    again = RunFlow.from_json(flow.to_json()).error
    restored = again is not None and error is not None and again.model_dump() == error.model_dump()
    return Outcome(f"{said(flow)}; ending `{flow.close()}`; `flow.error` "
                   f"{'keeps' if kept else 'LOSES'} the odd keys"
                   f"{'' if restored else ', NOT restored by from_json'}")


# --------------------------------------------------------------------------- #
# deeply nested JSON
# --------------------------------------------------------------------------- #
DEPTH = 100_000
DEEP = "[" * DEPTH + "]" * DEPTH


def case_deep_sse() -> Outcome:
    flow = RunFlow()
    flow.feed_sse(b"event: thread.run.created\ndata: " + DEEP.encode() + b"\n\n")
    return Outcome(said(flow))


def case_deep_bytes() -> Outcome:
    flow = RunFlow()
    flow.feed({"event": "thread.run.created", "data": DEEP.encode()})
    return Outcome(said(flow))


def case_deep_checkpoint() -> Outcome:
    try:
        RunFlow.from_json(DEEP)
    except CheckpointError as exc:
        return Outcome(f"`CheckpointError`{' naming the depth' if 'deeper' in str(exc) else ''}")
    return Outcome("loaded")


def case_deep_arguments() -> Outcome:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": DEEP}}
    flow = fed([*with_tool_step(),
                step_delta(SID, {"index": 0, **call}),
                run_event("thread.run.requires_action", "requires_action", required_action={
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {"tool_calls": [call]}})])
    return Outcome(f"{said(flow)}; run `{flow.run_status}`")


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
    flow, streaming, reading = _flood(head, deltas, _step_details)
    return Outcome(f"{said(flow)}; `str.join` calls: {streaming} while streaming, "
                   f"{reading} on read")


def case_outputs_flood() -> Outcome:
    head = [*with_tool_step(), step_delta(SID, {
        "index": 0, "id": "call_ci", "type": "code_interpreter",
        "code_interpreter": {"input": "print(1)", "outputs": []}})]
    deltas = (step_delta(SID, {"index": 0, "type": "code_interpreter", "code_interpreter": {
        "outputs": [{"index": i % SMALL.max_index, "type": "logs", "logs": f}]}})
        for i, f in enumerate(fragments()))
    flow, _, _ = _flood(head, deltas, _step_details)
    return Outcome(said(flow))


def case_name_flood() -> Outcome:
    head = [*with_tool_step(), step_delta(SID, {"index": 0, "id": "call_1", "type": "function",
                                                "function": {"name": "f", "arguments": ""}})]
    deltas = (step_delta(SID, {"index": 0, "type": "function", "function": {"name": f}})
              for f in fragments())
    flow, _, _ = _flood(head, deltas, _step_details)
    return Outcome(said(flow))


def case_annotation_flood() -> Outcome:
    head = [*with_message(), message_delta(MID, {"index": 0, "type": "text",
                                                 "text": {"value": "[1]"}})]
    deltas = (message_delta(MID, {"index": 0, "type": "text", "text": {"annotations": [{
        "index": i % SMALL.max_index, "type": "file_citation", "text": f, "start_index": 0,
        "end_index": 3, "file_citation": {"file_id": "file_1"}}]}})
        for i, f in enumerate(fragments()))
    flow, _, _ = _flood(head, deltas, _message_content)
    return Outcome(said(flow))


def case_image_flood() -> Outcome:
    deltas = (message_delta(MID, {"index": i % SMALL.max_index, "type": "image_file",
                                  "image_file": {"file_id": f}})
              for i, f in enumerate(fragments()))
    flow, _, _ = _flood(with_message(), deltas, _message_content)
    return Outcome(said(flow))


HISTORY = Limits(max_history=50)
SELF_LOOPS = 1000


def case_history_flood() -> Outcome:
    flow = fed(with_tool_step(), limits=HISTORY)
    for _ in range(SELF_LOOPS):
        flow.feed(step_event("thread.run.step.in_progress", SID, "in_progress"))
    return Outcome(f"{said(flow)}; `history` keeps {len(flow.history)}, "
                   f"`history_dropped` {flow.history_dropped}")


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


# --------------------------------------------------------------------------- #
# callbacks that edit what they receive
# --------------------------------------------------------------------------- #
def case_enter_callback_edits_the_run() -> Outcome:
    flow = RunFlow()
    calls = []

    @flow.on_run("in_progress")
    def edit(run: Any) -> None:
        calls.append(run.id)
        run.status = "failed"
        run.id = "run_other"
        run.metadata = {"edited": "yes"}

    fed(PROLOGUE, flow)
    run = flow.run
    same = run is not None and run.status == flow.run_status and run.id == RUN
    return Outcome(f"{len(calls)} call; `flow.run.status` "
                   f"{'=' if same else '≠'} `flow.run_status` (`{flow.run_status}`); "
                   f"{said(flow)}")


ANNOTATION = {"type": "file_citation", "text": "[1]", "start_index": 0, "end_index": 3,
              "file_citation": {"file_id": "file_1"}}


def case_text_callback_edits_annotations() -> Outcome:
    flow = RunFlow()
    calls = []

    @flow.on_text("delta")
    def edit(delta: Any, snapshot: Any) -> None:
        calls.append(delta.index)
        for ann in delta.annotations:
            ann["text"] = "edited"
            ann["end_index"] = 99
        for ann in snapshot.annotations:
            ann["text"] = "edited"

    final = [{"type": "text", "text": {"value": "[1] ok", "annotations": [ANNOTATION]}}]
    fed([*with_message(), message_delta(MID, {"index": 0, "type": "text", "text": {
        "value": "[1] ok", "annotations": [{"index": 0, **ANNOTATION}]}}),
        message_event("thread.message.completed", MID, "completed", final)], flow)
    kept = flow.message(MID).model_dump(mode="json")["content"] == final
    return Outcome(f"{len(calls)} call; {said(flow)}; the message "
                   f"{'keeps' if kept else 'LOSES'} the server's annotation")


def case_tool_callback_edits_outputs() -> Outcome:
    flow = RunFlow()
    calls = []

    def edit(*args: Any) -> None:
        calls.append(len(args))
        for arg in args:
            outputs = arg.outputs
            for out in outputs:
                out["logs"] = "edited"
            if isinstance(outputs, list):
                outputs.append({"type": "logs", "logs": "extra"})

    flow.on_tool_call("delta")(edit)
    flow.on_tool_call("done")(edit)
    call = {"id": "call_ci", "type": "code_interpreter",
            "code_interpreter": {"input": "1+1", "outputs": [{"type": "logs", "logs": "2"}]}}
    fed([*with_tool_step(),
         step_delta(SID, {"index": 0, "id": "call_ci", "type": "code_interpreter",
                          "code_interpreter": {"input": "1+1", "outputs": []}}),
         step_delta(SID, {"index": 0, "type": "code_interpreter", "code_interpreter": {
             "outputs": [{"index": 0, "type": "logs", "logs": "2"}]}})], flow)
    before = _step_details(flow)
    streamed = before["step_details"]["tool_calls"] == [call]
    flow.feed(step_event("thread.run.step.completed", SID, "completed", calls=[call]))
    after = flow.step(SID).model_dump(mode="json")["step_details"]["tool_calls"] == [call]
    same = "unchanged" if streamed and after else "CHANGED"
    return Outcome(f"{len(calls)} calls; {said(flow)}; the step snapshot is {same}")


# --------------------------------------------------------------------------- #
# ids colliding across kinds
# --------------------------------------------------------------------------- #
def case_step_and_message_share_an_id() -> Outcome:
    same = "shared_id_1"
    flow = RunFlow()
    seen: list[str] = []
    flow.on_text("created")(lambda text: seen.append(f"created {text.message_id}"))
    flow.on_text("done")(lambda text: seen.append(f"done {text.message_id}"))
    final = [{"type": "text", "text": {"value": "hi", "annotations": []}}]
    fed([*PROLOGUE, step_event("thread.run.step.created", same, "in_progress", mid=same),
         message_event("thread.message.created", same, "in_progress"),
         message_delta(same, {"index": 0, "type": "text", "text": {"value": "hi"}}),
         message_event("thread.message.completed", same, "completed", final),
         step_event("thread.run.step.completed", same, "completed", mid=same),
         run_event("thread.run.completed", "completed"), {"event": "done", "data": "[DONE]"}],
        flow)
    flow.close()
    fired = ", ".join(seen) if seen else "nothing (SILENCE)"
    return Outcome(f"text callbacks: {fired}; {said(flow)}")


def case_tool_step_and_message_share_an_id() -> Outcome:
    same = "shared_id_2"
    flow = RunFlow()
    seen: list[str] = []
    flow.on_text("done")(lambda text: seen.append(f"text done {text.message_id}"))
    flow.on_tool_call("done")(lambda call: seen.append(f"tool call done {call.step_id}"))
    final = [{"type": "text", "text": {"value": "hi", "annotations": []}}]
    call = {"id": "call_1", "type": "function",
            "function": {"name": "f", "arguments": "{}", "output": "ok"}}
    fed([*PROLOGUE, step_event("thread.run.step.created", MSTEP, "in_progress", mid=same),
         message_event("thread.message.created", same, "in_progress"),
         message_delta(same, {"index": 0, "type": "text", "text": {"value": "hi"}}),
         message_event("thread.message.completed", same, "completed", final),
         step_event("thread.run.step.completed", MSTEP, "completed", mid=same),
         step_event("thread.run.step.created", same, "in_progress"),
         step_delta(same, {"index": 0, "id": "call_1", "type": "function",
                           "function": {"name": "f", "arguments": "{}"}}),
         step_event("thread.run.step.completed", same, "completed", calls=[call]),
         run_event("thread.run.completed", "completed")], flow)
    fired = ", ".join(seen) if seen else "nothing (SILENCE)"
    return Outcome(f"{fired}; {said(flow)}")


# --------------------------------------------------------------------------- #
# damaged checkpoints
# --------------------------------------------------------------------------- #
def _checkpoint() -> dict[str, Any]:
    flow = fed([*with_message(), message_delta(MID, {"index": 0, "type": "text",
                                                     "text": {"value": "hi"}})])
    return json.loads(flow.to_json())  # type: ignore[no-any-return]


def _load(text: str) -> Outcome:
    try:
        flow = RunFlow.from_json(text)
    except CheckpointError:
        return Outcome("`CheckpointError` at load")
    # loaded: say what is inconsistent, then feed it the next event
    notes = []
    run = flow.run
    if run is not None and run.status != flow.run_status:
        notes.append(f"`flow.run.status` {run.status!r} ≠ `flow.run_status` "
                     f"{flow.run_status!r}")
    if run is None and (flow.step_states or flow.message_states):
        notes.append("steps and messages with no run")
    flow.feed(message_delta(MID, {"index": 0, "type": "text", "text": {"value": "!"}}))
    return Outcome(f"LOADED{': ' if notes else ''}{', '.join(notes)}; the next delta: "
                   f"{said(flow)}")


def _damaged(edit: Callable[[dict[str, Any]], None]) -> Callable[[], Outcome]:
    def feed() -> Outcome:
        data = copy.deepcopy(_checkpoint())
        edit(data)
        return _load(json.dumps(data))
    return feed


def _message_tracker(data: dict[str, Any]) -> dict[str, Any]:
    return data["state"]["children"]["message"][MID]  # type: ignore[no-any-return]


def _no_run(data: dict[str, Any]) -> None:
    state = data["state"]
    state["root"] = state["root_id"] = None
    _message_tracker(data)["state"] = "completed"


def _run_status_of_five(data: dict[str, Any]) -> None:
    data["state"]["root"]["raw"]["status"] = 5


def _part_of_no_type(data: dict[str, Any]) -> None:
    _message_tracker(data)["acc"]["parts"][0]["type"] = "zz"


def case_index_1e999() -> Outcome:
    text = json.dumps(_checkpoint())
    marker = '"index": '
    at = text.index(marker) + len(marker)
    end = at + len(text[at:]) - len(text[at:].lstrip("0123456789"))
    return _load(text[:at] + "1e999" + text[end:])


# --------------------------------------------------------------------------- #
# the catalogue
# --------------------------------------------------------------------------- #
NOT_REGISTERED = "`malformed_event` @ {i}; the {kind} is not registered"
UNCHANGED = "`malformed_event` @ {i}; the {kind} snapshot is unchanged"

CASES: tuple[Case, ...] = (
    Case("text is a string", "types", '`content[0].text: "hello"` in `thread.message.created`',
         NOT_REGISTERED.format(i=4, kind="message"), case_text_is_a_string),
    Case("value is an int", "types", "`text.value: 42` in a message delta",
         UNCHANGED.format(i=5, kind="message"), case_value_is_an_int),
    Case("refusal is an int", "types", "`content[0].refusal: 7` in `thread.message.created`",
         NOT_REGISTERED.format(i=4, kind="message"), case_refusal_is_an_int),
    Case("annotations is an int", "types", "`text.annotations: 5` in a message delta",
         UNCHANGED.format(i=5, kind="message"), case_annotations_is_an_int),
    Case("function body is a string", "types",
         '`tool_calls[0].function: "get_weather()"` in `thread.run.step.created`',
         NOT_REGISTERED.format(i=3, kind="step"), case_function_is_a_string),
    Case("outputs: [1]", "types", "`code_interpreter.outputs: [1]` in a step delta",
         UNCHANGED.format(i=5, kind="step"), case_outputs_of_one),
    Case("tool call type is a list", "types",
         '`tool_calls[0].type: ["function"]` in `thread.run.step.created`',
         NOT_REGISTERED.format(i=3, kind="step"), case_type_is_a_list),
    Case("error with odd keys", "types",
         '`{"error": {"message": …, "type": …, "weird": [...], "extra": true}}`',
         "no violation; ending `error`; `flow.error` keeps the odd keys",
         case_error_with_odd_keys),
    Case("deep JSON via feed_sse", "nesting", "`[` × 100,000 as SSE data",
         "`malformed_event` @ 0", case_deep_sse),
    Case("deep JSON via feed(bytes)", "nesting", "`[` × 100,000 as `data` bytes",
         "`malformed_event` @ 0", case_deep_bytes),
    Case("deep checkpoint", "nesting", "`RunFlow.from_json` of `[` × 100,000",
         "`CheckpointError` naming the depth", case_deep_checkpoint),
    Case("deep tool arguments", "nesting",
         "function `arguments` of `[` × 100,000 at `requires_action`",
         "`invalid_tool_arguments` @ 5; run `requires_action`", case_deep_arguments),
    Case("code_interpreter logs flood", "memory",
         "8 MiB of `logs` in 4 KiB deltas (`max_tool_chars` 1 MiB)",
         "`limit_exceeded` @ 260; `str.join` calls: 0 while streaming, 1 on read",
         case_logs_flood, TOOL_BOUND),
    Case("outputs flood", "memory",
         "8 MiB of code_interpreter outputs at indices 0–1023, 4 KiB each",
         "`limit_exceeded` @ 260", case_outputs_flood, TOOL_BOUND),
    Case("function name flood", "memory", "8 MiB of function `name` in 4 KiB deltas",
         "`limit_exceeded` @ 260", case_name_flood, TOOL_BOUND),
    Case("annotations flood", "memory",
         "8 MiB of `file_citation` annotations at indices 0–1023, 4 KiB each",
         "`limit_exceeded` @ 260", case_annotation_flood, MESSAGE_BOUND),
    Case("image parts flood", "memory",
         "8 MiB of `image_file` parts at indices 0–1023, 4 KiB file ids",
         "`limit_exceeded` @ 261", case_image_flood, MESSAGE_BOUND),
    Case("history flood", "memory",
         "1,000 self-loop `thread.run.step.in_progress` (`max_history` 50)",
         "no violation; `history` keeps 50, `history_dropped` 954", case_history_flood),
    Case("2 MiB event names", "memory", "100 events named with 2 MiB each",
         "100 × `unknown_event`; names and messages cut at `max_message_text`, stating the "
         "length", case_violation_messages, NAME_BOUND),
    Case("empty chunk after CR", "sse",
         '`"…\\r"`, `""`, `"\\n…"`: a CRLF split by an empty chunk',
         "1 event, run `queued`; no violation", case_empty_chunk_after_cr),
    Case("lone surrogate", "encoding", "`\\udc80` in an event name and `\\udce9` in a text",
         "`unknown_event` @ 0; `to_json()` is valid UTF-8 JSON, with a `UnicodeWarning`",
         case_lone_surrogate),
    Case("lone-surrogate escape in SSE data", "encoding",
         '`"instructions": "a\\udc80"` in `thread.run.created`',
         "`malformed_event` @ 0; run `unseen`", case_surrogate_escape_in_sse),
    Case("NaN in SSE data", "encoding", "`\"temperature\": NaN` in `thread.run.created`",
         "`malformed_event` @ 0; run `unseen`", case_nan_in_sse),
    Case("Infinity in fed data", "encoding",
         "`temperature=float(\"inf\")` in `thread.run.created` via `feed`",
         "`malformed_event` @ 0; run `unseen`; `to_json()` is valid JSON",
         case_infinity_in_data),
    Case("enter callback edits the Run", "callbacks",
         "`on_run(\"in_progress\")` sets `status`, `id`, `metadata`",
         "1 call; `flow.run.status` = `flow.run_status` (`in_progress`); no violation",
         case_enter_callback_edits_the_run),
    Case("text callback edits annotations", "callbacks",
         "`on_text(\"delta\")` edits the delta's and the snapshot's annotations",
         "1 call; no violation; the message keeps the server's annotation",
         case_text_callback_edits_annotations),
    Case("tool-call callback edits outputs", "callbacks",
         "`on_tool_call(\"delta\")`/`(\"done\")` edit and extend `outputs`",
         "3 calls; no violation; the step snapshot is unchanged",
         case_tool_callback_edits_outputs),
    Case("step and message share an id", "ids",
         "a `message_creation` step and its message both `shared_id_1`",
         "text callbacks: created shared_id_1, done shared_id_1; no violation",
         case_step_and_message_share_an_id),
    Case("tool_calls step and message share an id", "ids",
         "a message, then a `tool_calls` step, both `shared_id_2`",
         "text done shared_id_2, tool call done shared_id_2; no violation",
         case_tool_step_and_message_share_an_id),
    Case("max_message_chars null", "checkpoints", "`settings.limits.max_message_chars: null`",
         "`CheckpointError` at load", _damaged(
             lambda d: d["settings"]["limits"].__setitem__("max_message_chars", None))),
    Case("part value is a list", "checkpoints", "a text part's `value: [1]`",
         "`CheckpointError` at load", _damaged(
             lambda d: _message_tracker(d)["acc"]["parts"][0].__setitem__("value", [1]))),
    Case("index of 1e999", "checkpoints", "`state.index: 1e999`",
         "`CheckpointError` at load", case_index_1e999),
    Case("tracker id differs", "checkpoints", "a message tracker's `id` ≠ its object's `id`",
         "`CheckpointError` at load", _damaged(
             lambda d: _message_tracker(d).__setitem__("id", "msg_other"))),
    Case("duplicate id across kinds", "checkpoints",
         "the message's tracker also listed among the steps",
         "`CheckpointError` at load", _damaged(
             lambda d: d["state"]["children"]["step"].__setitem__(MID, _message_tracker(d)))),
    Case("message completed with no run", "checkpoints",
         "`state.root: null` and the message `completed`",
         "`CheckpointError` at load", _damaged(_no_run)),
    Case("run object of the wrong type", "checkpoints", "the run's saved object has `status: 5`",
         "`CheckpointError` at load", _damaged(_run_status_of_five)),
    # Not damage: a stream may carry a part type runflow does not know, and keeps it;
    # a checkpoint can hold whatever a stream can build. The next delta that says
    # otherwise is the stream's type_change, at once.
    Case("part of an unknown type", "checkpoints", "a content part's `type: \"zz\"`",
         "LOADED; the next delta: `type_change` @ 6", _damaged(_part_of_no_type)),
)

_CLI = "tests/test_cli_hostile.py::"
_DRIVE = "tests/test_drive.py::"
PROVED_ELSEWHERE: tuple[Proof, ...] = (
    Proof("cli", "stdin closed", "`runflow check -` with fd 0 closed",
          "exit 2, one line: `-: standard input is closed`",
          _CLI + "test_check_with_stdin_closed"),
    Proof("cli", "stdout on a full disk", "`check`, `replay`, `diagram` > `/dev/full`",
          "exit 2, one line: `cannot write the output: No space left on device`",
          _CLI + "test_stdout_on_a_full_disk"),
    Proof("cli", "bad port, negative `--cut-after`",
          "`serve --port 99999`, `demo --cut-after -5`",
          "exit 2, one line naming the argument and the value",
          _CLI + "test_bad_numbers_are_usage_errors"),
    Proof("cli", "port in use", "`serve --port` on a bound port",
          "exit 2 (not 3), one line: `the port is already in use`",
          _CLI + "test_serve_on_a_port_in_use"),
    Proof("cli", "a JSON object body", "a `thread.run` object where a stream was expected",
          "exit 2, one line: `… not an event stream: did the server ignore stream=true?`",
          _CLI + "test_a_json_object_body_is_named"),
    Proof("nesting", "deep JSON in a recording", "a `.jsonl` line nested 100,000 deep",
          "`check --json`: `malformed_event` naming line 2, exit 1; the flow goes on",
          _CLI + "test_a_deeply_nested_line_is_a_violation_naming_its_line"),
    Proof("nesting", "deep JSON through `record`", "event data nested 100,000 deep",
          "`record` keeps it as text, no `RecursionError`",
          _CLI + "test_record_keeps_deeply_nested_data_as_text"),
    Proof("encoding", "`check --json` of an undecodable name", "a file name that is not UTF-8",
          "valid UTF-8 JSON (U+FFFD), a one-line warning on stderr", _CLI
          + "test_check_json_output_is_valid_utf8_for_an_undecodable_file_name"),
    Proof("encoding", "NaN in `--json` output", "a result holding `NaN` written as JSON",
          "one-line error, nothing printed (never `NaN` on stdout)",
          _CLI + "test_non_finite_numbers_are_refused_not_printed"),
    Proof("orchestrator", "unserialisable tool result",
          "a circular list, a raising `__str__`, a lone surrogate, NaN",
          "the `on_tool_error` path: an error output submitted, or `ToolError`",
          _DRIVE + "test_an_unsendable_result_is_a_tool_error"),
    Proof("orchestrator", "reset after submit",
          "a proxy resets the connection after the server got `submit_tool_outputs`",
          "outputs submitted exactly once, reconciled over REST; run `completed`",
          "tests/test_exactly_once.py::test_drive_submits_once_through_a_reset"),
    Proof("orchestrator", "keep-alive-only server", "a stream of `: keep-alive` comments only",
          "`RunTimeout` at the idle timeout / deadline",
          "tests/test_deadline.py::test_drive_ends_an_endless_stream"),
)


# --------------------------------------------------------------------------- #
# running and rendering
# --------------------------------------------------------------------------- #
def run_case(case: Case) -> Result:
    """Run one case; cases with a bound are measured with ``tracemalloc``."""
    if case.bound is None:
        return Result(case, case.feed(), None)
    tracemalloc.start()
    try:
        outcome = case.feed()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Result(case, outcome, peak)


def run_cases() -> list[Result]:
    return [run_case(case) for case in CASES]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(results: list[Result]) -> str:
    """The README block: one row per case (what runflow answered), then the rows
    proved by tests elsewhere. Deterministic: peaks show only as under/over."""
    lines = ["| why | case | input | what runflow answers | peak memory (tracemalloc) |",
             "|---|---|---|---|---|"]
    for r in results:
        answer = r.outcome.answer if r.answered else (
            f"**WRONG:** {r.outcome.answer} (expected: {r.case.expect})")
        bound = r.case.bound
        memory = "—" if bound is None else (
            f"{'<' if r.bounded else '**OVER**'} {bound.text}")
        lines.append("| " + " | ".join(_cell(c) for c in (
            WHY[r.case.why], r.case.name, r.case.input, answer, memory)) + " |")
    lines += ["", "| why | case | input | what runflow answers | proved by |",
              "|---|---|---|---|---|"]
    for p in PROVED_ELSEWHERE:
        lines.append("| " + " | ".join(_cell(c) for c in (
            WHY[p.why], p.name, p.input, p.answer, f"`{p.test}`")) + " |")
    return "\n".join(lines) + "\n"


def hostile_table() -> str:
    """Run every case and render the table (about 10 s)."""
    return render(run_cases())


BEGIN, END = "<!-- hostile:begin -->", "<!-- hostile:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(text: str) -> str | None:
    """The text between the markers of the README, or None without them."""
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def write_readme(table: str, path: Path = README) -> None:
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{table}{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    table = hostile_table()
    if args == ["--write"]:
        write_readme(table)
        print(f"wrote the hostile-input table to {README}")
    elif not args:
        print(table, end="")
    else:
        print("usage: python -m runflow.testing.hostile [--write]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
