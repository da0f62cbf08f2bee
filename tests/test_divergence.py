"""``snapshot_divergence``: the rebuilt snapshot against the server's final object.

One test per compared field (see
``runflow/protocols/assistants/divergence.py``). Each mutates a real
recording (the server's final object, or one delta), then checks: exactly one
violation, a ``snapshot_divergence`` error at the final event's index, naming the
field path and both values (shortened), and afterwards the snapshot holds the
server's value. Fields the server omitted but the deltas established are kept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from conftest import load_events
from helpers import feed_all, of_type, text_of, tool_calls_of
from openai.types.beta.threads import FilePathAnnotation, TextContentBlock
from openai.types.beta.threads.runs import CodeInterpreterToolCall, FunctionToolCall
from openai.types.beta.threads.runs.code_interpreter_tool_call import CodeInterpreterOutputLogs

from runflow import Code, RunFlow, Violation

Event = dict[str, Any]

TEXT = "dotnet_text_answer.jsonl"
CITATION = "dotnet_file_search_file_citation.jsonl"
CI_INPUT = "openllmetry_code_interpreter_input_deltas_2026.jsonl"
IMAGE = "simpleopenai_create_and_run_code_interpreter_image_v1_2024.jsonl"
FUNCTION = "dotnet_create_and_run_function_requires_action.jsonl"
CONTINUATION = "dotnet_function_call_continuation.jsonl"
SERVER_KEPT = "the server's value is kept"


def short(value: Any) -> str:
    """What a divergence message shows of a value: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def final_index(events: list[Event], name: str, pick: Callable[[Event], bool] = lambda e: True
                ) -> int:
    return next(i for i, e in enumerate(events) if e["event"] == name and pick(e))


def is_tool_step(e: Event) -> bool:
    kind: str = e["data"]["step_details"]["type"]
    return kind == "tool_calls"


def mutated(events: list[Event], index: int, change: Callable[[dict[str, Any]], None]
            ) -> list[Event]:
    out = list(events)
    out[index] = copy.deepcopy(events[index])
    change(out[index]["data"])
    return out


def only_divergence(flow: RunFlow, index: int, entity: str) -> Violation:
    assert len(flow.violations) == 1, [str(v) for v in flow.violations]
    v = flow.violations[0]
    assert v.code == Code.SNAPSHOT_DIVERGENCE
    assert v.severity == "error"
    assert v.index == index
    assert v.entity == entity
    return v


def assert_names(v: Violation, path: str, ours: Any, theirs: Any) -> None:
    assert v.message.startswith(path + ":"), v.message
    assert f"rebuilt from deltas {short(ours)}" in v.message
    assert f"the server sent {short(theirs)}" in v.message
    assert SERVER_KEPT in v.message


def function_flow_events() -> list[Event]:
    """The requires_action stream and its continuation: one run, one flow."""
    return load_events(FUNCTION) + load_events(CONTINUATION)


def function_step_done(events: list[Event]) -> int:
    return final_index(events, "thread.run.step.completed", is_tool_step)


# --------------------------------------------------------------------------- #
# message fields
# --------------------------------------------------------------------------- #
def test_text_value() -> None:
    events = load_events(TEXT)
    i = final_index(events, "thread.message.completed")
    mid = events[i]["data"]["id"]
    ours = events[i]["data"]["content"][0]["text"]["value"]
    theirs = "Server says: " + "x" * 5000

    def change(d: dict[str, Any]) -> None:
        d["content"][0]["text"]["value"] = theirs

    flow = feed_all(mutated(events, i, change), close=True)
    v = only_divergence(flow, i, f"message {mid}")
    assert_names(v, "content[0].text.value", ours, theirs)
    assert len(v.message) < 300  # both values shortened, not 5,000 characters
    assert text_of(flow.message(mid).content[0]) == theirs
    assert flow.text == theirs


def test_text_value_from_a_mutated_delta() -> None:
    events = load_events(TEXT)
    d = final_index(events, "thread.message.delta",
                    lambda e: e["data"]["delta"]["content"][0]["text"]["value"] == "!")
    i = final_index(events, "thread.message.completed")
    mid = events[i]["data"]["id"]
    theirs = events[i]["data"]["content"][0]["text"]["value"]

    def change(data: dict[str, Any]) -> None:
        data["delta"]["content"][0]["text"]["value"] = "?"

    flow = feed_all(mutated(events, d, change), close=True)
    v = only_divergence(flow, i, f"message {mid}")
    assert_names(v, "content[0].text.value", theirs.replace("!", "?", 1), theirs)
    assert text_of(flow.message(mid).content[0]) == theirs


def _citation_case(change: Callable[[dict[str, Any]], None]) -> tuple[RunFlow, int, str]:
    events = load_events(CITATION)
    i = final_index(events, "thread.message.completed")
    return feed_all(mutated(events, i, change), close=True), i, events[i]["data"]["id"]


def test_annotation_count() -> None:
    def change(d: dict[str, Any]) -> None:
        anns = d["content"][0]["text"]["annotations"]
        extra = copy.deepcopy(anns[0])
        extra["start_index"], extra["end_index"] = 0, 5
        anns.append(extra)

    flow, i, mid = _citation_case(change)
    v = only_divergence(flow, i, f"message {mid}")
    assert_names(v, "content[0].text.annotations.length", 1, 2)
    anns = of_type(TextContentBlock, flow.message(mid).content[0]).text.annotations
    assert [(a.start_index, a.end_index) for a in anns] == [(29, 53), (0, 5)]


def test_annotation_kind() -> None:
    def change(d: dict[str, Any]) -> None:
        ann = d["content"][0]["text"]["annotations"][0]
        del ann["file_citation"]
        ann["type"] = "file_path"
        ann["file_path"] = {"file_id": "file-path-1"}

    flow, i, mid = _citation_case(change)
    v = only_divergence(flow, i, f"message {mid}")
    assert_names(v, "content[0].text.annotations[0].type", "file_citation", "file_path")
    ann = of_type(TextContentBlock, flow.message(mid).content[0]).text.annotations[0]
    assert ann.type == "file_path"
    assert of_type(FilePathAnnotation, ann).file_path.file_id == "file-path-1"


@pytest.mark.parametrize(("key", "ours"), [("start_index", 29), ("end_index", 53)])
def test_annotation_range(key: str, ours: int) -> None:
    def change(d: dict[str, Any]) -> None:
        d["content"][0]["text"]["annotations"][0][key] += 1

    flow, i, mid = _citation_case(change)
    v = only_divergence(flow, i, f"message {mid}")
    assert_names(v, f"content[0].text.annotations[0].{key}", ours, ours + 1)
    ann = of_type(TextContentBlock, flow.message(mid).content[0]).text.annotations[0]
    assert getattr(ann, key) == ours + 1


def test_part_type() -> None:
    events = load_events(TEXT)
    i = final_index(events, "thread.message.completed")
    mid = events[i]["data"]["id"]

    def change(d: dict[str, Any]) -> None:
        d["content"][0] = {"type": "refusal", "refusal": "I can't help with that."}

    flow = feed_all(mutated(events, i, change), close=True)
    v = only_divergence(flow, i, f"message {mid}")
    assert_names(v, "content[0].type", "text", "refusal")
    part = flow.message(mid).content[0]
    assert part.type == "refusal"
    assert part.refusal == "I can't help with that."
    assert flow.text == ""


def test_extra_part_from_the_server() -> None:
    events = load_events(TEXT)
    i = final_index(events, "thread.message.completed")
    mid = events[i]["data"]["id"]

    def change(d: dict[str, Any]) -> None:
        d["content"].append({"type": "image_file", "image_file": {"file_id": "file-1"}})

    flow = feed_all(mutated(events, i, change), close=True)
    v = only_divergence(flow, i, f"message {mid}")
    assert_names(v, "content[1].type", "<missing>", "image_file")
    assert [p.type for p in flow.message(mid).content] == ["text", "image_file"]


# --------------------------------------------------------------------------- #
# step fields
# --------------------------------------------------------------------------- #
def _ci_case(change: Callable[[dict[str, Any]], None]) -> tuple[RunFlow, int, str, list[Event]]:
    events = load_events(CI_INPUT)
    i = final_index(events, "thread.run.step.completed", is_tool_step)
    return feed_all(mutated(events, i, change), close=True), i, events[i]["data"]["id"], events


def _call(d: dict[str, Any], n: int = 0) -> dict[str, Any]:
    call: dict[str, Any] = d["step_details"]["tool_calls"][n]
    return call


def test_tool_call_id() -> None:
    flow, i, sid, events = _ci_case(lambda d: _call(d).update(id="call_other"))
    ours = _call(events[i]["data"])["id"]
    v = only_divergence(flow, i, f"step {sid}")
    assert_names(v, "step_details.tool_calls[0].id", ours, "call_other")
    assert tool_calls_of(flow.step(sid))[0].id == "call_other"


def test_tool_call_type() -> None:
    def change(d: dict[str, Any]) -> None:
        d["step_details"]["tool_calls"][0] = {
            "id": _call(d)["id"], "type": "function",
            "function": {"name": "f", "arguments": "{}", "output": None},
        }

    flow, i, sid, _ = _ci_case(change)
    v = only_divergence(flow, i, f"step {sid}")
    assert_names(v, "step_details.tool_calls[0].type", "code_interpreter", "function")
    assert tool_calls_of(flow.step(sid))[0].type == "function"


def test_tool_call_count() -> None:
    def change(d: dict[str, Any]) -> None:
        d["step_details"]["tool_calls"].append({
            "id": "call_second", "type": "code_interpreter",
            "code_interpreter": {"input": "1 + 1", "outputs": []},
        })

    flow, i, sid, _ = _ci_case(change)
    v = only_divergence(flow, i, f"step {sid}")
    assert_names(v, "step_details.tool_calls.length", 1, 2)
    calls = tool_calls_of(flow.step(sid))
    assert [c.id for c in calls][1:] == ["call_second"]
    assert of_type(CodeInterpreterToolCall, calls[1]).code_interpreter.input == "1 + 1"


def test_code_interpreter_input() -> None:
    events = load_events(CI_INPUT)
    i = final_index(events, "thread.run.step.completed", is_tool_step)
    ours = _call(events[i]["data"])["code_interpreter"]["input"]
    theirs = ours + "\nprint('extra')"
    flow, i, sid, _ = _ci_case(lambda d: _call(d)["code_interpreter"].update(input=theirs))
    v = only_divergence(flow, i, f"step {sid}")
    assert_names(v, "step_details.tool_calls[0].code_interpreter.input", ours, theirs)
    ci = of_type(CodeInterpreterToolCall, tool_calls_of(flow.step(sid))[0]).code_interpreter
    assert ci.input == theirs


def test_function_name() -> None:
    events = function_flow_events()
    i = function_step_done(events)
    sid = events[i]["data"]["id"]
    flow = feed_all(mutated(events, i, lambda d: _call(d)["function"].update(name="get_time")),
                    close=True)
    v = only_divergence(flow, i, f"step {sid}")
    assert_names(v, "step_details.tool_calls[0].function.name", "get_current_weather",
                 "get_time")
    assert of_type(FunctionToolCall, tool_calls_of(flow.step(sid))[0]).function.name == "get_time"


def test_function_arguments() -> None:
    events = function_flow_events()
    i = function_step_done(events)
    sid = events[i]["data"]["id"]
    theirs = '{"location": "Oslo"}'
    flow = feed_all(mutated(events, i, lambda d: _call(d)["function"].update(arguments=theirs)),
                    close=True)
    v = only_divergence(flow, i, f"step {sid}")
    assert_names(v, "step_details.tool_calls[0].function.arguments", "{}", theirs)
    fn = of_type(FunctionToolCall, tool_calls_of(flow.step(sid))[0]).function
    assert fn.arguments == theirs
    assert fn.output == "warm and sunny"  # the continuation's output arrived too


def test_unmutated_recordings_have_no_divergence() -> None:
    """The control for every test above: the same recordings, unchanged."""
    for events in (load_events(TEXT), load_events(CITATION), load_events(CI_INPUT),
                   function_flow_events()):
        assert feed_all(events, close=True).violations == []


# --------------------------------------------------------------------------- #
# omitted by the server, established by deltas: kept
# --------------------------------------------------------------------------- #
def no_false_claim(flow: RunFlow, index: int, path: str) -> None:
    """A value the flow kept from the deltas must not be reported as replaced."""
    for v in flow.violations:
        assert v.code == Code.SNAPSHOT_DIVERGENCE and v.index == index, str(v)
        if v.message.startswith(path):
            assert SERVER_KEPT not in v.message, (
                f"the rebuilt value was kept, yet the violation says otherwise: {v}"
            )


def test_parts_beyond_the_servers_list_are_kept() -> None:
    events = load_events(IMAGE)
    i = [n for n, e in enumerate(events) if e["event"] == "thread.message.completed"][1]
    mid = events[i]["data"]["id"]
    text = events[i]["data"]["content"][1]["text"]["value"]

    def change(d: dict[str, Any]) -> None:
        del d["content"][1:]  # only the image_file part is left

    flow = feed_all(mutated(events, i, change), close=True)
    content = flow.message(mid).content
    assert [p.type for p in content] == ["image_file", "text"]
    assert text_of(content[1]) == text
    no_false_claim(flow, i, "content[1]")


def test_empty_server_content_keeps_every_part() -> None:
    events = load_events(IMAGE)
    i = [n for n, e in enumerate(events) if e["event"] == "thread.message.completed"][1]
    mid = events[i]["data"]["id"]
    before = copy.deepcopy(events[i]["data"]["content"])
    flow = feed_all(mutated(events, i, lambda d: d.update(content=[])), close=True)
    dumped = [p.model_dump(exclude_none=True) for p in flow.message(mid).content]
    assert dumped == [{k: v for k, v in p.items()} for p in before]
    no_false_claim(flow, i, "content[")


def test_null_function_arguments_are_kept() -> None:
    events = function_flow_events()
    i = function_step_done(events)
    sid = events[i]["data"]["id"]
    flow = feed_all(mutated(events, i, lambda d: _call(d)["function"].update(arguments=None)),
                    close=True)
    fn = of_type(FunctionToolCall, tool_calls_of(flow.step(sid))[0]).function
    assert fn.arguments == "{}"
    assert fn.output == "warm and sunny"
    no_false_claim(flow, i, "step_details.tool_calls[0].function.arguments")


def test_null_code_input_and_empty_outputs_are_kept() -> None:
    events = load_events(CI_INPUT)
    i = final_index(events, "thread.run.step.completed", is_tool_step)
    server = _call(events[i]["data"])["code_interpreter"]

    def change(d: dict[str, Any]) -> None:
        _call(d)["code_interpreter"].update(input=None, outputs=[])

    flow = feed_all(mutated(events, i, change), close=True)
    sid = events[i]["data"]["id"]
    ci = of_type(CodeInterpreterToolCall, tool_calls_of(flow.step(sid))[0]).code_interpreter
    assert ci.input == server["input"]
    assert [o.model_dump(exclude_none=True) for o in ci.outputs] == server["outputs"]
    no_false_claim(flow, i, "step_details.tool_calls[0].code_interpreter.input")


CI_LOGS = "openllmetry_code_interpreter_logs_2024.jsonl"


def _logs_case(change: Callable[[dict[str, Any]], None]) -> tuple[RunFlow, int, str, list[Event]]:
    events = load_events(CI_LOGS)
    i = final_index(events, "thread.run.step.completed", is_tool_step)
    return feed_all(mutated(events, i, change), close=True), i, events[i]["data"]["id"], events


def test_code_interpreter_logs() -> None:
    def change(d: dict[str, Any]) -> None:
        _call(d)["code_interpreter"]["outputs"][0]["logs"] = "[42]"

    flow, i, sid, events = _logs_case(change)
    ours = _call(events[i]["data"])["code_interpreter"]["outputs"][0]["logs"]
    v = only_divergence(flow, i, f"step {sid}")
    assert_names(v, "step_details.tool_calls[0].code_interpreter.outputs[0].logs", ours, "[42]")
    ci = of_type(CodeInterpreterToolCall, tool_calls_of(flow.step(sid))[0]).code_interpreter
    assert of_type(CodeInterpreterOutputLogs, ci.outputs[0]).logs == "[42]"


def test_code_interpreter_output_count() -> None:
    def change(d: dict[str, Any]) -> None:
        _call(d)["code_interpreter"]["outputs"].append({"type": "logs", "logs": "more"})

    flow, i, sid, _ = _logs_case(change)
    v = only_divergence(flow, i, f"step {sid}")
    assert_names(v, "step_details.tool_calls[0].code_interpreter.outputs.length", 1, 2)


def test_dropped_logs_delta_is_a_divergence() -> None:
    """The one mutation the 10,000-run fuzzer once missed: a logs output delta lost."""
    events = load_events(CI_LOGS)
    k = next(i for i, e in enumerate(events) if e["event"] == "thread.run.step.delta"
             and _call(e["data"]["delta"]).get("code_interpreter", {}).get("outputs"))
    flow = feed_all(events[:k] + events[k + 1 :], close=True)
    assert [v.code for v in flow.violations] == [Code.SNAPSHOT_DIVERGENCE]
    assert "code_interpreter.outputs.length" in flow.violations[0].message
