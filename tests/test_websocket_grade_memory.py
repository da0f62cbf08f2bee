"""Grading a long WebSocket conform session holds the session's frames and little
more: each frame's name beside them, one response's parsed events at a time, and a
tap of the frames a report shows (the first and last ones and those a finding names),
not every frame parsed and copied as it was (3.7 times the frames' bytes at its peak
on the session below; now under 1)."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

from runflow.conform.events import HEAD, TAIL
from runflow.conform.websocket_grade import grade_connection
from runflow.protocols.responses.websocket.transcript import Frame
from runflow.server.responses_scenarios import ResponseRequest, script_response
from runflow.server.scenarios import ScenarioOptions


def _session(responses: int, words: int) -> list[Frame]:
    """A conversation of ``responses`` turns, each a text answer of ``words`` deltas."""
    text = " ".join(f"w{n}" for n in range(words))
    frames: list[Frame] = []
    previous = None
    for _ in range(responses):
        create: dict[str, Any] = {"type": "response.create", "model": "gpt-4o", "input": "hi"}
        if previous is not None:
            create["previous_response_id"] = previous
        frames.append(Frame("send", json.dumps(create), 0.0))
        events = script_response("text", ResponseRequest(
            dict(create), ScenarioOptions(text=text), []))
        frames += [Frame("receive", json.dumps(e), 0.0) for e in events]
        previous = events[0]["response"]["id"]
    return frames


def test_a_long_session_is_graded_in_less_than_its_frames_bytes() -> None:
    frames = _session(40, 500)
    size = sum(len(f.data) for f in frames)
    grade_connection("c", frames)  # once before measuring: imports and caches
    tracemalloc.start()
    try:
        probe, groups = grade_connection("c", frames)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (len(frames), probe.findings, groups) == (20_360, [], [])
    assert peak < size  # 4.7 MB of frames: it was 17.6 MB, now about 2.8 MB
    shown = [e.index for e in probe.tap.events]
    assert shown == [*range(HEAD), *range(len(frames) - TAIL, len(frames))]


def test_the_tap_keeps_the_frames_findings_name_and_grading_is_unchanged() -> None:
    frames = _session(6, 200)
    middle = len(frames) // 2 + 10  # inside the fourth answer's deltas
    event = json.loads(frames[middle].data)
    assert event["type"] == "response.output_text.delta"
    event["sequence_number"] += 5  # a gap: the frame a finding names
    frames[middle] = Frame("receive", json.dumps(event), 0.0)
    bad_error = {"type": "error", "error": "not an object"}
    frames.append(Frame("receive", json.dumps(bad_error), 0.0))
    probe, groups = grade_connection("c", frames)
    found = {(f.rule, f.index) for f in probe.findings}
    assert ("grammar.sequence_gap", middle) in found
    assert ("http.error_shape", len(frames) - 1) in found
    assert "http.error_shape" in probe.checked
    shown = {e.index: e for e in probe.tap.events}
    assert middle in shown and shown[middle].name == "response.output_text.delta"
    assert shown[middle].data is None  # past the first frames: no payload kept
    assert shown[0].data == json.loads(frames[0].data)  # a first frame keeps its data
    assert {g.root.rule for g in groups} >= {"grammar.sequence_gap", "http.error_shape"}
