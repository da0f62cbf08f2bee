"""Generate ``demo_stream.jsonl``: a short, realistic function-call run.

The stream is built here, not typed by hand, in the exact shapes of the real
captures in ``shared/recordings`` (openai-dotnet, API v2): a run asks for
``get_weather`` (``requires_action``, then ``done``), and the stream returned by
``submit_tool_outputs`` completes the tool step and answers in text. Both streams
are in one file, one after the other, as a flow follows them.

Run ``python -m runflow.data.make_demo_stream`` to rewrite the file; a test checks
that the shipped file is what this script writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["OUTPUT", "demo_events", "demo_jsonl", "main"]

OUTPUT = Path(__file__).resolve().parent / "demo_stream.jsonl"

RUN = "run_demoWeather0001"
THREAD = "thread_demoWeather0001"
ASSISTANT = "asst_demoWeather0001"
TOOL_STEP = "step_demoToolCall0001"
TEXT_STEP = "step_demoMessage0001"
MESSAGE = "msg_demoAnswer0001"
CALL = "call_demoGetWeather0001"
T0 = 1761861000
ARGUMENTS = ['{"', 'city":"', "Lisbon", '"}']
OUTPUT_TEXT = '{"temperature_c": 24, "sky": "clear"}'
ANSWER = ["It", "'s", " 24", "°C", " and", " clear", " in", " Lisbon", " today", "."]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
            "strict": False,
        },
    }
]
_USAGE_TOOL = {"prompt_tokens": 61, "completion_tokens": 16, "total_tokens": 77,
               "prompt_token_details": {"cached_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0}}
_USAGE_TEXT = {"prompt_tokens": 98, "completion_tokens": 12, "total_tokens": 110,
               "prompt_token_details": {"cached_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0}}
_USAGE_RUN = {"prompt_tokens": 159, "completion_tokens": 28, "total_tokens": 187,
              "prompt_token_details": {"cached_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0}}

Event = dict[str, Any]


def _run(status: str, **changes: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "id": RUN, "object": "thread.run", "created_at": T0, "assistant_id": ASSISTANT,
        "thread_id": THREAD, "status": status, "started_at": None, "expires_at": T0 + 600,
        "cancelled_at": None, "failed_at": None, "completed_at": None,
        "required_action": None, "last_error": None, "model": "gpt-4o",
        "instructions": None, "tools": TOOLS,
        "tool_resources": {"code_interpreter": {"file_ids": []}}, "metadata": {},
        "temperature": 1.0, "top_p": 1.0, "reasoning_effort": None,
        "max_completion_tokens": None, "max_prompt_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "incomplete_details": None, "usage": None, "response_format": "auto",
        "tool_choice": "auto", "parallel_tool_calls": True,
    }
    run.update(changes)
    return run


def _step(step_id: str, status: str, details: dict[str, Any], at: int, **changes: Any) -> Event:
    step: dict[str, Any] = {
        "id": step_id, "object": "thread.run.step", "created_at": at, "run_id": RUN,
        "assistant_id": ASSISTANT, "thread_id": THREAD, "type": details["type"],
        "status": status, "cancelled_at": None, "completed_at": None,
        "expires_at": T0 + 600, "failed_at": None, "last_error": None,
        "step_details": details, "usage": None,
    }
    step.update(changes)
    return step


def _message(status: str, content: list[Any], **changes: Any) -> Event:
    message: dict[str, Any] = {
        "id": MESSAGE, "object": "thread.message", "created_at": T0 + 4,
        "assistant_id": ASSISTANT, "thread_id": THREAD, "run_id": RUN, "status": status,
        "incomplete_details": None, "incomplete_at": None, "completed_at": None,
        "role": "assistant", "content": content, "attachments": [], "metadata": {},
    }
    message.update(changes)
    return message


def _ev(name: str, data: Any) -> Event:
    return {"event": name, "data": data}


def demo_events() -> list[Event]:
    """The events of both streams, in wire order."""
    function = {"name": "get_weather", "arguments": "".join(ARGUMENTS)}
    call = {"id": CALL, "type": "function", "function": function}
    no_calls = {"type": "tool_calls", "tool_calls": []}
    started = {"started_at": T0 + 1}
    first = [
        _ev("thread.run.created", _run("queued")),
        _ev("thread.run.queued", _run("queued")),
        _ev("thread.run.in_progress", _run("in_progress", **started)),
        _ev("thread.run.step.created", _step(TOOL_STEP, "in_progress", no_calls, T0 + 2)),
        _ev("thread.run.step.in_progress", _step(TOOL_STEP, "in_progress", no_calls, T0 + 2)),
        _ev("thread.run.step.delta", _step_delta(
            {"index": 0, "id": CALL, "type": "function",
             "function": {"name": "get_weather", "arguments": "", "output": None}})),
        *(_ev("thread.run.step.delta", _step_delta(
            {"index": 0, "type": "function", "function": {"arguments": part}}))
          for part in ARGUMENTS),
        _ev("thread.run.requires_action", _run(
            "requires_action", **started,
            required_action={"type": "submit_tool_outputs",
                             "submit_tool_outputs": {"tool_calls": [call]}})),
        _ev("done", "[DONE]"),
    ]
    done_call = {"id": CALL, "type": "function",
                 "function": {**function, "output": OUTPUT_TEXT}}
    creation = {"type": "message_creation", "message_creation": {"message_id": MESSAGE}}
    text = "".join(ANSWER)
    resumed = {"started_at": T0 + 4}
    second = [
        _ev("thread.run.step.completed", _step(
            TOOL_STEP, "completed", {"type": "tool_calls", "tool_calls": [done_call]},
            T0 + 2, completed_at=T0 + 3, usage=_USAGE_TOOL)),
        _ev("thread.run.queued", _run("queued", **started)),
        _ev("thread.run.in_progress", _run("in_progress", **resumed)),
        _ev("thread.run.step.created", _step(TEXT_STEP, "in_progress", creation, T0 + 4)),
        _ev("thread.run.step.in_progress", _step(TEXT_STEP, "in_progress", creation, T0 + 4)),
        _ev("thread.message.created", _message("in_progress", [])),
        _ev("thread.message.in_progress", _message("in_progress", [])),
        *(_ev("thread.message.delta", _text_delta(part, first=i == 0))
          for i, part in enumerate(ANSWER)),
        _ev("thread.message.completed", _message(
            "completed", [{"type": "text", "text": {"value": text, "annotations": []}}],
            completed_at=T0 + 5)),
        _ev("thread.run.step.completed", _step(
            TEXT_STEP, "completed", creation, T0 + 4, completed_at=T0 + 5, usage=_USAGE_TEXT)),
        _ev("thread.run.completed", _run(
            "completed", **resumed, expires_at=None, completed_at=T0 + 5, usage=_USAGE_RUN)),
        _ev("done", "[DONE]"),
    ]
    return first + second


def _step_delta(call: dict[str, Any]) -> dict[str, Any]:
    return {"id": TOOL_STEP, "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}}


def _text_delta(value: str, *, first: bool) -> dict[str, Any]:
    text: dict[str, Any] = {"value": value, "annotations": []} if first else {"value": value}
    return {"id": MESSAGE, "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": text}]}}


def demo_jsonl() -> str:
    """The file's text: one event per line, as in ``shared/recordings``."""
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in demo_events())


def main() -> None:
    OUTPUT.write_text(demo_jsonl(), encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
