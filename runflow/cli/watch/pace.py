"""A recording played at its own pace, for ``runflow watch RECORDING``.

Recordings carry no clock of their own, so the pace comes from the timestamps in
the objects (``created_at``, ``started_at``, ``completed_at``...; for Responses
events those of the ``response`` they carry); events between two timestamps are
spread evenly across the gap. ``speed`` 1 is recorded speed, 10 ten times
faster, 0 no waiting; a pause is never longer than :data:`MAX_PAUSE`.

A recording file is read twice, in chunks (:func:`stream_blocks`): once for the
timestamps (:func:`known_times`), once to play it (:func:`paced`), so a file of any
size plays in the memory its flow takes (an event past :data:`LONG_BLOCK` is handed
on in pieces).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from runflow.adapters.recording_feed import parse_line
from runflow.engine.core import BadData
from runflow.engine.jsonparse import JSONError, parse_json
from runflow.engine.limits import Limits

if TYPE_CHECKING:
    from runflow.adapters.recording import Recording
    from runflow.engine.flow import Flow

__all__ = ["BLANK_LINE", "LONG_BLOCK", "MAX_LINE", "MAX_PAUSE", "Block", "Broken", "blocks",
           "feed_block", "known_times", "paced", "play", "schedule", "stream_blocks"]

MAX_PAUSE = 5.0
_STAMPS = ("created_at", "started_at", "completed_at", "failed_at", "cancelled_at",
           "expired_at", "incomplete_at")
BLANK_LINE = re.compile(rb"\r\n\r\n|\n\n|\r\r")
"""What ends an SSE event's block."""

MAX_LINE = Limits().max_event_bytes
"""The longest JSON line held whole by default (a flow's ``Limits.max_event_bytes``
is given where there is one)."""

LONG_BLOCK = 1 << 20
"""An SSE block read in chunks that grows past this many bytes is handed on in
pieces as it comes, without its timestamp (the flow's decoder joins the pieces, and
drops an event past ``Limits.max_event_bytes``): what is held of an event that never
ends stays bounded."""

class Broken(NamedTuple):
    """A JSON line that is no event: one ``malformed_event`` saying why."""

    reason: str


Block = tuple[bytes | dict[str, Any] | Broken | None, float | None]
"""One event (an SSE block, a jsonl event, or a broken line: :class:`Broken`, or None
for no reason given) and the latest timestamp it carries."""


def blocks(recording: Recording, max_line: int = MAX_LINE) -> list[Block]:
    """The recording's events with the latest timestamp each carries (or None); a
    JSON line longer than ``max_line`` bytes is one broken event, as in
    :func:`stream_blocks`."""
    return list(stream_blocks(recording.format, [recording.data], max_line))


def stream_blocks(fmt: str, chunks: Iterable[bytes], max_line: int = MAX_LINE
                  ) -> Iterator[Block]:
    """:func:`blocks` of a recording read in ``chunks`` (of any size), one at a time.
    A JSON line longer than ``max_line`` bytes is not held: it is one broken event
    (:func:`_overlong`); a line that is no event, one broken event worded as
    ``runflow check`` words it (:func:`_jsonl_block`)."""
    if fmt == "jsonl":
        for number, offset, line in _lines(chunks, max_line):
            if line is None:
                yield _overlong(number, offset, max_line)
            elif line.strip():
                yield _jsonl_block(line, number)
        return
    carry = b""
    cut = False  # the block being read was handed on in part: what ends it follows
    for chunk in chunks:
        pieces = BLANK_LINE.split(carry + chunk)
        carry = pieces.pop()  # after the last blank line: its end may come next
        for piece in pieces:
            if cut:
                cut = False
                yield piece + b"\n\n", None
            elif piece.strip():
                yield _sse_block(piece)
        if len(carry) > LONG_BLOCK:  # keep what may begin a blank line
            yield carry[:-4], None
            carry, cut = carry[-4:], True
    if cut:
        yield carry + b"\n\n", None
    elif carry.strip():
        yield _sse_block(carry)


def _lines(chunks: Iterable[bytes], most: int) -> Iterator[tuple[int, int, bytes | None]]:
    """The lines of the bytes, as ``bytes.splitlines`` splits the whole of them, each
    as soon as its line break comes: ``(its line number, the byte offset where it
    began, the line)``. A line longer than ``most`` bytes (its line break not counted)
    is not kept, its bytes dropped as they come: None stands for it."""
    parts: list[bytes] = []  # the line being read (nothing once it is overlong)
    held = 0  # its bytes
    over = False  # it is longer than ``most``
    size = 0  # its bytes with its line break, kept or not
    done = 0  # the bytes before it
    number = 0  # the lines before it
    cr = False  # the chunk before ended with a CR: an LF that begins this one is its pair
    for chunk in chunks:
        if cr and chunk.startswith(b"\n"):
            chunk, done = chunk[1:], done + 1
        cr = chunk.endswith(b"\r")
        for piece in chunk.splitlines(keepends=True):
            ended = piece.endswith((b"\n", b"\r"))
            body = piece.rstrip(b"\r\n") if ended else piece
            size += len(piece)
            if not over:
                held += len(body)
                if held > most:
                    over, parts = True, []
                else:
                    parts.append(body)
            if ended:
                number += 1
                yield number, done, None if over else b"".join(parts)
                parts, held, over, done, size = [], 0, False, done + size, 0
    if over or parts:
        yield number + 1, done, None if over else b"".join(parts)


def _overlong(number: int, offset: int, most: int) -> Block:
    """A JSON line longer than ``Limits.max_event_bytes``: one ``malformed_event``
    saying where it began (what ``runflow check`` says of such a line in a file, with
    the byte offset, which a live pipe has no other way to point at)."""
    return Broken(f"line {number}, from byte offset {offset:,}: longer than "
                  f"max_event_bytes ({most:,} bytes); not read"), None


def _jsonl_block(line: bytes, number: int) -> Block:
    """Line ``number``'s event; one that is none (not JSON, not an object, no name) is
    broken, in the words ``runflow check`` uses (:func:`~runflow.adapters.
    recording_feed.parse_line` decides for both)."""
    event, problem, _ = parse_line(line)
    if problem is not None:
        return Broken(f"line {number}: {problem}"), None
    if isinstance(event.get("event"), str):
        return event, _stamp(event.get("data"))
    return event, _stamp(event)  # a Responses event as its data


def _sse_block(piece: bytes) -> Block:
    data = b"".join(line[5:].lstrip(b" ") for line in piece.splitlines()
                    if line.startswith(b"data:"))
    try:
        parsed = parse_json(data) if data else None
    except JSONError:
        parsed = None
    return piece + b"\n\n", _stamp(parsed)


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
    return list(paced(known_times(stamps), len(stamps)))


def known_times(stamps: Iterable[float | None]) -> list[tuple[int, float]]:
    """``(index, time)`` of the events with a timestamp: what :func:`paced` needs of a
    recording (one pass over it; the events without one are not kept)."""
    known: list[tuple[int, float]] = []
    origin: float | None = None
    latest = 0.0
    for k, stamp in enumerate(stamps):
        if stamp is None:
            continue
        if origin is None:
            origin = stamp
        relative = stamp - origin  # keeps precision
        latest = relative if not known else max(latest, relative)
        known.append((k, latest))
    return known


def paced(known: list[tuple[int, float]], count: int | None = None) -> Iterator[float]:
    """The time of each of ``count`` events (None: as many as asked), from
    :func:`known_times` (a second pass: an event without a timestamp is spread between
    its neighbours that have one)."""
    every = range(count) if count is not None else itertools.count()
    if not known:
        yield from (0.0 for _ in every)
        return
    j = 0  # known[j] is the next event with a timestamp at or after k
    for k in every:
        while j < len(known) and known[j][0] < k:
            j += 1
        if j < len(known) and known[j][0] == k:
            yield known[j][1]
        elif j == 0:
            yield known[0][1]
        elif j == len(known):
            yield known[-1][1]
        else:
            (i, a), (n, b) = known[j - 1], known[j]
            yield a + (b - a) * (k - i) / (n - i)


def play(flow: Flow, events: Iterable[Block], speed: float,
         sleep: Callable[[float], None], times: Iterable[float] | None = None) -> None:
    """Feed the recording into ``flow``, waiting between events per :func:`schedule`
    (or ``times``, one per event, when ``events`` come one at a time)."""
    if times is None:
        events = list(events)
        times = schedule([stamp for _, stamp in events])
    flow.begin_stream()
    before = 0.0
    for k, ((item, _), now) in enumerate(zip(events, times, strict=False)):
        if k and speed > 0:
            pause = min((now - before) / speed, MAX_PAUSE)
            if pause > 0:
                sleep(pause)
        before = now
        feed_block(flow, item)
    flow.close()


def feed_block(flow: Flow, item: bytes | dict[str, Any] | Broken | None) -> None:
    """Feed one :data:`Block`'s event: SSE bytes as read, a broken line as a
    ``malformed_event`` (no name: what the flow counts and words as given); a JSON
    line's event is shown first to the flow's observer's ``record``, if it has one
    (:class:`runflow.cli.watch.findings.PayloadWatch`)."""
    if isinstance(item, bytes):
        flow.feed_sse(item)  # the flow's observer sees each event
    elif isinstance(item, Broken):
        flow.feed({"event": None, "data": BadData(item.reason)})
    else:
        record = getattr(flow.observer, "record", None)  # a watch's payload layer
        if record is not None and item is not None:
            record(item)
        flow.feed(item if item is not None else {"event": None, "data": None})
