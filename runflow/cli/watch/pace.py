"""A recording played at its own pace, for ``runflow watch RECORDING``.

Recordings carry no clock of their own, so the pace comes from the timestamps in
the objects (``created_at``, ``started_at``, ``completed_at``...; for Responses
events those of the ``response`` they carry); events between two timestamps are
spread evenly across the gap. ``speed`` 1 is recorded speed, 10 ten times
faster, 0 no waiting; a pause is never longer than :data:`MAX_PAUSE`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runflow.engine.jsonparse import JSONError, parse_json

if TYPE_CHECKING:
    from runflow.adapters.recording import Recording
    from runflow.engine.flow import Flow

__all__ = ["MAX_PAUSE", "Block", "blocks", "play", "schedule"]

MAX_PAUSE = 5.0
_STAMPS = ("created_at", "started_at", "completed_at", "failed_at", "cancelled_at",
           "expired_at", "incomplete_at")
_BLANK_LINE = re.compile(rb"\r\n\r\n|\n\n|\r\r")

Block = tuple[bytes | dict[str, Any] | None, float | None]
"""One event (an SSE block, a jsonl event, or None for a broken line) and the latest
timestamp it carries."""


def blocks(recording: Recording) -> list[Block]:
    """The recording's events with the latest timestamp each carries (or None)."""
    if recording.format == "jsonl":
        out: list[Block] = []
        for line in recording.data.splitlines():
            if line.strip():
                try:
                    event = parse_json(line)
                except JSONError:
                    event = None
                if not isinstance(event, dict):
                    out.append((None, None))
                elif isinstance(event.get("event"), str):
                    out.append((event, _stamp(event.get("data"))))
                elif isinstance(event.get("type"), str):  # a Responses event as its data
                    out.append((event, _stamp(event)))
                else:
                    out.append((None, None))
        return out
    found: list[Block] = []
    for piece in _BLANK_LINE.split(recording.data):
        if piece.strip():
            data = b"".join(line[5:].lstrip(b" ") for line in piece.splitlines()
                            if line.startswith(b"data:"))
            try:
                parsed = parse_json(data) if data else None
            except JSONError:
                parsed = None
            found.append((piece + b"\n\n", _stamp(parsed)))
    return found


def _stamp(data: Any) -> float | None:
    if not isinstance(data, dict):
        return None
    inner = data.get("response")  # a Responses lifecycle event carries its response
    objects = [data, inner] if isinstance(inner, dict) else [data]
    stamps = [s for obj in objects for k in _STAMPS if (s := _seconds(obj.get(k))) is not None]
    return max(stamps) if stamps else None


def _seconds(value: Any) -> float | None:
    """A timestamp as a float, or None: not a number, or too large for one (a
    400-digit integer), or not finite."""
    if type(value) not in (int, float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) else None


def schedule(stamps: list[float | None]) -> list[float]:
    """Each event's time in seconds from the first timestamp: its own timestamp (never
    earlier than the one before), events without one spread evenly between their
    neighbours."""
    origin = next((s for s in stamps if s is not None), 0.0)
    stamps = [s - origin if s is not None else None for s in stamps]  # keeps precision
    known = [(i, s) for i, s in enumerate(stamps) if s is not None]
    if not known:
        return [0.0] * len(stamps)
    times: list[float] = []
    latest = known[0][1]
    for stamp in stamps:
        if stamp is not None:
            latest = max(latest, stamp)
        times.append(latest if stamp is not None else float("nan"))
    for (i, _), (j, _) in itertools.pairwise(known):
        a, b = times[i], times[j]
        for k in range(i + 1, j):
            times[k] = a + (b - a) * (k - i) / (j - i)
    first, last = known[0][0], known[-1][0]
    return [times[first] if k < first else times[last] if k > last else t
            for k, t in enumerate(times)]


def play(flow: Flow, events: list[Block], speed: float,
         sleep: Callable[[float], None]) -> None:
    """Feed the recording into ``flow``, waiting between events per :func:`schedule`."""
    times = schedule([stamp for _, stamp in events])
    flow.begin_stream()
    for k, (item, _) in enumerate(events):
        if k and speed > 0:
            pause = min((times[k] - times[k - 1]) / speed, MAX_PAUSE)
            if pause > 0:
                sleep(pause)
        if isinstance(item, bytes):
            flow.feed_sse(item)
        else:
            flow.feed(item if item is not None else {"data": None})
    flow.close()
