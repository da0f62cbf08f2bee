"""What a WebSocket-mode response takes as input: the create's items, steering input
committed into it, and the tool outputs that answer the previous response's calls.

``shared/WEBSOCKET.md`` (Steering): an automatic successor "continues with the queued
input"; a response stopped for client-owned tool output keeps the accepted input queued,
and the explicit ``response.create`` that answers the ``required_input`` gets it
*prepended in submission order*. Every value here came from the client: anything may
be any JSON value, so nothing raises.
"""

from __future__ import annotations

from typing import Any

from runflow.server.responses_scenarios import ToolOutput
from runflow.server.store import JSON

__all__ = ["input_items", "steer_items", "steer_texts", "tool_outputs"]


def input_items(given: Any) -> list[JSON]:
    """A create's ``input`` as items: a string is one user message."""
    if isinstance(given, str):
        return [{"type": "message", "role": "user", "content": given}]
    return [item for item in given if isinstance(item, dict)] if isinstance(given,
                                                                            list) else []


def steer_items(steers: list[tuple[str, Any]]) -> list[JSON]:
    """The input items of ``(steer id, input)`` submissions, in submission order."""
    return [item for _, given in steers for item in input_items(given)]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return " ".join(str(p["text"]) for p in parts if isinstance(p, dict)
                    and isinstance(p.get("text"), str))


def steer_texts(steers: list[tuple[str, Any]]) -> tuple[str, ...]:
    """The text of each steered user message (what the answer acknowledges)."""
    return tuple(text for item in steer_items(steers)
                 if (text := _text(item.get("content"))))


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    return _text(output)


def _function_calls(items: Any) -> dict[str, str]:
    """call_id -> name of the ``function_call`` items among ``items``."""
    return {str(item.get("call_id")): str(item.get("name"))
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and item.get("type") == "function_call"}


def tool_outputs(items: list[JSON], previous: JSON | None) -> tuple[list[ToolOutput], str]:
    """The ``function_call_output`` items matched to their calls -- the previous
    response's (connection memory) or the input's own (a full input resent without
    ``previous_response_id``, as over HTTP) -- and the refusal ("" when none) worded
    like the API's when one names no call or a previous response's call stays
    unanswered."""
    asked = _function_calls(previous.get("output") if previous is not None else None)
    calls = {**asked, **_function_calls(items)}
    outputs = []
    for item in items:
        if item.get("type") != "function_call_output":
            continue
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or call_id not in calls:
            return [], f"No tool call found for function call output with call_id {call_id}."
        outputs.append(ToolOutput(call_id, calls[call_id], _output_text(item.get("output"))))
    answered = {o.call_id for o in outputs}
    missing = [c for c in asked if c not in answered]
    if missing:
        return [], f"No tool output found for function call {missing[0]}."
    return outputs, ""
