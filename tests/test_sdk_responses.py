"""``consume`` / ``aconsume`` on Responses streams, with the real openai clients over
loopback against :class:`runflow.testing.Server`. No mocks.

Every way the SDK opens a Responses stream -- ``responses.create(stream=True)``,
the ``responses.stream(...)`` manager, the ``ResponseStream`` it yields, and the
async twins -- is read into a :class:`ResponseFlow` for every scenario: no
violation, the ending the stream had, and the rebuilt response equal to what
``GET /v1/responses/{id}`` returns. A cut connection ends ``truncated`` with every
event before the cut kept, and resuming with ``starting_after`` completes the
same flow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.lib.streaming.responses import AsyncResponseStream, ResponseStream

from runflow import Code, ResponseFlow
from runflow.adapters.sdk import _helper_error, aconsume, consume, raw_stream
from runflow.server.responses_scenarios import RESPONSE_SCENARIOS
from runflow.testing import Server

SCENARIOS = sorted(RESPONSE_SCENARIOS)
TOOLS: list[Any] = [
    {"type": "function", "name": "get_weather", "description": "Weather in a city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"]}, "strict": False},
    {"type": "function", "name": "get_time", "description": "Time in a timezone",
     "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}},
                    "required": ["timezone"]}, "strict": False},
]
ENDING = {name: "error" if name == "failed" else "done" for name in SCENARIOS}
STATUS = {"text": "completed", "parallel_functions": "completed", "reasoning": "completed",
          "refusal": "completed", "incomplete": "incomplete", "failed": "failed"}
WAYS = ["create", "manager", "entered"]
CUT = 5  # events written before the connection drops


def request(scenario: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gpt-4o", "input": "Hello?",
                            "metadata": {"scenario": scenario}, "tools": TOOLS}
    body.update(extra)
    return body


def cut(n: int = CUT) -> dict[str, Any]:
    return {"extra_headers": {"X-Runflow-Fault": f"cut_after={n}"}}


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0,
                       timeout=20) as c:
        yield c


def aclient(server: Server) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0,
                              timeout=20)


def open_and_consume(client: openai.OpenAI, flow: ResponseFlow, way: str,
                     body: dict[str, Any]) -> str:
    """Open a stream the way named and consume it."""
    if way == "create":
        stream = client.responses.create(stream=True, **body)
        assert isinstance(stream, openai.Stream)
        return consume(flow, stream)
    if way == "manager":
        return consume(flow, client.responses.stream(**body))
    with client.responses.stream(**body) as entered:
        assert isinstance(entered, ResponseStream)
        return consume(flow, entered)


async def aopen_and_consume(client: openai.AsyncOpenAI, flow: ResponseFlow, way: str,
                            body: dict[str, Any]) -> str:
    if way == "create":
        stream = await client.responses.create(stream=True, **body)
        assert isinstance(stream, openai.AsyncStream)
        return await aconsume(flow, stream)
    if way == "manager":
        return await aconsume(flow, client.responses.stream(**body))
    async with client.responses.stream(**body) as entered:
        assert isinstance(entered, AsyncResponseStream)
        return await aconsume(flow, entered)


def check_whole(client: openai.OpenAI, flow: ResponseFlow, scenario: str, ending: str) -> None:
    assert ending == ENDING[scenario] == flow.ending
    assert flow.violations == []
    assert flow.status == STATUS[scenario]
    assert flow.response is not None and flow.response_id is not None
    assert flow.response == client.responses.retrieve(flow.response_id)
    if scenario == "parallel_functions":
        assert [c.name for c in flow.function_calls] == ["get_weather", "get_time"]


# -- every scenario, every way -----------------------------------------------------------------


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_consume_every_scenario(client: openai.OpenAI, scenario: str, way: str,
                                background: bool) -> None:
    flow = ResponseFlow()
    ending = open_and_consume(client, flow, way, request(scenario, background=background))
    check_whole(client, flow, scenario, ending)
    assert flow.response is not None and flow.response.background is background


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_aconsume_every_scenario(server: Server, client: openai.OpenAI, scenario: str,
                                       way: str) -> None:
    async with aclient(server) as ac:
        flow = ResponseFlow()
        ending = await aopen_and_consume(ac, flow, way, request(scenario))
    check_whole(client, flow, scenario, ending)


async def test_aconsume_awaits_async_callbacks(server: Server) -> None:
    seen: list[str] = []
    flow = ResponseFlow()

    @flow.on_response("completed")
    async def completed(response: Any) -> None:
        seen.append(response.status)

    async with aclient(server) as ac:
        assert await aconsume(flow, ac.responses.stream(**request("text"))) == "done"
    assert seen == ["completed"]


# -- cut connections ----------------------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_a_cut_is_truncated_then_resumed_with_starting_after(client: openai.OpenAI,
                                                             way: str) -> None:
    flow = ResponseFlow()
    ending = open_and_consume(client, flow, way, request("reasoning", background=True, **cut()))
    assert ending == "truncated"
    # nothing that arrived is lost: the five events before the cut, numbered 0..4
    assert (flow.event_count, flow.sequence_number, flow.status) == (CUT, CUT - 1, "in_progress")
    assert [v.code for v in flow.violations] == [Code.TRUNCATED]
    assert flow.response_id is not None and flow.sequence_number is not None
    resumed = client.responses.retrieve(flow.response_id, stream=True,
                                        starting_after=flow.sequence_number)
    assert consume(flow, resumed) == "done"
    assert flow.replayed == 0 and flow.status == "completed"
    assert flow.response == client.responses.retrieve(flow.response_id)
    assert [v.code for v in flow.violations] == [Code.TRUNCATED]  # the cut, and nothing else
    assert [k for k, _, _ in flow.item_states] == ["reasoning", "message"]


def test_resume_through_the_stream_helper_drops_its_replay(client: openai.OpenAI) -> None:
    """``responses.stream(response_id=..., starting_after=N)`` asks for the whole stream
    (RESPONSES.md §7); read raw, the flow drops the N+1 events it already has."""
    flow = ResponseFlow()
    assert consume(flow, client.responses.stream(**request("text", background=True),
                                                 **cut())) == "truncated"
    assert flow.response_id is not None and flow.sequence_number == CUT - 1
    assert consume(flow, client.responses.stream(
        response_id=flow.response_id, starting_after=CUT - 1)) == "done"
    assert flow.replayed == CUT
    assert flow.response == client.responses.retrieve(flow.response_id)


@pytest.mark.parametrize("way", WAYS)
def test_a_foreground_cut_keeps_what_arrived(client: openai.OpenAI, way: str) -> None:
    flow = ResponseFlow()
    ending = open_and_consume(client, flow, way, request("parallel_functions", **cut(8)))
    assert ending == "truncated"
    assert (flow.event_count, flow.sequence_number) == (8, 7)
    assert flow.response_id is not None
    # the response went on server-side; what streamed is its beginning
    rest = client.responses.retrieve(flow.response_id)
    assert rest.status == "completed"
    assert flow.output[0].model_dump()["call_id"] == rest.output[0].model_dump()["call_id"]


@pytest.mark.parametrize("way", WAYS)
async def test_async_cut_then_resume(server: Server, client: openai.OpenAI, way: str) -> None:
    flow = ResponseFlow()
    async with aclient(server) as ac:
        ending = await aopen_and_consume(ac, flow, way,
                                         request("text", background=True, **cut()))
        assert ending == "truncated" and flow.sequence_number == CUT - 1
        assert flow.response_id is not None
        resumed = await ac.responses.retrieve(flow.response_id, stream=True,
                                              starting_after=flow.sequence_number)
        assert await aconsume(flow, resumed) == "done"
    assert flow.response == client.responses.retrieve(flow.response_id)
    assert [v.code for v in flow.violations] == [Code.TRUNCATED]


def test_a_refused_request_raises_before_the_flow_is_touched(client: openai.OpenAI) -> None:
    flow = ResponseFlow()
    with pytest.raises(openai.BadRequestError, match="Unknown scenario"):
        consume(flow, client.responses.stream(**request("nope")))
    assert (flow.event_count, flow.status, flow.ending) == (0, "unseen", None)


# -- the SDK structure runflow reads, and the fallback without it -------------------------------


def test_raw_stream_finds_the_stream_the_helper_wraps(client: openai.OpenAI) -> None:
    """``ResponseStream._raw_stream`` is private; if the installed openai changed it,
    consume would fall back to the helper's events: say so, naming the version."""
    with client.responses.stream(**request("text")) as entered:
        raw = raw_stream(entered)
        assert isinstance(raw, openai.Stream), (
            f"openai {openai.__version__}: ResponseStream no longer keeps its stream in "
            "_raw_stream; runflow.adapters.sdk.raw_stream must follow it")
        assert raw.response is entered._response
    plain = client.responses.create(stream=True, **request("text"))
    assert raw_stream(plain) is plain
    plain.close()
    assert raw_stream(iter([])) is None and raw_stream(object()) is None


def test_the_helper_events_fed_one_by_one_pass(client: openai.OpenAI) -> None:
    """What consume feeds when the raw stream cannot be reached: the helper's own
    events (with their added ``snapshot`` fields) are a valid stream too."""
    flow = ResponseFlow()
    flow.begin_stream()
    with client.responses.stream(**request("parallel_functions")) as entered:
        for event in entered:
            flow.feed(event)
    assert flow.close() == "done" and flow.violations == []
    assert flow.response_id is not None
    assert flow.response == client.responses.retrieve(flow.response_id)


def test_the_error_the_helper_raises_is_fed_as_the_error_event(client: openai.OpenAI) -> None:
    flow = ResponseFlow()
    flow.begin_stream()
    with pytest.raises(openai.APIError) as raised:
        for event in client.responses.create(stream=True, **request("failed")):
            flow.feed(event)
    event = _helper_error(raised.value, flow.sequence_number)
    assert event is not None and event["sequence_number"] == 2
    flow.feed(event)
    assert flow.close() == "error" and flow.violations == []
    assert flow.error is not None and flow.error.code == "server_error"
    with pytest.raises(ValueError, match="not this"):
        _helper_error(ValueError("not this"), None)
