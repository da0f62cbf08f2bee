"""The Responses scenarios: what ``runflow conform --protocol responses`` drives.

Text; parallel function calls answered with ``function_call_output`` items (a
second response, ``previous_response_id``); reasoning; structured output
(``text.format`` json_schema); ``max_output_tokens`` that makes a response
incomplete; a failed response; a background response left after a few events and
resumed with ``starting_after``. Each streams through the real openai client and
reads the response back over REST. ``metadata.scenario`` asks an emulator for the
behaviour; a server that cannot be made to do it makes the scenario not applicable.
"""

from __future__ import annotations

import json
from typing import Any

from runflow.conform.catalogue import Context, Scenario
from runflow.conform.events import TappedEvent
from runflow.conform.findings import Finding
from runflow.conform.grade import Watch
from runflow.conform.session import NotApplicable, Probe
from runflow.engine.jsonparse import JSONError, parse_json

__all__ = ["FUNCTION_TOOLS", "RESPONSES_SCENARIOS", "WEATHER_SCHEMA"]

FUNCTION_TOOLS: list[dict[str, Any]] = [
    {"type": "function", "name": name, "description": description, "strict": False,
     "parameters": {"type": "object", "properties": {arg: {"type": "string"}},
                    "required": [arg]}}
    for name, arg, description in (
        ("get_weather", "city", "The weather in a city (runflow conform tool)"),
        ("get_time", "timezone", "The time in a time zone (runflow conform tool)"),
    )
]
TOOL_OUTPUTS = {"get_weather": "sunny, 21 C", "get_time": "12:00"}
WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["city", "forecast"],
    "properties": {"city": {"type": "string"}, "forecast": {"type": "string"}},
}
_STRUCTURED = '{"city": "Paris", "forecast": "sunny"}'
_LEAVE_AFTER = 2
"""The background scenario leaves its first stream after this sequence number."""


def _stream(ctx: Context, probe: Probe, hint: str, label: str = "responses.create (stream)",
            on_event: Any = None, metadata: dict[str, str] | None = None,
            **params: Any) -> None:
    params.setdefault("input", "Say hello in one short sentence.")
    ctx.session.stream(probe, label, lambda: ctx.client.responses.with_streaming_response.create(
        model=ctx.model, stream=True, metadata=metadata or ctx.hint(hint), **params), on_event)


def _rest(ctx: Context, probe: Probe) -> None:
    """The response over REST, against the one the stream ended with."""
    response_id = probe.flow.root_id
    if response_id is None or probe.flow.root_state in ("unseen",):
        return
    rest = ctx.session.rest(probe, "responses.retrieve", lambda: (
        ctx.client.responses.with_raw_response.retrieve(response_id)), key="response")
    ctx.compare_root(probe, "consistency.response", rest)


def _terminal() -> Watch:
    """The last terminal event of a response, as the events come."""
    return Watch(lambda e: e.name in ("response.completed", "response.incomplete",
                                      "response.failed"), last=True)


def _has_reasoning(event: TappedEvent) -> bool:
    data = event.data
    return (isinstance(data, dict) and isinstance(data.get("item"), dict)
            and data["item"].get("type") == "reasoning")


def text(ctx: Context) -> None:
    probe = ctx.probe("response")
    _stream(ctx, probe, "text")
    _rest(ctx, probe)


def parallel_functions(ctx: Context) -> None:
    probe = ctx.probe("response")
    question = "What is the weather in Paris, and the time in Europe/Paris? Call both tools."
    _stream(ctx, probe, "parallel_functions", input=question, tools=FUNCTION_TOOLS,
            parallel_tool_calls=True)
    _rest(ctx, probe)
    calls: list[Any] = list(probe.flow.function_calls)  # type: ignore[attr-defined]
    if not calls:
        raise NotApplicable(f"the response ended {probe.flow.root_state} without calling "
                            "the tools")
    outputs = [{"type": "function_call_output", "call_id": call.call_id,
                "output": TOOL_OUTPUTS.get(call.name, "ok")} for call in calls]
    follow = ctx.probe("follow-up")
    _stream(ctx, follow, "parallel_functions", "responses.create (function_call_output)",
            input=outputs, tools=FUNCTION_TOOLS, previous_response_id=probe.flow.root_id)
    _rest(ctx, follow)
    ctx.notes.append(f"{len(calls)} function call(s) answered")


def reasoning(ctx: Context) -> None:
    probe = ctx.probe("response")
    item = probe.watch(Watch(_has_reasoning))
    _stream(ctx, probe, "reasoning", reasoning={"effort": "low", "summary": "auto"},
            input="Think about it, then say hello.")
    _rest(ctx, probe)
    if item.event is None:
        raise NotApplicable("the response has no reasoning item")


def structured(ctx: Context) -> None:
    probe = ctx.probe("response")
    terminal = probe.watch(_terminal())
    fmt = {"type": "json_schema", "name": "weather", "strict": True, "schema": WEATHER_SCHEMA}
    _stream(ctx, probe, "text", metadata=ctx.hint("text", text=_STRUCTURED),
            input="The weather in Paris as JSON.", text={"format": fmt})
    _rest(ctx, probe)
    probe.checked.add("payload.response.structured_output")
    if probe.flow.root_state != "completed":
        return
    answer: str = probe.flow.text  # type: ignore[attr-defined]
    try:
        value = parse_json(answer)
    except JSONError:
        value = None
    required = WEATHER_SCHEMA["required"]
    if not isinstance(value, dict) or any(key not in value for key in required):
        probe.findings.append(Finding(
            "payload.response.structured_output", "error",
            f"the output text is not a JSON object with {', '.join(required)}: "
            f"{json.dumps(answer[:80])}", terminal.event.index if terminal.event else None,
            key="response"))


def incomplete(ctx: Context) -> None:
    probe = ctx.probe("response")
    _stream(ctx, probe, "incomplete", input="Write a 500-word story.", max_output_tokens=16)
    _rest(ctx, probe)
    if probe.flow.root_state != "incomplete":
        raise NotApplicable(f"max_output_tokens=16 did not make the response incomplete "
                            f"(it ended {probe.flow.root_state})")


def failed(ctx: Context) -> None:
    probe = ctx.probe("response")
    _stream(ctx, probe, "failed")
    _rest(ctx, probe)
    if probe.flow.root_state != "failed":
        raise NotApplicable(f"the server could not be made to fail a response (it ended "
                            f"{probe.flow.root_state})")


def background(ctx: Context) -> None:
    probe = ctx.probe("response")

    def leave(p: Probe) -> bool:
        seq = p.flow.sequence_number  # type: ignore[attr-defined]
        return seq is not None and seq >= _LEAVE_AFTER

    _stream(ctx, probe, "text", on_event=leave, background=True)
    response_id = probe.flow.root_id
    if not probe.left_at or response_id is None:
        _rest(ctx, probe)
        raise NotApplicable("the background stream ended before it could be left")
    cursor: int = probe.flow.sequence_number  # type: ignore[attr-defined]
    stream = probe.tap.stream + 1
    resumed = probe.watch(Watch(lambda e: e.stream >= stream and isinstance(e.data, dict)))
    ctx.session.stream(probe, f"responses.retrieve (stream, starting_after={cursor})", lambda: (
        ctx.client.responses.with_streaming_response.retrieve(
            response_id, stream=True, starting_after=cursor)))
    probe.checked.add("consistency.resume")
    first = resumed.event
    if first is not None:
        seq = first.data.get("sequence_number")
        if seq != cursor + 1:
            probe.findings.append(Finding(
                "consistency.resume", "error",
                f"the stream resumed with starting_after={cursor} began at sequence_number "
                f"{seq}, not {cursor + 1}", first.index, first.name, key="response"))
    _rest(ctx, probe)
    ctx.notes.append(f"left after sequence_number {cursor}, resumed")


def errors(ctx: Context) -> None:
    probe = ctx.probe("errors")
    ctx.session.expect_error(probe, "responses.retrieve (unknown id)", lambda: (
        ctx.client.responses.with_raw_response.retrieve("resp_runflowConformMissing")))


RESPONSES_SCENARIOS: tuple[Scenario, ...] = tuple(
    Scenario(fn.__name__, "responses", description, fn) for fn, description in (
        (text, "a text response, streamed; REST read after it"),
        (parallel_functions, "parallel function calls, then function_call_output follow-ups"),
        (reasoning, "a reasoning item with summaries"),
        (structured, "structured output: text.format json_schema"),
        (incomplete, "max_output_tokens=16 makes the response incomplete"),
        (failed, "a response that fails (where the server can be made to)"),
        (background, "background=true, left after a few events, resumed with starting_after"),
        (errors, "an unknown id: a 4xx in OpenAI's error shape"),
    )
)
