"""Helpers shared by the test modules (imported as ``from helpers import ...``)."""

from __future__ import annotations

import copy
import io
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from openai.types.beta.threads import MessageContent, TextContentBlock
from openai.types.beta.threads.runs import FunctionToolCall, RunStep, ToolCall, ToolCallsStepDetails

from runflow import RunFlow

T = TypeVar("T")

__all__ = ["Edit", "edited_capture", "feed_all", "function_calls_of", "lines_of", "local_client",
           "of_type", "recv_until", "set_at", "shortest_path", "text_of", "tool_calls_of",
           "watching_stdin", "websocket_turn"]


def feed_all(events: Iterable[Any], flow: RunFlow | None = None, *, close: bool = False,
             **options: Any) -> RunFlow:
    """Feed every event into ``flow`` (by default a new ``RunFlow(**options)``) and
    return it; ``close=True`` also closes the stream."""
    if flow is None:
        flow = RunFlow(**options)
    elif options:
        raise TypeError("options are for a new flow; pass them to RunFlow instead")
    for event in events:
        flow.feed(event)
    if close:
        flow.close()
    return flow


def shortest_path(lookup: Mapping[tuple[str, str], str], start: str,
                  target: str) -> list[tuple[str, str]]:
    """The shortest list of ``(event, dest)`` that leads from ``start`` to ``target``
    through a table's ``{(state, event): dest}``."""
    todo: deque[tuple[str, list[tuple[str, str]]]] = deque([(start, [])])
    seen = {start}
    while todo:
        state, path = todo.popleft()
        if state == target:
            return path
        for (src, event), dest in lookup.items():
            if src == state and dest not in seen:
                seen.add(dest)
                todo.append((dest, [*path, (event, dest)]))
    raise AssertionError(f"{target!r} is unreachable from {start!r}")


def websocket_turn(client: Any, **create: Any) -> tuple[list[Any], Any]:
    """One WebSocket ``response.create`` on a connection of its own (the real client's
    ``client.responses.connect()``): its events to the terminal one (or an error),
    and the closed ``ConnectionFlow`` that checked both directions."""
    from runflow.protocols.responses.websocket import ConnectionFlow

    flow = ConnectionFlow()
    body: Any = {"type": "response.create", "model": "gpt-4o", **create}
    events = []
    with client.responses.connect() as conn:
        conn.send(body)
        flow.send(body)
        while True:
            event = conn.recv()
            events.append(event)
            flow.receive(event)
            if event.type in ("response.completed", "response.failed", "error"):
                break
    flow.close()
    return events, flow


def local_client(server: Any) -> Any:
    """The real ``openai.OpenAI`` client of a local server (``runflow.testing.Server``
    or ``WebSocketServer``), with no retries."""
    import openai

    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)


def recv_until(conn: Any, kinds: set[str]) -> list[Any]:
    """Receive events of a WebSocket connection until one of ``kinds`` arrives
    (inclusive)."""
    got = []
    while True:
        got.append(conn.recv())
        if got[-1].type in kinds:
            return got


@contextmanager
def watching_stdin() -> Iterator[tuple[subprocess.Popen[bytes], queue.Queue[str]]]:
    """``runflow watch - --speed 0`` in a process of its own, and the lines it writes as
    they come (:func:`lines_of`). On the way out, even after a failure, its input is
    closed and it is waited for (killed if it does not end): the reader thread holds
    its stdout, so closing that first, as ``Popen``'s exit does, would hang."""
    env = {**os.environ, "PYTHONUNBUFFERED": ""}  # the view flushes its lines itself
    process = subprocess.Popen([sys.executable, "-m", "runflow", "watch", "-", "--speed", "0"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert process.stdin is not None and process.stdout is not None
    try:
        yield process, lines_of(process.stdout)
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def lines_of(stream: IO[bytes]) -> queue.Queue[str]:
    """The lines a process writes, as they come (read by a thread of their own);
    ``""`` after the last."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in io.TextIOWrapper(stream, encoding="utf-8"):
            lines.put(line)
        lines.put("")  # the end

    threading.Thread(target=read, daemon=True).start()
    return lines


# -- reads of the openai SDK's unions ---------------------------------------------------
# The SDK types a field that holds one of several shapes as their Union; a test that
# reads one shape's field first asserts the value is that shape, so a wrong shape fails
# there, naming both, instead of as an AttributeError further on.


def of_type(cls: type[T], value: object) -> T:
    """``value``, asserted to be a ``cls``."""
    assert isinstance(value, cls), f"{type(value).__name__} where {cls.__name__} was expected"
    return value


def tool_calls_of(step: RunStep) -> list[ToolCall]:
    """The tool calls of a ``tool_calls`` run step."""
    return of_type(ToolCallsStepDetails, step.step_details).tool_calls


def function_calls_of(step: RunStep) -> list[FunctionToolCall]:
    """The tool calls of a ``tool_calls`` run step, each asserted to be a function call."""
    return [of_type(FunctionToolCall, call) for call in tool_calls_of(step)]


def text_of(block: MessageContent) -> str:
    """The text of a message's ``text`` content block."""
    return of_type(TextContentBlock, block).text.value


Edit = Callable[[dict[str, Any]], None]
"""A change made in place to an event's data."""


def set_at(*path: str | int, value: Any) -> Edit:
    """The :data:`Edit` that sets the value at ``path`` (keys and list indices) to
    ``value``."""
    def edit(data: dict[str, Any]) -> None:
        where: Any = data
        for key in path[:-1]:
            where = where[key]
        where[path[-1]] = value
    return edit


def edited_capture(name: str, edits: dict[int, Edit], tmp_path: Path) -> Path:
    """Capture ``name`` (a shared recording) with ``edits`` (event index -> an edit of
    its data, made on a copy), written as SSE to ``tmp_path / "hostile.sse"``."""
    from conftest import load_bytes

    from runflow.testing.fuzz import encode_sse, parse_sse

    events = parse_sse(load_bytes(name))
    for index, edit in edits.items():
        events[index] = copy.deepcopy(events[index])
        edit(events[index]["data"])
    path = tmp_path / "hostile.sse"
    path.write_bytes(encode_sse(events)[0])
    return path


def sse_fields(path: Path) -> list[tuple[str | None, str | None]]:
    """The ``(event name, data text)`` of each block of an SSE capture (None where the
    block has no such line), as the tests that re-encode captures read them."""
    out: list[tuple[str | None, str | None]] = []
    for block in path.read_bytes().replace(b"\r\n", b"\n").split(b"\n\n"):
        name: str | None = None
        data: str | None = None
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data = line[5:].strip().decode()
        out.append((name, data))
    return out
