"""watch / awatch over the real openai-python connection, and watch_session /
consume_lane over the SDK's ResponsesWebSocketSession lanes, against the local server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai.lib.responses_websocket import (
    AsyncResponsesWebSocketSession,
    ResponsesWebSocketLimits,
    ResponsesWebSocketSession,
)

from runflow.adapters.websocket import (
    AsyncWatchedSession,
    LaneResult,
    aconsume_lane,
    awatch,
    awatch_session,
    consume_lane,
    watch,
    watch_session,
)
from runflow.cli import main
from runflow.protocols.responses.websocket.transcript import check_frames, dump_jsonl
from runflow.server.websocket_runner import WebSocketServer


@pytest.fixture
def server() -> Iterator[WebSocketServer]:
    with WebSocketServer() as running:
        yield running


def test_watch_checks_a_live_two_lane_conversation(server: WebSocketServer) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    with client.responses.connect() as conn:
        watched = watch(conn)
        for lane in ("a", "b"):
            watched.send({"type": "response.create", "model": "gpt-4o", "input": "hi",
                          "stream_id": lane})
        done = 0
        for event in watched:
            done += event.type == "response.completed"
            if done == 2:
                break
        assert watched.close() == "closed"
    assert watched.flow.violations == []
    assert {lane: rec.state for lane, rec in watched.flow.lanes.items()} == {
        "a": "detached", "b": "detached"}
    # what the client saw is what the server sent
    assert [f.data for f in watched.frames if f.type == "receive"] == [
        f.data for f in server.mode.transcripts[0] if f.type == "receive"]
    assert check_frames(watched.frames).violations == []


def test_watch_reports_a_fault_the_client_saw(server: WebSocketServer) -> None:
    server.mode.inject("duplicate", at=3)
    client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    with client.responses.connect() as conn:
        watched = watch(conn)
        watched.send({"type": "response.create", "model": "gpt-4o", "input": "hi"})
        for event in watched:
            if event.type == "response.completed":
                break
    [(_, where)] = server.mode.faulted
    assert [(v.code, v.index) for v in watched.flow.violations] == [("sequence_replay", where)]


def test_awatch_checks_an_async_connection(server: WebSocketServer) -> None:
    async def run() -> list[str]:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        async with client.responses.connect() as conn:
            watched = awatch(conn)
            await watched.send({"type": "response.create", "model": "gpt-4o", "input": "hi"})
            async for event in watched:
                if event.type == "response.completed":
                    break
            watched.close()
            return [v.code for v in watched.flow.violations]

    assert asyncio.run(run()) == []


LIMITS = ResponsesWebSocketLimits(max_lanes=4, max_events_per_lane=256, max_events=512,
                                  max_bytes_per_lane=1 << 20, max_bytes=1 << 21)


def test_the_sdk_session_on_two_lanes_gets_two_completed_responses(
        server: WebSocketServer, tmp_path: Path) -> None:
    """The issue's "must show": ResponsesWebSocketSession on two lanes at once against
    the local server; each lane's response completes, the flow checked every frame in
    wire order, and the transcript of the run passes ``runflow check``."""
    client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    long_text = " ".join(f"word{i}" for i in range(60))
    with client.responses.connect() as conn:
        with watch_session(ResponsesWebSocketSession(conn, limits=LIMITS)) as session:
            a, b = session.lane("a"), session.lane("b")
            a.send({"type": "response.create", "model": "gpt-4o", "input": "hi",
                    "metadata": {"text": long_text}})
            b.send({"type": "response.create", "model": "gpt-4o", "input": "hello"})
            first, second = consume_lane(b, timeout=10), consume_lane(a, timeout=10)
    assert (first.response.status, second.response.status) == ("completed", "completed")
    assert second.response.output_text == long_text
    assert first.record is not None and second.record is not None
    assert (first.record.lane, second.record.lane) == ("b", "a")
    assert first.violations == second.violations == session.flow.violations == []
    # each lane got its own response's events, every one carrying its stream_id
    lanes = {json.loads(f.data).get("stream_id") for f in session.frames
             if f.type == "receive"}
    assert lanes == {"a", "b"}
    # what the flow saw is what the server received and sent, each way in order (the
    # two ends may see a send and a receive cross in either order)
    for way in ("send", "receive"):
        assert [f.data for f in session.frames if f.type == way] == [
            f.data for f in server.mode.transcripts[0] if f.type == way]
    path = tmp_path / "two_lanes.jsonl"
    path.write_text(dump_jsonl(session.frames))
    assert main(["check", str(path), "--protocol", "responses-ws"]) == 0


def test_a_session_lane_reports_a_fault_on_its_own_response(server: WebSocketServer) -> None:
    server.mode.inject("duplicate", at=3)
    client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    with client.responses.connect() as conn:
        with watch_session(ResponsesWebSocketSession(conn, limits=LIMITS)) as session:
            lane = session.lane("a")
            lane.send({"type": "response.create", "model": "gpt-4o", "input": "hi"})
            result = consume_lane(lane, timeout=10)
    [(_, where)] = server.mode.faulted
    assert [(v.code, v.index, v.response_id) for v in result.violations] == [
        ("sequence_replay", where, result.response.id)]


def test_the_async_session_on_two_lanes(server: WebSocketServer) -> None:
    async def go() -> tuple[list[LaneResult], AsyncWatchedSession]:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        async with client.responses.connect() as conn:
            async with awatch_session(AsyncResponsesWebSocketSession(
                    conn, limits=LIMITS)) as session:
                lanes = [session.lane("a"), session.lane("b")]
                for lane in lanes:
                    await lane.send({"type": "response.create", "model": "gpt-4o",
                                     "input": "hi"})
                results = list(await asyncio.gather(*(aconsume_lane(x) for x in lanes)))
        return results, session

    results, session = asyncio.run(go())
    assert [r.response.status for r in results] == ["completed", "completed"]
    assert [r.record.lane for r in results if r.record is not None] == ["a", "b"]
    assert session.flow.violations == [] and session.ending == "closed"
    assert check_frames(session.frames).violations == []
