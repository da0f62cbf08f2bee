"""``runflow watch -`` on a slow live pipe: the first event is shown as soon as it is
whole (its protocol told), not after some kilobytes or the end of the input; and a
JSON line that never ends is not held past ``Limits.max_event_bytes``."""

from __future__ import annotations

import io
import json
import queue
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from helpers import watching_stdin

from runflow import RunFlow
from runflow.engine.limits import Limits
from runflow.engine.violations import Code

RUN = {"id": "run_1", "object": "thread.run", "status": "queued", "thread_id": "t",
       "assistant_id": "a", "created_at": 100, "expires_at": 700}
"""The run's fields check's payload rows (and so watch) ask for at each status."""
USAGE = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
EVENTS: list[tuple[str, Any]] = [
    ("thread.run.created", RUN),
    ("thread.run.queued", RUN),
    ("thread.run.in_progress", {**RUN, "status": "in_progress", "started_at": 100}),
    ("thread.run.completed", {**RUN, "status": "completed", "started_at": 100,
                              "completed_at": 104, "expires_at": None, "usage": USAGE}),
    ("done", "[DONE]"),
]
"""A short run: far less than a pipe's or a sniffing window's kilobytes."""


def _stream(fmt: str) -> bytes:
    if fmt == "jsonl":
        return b"".join(json.dumps({"event": e, "data": d}).encode() + b"\n" for e, d in EVENTS)
    return b"".join(f"event: {e}\ndata: {d if isinstance(d, str) else json.dumps(d)}\n\n"
                    .encode() for e, d in EVENTS)


def _next(lines: queue.Queue[str]) -> str:
    """The next line (the wait is a guard against a hang, not a timing check)."""
    try:
        return lines.get(timeout=90)
    except queue.Empty:
        raise AssertionError("runflow watch - wrote nothing while stdin stayed open") from None


@pytest.mark.parametrize("fmt", ["sse", "jsonl"])
def test_the_first_event_of_a_slow_pipe_is_shown_before_the_input_ends(
        fmt: str, tmp_path: Path) -> None:
    data = _stream(fmt)
    path = tmp_path / f"run.{fmt}"
    path.write_bytes(data)
    whole = subprocess.run([sys.executable, "-m", "runflow", "watch", str(path), "--speed", "0"],
                           capture_output=True, text=True, timeout=120, check=False)
    expected = whole.stdout.splitlines(keepends=True)
    assert expected[0].startswith("#0 run run_1: unseen -> queued")
    first = data.index(b"\n\n" if fmt == "sse" else b"\n") + (2 if fmt == "sse" else 1)
    with watching_stdin() as (process, lines):
        assert process.stdin is not None
        for at in range(0, first, 5):  # the first event, a few bytes at a time
            process.stdin.write(data[at:min(at + 5, first)])
            process.stdin.flush()
        seen = [_next(lines)]
        assert seen == expected[:1]
        assert process.poll() is None  # still reading: the rest has not come
        for at in range(first, len(data), 5):
            process.stdin.write(data[at:at + 5])
            process.stdin.flush()
        process.stdin.close()
        while line := _next(lines):
            seen.append(line)
        assert process.wait(timeout=120) == whole.returncode == 0
    assert seen == expected


class _Pipe(io.BytesIO):
    """A pipe that hands over at most 1,000 bytes a read."""

    def read1(self, size: int | None = -1, /) -> bytes:
        return super().read1(1000 if size is None or size < 0 else min(size, 1000))


def test_a_json_line_past_max_event_bytes_is_not_held_and_says_where_it_began() -> None:
    from runflow.cli.watch.stdin import Piped, open_stdin, play_piped

    lines = _stream("jsonl").splitlines(keepends=True)
    huge = b'{"event": "thread.message.delta", "data": {"v": "' + b"x" * (1 << 20) + b'"}}\n'
    data = b"".join([lines[0], huge, *lines[1:]])

    def played() -> RunFlow:
        flow = RunFlow(limits=Limits(max_event_bytes=4096))
        piped = open_stdin(_Pipe(data))
        assert isinstance(piped, Piped)
        play_piped(piped, flow, 0, lambda _: None, lambda: 0.0)
        return flow

    played()  # once before measuring: what the first run imports is not the line
    tracemalloc.start()
    try:
        flow = played()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024  # the 1 MiB line was never held (4 KiB of it at most)
    malformed = [v for v in flow.violations if v.code is Code.MALFORMED_EVENT]
    assert [(v.index, v.message) for v in malformed] == [
        (1, f"line 2, from byte offset {len(lines[0]):,}: longer than max_event_bytes "
            "(4,096 bytes); not read")]
    assert (flow.run_status, flow.ending, flow.event_count) == ("completed", "done", 6)


def test_the_command_line_names_the_line_that_never_ends(tmp_path: Path) -> None:
    """The default cap (16 MiB) on a 17 MiB line with no line break: the user sees
    where it began, and the stream still plays to its end."""
    cap = Limits().max_event_bytes
    lines = _stream("jsonl").splitlines(keepends=True)
    path = tmp_path / "piped.jsonl"
    with path.open("wb") as file:
        file.write(lines[0] + b'{"event": "thread.run.queued", "data": "')
        for _ in range(cap // (1 << 20) + 1):
            file.write(b"y" * (1 << 20))
        file.write(b'"}\n' + b"".join(lines[1:]))
    with path.open("rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "runflow", "watch", "-", "--speed", "0"],
                              stdin=stdin, capture_output=True, text=True, timeout=300,
                              check=False)
    assert done.stderr == ""
    assert (f"! #1 error malformed_event: line 2, from byte offset {len(lines[0]):,}: longer "
            f"than max_event_bytes ({cap:,} bytes); not read\n") in done.stdout
    assert "run run_1: in_progress -> completed" in done.stdout
    assert done.returncode == 1  # the malformed event is an error
