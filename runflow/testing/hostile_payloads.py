"""Hostile cases: wrong types inside valid JSON, and JSON nested too deep
(:mod:`runflow.testing.hostile`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runflow import CheckpointError, RunFlow
from runflow.testing.events import (
    Event,
    message_delta,
    message_event,
    run_event,
    step_delta,
    step_event,
)
from runflow.testing.hostile_model import (
    MID,
    MSTEP,
    PROLOGUE,
    SID,
    Outcome,
    fed,
    said,
    with_message,
    with_tool_step,
)


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


def message_content(flow: RunFlow) -> Any:
    return flow.message(MID).model_dump(mode="json")


def step_details(flow: RunFlow) -> Any:
    return flow.step(SID).model_dump(mode="json")


def case_text_is_a_string() -> Outcome:
    bad = message_event("thread.message.created", "msg_bad", "in_progress",
                        [{"type": "text", "text": "hello"}])
    return _rejected_created([*PROLOGUE, step_event("thread.run.step.created", MSTEP,
                                                    "in_progress", mid="msg_bad")],
                             bad, "message", "msg_bad")


def case_value_is_an_int() -> Outcome:
    bad = message_delta(MID, {"index": 0, "type": "text", "text": {"value": 42}})
    return _rejected_delta(with_message(), bad, "message", message_content)


def case_refusal_is_an_int() -> Outcome:
    bad = message_event("thread.message.created", "msg_bad", "in_progress",
                        [{"type": "refusal", "refusal": 7}])
    return _rejected_created([*PROLOGUE, step_event("thread.run.step.created", MSTEP,
                                                    "in_progress", mid="msg_bad")],
                             bad, "message", "msg_bad")


def case_annotations_is_an_int() -> Outcome:
    bad = message_delta(MID, {"index": 0, "type": "text",
                              "text": {"value": "x", "annotations": 5}})
    return _rejected_delta(with_message(), bad, "message", message_content)


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
    return _rejected_delta(events, bad, "step", step_details)


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


