"""Transcripts: HAR round trip, the report the CLI will print, and a cut at every frame."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from runflow.adapters.websocket import watch
from runflow.protocols.responses.websocket.transcript import (
    Frame,
    check_frames,
    dump_har,
    dump_jsonl,
    load_transcript,
    transcript_report,
)
from runflow.server.websocket_runner import WebSocketServer


@pytest.fixture(scope="module")
def recorded() -> Iterator[list[Frame]]:
    """A two-lane conversation with a steered successor, recorded by the client."""
    with WebSocketServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        with client.responses.connect() as conn:
            watched = watch(conn)
            watched.send({"type": "response.create", "model": "gpt-4o", "input": "hi",
                          "stream_id": "a", "metadata": {"hold": "steer"}})
            watched.send({"type": "response.create", "model": "gpt-4o", "input": "yo",
                          "stream_id": "b"})
            target = None
            completed = 0
            for event in watched:
                if event.type == "response.created" and target is None:
                    target = event.response.id
                    watched.send({"type": "response.steer", "previous_response_id": target,
                                  "input": "shorter"})
                completed += event.type == "response.completed"
                if completed == 2:
                    break
        yield watched.frames


def test_the_recording_is_clean_and_round_trips_through_har_and_jsonl(
        recorded: list[Frame], tmp_path: Path) -> None:
    flow = check_frames(recorded)
    assert flow.violations == []
    assert [s.state for s in flow.steers] == ["committed"]
    har, jsonl = tmp_path / "x.har", tmp_path / "x.jsonl"
    har.write_text(dump_har([recorded, recorded]))
    jsonl.write_text(dump_jsonl(recorded))
    assert load_transcript(har) == [recorded, recorded]
    assert load_transcript(jsonl) == [recorded]
    status, text = transcript_report(har)
    assert status == 0
    assert text.startswith(f"connection 0: {len(recorded)} frames, 2 lane(s), 3 response(s), "
                           "1 steer(s), closed\n")


def test_the_report_names_violations_and_unreadable_files(recorded: list[Frame],
                                                           tmp_path: Path) -> None:
    damaged = tmp_path / "d.jsonl"
    damaged.write_text(dump_jsonl(recorded[:-1]))
    status, text = transcript_report(damaged)
    assert status == 1 and "truncated" in text
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"type": "receive", "data": 3}) + "\n")
    assert transcript_report(bad) == (2, f"error: {bad}:1: frame 0: data must be the frame's "
                                         "text\n")


def test_a_cut_at_every_frame_is_truncated_exactly_while_something_is_owed(
        recorded: list[Frame]) -> None:
    for cut in range(len(recorded) + 1):
        flow = check_frames(recorded[:cut])
        lanes = flow.lanes.values()
        owed = [ln for ln in lanes if (ln.response is not None and ln.response.active)
                or ln.steered_from is not None or ln.queued]
        codes = {v.code for v in flow.violations}
        cut_codes = {"truncated", "successor_missing", "create_unanswered"}
        assert codes <= cut_codes | {"steer_unacknowledged"}, cut
        assert bool(codes & cut_codes) == bool(owed), cut
        assert all(s.state in ("committed", "unknown") for s in flow.steers), cut


def test_a_checkpoint_at_every_frame_goes_on_as_if_never_stopped(
        recorded: list[Frame]) -> None:
    from runflow.engine.checkpoint import CheckpointError
    from runflow.protocols.responses.websocket import ConnectionFlow
    from runflow.protocols.responses.websocket.checkpoint import (
        dump_connection,
        load_connection,
    )

    whole = check_frames(recorded)
    for cut in range(0, len(recorded) + 1, 7):
        flow = ConnectionFlow()
        for frame in recorded[:cut]:
            (flow.send if frame.type == "send" else flow.receive)(frame.data)
        flow = load_connection(dump_connection(flow))
        for frame in recorded[cut:]:
            (flow.send if frame.type == "send" else flow.receive)(frame.data)
        flow.close()
        assert dump_connection(flow) == dump_connection(whole), cut
    with pytest.raises(CheckpointError):
        load_connection('{"format": "runflow.responses-ws/1", "state": "x"}')
