"""Server-Sent Events framing for Assistants run streams.

A :class:`Frame` is one SSE message exactly as it goes on the wire (``raw``)
together with its parsed ``event`` name and ``data`` text, so fault injection can
reorder, drop or damage whole events and recordings can be replayed byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runflow.engine.jsonparse import JSONError, parse_json

__all__ = [
    "DONE",
    "Frame",
    "done_frame",
    "encode_event",
    "error_frame",
    "load_recording",
    "split_sse",
    "split_streams",
]

DONE = "[DONE]"


@dataclass(frozen=True)
class Frame:
    """One SSE message: its event name, its data text (None without a data line), its bytes."""

    event: str
    data: str | None
    raw: bytes

    @property
    def is_done(self) -> bool:
        return self.event == "done" or self.data == DONE

    def json(self) -> Any:
        """The decoded data, or None when there is none or it is not JSON."""
        if self.data is None or self.data == DONE:
            return None
        try:
            return parse_json(self.data)
        except JSONError:
            return None


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def make_frame(event: str, data: str | None) -> Frame:
    """Build a frame from an event name and already-serialised data text."""
    lines = [f"event: {event}"]
    if data is not None:
        lines.extend(f"data: {line}" for line in data.split("\n"))
    raw = ("\n".join(lines) + "\n\n").encode("utf-8")
    return Frame(event=event, data=data, raw=raw)


def encode_event(event: str, data: Any) -> Frame:
    """Encode an event whose data is a JSON value (``"[DONE]"`` stays bare, None omits data)."""
    if data is None or data == DONE:
        return make_frame(event, data)
    return make_frame(event, _dump(data))


def done_frame() -> Frame:
    return make_frame("done", DONE)


def error_frame(message: str, type_: str = "server_error") -> Frame:
    """The ``error`` event as real servers send it: wrapped in ``{"error": {...}}``."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": None}}
    return encode_event("error", body)


def _parse_block(raw: bytes) -> Frame:
    event = "message"
    data: list[str] = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    return Frame(event=event, data="\n".join(data) if data else None, raw=raw)


def split_sse(raw: bytes) -> list[Frame]:
    """Split a raw SSE body into frames whose ``raw`` bytes concatenate back to ``raw``.

    A frame ends at a blank line; an ``event:`` line that follows another one
    without a blank line in between also starts a new frame (one real capture has
    no blank lines at all). Stray blank lines stick to the neighbouring frame.
    """
    blocks: list[bytes] = []
    current = b""
    has_field = has_event = False
    for line in raw.splitlines(keepends=True):
        text = line.rstrip(b"\r\n")
        if not text:
            current += line
            if has_field:
                blocks.append(current)
                current, has_field, has_event = b"", False, False
            continue
        if text.startswith(b"event:") and has_event:
            blocks.append(current)
            current, has_field, has_event = b"", False, False
        current += line
        has_field = True
        has_event = has_event or text.startswith(b"event:")
    if current:
        if has_field or not blocks:
            blocks.append(current)
        else:
            blocks[-1] += current
    return [_parse_block(block) for block in blocks]


def split_streams(frames: Iterable[Frame]) -> list[list[Frame]]:
    """Cut a sequence of frames into HTTP responses, each ending after a ``done``."""
    streams: list[list[Frame]] = []
    current: list[Frame] = []
    for frame in frames:
        current.append(frame)
        if frame.is_done:
            streams.append(current)
            current = []
    if current:
        streams.append(current)
    return streams


def _jsonl_frames(text: str) -> list[Frame]:
    frames = []
    for line in text.splitlines():
        if line.strip():
            record = parse_json(line)
            frames.append(encode_event(str(record["event"]), record.get("data")))
    return frames


def load_recording(path: str | Path) -> list[list[Frame]]:
    """Read a ``.jsonl`` (``{"event", "data"}`` per line) or raw ``.sse`` recording.

    Returns one list of frames per HTTP response (split after each ``done``).
    ``.sse`` frames keep their original bytes.
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        frames = _jsonl_frames(path.read_text(encoding="utf-8"))
    else:
        frames = split_sse(path.read_bytes())
    return split_streams(frames)
