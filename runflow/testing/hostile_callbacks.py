"""Hostile cases: callbacks that edit what they receive, ids that collide across
kinds, and damaged checkpoints (:mod:`runflow.testing.hostile`)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from runflow import CheckpointError, RunFlow
from runflow.testing.events import (
    RUN,
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
from runflow.testing.hostile_payloads import step_details


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
    before = step_details(flow)
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


def damaged(edit: Callable[[dict[str, Any]], None]) -> Callable[[], Outcome]:
    def feed() -> Outcome:
        data = copy.deepcopy(_checkpoint())
        edit(data)
        return _load(json.dumps(data))
    return feed


def message_tracker(data: dict[str, Any]) -> dict[str, Any]:
    return data["state"]["children"]["message"][MID]  # type: ignore[no-any-return]


def no_run(data: dict[str, Any]) -> None:
    state = data["state"]
    state["root"] = state["root_id"] = None
    message_tracker(data)["state"] = "completed"


def run_status_of_five(data: dict[str, Any]) -> None:
    data["state"]["root"]["raw"]["status"] = 5


def part_of_no_type(data: dict[str, Any]) -> None:
    message_tracker(data)["acc"]["parts"][0]["type"] = "zz"


def case_index_1e999() -> Outcome:
    text = json.dumps(_checkpoint())
    marker = '"index": '
    at = text.index(marker) + len(marker)
    end = at + len(text[at:]) - len(text[at:].lstrip("0123456789"))
    return _load(text[:at] + "1e999" + text[end:])


