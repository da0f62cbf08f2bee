"""Scripted runs: what the test server streams for each built-in assistant.

A :class:`RunScript` owns the authoritative Run, RunStep and Message objects of
one run and turns each change into an event carrying a full snapshot, in the
orders seen in real captures (see PROTOCOL.md). A scenario is a generator over
such a script; :class:`.scripted_run.ScriptedRun` drives it across the first stream, the
``submit_tool_outputs`` continuation, and cancellation.

Scenario names (built-in assistant id = ``asst_`` + name): ``text``,
``parallel_functions``, ``code_interpreter``, ``file_search``, ``cancel``,
``failure``, ``incomplete``.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from runflow.protocols.assistants.definition import RUN
from runflow.server.store import JSON, new_id

__all__ = [
    "BUILTIN_ASSISTANTS",
    "SCENARIOS",
    "CannotCancel",
    "Event",
    "RunScript",
    "Scenario",
    "ScenarioOptions",
    "SubmitError",
    "assistant_object",
    "chunk_text",
]

Event = tuple[str, JSON]
Clock = Callable[[], float]

DEFAULT_TEXT = "Hello! This answer was streamed by the runflow test server."
TERMINAL = RUN.terminal
"""The run statuses that end a run, from the definition's run table."""


@dataclass(frozen=True)
class ScenarioOptions:
    """Server-wide defaults; runs override ``text``/``chunk_size`` through their metadata."""

    text: str = DEFAULT_TEXT
    chunk_size: int = 0  # characters per delta; 0 = word-like tokens
    model: str = "gpt-4o"

    def with_metadata(self, metadata: dict[str, Any]) -> ScenarioOptions:
        options = self
        if isinstance(metadata.get("text"), str):
            options = replace(options, text=metadata["text"])
        size = metadata.get("chunk_size")
        if isinstance(size, (str, int)) and str(size).isdigit():
            options = replace(options, chunk_size=int(size))
        return options


class SubmitError(ValueError):
    """Tool outputs cannot be accepted; the server answers 400."""


class CannotCancel(ValueError):
    """The run is already finished; the server answers 400."""


def chunk_text(text: str, size: int = 0) -> list[str]:
    """Split ``text`` into delta fragments that concatenate back to it."""
    if size > 0:
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]
    return re.findall(r"\s*\S+|\s+", text) or [""]


def _file_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "file-" + "".join(secrets.choice(alphabet) for _ in range(22))


def _usage(prompt: int, completion: int) -> JSON:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


class RunScript:
    """Builds the events of one run; every event carries a snapshot of the object."""

    def __init__(self, *, thread_id: str, assistant_id: str, params: JSON,
                 tools: list[JSON], model: str, clock: Clock = time.time) -> None:
        self.clock = clock
        now = self.now()
        self.run: JSON = {
            "id": new_id("run"), "object": "thread.run", "created_at": now,
            "assistant_id": assistant_id, "thread_id": thread_id, "status": "queued",
            "started_at": None, "expires_at": now + 600, "cancelled_at": None,
            "failed_at": None, "completed_at": None, "required_action": None,
            "last_error": None, "model": params.get("model") or model,
            "instructions": params.get("instructions"),
            "tools": params.get("tools") or tools,
            "tool_resources": params.get("tool_resources")
            or {"code_interpreter": {"file_ids": []}},
            "metadata": params.get("metadata") or {},
            "temperature": params.get("temperature") or 1.0, "top_p": params.get("top_p") or 1.0,
            "reasoning_effort": None,
            "max_completion_tokens": params.get("max_completion_tokens"),
            "max_prompt_tokens": params.get("max_prompt_tokens"),
            "truncation_strategy": {"type": "auto", "last_messages": None},
            "incomplete_details": None, "usage": None, "response_format": "auto",
            "tool_choice": "auto", "parallel_tool_calls": True,
        }
        self.params = params
        self.step: JSON | None = None  # the open step, if any
        self.message: JSON | None = None  # the open message, if any
        self.tool_calls: list[JSON] = []  # function calls awaiting outputs
        self._content: list[JSON] = []  # what the open message has streamed so far
        self.usage_total = [0, 0]

    def now(self) -> int:
        return int(self.clock())

    @property
    def status(self) -> str:
        return str(self.run["status"])

    # -- run -----------------------------------------------------------------

    def run_event(self, status: str, **changes: Any) -> Event:
        self.run.update(status=status, **changes)
        return f"thread.run.{status}", copy.deepcopy(self.run)

    def open_run(self) -> Iterator[Event]:
        """``created`` (already queued) → ``queued`` → ``in_progress``."""
        yield "thread.run.created", copy.deepcopy(self.run)
        yield self.run_event("queued")
        yield self.run_event("in_progress", started_at=self.now())

    def resume_run(self) -> Iterator[Event]:
        yield self.run_event("queued", required_action=None)
        yield self.run_event("in_progress", started_at=self.now())

    def end_run(self, status: str, **changes: Any) -> Event:
        """Terminal run event; ``usage`` appears only now."""
        stamp = {"failed": "failed_at", "cancelled": "cancelled_at"}.get(status, "completed_at")
        changes.setdefault(stamp, self.now())
        usage = _usage(*self.usage_total) if status != "cancelled" else None
        return self.run_event(status, expires_at=None, required_action=None, usage=usage,
                              **changes)

    # -- steps ---------------------------------------------------------------

    def _step_event(self, status: str) -> Event:
        assert self.step is not None
        return f"thread.run.step.{status}", copy.deepcopy(self.step)

    def open_step(self, details: JSON) -> Iterator[Event]:
        self.step = {
            "id": new_id("step"), "object": "thread.run.step", "created_at": self.now(),
            "run_id": self.run["id"], "assistant_id": self.run["assistant_id"],
            "thread_id": self.run["thread_id"], "type": details["type"],
            "status": "in_progress", "cancelled_at": None, "completed_at": None,
            "expires_at": self.run["expires_at"], "failed_at": None, "last_error": None,
            "step_details": details, "usage": None,
        }
        yield self._step_event("created")
        yield self._step_event("in_progress")

    def end_step(self, status: str = "completed", tokens: tuple[int, int] = (0, 0),
                 **changes: Any) -> Event:
        assert self.step is not None
        stamp = {"failed": "failed_at", "cancelled": "cancelled_at"}.get(status, "completed_at")
        self.step.update(status=status, **{stamp: self.now()}, **changes)
        if status == "completed":
            self.step["usage"] = _usage(*tokens)
            self.usage_total = [self.usage_total[0] + tokens[0], self.usage_total[1] + tokens[1]]
        event = self._step_event(status)
        self.step = None
        return event

    def step_delta(self, tool_calls: list[JSON]) -> Event:
        assert self.step is not None
        delta = {"step_details": {"type": "tool_calls", "tool_calls": tool_calls}}
        return "thread.run.step.delta", {
            "id": self.step["id"], "object": "thread.run.step.delta", "delta": delta,
        }

    # -- messages --------------------------------------------------------------

    def _message_event(self, status: str) -> Event:
        assert self.message is not None
        return f"thread.message.{status}", copy.deepcopy(self.message)

    def open_message(self) -> Iterator[Event]:
        """A message_creation step naming the message, then the message (content ``[]``)."""
        message_id = new_id("msg")
        yield from self.open_step(
            {"type": "message_creation", "message_creation": {"message_id": message_id}}
        )
        self.message = {
            "id": message_id, "object": "thread.message", "created_at": self.now(),
            "assistant_id": self.run["assistant_id"], "thread_id": self.run["thread_id"],
            "run_id": self.run["id"], "status": "in_progress", "incomplete_details": None,
            "incomplete_at": None, "completed_at": None, "role": "assistant", "content": [],
            "attachments": [], "metadata": {},
        }
        self._content = []
        yield self._message_event("created")
        yield self._message_event("in_progress")

    def message_delta(self, parts: list[JSON]) -> Event:
        """Send content parts and accumulate them into the open message's final content."""
        assert self.message is not None
        for part in parts:
            index = part["index"]
            if index == len(self._content):
                self._content.append({k: copy.deepcopy(v) for k, v in part.items() if k != "index"})
                continue
            text = self._content[index]["text"]
            text["value"] += part["text"]["value"]
            for annotation in part["text"].get("annotations", []):
                final = {k: copy.deepcopy(v) for k, v in annotation.items() if k != "index"}
                if "file_citation" in final:  # completed messages carry no quote
                    final["file_citation"].pop("quote", None)
                text["annotations"].append(final)
        delta = {"content": copy.deepcopy(parts)}
        return "thread.message.delta", {
            "id": self.message["id"], "object": "thread.message.delta", "delta": delta,
        }

    def text(self, text: str, chunk_size: int = 0, index: int = 0,
             first: bool = True) -> Iterator[Event]:
        """Text deltas: the first of a part carries ``annotations: []``, later ones only value."""
        for fragment in chunk_text(text, chunk_size):
            body: JSON = {"value": fragment}
            if first:
                body["annotations"] = []
                first = False
            yield self.message_delta([{"index": index, "type": "text", "text": body}])

    def end_message(self, status: str = "completed", reason: str | None = None) -> Event:
        assert self.message is not None
        now = self.now()
        self.message["content"] = copy.deepcopy(self._content)
        self.message["status"] = status
        if status == "completed":
            self.message["completed_at"] = now
        else:
            self.message.update(incomplete_at=now, incomplete_details={"reason": reason})
        event = self._message_event(status)
        self.message = None
        return event

    def cancel_tail(self) -> list[Event]:
        """cancelling → open message incomplete → open step cancelled → cancelled."""
        events = [self.run_event("cancelling", required_action=None)]
        if self.message is not None:
            events.append(self.end_message("incomplete", "run_cancelled"))
        if self.step is not None:
            events.append(self.end_step("cancelled"))
        events.append(self.end_run("cancelled"))
        return events


Start = Callable[[RunScript, ScenarioOptions], Iterator[Event]]
Resume = Callable[[RunScript, ScenarioOptions, dict[str, str]], Iterator[Event]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    tools: list[JSON]
    start: Start
    resume: Resume | None = None


def _answer(script: RunScript, text: str, chunk_size: int) -> Iterator[Event]:
    """One message_creation step carrying a complete text message."""
    yield from script.open_message()
    yield from script.text(text, chunk_size)
    yield script.end_message()
    yield script.end_step(tokens=(120, len(chunk_text(text, chunk_size))))


def _text(script: RunScript, options: ScenarioOptions) -> Iterator[Event]:
    yield from script.open_run()
    yield from _answer(script, options.text, options.chunk_size)
    yield script.end_run("completed")


FUNCTION_CALLS = [("get_weather", {"city": "Paris"}), ("get_time", {"timezone": "Europe/Paris"})]
FUNCTION_TOOLS = [
    {"type": "function", "function": {
        "name": name, "description": f"{name} (runflow test tool)", "strict": False,
        "parameters": {"type": "object", "properties": {key: {"type": "string"} for key in args},
                       "required": list(args)},
    }}
    for name, args in FUNCTION_CALLS
]


def _parallel_functions(script: RunScript, options: ScenarioOptions) -> Iterator[Event]:
    """Two function calls in one tool_calls step; the stream ends at requires_action."""
    yield from script.open_run()
    yield from script.open_step({"type": "tool_calls", "tool_calls": []})
    script.tool_calls = []
    for index, (name, args) in enumerate(FUNCTION_CALLS):
        call_id, arguments = new_id("call"), json.dumps(args)
        script.tool_calls.append({"id": call_id, "type": "function",
                                  "function": {"name": name, "arguments": arguments}})
        yield script.step_delta([{"index": index, "id": call_id, "type": "function",
                                  "function": {"name": name, "arguments": "", "output": None}}])
        for fragment in chunk_text(arguments, 6):
            yield script.step_delta([{"index": index, "type": "function",
                                      "function": {"arguments": fragment}}])
    required = {"type": "submit_tool_outputs",
                "submit_tool_outputs": {"tool_calls": copy.deepcopy(script.tool_calls)}}
    yield script.run_event("requires_action", required_action=required)


def _parallel_functions_resume(script: RunScript, options: ScenarioOptions,
                               outputs: dict[str, str]) -> Iterator[Event]:
    """step.completed (with outputs) → queued → in_progress → answer → completed."""
    assert script.step is not None
    calls = copy.deepcopy(script.tool_calls)
    for call in calls:
        call["function"]["output"] = outputs[call["id"]]
    script.step["step_details"] = {"type": "tool_calls", "tool_calls": calls}
    yield script.end_step(tokens=(90, 24))
    yield from script.resume_run()
    answer = "Here is what I found. " + " ".join(
        f"{call['function']['name']}: {call['function']['output']}." for call in calls
    )
    yield from _answer(script, answer, options.chunk_size)
    yield script.end_run("completed")


CODE = (
    "import numpy as np\nimport matplotlib.pyplot as plt\n\n"
    "x = np.linspace(0, 2 * np.pi, 100)\nprint(round(float(np.sin(x).max()), 3))\n"
    "plt.plot(x, np.sin(x))\nplt.show()"
)


def _code_interpreter(script: RunScript, options: ScenarioOptions) -> Iterator[Event]:
    """Input deltas, a ``logs`` and an ``image`` output, then image_file + text message."""
    yield from script.open_run()
    yield from script.open_step({"type": "tool_calls", "tool_calls": []})
    call_id, image_id, logs = new_id("call"), _file_id(), "1.0\n"
    yield script.step_delta([{"index": 0, "id": call_id, "type": "code_interpreter",
                              "code_interpreter": {"input": "", "outputs": []}}])
    for fragment in chunk_text(CODE):
        yield script.step_delta([{"index": 0, "type": "code_interpreter",
                                  "code_interpreter": {"input": fragment}}])
    outputs: list[JSON] = [{"type": "logs", "logs": logs},
                           {"type": "image", "image": {"file_id": image_id}}]
    for index, output in enumerate(outputs):
        yield script.step_delta([{"index": 0, "type": "code_interpreter",
                                  "code_interpreter": {"outputs": [{"index": index, **output}]}}])
    assert script.step is not None
    script.step["step_details"]["tool_calls"] = [{
        "id": call_id, "type": "code_interpreter",
        "code_interpreter": {"input": CODE, "outputs": outputs},
    }]
    yield script.end_step(tokens=(150, len(chunk_text(CODE))))
    yield from script.open_message()
    yield script.message_delta([
        {"index": 0, "type": "image_file", "image_file": {"file_id": image_id}},
        {"index": 1, "type": "text", "text": {"value": "", "annotations": []}},
    ])
    text = "Here is the plot of sin(x); its maximum is 1.0."
    yield from script.text(text, options.chunk_size, index=1, first=False)
    yield script.end_message()
    yield script.end_step(tokens=(300, len(chunk_text(text))))
    yield script.end_run("completed")


RANKING = {"ranker": "default_2024_08_21", "score_threshold": 0.0}
CITED_FILE = "notes.txt"
CITED_CONTENT = "Project notes:\n- The launch is scheduled for Tuesday.\n- Budget approved."


def _file_search(script: RunScript, options: ScenarioOptions) -> Iterator[Event]:
    """A file_search step (results only at completion), then a message with a citation."""
    yield from script.open_run()
    yield from script.open_step({"type": "tool_calls", "tool_calls": []})
    call_id, file_id = new_id("call"), _file_id()
    yield script.step_delta([{"index": 0, "id": call_id, "type": "file_search",
                              "file_search": {"ranking_options": RANKING, "results": []}}])
    result: JSON = {"file_id": file_id, "file_name": CITED_FILE, "score": 0.82, "attributes": {}}
    if script.params.get("include_content"):
        result["content"] = [{"type": "text", "text": CITED_CONTENT}]
    assert script.step is not None
    script.step["step_details"]["tool_calls"] = [{
        "id": call_id, "type": "file_search",
        "file_search": {"ranking_options": RANKING, "results": [result]},
    }]
    yield script.end_step(tokens=(800, 20))
    prefix, marker = "The launch is scheduled for Tuesday", f"【4:0†{CITED_FILE}】"
    yield from script.open_message()
    yield from script.text(prefix, options.chunk_size)
    start = len(prefix)
    annotation = {"index": 0, "type": "file_citation", "text": marker, "start_index": start,
                  "end_index": start + len(marker),
                  "file_citation": {"file_id": file_id, "quote": ""}}
    yield script.message_delta([{"index": 0, "type": "text",
                                 "text": {"value": marker, "annotations": [annotation]}}])
    yield from script.text(".", first=False)
    yield script.end_message()
    yield script.end_step(tokens=(1200, 20))
    yield script.end_run("completed")


def _half(options: ScenarioOptions) -> str:
    chunks = chunk_text(options.text, options.chunk_size)
    return "".join(chunks[: max(1, len(chunks) // 2)])


def _cancel(script: RunScript, options: ScenarioOptions) -> Iterator[Event]:
    """Some text, then the run is cancelled mid-message."""
    yield from script.open_run()
    yield from script.open_message()
    yield from script.text(_half(options), options.chunk_size)
    yield from script.cancel_tail()


def _failure(script: RunScript, options: ScenarioOptions) -> Iterator[Event]:
    """Some text, then a server_error fails the message, the step and the run."""
    error = {"code": "server_error", "message": "Sorry, something went wrong. (runflow)"}
    yield from script.open_run()
    yield from script.open_message()
    yield from script.text(_half(options), options.chunk_size)
    yield script.end_message("incomplete", "run_failed")
    yield script.end_step("failed", last_error=error)
    yield script.end_run("failed", last_error=error)


def _incomplete(script: RunScript, options: ScenarioOptions) -> Iterator[Event]:
    """The completion token limit is hit: message incomplete, step completed, run incomplete."""
    if script.run["max_completion_tokens"] is None:
        script.run["max_completion_tokens"] = 16
    yield from script.open_run()
    yield from script.open_message()
    text = _half(options)
    yield from script.text(text, options.chunk_size)
    yield script.end_message("incomplete", "max_tokens")
    yield script.end_step(tokens=(120, len(chunk_text(text, options.chunk_size))))
    yield script.end_run("incomplete", incomplete_details={"reason": "max_completion_tokens"})


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("text", "a plain text answer", [], _text),
        Scenario("parallel_functions", "two function calls, then an answer using their outputs",
                 FUNCTION_TOOLS, _parallel_functions, _parallel_functions_resume),
        Scenario("code_interpreter", "code with logs and an image output, then a message",
                 [{"type": "code_interpreter"}], _code_interpreter),
        Scenario("file_search", "file search, then a message with a file_citation",
                 [{"type": "file_search", "file_search": {"ranking_options": RANKING}}],
                 _file_search),
        Scenario("cancel", "text, then the run is cancelled", [], _cancel),
        Scenario("failure", "text, then the run fails with server_error", [], _failure),
        Scenario("incomplete", "the run stops at max_completion_tokens", [], _incomplete),
    ]
}
BUILTIN_ASSISTANTS: dict[str, str] = {f"asst_{name}": name for name in SCENARIOS}


def assistant_object(assistant_id: str, scenario: str, created_at: int,
                     model: str = "gpt-4o", **fields: Any) -> JSON:
    """An Assistant object whose metadata names its scenario."""
    obj: JSON = {
        "id": assistant_id, "object": "assistant", "created_at": created_at,
        "name": scenario, "description": SCENARIOS[scenario].description, "model": model,
        "instructions": None, "tools": copy.deepcopy(SCENARIOS[scenario].tools),
        "tool_resources": {}, "metadata": {"scenario": scenario}, "top_p": 1.0,
        "temperature": 1.0, "reasoning_effort": None, "response_format": "auto",
    }
    obj.update({k: v for k, v in fields.items() if v is not None})
    return obj
