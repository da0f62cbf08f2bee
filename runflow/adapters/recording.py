"""Read recorded streams (``.jsonl`` or raw ``.sse``) and feed them into a flow.

Two formats are read:

* **jsonl** -- one ``{"event": name, "data": object | "[DONE]" | null}`` per line,
  as in ``shared/recordings``;
* **sse** -- the raw ``text/event-stream`` body, fed through
  :meth:`runflow.RunFlow.feed_sse` exactly as it came off the wire.

The format comes from the file extension, else it is sniffed from the first bytes.
``-`` reads standard input. A file may hold several streams one after another
(``requires_action`` ... ``done`` then the ``submit_tool_outputs`` stream): the flow
just keeps being fed, which is how :class:`~runflow.RunFlow` follows one run over
its streams.

Input that cannot be read at all (missing path, directory, empty, binary, neither
format) raises :class:`RecordingError` with a one-line reason. A *line* of a jsonl
file that is broken (not JSON, not an object, no ``event`` name) is not an input
error but a protocol one: it becomes a ``malformed_event`` violation whose message
names the line, and the flow goes on.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from runflow.adapters.recording_feed import Feeder, Listener
from runflow.adapters.sniff import BLANK, EventScanner, sniffed
from runflow.engine.flow import Flow
from runflow.engine.jsonparse import JSONError, parse_json
from runflow.engine.profiles import Profile
from runflow.engine.view import Ending
from runflow.protocols.registry import REGISTRY, decided, detect, registered

__all__ = [
    "DEMO_STREAM",
    "SNIFF_BYTES",
    "Format",
    "HeadSniffer",
    "Recording",
    "RecordingError",
    "Replay",
    "Source",
    "detect_protocol",
    "new_flow",
    "open_recording",
    "read_recording",
    "replay_file",
    "sniff_head",
]

Format = Literal["jsonl", "sse"]

DEMO_STREAM = Path(__file__).resolve().parents[1] / "data" / "demo_stream.jsonl"
"""A short stream shipped with runflow: a function call (requires_action, done) and
its continuation ending in a text answer. Regenerate it with
``python -m runflow.data.make_demo_stream``."""

_EXTENSIONS: Mapping[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".sse": "sse",
    ".txt": "sse",
    ".event-stream": "sse",
}
_SSE_STARTS = (b"event:", b"data:", b"id:", b"retry:", b":")
_SNIFF = 4096
_LINE_OF: Mapping[Format, re.Pattern[bytes]] = {
    "sse": re.compile(rb"(?m)^(?:\xef\xbb\xbf)?(?:event|data|id|retry)?:"),
    "jsonl": re.compile(rb"(?m)^(?:\xef\xbb\xbf)?[ \t]*\{"),
}
"""A line that makes text a recording of that format: with none, it is not one."""


class RecordingError(Exception):
    """The input cannot be read as a recording; ``str()`` is a one-line reason."""


@dataclass(frozen=True)
class Recording:
    """The bytes of one recording and the format they are in."""

    name: str
    """The path as given, or ``"-"`` for standard input."""
    format: Format
    data: bytes

    @property
    def protocol(self) -> str:
        """The protocol the stream speaks, sniffed from its event names
        (:func:`detect_protocol`)."""
        return detect_protocol(self.data)

    def replay(self, flow: Flow | None = None, *, close: bool = True,
               protocol: str | None = None, profile: Profile | None = None) -> Replay:
        """Feed every event into ``flow`` (by default a new flow of ``protocol``, or
        of the protocol sniffed from the stream: a :class:`RunFlow` or a
        :class:`~runflow.ResponseFlow`).

        With ``close=True`` the flow is closed at the end, so a recording that
        stops without ``done`` or ``error`` is reported ``truncated``.
        """
        if flow is None:
            flow = new_flow(protocol or self.protocol, profile=profile)
        feeder = Feeder(flow, self.format, every_line=True)
        feeder.feed(self.data)
        feeder.finish(close=close)
        ending = flow.close() if close else flow.ending
        return Replay(recording=self, flow=flow, ending=ending, lines=feeder.lines)


@dataclass
class Replay:
    """A recording fed into a flow, with where each event came from."""

    recording: Recording | Source
    """What was read: a :class:`Recording` held in memory, or a :class:`Source` read
    in chunks (whose :attr:`lines` hold only the events with a violation or a
    finding)."""
    flow: Any
    """The flow fed: a :class:`RunFlow` or a :class:`~runflow.ResponseFlow`."""
    ending: Ending | None
    """How the input ended; None when the flow was left open (``close=False``)."""
    lines: dict[int, int] = field(default_factory=dict)
    """Event index -> 1-based line number where the event starts in the file."""

    def line(self, index: int) -> int | None:
        """The line of event ``index``, or None (e.g. ``truncated`` after the end)."""
        return self.lines.get(index)


CHUNK = 64 * 1024
"""Bytes read at a time from a recording read in chunks (:class:`Source`)."""
HEAD = 1024 * 1024
"""The start of a recording read before anything is fed: what its format and protocol
are told from, and, when the whole input fits, whether it is one JSON body."""


@dataclass
class Source:
    """A recording read in chunks, never whole: its :attr:`head` (read by
    :func:`open_recording` to tell the format and protocol) and the rest of its
    file. It can be replayed once."""

    name: str
    format: Format
    head: bytes
    stream: BinaryIO | None
    """The rest of the input; None when :attr:`head` holds all of it."""
    owned: bool = False
    """Whether :meth:`close` closes :attr:`stream` (a file opened here, not stdin)."""

    @property
    def protocol(self) -> str:
        """The protocol the stream speaks, sniffed from its start (:func:`detect_protocol`)."""
        return detect_protocol(self.head)

    def chunks(self) -> Iterator[bytes]:
        """The bytes of the recording, :data:`CHUNK` at a time (the head first)."""
        yield self.head
        stream = self.stream
        while stream is not None:
            try:
                chunk = stream.read(CHUNK)
            except (OSError, ValueError) as exc:
                raise RecordingError(f"{self.name}: cannot read ({_reason(exc)})") from None
            if not chunk:
                break
            yield chunk

    def replay(self, flow: Flow | None = None, *, close: bool = True,
               protocol: str | None = None, profile: Profile | None = None,
               listener: Callable[[Flow, Feeder], Listener] | None = None) -> Replay:
        """Feed every chunk into ``flow`` as :meth:`Recording.replay` does; the lines
        kept are those of the events with a violation (and those ``listener``, made
        for the flow and the feeder, asks for: :meth:`Feeder.keep_line`)."""
        if flow is None:
            flow = new_flow(protocol or self.protocol, profile=profile)
        feeder = Feeder(flow, self.format)
        if listener is not None:
            feeder.listener = listener(flow, feeder)
        try:
            for chunk in self.chunks():
                feeder.feed(chunk)
        finally:
            self.close()
        feeder.finish(close=close)
        ending = flow.close() if close else flow.ending
        return Replay(recording=self, flow=flow, ending=ending, lines=feeder.lines)

    def close(self) -> None:
        if self.owned and self.stream is not None:
            self.stream.close()
        self.stream = None


def open_recording(source: str | os.PathLike[str], *, stdin: BinaryIO | None = None) -> Source:
    """Open a recording to be read in chunks (:class:`Source`); ``"-"`` is ``stdin``
    (default: ``sys.stdin.buffer``). Raises :class:`RecordingError` as
    :func:`read_recording` does, from the head of the input.

    One difference with :func:`read_recording`: an input larger than :data:`HEAD`
    is not tried as one JSON body (it is read as JSON lines, whose broken lines are
    ``malformed_event`` violations)."""
    name = os.fspath(source)
    owned = name != "-"
    if name == "-":
        stream = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise RecordingError("-: standard input is closed")
    else:
        with _read_errors(name):
            stream = open(name, "rb")
    try:
        head = _read_head(name, stream)
        whole = len(head) < HEAD
        if whole:
            _refuse_json_body(name, head)
        fmt = detect_format(name, head, rest=None if whole or name == "-" else name)
    except BaseException:
        if owned:
            stream.close()
        raise
    if whole and owned:
        stream.close()
    return Source(name=name, format=fmt, head=head, stream=None if whole else stream,
                  owned=owned)


def _read_head(name: str, stream: BinaryIO) -> bytes:
    """Up to :data:`HEAD` bytes (less only at the end of the input)."""
    parts: list[bytes] = []
    size = 0
    while size < HEAD:
        try:
            part = stream.read(HEAD - size)
        except (OSError, ValueError) as exc:  # ValueError: a closed file object
            what = "standard input" if name == "-" else name
            prefix = "-: cannot read standard input" if name == "-" else f"{what}: cannot read"
            raise RecordingError(f"{prefix} ({_reason(exc)})") from None
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def read_recording(source: str | os.PathLike[str], *, stdin: BinaryIO | None = None) -> Recording:
    """Read a recording; ``"-"`` reads ``stdin`` (default: ``sys.stdin.buffer``).

    Raises :class:`RecordingError` when there is nothing that could be a stream.
    """
    name = os.fspath(source)
    if name == "-":
        data = _read_stdin(stdin)
    else:
        with _read_errors(name):
            data = Path(name).read_bytes()
    _refuse_json_body(name, data)
    return Recording(name=name, format=detect_format(name, data), data=data)


def _read_stdin(stdin: BinaryIO | None) -> bytes:
    """All of standard input; closed (``<&-``: ``sys.stdin`` is None) or unreadable
    (e.g. a directory) is a :class:`RecordingError`."""
    stream = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise RecordingError("-: standard input is closed")
    try:
        return stream.read()
    except (OSError, ValueError) as exc:  # ValueError: a closed file object
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RecordingError(f"-: cannot read standard input ({reason})") from None


def _refuse_json_body(name: str, data: bytes) -> None:
    """A whole input that is one JSON object (not an event) or array is a response
    body, not a stream: say so, instead of reading it as broken events."""
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start not in (b"{", b"["):
        return
    try:
        value = parse_json(data)
    except JSONError:
        return  # several lines of JSON (or broken JSON): read it as JSON lines
    if isinstance(value, list):
        raise RecordingError(f"{name}: the input is a single JSON array, not an event stream")
    if isinstance(value, dict) and "event" not in value and not _is_event(value):
        kind = value.get("object")
        what = f" (a {kind!r} object)" if isinstance(kind, str) and len(kind) < 60 else ""
        raise RecordingError(
            f"{name}: the input is a single JSON object{what}, not an event stream: "
            "did the server ignore stream=true?"
        )


def _is_event(value: dict[str, Any]) -> bool:
    """A lone object that is an event of a protocol whose events name themselves in
    their data (a Responses event saved alone: its type and sequence number)."""
    for row in REGISTRY.values():
        field, seq = row.definition.type_field, row.definition.sequence_field
        if field is not None and isinstance(value.get(field), str) and (
                seq is None or seq in value):
            return True
    return False


def replay_file(
    source: str | os.PathLike[str], flow: Flow | None = None, *, close: bool = True,
    protocol: str | None = None, profile: Profile | None = None,
) -> Replay:
    """:func:`read_recording` then :meth:`Recording.replay`."""
    return read_recording(source).replay(flow, close=close, protocol=protocol, profile=profile)


SNIFF_BYTES = 1 << 16
"""How many bytes of a stream's start :func:`detect_protocol` reads at most (what
``runflow watch -`` reads of standard input before the protocol is told, as its
help says)."""


def detect_protocol(data: bytes) -> str:
    """The registered protocol ``data`` speaks (:func:`runflow.protocols.detect`):
    the first of its events one protocol claims, by the event's name (an SSE
    ``event:`` line, a jsonl ``event``) or by its data's type field (``{"type":
    "response.created", ...}``, which a data-only frame carries alone). A stream
    nothing decides (empty, unknown names) is the default protocol's. At most the
    first :data:`~runflow.adapters.sniff.SNIFF_EVENTS` events of its first 64 KiB
    are read."""
    return detect(sniffed(data[:SNIFF_BYTES]))


def sniff_head(head: bytes) -> tuple[Format, str] | None:
    """The format and protocol of an input of which only ``head`` is read so far
    (standard input, a live pipe: no extension), once ``head`` tells them as the
    whole input would: its start is a line of one format (:func:`detect_format`), and
    its whole events (up to the last line break, for JSON lines; the last blank
    line, for SSE) hold one a protocol claims, or as many as :func:`detect_protocol`
    reads. None while more is needed; past what detection reads, the answer is
    theirs. Raises :class:`RecordingError` once ``head`` shows it is no recording
    (as :func:`detect_format` does, from as much of it as that reads). An input read
    part by part is told by a :class:`HeadSniffer`, which looks at each part once."""
    return HeadSniffer().add(head)


class HeadSniffer:
    """:func:`sniff_head` of an input given part by part (:meth:`add`): what each
    answer needs is kept from the parts before (the format, the whole events, the
    verdict on them), so each byte is looked at once."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._lead = b""  # the first bytes from the first non-blank one: the format
        self._scanner: EventScanner | None = None
        self._undecided = 0  # the events :func:`decided` found no protocol in

    @property
    def head(self) -> bytes:
        """All the parts added so far."""
        return b"".join(self._parts)

    def add(self, part: bytes) -> tuple[Format, str] | None:
        """:func:`sniff_head` of the head with ``part`` added."""
        self._parts.append(part)
        self._size += len(part)
        if self._size >= SNIFF_BYTES:
            head = self.head
            return detect_format("-", head), detect_protocol(head)
        scanner = self._scanner
        if scanner is None:
            if len(self._lead) < 8:
                self._lead = self._lead + part[:8] if self._lead else part.lstrip(BLANK)[:8]
            fmt = _format_of(self._lead)
            if fmt is None:
                if self._size >= _SNIFF:
                    detect_format("-", self.head)  # raises: says why it is neither
                return None
            self._scanner = scanner = EventScanner(fmt)
            scanner.feed(self.head)
        else:
            scanner.feed(part)
        events = scanner.events
        if len(events) == self._undecided:
            return None  # no new whole event: still undecided
        if not scanner.full and decided(events[self._undecided:]) is None:
            self._undecided = len(events)
            return None
        return detect_format("-", self.head[:scanner.whole]), detect(events)


def new_flow(protocol: str, *, profile: Profile | None = None) -> Flow:
    """A fresh flow for the registered protocol named ``protocol``."""
    return registered(protocol).new_flow(profile=profile)


def detect_format(name: str, data: bytes, *, rest: str | None = None) -> Format:
    """The format of ``data``: from the extension of ``name``, else sniffed.

    Content that is empty or binary is refused whatever the extension says. ``data``
    may be the head of the file ``rest``, which is then read on, in chunks, when the
    head holds no line of the format its extension names.
    """
    head = data[:_SNIFF]
    if not head.strip():
        raise RecordingError(f"{name}: empty, no events")
    if b"\x00" in head or not _is_text(head):
        raise RecordingError(f"{name}: binary data, neither JSON lines nor SSE")
    suffix = Path(name).suffix.lower() if name != "-" else ""
    if suffix in _EXTENSIONS:
        fmt = _EXTENSIONS[suffix]
        if _LINE_OF[fmt].search(data) is None and not (
                rest is not None and _has_line_of(fmt, rest)):  # e.g. prose in notes.txt
            raise RecordingError(f"{name}: not a recording (text with no line that is an SSE "
                                 "field or a JSON object)")
        return fmt
    sniffed = _format_of(head)
    if sniffed is not None:
        return sniffed
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    raise RecordingError(
        f"{name}: neither JSON lines nor SSE (starts with {start[:20]!r})"
    )


def _format_of(head: bytes) -> Format | None:
    """The format the first non-blank bytes of ``head`` begin a line of, or None."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"{"):
        return "jsonl"
    if start.startswith(_SSE_STARTS):
        return "sse"
    return None


def _has_line_of(fmt: Format, path: str) -> bool:
    """Whether the file at ``path`` has a line of format ``fmt`` anywhere, read in
    chunks (each searched with the end of the line before it)."""
    tail = b""
    try:
        with open(path, "rb") as file:
            while chunk := file.read(CHUNK):
                text = tail + chunk
                if _LINE_OF[fmt].search(text) is not None:
                    return True
                cut = max(text.rfind(b"\n"), text.rfind(b"\r"))
                tail = text[cut:][-4096:] if cut >= 0 else b""
    except OSError:
        return False
    return False


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniffing window is still text.
        return exc.start >= len(head) - 3 and len(head) == _SNIFF
    return True


@contextmanager
def _read_errors(name: str) -> Iterator[None]:
    """Opening or reading the file ``name`` failed: one sentence naming it."""
    try:
        yield
    except FileNotFoundError:
        raise RecordingError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{name}: is a directory, not a recording") from None
    except OSError as exc:
        raise RecordingError(f"{name}: cannot read ({exc.strerror or exc})") from None
