"""watch / awatch over the real openai-python connection against the local server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest

from runflow.adapters.websocket import awatch, watch
from runflow.protocols.responses.websocket.transcript import check_frames
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
