"""A response created over the local server's WebSocket mode with ``store`` left true is
stored as the real service stores it: ``GET /v1/responses/{id}`` and its input items
find it over REST, a REST create continues from it with ``previous_response_id``
(answering its function calls), and so does a create on another connection (openai-
python's ``lib/responses_websocket/README.md``: "With ``store=True``, an older response
may be loaded from persisted state"). One created with ``store: false`` is found by
neither. The other way round, a WebSocket turn continues from a response created over
REST with ``store`` left true, as the real service loads an older response from
persisted state; one created with ``store: false`` is ``previous_response_not_found``.
The real openai client over loopback, ``client.responses.connect()`` and REST on one
local server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from helpers import websocket_turn

from runflow.server.websocket_runner import WebSocketServer

pytest.importorskip("websockets")

TOOLS: list[Any] = [{"type": "function", "name": "lookup", "strict": False,
                     "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]


@pytest.fixture(scope="module")
def server() -> Iterator[WebSocketServer]:
    with WebSocketServer() as running:
        yield running


def _client(server: WebSocketServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)


def _turn(client: openai.OpenAI, **create: Any) -> list[Any]:
    """One WebSocket create on a connection of its own; the frames check clean."""
    events, flow = websocket_turn(client, **create)
    assert flow.violations == []
    return events


def test_a_websocket_response_is_retrieved_over_rest(server: WebSocketServer) -> None:
    with _client(server) as client:
        events = _turn(client, input="Say hello")
        final = events[-1]
        assert final.type == "response.completed"
        got = client.responses.retrieve(final.response.id)
        items = client.responses.input_items.list(final.response.id)
    assert (got.id, got.status, got.output_text) == (
        final.response.id, "completed", final.response.output_text)
    assert got.output_text  # the text scenario answered
    listed: list[Any] = list(items.data)
    assert [(item.type, item.role) for item in listed] == [("message", "user")]
    assert listed[0].content[0].text == "Say hello"


def test_a_rest_create_continues_from_a_websocket_response_answering_its_calls(
        server: WebSocketServer) -> None:
    with _client(server) as client:
        first = _turn(client, input="Look it up", tools=TOOLS,
                      metadata={"scenario": "parallel_functions"})[-1].response
        calls = [item for item in first.output if item.type == "function_call"]
        assert first.status == "completed" and calls
        with pytest.raises(openai.BadRequestError, match="No tool output found"):
            client.responses.create(model="gpt-4o", previous_response_id=first.id,
                                    input="more", tools=TOOLS)
        outputs: list[Any] = [{"type": "function_call_output", "call_id": c.call_id,
                               "output": "42"} for c in calls]
        second = client.responses.create(model="gpt-4o", previous_response_id=first.id,
                                         input=outputs, tools=TOOLS)
    assert (second.status, second.previous_response_id) == ("completed", first.id)
    assert second.output_text  # the scenario, carried over, answers the outputs in text


def test_another_connection_continues_from_a_stored_websocket_response(
        server: WebSocketServer) -> None:
    with _client(server) as client:
        first = _turn(client, input="hi")[-1].response
        again = _turn(client, previous_response_id=first.id, input="more")[-1]
    assert again.type == "response.completed"
    assert again.response.previous_response_id == first.id


def test_a_websocket_response_with_store_false_is_not_stored(
        server: WebSocketServer) -> None:
    with _client(server) as client:
        first = _turn(client, input="hi", store=False)[-1].response
        assert first.status == "completed"
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(first.id)
        with pytest.raises(openai.BadRequestError) as refused:
            client.responses.create(model="gpt-4o", previous_response_id=first.id, input="x")
        assert refused.value.code == "previous_response_not_found"
        events = _turn(client, previous_response_id=first.id, input="more")
    assert [(e.type, e.error.code) for e in events] == [("error", "previous_response_not_found")]


def test_a_websocket_turn_continues_from_a_response_stored_over_rest(
        server: WebSocketServer) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        first = client.responses.create(model="gpt-4o", input="Look it up", tools=TOOLS,
                                        metadata={"scenario": "parallel_functions"})
        calls = [item for item in first.output if item.type == "function_call"]
        assert first.status == "completed" and calls
        outputs = [{"type": "function_call_output", "call_id": c.call_id, "output": "42"}
                   for c in calls]
        events, flow = websocket_turn(client, previous_response_id=first.id, input=outputs,
                             tools=TOOLS)
    final = events[-1]
    assert final.type == "response.completed", events[-1]
    assert final.response.previous_response_id == first.id
    assert final.response.output_text  # the scenario answers the outputs in text
    assert flow.violations == []


def test_a_response_created_over_rest_with_store_false_is_not_found(
        server: WebSocketServer) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        first = client.responses.create(model="gpt-4o", input="hi", store=False)
        events, flow = websocket_turn(client, previous_response_id=first.id, input="more")
    assert [e.type for e in events] == ["error"]
    assert events[0].error.code == "previous_response_not_found"
    assert flow.errors_only == [] and len(flow.errors) == 1


def test_an_unknown_or_malformed_previous_response_id_is_still_not_found(
        server: WebSocketServer) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        for previous in ("resp_nowhere", ["resp_x"], 5):
            events, _ = websocket_turn(client, previous_response_id=previous, input="more")
            assert [(e.type, e.error.code) for e in events] == [
                ("error", "previous_response_not_found")], previous
