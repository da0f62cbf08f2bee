"""``runflow watch -``: standard input is played as it is read. A recording piped in
shows what the file shows; a live pipe shows each change before the input ends;
pacing waits only for a timestamp ahead of the time already spent; the live panel
draws a bounded tail of a long text."""

from __future__ import annotations

import io
import json
import queue
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest
from conftest import recordings_dir
from helpers import watching_stdin

from runflow.adapters.recording import DEMO_STREAM, Recording
from runflow.cli.watch.live import LINES_TAIL, TEXT_TAIL, tail_lines, tail_text
from runflow.cli.watch.pace import MAX_PAUSE
from runflow.cli.watch.stdin import Piped, open_stdin, play_piped

DELTAS = 3000


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


RUN = {"id": "run_1", "object": "thread.run", "status": "queued", "thread_id": "t",
       "assistant_id": "a", "created_at": 100, "expires_at": 700}
"""The run's fields check's payload rows (and so watch) ask for at each status."""
USAGE = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
MESSAGE = {"id": "msg_1", "object": "thread.message", "status": "in_progress",
           "thread_id": "t", "role": "assistant", "content": [], "created_at": 101,
           "run_id": "run_1", "assistant_id": "a", "attachments": [], "metadata": {}}


def _delta(n: int) -> bytes:
    return _sse("thread.message.delta", {"id": "msg_1", "object": "thread.message.delta",
                                         "delta": {"content": [{"index": 0, "type": "text",
                                                   "text": {"value": f"w{n} "}}]}})


HEAD = (_sse("thread.run.created", RUN) + _sse("thread.run.queued", RUN)
        + _sse("thread.run.in_progress", {**RUN, "status": "in_progress", "started_at": 100})
        + _sse("thread.message.created", MESSAGE))
TEXT = "".join(f"w{n} " for n in range(DELTAS))
TAIL = (_sse("thread.message.completed", {
            **MESSAGE, "status": "completed", "completed_at": 104,
            "content": [{"type": "text", "text": {"value": TEXT, "annotations": []}}]})
        + _sse("thread.run.completed", {**RUN, "status": "completed", "started_at": 100,
                                             "completed_at": 104, "expires_at": None,
                                             "usage": USAGE})
        + b"event: done\ndata: [DONE]\n\n")
LONG = HEAD + b"".join(_delta(n) for n in range(DELTAS)) + TAIL
"""An Assistants stream of 3,000 deltas, far past what is read before playing."""


def _watch(*args: str, stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runflow", "watch", *args], stdin=stdin,
                          capture_output=True, text=True, timeout=300, check=False)


def _recordings() -> list[Path]:
    folder = recordings_dir()
    return [folder / "simpleopenai_create_and_run_function_requires_action_v1_2024.sse",
            *sorted((folder / "responses").glob("*.sse"))[:2],
            *sorted((folder / "responses").glob("*.jsonl"))[:1]]


@pytest.mark.parametrize("source", ["demo", "long", "recordings"])
def test_a_recording_piped_in_shows_what_the_file_shows(source: str, tmp_path: Path) -> None:
    if source == "demo":
        paths = [DEMO_STREAM]
    elif source == "long":
        paths = [tmp_path / "long.sse"]
        paths[0].write_bytes(LONG)
    else:
        paths = _recordings()
    for path in paths:
        named = _watch(str(path), "--speed", "0")
        with path.open("rb") as file:
            piped = _watch("-", "--speed", "0", stdin=file)
        assert (piped.returncode, piped.stdout, piped.stderr) == (
            named.returncode, named.stdout, named.stderr), path
        assert named.stdout.count("\n") > 3


def test_standard_input_is_played_as_read_once_its_protocol_is_told() -> None:
    piped = open_stdin(io.BytesIO(LONG))
    assert isinstance(piped, Piped)
    assert (piped.format, piped.protocol) == ("sse", "assistants")
    assert 4096 <= len(piped.head) < len(LONG)  # read on only as it is played
    cut = _sse("thread.run.created", RUN)[:-1]  # no event whole: nothing told
    small = open_stdin(io.BytesIO(cut))  # it ended first: held as a file is
    assert isinstance(small, Recording) and small.data == cut
    assert small.protocol == "assistants"


def _next(lines: queue.Queue[str], seconds: float = 120) -> str:
    """The next line (the wait is a guard against a hang, not a timing check)."""
    try:
        return lines.get(timeout=seconds)
    except queue.Empty:
        raise AssertionError("runflow watch - wrote nothing") from None


def test_a_live_pipe_is_shown_as_it_arrives(tmp_path: Path) -> None:
    path = tmp_path / "long.sse"
    path.write_bytes(LONG)
    whole = _watch(str(path), "--speed", "0").stdout.splitlines(keepends=True)
    with watching_stdin() as (process, lines):
        assert process.stdin is not None
        first = HEAD + b"".join(_delta(n) for n in range(40))  # past the 4 KiB it sniffs
        process.stdin.write(first)
        process.stdin.flush()
        seen = [_next(lines) for _ in range(3)]  # the run's and the message's changes
        assert seen == whole[:3]
        assert process.poll() is None  # still reading: the rest has not come
        process.stdin.write(LONG[len(first):])
        process.stdin.close()
        while line := _next(lines):
            seen.append(line)
        assert process.wait(timeout=120) == 0
    assert seen == whole


def test_pacing_waits_only_for_what_the_pipe_did_not_take_already() -> None:
    """The timestamps: 100 (the run), 101 (the message), 104 (its completion); the
    deltas have none. A clock that the reads and the waits move."""
    from runflow import RunFlow

    def played(speed: float, read_seconds: float) -> tuple[list[float], float]:
        now = [0.0]
        waits: list[float] = []

        class Pipe(io.BytesIO):
            def read1(self, size: int | None = -1, /) -> bytes:
                now[0] += read_seconds
                return super().read1(600 if size is None or size < 0 else min(size, 600))

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            now[0] += seconds

        flow = RunFlow()
        piped = open_stdin(Pipe(LONG), lambda: now[0])
        assert isinstance(piped, Piped)
        play_piped(piped, flow, speed, sleep, lambda: now[0])
        assert (flow.run_status, flow.ending) == ("completed", "done")
        return waits, now[0]

    # a pipe that keeps up waits the gaps
    assert played(1.0, 0.0) == ([1.0, 3.0], 4.0)
    assert played(4.0, 0.0) == ([0.25, 0.75], 1.0)
    # a slow pipe (a live stream): the second before the message went by reading the
    # head it came in (several reads), the 3 s before the completion reading the
    # deltas (3,000 of them, a few a read): nothing waits more
    waits, spent = played(1.0, 0.5)
    assert waits == [] and spent > 4 * 60  # (the reads took minutes)
    # a long gap is shortened, and what follows is paced from there
    assert played(0.1, 0.0) == ([MAX_PAUSE, MAX_PAUSE], 2 * MAX_PAUSE)
    assert played(0, 0.0) == ([], 0.0)


def _piped(stream: io.BytesIO) -> Piped:
    piped = open_stdin(stream)
    assert isinstance(piped, Piped)
    return piped


def test_the_live_panel_draws_a_bounded_tail() -> None:
    assert tail_text("short") == "short"
    drawn = tail_text(TEXT)
    assert drawn.endswith(TEXT[-TEXT_TAIL:])
    assert drawn.startswith(f"… ({len(TEXT) - TEXT_TAIL:,} characters above)\n")
    assert len(drawn) < TEXT_TAIL + 60
    lines = [f"line {n}" for n in range(500)]
    assert tail_lines(lines[:LINES_TAIL]) == "\n".join(lines[:LINES_TAIL])
    assert tail_lines(lines).splitlines() == [f"… ({500 - LINES_TAIL} more above)",
                                              *lines[-LINES_TAIL:]]


def test_the_help_says_what_is_kept() -> None:
    from runflow.adapters.recording import SNIFF_BYTES
    from runflow.cli.watch import EPILOG

    text = " ".join(EPILOG.split())
    assert f"at most {SNIFF_BYTES // 1024} KiB" in text
    assert (f"the last {TEXT_TAIL} characters of the text and the last {LINES_TAIL} tool "
            "calls, violations and notes") in text


def test_an_event_that_does_not_end_is_handed_on_in_pieces() -> None:
    """A 3 MiB event read in chunks: no block held is much past LONG_BLOCK, and the
    flow ends as it does fed the whole recording at once."""
    from runflow import RunFlow
    from runflow.adapters.recording import CHUNK
    from runflow.cli.watch.pace import LONG_BLOCK, play, stream_blocks

    big = "y" * (3 << 20)
    data = HEAD + _sse("thread.message.completed", {
        **MESSAGE, "status": "completed", "completed_at": 104,
        "content": [{"type": "text", "text": {"value": big, "annotations": []}}]}) + TAIL[
        TAIL.index(b"event: thread.run.completed"):]
    chunked = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    pieces = list(stream_blocks("sse", chunked))
    assert max(len(item) for item, _ in pieces if isinstance(item, bytes)) <= (
        LONG_BLOCK + CHUNK)
    assert b"".join(item for item, _ in pieces if isinstance(item, bytes)).count(
        b"thread.") == data.count(b"thread.")
    whole, streamed = RunFlow(), RunFlow()
    play(whole, list(stream_blocks("sse", [data])), 0, lambda _: None)
    play(streamed, pieces, 0, lambda _: None, [0.0] * len(pieces))
    for flow in (whole, streamed):
        assert (flow.run_status, flow.ending) == ("completed", "done")
    assert [(v.code, v.index) for v in streamed.violations] == [
        (v.code, v.index) for v in whole.violations]  # (no step names the message)
    assert streamed.messages[0].content[0].text.value == big  # type: ignore[union-attr]
