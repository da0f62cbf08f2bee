"""The server's faults on Responses streams: on the wire, and as the Python client sees them.

A fault damages the wire only: the response still runs to its end server-side,
so REST always shows it ``completed``. ``cut_after`` closes the connection,
``error_after`` sends the Responses ``error`` event (nested, with the sequence
number of the event it displaces) and ends, the others reshape the event list.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from test_server_responses import TEXT, check_events, post_stream, request
from test_server_responses_grammar import stream_problems, wire_events

from runflow.server.faults import ERROR_MESSAGE, UNKNOWN_EVENT
from runflow.testing import Server

FAULTS = ["none", "delay=0.01", "cut_after=0", "cut_after=5", "error_after=0", "error_after=3",
          "corrupt=3", "duplicate=4", "drop=4", "swap=4", "unknown=2"]


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0,
                       timeout=20) as c:
        yield c


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=20) as c:
        yield c


@pytest.fixture(scope="module")
def clean(http: httpx.Client) -> list[dict[str, Any]]:
    """The ``text`` stream without faults: 11 events."""
    events = post_stream(http, request("text"))
    check_events(events)
    return events


def python_case(client: openai.OpenAI, fault: str) -> dict[str, Any]:
    """What ``client.responses.stream`` gives under ``fault``: events, final, error."""
    events: list[Any] = []
    try:
        with client.responses.stream(**request("text"),
                                     extra_headers={"X-Runflow-Fault": fault}) as stream:
            for event in stream:
                events.append(event)
            final = stream.get_final_response()
        return {"events": events, "final": final, "error": None}
    except Exception as exc:  # what the client raised is the result
        return {"events": events, "final": None, "error": exc}


@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_as_the_python_client_sees_it(client: openai.OpenAI, http: httpx.Client,
                                                  clean: list[dict[str, Any]],
                                                  fault: str) -> None:
    result = python_case(client, fault)
    types = [event.type for event in result["events"]]
    clean_types = [event["type"] for event in clean]
    kind, _, number = fault.partition("=")
    if types:  # the response the stream was about ended completed server-side
        response_id = result["events"][0].response.id
        assert http.get(f"/responses/{response_id}").json()["status"] == "completed"
    if kind in ("none", "delay", "duplicate", "unknown"):
        assert result["error"] is None and result["final"].status == "completed"
        assert result["final"].output_text == TEXT
        if kind in ("none", "delay"):
            assert types == clean_types
        elif kind == "duplicate":  # the SDK passes the copy on and appends the delta twice
            assert types == clean_types[:3] + clean_types[3:4] + clean_types[3:]
    elif kind == "cut_after":
        assert isinstance(result["error"], openai.APIConnectionError)
        assert types == clean_types[:int(number)]
    elif kind == "error_after":
        assert isinstance(result["error"], openai.APIError)
        assert result["error"].message == ERROR_MESSAGE
        assert types == clean_types[:int(number)]
    elif kind == "corrupt":
        assert result["error"] is not None and types == clean_types[:int(number) - 1]
    else:  # drop / swap: a delta before its content part breaks the SDK's accumulator
        assert isinstance(result["error"], IndexError)
        assert types == clean_types[:int(number) - 1]


@pytest.mark.parametrize("number", [0, 3, 10])
def test_error_after_sends_the_nested_responses_error(http: httpx.Client,
                                                      clean: list[dict[str, Any]],
                                                      number: int) -> None:
    answer = http.post("/responses", json={**request("text"), "stream": True},
                       headers={"X-Runflow-Fault": f"error_after={number}"})
    events = wire_events(answer.content)
    assert [e["type"] for e in events[:number]] == [e["type"] for e in clean[:number]]
    assert [e["sequence_number"] for e in events[:number]] == list(range(number))
    assert events[number:] == [{"type": "error", "sequence_number": number,
                                "error": {"type": "server_error", "code": "server_error",
                                          "message": ERROR_MESSAGE, "param": None}}]


def test_cut_closes_the_connection_mid_stream(http: httpx.Client) -> None:
    body = b""
    with pytest.raises(httpx.RemoteProtocolError), http.stream(
            "POST", "/responses", json={**request("text"), "stream": True},
            headers={"X-Runflow-Fault": "cut_after=4"}) as answer:
        for chunk in answer.iter_raw():
            body += chunk
    events = wire_events(body)
    assert [e["sequence_number"] for e in events] == [0, 1, 2, 3]
    assert stream_problems(events) != []  # no terminal event: a broken stream


def test_reshaping_faults_on_the_wire(http: httpx.Client, clean: list[dict[str, Any]]) -> None:
    def numbers(fault: str) -> list[Any]:
        answer = http.post("/responses", json={**request("text"), "stream": True},
                           headers={"X-Runflow-Fault": fault})
        blocks = answer.text.split("\n\n")[:-1]
        return [b.split("\n")[0][len("event: "):] for b in blocks]

    types = [e["type"] for e in clean]
    assert numbers("drop=4") == types[:3] + types[4:]
    assert numbers("duplicate=4") == types[:4] + types[3:]
    assert numbers("swap=4") == [*types[:3], types[4], types[3], *types[5:]]
    assert numbers("unknown=2") == [*types[:1], UNKNOWN_EVENT, *types[1:]]


def test_a_bad_fault_header_is_refused_first(http: httpx.Client) -> None:
    answer = http.post("/responses", json={"model": 5, "stream": True},
                       headers={"X-Runflow-Fault": "explode=1"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "X-Runflow-Fault"


def test_queued_faults_apply_to_responses_streams(fresh: Server) -> None:
    fresh.inject("error_after=2")
    with openai.OpenAI(base_url=fresh.base_url, api_key="test", max_retries=0) as c:
        first = python_case(c, "")
        assert isinstance(first["error"], openai.APIError)
        assert first["error"].message == ERROR_MESSAGE and len(first["events"]) == 2
        again = python_case(c, "")  # the fault was used up
        assert again["error"] is None and again["final"].output_text == TEXT
        # a resumed stream takes faults too, counted on its own frames
        queued = c.responses.create(background=True, **request("text"))
        fresh.inject("cut_after=1")
        seen = []
        with pytest.raises(openai.APIConnectionError):
            for event in c.responses.retrieve(queued.id, stream=True, starting_after=0):
                seen.append(event.type)
        assert seen == ["response.queued"]
