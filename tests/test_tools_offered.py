"""The ``tool_offered`` rule (``unknown_tool``: a function_call names a function the
response's ``tools`` list offers) makes the set of offered names once per tools list,
not at every call: a hostile response listing thousands of tools and then making
thousands of calls cost tools x calls (20,000 tools and 1,000 calls: 4.6 s to feed
4.5 MB, against 0.17 s without the tools). A response object that brings another
tools list is judged by that list."""

from __future__ import annotations

import json
from typing import Any

import pytest

import runflow.protocols.responses.definition as definition
from runflow.protocols.responses.flow import ResponseFlow


def _response(status: str, tools: list[dict[str, Any]],
              output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "created_at": 1, "status": status,
            "model": "gpt-4o", "output": output or [], "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": tools}


def _call(i: int, name: str, status: str) -> dict[str, Any]:
    return {"type": "function_call", "id": f"fc_{i}", "call_id": f"call_{i}", "name": name,
            "arguments": "{}" if status == "completed" else "", "status": status}


def _stream(names: list[str], tools: list[dict[str, Any]],
            later_tools: list[dict[str, Any]] | None = None) -> bytes:
    """created (``tools``), in_progress (``later_tools`` if given), one function call
    per name (added, arguments done, done: call ``i``'s done is event ``4 + 3i``),
    completed."""
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response("in_progress", tools)},
        {"type": "response.in_progress",
         "response": _response("in_progress", later_tools or tools)}]
    for i, name in enumerate(names):
        events.append({"type": "response.output_item.added", "output_index": i,
                       "item": _call(i, name, "in_progress")})
        events.append({"type": "response.function_call_arguments.done", "item_id": f"fc_{i}",
                       "output_index": i, "arguments": "{}"})
        events.append({"type": "response.output_item.done", "output_index": i,
                       "item": _call(i, name, "completed")})
    events.append({"type": "response.completed", "response": _response(
        "completed", later_tools or tools,
        [_call(i, name, "completed") for i, name in enumerate(names)])})
    return b"".join(
        f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n".encode()
        for n, e in enumerate(events))


def _tools(*names: str) -> list[dict[str, Any]]:
    return [{"type": "function", "name": n, "parameters": {}} for n in names]


def _unknown(flow: ResponseFlow) -> list[tuple[str, int]]:
    return [(v.code.value, v.index) for v in flow.violations]


def test_the_offered_names_are_made_once_per_tools_list(
        monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []

    def counted(names: Any) -> frozenset[str]:
        made.append(1)
        return frozenset(names)

    monkeypatch.setattr(definition, "frozenset", counted, raising=False)
    tools = _tools(*(f"t{i}" for i in range(200)))
    flow = ResponseFlow()
    flow.feed_sse(_stream(["t7"] * 50 + ["rm_rf"] + ["t199"] * 49, tools))
    flow.close()
    assert _unknown(flow) == [("unknown_tool", 4 + 3 * 50)]  # rm_rf's output_item.done
    assert len(made) == 1  # one tools list (the same in every response object)


def test_a_later_response_object_s_tools_are_the_ones_judged() -> None:
    """response.in_progress brings a tools list that offers ``late``: a call to it is
    fine, one to ``early`` (offered only by response.created) is not."""
    flow = ResponseFlow()
    flow.feed_sse(_stream(["late", "early"], _tools("early"), later_tools=_tools("late")))
    flow.close()
    assert _unknown(flow) == [("unknown_tool", 4 + 3 * 1)]


def test_a_checkpoint_loaded_flow_judges_calls_as_the_original() -> None:
    """What the rule keeps on the root is not saved: a flow loaded from a checkpoint
    makes the set again and finds the same."""
    data = _stream(["a", "zz", "b"], _tools("a", "b"))
    cut = data.index(b"event: response.output_item.added")
    first = ResponseFlow()
    first.feed_sse(data[:cut])
    loaded = ResponseFlow.from_json(first.to_json())
    whole = ResponseFlow()
    for flow in (loaded, whole):
        flow.feed_sse(data if flow is whole else data[cut:])
        flow.close()
    assert _unknown(loaded) == _unknown(whole) == [("unknown_tool", 4 + 3 * 1)]
