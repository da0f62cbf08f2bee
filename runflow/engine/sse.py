"""Incremental Server-Sent Events decoder (bytes in, raw events out).

It follows the WHATWG event-stream parsing algorithm for every chunking: chunk
boundaries may fall anywhere (mid-line, mid-UTF-8 character, inside a BOM or a
CRLF, with empty chunks in between); lines end in LF, CRLF or CR; a blank line
ends an event; one leading BOM per stream is dropped; ``:`` comment lines,
``id:``, ``retry:`` and unknown fields are ignored; several ``data:`` lines are
joined with ``\\n``. ``tests/test_sse_whatwg.py`` checks this against a reference
parser written from the spec. Intentional departures, both for real captures:

* a block with an ``event:`` line and no ``data:`` line is still dispatched (with
  ``data`` None, as one real server sent ``done``); the spec drops it;
* :meth:`SSEDecoder.close` dispatches a final block that lacks the closing blank
  line (the spec discards it), and makes the next bytes fed a new stream (whose
  leading BOM is dropped too).

The event name is the event type buffer verbatim (None with no ``event:`` line;
the spec would say ``"message"``).

The decoder does not decode JSON; it yields :class:`RawEvent` with the data as
bytes so the flow parses each block exactly once. Work is linear in the input:
bytes of an unfinished block are kept in a list and joined once the block ends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar, NamedTuple

__all__ = ["RawEvent", "SSEDecoder", "cached_names"]

_BOM = b"\xef\xbb\xbf"


class RawEvent(NamedTuple):
    """One SSE message: its ``event`` name, its joined ``data`` and where it began.

    A named tuple, not a dataclass: one is made per event on the hot path."""

    event: str | None
    data: bytes | None
    offset: int
    """Byte offset of the block in the (line-ending-normalized) stream."""
    oversize: int = 0
    """Non-zero for a block dropped because it grew past ``max_pending``: its size
    so far. It keeps its place among the events so the caller can report it."""


_new_event = tuple.__new__
"""Makes a :class:`RawEvent` from its four fields without the named tuple's own
``__new__``, a Python function (one call less per event)."""


class SSEDecoder:
    """Split a byte stream into SSE messages.

    ``max_pending`` bounds the size of one block, however the input is chunked:
    a larger block is dropped, and yielded in its place as a :class:`RawEvent` with
    ``oversize`` set so the caller can report it. Bytes of a dropped block that is
    still arriving are skipped until the next blank line.
    """

    fast_path: ClassVar[bool] = True
    """Whether a chunk of canonical blocks is split by one search (:func:`_canonical`);
    False looks at every block one by one (the tests compare the two)."""

    __slots__ = (
        "_cr",
        "_head",
        "_offset",
        "_pending",
        "_pending_size",
        "_skipping",
        "_started",
        "max_pending",
    )

    def __init__(self, max_pending: int = 64 * 1024 * 1024) -> None:
        self.max_pending = max_pending
        self._pending: list[bytes] = []  # bytes of the unfinished block
        self._pending_size = 0
        self._offset = 0  # stream offset of the first pending byte
        self._cr = False  # the last chunk ended with CR: a LF may follow
        self._started = False
        self._skipping = False
        self._head = b""  # first bytes, held until we know whether they are a BOM

    @property
    def buffered(self) -> int:
        """Bytes received and not yet dispatched."""
        return self._pending_size

    def feed(self, chunk: bytes) -> list[RawEvent]:
        """Take the next bytes; return the messages they complete."""
        if not self._started:
            chunk = self._head + chunk
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._head = chunk  # maybe a BOM split across chunks
                return []
            self._head = b""
            self._started = True
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
        if self._cr and chunk:  # an empty chunk does not end a pending CRLF
            self._cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        # find, not ``in``: ``bytes in bytes`` first tries the operand as an integer
        # and formats a TypeError it then clears (about 1,800 instructions a test)
        if chunk.find(b"\r") >= 0:
            if chunk.endswith(b"\r"):
                self._cr = True  # a CRLF may be split across chunks
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not chunk:
            return []
        pending = self._pending
        # A block ends at a blank line, i.e. "\n\n", possibly straddling chunks.
        joint = pending and pending[-1].endswith(b"\n") and chunk.startswith(b"\n")
        if chunk.find(b"\n\n") < 0 and not joint:
            return self._hold(chunk)
        data = b"".join(pending) + chunk if pending else chunk
        offset = self._offset
        max_pending = self.max_pending
        skipping = self._skipping
        end = data.rfind(b"\n\n") + 2
        canonical = (_canonical(data, end, offset, max_pending)
                     if self.fast_path and not skipping else None)
        if canonical is not None:  # nearly every chunk: no block to look at one by one
            self._pending = []
            self._pending_size = 0
            self._offset = offset + end
            if end < len(data):
                canonical.extend(self._hold(data[end:]))
            return canonical
        blocks = data.split(b"\n\n")
        rest = blocks.pop()
        out: list[RawEvent] = []
        self._skipping = False
        append = out.append
        for block in blocks:
            start = offset
            size = len(block)
            offset += size + 2
            if skipping:
                skipping = False
                continue
            if size > max_pending:
                append(RawEvent(None, None, start, size))
            elif block:
                # the fast path of _parse_block, inlined: "event: NAME\ndata: ONE LINE"
                nl = block.find(b"\n") if block.startswith(b"event: ") else -1
                if (nl > 0 and block.startswith(b"data: ", nl + 1)
                        and block.find(b"\n", nl + 1) < 0):
                    append(_new_event(RawEvent, (block[7:nl].decode("utf-8", "replace"),
                                                 block[nl + 7 :], start, 0)))
                else:
                    event = _parse_block(block, start)
                    if event is not None:
                        append(event)
        self._pending = []
        self._pending_size = 0
        self._offset = offset
        if rest:
            out.extend(self._hold(rest))
        return out

    def close(self) -> list[RawEvent]:
        """End of input: dispatch a last block that had no closing blank line."""
        if self._head:
            self._pending, self._pending_size = [self._head], len(self._head)
            self._head = b""
        data = b"".join(self._pending)
        start = self._offset
        self._pending = []
        self._offset += len(data)
        self._pending_size = 0
        self._cr = False
        self._started = False  # what is fed next is a new stream: it may have a BOM
        if self._skipping:
            self._skipping = False
            return []
        data = data.strip(b"\n")
        if not data:
            return []
        event = _parse_block(data, start)
        return [event] if event is not None else []

    def _hold(self, chunk: bytes) -> list[RawEvent]:
        if self._skipping:
            # Drop the bytes of an oversized block, but keep its last byte: it may
            # be the first half of the blank line that ends the block.
            self._offset += self._pending_size
            self._pending = [chunk[-1:]]
            self._pending_size = 1
            self._offset += len(chunk) - 1
            return []
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size > self.max_pending:
            dropped = RawEvent(None, None, self._offset, self._pending_size)
            last = self._pending[-1][-1:]
            self._offset += self._pending_size - 1
            self._pending = [last]
            self._pending_size = 1
            self._skipping = True
            return [dropped]
        return []

    # -- checkpoints ------------------------------------------------------ #
    def state(self) -> dict[str, object]:
        return {
            "pending": b"".join(self._pending).decode("latin-1"),
            "offset": self._offset,
            "cr": self._cr,
            "started": self._started,
            "skipping": self._skipping,
            "head": self._head.decode("latin-1"),
        }

    def restore(self, state: dict[str, object]) -> None:
        pending = str(state["pending"]).encode("latin-1")
        self._pending = [pending] if pending else []
        self._pending_size = len(pending)
        self._offset = int(state["offset"])  # type: ignore[call-overload]
        self._cr = bool(state["cr"])
        self._started = bool(state["started"])
        self._skipping = bool(state["skipping"])
        self._head = str(state.get("head", "")).encode("latin-1")


_CANONICAL = re.compile(rb"event: ([^\n]*)\ndata: ([^\n]*)\n\n")
"""A block as every real server sends it: one ``event:`` line, one ``data:`` line, a
blank line."""


_NAMES: dict[bytes, str] = {}
"""Event names decoded before (a stream repeats a few dozen): a lookup instead of a
decode per event, shared by every decoder of the process so that short streams gain
too. Bounded: at most :data:`_NAMES_MAX` names of at most 64 bytes.

When it is full, a new name empties it first (:func:`_decoded`): whatever came
before -- a hostile stream's thousands of junk names early in a long-lived
process -- the names of the streams that follow are kept again after their first
use, where a cache that stopped admitting when full would decode them every time.
Emptying it whole, rather than evicting the oldest or least used name, costs the
lookup of a kept name nothing (an LRU reorders on every hit); a stream of junk
names only makes the real ones be decoded once more per :data:`_NAMES_MAX` junk
names. Names are not screened for looking like a protocol's: this module knows
none, and junk can look like anything."""
_NAMES_MAX = 512


def cached_names() -> Mapping[bytes, str]:
    """The event names the decoders keep decoded (:data:`_NAMES`), read-only: what a
    test asserts on."""
    return MappingProxyType(_NAMES)


def _decoded(name: bytes) -> str:
    """``name`` decoded as the SSE rules say (UTF-8, bad bytes replaced), and kept in
    :data:`_NAMES`, emptied first when full."""
    text = name.decode("utf-8", "replace")
    if len(name) <= 64:
        if len(_NAMES) >= _NAMES_MAX:
            _NAMES.clear()
        _NAMES[name] = text
    return text


def _canonical(data: bytes, end: int, offset: int, max_pending: int) -> list[RawEvent] | None:
    """The events of ``data[:end]`` (which ends with a blank line) when it is nothing
    but canonical blocks (:data:`_CANONICAL`), else None: the blocks are then split
    and parsed one by one. One ``findall`` in C instead of a split and four searches
    per block; the blocks found tile ``data[:end]`` exactly (their lengths add up to
    ``end``) or none is used, so the result is what the block-by-block loop gives."""
    out: list[RawEvent] = []
    append = out.append
    start = offset
    names = _NAMES
    found = _CANONICAL.findall(data, 0, end)
    if end <= max_pending:  # no block can be too large: nothing to compare per block
        for name, body in found:
            text = names.get(name)
            if text is None:
                text = _decoded(name)
            append(_new_event(RawEvent, (text, body, offset, 0)))
            offset += len(name) + len(body) + 16  # "event: " NAME "\ndata: " BODY "\n\n"
        return out if offset - start == end else None
    for name, body in found:
        size = len(name) + len(body) + 14  # "event: " NAME "\ndata: " BODY
        if size > max_pending:
            append(_new_event(RawEvent, (None, None, offset, size)))
        else:
            text = names.get(name)
            if text is None:
                text = _decoded(name)
            append(_new_event(RawEvent, (text, body, offset, 0)))
        offset += size + 2
    return out if offset - start == end else None


def _parse_block(block: bytes, offset: int) -> RawEvent | None:
    # Fast path: exactly "event: NAME\ndata: ONE LINE", as every real server sends.
    if block.startswith(b"event: "):
        nl = block.find(b"\n")
        if nl > 0 and block.startswith(b"data: ", nl + 1) and block.find(b"\n", nl + 1) < 0:
            name = block[7:nl].decode("utf-8", "replace")
            return RawEvent(name, block[nl + 7 :], offset)
    event: str | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if field == b"event":
            event = value.decode("utf-8", "replace")
        elif field == b"data":
            data.append(value)
        # "id", "retry" and unknown fields are ignored, as the SSE rules say.
    if event is None and not data:
        return None
    return RawEvent(event, b"\n".join(data) if data else None, offset)
