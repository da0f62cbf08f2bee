"""The Assistants accumulators' inlined fast path (issue 25) against their general path.

``MessageContent.merge`` and ``StepDetails.merge`` recognise the plain text or
arguments fragment inline and append it without the general checks. Every delta
below -- the fast path's own shape and each way of stepping off it -- is merged
twice, once through ``merge`` and once through the general path alone
(``check_*`` + ``apply_*`` via ``_merge_items``) into an identical accumulator: the
results (characters added, over the limit, or the violation code) and what was
built must be the same.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from runflow.engine.accumulator import OVER_LIMIT
from runflow.protocols.assistants import accumulators
from runflow.protocols.assistants.accumulators import MessageContent, StepDetails
from runflow.protocols.assistants.content import (
    Part,
    ToolCall,
    apply_content,
    apply_tool_calls,
    check_content,
    check_tool_calls,
)
from runflow.protocols.assistants.definition import CONTENT_DELTA, TOOL_CALLS_DELTA

ROOM = 1_000
MAX_INDEX = 8


def _text(index: Any = 0, type_: Any = "text", text: Any = None, **extra: Any) -> Any:
    item = {"index": index, "type": type_, "text": {"value": " the"} if text is None else text}
    return {"content": [{**item, **extra}]}


MESSAGE_DELTAS = [
    _text(),  # the fast path itself
    _text(text={"value": ""}),  # an empty fragment adds nothing
    _text(text={"value": "x" * (ROOM + 1)}),  # over the limit
    _text(text={"value": " the", "annotations": []}),  # empty annotations: still plain
    _text(text={"value": " a", "annotations": [{"type": "file_citation", "text": "[1]",
                                                  "start_index": 0, "end_index": 3}]}),
    _text(text={"value": 5}),
    _text(text={"value": None}),
    _text(text={}),
    _text(text="not an object"),
    _text(index=1),  # the next part: the general path adds it
    _text(index=2),  # a gap
    _text(index=-1),
    _text(index=True),
    _text(index="0"),
    _text(type_="refusal"),  # part 0 is text: a type change
    _text(type_=None),
    {"content": [_text()["content"][0], _text(index=1)["content"][0]]},  # two items
    {"content": []},
    {"content": "a string"},
    {"content": [7]},
    {"content": None},
    {},
]


def _call(body: Any = None, index: Any = 0, type_: Any = "function", **extra: Any) -> Any:
    item = {"index": index, "type": type_, type_ if isinstance(type_, str) else "function":
            {"arguments": "{\"q"} if body is None else body, **extra}
    return {"step_details": {"type": "tool_calls", "tool_calls": [item]}}


STEP_DELTAS = [
    _call(),  # the fast path itself
    _call({"arguments": ""}),
    _call({"arguments": "x" * (ROOM + 1)}),
    _call({"arguments": 5}),
    _call({"arguments": "a", "name": "search"}),  # a body of two keys: general
    _call({"input": "print(1)"}),  # the wrong key for a function
    _call(id="call_1"),  # an id: general path, compared with the call's
    _call(id="call_other"),
    _call(index=1),  # the next call: general path adds it
    _call(index=3),
    _call(index=-1),
    _call(index=False),
    _call({"input": "x"}, type_="code_interpreter"),  # call 0 is a function: type change
    _call({"query": "x"}, type_="file_search"),
    _call("not an object"),
    {"step_details": {"type": "tool_calls", "tool_calls": []}},
    {"step_details": {"type": "tool_calls", "tool_calls": {"0": 1}}},
    {"step_details": {"type": "tool_calls", "tool_calls": None}},
    {"step_details": {"type": "message_creation"}},
    {"step_details": "x"},
    {},
]


def _message() -> MessageContent:
    acc = MessageContent(CONTENT_DELTA)
    part = Part("text")
    part.add("Hello")
    acc.parts.append(part)
    return acc


def _step() -> StepDetails:
    acc = StepDetails(TOOL_CALLS_DELTA)
    acc.step_type = "tool_calls"
    call = ToolCall("function")
    call.id, call.name = "call_1", "search"
    call.add("{")
    acc.calls.append(call)
    return acc


def _outcome(result: Any) -> Any:
    """An int (characters added, or OVER_LIMIT), or the violation's code."""
    return result if result is None or type(result) is int else result[0]


@pytest.mark.parametrize("delta", MESSAGE_DELTAS, ids=repr)
def test_message_merge_agrees_with_the_general_path(delta: Any) -> None:
    fast, general = _message(), _message()
    got = fast.merge(copy.deepcopy(delta), ROOM, MAX_INDEX)
    content = delta.get("content")
    want = None if content is None else accumulators._merge_items(
        general.parts, copy.deepcopy(content), general.shape, "delta.content",
        check_content, apply_content, ROOM, MAX_INDEX)
    assert _outcome(got) == _outcome(want)
    assert fast.dump() == general.dump()


@pytest.mark.parametrize("delta", STEP_DELTAS, ids=repr)
def test_step_merge_agrees_with_the_general_path(delta: Any) -> None:
    fast, general = _step(), _step()
    got = fast.merge(copy.deepcopy(delta), ROOM, MAX_INDEX)
    details = delta.get("step_details")
    items = details.get("tool_calls") if type(details) is dict else None
    if type(details) is not dict or details.get("type") != "tool_calls":
        # both stop before the tool calls: merge says why, nothing is built
        assert got is None or type(got) is not int
        assert fast.dump() == general.dump()
        return
    want = None if items is None else accumulators._merge_items(
        general.calls, copy.deepcopy(items), general.shape, "delta.step_details.tool_calls",
        check_tool_calls, apply_tool_calls, ROOM, MAX_INDEX)
    assert _outcome(got) == _outcome(want)
    assert fast.dump() == general.dump()


def test_the_fast_path_appends_the_fragment() -> None:
    """The plain fragment is appended and counted, and over the limit nothing is."""
    message, step = _message(), _step()
    assert message.merge(_text(), ROOM, MAX_INDEX) == 4
    assert message.merge(_text(text={"value": "y" * (ROOM + 1)}), ROOM, MAX_INDEX) \
        == OVER_LIMIT
    assert message.text() == "Hello the" and message.parts[0].size == 9
    assert step.merge(_call(), ROOM, MAX_INDEX) == 3
    assert step.calls[0].text == "{{\"q" and step.calls[0].size == 4
