"""``drive_response`` / ``adrive_response`` over real loopback HTTP with the real openai
clients against :class:`runflow.testing.Server` (the ``parallel_functions``
scenario: two function calls, then a message built from their outputs).

Checked from the server's side: every ``POST /v1/responses`` is counted (before the
server decides on it), and the continuation's input items are read back over
REST. Cuts fall in the first response and in the continuation, foreground
(followed over REST) and background (resumed with ``starting_after``); deadline
and idle timeout use the ``delay`` fault; tool errors, unknown tools,
``max_rounds`` and creates the server may have taken end in typed errors. A
server whose resumes only replay (the ``rest.resume`` break, every stream cut)
and a response that asks twice for one ``call_id`` (a scripted server) are
issue 24's.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response

from runflow import (
    Code,
    DriveError,
    DrivenResponse,
    FunctionCallMade,
    RunTimeout,
    ToolError,
    UnknownTool,
    adrive_response,
    drive_response,
)
from runflow.adapters.drive import function_tools
from runflow.adapters.drive.responses import STALLED_RESUMES
from runflow.server.responses_scenarios import ResponseRequest, script_response
from runflow.server.scenarios import ScenarioOptions
from runflow.testing import Server

RESULTS = {"get_weather": "18C, sunny", "get_time": "14:05"}
ARGS = {"get_weather": {"city": "Paris"}, "get_time": {"timezone": "Europe/Paris"}}
ANSWER = "Here is what I found. get_weather: 18C, sunny. get_time: 14:05."
METADATA = {"scenario": "parallel_functions"}
FIRST_EVENTS = 17  # events of the first response's stream (checked below)
CONTINUATION_EVENTS = 18  # events of the continuation with RESULTS as outputs
FAST: dict[str, Any] = {"poll_interval": 0.005, "poll_timeout": 5}


class Spied:
    """The test server, with every create request's body kept (before the server
    decides whether to accept it)."""

    def __init__(self) -> None:
        self.server = Server()
        self.creates: list[dict[str, Any]] = []
        api = self.server.backend.responses
        original = api.create_response

        async def counting(request: Request) -> Response:
            self.creates.append(json.loads(await request.body()))
            return await original(request)

        api.create_response = counting  # type: ignore[method-assign]

    def continuations(self, previous_id: str) -> list[dict[str, Any]]:
        return [b for b in self.creates if b.get("previous_response_id") == previous_id]


@pytest.fixture(scope="module")
def spied() -> Iterator[Spied]:
    s = Spied()
    with s.server:
        yield s


@pytest.fixture(autouse=True)
def _fresh_counts(spied: Spied) -> Iterator[None]:
    spied.creates.clear()
    yield
    spied.server.clear_faults()


@pytest.fixture(scope="module")
def client(spied: Spied) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=spied.server.base_url, api_key="test", max_retries=0,
                       timeout=20) as c:
        yield c


def aclient(spied: Spied) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=spied.server.base_url, api_key="test", max_retries=0,
                              timeout=20)


class Tools:
    """get_weather / get_time that record every call; ``on_call`` runs at the first
    call (to inject a fault into the next streamed response: the continuation)."""

    def __init__(self, on_call: Callable[[], None] | None = None, *,
                 is_async: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._on_call = on_call
        self._lock = threading.Lock()
        self.is_async = is_async

    def _record(self, name: str, **args: Any) -> str:
        with self._lock:
            first = not self.calls
            self.calls.append((name, args))
        if first and self._on_call is not None:
            self._on_call()
        return RESULTS[name]

    def mapping(self) -> dict[str, Callable[..., Any]]:
        if self.is_async:
            async def get_weather(city: str) -> str:
                """Weather in a city."""
                await asyncio.sleep(0)
                return self._record("get_weather", city=city)

            async def get_time(timezone: str) -> str:
                await asyncio.sleep(0)
                return self._record("get_time", timezone=timezone)

            return {"get_weather": get_weather, "get_time": get_time}

        def sync_weather(city: str) -> str:
            """Weather in a city."""
            return self._record("get_weather", city=city)

        def sync_time(timezone: str) -> str:
            return self._record("get_time", timezone=timezone)

        return {"get_weather": sync_weather, "get_time": sync_time}


def run(client: openai.OpenAI, tools: Tools, **extra: Any) -> DrivenResponse:
    return drive_response(client, tools=tools.mapping(), model="gpt-4o", input="Weather?",
                          metadata=METADATA, **FAST, **extra)


async def arun(spied: Spied, tools: Tools, **extra: Any) -> DrivenResponse:
    async with aclient(spied) as ac:
        return await adrive_response(ac, tools=tools.mapping(), model="gpt-4o",
                                     input="Weather?", metadata=METADATA, **FAST, **extra)


def check_answered_once(spied: Spied, client: openai.OpenAI, result: DrivenResponse,
                        tools: Tools) -> None:
    """Two responses; each tool called once; one continuation carrying both outputs;
    the final text; each final response equal to REST's."""
    assert sorted(tools.calls) == sorted(ARGS.items())
    first, second = result.responses
    asked = [item for item in first.output if item.type == "function_call"]
    assert [c.name for c in asked] == ["get_weather", "get_time"]
    assert len(spied.creates) == 2 and spied.creates[0].get("previous_response_id") is None
    (continuation,) = spied.continuations(first.id)
    assert [(i["type"], i["call_id"], i["output"]) for i in continuation["input"]] == [
        ("function_call_output", c.call_id, RESULTS[c.name])
        for c in asked]
    stored = client.responses.input_items.list(second.id, order="asc").data
    assert [(i.type, getattr(i, "call_id", None), getattr(i, "output", None))
            for i in stored] == [("function_call_output", c.call_id,
                                  RESULTS[c.name]) for c in asked]
    assert result.tool_calls == [
        FunctionCallMade(c.call_id, c.name, c.arguments, RESULTS[c.name],
                         first.id) for c in asked]
    assert second.previous_response_id == first.id
    assert result.response is second and result.text == ANSWER
    assert second.status == "completed"
    for response in result.responses:
        assert response == client.responses.retrieve(response.id)
    assert [f.response_id for f in result.flows] == [first.id, second.id]


# -- the loop ---------------------------------------------------------------------------------


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
def test_drive_response_answers_both_calls_once(spied: Spied, client: openai.OpenAI,
                                                background: bool) -> None:
    tools = Tools()
    result = run(client, tools, background=background)
    check_answered_once(spied, client, result, tools)
    assert [(f.ending, f.violations) for f in result.flows] == [("done", []), ("done", [])]
    assert [f.event_count for f in result.flows] == (
        [FIRST_EVENTS + 1, CONTINUATION_EVENTS + 1] if background
        else [FIRST_EVENTS, CONTINUATION_EVENTS])  # a background stream has response.queued
    assert all(f.response == r for f, r in zip(result.flows, result.responses, strict=True))


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
async def test_adrive_response_answers_both_calls_once(spied: Spied, client: openai.OpenAI,
                                                       background: bool) -> None:
    tools = Tools(is_async=True)
    result = await arun(spied, tools, background=background)
    check_answered_once(spied, client, result, tools)
    assert [(f.ending, f.violations) for f in result.flows] == [("done", []), ("done", [])]


def test_the_tool_definitions_are_read_from_the_callables(client: openai.OpenAI) -> None:
    result = run(client, Tools())
    sent = [t.model_dump(exclude_none=True) for t in result.responses[0].tools]
    assert sent == function_tools(Tools().mapping())
    assert sent[0] == {"type": "function", "name": "get_weather", "strict": False,
                       "description": "Weather in a city.",
                       "parameters": {"type": "object", "properties": {
                           "city": {"type": "string"}}, "required": ["city"]}}


def test_a_response_without_calls_is_the_only_one(spied: Spied, client: openai.OpenAI) -> None:
    tools = Tools()
    result = drive_response(client, tools=tools.mapping(), model="gpt-4o", input="hi",
                            metadata={"scenario": "text"})
    assert tools.calls == [] and len(spied.creates) == 1 and result.tool_calls == []
    assert result.text == result.flows[0].text != ""


# -- cuts: followed up, never sent again ---------------------------------------------------------


CUTS = [1, 3, 9, FIRST_EVENTS - 1]  # the last one: before the terminal event


@pytest.mark.parametrize("where", ["first", "continuation"])
@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
@pytest.mark.parametrize("k", CUTS)
def test_a_cut_anywhere_answers_once(spied: Spied, client: openai.OpenAI, k: int, where: str,
                                     background: bool) -> None:
    if where == "first":
        spied.server.inject(f"cut_after={k}")
        tools = Tools()
    else:
        tools = Tools(lambda: spied.server.inject(f"cut_after={k}"))
    result = run(client, tools, background=background)
    check_answered_once(spied, client, result, tools)
    cut = result.flows[0 if where == "first" else 1]
    assert [v.code for v in cut.violations] == [Code.TRUNCATED]
    assert cut.status == "completed"  # resumed, or recovered from REST
    assert cut.ending == ("done" if background else "truncated")
    if background:  # resumed after its last event: nothing replayed, its stream whole
        assert cut.replayed == 0 and cut.response == result.responses[result.flows.index(cut)]


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
async def test_async_cut_in_the_continuation_answers_once(spied: Spied, client: openai.OpenAI,
                                                          background: bool) -> None:
    tools = Tools(lambda: spied.server.inject("cut_after=9"), is_async=True)
    result = await arun(spied, tools, background=background)
    check_answered_once(spied, client, result, tools)
    assert result.flows[1].violations[0].code == Code.TRUNCATED


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
def test_a_continuation_cut_before_it_named_its_response_is_not_sent_again(
        spied: Spied, client: openai.OpenAI, background: bool) -> None:
    """The server took it (the count), the client saw nothing: no way to read it back."""
    tools = Tools(lambda: spied.server.inject("cut_after=0"))
    with pytest.raises(DriveError, match="before it named its response"):
        run(client, tools, background=background)
    assert sorted(tools.calls) == sorted(ARGS.items())
    assert len(spied.creates) == 2 and spied.creates[1]["previous_response_id"]


async def test_async_cut_before_it_named_its_response(spied: Spied) -> None:
    tools = Tools(lambda: spied.server.inject("cut_after=0"), is_async=True)
    with pytest.raises(DriveError, match="before it named its response"):
        await arun(spied, tools)
    assert len(spied.creates) == 2


class Failing:
    """Answers every POST with ``status`` (a JSON error) and counts them."""

    def __init__(self, status: int) -> None:
        self.posts = 0
        failing = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                failing.posts += 1
                self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.dumps({"error": {"message": f"failed with {status}",
                                             "type": "server_error", "param": None,
                                             "code": None}}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Failing:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()


@pytest.mark.parametrize(("status", "raised"), [(500, DriveError),
                                                (400, openai.BadRequestError)])
def test_a_failed_create_is_sent_once_despite_the_clients_retries(
        status: int, raised: type[Exception]) -> None:
    """The client would retry a 500 three times; the drive sends it once and says the
    server may have taken it. A 400 was refused: the SDK's error, as it is."""
    with Failing(status) as failing, openai.OpenAI(base_url=failing.base_url, api_key="test",
                                                   max_retries=3) as c:
        with pytest.raises(raised) as info:
            drive_response(c, tools={}, model="gpt-4o", input="hi")
        assert failing.posts == 1
    if status == 500:
        assert "may have taken it" in str(info.value)
        assert isinstance(info.value.__cause__, openai.InternalServerError)


async def test_async_failed_create_is_sent_once() -> None:
    with Failing(503) as failing:
        async with openai.AsyncOpenAI(base_url=failing.base_url, api_key="test",
                                      max_retries=3) as c:
            with pytest.raises(DriveError, match="may have taken it"):
                await adrive_response(c, tools={}, model="gpt-4o", input="hi")
        assert failing.posts == 1


# -- bounds -------------------------------------------------------------------------------------


SLOW = {"extra_headers": {"X-Runflow-Fault": "delay=5"}}
BOUNDS = [({"idle_timeout": 0.3}, "idle_timeout"), ({"deadline": 0.3}, "deadline of 0.3s")]


@pytest.mark.parametrize(("bound", "says"), BOUNDS, ids=["idle_timeout", "deadline"])
def test_drive_response_bounds(client: openai.OpenAI, bound: dict[str, float],
                               says: str) -> None:
    tools = Tools()
    with pytest.raises(RunTimeout, match=says):
        run(client, tools, **SLOW, **bound)
    assert tools.calls == []


@pytest.mark.parametrize(("bound", "says"), BOUNDS, ids=["idle_timeout", "deadline"])
async def test_adrive_response_bounds(spied: Spied, bound: dict[str, float],
                                      says: str) -> None:
    tools = Tools(is_async=True)
    with pytest.raises(RunTimeout, match=says):
        await arun(spied, tools, **SLOW, **bound)
    assert tools.calls == []


def test_the_deadline_holds_in_the_continuation(spied: Spied, client: openai.OpenAI) -> None:
    tools = Tools(lambda: spied.server.inject("delay=5"))
    with pytest.raises(RunTimeout, match="deadline"):
        run(client, tools, deadline=1.5)
    assert len(tools.calls) == 2 and len(spied.creates) == 2


# -- tools and rounds -----------------------------------------------------------------------------


def test_an_unknown_tool_raises_before_any_tool_runs(spied: Spied,
                                                    client: openai.OpenAI) -> None:
    tools = Tools()
    weather_only = {"get_weather": tools.mapping()["get_weather"]}
    with pytest.raises(UnknownTool, match="get_time") as raised:
        drive_response(client, tools=weather_only, tool_params=function_tools(tools.mapping()),
                       model="gpt-4o", input="hi", metadata=METADATA)
    assert isinstance(raised.value, DriveError)
    assert tools.calls == [] and len(spied.creates) == 1


async def test_async_unknown_tool(spied: Spied) -> None:
    tools = Tools(is_async=True)
    async with aclient(spied) as ac:
        with pytest.raises(UnknownTool):
            await adrive_response(ac, tools={}, tool_params=function_tools(tools.mapping()),
                                  model="gpt-4o", input="hi", metadata=METADATA)
    assert len(spied.creates) == 1


def broken(city: str) -> str:
    raise OSError(f"no weather for {city}")


def test_a_raising_tool_raises_tool_error(spied: Spied, client: openai.OpenAI) -> None:
    tools = {**Tools().mapping(), "get_weather": broken}
    with pytest.raises(ToolError, match="no weather for Paris") as raised:
        drive_response(client, tools=tools, model="gpt-4o", input="hi", metadata=METADATA)
    assert isinstance(raised.value.__cause__, OSError)
    assert len(spied.creates) == 1  # nothing was sent for the other call either


def test_submit_error_sends_the_error_as_the_output(spied: Spied, client: openai.OpenAI) -> None:
    tools = {**Tools().mapping(), "get_weather": broken}
    result = drive_response(client, tools=tools, model="gpt-4o", input="hi", metadata=METADATA,
                            on_tool_error="submit_error")
    error = json.dumps({"error": "OSError: no weather for Paris"})
    assert [c.output for c in result.tool_calls] == [error, RESULTS["get_time"]]
    assert result.text == f"Here is what I found. get_weather: {error}. get_time: 14:05."


async def test_async_tool_timeout_is_a_tool_error(spied: Spied) -> None:
    async def stuck(city: str) -> str:
        await asyncio.sleep(5)
        return "late"

    tools = {**Tools(is_async=True).mapping(), "get_weather": stuck}
    async with aclient(spied) as ac:
        with pytest.raises(ToolError, match="TimeoutError"):
            await adrive_response(ac, tools=tools, model="gpt-4o", input="hi",
                                  metadata=METADATA, tool_timeout=0.05)
    assert len(spied.creates) == 1


def test_max_rounds(spied: Spied, client: openai.OpenAI) -> None:
    tools = Tools()
    with pytest.raises(DriveError, match="max_rounds"):
        run(client, tools, max_rounds=1)
    assert tools.calls == [] and len(spied.creates) == 1


def test_bad_arguments_are_refused_before_any_request(spied: Spied,
                                                      client: openai.OpenAI) -> None:
    cases: list[tuple[dict[str, Any], type[Exception]]] = [
        ({"stream": True}, TypeError), ({"max_rounds": 0}, ValueError),
        ({"on_tool_error": "cancel"}, ValueError)]
    for extra, error in cases:
        with pytest.raises(error):
            run(client, Tools(), **extra)
    assert spied.creates == []


# -- issue 24: progress is a new sequence number; one output per call_id --------------------------


REPLAYING = {"X-Runflow-Break": "rest.resume"}
"""Every resume starts again at sequence_number 0, whatever starting_after says."""


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_resumes_that_only_replay_end_in_a_drive_error(
        spied: Spied, monkeypatch: pytest.MonkeyPatch, is_async: bool) -> None:
    """Every stream is cut after 3 events and every resume replays from 0: each resume
    brings 3 events, none new. The loop stops after STALLED_RESUMES such resumes,
    saying why, instead of resuming for ever (the deadline only bounds a regression)."""
    resumes: list[str | None] = []
    api = spied.server.backend.responses
    original = api.get_response

    async def counting(request: Request) -> Response:
        if request.query_params.get("stream") == "true":
            resumes.append(request.query_params.get("starting_after"))
        return await original(request)

    monkeypatch.setattr(api, "get_response", counting)
    spied.server.inject("cut_after=3", always=True)
    tools = Tools(is_async=is_async)
    kwargs: dict[str, Any] = {"tools": tools.mapping(), "model": "gpt-4o", "input": "Weather?",
                              "metadata": METADATA, "background": True, "deadline": 5, **FAST}
    options: dict[str, Any] = {"base_url": spied.server.base_url, "api_key": "test",
                               "max_retries": 0, "default_headers": REPLAYING}
    with pytest.raises(DriveError) as raised:
        if is_async:
            async with openai.AsyncOpenAI(**options) as ac:
                await adrive_response(ac, **kwargs)
        else:
            with openai.OpenAI(**options) as c:
                drive_response(c, **kwargs)
    assert not isinstance(raised.value, RunTimeout)
    assert resumes == ["2"] * STALLED_RESUMES  # the cursor never moved
    assert re.fullmatch(
        r"response resp_\w+: 2 resumes in a row after sequence_number 2 brought no new "
        r"event, only 6 replayed one\(s\): the server does not resume after starting_after; "
        r"stopped with the response still 'in_progress'", str(raised.value))
    assert tools.calls == [] and len(spied.creates) == 1


class Scripted:
    """Answers each ``POST /v1/responses`` with the next of ``streams`` (the events of
    one response each, sent whole) and keeps the request bodies."""

    def __init__(self, streams: list[list[dict[str, Any]]]) -> None:
        self.bodies: list[dict[str, Any]] = []
        bodies, queue = self.bodies, list(streams)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                for event in queue.pop(0):
                    self.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
                                     .encode())

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Scripted:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()


def repeating_streams() -> list[list[dict[str, Any]]]:
    """The ``parallel_functions`` response with its second call (get_time) given the
    call_id of the first (get_weather), then a text answer."""
    options = ScenarioOptions()
    body = {"model": "gpt-4o", "input": "Weather?", "metadata": {},
            "tools": function_tools(Tools().mapping())}
    first = script_response("parallel_functions", ResponseRequest(body, options))
    weather, time_ = first[-1]["response"]["output"]
    repeated = json.loads(json.dumps(first).replace(time_["call_id"], weather["call_id"]))
    answer = script_response("text", ResponseRequest({**body, "input": []}, options))
    return [repeated, answer]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_call_id_asked_twice_is_answered_once(is_async: bool) -> None:
    """One output per call_id, the first call's; the repeat is not run, and is reported
    in ``repeated_calls``, and the flow reports it as ``duplicate_call_id``."""
    tools = Tools(is_async=is_async)
    with Scripted(repeating_streams()) as server:
        kwargs: dict[str, Any] = {"tools": tools.mapping(), "model": "gpt-4o",
                                  "input": "Weather?", **FAST}
        if is_async:
            async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test",
                                          max_retries=0) as ac:
                result = await adrive_response(ac, **kwargs)
        else:
            with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as c:
                result = drive_response(c, **kwargs)
    weather, time_ = result.flows[0].function_calls
    assert weather.call_id == time_.call_id and (weather.name, time_.name) == (
        "get_weather", "get_time")
    assert tools.calls == [("get_weather", ARGS["get_weather"])]
    assert [item for body in server.bodies[1:] for item in body["input"]] == [
        {"type": "function_call_output", "call_id": weather.call_id,
         "output": RESULTS["get_weather"]}]
    assert result.tool_calls == [FunctionCallMade(weather.call_id, "get_weather",
                                                  weather.arguments, RESULTS["get_weather"],
                                                  result.responses[0].id)]
    assert result.repeated_calls == [time_]
    assert len(server.bodies) == 2 and result.response.status == "completed"
    second_done = [i for i, e in enumerate(repeating_streams()[0])
                   if e["type"] == "response.output_item.done"][-1]
    assert [[(v.code, v.index) for v in f.violations] for f in result.flows] == [
        [("duplicate_call_id", second_done)], []]
