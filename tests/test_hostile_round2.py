"""Hostile input, round two (issue 24): the typed boundary covers every field the
definitions read or hand to the SDK's types, and the layers around the flow
(``check``'s and ``conform``'s payload and order layers, ``watch``) take any JSON.

Each test fails on the main before the round: an untyped exception, an
``internal_error`` or "bug in runflow".
"""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any, get_args

import pytest
from conftest import load_events
from helpers import of_type
from openai.types.responses import (
    Response,
    ResponseFunctionShellToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseReasoningItem,
)
from pydantic import BaseModel
from test_responses_hostile import Stream, codes, fed, sse

from runflow import RunFlow
from runflow.adapters.recording import read_recording
from runflow.cli import main
from runflow.conform.events import tap_recording
from runflow.conform.order import check_order
from runflow.conform.payload import check_payloads
from runflow.protocols.assistants.definition import ASSISTANTS
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.flow import ResponseFlow

REQUIRES_ACTION = "dotnet_create_and_run_function_requires_action.jsonl"


# --------------------------------------------------------------------------- #
# Responses: fields the views hand to the SDK's types
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("action", [5, "ls", [1, 2], [["a", "b"]], True])
def test_a_shell_call_whose_action_is_not_an_object_is_a_violation(action: Any) -> None:
    s = Stream()
    item = {"id": "sh_0", "type": "shell_call", "status": "in_progress", "call_id": "c",
            "action": action}
    s.add("response.output_item.added", output_index=0, item=item)
    s.add("response.shell_call_command.added", output_index=0, command_index=0)
    s.add("response.shell_call_command.delta", output_index=0, command_index=0, delta="ls")
    flow = fed(s.events)
    assert flow.violations[0].code.value == "malformed_event"
    assert flow.violations[0].index == 2
    assert "item.action: expected object, got" in flow.violations[0].message
    assert flow.response is not None and flow.response.output == []
    assert flow.output == []


def test_a_shell_call_with_an_object_action_still_shows_its_commands() -> None:
    s = Stream()
    item = {"id": "sh_0", "type": "shell_call", "status": "in_progress", "call_id": "c",
            "action": {"timeout_ms": 5}}
    s.add("response.output_item.added", output_index=0, item=item)
    s.add("response.shell_call_command.added", output_index=0, command_index=0)
    s.add("response.shell_call_command.delta", output_index=0, command_index=0, delta="ls")
    flow = fed(s.events)
    assert codes(flow) == []
    assert flow.response is not None
    action = of_type(ResponseFunctionShellToolCall, flow.response.output[0]).action
    assert action.commands == ["ls"] and action.timeout_ms == 5


def test_an_apply_patch_operation_that_is_not_an_object_is_a_violation() -> None:
    s = Stream()
    item = {"id": "ap_0", "type": "apply_patch_call", "status": "in_progress",
            "call_id": "c", "operation": "rm -rf"}
    s.add("response.output_item.added", output_index=0, item=item)
    flow = fed(s.events)
    assert [(v.code.value, v.index) for v in flow.violations] == [("malformed_event", 2)]
    assert "item.operation" in flow.violations[0].message


def _part_ids(events: list[dict[str, Any]], bad: Any) -> list[dict[str, Any]]:
    """``events`` with every content and summary part carrying the id ``bad``."""
    for event in events:
        if isinstance(event.get("part"), dict):
            event["part"]["id"] = bad
    return events


@pytest.mark.parametrize("bad", [5, {"a": 1}, ["x"], True, 1.5])
@pytest.mark.parametrize("family", ["content", "summary"])
def test_a_part_whose_id_is_not_a_string_is_found_by_its_position(
        bad: Any, family: str) -> None:
    """A part is identified by its position (the definition's ``position``; its id is
    a vendor's extra): a wrong-typed id is one violation per event that carries it,
    naming the event and the JSON path, and the part, its deltas and its value are
    all kept -- no orphaned deltas (before: the part was rejected and each later
    delta became an ``unknown_entity``)."""
    s = Stream()
    if family == "content":
        s.message(["Hel", "lo"])
        added, done, kind, text = 3, 7, "output_text", "Hello"
    else:
        s.reasoning([["**Plan**", " look"]])
        added, done, kind, text = 3, 7, "summary_text", "**Plan** look"
    flow = fed(_part_ids(s.end(), bad))
    assert [(v.code.value, v.index, v.severity) for v in flow.violations] == [
        ("item_id_mismatch", added, "warning"), ("item_id_mismatch", done, "warning")]
    assert all(": part.id: expected a string, got" in v.message for v in flow.violations)
    assert flow.violations[0].entity == f"{kind} {s.output[0]['id']}:0"
    assert flow.states(kind) == {f"{s.output[0]['id']}:0": "done"}
    assert flow.response is not None and flow.response.status == "completed"
    if family == "content":
        assert flow.text == text
        assert flow.response.output_text == text
    else:
        assert of_type(ResponseReasoningItem, flow.output[0]).summary[0].text == text


def test_a_part_whose_id_is_not_a_string_keeps_its_deltas_when_fed_as_sse() -> None:
    events = _part_ids(Stream().message(["Hel", "lo"]).end(), [1, 2])
    flow = ResponseFlow()
    flow.feed_sse(sse(events))
    flow.close()
    assert [(v.code.value, v.index) for v in flow.violations] == [
        ("item_id_mismatch", 3), ("item_id_mismatch", 7)]
    assert "response.content_part.added" in flow.violations[0].message
    assert flow.text == "Hello"


@pytest.mark.parametrize("name", [[1], {"a": 1}, 5, None])
def test_a_function_tool_whose_name_is_not_a_string_offers_nothing(name: Any) -> None:
    """Found by the WebSocket type fuzz: a tool name that is a list made the
    tool_offered rule raise (``internal_error``); such a tool offers no function."""
    events = Stream().function_call(['{"city":"Paris"}']).end()
    for event in events:
        if "response" in event:
            event["response"]["tools"] = [{"type": "function", "name": name},
                                          {"type": "function", "name": "other"}]
    flow = fed(events)
    # and the tools entry is a missing_field at each event carrying the response
    # (round three: before, nothing said the tool was unusable)
    assert [(v.code.value, v.index) for v in flow.violations] == [
        ("missing_field", 0), ("missing_field", 1), ("unknown_tool", 5), ("missing_field", 6)]
    assert "offer other" in flow.violations[2].message
    assert "response.tools[0].name" in flow.violations[0].message


# --------------------------------------------------------------------------- #
# the WebSocket mode's frames
# --------------------------------------------------------------------------- #
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("frame", [DEEP, DEEP.encode(), '{"type": "error", "x": ' + DEEP + "}"])
@pytest.mark.parametrize("direction", ["send", "receive"])
def test_a_websocket_frame_nested_deep_is_a_malformed_frame(frame: Any, direction: str) -> None:
    """``json.loads`` raised RecursionError out of ``receive``/``send``; frames are
    parsed as every remote JSON is (bounded nesting), a violation at the frame."""
    from runflow.protocols.responses.websocket import ConnectionFlow

    flow = ConnectionFlow()
    flow.send({"type": "response.create", "model": "m", "input": "hi"})
    said = getattr(flow, direction)(frame)
    assert [(v.code, v.index, v.direction) for v in said] == [
        ("malformed_frame", 1, direction)]
    assert "nested deeper than 200 levels" in said[0].message
    assert flow.close() == "truncated"  # the create was never answered
    assert [v.code for v in flow.violations][-1] == "create_unanswered"


def test_websocket_violations_cut_long_names_and_stop_repeating() -> None:
    """A ConnectionFlow kept every violation whole: 50 frames named with 2 MiB each
    held 200 MiB, and a flood of frames on an unknown lane grew the list without
    bound. Now its ``Limits`` apply as a response flow's do: names and messages are cut
    at ``max_message_text`` (stating the length), and past ``max_repeated_violations``
    of one code on one lane one ``limit_exceeded`` says so and the rest are counted."""
    from runflow import Limits
    from runflow.protocols.responses.websocket import ConnectionFlow

    flow = ConnectionFlow(limits=Limits(max_repeated_violations=10))
    name = "x" * (2 * 1024 * 1024)
    for _ in range(5):
        flow.receive({"type": name, "stream_id": "nope"})
    for _ in range(100):
        flow.receive({"type": "response.output_text.delta", "stream_id": "nope"})
    most = flow.limits.max_message_text + 64
    assert all(len(v.message) <= most and len(v.event or "") <= most for v in flow.violations)
    assert f"({len(name)} characters)" in (flow.violations[0].event or "")
    assert [v.code for v in flow.violations] == ["unknown_lane"] * 10 + ["limit_exceeded"]
    assert flow.violations[-1].severity == "warning" and flow.violations[-1].index == 10
    assert flow.suppressed == {"unknown_lane": 95}


def test_check_names_a_transcript_line_nested_deep(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A JSONL transcript line nested 100,000 deep made ``runflow check`` say "bug in
    runflow" (RecursionError from the transcript reader); it is a transcript error
    naming the line."""
    path = tmp_path / "deep.jsonl"
    first = json.dumps({"type": "send", "data": json.dumps({"type": "response.create"})})
    path.write_text(f'{first}\n{{"type": "receive", "data": {DEEP}}}\n')
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert out == ""
    assert code == 2 and "bug in runflow" not in err
    assert f"{path}:2: frame 1: not JSON" in err and err.count("\n") == 1


def test_a_websocket_checkpoint_nested_deep_is_a_checkpoint_error() -> None:
    from runflow.engine.checkpoint import CheckpointError
    from runflow.protocols.responses.websocket.checkpoint import load_connection

    with pytest.raises(CheckpointError, match="broken"):  # was RecursionError
        load_connection(DEEP)


# --------------------------------------------------------------------------- #
# check's and conform's layers take any JSON
# --------------------------------------------------------------------------- #
def _responses_with_status(where: str, status: Any) -> list[dict[str, Any]]:
    events = Stream().message(["hi"]).end()
    if where == "response":
        events[-1]["response"]["status"] = status
    else:
        events[-2]["item"]["status"] = status  # output_item.done
    return events


@pytest.mark.parametrize("status", [{"x": 1}, [1], ["completed"]])
@pytest.mark.parametrize("where", ["response", "item"])
def test_check_takes_a_responses_status_of_any_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, status: Any) -> None:
    path = tmp_path / "status.sse"
    path.write_bytes(sse(_responses_with_status(where, status)))
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "bug in runflow" not in err
    assert "malformed_event" in out and "status: expected string, got" in out
    recording = read_recording(path)
    events = tap_recording(RESPONSES, recording)
    list(check_payloads(RESPONSES, events))
    list(check_order(RESPONSES, events))


@pytest.mark.parametrize("status", [{"x": 1}, [1], []])
def test_check_takes_a_run_status_of_any_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], status: Any) -> None:
    events = load_events(REQUIRES_ACTION)
    for event in events:
        if event["event"].startswith("thread.run.") and "step" not in event["event"]:
            event["data"]["status"] = status
    path = tmp_path / "run.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "bug in runflow" not in err and "malformed_event" in out
    tapped = tap_recording(ASSISTANTS, read_recording(path))
    list(check_payloads(ASSISTANTS, tapped))
    list(check_order(ASSISTANTS, tapped))


# --------------------------------------------------------------------------- #
# watch
# --------------------------------------------------------------------------- #
def test_watch_plays_a_recording_with_a_400_digit_timestamp(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = Stream().message(["hi"]).end()
    events[0]["response"]["created_at"] = 10 ** 400
    path = tmp_path / "huge.sse"
    path.write_bytes(sse(events))
    code = main(["watch", str(path), "--speed", "1"])
    out, err = capsys.readouterr()
    assert "bug in runflow" not in err
    assert code == 1  # created_at is not the SDK's int: the flow says so, watch goes on
    assert out.splitlines()[-1].startswith("response resp_hostile completed")


class _FakeResponses:
    def retrieve(self, response_id: str, **_: Any) -> Response:
        return Response.construct(id=response_id, object="response", status={"x": 1},
                                  background=False, output=[])


class _FakeClient:
    responses = _FakeResponses()

    def __enter__(self) -> _FakeClient:
        return self

    def __exit__(self, *_: object) -> None:
        return None


def test_watch_says_in_one_line_when_the_server_sends_what_cannot_be_recovered(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import runflow.cli.watch.follow_responses as follow

    monkeypatch.setattr(follow, "client_for", lambda args: _FakeClient())
    code = main(["watch", "--base-url", "http://127.0.0.1:9/v1", "--response", "resp_1",
                 "--interval", "0.01", "--timeout", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "bug in runflow" not in err
    assert err.count("\n") == 1 and "does not fit the flow" in err and "status" in err


# --------------------------------------------------------------------------- #
# Assistants: pending_tool_calls
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("action", [{}, {"submit_tool_outputs": {}},
                                    {"submit_tool_outputs": {"tool_calls": []}},
                                    {"type": "submit_tool_outputs"}])
def test_pending_tool_calls_on_an_empty_required_action(action: dict[str, Any]) -> None:
    flow = RunFlow()
    for event in load_events(REQUIRES_ACTION):
        if event["event"] == "thread.run.requires_action":
            event["data"]["required_action"] = action
        flow.feed(event)
    assert flow.run_status == "requires_action"
    assert flow.pending_tool_calls == []


@pytest.mark.parametrize("function", [None, {}, {"arguments": "{}"}])
def test_pending_tool_calls_leaves_out_a_call_that_names_no_function(function: Any) -> None:
    flow = RunFlow()
    for event in load_events(REQUIRES_ACTION):
        if event["event"] == "thread.run.requires_action":
            calls = event["data"]["required_action"]["submit_tool_outputs"]["tool_calls"]
            calls.append({**calls[0], "id": "call_bad", "function": function})
        flow.feed(event)
    assert [c.function.name for c in flow.pending_tool_calls] == ["get_current_weather"]


def test_pending_tool_calls_of_a_real_capture() -> None:
    flow = RunFlow()
    for event in load_events(REQUIRES_ACTION):
        flow.feed(event)
    assert [c.function.name for c in flow.pending_tool_calls] == ["get_current_weather"]


# --------------------------------------------------------------------------- #
# what a callback receives is a copy down to the leaves
# --------------------------------------------------------------------------- #
def vandalise(value: Any, depth: int = 0) -> None:
    """Edit everything reachable from ``value``: every list and dict (nested ones
    first), every field of a model (the vendor's extra fields too), every readable
    property of a runflow view."""
    if depth > 30:
        return
    if isinstance(value, dict):
        for key in list(value):
            vandalise(value[key], depth + 1)
            value[key] = "VANDAL"
        value["vandal"] = {"x": 1}
    elif isinstance(value, list):
        for item in value:
            vandalise(item, depth + 1)
        value.append("VANDAL")
        if value:
            value[0] = "VANDAL"
    elif isinstance(value, BaseModel):
        for key, field_value in list(vars(value).items()):
            vandalise(field_value, depth + 1)
            object.__setattr__(value, key, "VANDAL")
        extra = value.model_extra or {}  # the model's own dict, when it has extras
        for key, field_value in list(extra.items()):
            vandalise(field_value, depth + 1)
            extra[key] = "VANDAL"
    elif hasattr(value, "__slots__") or hasattr(value, "__dataclass_fields__"):
        for name in dir(type(value)):
            if name.startswith("_"):
                continue
            attr = getattr(type(value), name)
            if isinstance(attr, property):
                vandalise(getattr(value, name), depth + 1)
            elif callable(attr) and name == "to_sdk":
                vandalise(value.to_sdk(), depth + 1)
        fields = {*getattr(value, "__dataclass_fields__", ()),
                  *(n for k in type(value).__mro__ for n in getattr(k, "__slots__", ()))}
        for name in sorted(n for n in fields if not n.startswith("_")):
            if not hasattr(value, name):
                continue
            vandalise(getattr(value, name), depth + 1)
            with contextlib.suppress(AttributeError, TypeError):  # frozen: as it should be
                setattr(value, name, "VANDAL")


VENDOR = {"vendor": {"trace": ["a", {"b": 1}]}}


def _vendor_stream() -> list[dict[str, Any]]:
    """A reasoning, a function call and a message with annotations and logprobs, every
    object carrying a vendor's nested extra field."""
    events = Stream().reasoning([["**Plan**", " look"]]).function_call(
        ['{"city":', '"Paris"}']).message(["Hel", "lo"]).end()
    for event in events:
        for key in ("response", "item", "part"):
            if isinstance(event.get(key), dict):
                event[key].update(copy.deepcopy(VENDOR))
        if event["type"] in ("response.output_text.delta", "response.output_text.done"):
            event["logprobs"] = [{"token": "x", "logprob": -0.1, "top_logprobs": []}]
        if event["type"] in ("response.content_part.done", "response.output_item.done",
                             "response.completed"):
            for obj in [event.get("part"), event.get("item"), *(
                    event["response"]["output"] if "response" in event else [])]:
                for part in [obj, *((obj or {}).get("content") or [])]:
                    if isinstance(part, dict) and part.get("type") == "output_text":
                        part["annotations"] = [{"type": "url_citation", "url": "https://x",
                                                "start_index": 0, "end_index": 1,
                                                "title": "t", **copy.deepcopy(VENDOR)}]
                        part["logprobs"] = [{"token": "H", "logprob": -0.5,
                                             "top_logprobs": [{"token": "H", "logprob": -0.5}]}]
    return events


def _observed(flow: ResponseFlow) -> Any:
    saved = json.loads(flow.to_json())["state"]
    saved.pop("history", None)
    return (flow.response.model_dump(mode="json", warnings=False) if flow.response else None,
            [item.model_dump(mode="json", warnings=False) for item in flow.output],
            flow.text, saved)


def test_responses_callbacks_receive_copies_down_to_the_leaves() -> None:
    from runflow.protocols.responses.callbacks import ItemKind, ItemState, PartKind, PartState
    from runflow.protocols.responses.flow import ResponseFlow

    events = _vendor_stream()
    calm, vandalised = ResponseFlow(), ResponseFlow()
    received: list[str] = []

    def edit(value: Any) -> None:
        received.append(type(value).__name__)
        vandalise(value)

    for kind in get_args(ItemKind):
        for state in get_args(ItemState):
            if state in vandalised.protocol.tables[kind].states:
                vandalised.on_item(kind, state)(edit)
    for part in get_args(PartKind):
        for state in get_args(PartState):
            if state in vandalised.protocol.tables[part].states:
                vandalised.on_part(part, state)(edit)
    for reached in ("in_progress", "completed"):
        vandalised.on_response(reached)(edit)
    vandalised.on_text_delta(edit)
    vandalised.on_arguments_delta(edit)
    vandalised.on_violation(edit)
    for event in events:  # each flow keeps the objects it is fed: one copy each
        calm.feed(copy.deepcopy(event))
        vandalised.feed(copy.deepcopy(event))
        assert _observed(vandalised) == _observed(calm), event["type"]
    assert calm.violations == [] and vandalised.violations == []
    assert {"Response", "ResponseOutputMessage", "ResponseFunctionToolCall",
            "ResponseReasoningItem", "dict", "ValueDelta"} <= set(received)
    assert calm.response is not None
    message = of_type(ResponseOutputMessage, calm.response.output[2])
    assert of_type(ResponseOutputText, message.content[0]).annotations


def test_assistants_callbacks_receive_copies_down_to_the_leaves() -> None:
    from runflow.protocols.assistants.callbacks import STATE_TYPES

    events = load_events(REQUIRES_ACTION) + load_events("dotnet_function_call_continuation.jsonl")
    for event in events:
        if isinstance(event.get("data"), dict):
            event["data"].update(copy.deepcopy(VENDOR))
    calm, vandalised = RunFlow(), RunFlow()
    received: list[str] = []

    def edit(*values: Any) -> None:
        for value in values:
            received.append(type(value).__name__)
            vandalise(value)

    for kind, states in STATE_TYPES.items():
        for state in get_args(states):
            getattr(vandalised, f"on_{kind}")(state)(edit)  # on_run, on_step...
    for phase in ("created", "delta", "done"):
        vandalised.on_text(phase)(edit)
        vandalised.on_tool_call(phase)(edit)
    vandalised.on_violation(edit)
    vandalised.on_end(edit)

    def seen(flow: RunFlow) -> Any:
        saved = json.loads(flow.to_json())["state"]
        return ([m.model_dump(mode="json", warnings=False) for m in flow.messages],
                [s.model_dump(mode="json", warnings=False) for s in flow.steps],
                flow.run.model_dump(mode="json", warnings=False) if flow.run else None,
                flow.text, saved)

    for event in events:
        calm.feed(copy.deepcopy(event))
        vandalised.feed(copy.deepcopy(event))
        assert seen(vandalised) == seen(calm), event["event"]
    assert {"Run", "RunStep", "Message", "TextSnapshot", "TextDelta", "ToolCallSnapshot",
            "ToolCallDelta"} <= set(received)
