"""Steered input reaches the response that commits it (shared/WEBSOCKET.md, Steering):
the automatic successor continues with the queued input, and the explicit create that
answers ``required_input`` gets the pending input prepended. The local server's answer
acknowledges the steering text it took ("(steered: ...)"), so the real openai client
sees which input reached which response, and the ConnectionFlow ledger of the server's
transcript names the same response as each steer's committer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from helpers import recv_until

from runflow.protocols.responses.websocket.transcript import check_frames
from runflow.server.websocket_runner import WebSocketServer

pytest.importorskip("websockets")

TOOLS = [{"type": "function", "name": "lookup",
          "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]


@pytest.fixture
def server() -> Iterator[WebSocketServer]:
    with WebSocketServer() as running:
        yield running


def _connect(server: WebSocketServer) -> Any:
    client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    return client.responses.connect()


def _create(**fields: Any) -> dict[str, Any]:
    return {"type": "response.create", "model": "gpt-4o", "input": "hi", **fields}


def _steer(target: str, given: Any) -> dict[str, Any]:
    return {"type": "response.steer", "previous_response_id": target, "input": given}


def test_the_successor_takes_exactly_the_accepted_steers_in_order(
        server: WebSocketServer) -> None:
    with _connect(server) as conn:
        conn.send(_create(stream_id="s", metadata={"hold": "steer:2"}))
        first = recv_until(conn, {"response.in_progress"})[0].response.id
        conn.send(_steer(first, "shorter please"))
        conn.send(_steer(first, [{"role": "user", "content": [
            {"type": "input_text", "text": "and in French"}]}]))
        events = recv_until(conn, {"response.completed"})
    successor = events[-1].response
    assert [e.type for e in events].count("response.steer.accepted") == 2
    assert successor.previous_response_id == first
    assert successor.output_text.endswith(
        " (steered: shorter please) (steered: and in French)")
    flow = check_frames(server.mode.transcripts[0])
    assert flow.violations == []
    assert [(s.state, s.committed_by) for s in flow.steers] == [
        ("committed", successor.id), ("committed", successor.id)]
    assert flow.responses[successor.id].committed == [s.number for s in flow.steers]
    assert flow.responses[first].committed == []
    assert flow.responses[first].flow.status == "incomplete"
    # it continues with the queued input, in submission order, and nothing else
    assert server.mode.inputs[successor.id] == [
        {"type": "message", "role": "user", "content": "shorter please"},
        {"role": "user", "content": [{"type": "input_text", "text": "and in French"}]}]


def test_a_plain_turn_after_the_successor_commits_nothing_and_echoes_no_steer(
        server: WebSocketServer) -> None:
    with _connect(server) as conn:
        conn.send(_create(metadata={"hold": "steer"}))
        first = recv_until(conn, {"response.in_progress"})[0].response.id
        conn.send(_steer(first, "go on"))
        successor = recv_until(conn, {"response.completed"})[-1].response
        conn.send(_create(previous_response_id=successor.id, input="next"))
        plain = recv_until(conn, {"response.completed"})[-1].response
    assert "(steered: go on)" in successor.output_text
    assert "steered" not in plain.output_text
    flow = check_frames(server.mode.transcripts[0])
    assert flow.violations == []
    assert [s.committed_by for s in flow.steers] == [successor.id]
    assert flow.responses[plain.id].committed == []


def test_pending_steer_input_goes_into_the_response_answering_required_input(
        server: WebSocketServer) -> None:
    with _connect(server) as conn:
        conn.send(_create(stream_id="t", tools=TOOLS,
                          metadata={"scenario": "parallel_functions", "hold": "steer"}))
        rid = recv_until(conn, {"response.in_progress"})[0].response.id
        conn.send(_steer(rid, "also check the weekend"))
        events = recv_until(conn, {"response.steer.pending"})
        pending = events[-1]
        assert events[-2].type == "response.completed"
        outputs = [{"type": "function_call_output", "call_id": stub.call_id, "output": "42"}
                   for stub in pending.required_input]
        conn.send(_create(stream_id="t", previous_response_id=rid, input=outputs))
        answer = recv_until(conn, {"response.completed"})[-1].response
    assert answer.output_text == ("Here is what I found. lookup: 42. lookup: 42."
                                  " (steered: also check the weekend)")
    flow = check_frames(server.mode.transcripts[0])
    assert flow.violations == []
    [steer] = flow.steers
    assert (steer.state, steer.committed_by) == ("committed", answer.id)
    assert flow.responses[answer.id].committed == [steer.number]
    # the pending input is prepended to the outputs the client sent
    assert server.mode.inputs[answer.id] == [
        {"type": "message", "role": "user", "content": "also check the weekend"},
        *outputs]


def test_a_create_that_leaves_required_input_unanswered_is_refused(
        server: WebSocketServer) -> None:
    with _connect(server) as conn:
        conn.send(_create(tools=TOOLS, metadata={"scenario": "parallel_functions"}))
        calls = recv_until(conn, {"response.completed"})[-1].response
        conn.send(_create(previous_response_id=calls.id, input=[
            {"type": "function_call_output", "call_id": "call_nope", "output": "1"}]))
        unknown = recv_until(conn, {"error"})[-1]
        conn.send(_create(previous_response_id=calls.id, input="no outputs"))
        unanswered = recv_until(conn, {"error"})[-1]
    assert unknown.error.message.startswith("No tool call found for function call output")
    assert unanswered.error.message.startswith("No tool output found for function call")
    flow = check_frames(server.mode.transcripts[0])
    assert flow.violations == []
    assert len(flow.errors) == 2


def test_a_full_input_resent_without_previous_response_id_is_answered(
        server: WebSocketServer) -> None:
    """After a lost socket the connection memory is gone: a client resends the whole
    conversation, its function_call items with their outputs (as over HTTP)."""
    with _connect(server) as conn:
        conn.send(_create(tools=TOOLS, metadata={"scenario": "parallel_functions"}))
        calls = recv_until(conn, {"response.completed"})[-1].response
        items = [item.model_dump(exclude_none=True) for item in calls.output]
        outputs = [{"type": "function_call_output", "call_id": item["call_id"],
                    "output": "7"} for item in items]
        conn.send(_create(tools=TOOLS, metadata={"scenario": "parallel_functions"},
                          input=[{"role": "user", "content": "hi"}, *items, *outputs]))
        answer = recv_until(conn, {"response.completed"})[-1].response
    assert answer.output_text == "Here is what I found. lookup: 7. lookup: 7."
    assert check_frames(server.mode.transcripts[0]).violations == []
