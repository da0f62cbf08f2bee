"""``runflow watch`` shows the payload findings ``runflow check`` shows, worded as check
words them, for both protocols, from an SSE file, a JSON-lines file and standard
input (``watch -``); the live view's panel is tested through tmux in test_watch.py."""

from __future__ import annotations

import copy
import io
import json
import queue
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from conftest import load_bytes
from helpers import watching_stdin

from runflow.cli import main
from runflow.testing.fuzz import encode_sse, parse_sse

Edit = Callable[[dict[str, Any]], None]

HELLO = "responses/openaidotnet_hello_text_gpt4omini.sse"
"""Responses: 2 output_item.added (the message)."""
CITATION = "dotnet_file_search_file_citation.sse"
"""Assistants: 22 thread.run.completed."""


def role_user(data: dict[str, Any]) -> None:
    data["item"]["role"] = "user"  # payload.message.role, an error


def completed_at_null(data: dict[str, Any]) -> None:
    data["completed_at"] = None  # payload.run.completed_at, an error


def _sse(name: str, index: int, edit: Edit) -> bytes:
    events = parse_sse(load_bytes(name))
    events[index] = copy.deepcopy(events[index])
    edit(events[index]["data"])
    return encode_sse(events)[0]


def _jsonl(name: str, index: int, edit: Edit) -> bytes:
    lines = load_bytes(name).decode().splitlines()
    record = json.loads(lines[index])
    edit(record["data"])
    lines[index] = json.dumps(record)
    return ("\n".join(lines) + "\n").encode()


def _check_lines(path: Path) -> list[str]:
    """check's payload findings of ``path``, as watch is to show them."""
    out = io.StringIO()
    with redirect_stdout(out):
        main(["check", "--json", str(path)])
    report = json.loads(out.getvalue().splitlines()[0])
    every = [f for g in report["findings"] for f in (g, *g["consequences"])]
    return [f"! #{f['index']} {f['severity']} {f['rule']} {f['entity']}: {f['message']}"
            for f in every if f["rule"].startswith("payload.")]


CASES = [
    ("responses-sse", HELLO, ".sse", _sse(HELLO, 2, role_user),
     "! #2 error payload.message.role message msg_"),
    ("assistants-sse", CITATION, ".sse", _sse(CITATION, 22, completed_at_null),
     "! #22 error payload.run.completed_at run run_"),
    ("assistants-jsonl", "dotnet_file_search_file_citation.jsonl", ".jsonl",
     _jsonl("dotnet_file_search_file_citation.jsonl", 22, completed_at_null),
     "! #22 error payload.run.completed_at run run_"),
]


@pytest.mark.parametrize(("label", "name", "suffix", "data", "start"), CASES,
                         ids=[c[0] for c in CASES])
def test_watch_shows_checks_payload_findings(label: str, name: str, suffix: str, data: bytes,
                                            start: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"edited{suffix}"
    path.write_bytes(data)
    expected = _check_lines(path)
    assert len(expected) == 1 and expected[0].startswith(start)
    capsys.readouterr()
    code = main(["watch", "--speed", "0", str(path)])
    shown = [line for line in capsys.readouterr().out.splitlines() if "payload." in line]
    assert shown == expected
    assert code == 1  # an error-severity finding, as check says NOT OK


def test_a_clean_recording_shows_no_finding(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clean.sse"
    path.write_bytes(load_bytes(HELLO))
    assert main(["watch", "--speed", "0", str(path)]) == 0
    assert "payload." not in capsys.readouterr().out


def _until_end(lines: queue.Queue[str]) -> list[str]:
    out = []
    while (line := lines.get(timeout=60)) != "":
        out.append(line.rstrip("\n"))
    return out


@pytest.mark.parametrize(("label", "name", "suffix", "data", "start"), CASES[:2],
                         ids=[c[0] for c in CASES[:2]])
def test_watch_stdin_shows_them_in_its_plain_lines(label: str, name: str, suffix: str,
                                                   data: bytes, start: str,
                                                   tmp_path: Path) -> None:
    path = tmp_path / f"edited{suffix}"
    path.write_bytes(data)
    expected = _check_lines(path)
    with watching_stdin() as (process, lines):
        assert process.stdin is not None
        process.stdin.write(data)
        process.stdin.close()
        shown = [line for line in _until_end(lines) if "payload." in line]
        assert process.wait(timeout=60) == 1
    assert shown == expected
