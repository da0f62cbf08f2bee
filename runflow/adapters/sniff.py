"""The events at a stream's start, for telling its protocol: ``(event name or None,
data)`` of each, JSON lines or SSE, read as the bytes come.

:class:`EventScanner` looks at each byte once, whatever the parts it is given: a
live pipe read a line at a time (``runflow watch -``) is scanned as it grows, not
again from its start at every line (which took time quadratic in the head: minutes
for a pipe of one-byte lines). Lines split as ``bytes.splitlines`` splits the whole
of the bytes (a CRLF split between two parts is one line break). An event is
*whole* once its line break comes (JSON lines) or the blank line after it (SSE);
:meth:`EventScanner.finish` takes what is left at the end of the input as well.
"""

from __future__ import annotations

from typing import Any

from runflow.engine.jsonparse import JSONError, parse_json

__all__ = ["BLANK", "SNIFF_EVENTS", "EventScanner", "sniffed"]

SNIFF_EVENTS = 64
"""How many events of a stream's start detection reads at most."""
BLANK = b"\xef\xbb\xbf \t\r\n"
"""What may come before a stream's first line (a BOM, blank lines)."""

Event = tuple[str | None, Any]


class EventScanner:
    """The whole events (:attr:`events`, at most :data:`SNIFF_EVENTS`) of the bytes
    fed so far, in format ``fmt`` (``"jsonl"`` or ``"sse"``); data that is not JSON is
    kept as its text (``[DONE]``). A JSON line that is not an object is no event."""

    __slots__ = ("_cr", "_cr_whole", "_data", "_jsonl", "_line", "_name", "_seen",
                 "events", "whole")

    def __init__(self, fmt: str) -> None:
        self._jsonl = fmt == "jsonl"
        self.events: list[Event] = []
        self.whole = 0
        """The bytes up to the end of the last whole event (SSE: of the last blank line)."""
        self._seen = 0  # the bytes fed
        self._line: list[bytes] = []  # the line being read, without its line break yet
        self._cr = False  # the bytes fed end with CR: an LF next is its pair
        self._cr_whole = False  # ... and that line ended a whole event
        self._name: str | None = None  # the SSE event being read
        self._data: list[bytes] = []

    @property
    def full(self) -> bool:
        return len(self.events) >= SNIFF_EVENTS

    def feed(self, part: bytes) -> None:
        at = self._seen
        self._seen += len(part)
        if self._cr and part.startswith(b"\n"):  # the LF of a CRLF: no line of its own
            part, at = part[1:], at + 1
            if self._cr_whole:
                self.whole = at
        if not part:
            return
        self._cr = part.endswith(b"\r")
        if self.full:
            return
        for piece in part.splitlines(keepends=True):
            at += len(piece)
            if not piece.endswith((b"\n", b"\r")):
                self._line.append(piece)  # the last piece: its line ends in a later part
                break
            if self._line:
                piece, self._line = b"".join([*self._line, piece]), []
            self._cr_whole = self._ended(piece.rstrip(b"\r\n"))
            if self._cr_whole:
                self.whole = at

    def finish(self) -> None:
        """The end of the input: a last line without its line break counts, and so
        does an SSE event without its blank line."""
        if self._line:
            line, self._line = b"".join(self._line), []
            self._ended(line)
        if not self._jsonl:
            self._ended(b"")

    def _ended(self, line: bytes) -> bool:
        """Take one line (without its line break); whether a whole event ends with it."""
        if self.full:
            return False
        if self._jsonl:
            obj = _json_or_text(line) if line.strip() else None
            if isinstance(obj, dict):
                named = obj.get("event")
                self.events.append((named, obj.get("data")) if isinstance(named, str)
                                   else (None, obj))
            return True
        if not line.strip():
            if self._name is not None or self._data:
                self.events.append((self._name, _json_or_text(b"\n".join(self._data))))
            self._name, self._data = None, []
            return True
        if line.startswith(b"event:"):
            self._name = line[6:].strip().decode("utf-8", "replace")
        elif line.startswith(b"data:"):
            self._data.append(line[6:] if line.startswith(b"data: ") else line[5:])
        return False


def sniffed(data: bytes) -> list[Event]:
    """The first :data:`SNIFF_EVENTS` events of all of ``data`` (JSON lines when it
    starts with ``{``, else SSE)."""
    scanner = EventScanner("jsonl" if data.lstrip(BLANK).startswith(b"{") else "sse")
    scanner.feed(data)
    scanner.finish()
    return scanner.events


def _json_or_text(raw: bytes) -> Any:
    try:
        return parse_json(raw)
    except JSONError:
        return raw.decode("utf-8", "replace")
