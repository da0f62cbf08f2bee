"""Scripted Responses API streams: the events the test server sends for each scenario.

A :class:`ResponseScript` owns the authoritative ``Response`` object of one
request and writes the whole event stream up front, in the grammar of
``shared/RESPONSES.md`` §4, exactly as OpenAI sends it::

    response.created [response.queued] response.in_progress item* terminal

``sequence_number`` runs 0, 1, 2, ... with no gap; ``output_index`` is dense in
the order of ``output_item.added``; every item-scoped event names the item's id;
items never interleave; deltas concatenate to their ``.done`` value, which is the
part in ``content_part.done``, the item in ``output_item.done`` and the output of
the terminal response. A stream is fully determined by its request, so it is
built once (:func:`script_response`) and published lazily by the server
(:mod:`.responses_store`), which is also what makes a background response
replayable from any ``starting_after``.

Scenarios (``metadata.scenario``, default ``text``; ``metadata.text`` and
``metadata.chunk_size`` shape the text): ``text``, ``parallel_functions``,
``reasoning``, ``refusal``, ``incomplete``, ``failed``. ``background: true``
works with any of them.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runflow.server.breaks import break_responses, breaks_in
from runflow.server.scenarios import FUNCTION_CALLS, ScenarioOptions, chunk_text
from runflow.server.store import JSON, new_id

__all__ = [
    "FAILURE_MESSAGE",
    "REFUSAL",
    "RESPONSE_SCENARIOS",
    "ResponseRequest",
    "ResponseScenario",
    "ResponseScript",
    "ScenarioError",
    "ToolOutput",
    "script_response",
]

Clock = Callable[[], float]

FAILURE_MESSAGE = "The server had an error while processing your request. (runflow)"
REFUSAL = "I'm sorry, but I can't help with that request."
SUMMARY = (
    "**Reading the request**\n\nThe user wants a short answer; nothing in it needs a tool.",
    "**Planning the answer**\n\nOne friendly sentence is enough, so I will keep it brief.",
)
ARGUMENT_CHUNK = 6  # characters per function_call_arguments.delta, as in the captures
_PAD = string.ascii_letters + string.digits


class ScenarioError(ValueError):
    """The request cannot be answered by its scenario; the server answers 400."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class ToolOutput:
    """A ``function_call_output`` input item, with the name of the call it answers."""

    call_id: str
    name: str
    output: str


@dataclass(frozen=True)
class ResponseRequest:
    """What a scenario reads: the validated body and what the server resolved from it."""

    body: JSON
    options: ScenarioOptions
    outputs: list[ToolOutput] = field(default_factory=list)
    """The ``function_call_output`` items of the input, named from their calls."""
    steered: tuple[str, ...] = ()
    """The text of steering input this response commits (WebSocket mode): the answer
    acknowledges it, so a client can see which steers reached which response."""

    @property
    def function_tools(self) -> list[JSON]:
        return [tool for tool in self.body.get("tools") or [] if tool.get("type") == "function"]

    @property
    def background(self) -> bool:
        return bool(self.body.get("background"))


def _padding(delta: str) -> str:
    """The ``obfuscation`` field: random characters that pad a delta to ~16."""
    return "".join(secrets.choice(_PAD) for _ in range(max(2, 16 - len(delta))))


def _input_tokens(body: JSON) -> int:
    return 8 + len(json.dumps(body.get("input", ""), ensure_ascii=False)) // 4


def response_object(body: JSON, options: ScenarioOptions, created_at: int) -> JSON:
    """The ``Response`` as ``response.created`` shows it: request settings echoed."""
    background = bool(body.get("background"))
    text = body.get("text") or {}
    return {
        "id": new_id("resp"), "object": "response", "created_at": created_at,
        "status": "queued" if background else "in_progress", "background": background,
        "completed_at": None, "error": None, "frequency_penalty": 0.0,
        "incomplete_details": None, "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": body.get("model") or options.model, "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
        "presence_penalty": 0.0, "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "prompt_cache_retention": body.get("prompt_cache_retention"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": body.get("service_tier") or "auto",
        "store": body.get("store") is not False,
        "temperature": body["temperature"] if body.get("temperature") is not None else 1.0,
        "text": {"format": text.get("format") or {"type": "text"},
                 "verbosity": text.get("verbosity") or "medium"},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": copy.deepcopy(body.get("tools") or []),
        "top_logprobs": body.get("top_logprobs") or 0,
        "top_p": body.get("top_p") if body.get("top_p") is not None else 1.0,
        "truncation": body.get("truncation") or "disabled",
        "usage": None, "user": body.get("user"),
        "metadata": copy.deepcopy(body.get("metadata") or {}),
    }


class ResponseScript:
    """Writes one response's events; see the module docstring for the rules kept."""

    def __init__(self, request: ResponseRequest, clock: Clock = time.time) -> None:
        self.request = request
        self.clock = clock
        self.response = response_object(request.body, request.options, int(clock()))
        self.events: list[JSON] = []
        self.output_tokens = 0
        self.reasoning_tokens = 0
        options = request.body.get("stream_options") or {}
        # OpenAI pads deltas unless asked not to; background streams carry no padding
        self.obfuscate = options.get("include_obfuscation") is not False and not (
            request.background)

    # -- events -----------------------------------------------------------------

    def emit(self, type_: str, **fields: Any) -> JSON:
        event: JSON = {"type": type_, "sequence_number": len(self.events)}
        event.update(copy.deepcopy(fields))
        self.events.append(event)
        return event

    def _lifecycle(self, type_: str, **changes: Any) -> None:
        self.response.update(changes)
        self.emit(type_, response=self.response)

    def _delta(self, type_: str, delta: str, *, padded: bool = True, **fields: Any) -> None:
        event = self.emit(type_, **fields, delta=delta)
        if padded and self.obfuscate:
            event["obfuscation"] = _padding(delta)
        self.output_tokens += 1

    def open(self) -> None:
        """``created`` (queued for a background response) → [``queued``] → ``in_progress``."""
        self._lifecycle("response.created")
        if self.request.background:
            self._lifecycle("response.queued")
        self._lifecycle("response.in_progress", status="in_progress")

    def finish(self, status: str, **changes: Any) -> None:
        """The one terminal event; ``usage`` and (for completed) ``completed_at`` appear now."""
        tokens_in = _input_tokens(self.request.body)
        tokens_out = self.output_tokens + self.reasoning_tokens
        usage = {
            "input_tokens": tokens_in,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": tokens_out,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": tokens_in + tokens_out,
        }
        changes.setdefault("usage", usage)
        if self.response["service_tier"] == "auto" and status != "failed":
            changes.setdefault("service_tier", "default")  # as observed: auto → default
        if status == "completed":
            changes.setdefault("completed_at", int(self.clock()))
        self._lifecycle(f"response.{status}", status=status, **changes)

    # -- items ------------------------------------------------------------------

    def _add(self, item: JSON) -> int:
        index = len(self.response["output"])
        self.response["output"].append(item)
        self.emit("response.output_item.added", output_index=index, item=item)
        return index

    def _done(self, index: int, **changes: Any) -> None:
        item = self.response["output"][index]
        item.update(changes)
        self.emit("response.output_item.done", output_index=index, item=item)

    def _part(self, index: int, empty: JSON, key: str, delta_type: str, text: str) -> JSON:
        """One content part of message ``index``: added, deltas, ``.done``, part done."""
        item = self.response["output"][index]
        ids = {"item_id": item["id"], "output_index": index,
               "content_index": len(item["content"])}
        self.emit("response.content_part.added", **ids, part=empty)
        part = dict(copy.deepcopy(empty), **{key: text})
        item["content"].append(part)
        is_text = key == "text"
        extra: JSON = {"logprobs": []} if is_text else {}
        for fragment in chunk_text(text, self.request.options.chunk_size) if text else []:
            self._delta(f"{delta_type}.delta", fragment, padded=is_text, **ids, **extra)
        self.emit(f"{delta_type}.done", **ids, **{key: text}, **extra)
        self.emit("response.content_part.done", **ids, part=part)
        return part

    def message(self, text: str, status: str = "completed") -> None:
        """An assistant message with one ``output_text`` part (``status`` when done)."""
        index = self._add({"id": new_id("msg"), "type": "message", "status": "in_progress",
                           "content": [], "role": "assistant"})
        empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        self._part(index, empty, "text", "response.output_text", text)
        self._done(index, status=status)

    def refusal(self, text: str) -> None:
        """An assistant message whose one part is a ``refusal`` (its deltas carry no padding)."""
        index = self._add({"id": new_id("msg"), "type": "message", "status": "in_progress",
                           "content": [], "role": "assistant"})
        self._part(index, {"type": "refusal", "refusal": ""}, "refusal", "response.refusal",
                   text)
        self._done(index, status="completed")

    def function_call(self, name: str, arguments: str) -> None:
        index = self._add({"id": new_id("fc"), "type": "function_call", "status": "in_progress",
                           "arguments": "", "call_id": new_id("call"), "name": name})
        item = self.response["output"][index]
        ids = {"item_id": item["id"], "output_index": index}
        for fragment in chunk_text(arguments, ARGUMENT_CHUNK):
            self._delta("response.function_call_arguments.delta", fragment, **ids)
        # no ``name`` here: OpenAI never sends it (RESPONSES.md §3)
        self.emit("response.function_call_arguments.done", **ids, arguments=arguments)
        self._done(index, status="completed", arguments=arguments)

    def reasoning(self, summary: tuple[str, ...]) -> None:
        """A reasoning item (no ``status``, as OpenAI sends it) with summary parts 0, 1, ..."""
        index = self._add({"id": new_id("rs"), "type": "reasoning", "summary": []})
        item = self.response["output"][index]
        for summary_index, text in enumerate(summary):
            ids = {"item_id": item["id"], "output_index": index,
                   "summary_index": summary_index}
            self.emit("response.reasoning_summary_part.added", **ids,
                      part={"type": "summary_text", "text": ""})
            for fragment in chunk_text(text, self.request.options.chunk_size):
                self._delta("response.reasoning_summary_text.delta", fragment, **ids)
            self.emit("response.reasoning_summary_text.done", **ids, text=text)
            part = {"type": "summary_text", "text": text}
            item["summary"].append(part)
            self.emit("response.reasoning_summary_part.done", **ids, part=part)
        self.reasoning_tokens += 4 * self.output_tokens  # thinking is longer than its summary
        self._done(index)


# -- the scenarios -------------------------------------------------------------------------


Build = Callable[[ResponseScript, ResponseRequest], None]


@dataclass(frozen=True)
class ResponseScenario:
    name: str
    description: str
    build: Build


def _steered(request: ResponseRequest) -> str:
    """What an answer adds for the steering input it commits (none: nothing)."""
    return "".join(f" (steered: {text})" for text in request.steered)


def _text(script: ResponseScript, request: ResponseRequest) -> None:
    script.open()
    script.message(request.options.text + _steered(request))
    script.finish("completed")


def _sample(schema: Any) -> Any:
    """A value of the JSON Schema type ``schema`` names (for made-up call arguments)."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    return {"integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {},
            "null": None}.get(kind, "example") if isinstance(kind, str) else "example"


def _arguments(tool: JSON) -> str:
    """The built-in tools' arguments (``get_weather``: Paris), else one per required field."""
    known = dict(FUNCTION_CALLS)
    if tool["name"] in known:
        return json.dumps(known[tool["name"]])
    schema = tool.get("parameters") or {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required") if isinstance(schema, dict) else None
    names = [n for n in required if isinstance(n, str)] if isinstance(required, list) else []
    return json.dumps({name: _sample(properties.get(name)) for name in names})


def _parallel_functions(script: ResponseScript, request: ResponseRequest) -> None:
    """Two consecutive function_call items; answered (``function_call_output``) by text."""
    tools = request.function_tools
    if not request.outputs and not tools:
        raise ScenarioError("The parallel_functions scenario needs at least one function "
                            "tool in 'tools' (or function_call_output items in 'input').",
                            param="tools")
    script.open()
    if request.outputs:
        script.message("Here is what I found. " + " ".join(
            f"{output.name}: {output.output}." for output in request.outputs)
            + _steered(request))
    else:
        for tool in (tools[0], tools[1 % len(tools)]):
            script.function_call(tool["name"], _arguments(tool))
    script.finish("completed")


def _reasoning(script: ResponseScript, request: ResponseRequest) -> None:
    script.open()
    script.reasoning(SUMMARY)
    script.message(request.options.text)
    script.finish("completed")


def _refusal(script: ResponseScript, request: ResponseRequest) -> None:
    script.open()
    script.refusal(REFUSAL)
    script.finish("completed")


def _incomplete(script: ResponseScript, request: ResponseRequest) -> None:
    """``max_output_tokens`` reached: half the text, the message and response incomplete."""
    if script.response["max_output_tokens"] is None:
        script.response["max_output_tokens"] = 16
    chunks = chunk_text(request.options.text, request.options.chunk_size)
    script.open()
    script.message("".join(chunks[: max(1, len(chunks) // 2)]), status="incomplete")
    script.finish("incomplete", incomplete_details={"reason": "max_output_tokens"})


def _failed(script: ResponseScript, request: ResponseRequest) -> None:
    """The ``error`` event in its wire shape (nested), then ``response.failed``."""
    script.open()
    script.emit("error", error={"type": "server_error", "code": "server_error",
                                "message": FAILURE_MESSAGE, "param": None})
    script.finish("failed", error={"code": "server_error", "message": FAILURE_MESSAGE},
                  output=[], usage=None)


RESPONSE_SCENARIOS: dict[str, ResponseScenario] = {
    s.name: s
    for s in [
        ResponseScenario("text", "a plain text message", _text),
        ResponseScenario("parallel_functions", "two function calls; their outputs answered "
                         "with a message", _parallel_functions),
        ResponseScenario("reasoning", "a reasoning item with two summary parts, then a "
                         "message", _reasoning),
        ResponseScenario("refusal", "a message with a refusal part", _refusal),
        ResponseScenario("incomplete", "the message stops at max_output_tokens", _incomplete),
        ResponseScenario("failed", "an error event, then response.failed", _failed),
    ]
}


def script_response(scenario: str, request: ResponseRequest,
                    clock: Clock = time.time) -> list[JSON]:
    """The whole event stream of one response (raises :class:`ScenarioError`)."""
    script = ResponseScript(request, clock)
    RESPONSE_SCENARIOS[scenario].build(script, request)
    return break_responses(breaks_in(request.body), script.events)  # X-Runflow-Break
