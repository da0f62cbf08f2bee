"""The local server's WebSocket mode continues from a response created over REST with
``store`` left true, as the real service loads an older response from persisted state
(openai-python's ``lib/responses_websocket/README.md``); one created with ``store:
false`` is ``previous_response_not_found``, as it was. The real openai client over
loopback, REST and ``client.responses.connect()`` on one local server."""

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
