"""Helpers shared by the test modules (imported as ``from helpers import ...``)."""

from __future__ import annotations

import io
import queue
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import IO, Any

from runflow import RunFlow

__all__ = ["feed_all", "lines_of", "shortest_path", "websocket_turn"]


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
