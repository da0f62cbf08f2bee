"""Transcripts: a recorded WebSocket conversation, one frame at a time.

Two forms are read, both with the fields of Chrome's HAR export of a WebSocket
entry (``_webSocketMessages``): ``type`` (``send`` / ``receive``), ``time``
(seconds), ``opcode`` (1 text, 2 binary) and ``data`` (the frame's text):

* a HAR file (``{"log": {"entries": [{..., "_webSocketMessages": [...]}]}}``): every
  entry with messages is one connection, read in order;
* JSONL: one such frame object per line (blank lines are skipped).

:func:`load_transcript` raises :class:`TranscriptError` naming the file, line and
frame index; :func:`check_transcript` runs a :class:`ConnectionFlow` over the frames
and returns it (its ``violations`` say what broke, at which frame)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # loaded by check_frames: telling a transcript apart needs no flow
    from runflow.protocols.responses.websocket.flow import ConnectionFlow

__all__ = ["Frame", "TranscriptError", "check_frames", "check_transcript", "connection_line",
           "dump_har", "dump_jsonl", "ending", "is_transcript", "load_transcript",
           "parse_transcript", "transcript_report"]


class TranscriptError(ValueError):
    """A transcript that cannot be read; the message names file, line and frame."""


@dataclass(frozen=True)
class Frame:
    """One WebSocket message."""

    type: Literal["send", "receive"]
    data: str
    time: float | None = None
    opcode: int = 1

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "time": self.time, "opcode": self.opcode, "data": self.data}


def _frame(raw: Any, where: str) -> Frame:
    if type(raw) is not dict:
        raise TranscriptError(f"{where}: a frame is an object, not {type(raw).__name__}")
    kind, data, time, opcode = raw.get("type"), raw.get("data"), raw.get("time"), raw.get(
        "opcode", 1)
    if kind not in ("send", "receive"):
        raise TranscriptError(f"{where}: type must be 'send' or 'receive', not {kind!r}")
    if type(data) is not str:
        raise TranscriptError(f"{where}: data must be the frame's text")
    if time is not None and type(time) not in (int, float):
        raise TranscriptError(f"{where}: time must be a number of seconds")
    if type(opcode) is not int:
        raise TranscriptError(f"{where}: opcode must be an integer")
    return Frame(kind, data, float(time) if time is not None else None, opcode)


def is_transcript(text: str) -> bool:
    """Whether ``text`` is a transcript rather than an SSE recording: a HAR file
    with an entry holding ``_webSocketMessages``, or JSONL whose first line is a
    frame (``type`` send or receive, a string ``data``). A hint only: whether it
    reads is :func:`parse_transcript`'s to say."""
    head = text[:4096]
    start = len(head) - len(head.lstrip())
    if text.startswith("{", start) and '"log"' in text[start:start + 200]:
        try:
            har = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            return False
        entries = har.get("log") if type(har) is dict else None
        entries = entries.get("entries") if type(entries) is dict else None
        return type(entries) is list and any(
            type(e) is dict and "_webSocketMessages" in e for e in entries)
    first = ""
    for line in _lines(text):  # the first non-blank line, without splitting the rest
        if line.strip():
            first = line
            break
    try:
        frame = json.loads(first)
    except (ValueError, RecursionError):
        return False
    return (type(frame) is dict and frame.get("type") in ("send", "receive")
            and type(frame.get("data")) is str)


def _lines(text: str) -> Iterator[str]:
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        yield text[start:end]
        start = end + 1


def parse_transcript(text: str, name: str = "<transcript>") -> list[list[Frame]]:
    """The connections of a transcript (HAR: one per entry; JSONL: one)."""
    stripped = text.lstrip()
    if stripped.startswith("{") and '"log"' in stripped[:200]:
        try:
            har = json.loads(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise TranscriptError(f"{name}: not a HAR file: {exc}") from None
        entries = har.get("log", {}).get("entries") if type(har) is dict else None
        if type(entries) is not list:
            raise TranscriptError(f"{name}: a HAR file needs log.entries")
        out: list[list[Frame]] = []
        for n, entry in enumerate(entries):
            msgs = entry.get("_webSocketMessages") if type(entry) is dict else None
            if type(msgs) is list:
                out.append([_frame(m, f"{name}: entry {n} frame {i}")
                            for i, m in enumerate(msgs)])
        if not out:
            raise TranscriptError(f"{name}: no entry has _webSocketMessages")
        return out
    frames: list[Frame] = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{line_no}: frame {len(frames)}"
        try:
            raw = json.loads(line)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise TranscriptError(f"{where}: not JSON: {exc}") from None
        frames.append(_frame(raw, where))
    return [frames]


def load_transcript(path: str | Path) -> list[list[Frame]]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptError(f"{p}: cannot read: {exc}") from None
    return parse_transcript(text, str(p))


def check_frames(frames: Iterable[Frame]) -> ConnectionFlow:
    """Run one connection's frames through a :class:`ConnectionFlow` and close it."""
    from runflow.protocols.responses.websocket.flow import ConnectionFlow

    flow = ConnectionFlow()
    for frame in frames:
        if frame.type == "send":
            flow.send(frame.data)
        else:
            flow.receive(frame.data)
    flow.close()
    return flow


def check_transcript(path: str | Path) -> list[ConnectionFlow]:
    """Check every connection of a transcript file."""
    return [check_frames(frames) for frames in load_transcript(path)]


def dump_jsonl(frames: Sequence[Frame]) -> str:
    return "".join(json.dumps(f.as_json()) + "\n" for f in frames)


def dump_har(connections: Sequence[Sequence[Frame]], url: str = "ws://localhost/v1/responses",
             ) -> str:
    """A minimal HAR file: one entry per connection, its frames in
    ``_webSocketMessages`` (what Chrome exports, and :func:`parse_transcript` reads)."""
    entries = [{"request": {"method": "GET", "url": url}, "response": {"status": 101},
                "_resourceType": "websocket",
                "_webSocketMessages": [f.as_json() for f in frames]} for frames in connections]
    return json.dumps({"log": {"version": "1.2", "creator": {"name": "runflow"},
                               "entries": entries}}, indent=1)


def ending(flow: ConnectionFlow) -> str:
    """``truncated`` when a response was in flight or a successor owed at the end."""
    cut = any(v.code in ("truncated", "successor_missing") for v in flow.violations)
    return "truncated" if cut else "closed"


def connection_line(flow: ConnectionFlow) -> str:
    """``12 frames, 2 lane(s), 2 response(s), 0 steer(s), closed``."""
    return (f"{flow.index} frames, {len(flow.lanes)} lane(s), {len(flow.responses)} "
            f"response(s), {len(flow.steers)} steer(s), {ending(flow)}")


def transcript_report(path: str | Path) -> tuple[int, str]:
    """What ``runflow check --protocol responses-ws PATH`` prints, and its exit status:
    0 clean (warnings allowed), 1 an error-severity violation, 2 an unreadable file."""
    try:
        flows = check_transcript(path)
    except TranscriptError as exc:
        return 2, f"error: {exc}\n"
    lines, status = [], 0
    for n, flow in enumerate(flows):
        lines.append(f"connection {n}: {connection_line(flow)}")
        lines += [f"  {v}" for v in flow.violations]
        if any(v.severity == "error" for v in flow.violations):
            status = 1
    return status, "\n".join(lines) + "\n"
