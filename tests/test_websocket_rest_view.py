"""A response created over the local server's WebSocket mode is on the REST side while
it runs, as the real service shows any response ``in_progress`` from its
``response.created`` (RESPONSES.md), not only once it ended: ``GET /v1/responses/{id}``
during a held WebSocket turn answers it ``in_progress``, and after it the ended
response the socket received. ``store: false`` and ``WebSocketMode.persist = False``
keep it off REST throughout; a socket that goes mid-response leaves it to run to its
end server-side, as a REST stream its client left. The real openai client over
loopback: ``client.responses.connect()`` and REST on one local server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from helpers import local_client, recv_until

from runflow.server.responses_scenarios import ResponseRequest, script_response
from runflow.server.responses_store import ResponseStore
from runflow.server.scenarios import ScenarioOptions
from runflow.server.websocket_runner import WebSocketServer

pytest.importorskip("websockets")


@pytest.fixture
def server() -> Iterator[WebSocketServer]:
    with WebSocketServer() as running:
        yield running


def _held(**fields: Any) -> Any:
    """A create held after ``response.in_progress`` until a steer event arrives."""
    return {"type": "response.create", "model": "gpt-4o", "input": "Say hello",
            "metadata": {"hold": "steer"}, **fields}


def _release(conn: Any, response_id: str) -> None:
    """A refused steer (assistant input) releases the hold without steering."""
    conn.send({"type": "response.steer", "previous_response_id": response_id,
               "input": [{"role": "assistant", "content": "x"}]})


def test_a_held_websocket_response_is_in_progress_over_rest_then_ended(
        server: WebSocketServer) -> None:
    with local_client(server) as client, client.responses.connect() as conn:
        conn.send(_held())
        created = recv_until(conn, {"response.in_progress"})[0].response
        during = client.responses.retrieve(created.id)
        items = client.responses.input_items.list(created.id)
        with pytest.raises(openai.ConflictError):  # not finished: nothing to continue
            client.responses.create(model="gpt-4o", previous_response_id=created.id,
                                    input="more")
        _release(conn, created.id)
        final = recv_until(conn, {"response.completed"})[-1].response
        after = client.responses.retrieve(created.id)
    assert (during.id, during.status, during.output) == (created.id, "in_progress", [])
    assert [item.type for item in items.data] == ["message"]
    assert after.status == "completed"
    assert after.output_text and after.output_text == final.output_text
    assert after.model_dump() == final.model_dump()


def test_a_steered_websocket_response_is_incomplete_over_rest_and_its_successor_stored(
        server: WebSocketServer) -> None:
    with local_client(server) as client, client.responses.connect() as conn:
        conn.send(_held())
        created = recv_until(conn, {"response.in_progress"})[0].response
        conn.send({"type": "response.steer", "previous_response_id": created.id,
                   "input": "shorter please"})
        events = recv_until(conn, {"response.completed"})
        steered = client.responses.retrieve(created.id)
        successor = client.responses.retrieve(events[-1].response.id)
    assert steered.status == "incomplete"
    assert steered.incomplete_details is not None
    assert steered.incomplete_details.reason == "steered"
    assert (successor.status, successor.previous_response_id) == ("completed", created.id)
    assert successor.output_text == events[-1].response.output_text


def test_a_response_whose_socket_went_runs_to_its_end_over_rest(
        server: WebSocketServer) -> None:
    with local_client(server) as client:
        with client.responses.connect() as conn:
            conn.send(_held())
            created = recv_until(conn, {"response.in_progress"})[0].response
        # the socket is closed while the response is held; the server ends it
        got = None
        for _ in range(1000):  # the server notices the close on its own thread
            got = client.responses.retrieve(created.id)
            if got.status != "in_progress":
                break
            threading.Event().wait(0.01)
    assert got is not None and got.status == "completed"
    assert got.output_text


@pytest.mark.parametrize("how", ["store false", "persist off"])
def test_a_response_kept_off_rest_is_not_found_while_it_runs(server: WebSocketServer,
                                                             how: str) -> None:
    server.mode.persist = how != "persist off"
    store: Any = {"store": False} if how == "store false" else {}
    with local_client(server) as client, client.responses.connect() as conn:
        conn.send(_held(**store))
        created = recv_until(conn, {"response.in_progress"})[0].response
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(created.id)
        _release(conn, created.id)
        recv_until(conn, {"response.completed"})
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(created.id)


def test_a_live_stored_response_shows_each_event_written_so_far() -> None:
    """The store side alone: every event the connection writes shows in the view at once
    (the output so far, past where a held turn can pause), and the terminal one ends it."""
    events = script_response("text", ResponseRequest(
        {"model": "gpt-4o", "input": "Say hello"}, ScenarioOptions(), []))
    store = ResponseStore()
    stored = store.live(events[0], scenario="text", input_items=[])
    texts = []
    for event in events[1:]:
        assert not stored.finished
        stored.write(event)
        view = store.get(stored.id).view()
        texts.append("".join(part.get("text", "") for item in view["output"]
                             for part in item.get("content", [])))
    assert stored.finished and store.get(stored.id).status == "completed"
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    first = next(i for i, e in enumerate(events[1:]) if e["type"].endswith("text.delta"))
    assert texts[first] == deltas[0]  # one delta in: the text so far is that delta
    assert texts[-1] == "".join(deltas)
