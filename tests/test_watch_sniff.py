"""``runflow watch -`` tells a pipe's format and protocol part by part
(:class:`~runflow.adapters.recording.HeadSniffer`): at every part the answer is what
the whole head read so far says (the reference below is the former ``sniff_head``,
which read the head again from its start at each line break), and each byte is
looked at once -- a pipe of one-byte lines no longer parses its head again per line.
"""

from __future__ import annotations

import io
import json
import random
import sys
from collections.abc import Iterator
from itertools import islice
from typing import Any

import pytest

import runflow.engine.jsonparse as jsonparse
from runflow.adapters.recording import (
    HeadSniffer,
    RecordingError,
    detect_format,
    detect_protocol,
    sniff_head,
)
from runflow.cli.watch.stdin import Piped, open_stdin
from runflow.protocols.registry import decided, detect

RUN = {"id": "run_1", "object": "thread.run", "status": "queued", "thread_id": "t",
       "assistant_id": "a", "created_at": 100}


# -- the reference: the whole head, read again ------------------------------------------
def _reference(head: bytes) -> tuple[str, str] | None:
    if len(head) >= 1 << 16:
        return detect_format("-", head), detect_protocol(head)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    fmt = "jsonl" if start.startswith(b"{") else "sse" if start.startswith(
        (b"event:", b"data:", b"id:", b"retry:", b":")) else None
    if fmt is None:
        if len(head) >= 4096:
            detect_format("-", head)
        return None
    end = at = 0
    for line in head.splitlines(keepends=True):
        at += len(line)
        if line.endswith((b"\n", b"\r")) and (fmt == "jsonl" or not line.strip()):
            end = at
    whole = head[:end]
    events = list(islice(_events(whole), 64))
    if len(events) < 64 and decided(events) is None:
        return None
    return detect_format("-", whole), detect(events)


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _events(head: bytes) -> Iterator[tuple[str | None, Any]]:
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        for raw in head.splitlines():
            obj = _json_or_text(raw)
            if isinstance(obj, dict):
                named = obj.get("event")
                yield (named, obj.get("data")) if isinstance(named, str) else (None, obj)
        return
    name: str | None = None
    data: list[bytes] = []
    for line in [*head.splitlines(), b""]:
        if not line.strip():
            if name is not None or data:
                yield name, _json_or_text(b"\n".join(data))
            name, data = None, []
        elif line.startswith(b"event:"):
            name = line[6:].strip().decode("utf-8", "replace")
        elif line.startswith(b"data:"):
            data.append(line[6:] if line.startswith(b"data: ") else line[5:])


def _told(call: Any, head: bytes) -> Any:
    try:
        return call(head)
    except RecordingError as exc:
        return f"RecordingError: {exc}"


# -- inputs ---------------------------------------------------------------------------------
def _sse(events: list[tuple[str, Any]], eol: str = "\n") -> bytes:
    return "".join(f"event: {e}{eol}data: {json.dumps(d)}{eol}{eol}"
                   for e, d in events).encode()


def _inputs() -> dict[str, bytes]:
    run = [("thread.run.created", RUN), ("thread.run.queued", RUN)]
    unknown = [(f"x.{n}", {"n": n}) for n in range(70)]
    return {
        "sse": _sse(run),
        "sse crlf": _sse(run, "\r\n"),
        "sse cr": _sse(run, "\r"),
        "sse after unknown events": _sse(unknown[:5] + run),
        "sse only unknown events": _sse(unknown),
        "sse comments first": b":\n" * 300 + _sse(run),
        "data-only responses": b'\xef\xbb\xbf\n\ndata: {"type": "response.created", '
                               b'"sequence_number": 0, "response": {}}\r\n\r\n',
        "jsonl": b"\n".join(json.dumps({"event": e, "data": d}).encode() for e, d in run),
        "jsonl crlf after blanks": b"\r\n" * 50 + b'{"a": 1}\r\n[1]\r\nnot json\r\n'
                                   + json.dumps({"event": run[0][0], "data": RUN}).encode()
                                   + b"\r\n",
        "jsonl responses": b'{"type": "response.created", "sequence_number": 0}\n',
        "prose": b"hello there\n" * 500,
        "blank": b"\n" * 5000,
    }


@pytest.mark.parametrize("name", sorted(_inputs()))
def test_each_part_is_told_as_the_whole_head_tells_it(name: str) -> None:
    data = _inputs()[name]
    rng = random.Random(name)
    for _ in range(3):
        sniffer, at, head = HeadSniffer(), 0, b""
        while at < len(data):
            size = rng.choice([1, 1, 2, 3, 7, 64])
            part = data[at:at + size]
            at += len(part)
            head += part
            got = _told(sniffer.add, part)
            assert got == _told(_reference, head), (name, at)
            assert _told(sniff_head, head) == got
            if got is not None:
                break


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the JSON parses runflow makes (wherever it imported ``parse_json``)."""
    calls = [0]
    real = jsonparse.parse_json

    def counted(raw: Any) -> Any:
        calls[0] += 1
        return real(raw)

    for module in list(sys.modules.values()):
        if (getattr(module, "__name__", "") or "").startswith("runflow") and getattr(
                module, "parse_json", None) is real:
            monkeypatch.setattr(module, "parse_json", counted)
    return calls


class _OneByte(io.BytesIO):
    """A pipe that hands over one byte a read: a line at a time, for one-byte lines."""

    def read1(self, size: int | None = -1, /) -> bytes:
        return super().read1(1)


def test_a_pipe_of_one_byte_lines_is_read_in_linear_work(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lines = 1500
    created = json.dumps({"event": "thread.run.created", "data": RUN}).encode()
    data = b'{"a": 1}\n{"b": 2}\n' + b"\n" * lines + created + b"\n"
    calls = _counting(monkeypatch)
    piped = open_stdin(_OneByte(data))
    assert isinstance(piped, Piped)
    assert (piped.format, piped.protocol, piped.head) == ("jsonl", "assistants", data)
    assert calls[0] <= 3  # each non-blank line parsed once (it was once per line read)
