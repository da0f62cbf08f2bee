"""``runflow watch`` reads JSON lines as ``runflow check`` does: a line that is no event
(not JSON, not an object, no name) is one ``malformed_event`` in check's words,
whether the recording is a file or standard input; and standard input that ends
before its protocol is told holds a line no longer than the flow's
``Limits.max_event_bytes``, as the rest of ``watch -`` does."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runflow import ResponseFlow, RunFlow
from runflow.adapters.recording import Recording, read_recording
from runflow.cli.watch.pace import play, stream_blocks
from runflow.cli.watch.stdin import open_stdin, play_piped
from runflow.engine.limits import Limits
from runflow.engine.violations import Code
from runflow.server.responses_scenarios import ResponseRequest, script_response
from runflow.server.scenarios import ScenarioOptions

RUN = {"id": "run_1", "object": "thread.run", "status": "queued", "thread_id": "t",
       "assistant_id": "a", "created_at": 100}
BROKEN = [b'{"event": "thread.run.queued", "data": ', b"[1, 2]", b'{"data": 3}',
          b'"just a string"', b"{\"event\": 7, \"data\": {}}", b"not json at all"]
"""Lines that are no event, each in a way of its own."""


def _assistants() -> bytes:
    good = [{"event": "thread.run.created", "data": RUN},
            {"event": "thread.run.completed", "data": {**RUN, "status": "completed"}},
            {"event": "done", "data": "[DONE]"}]
    lines = [json.dumps(good[0]).encode(), *BROKEN, *(json.dumps(g).encode() for g in good[1:])]
    return b"\n".join(lines) + b"\n"


def _responses() -> bytes:
    events = script_response("text", ResponseRequest(
        {"model": "gpt-4o", "input": "hi"}, ScenarioOptions(), []))
    lines = [json.dumps(e).encode() for e in events]
    return b"\n".join([*lines[:2], *BROKEN, *lines[2:]]) + b"\n"


def _said(flow: Any) -> list[tuple[str, int, str]]:
    return [(v.code.value, v.index, v.message) for v in flow.violations]


@pytest.mark.parametrize("protocol", ["assistants", "responses"])
def test_a_broken_json_line_is_worded_as_check_words_it(protocol: str,
                                                        tmp_path: Path) -> None:
    data = _assistants() if protocol == "assistants" else _responses()
    path = tmp_path / "broken.jsonl"
    path.write_bytes(data)
    checked = read_recording(path).replay().flow  # what runflow check feeds
    new = RunFlow if protocol == "assistants" else ResponseFlow
    watched = new()
    play(watched, stream_blocks("jsonl", [data[i:i + 7] for i in range(0, len(data), 7)]),
         0, lambda _: None)
    piped = new()
    play_piped(open_stdin(io.BytesIO(data)), piped, 0, lambda _: None, lambda: 0.0)
    expected = _said(checked)
    broken = [m for code, _, m in expected if code == Code.MALFORMED_EVENT.value]
    assert [m.split(":")[0] for m in broken] == [f"line {n}" for n in range(
        3 if protocol == "responses" else 2, len(BROKEN) + (3 if protocol == "responses" else 2))]
    assert "not valid JSON" in broken[0] and "a JSON list" in broken[1]
    assert _said(watched) == expected
    assert _said(piped) == expected


def test_the_command_line_shows_checks_words(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_bytes(_assistants())
    with path.open("rb") as stdin:
        shown = subprocess.run([sys.executable, "-m", "runflow", "watch", "-", "--speed", "0"],
                               stdin=stdin, capture_output=True, text=True, timeout=120,
                               check=False)
    assert shown.stderr == ""
    assert "! #1 error malformed_event: line 2: not valid JSON (" in shown.stdout
    assert ("! #2 error malformed_event: line 3: a JSON list, not an object with 'event' "
            "and 'data'\n") in shown.stdout
    assert "no 'event' name (got None)\n" in shown.stdout  # line 4: {"data": 3}


def test_input_that_ends_before_its_protocol_is_told_keeps_the_flows_line_cap() -> None:
    """One JSON line of 10 KB and no line break: no event is whole before the input
    ends, so it is held as a file is -- and still no line past 4 KiB is read."""
    line = json.dumps({"event": "thread.run.created",
                       "data": {**RUN, "metadata": {"note": "x" * 10_000}}}).encode()
    held = open_stdin(io.BytesIO(line))
    assert isinstance(held, Recording)  # it ended before its protocol was told
    capped = RunFlow(limits=Limits(max_event_bytes=4096))
    play_piped(held, capped, 0, lambda _: None, lambda: 0.0)
    assert _said(capped) == [
        ("malformed_event", 0, "line 1, from byte offset 0: longer than max_event_bytes "
                               "(4,096 bytes); not read"),
        ("truncated", 1, capped.violations[-1].message)]
    assert capped.run_status == "unseen"
    roomy = RunFlow()  # the default cap holds it: the run is created
    play_piped(open_stdin(io.BytesIO(line)), roomy, 0, lambda _: None, lambda: 0.0)
    assert roomy.run_status == "queued"
