"""drive_websocket / adrive_websocket: the function-call loop on one socket, against the
local server's WebSocket mode (real uvicorn on loopback) with the real openai-python
``client.responses.connect()``.

The proof of exactly-once: the two-turn tool loop is run once clean, then once per
frame index of that clean run with the server's ``cut`` fault at that index. Every run
must complete with one output per call id, which is checked on what the *server*
received (every socket's transcript), not only on what the loop says it did.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from runflow.adapters.drive import (
    DriveError,
    DrivenSocket,
    FunctionCallMade,
    RunTimeout,
    adrive_websocket,
    drive_websocket,
    function_tools,
)
from runflow.protocols.responses.websocket.transcript import Frame, check_frames
from runflow.server import websocket as websocket_server
from runflow.server.responses_scenarios import ResponseRequest, script_response
from runflow.server.scenarios import ScenarioOptions
from runflow.server.websocket import HasOptions, WebSocketMode
from runflow.server.websocket_runner import WebSocketServer
from runflow.testing import Server

RESULTS = {"get_weather": "18C, sunny", "get_time": "14:05"}
ANSWER = "Here is what I found. get_weather: 18C, sunny. get_time: 14:05."
TOOLS_LOOP: dict[str, Any] = {"model": "gpt-4o", "input": "Weather?",
                              "metadata": {"scenario": "parallel_functions"}}


class Tools:
    """get_weather / get_time that record every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def mapping(self) -> dict[str, Callable[..., Any]]:
        def get_weather(city: str) -> str:
            """Weather in a city."""
            self.calls.append("get_weather")
            return RESULTS["get_weather"]

        def get_time(timezone: str) -> str:
            """Time in a timezone."""
            self.calls.append("get_time")
            return RESULTS["get_time"]

        return {"get_weather": get_weather, "get_time": get_time}


@pytest.fixture(scope="module")
def server() -> Iterator[WebSocketServer]:
    with WebSocketServer() as running:
        yield running


def fresh(server: WebSocketServer) -> None:
    server.mode.transcripts.clear()
    server.mode.faulted.clear()


def run(server: WebSocketServer, is_async: bool, tools: Tools, **kwargs: Any) -> DrivenSocket:
    args: dict[str, Any] = {**TOOLS_LOOP, "tools": tools.mapping(), "idle_timeout": 10,
                            **kwargs}
    if is_async:
        async def go() -> DrivenSocket:
            async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test",
                                          max_retries=0) as ac:
                return await adrive_websocket(lambda: ac.responses.connect(), **args)
        return asyncio.run(go())
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        return drive_websocket(lambda: client.responses.connect(), **args)


def consumed(transcripts: list[list[Frame]]) -> tuple[dict[str, int], set[str]]:
    """What the server took: for each call id, how many *completed* responses had its
    ``function_call_output`` in their create's input; and the call ids the completed
    responses asked for. Each socket runs one lane (the default), so creates and
    responses pair up in order; a create refused with an ``error`` pairs with it."""
    answered: dict[str, int] = {}
    asked: set[str] = set()
    for frames in transcripts:
        queued: list[dict[str, Any]] = []
        running: dict[str, dict[str, Any]] = {}
        for frame in frames:
            event = json.loads(frame.data)
            if frame.type == "send":
                queued.append(event)
                continue
            kind = event["type"]
            if kind == "response.created":
                running[event["response"]["id"]] = queued.pop(0)
            elif kind == "error" and not running:
                queued.pop(0)
            elif kind == "response.completed":
                create = running.pop(event["response"]["id"])
                ids = [i["call_id"] for i in create["input"]
                       if i.get("type") == "function_call_output"]
                assert len(ids) == len(set(ids)), "one create answered a call id twice"
                for call_id in ids:
                    answered[call_id] = answered.get(call_id, 0) + 1
                asked |= {i["call_id"] for i in event["response"]["output"]
                          if i["type"] == "function_call"}
            elif kind in ("response.incomplete", "response.failed"):
                running.pop(event["response"]["id"])
    return answered, asked


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_two_turn_tool_loop_completes_on_one_socket(server: WebSocketServer,
                                                     is_async: bool) -> None:
    fresh(server)
    tools = Tools()
    result = run(server, is_async, tools)
    assert result.response.status == "completed" and result.text == ANSWER
    assert result.reconnects == 0 and len(server.mode.transcripts) == 1
    assert result.violations == [] and [t.violations for t in result.turns] == [[], []]
    assert [f.status for f in result.flows] == ["completed", "completed"]
    assert sorted(tools.calls) == ["get_time", "get_weather"]
    # the second turn sent only the new items, chained on the first response
    creates = [json.loads(f.data) for f in server.mode.transcripts[0] if f.type == "send"]
    first, second = result.responses
    assert second.previous_response_id == first.id
    assert creates[1]["previous_response_id"] == first.id
    assert [i["type"] for i in creates[1]["input"]] == ["function_call_output"] * 2
    assert [(c.name, c.output, c.response_id) for c in result.tool_calls] == [
        ("get_weather", RESULTS["get_weather"], first.id),
        ("get_time", RESULTS["get_time"], first.id)]
    # the loop's transcript is what the server saw, and it passes check
    assert [(f.type, f.data) for f in result.frames[0]] == [
        (f.type, f.data) for f in server.mode.transcripts[0]]
    assert check_frames(result.frames[0]).violations == []
    answered, asked = consumed(server.mode.transcripts)
    assert answered == dict.fromkeys(asked, 1) and len(asked) == 2


def clean_transcript(server: WebSocketServer) -> list[Frame]:
    fresh(server)
    run(server, False, Tools())
    [frames] = server.mode.transcripts
    return list(frames)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_exactly_once_under_a_cut_socket_at_every_frame(server: WebSocketServer,
                                                        is_async: bool) -> None:
    """The cut fault ends the socket just before the first server frame at or after
    index ``at``: before each response.created, inside each response, between the
    turns. Every run completes on a second socket; each call id is answered by exactly
    one completed response; no tool runs twice; the only violation is the cut
    response's ``truncated`` (or, cut before its response.created, the create's
    ``create_unanswered``), at the frame where the cut fell."""
    clean = clean_transcript(server)
    kinds = [json.loads(f.data)["type"] for f in clean]
    assert len(clean) == 37
    for at in range(len(clean)):
        fresh(server)
        server.mode.inject("cut", at=at)
        tools = Tools()
        result = run(server, is_async, tools)
        where = f"cut at {at}"
        assert result.response.status == "completed" and result.text == ANSWER, where
        assert result.reconnects == 1 and len(server.mode.transcripts) == 2, where
        [(_, cut_at)] = server.mode.faulted
        cut_frame = next(i for i in range(at, len(clean)) if clean[i].type == "receive")
        in_flight = kinds[cut_frame] != "response.created"  # else: a create unanswered
        owed = "truncated" if in_flight else "create_unanswered"
        assert [(n, v.code, v.index) for n, v in result.violations] == (
            [(0, owed, cut_at)]), where
        answered, asked = consumed(server.mode.transcripts)
        assert len(asked) == 2 and answered == dict.fromkeys(asked, 1), where
        assert sorted(tools.calls) == ["get_time", "get_weather"], where
        assert sorted(c.call_id for c in result.tool_calls) == sorted(asked), where
        # each socket's frames in the result are what that socket carried
        assert [[f.data for f in frames] for frames in result.frames] == [
            [f.data for f in frames] for frames in server.mode.transcripts], where


def test_a_continuation_on_a_new_socket_falls_back_to_the_full_input(
        server: WebSocketServer) -> None:
    """Cut between the turns: the new socket has no connection memory, and the server
    cannot load the first response (``persist`` off: a stored response is found on a
    new socket otherwise), the chained create is refused ``previous_response_not_found``,
    and the full input is sent."""
    clean = clean_transcript(server)
    second_create = [i for i, f in enumerate(clean) if f.type == "send"][1]
    fresh(server)
    server.mode.inject("cut", at=second_create)
    server.mode.persist = False
    try:
        result = run(server, False, Tools())
    finally:
        server.mode.persist = True
    creates = [json.loads(f.data) for f in server.mode.transcripts[1] if f.type == "send"]
    errors = [json.loads(f.data)["error"]["code"] for f in server.mode.transcripts[1]
              if json.loads(f.data)["type"] == "error"]
    assert errors == ["previous_response_not_found"]
    chained, full = creates
    assert chained["previous_response_id"] == result.responses[0].id
    assert "previous_response_id" not in full
    assert [i["type"] for i in full["input"]] == [
        "message", "function_call", "function_call", "function_call_output",
        "function_call_output"]
    assert result.text == ANSWER


def test_store_false_sends_the_full_input_at_once_after_a_cut(
        server: WebSocketServer) -> None:
    clean = clean_transcript(server)
    second_create = [i for i, f in enumerate(clean) if f.type == "send"][1]
    fresh(server)
    server.mode.inject("cut", at=second_create)
    result = run(server, False, Tools(), store=False)
    [full] = [json.loads(f.data) for f in server.mode.transcripts[1] if f.type == "send"]
    assert "previous_response_id" not in full and len(full["input"]) == 5
    assert result.text == ANSWER  # the cut socket lost the second turn's create
    assert [(n, v.code) for n, v in result.violations] == [(0, "create_unanswered")]


class Scripted(WebSocketMode):
    """A WebSocket endpoint that answers the n-th create with ``scripts[n]`` (no
    script: never answers) and keeps every create it received."""

    def __init__(self, scripts: list[list[Any]]) -> None:
        super().__init__()
        self.scripts = scripts
        self.creates: list[dict[str, Any]] = []

    def routes(self, backend: HasOptions) -> list[BaseRoute]:
        return [WebSocketRoute("/v1/responses", self.endpoint)]

    async def endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                self.creates.append(json.loads(await websocket.receive_text()))
                for event in self.scripts.pop(0) if self.scripts else []:
                    await websocket.send_text(json.dumps(event))
        except WebSocketDisconnect:
            pass


def scripted_server(scripts: list[list[Any]]) -> tuple[Server, Scripted]:
    server = Server()
    mode = Scripted(scripts)
    server.backend.websocket = mode
    return server, mode


@pytest.mark.parametrize("bound", ["deadline", "idle_timeout"])
def test_a_server_that_never_answers_ends_in_run_timeout(bound: str) -> None:
    server, mode = scripted_server([])
    bounds: dict[str, Any] = {"deadline": 0.3, "idle_timeout": None} if bound == "deadline" \
        else {"deadline": None, "idle_timeout": 0.3}
    with server, openai.OpenAI(base_url=server.base_url, api_key="test",
                               max_retries=0) as client:
        with pytest.raises(RunTimeout, match=bound) as caught:
            drive_websocket(lambda: client.responses.connect(), tools=Tools().mapping(),
                            **TOOLS_LOOP, **bounds)
    assert "turn 0: no response created yet" in str(caught.value)
    assert [c["type"] for c in mode.creates] == ["response.create"]


def test_async_idle_timeout_on_a_silent_server() -> None:
    server, mode = scripted_server([])

    async def go() -> None:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test",
                                      max_retries=0) as ac:
            await adrive_websocket(lambda: ac.responses.connect(), tools=Tools().mapping(),
                                   idle_timeout=0.3, **TOOLS_LOOP)

    with server, pytest.raises(RunTimeout, match="idle_timeout"):
        asyncio.run(go())
    assert len(mode.creates) == 1


def repeating_scripts() -> list[list[dict[str, Any]]]:
    """The parallel_functions response with its second call (get_time) given the
    call_id of the first (get_weather), then a text answer."""
    options = ScenarioOptions()
    body = {"model": "gpt-4o", "input": "Weather?", "metadata": {},
            "tools": function_tools(Tools().mapping())}
    first = script_response("parallel_functions", ResponseRequest(body, options))
    weather, time_ = first[-1]["response"]["output"]
    repeated = json.loads(json.dumps(first).replace(time_["call_id"], weather["call_id"]))
    answer = script_response("text", ResponseRequest({**body, "input": []}, options))
    return [repeated, answer]


def test_a_call_id_asked_twice_in_one_response_is_answered_once() -> None:
    server, mode = scripted_server(repeating_scripts())
    tools = Tools()
    with server, openai.OpenAI(base_url=server.base_url, api_key="test",
                               max_retries=0) as client:
        result = drive_websocket(lambda: client.responses.connect(), tools=tools.mapping(),
                                 **TOOLS_LOOP)
    weather, time_ = result.turns[0].record.flow.function_calls
    assert weather.call_id == time_.call_id and time_.name == "get_time"
    assert tools.calls == ["get_weather"]
    assert mode.creates[1]["input"] == [{"type": "function_call_output",
                                         "call_id": weather.call_id,
                                         "output": RESULTS["get_weather"]}]
    assert result.tool_calls == [FunctionCallMade(weather.call_id, "get_weather",
                                                  weather.arguments, RESULTS["get_weather"],
                                                  result.responses[0].id)]
    assert result.repeated_calls == [time_]
    assert result.response.status == "completed"
    # the repeat is reported at the second call's output_item.done, in turn 0
    assert [(turn, v.code, v.event) for turn, v in result.violations] == [
        (0, "duplicate_call_id", "response.output_item.done")]


def test_steering_both_turns_commits_both_steers(server: WebSocketServer) -> None:
    """Turn 0 is held until its steer arrives; it asks for calls, so the accepted steer
    goes pending after response.completed and the loop's continuation commits it.
    Turn 1 (the answer) is steered too: it ends ``incomplete`` (steered) and the
    automatic successor commits that steer and ends the turn."""
    fresh(server)
    result = run(server, False, Tools(),
                 metadata={"scenario": "parallel_functions", "hold": "steer"},
                 steer={0: ["Also in Rome?"], 1: ["In Celsius, please."]})
    assert result.response.status == "completed" and result.violations == []
    first, second = result.turns
    assert first.record.ended == "response.completed"
    assert [r.ended for _, r in second.records] == ["response.incomplete",
                                                   "response.completed"]
    assert [s.target for s in result.steers] == [first.record.id, second.records[0][1].id]
    assert [(s.state, s.committed_by) for s in result.steers] == [
        ("committed", second.records[0][1].id), ("committed", second.record.id)]
    assert result.steers[0].required_input is not None
    assert check_frames(result.frames[0]).violations == []


def test_a_steer_cut_with_its_socket_is_unknown_and_not_sent_again(
        server: WebSocketServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn 0 is held until its steer; the socket is cut just after the steer was
    accepted (frames: create, created, in_progress and the steer in either order,
    accepted at #4; the cut falls before #5). The steer's outcome is unknown (not proof
    of rejection), so the loop does not send it again: the turn is asked again on a new
    socket without it (where the hold, waiting for no steer, is cut short)."""
    monkeypatch.setattr(websocket_server, "HOLD_SECONDS", 2.0)
    fresh(server)
    server.mode.inject("cut", at=5)
    result = run(server, False, Tools(), deadline=30, steer={0: "Also in Rome?"},
                 metadata={"scenario": "parallel_functions", "hold": "steer"})
    kinds = [json.loads(f.data)["type"] for f in server.mode.transcripts[0]]
    assert kinds[4] == "response.steer.accepted" and len(kinds) == 5
    [steer] = result.steers
    assert (steer.state, steer.id, steer.committed_by) == ("unknown", steer.id, None)
    assert steer.id is not None  # it had been accepted
    assert result.reconnects == 1 and result.response.status == "completed"
    second = [json.loads(f.data)["type"] for f in server.mode.transcripts[1]
              if f.type == "send"]
    assert second == ["response.create", "response.create"]  # no steer on the new socket
    [(_, cut_at)] = server.mode.faulted
    assert [(n, v.code, v.index) for n, v in result.violations] == [(0, "truncated", cut_at)]


def text_script() -> list[dict[str, Any]]:
    body = {"model": "gpt-4o", "input": "Hi", "metadata": {}}
    return script_response("text", ResponseRequest(body, ScenarioOptions()))


def test_a_frame_that_is_no_event_is_a_violation_not_an_exception() -> None:
    """Remote input is hostile: a frame holding a JSON string is reported at its index
    (``malformed_frame``) and the loop reads on to the response."""
    server, _ = scripted_server([["not an event", *text_script()]])
    with server, openai.OpenAI(base_url=server.base_url, api_key="test",
                               max_retries=0) as client:
        result = drive_websocket(lambda: client.responses.connect(), tools={},
                                 model="gpt-4o", input="Hi", idle_timeout=10)
    assert result.response.status == "completed"
    assert [(n, v.code, v.index) for n, v in result.violations] == [(0, "malformed_frame", 1)]


@pytest.mark.parametrize("error", [{"code": "model_mismatch", "message": "no"}, 5, None])
def test_a_refused_create_ends_in_drive_error(error: Any) -> None:
    """An error no response owns refuses the create: DriveError naming its code (any
    shape of ``error`` reads as one), not a hang and not another exception."""
    server, mode = scripted_server([[{"type": "error", "error": error}]])
    with server, openai.OpenAI(base_url=server.base_url, api_key="test",
                               max_retries=0) as client:
        with pytest.raises(DriveError, match=r"refused response\.create") as caught:
            drive_websocket(lambda: client.responses.connect(), tools={}, model="gpt-4o",
                            input="Hi", idle_timeout=10)
    assert ("model_mismatch" in str(caught.value)) == isinstance(error, dict)
    assert len(mode.creates) == 1


def test_a_socket_lost_again_and_again_ends_after_max_reconnects() -> None:
    """The server's connection time limit (0.3 s) ends every socket while the response
    is held: the loop reopens the socket ``max_reconnects`` times, then raises."""
    with WebSocketServer(max_seconds=0.3) as limited, openai.OpenAI(
            base_url=limited.base_url, api_key="test", max_retries=0) as client:
        with pytest.raises(DriveError, match=r"lost or would not open 3 times "
                                             r"\(max_reconnects=2\)"):
            drive_websocket(lambda: client.responses.connect(), tools=Tools().mapping(),
                            max_reconnects=2, deadline=30, **{
                                **TOOLS_LOOP, "metadata": {"scenario": "parallel_functions",
                                                           "hold": "steer"}})
        codes = [[json.loads(f.data).get("error", {}).get("code") for f in frames
                  if f.type == "receive"] for frames in limited.mode.transcripts]
    assert len(codes) == 3
    assert all(c[-1] == "websocket_connection_limit_reached" for c in codes), codes
