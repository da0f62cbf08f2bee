"""Snapshots rebuilt from real recordings: typed SDK objects, equal to the server's.

Every assertion is made twice where it matters: on the snapshot rebuilt from the
deltas alone (the flow fed up to just before the final full-object event) and
after the final event replaced it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import jsonl_files, load_events
from helpers import feed_all, of_type, text_of, tool_calls_of
from openai.types.beta.threads import ImageFileContentBlock, Message, Run, TextContentBlock
from openai.types.beta.threads.runs import CodeInterpreterToolCall, FunctionToolCall, RunStep
from openai.types.beta.threads.runs.code_interpreter_tool_call import (
    CodeInterpreterOutput,
    CodeInterpreterOutputLogs,
)

from runflow import Code, RunFlow

Event = dict[str, Any]

IMAGE = "simpleopenai_create_and_run_code_interpreter_image_v1_2024.jsonl"
CITATION = "dotnet_file_search_file_citation.jsonl"
CI_INPUT = "openllmetry_code_interpreter_input_deltas_2026.jsonl"
CI_LOGS = "openllmetry_code_interpreter_logs_2024.jsonl"
MESSAGE_TOOL_MESSAGE = "openllmetry_code_interpreter_logs_message_tool_message_2024.jsonl"
FUNCTION_CALLS = [
    "dotnet_create_and_run_function_requires_action.jsonl",
    "dotnet_create_and_run_function_requires_action_b.jsonl",
    "simpleopenai_create_and_run_function_requires_action_v1_2024.jsonl",
]
TEXT_ANSWERS = [
    "dotnet_text_answer.jsonl",
    "dotnet_text_answer_b.jsonl",
    "openaiphp_create_and_run_text_2024.jsonl",
    "simpleopenai_create_and_run_text_v2_2024.jsonl",
    "simpleopenai_text_answer_v1_2024.jsonl",
    "simpleopenai_text_answer_v2_2024.jsonl",
    "dotnet_function_call_continuation.jsonl",
]
# Hand-edited capture (see recordings/SOURCES.md): its message was trimmed to 3
# deltas while the final object kept the full text with 5 citations.
EDITED_TRIMMED = "simpleopenai_EDITED_file_search_step_deltas.jsonl"


def index_of(events: list[Event], name: str, oid: str | None = None, nth: int = 0) -> int:
    hits = [
        i for i, e in enumerate(events)
        if e["event"] == name and (oid is None or e["data"].get("id") == oid)
    ]
    return hits[nth]


def divergences(flow: RunFlow) -> list[str]:
    return [str(v) for v in flow.violations if v.code == Code.SNAPSHOT_DIVERGENCE]


def text_deltas(events: list[Event], message_id: str | None = None) -> dict[str, list[str]]:
    """Per message id, the text value fragments of its deltas, in order."""
    out: dict[str, list[str]] = {}
    for e in events:
        if e["event"] != "thread.message.delta":
            continue
        if message_id is not None and e["data"]["id"] != message_id:
            continue
        for item in e["data"]["delta"].get("content") or ():
            if item["type"] == "text":
                value = (item.get("text") or {}).get("value")
                out.setdefault(e["data"]["id"], []).append(value or "")
    return out


def tool_fragments(events: list[Event], step_id: str, key: str) -> str:
    """The concatenated ``arguments`` / ``input`` fragments of a step's call 0."""
    out = []
    for e in events:
        if e["event"] != "thread.run.step.delta" or e["data"]["id"] != step_id:
            continue
        for call in e["data"]["delta"]["step_details"].get("tool_calls") or ():
            body = call.get(call["type"]) or {}
            if call["index"] == 0 and body.get(key):
                out.append(body[key])
    return "".join(out)


# --------------------------------------------------------------------------- #
# every recording: typed snapshots, no divergence
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", jsonl_files())
def test_recording_rebuilds_typed_snapshots_without_divergence(name: str) -> None:
    events = load_events(name)
    flow = feed_all(events)
    flow.close()
    if name == EDITED_TRIMMED:
        # the one hand-trimmed capture: its deltas really do differ from the final text
        assert [v.code for v in flow.violations] == [Code.SNAPSHOT_DIVERGENCE] * 2
    else:
        assert divergences(flow) == []
    assert isinstance(flow.run, Run)
    assert flow.run.id == flow.run_id
    assert all(isinstance(m, Message) for m in flow.messages)
    assert all(isinstance(s, RunStep) for s in flow.steps)
    created = {e["data"]["id"] for e in events if e["event"] == "thread.message.created"}
    assert {m.id for m in flow.messages} >= created
    # model_dump of the typed snapshot round-trips through JSON
    for snap in (flow.run, *flow.messages, *flow.steps):
        json.dumps(snap.model_dump(mode="json", warnings=False))


# --------------------------------------------------------------------------- #
# code_interpreter image output + image_file content part
# --------------------------------------------------------------------------- #
IMAGE_FILE = "file-65i28iJRCx4hvJnk6NcavwRX"
IMAGE_STEP = "step_Yl2hYV6BGU5QI08unSwIyvD1"
IMAGE_MSG = "msg_UOyVcEBrOteUibAQdezvBHFG"


def logs_of(outputs: list[CodeInterpreterOutput]) -> list[tuple[str, str]]:
    """(type, logs) of each code interpreter output, each asserted to be logs."""
    return [(o.type, of_type(CodeInterpreterOutputLogs, o).logs) for o in outputs]


def _assert_image_output(step: RunStep) -> None:
    assert isinstance(step, RunStep)
    assert step.step_details.type == "tool_calls"
    calls = step.step_details.tool_calls
    assert len(calls) == 1
    call = calls[0]
    assert call.type == "code_interpreter"
    assert call.id == "call_osGfb5d5MHHD3mMWGBscvnin"
    images = [o for o in call.code_interpreter.outputs if o.type == "image"]
    assert len(images) == 1
    assert images[0].image.file_id == IMAGE_FILE
    assert call.code_interpreter.input.startswith("import numpy as np\n")


def _assert_image_message(message: Message, text: str) -> None:
    assert isinstance(message, Message)
    assert [p.type for p in message.content] == ["image_file", "text"]
    assert of_type(ImageFileContentBlock, message.content[0]).image_file.file_id == IMAGE_FILE
    part = of_type(TextContentBlock, message.content[1]).text
    assert part.value == text
    assert part.annotations == []


def test_code_interpreter_image_rebuilt_before_and_after_final_objects() -> None:
    events = load_events(IMAGE)
    step_done = index_of(events, "thread.run.step.completed", IMAGE_STEP)
    flow = feed_all(events[:step_done])
    assert flow.step_state(IMAGE_STEP) == "in_progress"
    _assert_image_output(flow.step(IMAGE_STEP))  # from deltas only
    # the first call of the run, logs only, is still there
    first = of_type(CodeInterpreterToolCall, tool_calls_of(flow.steps[0])[0]).code_interpreter
    assert logs_of(first.outputs) == [("logs", "'y := sin(x)'")]

    flow.feed(events[step_done])
    _assert_image_output(flow.step(IMAGE_STEP))  # from the server's object
    server = events[step_done]["data"]["step_details"]["tool_calls"][0]["code_interpreter"]
    call = of_type(CodeInterpreterToolCall, tool_calls_of(flow.step(IMAGE_STEP))[0])
    assert call.code_interpreter.input == server["input"]
    assert divergences(flow) == []


def test_image_file_part_next_to_text_part_before_and_after_final_objects() -> None:
    events = load_events(IMAGE)
    msg_done = index_of(events, "thread.message.completed", IMAGE_MSG)
    expected = "".join(text_deltas(events, IMAGE_MSG)[IMAGE_MSG])
    assert expected.startswith("The graph of the function")  # the recording is what we think

    flow = feed_all(events[:msg_done])
    assert flow.message_state(IMAGE_MSG) == "in_progress"
    _assert_image_message(flow.message(IMAGE_MSG), expected)

    flow.feed(events[msg_done])
    server_text = events[msg_done]["data"]["content"][1]["text"]["value"]
    assert server_text == expected
    _assert_image_message(flow.message(IMAGE_MSG), expected)

    feed_all(events[msg_done + 1 :], flow)
    assert flow.close() == "done"
    _assert_image_message(flow.message(IMAGE_MSG), expected)
    assert flow.violations == []


# --------------------------------------------------------------------------- #
# file_citation annotation
# --------------------------------------------------------------------------- #
def _citation(message: Message) -> tuple[str, Any]:
    assert [p.type for p in message.content] == ["text"]
    text = of_type(TextContentBlock, message.content[0]).text
    assert len(text.annotations) == 1
    return text.value, text.annotations[0]


def test_file_citation_annotation_kept_with_its_range() -> None:
    events = load_events(CITATION)
    done = index_of(events, "thread.message.completed")
    mid = events[done]["data"]["id"]
    marker = "【4:0†favorite_foods.txt】"
    server_ann = events[done]["data"]["content"][0]["text"]["annotations"][0]

    flow = feed_all(events[:done])
    value, ann = _citation(flow.message(mid))  # deltas only
    assert value == "Filip's favorite food is cake" + marker + "."
    assert ann.type == "file_citation"
    assert ann.text == marker
    assert ann.start_index == value.index(marker) == server_ann["start_index"]
    assert ann.end_index == value.index(marker) + len(marker) == server_ann["end_index"]
    assert ann.file_citation.file_id == "file-CyHtsk7XAWdRabQUBYRjCu"

    feed_all(events[done:], flow)
    value_after, ann_after = _citation(flow.message(mid))
    assert value_after == value
    assert (ann_after.type, ann_after.start_index, ann_after.end_index) == (
        "file_citation", server_ann["start_index"], server_ann["end_index"]
    )
    assert flow.violations == []


# --------------------------------------------------------------------------- #
# function calls: rebuilt arguments == requires_action's
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", FUNCTION_CALLS)
def test_function_arguments_rebuilt_equal_requires_action(name: str) -> None:
    events = load_events(name)
    ra = index_of(events, "thread.run.requires_action")
    flow = feed_all(events[:ra])
    assert flow.pending_tool_calls == []  # not yet requires_action

    steps = [s for s in flow.steps if s.step_details.type == "tool_calls"]
    rebuilt = {
        c.id: (c.function.name, c.function.arguments)
        for s in steps for c in tool_calls_of(s) if c.type == "function"
    }
    for step in steps:
        assert tool_fragments(events, step.id, "arguments") == (
            of_type(FunctionToolCall, tool_calls_of(step)[0]).function.arguments
        )

    feed_all(events[ra:], flow)
    assert flow.close() == "done"
    assert flow.run_status == "requires_action"
    pending = flow.pending_tool_calls
    assert pending, "the recording lists tool calls"
    listed = {c.id: (c.function.name, c.function.arguments) for c in pending}
    assert listed == rebuilt
    for _, arguments in listed.values():
        json.loads(arguments)
    # the step snapshot is still the one rebuilt from deltas (the step stays open)
    after = {
        c.id: (c.function.name, c.function.arguments)
        for s in flow.steps for c in tool_calls_of(s) if c.type == "function"
    }
    assert after == rebuilt
    assert flow.violations == []


# --------------------------------------------------------------------------- #
# text, code input, logs
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", TEXT_ANSWERS)
def test_text_equals_concatenated_deltas(name: str) -> None:
    events = load_events(name)
    fragments = text_deltas(events)
    assert len(fragments) == 1
    expected = "".join(next(iter(fragments.values())))
    assert expected

    done = index_of(events, "thread.message.completed")
    flow = feed_all(events[:done])
    assert flow.text == expected
    feed_all(events[done:], flow)
    assert flow.text == expected
    assert text_of(flow.messages[0].content[0]) == expected
    assert events[done]["data"]["content"][0]["text"]["value"] == expected


def test_text_grows_delta_by_delta() -> None:
    events = load_events("dotnet_text_answer.jsonl")
    flow = RunFlow()
    seen = ""
    for e in events:
        flow.feed(e)
        if e["event"] == "thread.message.delta":
            seen += e["data"]["delta"]["content"][0]["text"]["value"]
            assert flow.text == seen
            assert text_of(flow.messages[0].content[0]) == seen


def test_code_interpreter_input_rebuilt_equals_server_input() -> None:
    events = load_events(CI_INPUT)
    done = next(
        i for i, e in enumerate(events)
        if e["event"] == "thread.run.step.completed"
        and e["data"]["step_details"]["type"] == "tool_calls"
    )
    sid = events[done]["data"]["id"]
    server = events[done]["data"]["step_details"]["tool_calls"][0]["code_interpreter"]
    assert len(server["input"]) > 50

    flow = feed_all(events[:done])
    call = tool_calls_of(flow.step(sid))[0]
    assert call.type == "code_interpreter"
    assert call.code_interpreter.input == server["input"]
    assert call.code_interpreter.input == tool_fragments(events, sid, "input")

    feed_all(events[done:], flow)
    call = of_type(CodeInterpreterToolCall, tool_calls_of(flow.step(sid))[0])
    assert call.code_interpreter.input == server["input"]
    assert divergences(flow) == []


def test_code_interpreter_logs_outputs_rebuilt() -> None:
    events = load_events(CI_LOGS)
    done = next(
        i for i, e in enumerate(events)
        if e["event"] == "thread.run.step.completed"
        and e["data"]["step_details"]["type"] == "tool_calls"
    )
    sid = events[done]["data"]["id"]
    server = events[done]["data"]["step_details"]["tool_calls"][0]["code_interpreter"]
    streamed = [
        out
        for e in events[:done] if e["event"] == "thread.run.step.delta"
        for c in e["data"]["delta"]["step_details"]["tool_calls"]
        for out in (c.get("code_interpreter") or {}).get("outputs") or ()
    ]
    assert streamed, "the recording streams logs outputs"

    flow = feed_all(events[:done])
    outputs = of_type(CodeInterpreterToolCall, tool_calls_of(flow.step(sid))[0]
                      ).code_interpreter.outputs
    assert logs_of(outputs) == [(s["type"], s["logs"]) for s in streamed]
    assert logs_of(outputs) == [
        (o["type"], o["logs"]) for o in server["outputs"]
    ]
    feed_all(events[done:], flow)
    outputs = of_type(CodeInterpreterToolCall, tool_calls_of(flow.step(sid))[0]
                      ).code_interpreter.outputs
    assert logs_of(outputs) == [
        (o["type"], o["logs"]) for o in server["outputs"]
    ]


# --------------------------------------------------------------------------- #
# order and lookups
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", [IMAGE, MESSAGE_TOOL_MESSAGE, CI_INPUT])
def test_messages_and_steps_in_creation_order(name: str) -> None:
    events = load_events(name)
    created_msgs = [e["data"]["id"] for e in events if e["event"] == "thread.message.created"]
    created_steps = [e["data"]["id"] for e in events if e["event"] == "thread.run.step.created"]
    flow = feed_all(events)
    assert [m.id for m in flow.messages] == created_msgs
    assert [s.id for s in flow.steps] == created_steps
    for mid in created_msgs:
        assert flow.message(mid).id == mid
    for sid in created_steps:
        assert flow.step(sid).id == sid


def test_unknown_ids_raise_key_error() -> None:
    flow = feed_all(load_events(IMAGE))
    with pytest.raises(KeyError, match="msg_nope"):
        flow.message("msg_nope")
    with pytest.raises(KeyError, match="step_nope"):
        flow.step("step_nope")
    # a step id is not a message id and vice versa
    with pytest.raises(KeyError):
        flow.message(flow.steps[0].id)
    with pytest.raises(KeyError):
        flow.step(flow.messages[0].id)
    with pytest.raises(KeyError):
        RunFlow().message("msg_x")


# --------------------------------------------------------------------------- #
# back-to-back entities never mix
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", [IMAGE, MESSAGE_TOOL_MESSAGE])
def test_back_to_back_messages_and_steps_never_mix(name: str) -> None:
    events = load_events(name)
    per_message = text_deltas(events)
    assert len(per_message) == 2
    flow = feed_all(events)
    assert flow.close() == "done"
    for mid, fragments in per_message.items():
        texts = [p.text.value for p in flow.message(mid).content if p.type == "text"]
        assert texts == ["".join(fragments)]
    assert flow.text == "\n\n".join("".join(f) for f in per_message.values())
    for step in flow.steps:
        if step.step_details.type == "message_creation":
            assert step.step_details.message_creation.message_id in per_message
            continue
        calls = step.step_details.tool_calls
        assert len(calls) == 1
        streamed = tool_fragments(events, step.id, "input")
        assert of_type(CodeInterpreterToolCall, calls[0]).code_interpreter.input == streamed
    assert divergences(flow) == []


# --------------------------------------------------------------------------- #
# interleaved messages (hand-built from a real text recording)
# --------------------------------------------------------------------------- #
def _interleaved() -> tuple[list[Event], dict[str, str]]:
    """Two messages, each with its own message_creation step, both open at once,
    their deltas alternating. Both use content index 0."""
    base = load_events("dotnet_text_answer.jsonl")
    run_events = base[:3]
    step_created, step_in_progress = base[3], base[4]
    msg_created, msg_in_progress = base[5], base[6]
    msg_done, step_done = base[-4], base[-3]
    run_done, done = base[-2], base[-1]
    deltas = [e for e in base if e["event"] == "thread.message.delta"]

    def clone(event: Event, sid: str, mid: str) -> Event:
        e = copy.deepcopy(event)
        data = e["data"]
        if data["object"] == "thread.run.step":
            data["id"] = sid
            data["step_details"]["message_creation"]["message_id"] = mid
        else:
            data["id"] = mid
        return e

    a = ("step_AAAA", "msg_AAAA")
    b = ("step_BBBB", "msg_BBBB")
    events = list(run_events)
    events += [clone(step_created, *a), clone(step_in_progress, *a)]
    events += [clone(msg_created, *a), clone(msg_in_progress, *a)]
    events += [clone(step_created, *b), clone(step_in_progress, *b)]
    events += [clone(msg_created, *b), clone(msg_in_progress, *b)]
    texts = {a[1]: "", b[1]: ""}
    for n, delta in enumerate(deltas):
        owner = a if n % 2 == 0 else b
        e = clone(delta, *owner)
        item = e["data"]["delta"]["content"][0]
        item["text"]["value"] = f"{owner[1][-1]}{n}|"
        if not texts[owner[1]]:
            item["text"]["annotations"] = []
        texts[owner[1]] += item["text"]["value"]
        events.append(e)
    for sid, mid in (a, b):
        final = clone(msg_done, sid, mid)
        final["data"]["content"][0]["text"]["value"] = texts[mid]
        events += [final, clone(step_done, sid, mid)]
    events += [run_done, done]
    return events, texts


def test_interleaved_messages_rebuild_independently() -> None:
    events, texts = _interleaved()
    first_final = index_of(events, "thread.message.completed")
    flow = feed_all(events[:first_final])
    # deltas only: each message holds exactly its own fragments, at its own index 0
    for mid, text in texts.items():
        message = flow.message(mid)
        assert [p.type for p in message.content] == ["text"]
        assert text_of(message.content[0]) == text
    assert texts["msg_AAAA"].startswith("A0|A2|")
    assert texts["msg_BBBB"].startswith("B1|B3|")
    assert flow.text == texts["msg_AAAA"] + "\n\n" + texts["msg_BBBB"]

    feed_all(events[first_final:], flow)
    assert flow.close() == "done"
    for mid, text in texts.items():
        assert text_of(flow.message(mid).content[0]) == text
        assert flow.message_state(mid) == "completed"
    assert [s.id for s in flow.steps] == ["step_AAAA", "step_BBBB"]
    assert [m.id for m in flow.messages] == ["msg_AAAA", "msg_BBBB"]
    # Overlapping steps are reported (steps never overlap in real streams), but
    # nothing is rejected: both messages still rebuild independently.
    assert [(v.code.value, str(v.entity)) for v in flow.violations] == [
        ("out_of_order", "step step_BBBB")]


def test_interleaved_delta_for_one_message_never_touches_the_other() -> None:
    events, _ = _interleaved()
    first_delta = index_of(events, "thread.message.delta")
    flow = feed_all(events[:first_delta])
    before_b = flow.message("msg_BBBB").model_dump()
    flow.feed(events[first_delta])  # a delta of msg_AAAA
    assert flow.message("msg_BBBB").model_dump() == before_b
    assert text_of(flow.message("msg_AAAA").content[0]) == "A0|"
