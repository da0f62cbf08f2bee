"""SSE bytes for the fuzzer (:mod:`runflow.testing.fuzz`): the canonical encoding of
an event list, and an independent reference parse."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from runflow.testing.projection import BAD, Event


# --------------------------------------------------------------------------- #
# SSE bytes: canonical encoding and an independent reference parse
# --------------------------------------------------------------------------- #
def encode_sse(events: Sequence[Event]) -> tuple[bytes, list[int]]:
    """Canonical SSE bytes of ``events`` and the byte offset where each begins.

    ``data: null`` events (a ``done`` without data line) get no data line.
    """
    out: list[bytes] = []
    starts: list[int] = []
    pos = 0
    for event in events:
        data = event.get("data")
        block = f"event: {event.get('event')}\n".encode()
        if data == "[DONE]":
            block += b"data: [DONE]\n"
        elif data is not None:
            block += b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n"
        block += b"\n"
        starts.append(pos)
        pos += len(block)
        out.append(block)
    return b"".join(out), starts


def parse_sse(data: bytes) -> list[Event]:
    """Reference SSE parse (WHATWG rules; a last block without blank line counts).

    Event data is decoded here: ``"[DONE]"``, None (no data line), the JSON value,
    or :data:`BAD`.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    events: list[Event] = []
    for block in text.split(b"\n\n"):
        name: str | None = None
        lines: list[bytes] = []
        for line in block.split(b"\n"):
            if not line or line.startswith(b":"):
                continue
            key, sep, value = line.partition(b":")
            if sep and value.startswith(b" "):
                value = value[1:]
            if key == b"event":
                name = value.decode("utf-8", "replace")
            elif key == b"data":
                lines.append(value)
        if name is None and not lines:
            continue
        raw = b"\n".join(lines) if lines else None
        value_: Any
        if raw is None:
            value_ = None
        elif raw == b"[DONE]":
            value_ = "[DONE]"
        else:
            try:
                value_ = json.loads(raw)
            except ValueError:
                value_ = BAD
        events.append({"event": name, "data": value_})
    return events


