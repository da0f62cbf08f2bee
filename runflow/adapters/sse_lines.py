"""Where the events of an SSE recording begin, by line (:class:`SSELines`): what
:class:`~runflow.adapters.recording_feed.Feeder` says of the events that got a
violation, worked out from the byte offsets the flow's decoder gives them.
"""

from __future__ import annotations

from collections import deque

__all__ = ["SSELines"]


class SSELines:
    """Where SSE events begin, by line, worked out only for the events asked about.

    The flow's decoder places each event at a byte offset of the stream with its
    line breaks normalized to LF and without a leading BOM. The chunks are kept so
    normalized, back to the block of the oldest event a caller may still ask about
    (:meth:`forget_before`), with the count of line breaks before each. An event's
    line is the first non-blank line after a blank line that follows the first
    non-blank line at or after the offset of the event before it (so a comment block
    in between gives the comment's line); the first event's is the input's first
    non-blank line."""

    __slots__ = ("_breaks", "_chunks", "_cr", "_end", "_first", "_first_line", "_head")

    def __init__(self) -> None:
        self._chunks: deque[tuple[int, int, bytes]] = deque()
        """(normalized offset, line breaks before it, normalized bytes) of each kept chunk."""
        self._end = 0
        self._breaks = 0
        self._cr = False  # the last chunk ended in CR: an LF first in the next is its pair
        self._first = True
        self._head = b""
        self._first_line: int | None = None

    def scan(self, chunk: bytes) -> None:
        """Keep ``chunk`` (the next bytes the flow is fed), normalized."""
        if self._first and chunk:
            chunk = self._head + chunk
            if len(chunk) < 3 and b"\xef\xbb\xbf".startswith(chunk):
                self._head = chunk  # maybe a BOM split across chunks (the decoder holds it too)
                return
            self._first = False
            if chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
        if self._cr and chunk:
            self._cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if not chunk:
            return
        if b"\r" in chunk:
            self._cr = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._first_line is None:
            text = chunk.lstrip()
            if text:
                at = len(chunk) - len(text)
                self._first_line = self._breaks + chunk.count(b"\n", 0, at) + 1
        self._chunks.append((self._end, self._breaks, chunk))
        self._end += len(chunk)
        self._breaks += chunk.count(b"\n")

    @property
    def end(self) -> int:
        """The normalized offset after the bytes scanned."""
        return self._end

    def forget_before(self, offset: int) -> None:
        """Drop the chunks that end before ``offset`` (the last one stays)."""
        chunks = self._chunks
        while len(chunks) > 1 and chunks[0][0] + len(chunks[0][2]) <= offset:
            chunks.popleft()

    def line_of(self, before: int | None, offset: int) -> int | None:
        """The line of the event at ``offset`` whose predecessor was at ``before``."""
        if before is None:
            return self._first_line
        for end in (offset + 4096, self._end):
            found = self._after(before, end)
            if found is not None:
                return found
        return None

    def _after(self, start: int, end: int) -> int | None:
        text, breaks = self._text(start, end)
        if text is None:
            return None
        state = 0  # 0: before the start of the event before; 1: in its block; 2: after it
        pos = 0
        size = len(text)
        while pos < size:
            nl = text.find(b"\n", pos)
            if nl < 0:
                nl = size  # the last line, maybe cut by the window
            line = text[pos:nl]
            if state == 0 and line.strip():
                state = 1
            elif state == 1 and not line:
                state = 2
            elif state == 2 and line.strip():
                return breaks + text.count(b"\n", 0, pos) + 1
            pos = nl + 1
        return None

    def _text(self, start: int, end: int) -> tuple[bytes | None, int]:
        """The normalized bytes from ``start`` to ``end`` (at most) and the line breaks
        before ``start``; None when the chunk holding ``start`` was dropped."""
        parts: list[bytes] = []
        breaks: int | None = None
        for at, before, data in self._chunks:
            if at + len(data) <= start:
                continue
            if at >= end:
                break
            if breaks is None:
                if at > start:
                    return None, 0
                breaks = before + data.count(b"\n", 0, start - at)
            parts.append(data[max(start - at, 0):end - at])
        if breaks is None:
            return None, 0
        return b"".join(parts), breaks
