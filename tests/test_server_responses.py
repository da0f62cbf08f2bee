"""The local server's Responses API through the real ``openai`` Python client over loopback.

Every scenario is streamed with ``client.responses.create(stream=True)`` and with
the ``client.responses.stream(...)`` helper; every stream is checked against the
grammar (:func:`test_server_responses_grammar.stream_problems`), every event
against the SDK's ``ResponseStreamEvent`` union and every response against its
``Response`` model; what the client ends with is compared with REST
(``GET /v1/responses/{id}``). Then: background responses (queued, resumed with
``starting_after``, cancelled), the function-call continuation, input items,
deletion, and the faults as the client sees them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import (
    Response,
    ResponseFunctionToolCallParam,
    ResponseItem,
    ResponseStreamEvent,
)
from pydantic import TypeAdapter
from test_server_responses_grammar import Event, stream_problems, wire_events

from runflow.server.responses_scenarios import FAILURE_MESSAGE, REFUSAL, RESPONSE_SCENARIOS
from runflow.testing import Server

SCENARIOS = list(RESPONSE_SCENARIOS)
TEXT = "Hi there you"  # the text under faults: three deltas
FINAL = {"text": "completed", "parallel_functions": "completed", "reasoning": "completed",
         "refusal": "completed", "incomplete": "incomplete", "failed": "failed"}
TOOLS: list[Any] = [
    {"type": "function", "name": "get_weather", "description": "Weather in a city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"]}, "strict": False},
    {"type": "function", "name": "get_time", "description": "Time in a timezone",
     "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}},
                    "required": ["timezone"]}, "strict": False},
]
EVENT = TypeAdapter(ResponseStreamEvent)
ITEM = TypeAdapter(ResponseItem)


def request(scenario: str, **extra: Any) -> dict[str, Any]:
    """The create parameters for ``scenario`` (the text one answers ``TEXT``)."""
    body: dict[str, Any] = {"model": "gpt-4o", "input": "Hello?",
                            "metadata": {"scenario": scenario, "text": TEXT}}
    if scenario == "parallel_functions":
        body["tools"] = TOOLS
    body.update(extra)
    return body


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0,
                       timeout=20) as c:
        yield c


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=20) as c:
        yield c


def rest(http: httpx.Client, response_id: str) -> dict[str, Any]:
    answer = http.get(f"/responses/{response_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def post_stream(http: httpx.Client, body: dict[str, Any],
                headers: dict[str, str] | None = None) -> list[Event]:
    """The payloads of a streamed create, read off the wire (framing checked)."""
    answer = http.post("/responses", json={**body, "stream": True}, headers=headers or {})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/event-stream; charset=utf-8"
    return wire_events(answer.content)


def replay(http: httpx.Client, response_id: str, after: int | None = None) -> list[Event]:
    params: dict[str, Any] = {"stream": "true"}
    if after is not None:
        params["starting_after"] = after
    answer = http.get(f"/responses/{response_id}", params=params)
    assert answer.status_code == 200, answer.text
    return wire_events(answer.content)


def check_events(events: list[Event]) -> None:
    """The grammar, the SDK's event union (the nested ``error`` event is no member of it:
    the SDK raises on it instead, RESPONSES.md §8), and ``Response`` for each snapshot."""
    assert stream_problems(events) == []
    for event in events:
        if event["type"] == "error":
            assert set(event) == {"type", "sequence_number", "error"}
            assert set(event["error"]) == {"type", "code", "message", "param"}
            continue
        EVENT.validate_python(event)
        if "response" in event:
            Response.model_validate(event["response"])


def without_parsed(response: dict[str, Any]) -> dict[str, Any]:
    """The helper's ``ParsedResponse`` adds ``parsed`` to each text part and
    ``parsed_arguments`` to each function call; drop them."""
    for item in response["output"]:
        item.pop("parsed_arguments", None)
        for part in item.get("content") or []:
            part.pop("parsed", None)
    return response


# -- every scenario, streamed --------------------------------------------------------------------


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_on_the_wire(http: httpx.Client, scenario: str, background: bool) -> None:
    events = post_stream(http, request(scenario, background=background))
    check_events(events)
    final = events[-1]["response"]
    assert final["status"] == FINAL[scenario] and final["background"] is background
    assert [e["type"] for e in events[:3]][: 3 if background else 2] == (
        ["response.created", "response.queued", "response.in_progress"] if background
        else ["response.created", "response.in_progress"])
    assert rest(http, final["id"]) == final
    deltas = [e for e in events if e["type"].endswith(".delta")]
    padded = [e for e in deltas if "obfuscation" in e]
    # padding as OpenAI sends it: on text/argument/summary deltas, never on refusal deltas
    # nor in background streams
    assert padded == ([] if background else [
        e for e in deltas if e["type"] != "response.refusal.delta"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_through_create_stream(client: openai.OpenAI, http: httpx.Client,
                                              scenario: str) -> None:
    events: list[dict[str, Any]] = []
    stream = client.responses.create(stream=True, **request(scenario))
    if scenario == "failed":
        with pytest.raises(openai.APIError) as raised:
            for event in stream:
                events.append(event.to_dict())
        assert raised.value.message == FAILURE_MESSAGE
        assert [e["type"] for e in events] == ["response.created", "response.in_progress"]
        stored = rest(http, events[0]["response"]["id"])
        assert stored["status"] == "failed" and stored["error"]["code"] == "server_error"
        return
    for event in stream:  # the SDK built the member of its union that the payload is
        assert type(event) is type(EVENT.validate_python(event.to_dict()))
        events.append(event.to_dict())
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    check_events(events)
    final = events[-1]["response"]
    assert final["status"] == FINAL[scenario]
    assert rest(http, final["id"]) == final
    Response.model_validate(final)


def test_what_each_scenario_says(http: httpx.Client) -> None:
    def final(scenario: str, **extra: Any) -> dict[str, Any]:
        response: dict[str, Any] = post_stream(http, request(scenario, **extra))[-1]["response"]
        return response

    text = final("text")["output"]
    assert [i["type"] for i in text] == ["message"]
    assert text[0]["content"] == [{"type": "output_text", "annotations": [], "logprobs": [],
                                   "text": TEXT}]
    calls = final("parallel_functions")["output"]
    assert [(c["type"], c["name"], json.loads(c["arguments"])) for c in calls] == [
        ("function_call", "get_weather", {"city": "Paris"}),
        ("function_call", "get_time", {"timezone": "Europe/Paris"})]
    assert len({c["call_id"] for c in calls}) == 2
    reasoning = final("reasoning")
    assert [i["type"] for i in reasoning["output"]] == ["reasoning", "message"]
    assert len(reasoning["output"][0]["summary"]) == 2
    assert "status" not in reasoning["output"][0]  # OpenAI's reasoning items carry none
    assert reasoning["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
    refusal = final("refusal")["output"][0]
    assert refusal["content"] == [{"type": "refusal", "refusal": REFUSAL}]
    incomplete = final("incomplete")
    assert incomplete["incomplete_details"] == {"reason": "max_output_tokens"}
    assert incomplete["output"][0]["status"] == "incomplete"
    assert TEXT.startswith(incomplete["output"][0]["content"][0]["text"]) and (
        incomplete["output"][0]["content"][0]["text"] != TEXT)
    assert incomplete["max_output_tokens"] == 16
    failed = final("failed")
    assert failed["output"] == [] and failed["usage"] is None and failed["completed_at"] is None
    assert failed["error"] == {"code": "server_error", "message": FAILURE_MESSAGE}


def test_chunk_size_and_settings_are_honoured(http: httpx.Client) -> None:
    body = request("text", temperature=0.5, max_output_tokens=200, instructions="Be brief.",
                   stream_options={"include_obfuscation": False})
    body["metadata"]["chunk_size"] = "4"
    events = post_stream(http, body)
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert deltas == ["Hi t", "here", " you"]
    assert all("obfuscation" not in e for e in events)
    final = events[-1]["response"]
    assert (final["temperature"], final["max_output_tokens"], final["instructions"]) == (
        0.5, 200, "Be brief.")
    assert final["metadata"] == body["metadata"] and final["model"] == "gpt-4o"


# -- the streaming helper --------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["text", "reasoning", "parallel_functions", "refusal"])
def test_the_stream_helper_final_response_equals_rest(client: openai.OpenAI, http: httpx.Client,
                                                      scenario: str) -> None:
    with client.responses.stream(**request(scenario)) as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert without_parsed(json.loads(final.to_json())) == rest(http, final.id)
    if scenario == "text":
        assert final.output_text == TEXT


@pytest.mark.parametrize(("scenario", "raises", "message"), [
    ("incomplete", RuntimeError, "Didn't receive a `response.completed` event."),
    ("failed", openai.APIError, FAILURE_MESSAGE),
])
def test_the_stream_helper_raises_without_completed(client: openai.OpenAI, scenario: str,
                                                    raises: type[Exception],
                                                    message: str) -> None:
    types: list[str] = []
    with pytest.raises(raises) as raised, client.responses.stream(**request(scenario)) as stream:
        for event in stream:
            types.append(event.type)
        stream.get_final_response()
    assert str(raised.value) == message
    assert types[-1] == ("response.incomplete" if scenario == "incomplete"
                         else "response.in_progress")


# -- not streamed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_create_without_stream_answers_the_finished_response(
        client: openai.OpenAI, http: httpx.Client, scenario: str) -> None:
    response = client.responses.create(**request(scenario))
    assert response.status == FINAL[scenario]
    assert json.loads(response.to_json()) == rest(http, response.id)
    Response.model_validate(rest(http, response.id))
    # what a stream of the same request ends with, ids and padding aside
    streamed = post_stream(http, request(scenario))[-1]["response"]
    shape = {k for k, v in streamed.items() if k not in ("id", "created_at", "completed_at",
                                                         "output", "usage")}
    assert {k: response.to_dict().get(k) for k in shape} == {k: streamed[k] for k in shape}


# -- background responses -----------------------------------------------------------------------


def test_a_background_response_waits_queued_until_read(client: openai.OpenAI,
                                                       http: httpx.Client) -> None:
    queued = client.responses.create(background=True, **request("text"))
    assert (queued.status, queued.background, queued.output) == ("queued", True, [])
    done = client.responses.retrieve(queued.id)
    assert done.status == "completed" and done.output_text == TEXT
    with pytest.raises(openai.BadRequestError, match=r"Cannot cancel a completed response\."):
        client.responses.cancel(queued.id)
    events = replay(http, queued.id)
    check_events(events)
    assert events[-1]["response"] == rest(http, queued.id)


def test_cancel_a_queued_background_response(client: openai.OpenAI, http: httpx.Client) -> None:
    queued = client.responses.create(background=True, **request("text"))
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled" and cancelled.output == []
    assert client.responses.cancel(queued.id).status == "cancelled"  # again: the same answer
    assert rest(http, queued.id)["status"] == "cancelled"
    # its stream is what was published before the cancel, and nothing after
    assert [e["type"] for e in replay(http, queued.id)] == ["response.created",
                                                             "response.queued"]


def test_cancel_only_background_responses(client: openai.OpenAI) -> None:
    foreground = client.responses.create(**request("text"))
    with pytest.raises(openai.BadRequestError, match="background=true") as raised:
        client.responses.cancel(foreground.id)
    assert raised.value.status_code == 400
    with pytest.raises(openai.NotFoundError, match="resp_nope"):
        client.responses.cancel("resp_nope")


def test_cancel_while_a_background_stream_is_read(client: openai.OpenAI,
                                                  http: httpx.Client) -> None:
    """The stream ends after the events published before the cancel; REST says cancelled.

    The ``delay`` fault holds the server back after each event (it publishes the
    next one only when it is about to send it), so the cancel, sent as soon as the
    first event arrives, lands before the second one is made.
    """
    seen: list[dict[str, Any]] = []
    with client.responses.create(stream=True, background=True, **request("text"),
                                 extra_headers={"X-Runflow-Fault": "delay=1"}) as stream:
        for event in stream:
            seen.append(event.to_dict())
            if event.type == "response.created":
                assert client.responses.cancel(event.response.id).status == "cancelled"
    assert [e["type"] for e in seen] == ["response.created"]
    stored = rest(http, seen[0]["response"]["id"])
    assert stored["status"] == "cancelled" and stored["output"] == []
    assert replay(http, stored["id"]) == seen


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("after", [0, 1, 4])
def test_retrieve_stream_starting_after(client: openai.OpenAI, http: httpx.Client,
                                        scenario: str, after: int) -> None:
    original = post_stream(http, request(scenario, background=True))
    response_id = original[0]["response"]["id"]
    expected = original[after + 1:]
    resumed: list[dict[str, Any]] = []
    stream = client.responses.retrieve(response_id, stream=True, starting_after=after)
    try:
        for event in stream:
            resumed.append(event.to_dict())
    except openai.APIError as exc:  # the SDK raises on the failed scenario's error event
        assert scenario == "failed" and exc.message == FAILURE_MESSAGE
        expected = expected[:[e["type"] for e in expected].index("error")]
    assert resumed == expected
    assert replay(http, response_id, after) == original[after + 1:]  # byte for byte too
    if after == 0:
        assert resumed[0]["type"] == "response.queued"


def test_resume_after_a_cut(client: openai.OpenAI, http: httpx.Client) -> None:
    """The connection drops after 5 events; the response ends server-side; the client
    picks up after the last sequence number it saw."""
    seen: list[dict[str, Any]] = []
    with pytest.raises(openai.APIConnectionError):
        stream = client.responses.create(stream=True, background=True, **request("text"),
                                         extra_headers={"X-Runflow-Fault": "cut_after=5"})
        for event in stream:
            seen.append(event.to_dict())
    assert len(seen) == 5
    rest_of_it = [e.to_dict() for e in client.responses.retrieve(
        seen[0]["response"]["id"], stream=True, starting_after=seen[-1]["sequence_number"])]
    whole = seen + rest_of_it
    check_events(whole)
    assert whole == replay(http, seen[0]["response"]["id"])
    assert whole[-1]["response"] == rest(http, seen[0]["response"]["id"])


def test_a_queued_response_continues_live_when_streamed(client: openai.OpenAI,
                                                        http: httpx.Client) -> None:
    queued = client.responses.create(background=True, **request("reasoning"))
    live = [e.to_dict() for e in client.responses.retrieve(queued.id, stream=True,
                                                           starting_after=1)]
    assert live[0]["type"] == "response.in_progress" and live[0]["sequence_number"] == 2
    whole = replay(http, queued.id)
    check_events(whole)
    assert whole[2:] == live and whole[-1]["response"] == rest(http, queued.id)


def test_the_stream_helper_by_response_id(client: openai.OpenAI, http: httpx.Client) -> None:
    """``responses.stream(response_id=..., starting_after=N)`` replays the whole stream and
    drops the events up to N itself (RESPONSES.md §7)."""
    original = post_stream(http, request("text", background=True))
    response_id = original[0]["response"]["id"]
    with client.responses.stream(response_id=response_id, starting_after=3) as stream:
        numbers = [event.sequence_number for event in stream]
        final = stream.get_final_response()
    assert numbers == list(range(4, len(original)))
    assert without_parsed(json.loads(final.to_json())) == rest(http, response_id)


def test_only_background_responses_stream_from_get(client: openai.OpenAI) -> None:
    foreground = client.responses.create(**request("text"))
    with pytest.raises(openai.BadRequestError, match="background=true"):
        list(client.responses.retrieve(foreground.id, stream=True))


# -- the function-call continuation -------------------------------------------------------------


def outputs_for(calls: list[Any]) -> list[Any]:
    return [{"type": "function_call_output", "call_id": call.call_id,
             "output": f"{call.name} ok"} for call in calls]


def test_function_calls_then_their_outputs(client: openai.OpenAI, http: httpx.Client) -> None:
    with client.responses.stream(**request("parallel_functions")) as stream:
        first = stream.get_final_response()
    calls = [item for item in first.output if item.type == "function_call"]
    assert [call.name for call in calls] == ["get_weather", "get_time"]
    with client.responses.stream(model="gpt-4o", previous_response_id=first.id, tools=TOOLS,
                                 input=outputs_for(calls)) as stream:
        types = [event.type for event in stream]
        second = stream.get_final_response()
    assert second.previous_response_id == first.id
    assert second.output_text == "Here is what I found. get_weather: get_weather ok. " \
                                 "get_time: get_time ok."
    assert "response.output_text.delta" in types
    assert without_parsed(json.loads(second.to_json())) == rest(http, second.id)
    items = client.responses.input_items.list(second.id, order="asc").data
    assert [(i.type, getattr(i, "call_id", None)) for i in items] == [
        ("function_call_output", call.call_id) for call in calls]
    for item in http.get(f"/responses/{second.id}/input_items").json()["data"]:
        ITEM.validate_python(item)


def test_outputs_with_the_calls_in_the_input(client: openai.OpenAI) -> None:
    """Without previous_response_id, the calls may come in the input themselves."""
    call: ResponseFunctionToolCallParam = {
        "type": "function_call", "call_id": "call_1", "name": "get_weather",
        "arguments": '{"city": "Oslo"}'}
    answer = client.responses.create(model="gpt-4o", metadata={"scenario": "parallel_functions"},
                                     input=[{"role": "user", "content": "Weather?"}, call,
                                            {"type": "function_call_output", "call_id": "call_1",
                                             "output": [{"type": "input_text", "text": "sunny"}]}])
    assert answer.output_text == "Here is what I found. get_weather: sunny."


def test_continuations_that_do_not_add_up(client: openai.OpenAI) -> None:
    first = client.responses.create(**request("parallel_functions"))
    calls = [item for item in first.output if item.type == "function_call"]
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"previous_response_id": first.id, "input": outputs_for(calls[:1])},
         f"No tool output found for function call {calls[1].call_id}.", None),
        ({"previous_response_id": first.id,
          "input": [*outputs_for(calls), {"type": "function_call_output", "call_id": "call_x",
                                          "output": "?"}]},
         "No tool call found for function call output with call_id call_x.", None),
        ({"previous_response_id": "resp_nope", "input": "hi"},
         "Previous response with id 'resp_nope' not found.", "previous_response_not_found"),
        ({"input": "hi"}, "The parallel_functions scenario needs at least one function tool",
         None),
    ]
    for body, message, code in cases:
        with pytest.raises(openai.BadRequestError) as raised:
            client.responses.create(model="gpt-4o", metadata={"scenario": "parallel_functions"},
                                    **body)
        assert message in raised.value.message and raised.value.code == code


def test_the_scenario_carries_over_with_previous_response_id(client: openai.OpenAI) -> None:
    first = client.responses.create(**request("reasoning"))
    second = client.responses.create(model="gpt-4o", previous_response_id=first.id,
                                     input="And now?")
    assert [item.type for item in second.output] == ["reasoning", "message"]


# -- input items, deletion, store ------------------------------------------------------------------


def test_input_items_are_listed_and_paginated(client: openai.OpenAI, http: httpx.Client) -> None:
    given: list[Any] = [{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": [{"type": "input_text", "text": "one"}]},
                        {"type": "message", "role": "assistant", "content": "two"},
                        {"role": "user", "content": "three"}]
    response = client.responses.create(model="gpt-4o", input=given)
    listed = http.get(f"/responses/{response.id}/input_items", params={"order": "asc"}).json()
    assert listed["object"] == "list" and listed["has_more"] is False
    items = listed["data"]
    for item in items:
        ITEM.validate_python(item)
    assert [(i["type"], i["role"], i["status"]) for i in items] == [
        ("message", "system", "completed"), ("message", "user", "completed"),
        ("message", "assistant", "completed"), ("message", "user", "completed")]
    assert items[0]["content"] == [{"type": "input_text", "text": "Be brief."}]
    assert items[2]["content"] == [{"type": "output_text", "text": "two", "annotations": []}]
    assert (listed["first_id"], listed["last_id"]) == (items[0]["id"], items[-1]["id"])
    # the SDK's pager, newest first by default, two at a time
    pager = client.responses.input_items.list(response.id, limit=2)
    assert [i.id for i in pager] == [i["id"] for i in reversed(items)]
    first_page = client.responses.input_items.list(response.id, limit=2, order="asc")
    assert first_page.has_more is True and [i.id for i in first_page.data] == [
        i["id"] for i in items[:2]]
    after = client.responses.input_items.list(response.id, order="asc", after=items[1]["id"])
    assert [i.id for i in after.data] == [i["id"] for i in items[2:]]
    string = client.responses.create(model="gpt-4o", input="just this")
    (only,) = client.responses.input_items.list(string.id).data
    assert only.type == "message" and only.role == "user"


def test_delete_then_nothing_is_there(client: openai.OpenAI, http: httpx.Client) -> None:
    response = client.responses.create(**request("text"))
    deleted = http.delete(f"/responses/{response.id}")
    assert deleted.json() == {"id": response.id, "object": "response", "deleted": True}
    # the SDK's delete returns None whatever the body (cast_to=NoneType): not raising is
    # what it says
    client.responses.delete(client.responses.create(**request("text")).id)
    for call in (lambda: client.responses.retrieve(response.id),
                 lambda: client.responses.delete(response.id),
                 lambda: client.responses.cancel(response.id),
                 lambda: client.responses.input_items.list(response.id)):
        with pytest.raises(openai.NotFoundError, match=response.id):
            call()


def test_store_false_is_not_kept(client: openai.OpenAI) -> None:
    response = client.responses.create(store=False, **request("text"))
    assert response.status == "completed" and response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError, match="not found"):
        client.responses.create(model="gpt-4o", input="x", previous_response_id=response.id)


def test_continuing_a_response_still_streaming_is_a_409(client: openai.OpenAI) -> None:
    """(held back by ``delay`` as in the cancel test above)"""
    with client.responses.create(stream=True, background=True, **request("text"),
                                 extra_headers={"X-Runflow-Fault": "delay=1"}) as stream:
        created = next(iter(stream))
        assert created.type == "response.created"
        with pytest.raises(openai.ConflictError, match="is still queued") as raised:
            client.responses.create(model="gpt-4o", input="next",
                                    previous_response_id=created.response.id)
        assert raised.value.status_code == 409
