"""The types layer's events the flow ignores (:mod:`runflow.conform.sdk_events`).

A definition routes some events as ignored (Responses: ``response.audio.delta``,
``response.audio.transcript.delta`` and their ``done``, the heartbeats): the flow
applies nothing of them, so no layer but the types layer looks inside. Each is typed
against the SDK's class of the event, as a warning of the stream's root
(``types.response``) naming its index and JSON path, through ``runflow check --types``
(the listener ahead of the short path) and the batch layers alike. No capture has an
audio event: these streams are a real capture with audio events put in, numbered in
sequence.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from conftest import load_bytes

from runflow.adapters.recording import read_recording
from runflow.cli import main
from runflow.conform.recorded import grade_replay
from runflow.testing.fuzz import encode_sse, parse_sse

HELLO = "responses/openaidotnet_hello_text_gpt4omini.sse"
"""Responses: 4-12 output_text deltas (sequence numbers = indices)."""

Row = tuple[str, int | None, str]
"""(rule, event index, the message's words up to the SDK's own)."""


def _with(tmp_path: Path, extra: dict[int, dict[str, Any]]) -> Path:
    """HELLO with each of ``extra`` (index -> data, its ``type`` the event name) put in
    at that index, every ``sequence_number`` from there on counted again."""
    events = parse_sse(load_bytes(HELLO))
    for index in sorted(extra):
        events.insert(index, {"event": extra[index]["type"], "data": extra[index]})
    for n, event in enumerate(events):
        if "sequence_number" in event["data"]:
            event["data"]["sequence_number"] = n
    path = tmp_path / "audio.sse"
    path.write_bytes(encode_sse(events)[0])
    return path


def _rows(path: Path) -> tuple[list[Row], list[Row]]:
    """``runflow check --json --types``: the types findings, and the others."""
    out = io.StringIO()
    with redirect_stdout(out):
        main(["check", "--json", "--types", str(path)])
    report = json.loads(out.getvalue().splitlines()[0])
    every = [f for g in report["findings"] for f in (g, *g["consequences"])]
    rows = [(f["rule"], f["index"], f["message"].split(" (openai ", 1)[0]) for f in every]
    return ([r for r in rows if r[0].startswith("types.")],
            [r for r in rows if not r[0].startswith("types.")])


def _held(path: Path) -> list[Row]:
    """The types findings of the batch layers over the held recording."""
    replay = read_recording(str(path)).replay()
    return [(f.rule, f.index, f.message.split(" (openai ", 1)[0])
            for g in grade_replay(replay) for f in (g.root, *g.consequences)
            if f.rule.startswith("types.")]


def test_a_malformed_audio_delta_is_typed(tmp_path: Path) -> None:
    path = _with(tmp_path, {
        5: {"type": "response.audio.delta", "sequence_number": 0, "delta": 5},
        7: {"type": "response.audio.transcript.delta", "sequence_number": 0, "delta": []},
    })
    typed, others = _rows(path)
    expected = [
        ("types.response", 5, "response.audio.delta: delta is 5: Input should be a valid "
                              "string"),
        ("types.response", 7, "response.audio.transcript.delta: delta is []: Input should "
                              "be a valid string"),
    ]
    assert sorted(typed) == expected
    assert sorted(_held(path)) == expected
    assert others == []  # the grammar ignores them; the rest of the stream is whole


def test_well_formed_audio_events_and_heartbeats_give_nothing(tmp_path: Path) -> None:
    """The SDK's own shapes pass; a heartbeat the SDK has no class of is not typed
    (its extra field is nobody's)."""
    path = _with(tmp_path, {
        5: {"type": "response.audio.delta", "sequence_number": 0, "delta": "AAAA"},
        6: {"type": "response.audio.transcript.delta", "sequence_number": 0,
            "delta": "hi", "extra": {"any": 1}},
        7: {"type": "response.audio.transcript.done", "sequence_number": 0},
        8: {"type": "response.audio.done", "sequence_number": 0},
        9: {"type": "response.keep_alive", "sequence_number": 0, "delta": 5},
    })
    typed, others = _rows(path)
    assert typed == []
    assert others == []
    assert _held(path) == []


@pytest.mark.parametrize("value", ["x", -1])
def test_an_ignored_events_sequence_number_is_the_grammars(tmp_path: Path,
                                                           value: Any) -> None:
    """The field that numbers the event is the grammar's (malformed_event; the number
    lost, the next event's is a gap), one report."""
    path = _with(tmp_path, {5: {"type": "response.audio.delta", "sequence_number": 0,
                                "delta": "AAAA"}})
    events = parse_sse(path.read_bytes())
    events[5]["data"]["sequence_number"] = value
    path.write_bytes(encode_sse(events)[0])
    typed, others = _rows(path)
    assert typed == []
    assert [(r, i) for r, i, _ in others] == [("grammar.malformed_event", 5),
                                              ("grammar.sequence_gap", 6)]
