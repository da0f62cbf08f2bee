"""Feed a recording into a flow chunk by chunk, and say where each event began.

:class:`Feeder` takes the bytes of a recording in chunks of any size (a file read
64 KiB at a time, or all of it at once) and feeds them to a flow: SSE chunks go
whole into ``feed_sse`` (the flow decodes them as it would off the wire), JSON
lines go one event per line into ``feed``. Nothing of an event is kept after the
flow took it, except the line where it began for events that got a violation (or
every line, with ``every_line``, for a recording held in memory anyway) and for
the last :data:`RECENT` events, which a :class:`Listener` may still ask about.

A :class:`Listener` (``runflow check``'s graders) sees each event before the flow
processes it, with the flow's own parse of SSE data (the flow's
:attr:`~runflow.engine.flow.Flow.observer`) or the parsed JSON line; it is told
when the flow is done with an event (:meth:`Listener.settle`).

The line of an SSE event is the first non-blank line after the block of the event
before it (so a comment block before an event gives the comment's line), exactly as
feeding the file line by line and noting where each dispatched block began would
say; the byte offsets the flow's decoder gives the events map to those lines
(:class:`_Lines`).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from runflow.engine.flow import Flow
from runflow.engine.jsonparse import JSONError, parse_json
from runflow.engine.violations import Code, Violation

__all__ = ["RECENT", "Feeder", "Listener", "parse_line"]

RECENT = 256
"""How many of the last events' lines are kept for a listener's findings about an
earlier event (an event still waiting for its successor)."""


class Listener(Protocol):
    """What sees a recording's events beside the flow (see the module docstring)."""

    def sse_event(self, name: str | None, raw: bytes | None, parsed: Any) -> None:
        """An SSE event, as the flow's observer saw it; its index is the flow's
        ``event_count``."""

    def jsonl_event(self, record: Any, raw: bytes) -> None:
        """A JSON line: ``record`` is its parsed JSON, or None when it is not JSON."""

    def settle(self, violations: list[Violation], line: int | None) -> None:
        """The flow is done with the last event (or, at the end, with the input): the
        violations it added since the last call, and the event's line."""


class Feeder:
    """Feed one recording (format ``"sse"`` or ``"jsonl"``) into ``flow``."""

    def __init__(self, flow: Flow, fmt: str, *, every_line: bool = False,
                 listener: Listener | None = None) -> None:
        self.flow = flow
        self.format = fmt
        self.lines: dict[int, int] = {}
        """Event index -> the 1-based line where it began (see the module docstring)."""
        self._every = every_line
        self.listener = listener
        """What sees each event beside the flow (:class:`Listener`), if anything."""
        self._recent: dict[int, int] = {}
        self._mark = len(flow.violations)
        self._current: int | None = None
        self._current_line: int | None = None
        self._sse = _Lines()
        self._carry: list[bytes] = []
        self._number = 0
        self._cr = False

    # -- what listeners ask --------------------------------------------- #
    def keep_line(self, index: int | None) -> None:
        """Keep the line of event ``index`` (one of the last :data:`RECENT` events)
        in :attr:`lines`, for a finding about it."""
        if index is not None and index not in self.lines:
            line = self._recent.get(index)
            if line is not None:
                self.lines[index] = line

    # -- input ----------------------------------------------------------- #
    def feed(self, chunk: bytes) -> None:
        if self.format == "jsonl":
            self._jsonl(chunk)
            return
        self._sse.scan(chunk)
        previous = self.flow.observer
        self.flow.observer = self._observe
        try:
            self.flow.feed_sse(chunk)
        finally:
            self.flow.observer = previous
        self._settle()
        self._sse.trim()

    def finish(self, *, close: bool) -> None:
        """The end of the input: a last line without its line break is fed, and
        with ``close`` the flow is closed (a final SSE block without its blank line
        is dispatched)."""
        if self.format == "jsonl":
            if self._carry:
                line, self._carry = b"".join(self._carry), []
                self._jsonl_line(line)
        elif close:
            self._sse.finish()
            previous = self.flow.observer
            self.flow.observer = self._observe
            try:
                self.flow.close()
            finally:
                self.flow.observer = previous
        self._settle()
        self._current = None

    # -- SSE ------------------------------------------------------------- #
    def _observe(self, name: str | None, raw: bytes | None, offset: int, parsed: Any) -> None:
        self._settle()
        self._begin(self._sse.line_at(offset))
        if self.listener is not None:
            self.listener.sse_event(name, raw, parsed)

    # -- JSON lines ------------------------------------------------------ #
    def _jsonl(self, chunk: bytes) -> None:
        if self._cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split between chunks
        if not chunk:
            return
        self._cr = chunk.endswith(b"\r")
        pieces = chunk.splitlines(keepends=True)
        for piece in pieces:
            if piece.endswith((b"\n", b"\r")):
                if self._carry:
                    self._carry.append(piece)
                    piece, self._carry = b"".join(self._carry), []
                self._jsonl_line(piece.rstrip(b"\r\n"))
            else:
                self._carry.append(piece)  # the start of a line the next chunk ends

    def _jsonl_line(self, raw: bytes) -> None:
        self._number += 1
        if not raw.strip():
            return
        flow = self.flow
        self._settle()
        self._begin(self._number)
        event, problem, record = parse_line(raw)
        if self.listener is not None:
            self.listener.jsonl_event(record, raw)
        if problem is None:
            flow.feed(event)
            return
        # Let the flow count the event (so indices stay aligned with the file) and
        # record a malformed_event; then say which line it was in our own words.
        name = event.get("event") if isinstance(event.get("event"), str) else None
        for violation in flow.feed({"data": None}):
            if violation.code is Code.MALFORMED_EVENT:
                _reword(flow, violation, name, f"line {self._number}: {problem}")

    # -- events ---------------------------------------------------------- #
    def _begin(self, line: int | None) -> None:
        index = self.flow.event_count
        self._current, self._current_line = index, line
        if line is None:
            return
        if self._every:
            self.lines[index] = line
        recent = self._recent
        recent[index] = line
        recent.pop(index - RECENT, None)

    def _settle(self) -> None:
        """Note the line of each event the violations added since the last call name."""
        violations = self.flow.violations
        if len(violations) < self._mark:
            self._mark = len(violations)
        if len(violations) == self._mark and self._current is None:
            return
        new = violations[self._mark:]
        self._mark = len(violations)
        for violation in new:
            self.keep_line(violation.index)
        if self.listener is not None and (new or self._current is not None):
            self.listener.settle(new, self._current_line)
        self._current = None


def parse_line(raw: bytes) -> tuple[dict[str, Any], str | None, Any]:
    """The event of one jsonl line, or a partial one and what is wrong with it; and
    the line's JSON (None when it is not JSON)."""
    try:
        obj = parse_json(raw)
    except JSONError as exc:  # also: nested too deep, NaN, invalid UTF-8
        return {}, f"not valid JSON ({exc})", None
    if not isinstance(obj, dict):
        return {}, f"a JSON {type(obj).__name__}, not an object with 'event' and 'data'", obj
    if "event" not in obj and isinstance(obj.get("type"), str):
        return obj, None, obj  # a Responses event written as its data: the type names it
    if not isinstance(obj.get("event"), str):
        return obj, f"the object has no 'event' name (got {obj.get('event')!r})", obj
    return obj, None, obj


def _reword(flow: Flow, violation: Violation, name: str | None, message: str) -> None:
    for i in range(len(flow.violations) - 1, -1, -1):
        if flow.violations[i] is violation:
            flow.violations[i] = violation.model_copy(update={"message": message, "event": name})
            return


class _Lines:
    """Where SSE events begin, by line, from the byte offsets the flow's decoder gives.

    The decoder's offsets count the stream with its line breaks normalized to one
    byte and without a leading BOM. Scanning each chunk before the flow takes it,
    this notes the first non-blank line after each blank line (a *start*: its
    offset and number). An event's line is then the first start after the start of
    the event before it (the first start of all for the first event); the start of
    an event is the first start at or after its offset. Only the starts between the
    last event's and the last one scanned are kept."""

    __slots__ = ("_armed", "_blank", "_cr", "_first", "_have", "_number", "_offset",
                 "_open", "_start", "_starts")

    def __init__(self) -> None:
        self._number = 0  # lines begun so far
        self._offset = 0  # normalized offset where the next line begins
        self._open = False  # a line has begun and not ended
        self._start = 0  # where the open line began
        self._blank = True  # the open line holds nothing but whitespace so far
        self._armed = True  # the next non-blank line is a start
        self._cr = False  # the last chunk ended in CR: an LF first in the next is its pair
        self._first = True
        self._have = False  # the first start is the last event's
        self._starts: deque[tuple[int, int]] = deque()

    def scan(self, chunk: bytes) -> None:
        if self._first and chunk:
            self._first = False
            if chunk.startswith(b"\xef\xbb\xbf"):
                self._offset = -3  # the decoder drops it: offsets begin after it
        if self._cr and chunk:
            self._cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if not chunk:
            return
        self._cr = chunk.endswith(b"\r")
        for line in chunk.splitlines(keepends=True):
            if line.endswith(b"\r\n"):
                size, ended = len(line) - 2, True
            elif line.endswith((b"\n", b"\r")):
                size, ended = len(line) - 1, True
            else:
                size, ended = len(line), False
            if not self._open:
                self._open, self._start, self._blank = True, self._offset, True
                self._number += 1
                empty = True
            else:
                empty = False
            if self._blank and line.strip():
                self._blank = False
            self._offset += size + ended
            if ended:
                self._end(empty and size == 0)

    def _end(self, empty: bool) -> None:
        self._open = False
        if not self._blank:
            if self._armed:
                self._starts.append((max(self._start, 0), self._number))
                self._armed = False
        elif empty:
            self._armed = True  # a blank line: it ends a block

    def finish(self) -> None:
        """The end of input: a last line without its line break ends too."""
        if self._open:
            self._end(False)

    def line_at(self, offset: int) -> int | None:
        """The line of the event the decoder placed at ``offset`` (events come in order)."""
        starts = self._starts
        if self._have and starts:
            starts.popleft()  # the start of the event before this one
        line = starts[0][1] if starts else None
        while starts and starts[0][0] < offset:
            starts.popleft()  # starts before this event's block (comment blocks)
        self._have = bool(starts)  # the first start left is this event's
        return line

    def trim(self) -> None:
        """Forget the starts between the last event's and the last one scanned: blocks
        the flow dispatched without an event (comments) need only their first."""
        starts = self._starts
        while len(starts) > 3:
            last = starts.pop()
            starts.pop()
            starts.append(last)
