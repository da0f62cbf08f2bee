"""Feed a recording into a flow chunk by chunk, and say where each event began.

:class:`Feeder` takes the bytes of a recording in chunks of any size (a file read
64 KiB at a time, or all of it at once) and feeds them to a flow: SSE chunks go
whole into ``feed_sse`` (the flow decodes them as it would off the wire), JSON
lines go one event per line into ``feed``. Nothing of an event is kept after the
flow took it but the last one (for the violations it gets) and the byte offsets of
the chunk's events; the line where an event began is kept for events that got a
violation (or every line, with ``every_line``, for a recording held in memory
anyway), and where it began for the last :data:`RECENT` events a
:class:`Listener` asked to remember, which it may still ask about.

A :class:`Listener` (``runflow check``'s graders) sees each event before the flow
processes it, with the flow's own parse of SSE data (the flow's
:attr:`~runflow.engine.flow.Flow.observer`) or the parsed JSON line; it is told
the violations the flow added (:meth:`Listener.settle`). One that is an
:class:`Observing` listener is the flow's observer itself, doing the feeder's part
of each SSE event too: one call per event instead of two, for most of a long
stream's events (``runflow check``'s time, ``benchmarks/cli.py``).

The line of an SSE event is the first non-blank line after the block of the event
before it (so a comment block before an event gives the comment's line), exactly as
feeding the file line by line and noting where each dispatched block began would
say; the byte offsets the flow's decoder gives the events map to those lines
(:class:`~runflow.adapters.sse_lines.SSELines`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from runflow.adapters.sse_lines import SSELines
from runflow.engine.flow import Flow, Observer
from runflow.engine.jsonparse import JSONError, parse_json
from runflow.engine.violations import Code, Violation

__all__ = ["RECENT", "Entry", "Feeder", "Listener", "Observing", "parse_line"]

RECENT = 32
"""How many remembered events' places are kept for a listener's findings about an
earlier event (an event still waiting for its successor: the one before). The SSE
chunks are held back to the oldest of them, and the last event of each chunk is
remembered, so a long run of deltas holds at most this many chunks (2 MiB of 64 KiB
reads; it was 256, 16 MiB, a tenth of what a 1 GB response's check held)."""


Entry = tuple[str | None, bytes | None, int, Any]
"""An SSE event as the flow's observer hands it: ``(name, data bytes, offset, parsed)``."""


class Listener(Protocol):
    """What sees a recording's events beside the flow (see the module docstring)."""

    def sse_event(self, index: int, name: str | None, raw: bytes | None, parsed: Any) -> None:
        """One SSE event, before the flow processes it (its observer's view)."""

    def jsonl_event(self, index: int, record: Any, raw: bytes) -> None:
        """A JSON line: ``record`` is its parsed JSON, or None when it is not JSON."""

    def settle(self, violations: list[Violation]) -> None:
        """The violations the flow added since the last call, told before the next
        event, or at the end of a chunk (their event is :meth:`Feeder.entry`)."""


@runtime_checkable
class Observing(Listener, Protocol):
    """A :class:`Listener` that is the flow's observer itself, for each SSE chunk
    (:meth:`sse_observer`), in place of the feeder's observer calling
    :meth:`Listener.sse_event`."""

    def sse_observer(self, feeder: Feeder, offsets: list[int], start: int) -> Observer:
        """The flow's observer while one chunk is fed, whose events are numbered from
        ``start``. For each event it does the feeder's part first, in this order:
        :meth:`Feeder.settle` when the flow's violations are not
        :attr:`Feeder.settled` (what the event before got), then the event's offset
        appended to ``offsets`` (its index is then ``start + len(offsets) - 1``);
        then it sees the event. The feeder holds no event for it
        (:meth:`Feeder.entry` is None): it keeps what its :meth:`Listener.settle`
        needs."""
        ...


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
        self._recent: dict[int, int | tuple[int | None, int]] = {}
        """Lines (JSON lines) or placements (SSE: offset of the event before, offset) of
        the events asked to be remembered (:meth:`remember`), at most :data:`RECENT`."""
        self._violations = flow.violations
        self.settled = len(self._violations)
        """How many of the flow's violations were settled (:meth:`settle`)."""
        self._sse = SSELines()
        self._reread: Callable[[], Iterable[bytes]] | None = None
        self._later: dict[int, tuple[int | None, int]] = {}
        """Placements of the events whose lines are found when the input is read again
        (:meth:`lines_later`), by index."""
        self._offsets: list[int] = []
        """The offsets of the SSE events of the chunk being fed."""
        self._start = 0  # the index of the first of them
        self._before: int | None = None  # the offset of the event before the first
        self._held: Callable[[], tuple[int, Entry] | None] | None = None
        """The last event the flow was given, and its index (held by the chunk's
        observer, which this asks)."""
        self._carry: list[bytes] = []
        self._carried = 0  # bytes in _carry
        self._overlong = False  # the line being assembled passed max_event_bytes
        self._number = 0
        self._cr = False

    @property
    def held_bytes(self) -> int:
        """Bytes of an unfinished JSON line held until its line break (at most
        ``Limits.max_event_bytes`` and one chunk: a longer line is not kept)."""
        return self._carried

    # -- what listeners ask --------------------------------------------- #
    def entry(self, index: int) -> Entry | None:
        """The last SSE event the flow was given, when its index is ``index``."""
        held = self._held() if self._held is not None else None
        return held[1] if held is not None and held[0] == index else None

    def remember(self, index: int) -> None:
        """Keep where event ``index`` began (SSE, while its chunk is fed) so that its
        line can be asked for later (:meth:`keep_line`), among the last :data:`RECENT`."""
        where = self._place(index)
        if where is not None:
            recent = self._recent
            recent[index] = where
            if len(recent) > RECENT:
                del recent[next(iter(recent))]

    def keep_line(self, index: int | None) -> None:
        """Keep the line of event ``index`` in :attr:`lines`, for a violation or a
        finding about it (an event of the chunk being fed, or a remembered one)."""
        if index is None or index in self.lines or index in self._later:
            return
        where = self._recent.get(index)
        if where is None:
            where = self._place(index)
        if self._reread is not None and isinstance(where, tuple):
            self._later[index] = where  # found by find_lines
            return
        line = where if where is None or isinstance(where, int) else self._sse.line_of(*where)
        if line is not None:
            self.lines[index] = line

    def _place(self, index: int) -> tuple[int | None, int] | None:
        i = index - self._start
        offsets = self._offsets
        if 0 <= i < len(offsets):
            return (offsets[i - 1] if i > 0 else self._before), offsets[i]
        return None

    def lines_later(self, reread: Callable[[], Iterable[bytes]]) -> None:
        """The input can be read again from its start (``reread``: a file): the lines
        of SSE events are found then (:meth:`find_lines`), by reading it up to the
        last event asked about, instead of counting the line breaks of every chunk
        as it is fed (a few percent of ``runflow check``'s time) and holding chunks
        back. Call before anything is fed."""
        if self.format == "sse":
            self._reread = reread

    def find_lines(self) -> None:
        """Put the lines asked for since :meth:`lines_later` in :attr:`lines`. An
        input that cannot be read again leaves them unknown (as a line past what
        the feeder holds is)."""
        later, self._later = sorted(self._later.items(), key=lambda kv: kv[1][1]), {}
        if not later or self._reread is None:
            return
        found = SSELines()
        at = 0
        try:
            for chunk in self._reread():
                found.scan(chunk)
                while at < len(later) and later[at][1][1] + 4096 <= found.end:
                    at = self._found(found, later, at)
                if at == len(later):
                    return
        except OSError:
            return
        while at < len(later):  # the end of the input
            at = self._found(found, later, at)

    def _found(self, found: SSELines, later: list[tuple[int, tuple[int | None, int]]],
               at: int) -> int:
        index, (before, offset) = later[at]
        line = found.line_of(before, offset)
        if line is not None:
            self.lines[index] = line
        if at + 1 < len(later):
            after = later[at + 1][1]
            found.forget_before(after[1] if after[0] is None else after[0])
        return at + 1

    # -- input ----------------------------------------------------------- #
    def feed(self, chunk: bytes) -> None:
        if self.format == "jsonl":
            self._jsonl(chunk)
            return
        if self._reread is None:
            self._sse.scan(chunk)
        self._run(self.flow.feed_sse, chunk)

    def finish(self, *, close: bool) -> None:
        """The end of the input: a last line without its line break is fed, and
        with ``close`` the flow is closed (a final SSE block without its blank line
        is dispatched)."""
        if self.format == "jsonl":
            if self._overlong:
                self._overlong = False
                self._jsonl_line(b"", overlong=self.flow.limits.max_event_bytes)
            elif self._carry:
                line, self._carry, self._carried = b"".join(self._carry), [], 0
                self._jsonl_line(line)
        elif close:
            self._run(lambda _: self.flow.close(), b"")

    def _run(self, step: Any, chunk: bytes) -> None:
        """Feed (or close) with the observer set, then settle the chunk's events."""
        flow = self.flow
        self._start = flow.event_count
        self._violations = flow.violations
        previous = flow.observer
        flow.observer = self._observer()
        try:
            step(chunk)
        finally:
            flow.observer = previous
        self.settle()
        offsets = self._offsets
        if self._every:
            for index in range(self._start, self._start + len(offsets)):
                self.keep_line(index)
        if offsets:
            self.remember(self._start + len(offsets) - 1)  # the end may still name it
            self._before = offsets[-1]
            oldest = next(iter(self._recent.values()))
            if isinstance(oldest, tuple) and self._reread is None:
                self._sse.forget_before(oldest[1] if oldest[0] is None else oldest[0])
        self._offsets = []

    def _observer(self) -> Observer:
        """What the flow calls with each event of the chunk about to be fed: the
        event's offset noted, the event held (:meth:`entry`) and shown to the
        listener, after settling what the event before got. A closure over what
        stays the same for the chunk: it runs for every event, so the event is held
        in the closure's own variables (a tuple per event costs more) and a
        listener's ``sse_event`` is called directly."""
        offsets, start, violations = self._offsets, self._start, self._violations
        listener = self.listener
        if isinstance(listener, Observing):
            self._held = None
            return listener.sse_observer(self, offsets, start)
        listen = listener.sse_event if listener is not None else _unheard
        name_: str | None = None
        raw_: bytes | None = None
        offset_ = -1
        parsed_: Any = None
        before = self._held() if self._held is not None else None  # of the chunk before

        def held() -> tuple[int, Entry] | None:
            if not offsets:
                return before
            return start + len(offsets) - 1, (name_, raw_, offset_, parsed_)

        def observe(name: str | None, raw: bytes | None, offset: int, parsed: Any) -> None:
            nonlocal name_, raw_, offset_, parsed_
            if len(violations) != self.settled:
                self.settle()  # what the event before got
            offsets.append(offset)
            name_, raw_, offset_, parsed_ = name, raw, offset, parsed
            listen(start + len(offsets) - 1, name, raw, parsed)

        self._held = held
        return observe

    # -- JSON lines ------------------------------------------------------ #
    def _jsonl(self, chunk: bytes) -> None:
        if self._cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split between chunks
        if not chunk:
            return
        self._cr = chunk.endswith(b"\r")
        pieces = chunk.splitlines(keepends=True)
        cap = self.flow.limits.max_event_bytes
        for piece in pieces:
            ended = piece.endswith((b"\n", b"\r"))
            if not self._overlong:
                self._carry.append(piece)
                self._carried += len(piece)
                if self._carried > cap:  # hold no more of it: a line is one event
                    self._overlong, self._carry, self._carried = True, [], 0
            if not ended:
                continue  # the start of a line the next chunk ends
            if self._overlong:
                self._overlong = False
                self._jsonl_line(b"", overlong=cap)
                continue
            line = self._carry[0] if len(self._carry) == 1 else b"".join(self._carry)
            self._carry, self._carried = [], 0
            self._jsonl_line(line.rstrip(b"\r\n"))

    def _jsonl_line(self, raw: bytes, *, overlong: int | None = None) -> None:
        """One line; ``overlong`` (the cap) for a line longer than
        ``Limits.max_event_bytes``, whose bytes were not kept: one malformed event."""
        self._number += 1
        if overlong is None and not raw.strip():
            return
        flow = self.flow
        index = flow.event_count
        recent = self._recent
        recent[index] = self._number
        recent.pop(index - RECENT, None)
        if self._every:
            self.lines[index] = self._number
        if overlong is None:
            event, problem, record = parse_line(raw)
        else:
            event, record = {}, None
            problem = f"longer than max_event_bytes ({overlong:,} bytes); not read"
        self._held = None
        if self.listener is not None:
            self.listener.jsonl_event(index, record, raw)
        if problem is None:
            flow.feed(event)
        else:
            # Let the flow count the event (so indices stay aligned with the file) and
            # record a malformed_event; then say which line it was in our own words.
            # ("event" is given: a Responses flow takes a dict without it as its data.)
            name = event.get("event") if isinstance(event.get("event"), str) else None
            for violation in flow.feed({"event": None, "data": None}):
                if violation.code is Code.MALFORMED_EVENT:
                    _reword(flow, violation, name, f"line {self._number}: {problem}")
        self.settle()

    # -- violations ------------------------------------------------------ #
    def settle(self) -> None:
        """Keep the line of the events the violations since the last call name, and
        tell the listener."""
        violations = self._violations = self.flow.violations
        if len(violations) < self.settled:
            self.settled = len(violations)
        new = violations[self.settled:]
        self.settled = len(violations)
        for violation in new:
            self.keep_line(violation.index)
        if self.listener is not None and new:
            self.listener.settle(new)


def _unheard(index: int, name: str | None, raw: bytes | None, parsed: Any) -> None:
    """The ``sse_event`` of no listener."""


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
