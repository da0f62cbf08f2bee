"""Synthetic Assistants run streams, as raw SSE bytes, for the benchmark.

Every stream has the exact wire shape of the real captures in
``/work/shared/recordings``: ``event: NAME\\ndata: {compact json}\\n\\n`` blocks, full
Run / RunStep / Message objects (with the fields real servers send, including
``tool_resources``, ``reasoning_effort`` and ``parallel_tool_calls``) for status
events, the delta shapes of PROTOCOL.md ("Delta shapes") and a final
``event: done\\ndata: [DONE]``.

All generators are deterministic (seeded), so every contender and every round
sees the same bytes. Each synthetic stream is valid: runflow reports no violation
for it (``bench.py`` checks this and prints a note if that ever changes).
"""

from __future__ import annotations

import itertools
import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RECORDINGS",
    "Stream",
    "code_interpreter",
    "count_events",
    "function_call",
    "open_flow_prefix",
    "recordings",
    "text_answer",
]

JSON = dict[str, Any]

RECORDINGS = Path("/work/shared/recordings")

_T0 = 1774963893  # created_at of the newest real capture
_ALNUM = string.ascii_letters + string.digits
_WORDS = (
    " the", " stream", " of", " events", " run", ",", " and", " a", " message",
    " delta", " is", " state", " machine", ".", " tool", " call", " snapshot", " to",
    " server", " client", " in", " with", " that", " each", " step", " text", "\n\n",
    " answer", " which", " we", " it", " arrives", " order",
)
_CODE = (
    "import", " numpy", " as", " np", "\n", "x", " =", " np", ".linspace", "(", "0",
    ",", " 10", ")", "\n", "y", " =", " np", ".sin", "(x", ")", "\n", "print", "(y",
    ".sum", "())", "\n",
)


@dataclass(frozen=True)
class Stream:
    """One benchmark row: one or several independent streams (one flow each)."""

    name: str
    """Row label in the table."""
    parts: tuple[bytes, ...]
    """The raw SSE bytes; each part is fed into its own flow / handler."""
    family: str | None = None
    """Streams of one family differ only in their number of deltas (flatness);
    ``"recordings"`` for the real captures (not generated, so not checked for
    violations, and with their own target)."""
    size: int = 0
    """Number of deltas the family varies (2k, 8k, 32k)."""
    notes: tuple[str, ...] = field(default=())

    @property
    def events(self) -> int:
        return sum(count_events(p) for p in self.parts)

    @property
    def nbytes(self) -> int:
        return sum(len(p) for p in self.parts)


def count_events(data: bytes) -> int:
    """SSE blocks with an ``event:`` or ``data:`` line (what every decoder dispatches)."""
    return sum(
        1
        for block in data.replace(b"\r\n", b"\n").split(b"\n\n")
        if any(line.startswith((b"event:", b"data:")) for line in block.split(b"\n"))
    )


# --------------------------------------------------------------------------- #
# wire helpers
# --------------------------------------------------------------------------- #
def _sse(event: str, data: JSON | str) -> bytes:
    body = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"),
                                                         ensure_ascii=False)
    return f"event: {event}\ndata: {body}\n\n".encode()


_DONE = _sse("done", "[DONE]")


class _Ids:
    """Realistic, deterministic object ids (``prefix_`` + 24 alphanumerics)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self, prefix: str) -> str:
        return prefix + "_" + "".join(self.rng.choice(_ALNUM) for _ in range(24))


@dataclass
class _Run:
    """The ids and settings shared by every object of one run."""

    ids: _Ids
    tools: list[JSON]
    model: str = "gpt-4o-mini"
    instructions: str = "Please address the user as Jane Doe. The user has a premium account."
    run_id: str = ""
    thread_id: str = ""
    assistant_id: str = ""

    def __post_init__(self) -> None:
        self.run_id = self.ids("run")
        self.thread_id = self.ids("thread")
        self.assistant_id = self.ids("asst")

    def run(self, status: str, *, required_action: JSON | None = None,
            usage: JSON | None = None) -> JSON:
        started = status not in ("queued",)
        done = status in ("completed", "failed", "cancelled", "expired", "incomplete")
        return {
            "id": self.run_id,
            "object": "thread.run",
            "created_at": _T0,
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "status": status,
            "started_at": _T0 if started else None,
            "expires_at": None if done else _T0 + 600,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": _T0 + 8 if status == "completed" else None,
            "required_action": required_action,
            "last_error": None,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "tool_resources": {"code_interpreter": {"file_ids": []}},
            "metadata": {},
            "temperature": 1.0,
            "top_p": 1.0,
            "reasoning_effort": None,
            "max_completion_tokens": None,
            "max_prompt_tokens": None,
            "truncation_strategy": {"type": "auto", "last_messages": None},
            "incomplete_details": None,
            "usage": usage,
            "response_format": "auto",
            "tool_choice": "auto",
            "parallel_tool_calls": True,
        }

    def step(self, step_id: str, status: str, details: JSON,
             usage: JSON | None = None) -> JSON:
        return {
            "id": step_id,
            "object": "thread.run.step",
            "created_at": _T0 + 1,
            "run_id": self.run_id,
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "type": details["type"],
            "status": status,
            "cancelled_at": None,
            "completed_at": _T0 + 7 if status == "completed" else None,
            "expires_at": _T0 + 600,
            "failed_at": None,
            "last_error": None,
            "step_details": details,
            "usage": usage,
        }

    def message(self, message_id: str, status: str, content: list[JSON]) -> JSON:
        return {
            "id": message_id,
            "object": "thread.message",
            "created_at": _T0 + 6,
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "status": status,
            "incomplete_details": None,
            "incomplete_at": None,
            "completed_at": _T0 + 8 if status == "completed" else None,
            "role": "assistant",
            "content": content,
            "attachments": [],
            "metadata": {},
        }

    def start(self) -> Iterator[bytes]:
        yield _sse("thread.run.created", self.run("queued"))
        yield _sse("thread.run.queued", self.run("queued"))
        yield _sse("thread.run.in_progress", self.run("in_progress"))


def _usage(prompt: int, completion: int) -> JSON:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _tokens(rng: random.Random, n: int, vocabulary: tuple[str, ...] = _WORDS) -> list[str]:
    return [rng.choice(vocabulary) for _ in range(n)]


def _message_step(run: _Run, tokens: list[str], *, image_file: str | None = None,
                  close_run: bool = True) -> Iterator[bytes]:
    """A message_creation step with one message streamed as ``tokens``.

    With ``image_file`` the first delta carries an ``image_file`` part at index 0 and
    an empty text part at index 1 in one delta, as the real code interpreter capture.
    """
    step_id, msg_id = run.ids("step"), run.ids("msg")
    details = {"type": "message_creation", "message_creation": {"message_id": msg_id}}
    yield _sse("thread.run.step.created", run.step(step_id, "in_progress", details))
    yield _sse("thread.run.step.in_progress", run.step(step_id, "in_progress", details))
    yield _sse("thread.message.created", run.message(msg_id, "in_progress", []))
    yield _sse("thread.message.in_progress", run.message(msg_id, "in_progress", []))
    text_index = 0
    content: list[JSON] = []
    first = True
    if image_file is not None:
        text_index = 1
        image = {"type": "image_file", "image_file": {"file_id": image_file}}
        content.append(image)
        yield _sse("thread.message.delta", {
            "id": msg_id, "object": "thread.message.delta",
            "delta": {"content": [
                {"index": 0, **image},
                {"index": 1, "type": "text", "text": {"value": "", "annotations": []}},
            ]},
        })
        first = False
    for token in tokens:
        text: JSON = {"value": token, "annotations": []} if first else {"value": token}
        first = False
        yield _sse("thread.message.delta", {
            "id": msg_id, "object": "thread.message.delta",
            "delta": {"content": [{"index": text_index, "type": "text", "text": text}]},
        })
    content.append({"type": "text", "text": {"value": "".join(tokens), "annotations": []}})
    yield _sse("thread.message.completed", run.message(msg_id, "completed", content))
    yield _sse("thread.run.step.completed",
               run.step(step_id, "completed", details, _usage(219, len(tokens))))
    if close_run:
        yield _sse("thread.run.completed",
                   run.run("completed", usage=_usage(364, len(tokens) + 63)))
        yield _DONE


# --------------------------------------------------------------------------- #
# the streams
# --------------------------------------------------------------------------- #
def text_answer(deltas: int, seed: int = 1) -> bytes:
    """A plain text answer: run → message_creation step → message with ``deltas``
    text deltas → completed → done (``deltas + 11`` events)."""
    rng = random.Random(seed)
    run = _Run(_Ids(rng), tools=[{"type": "code_interpreter"}])
    return b"".join([*run.start(), *_message_step(run, _tokens(rng, deltas))])


def function_call(deltas: int, seed: int = 2) -> bytes:
    """A function call whose arguments stream in ``deltas`` step deltas (the first
    carries id, name and empty arguments), then ``requires_action`` listing the call,
    then done; the tool step stays in_progress (``deltas + 7`` events)."""
    rng = random.Random(seed)
    tool = {
        "type": "function",
        "function": {
            "name": "search_documents",
            "description": "Search the user's documents",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                           "required": ["query"]},
            "strict": False,
        },
    }
    run = _Run(_Ids(rng), tools=[tool])
    step_id, call_id = run.ids("step"), run.ids("call")
    # Valid JSON arguments cut into ``deltas - 1`` fragments of 1..8 characters.
    words: list[str] = []
    while sum(map(len, words)) < 4 * deltas:
        words.append(rng.choice(_WORDS).strip() or "x")
    arguments = json.dumps({"query": " ".join(words)}, separators=(",", ":"))
    pieces = deltas - 1
    cuts = sorted(rng.sample(range(1, len(arguments)), pieces - 1)) if pieces > 1 else []
    bounds = [0, *cuts, len(arguments)]
    fragments = [arguments[a:b] for a, b in itertools.pairwise(bounds)] if pieces > 0 else []
    empty = {"type": "tool_calls", "tool_calls": []}
    out = [*run.start()]
    out.append(_sse("thread.run.step.created", run.step(step_id, "in_progress", empty)))
    out.append(_sse("thread.run.step.in_progress", run.step(step_id, "in_progress", empty)))

    def delta(call: JSON) -> bytes:
        return _sse("thread.run.step.delta", {
            "id": step_id, "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}},
        })

    out.append(delta({"index": 0, "id": call_id, "type": "function",
                      "function": {"name": "search_documents", "arguments": "",
                                   "output": None}}))
    for fragment in fragments:
        out.append(delta({"index": 0, "type": "function", "function": {"arguments": fragment}}))
    action = {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {"tool_calls": [{
            "id": call_id, "type": "function",
            "function": {"name": "search_documents",
                         "arguments": arguments if pieces > 0 else ""},
        }]},
    }
    out.append(_sse("thread.run.requires_action",
                    run.run("requires_action", required_action=action)))
    out.append(_DONE)
    return b"".join(out)


def code_interpreter(input_deltas: int, text_deltas: int, seed: int = 3) -> bytes:
    """A code interpreter run: a tool_calls step whose code streams in
    ``input_deltas`` input deltas, then a ``logs`` output and an ``image`` output,
    step completed; then a message (image_file part + text in ``text_deltas``)."""
    rng = random.Random(seed)
    run = _Run(_Ids(rng), tools=[{"type": "code_interpreter"}])
    step_id, call_id, file_id = run.ids("step"), run.ids("call"), "file-" + run.ids("x")[2:]
    empty = {"type": "tool_calls", "tool_calls": []}
    out = [*run.start()]
    out.append(_sse("thread.run.step.created", run.step(step_id, "in_progress", empty)))
    out.append(_sse("thread.run.step.in_progress", run.step(step_id, "in_progress", empty)))

    def delta(body: JSON, first: bool = False) -> bytes:
        call: JSON = {"index": 0, "type": "code_interpreter", "code_interpreter": body}
        if first:
            call = {"index": 0, "id": call_id, "type": "code_interpreter",
                    "code_interpreter": body}
        return _sse("thread.run.step.delta", {
            "id": step_id, "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}},
        })

    out.append(delta({"input": "", "outputs": []}, first=True))
    code = _tokens(rng, input_deltas, _CODE)
    out.extend(delta({"input": token}) for token in code)
    logs = "[-0.54402111  0.41211849 ...]\n1.8388"
    image = {"file_id": file_id}
    out.append(delta({"outputs": [{"index": 0, "type": "logs", "logs": logs}]}))
    out.append(delta({"outputs": [{"index": 1, "type": "image", "image": image}]}))
    final = {"type": "tool_calls", "tool_calls": [{
        "id": call_id, "type": "code_interpreter",
        "code_interpreter": {"input": "".join(code), "outputs": [
            {"type": "logs", "logs": logs}, {"type": "image", "image": image}]},
    }]}
    out.append(_sse("thread.run.step.completed",
                    run.step(step_id, "completed", final, _usage(145, input_deltas))))
    out.extend(_message_step(run, _tokens(rng, text_deltas), image_file=file_id))
    return b"".join(out)


def open_flow_prefix(text_chars: int = 1024, seed: int = 4) -> bytes:
    """The memory benchmark's input: run created/queued/in_progress, a
    message_creation step, a message with ``text_chars`` characters of text in
    32-character deltas; nothing completed (the flow stays open)."""
    rng = random.Random(seed)
    run = _Run(_Ids(rng), tools=[{"type": "code_interpreter"}])
    text = "".join(_tokens(rng, text_chars))[:text_chars]
    tokens = [text[i : i + 32] for i in range(0, len(text), 32)]
    stream = b"".join(_message_step(run, tokens, close_run=False))
    # drop message.completed and step.completed: keep the message open
    blocks = stream.split(b"\n\n")
    kept = [b for b in blocks if b and not b.startswith(
        (b"event: thread.message.completed", b"event: thread.run.step.completed"))]
    return b"".join(run.start()) + b"".join(b + b"\n\n" for b in kept)


def recordings(folder: Path = RECORDINGS) -> list[tuple[str, bytes]]:
    """Every real capture ``*.sse`` in ``folder`` (read in place), sorted by name."""
    if not folder.is_dir():
        return []
    return [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.sse"))]
