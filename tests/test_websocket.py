"""Responses WebSocket mode: ConnectionFlow, transcripts and the local server, driven
by the real openai-python client (``client.responses.connect()``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import local_client, recv_until
from openai.lib.responses_websocket import ResponsesWebSocketLimits, ResponsesWebSocketSession

from runflow.protocols.responses.websocket import ConnectionFlow
from runflow.protocols.responses.websocket.transcript import (
    Frame,
    TranscriptError,
    check_frames,
    check_transcript,
    dump_jsonl,
)
from runflow.server.websocket_runner import WebSocketServer

pytest.importorskip("websockets")

LIMITS = ResponsesWebSocketLimits(max_lanes=8, max_events_per_lane=4096, max_events=8192,
                                  max_bytes_per_lane=1 << 24, max_bytes=1 << 25)
TOOLS = [{"type": "function", "name": "lookup",
          "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]


@pytest.fixture
def server() -> Iterator[WebSocketServer]:
    with WebSocketServer() as running:
        yield running


def _create(**fields: Any) -> Any:
    return {"type": "response.create", "model": "gpt-4o", "input": "hi", **fields}


def _codes(flow: ConnectionFlow) -> list[tuple[str, int]]:
    return [(v.code, v.index) for v in flow.violations]


def test_session_on_two_lanes_completes_both_and_its_transcript_checks(
        server: WebSocketServer, tmp_path: Path) -> None:
    with local_client(server).responses.connect() as conn, ResponsesWebSocketSession(
            conn, limits=LIMITS) as session:
        a, b = session.lane("a"), session.lane("b")
        a.send(_create())
        b.send(_create(tools=TOOLS, metadata={"scenario": "parallel_functions"}))
        first, second = a.get_final_response(), b.get_final_response()
    assert (first.status, second.status) == ("completed", "completed")
    assert first.output_text
    assert [item.type for item in second.output] == ["function_call", "function_call"]
    path = tmp_path / "run.jsonl"
    path.write_text(dump_jsonl(server.mode.transcripts[0]))
    [flow] = check_transcript(path)
    assert flow.violations == []
    assert {lane: rec.responses for lane, rec in flow.lanes.items()} == {
        "a": [first.id], "b": [second.id]}
    assert flow.responses[first.id].flow.status == "completed"
    assert flow.state == "closed"


def test_steer_accepted_then_committed_by_the_successor(server: WebSocketServer) -> None:
    with local_client(server).responses.connect() as conn:
        conn.send(_create(stream_id="s", metadata={"hold": "steer"}))
        created = recv_until(conn, {"response.in_progress"})[0]
        conn.send({"type": "response.steer", "previous_response_id": created.response.id,
                   "input": "shorter please"})
        events = recv_until(conn, {"response.completed"})
    kinds = [e.type for e in events]
    assert kinds[0] == "response.steer.accepted"
    assert "response.incomplete" in kinds
    successor = next(e for e in events if e.type == "response.created")
    assert successor.response.previous_response_id == created.response.id
    flow = check_frames(server.mode.transcripts[0])
    assert flow.violations == []
    [steer] = flow.steers
    assert (steer.state, steer.committed_by) == ("committed", successor.response.id)
    assert flow.responses[successor.response.id].successor_of == created.response.id


def test_steer_pending_then_answered_by_the_explicit_continuation(
        server: WebSocketServer) -> None:
    with local_client(server).responses.connect() as conn:
        conn.send(_create(stream_id="t", tools=TOOLS,
                          metadata={"scenario": "parallel_functions", "hold": "steer"}))
        created = recv_until(conn, {"response.in_progress"})[0]
        rid = created.response.id
        conn.send({"type": "response.steer", "previous_response_id": rid, "input": "also X"})
        pending = recv_until(conn, {"response.steer.pending"})[-1]
        outputs = [{"type": "function_call_output", "call_id": stub.call_id, "output": "42"}
                   for stub in pending.required_input]
        conn.send(_create(stream_id="t", previous_response_id=rid, input=outputs))
        done = recv_until(conn, {"response.completed"})
    flow = check_frames(server.mode.transcripts[0])
    assert flow.violations == []
    [steer] = flow.steers
    assert steer.required_input and steer.state == "committed"
    assert steer.committed_by == done[-1].response.id


@pytest.mark.parametrize("case,code", [
    ("unknown target", "response_not_found"),
    ("ended target", "response_already_completed"),
    ("bad input", "invalid_input"),
    ("unsupported", "steering_not_supported"),
])
def test_steer_failed_with_each_code(server: WebSocketServer, case: str, code: str) -> None:
    hold = case in ("bad input", "unsupported")
    with local_client(server).responses.connect() as conn:
        meta = {"hold": "steer"} if hold else {}
        if case == "unsupported":
            meta["steering"] = "unsupported"
        conn.send(_create(metadata=meta))
        created = recv_until(conn, {"response.in_progress"})[0]
        if not hold:
            recv_until(conn, {"response.completed"})
        target = "resp_nope" if case == "unknown target" else created.response.id
        steer_input: Any = ([{"role": "assistant", "content": "x"}] if case == "bad input"
                            else "steer")
        conn.send({"type": "response.steer", "previous_response_id": target,
                   "input": steer_input})
        failed = recv_until(conn, {"response.steer.failed"})[-1]
        assert failed.error.code == code
        if hold:  # any steer releases the held response
            recv_until(conn, {"response.completed"})
    flow = check_frames(server.mode.transcripts[0])
    assert [s.error_code for s in flow.steers if s.state == "failed"] == [code]
    assert [v.code for v in flow.violations if v.severity == "error"] == []


def test_too_many_pending_steers_and_successor_creation_failed(
        server: WebSocketServer) -> None:
    with local_client(server).responses.connect() as conn:
        conn.send(_create(stream_id="s", metadata={"hold": "steer:5", "successor": "fail"}))
        created = recv_until(conn, {"response.in_progress"})[0]
        for n in range(5):
            conn.send({"type": "response.steer", "previous_response_id": created.response.id,
                       "input": f"steer {n}"})
        events = recv_until(conn, {"response.incomplete"})
        assert [e.type for e in events].count("response.steer.accepted") == 4
        failed: list[Any] = [conn.recv() for _ in range(4)]
    assert {e.error.code for e in events if e.type == "response.steer.failed"} == {
        "too_many_pending_steers"}
    assert {e.error.code for e in failed} == {"successor_creation_failed"}
    flow = check_frames(server.mode.transcripts[0])
    assert flow.violations == []
    assert [(s.state, s.error_code) for s in flow.steers] == [
        *[("failed", "successor_creation_failed")] * 4, ("failed", "too_many_pending_steers")]
    assert flow.lanes["s"].state == "detached"


def test_steer_outcome_unknown_after_a_cut(server: WebSocketServer) -> None:
    server.mode.inject("steer_unacked")
    with local_client(server).responses.connect() as conn:
        conn.send(_create(metadata={"hold": "steer"}))
        created = recv_until(conn, {"response.in_progress"})[0]
        conn.send({"type": "response.steer", "previous_response_id": created.response.id,
                   "input": "go"})
        recv_until(conn, {"response.incomplete"})
        recv_until(conn, {"response.completed"})
    frames = server.mode.transcripts[0]
    cut = frames[:next(i for i, f in enumerate(frames) if f.type == "send"
                       and "response.steer" in f.data) + 1]
    flow = ConnectionFlow()
    for frame in cut:
        (flow.send if frame.type == "send" else flow.receive)(frame.data)
    flow.lost()
    assert [s.state for s in flow.steers] == ["unknown"]
    assert flow.state == "lost"


def test_generate_false_and_chaining_and_previous_response_not_found(
        server: WebSocketServer) -> None:
    with local_client(server).responses.connect() as conn:
        conn.send(_create(generate=False))
        warm = recv_until(conn, {"response.completed"})
        assert [e.type for e in warm] == ["response.created", "response.completed"]
        conn.send(_create(previous_response_id=warm[-1].response.id))
        assert recv_until(conn, {"response.completed"})[-1].response.status == "completed"
        conn.send(_create(previous_response_id="resp_missing"))
        error = recv_until(conn, {"error"})[-1]
        assert error.error.code == "previous_response_not_found"
    flow = check_frames(server.mode.transcripts[0])
    assert flow.violations == []
    assert len(flow.errors) == 1


def test_connection_time_limit() -> None:
    with WebSocketServer(max_seconds=0.2) as server, local_client(
            server).responses.connect(max_retries=0) as conn:
        error = recv_until(conn, {"error"})[-1]
    assert error.error.code == "websocket_connection_limit_reached"


def _faulted(server: WebSocketServer, fault: str, at: int) -> tuple[ConnectionFlow,
                                                                   list[Frame]]:
    """Two lanes, lane a long enough to be in flight while lane b streams."""
    server.mode.inject(fault, at=at)
    long_text = " ".join(f"word{i}" for i in range(200))
    with local_client(server).responses.connect() as conn:
        try:
            conn.send(_create(stream_id="a", metadata={"text": long_text}))
            conn.send(_create(stream_id="b"))
            seen = 0
            while seen < 2:
                if conn.recv().type in ("response.completed", "response.incomplete"):
                    seen += 1
        except Exception:  # a cut socket, or events the fault made unreadable
            pass
    frames = server.mode.transcripts[-1]
    return check_frames(frames), frames


@pytest.mark.parametrize("fault,at,code", [
    ("drop", 6, "sequence_gap"),
    ("duplicate", 6, "sequence_replay"),
    ("wrong_lane", 8, "wrong_lane"),
    ("cut", 6, "truncated"),
])
def test_each_frame_fault_is_caught_at_its_frame(server: WebSocketServer, fault: str, at: int,
                                                 code: str) -> None:
    flow, frames = _faulted(server, fault, at)
    for _ in range(4):  # wrong_lane needs lane b streaming while lane a does: on a loaded
        if server.mode.faulted:  # machine the server once ran them one after the other,
            break  # leaving the fault nothing to act on; the conversation is run again
        flow, frames = _faulted(server, fault, at)
    [(name, where)] = server.mode.faulted
    first = flow.violations[0]
    expected = len(frames) if fault == "cut" else where
    assert name == fault
    assert (first.code, first.index) == (code, expected), [str(v) for v in flow.violations]


def test_busy_lane_accepted_is_caught(server: WebSocketServer) -> None:
    server.mode.inject("busy_lane")
    with local_client(server).responses.connect() as conn:
        conn.send(_create(stream_id="a", metadata={"hold": "steer"}))
        recv_until(conn, {"response.in_progress"})
        conn.send(_create(stream_id="a"))
        recv_until(conn, {"response.completed"})
    flow = check_frames(server.mode.transcripts[0])
    second = next(i for i, f in enumerate(server.mode.transcripts[0])
                  if f.type == "receive" and '"response.created"' in f.data and i > 2)
    assert ("lane_busy", second) in _codes(flow)


@pytest.mark.parametrize("fault,code", [("steer_unacked", "steer_unacknowledged"),
                                        ("successor_uncommitted", "successor_uncommitted")])
def test_steering_faults_are_caught(server: WebSocketServer, fault: str, code: str) -> None:
    server.mode.inject(fault)
    with local_client(server).responses.connect() as conn:
        conn.send(_create(metadata={"hold": "steer"}))
        created = recv_until(conn, {"response.in_progress"})[0]
        conn.send({"type": "response.steer", "previous_response_id": created.response.id,
                   "input": "go"})
        recv_until(conn, {"response.incomplete"})
        recv_until(conn, {"response.completed"})
    frames = server.mode.transcripts[0]
    flow = check_frames(frames)
    successor = max(i for i, f in enumerate(frames) if '"response.created"' in f.data)
    assert (code, successor) in _codes(flow), [str(v) for v in flow.violations]


def test_client_events_are_checked() -> None:
    flow = ConnectionFlow()
    flow.send({"type": "response.create", "model": "m", "stream": True, "background": False})
    flow.send({"type": "response.steer", "previous_response_id": "r", "input": "x",
               "stream_id": "a"})
    flow.send({"type": "session.update"})
    flow.send("{not json")
    assert _codes(flow) == [("create_field_not_allowed", 0), ("create_field_not_allowed", 0),
                            ("steer_has_stream_id", 1), ("unknown_client_event", 2),
                            ("malformed_frame", 3)]
    assert {v.direction for v in flow.violations} == {"send"}


def test_server_event_on_an_unknown_or_idle_lane() -> None:
    flow = ConnectionFlow()
    flow.receive({"type": "response.output_text.delta", "stream_id": "x", "delta": "a",
                  "sequence_number": 1})
    flow.send({"type": "response.create", "stream_id": "y"})
    flow.receive({"type": "response.output_text.delta", "stream_id": "y", "delta": "a",
                  "sequence_number": 1})
    flow.receive({"type": "response.created", "stream_id": "y", "sequence_number": 0,
                  "response": {"id": "r1", "status": "in_progress", "output": []}})
    flow.receive({"type": "response.created", "stream_id": "y", "sequence_number": 0,
                  "response": {"id": "r2", "status": "in_progress", "output": []}})
    assert flow.close() == "truncated"
    assert _codes(flow) == [("unknown_lane", 0), ("lane_not_in_flight", 2), ("lane_busy", 4),
                            ("truncated", 5)]


def test_transcript_loader_reads_har_and_jsonl_and_names_bad_lines(tmp_path: Path) -> None:
    frames = [Frame("send", json.dumps(_create()), 1.0),
              Frame("receive", json.dumps({"type": "error", "error": {"message": "x"}}), 2.0)]
    har = tmp_path / "x.har"
    har.write_text(json.dumps({"log": {"entries": [
        {"request": {}}, {"_webSocketMessages": [f.as_json() for f in frames]}]}}))
    [flow] = check_transcript(har)
    assert flow.index == 2 and flow.errors
    bad = tmp_path / "bad.jsonl"
    bad.write_text(dump_jsonl(frames) + "\n" + json.dumps({"type": "sent", "data": "{}"}))
    with pytest.raises(TranscriptError, match=r"bad.jsonl:4: frame 2: type must be"):
        check_transcript(bad)
