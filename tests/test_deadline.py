"""``deadline`` and ``idle_timeout`` of the drive loops against servers that never end.

A tiny HTTP server in the test answers every request with an event stream that
only ever sends keep-alive comments (bytes keep flowing, no event is dispatched),
or that sends nothing at all after its headers (a sync read blocks in the
socket). Both must end in :class:`RunTimeout` saying why, with nothing counted
as an event. ``idle_timeout`` is finite by default (issue 24).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypedDict

import openai
import pytest

from runflow import ResponseFlow, RunFlow
from runflow.adapters.drive import (
    RunTimeout,
    adrive,
    adrive_response,
    drive,
    drive_response,
)
from runflow.adapters.drive.budget import DEFAULT_IDLE_TIMEOUT, Budget
from runflow.adapters.drive.clock import Clock
from runflow.adapters.drive.responses import new_events
from runflow.server.responses_scenarios import ResponseRequest, script_response
from runflow.server.scenarios import ScenarioOptions

pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]


RUN_CREATED = (b'event: thread.run.created\ndata: {"id": "run_1", "object": "thread.run", '
               b'"created_at": 1, "thread_id": "thread_x", "assistant_id": "asst_x", '
               b'"status": "queued", "model": "m", "instructions": "", "tools": [], '
               b'"metadata": {}, "parallel_tool_calls": true}\n\n')
RESPONSE_CREATED = (b'event: response.created\ndata: {"type": "response.created", '
                    b'"sequence_number": 0, "response": {"id": "resp_1", "object": "response", '
                    b'"created_at": 1, "status": "in_progress", "model": "m", "output": [], '
                    b'"parallel_tool_calls": true, "tool_choice": "auto", "tools": []}}\n\n')
FIRST = {"event_then_comments": RUN_CREATED, "response_then_comments": RESPONSE_CREATED}


class EndlessStream:
    """Serves ``: keep-alive`` comments every 10 ms (``mode`` "comments"; after one
    ``thread.run.created`` event with "event_then_comments", one ``response.created``
    with "response_then_comments") or nothing (``mode`` "silent") on every POST,
    until the client goes away or it stops."""

    def __init__(self, mode: str) -> None:
        stopping = self.stopping = threading.Event()
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                requests.append(self.path)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.flush()
                try:
                    if mode in FIRST:
                        self.wfile.write(FIRST[mode])
                        self.wfile.flush()
                    while not stopping.wait(0.01):
                        if mode != "silent":
                            self.wfile.write(b": keep-alive\n\n")
                            self.wfile.flush()
                except OSError:
                    pass  # the client hung up: what drive does at its deadline

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> EndlessStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()


@pytest.fixture(params=["comments", "silent"])
def endless(request: pytest.FixtureRequest) -> Iterator[EndlessStream]:
    with EndlessStream(request.param) as server:
        yield server


class Bound(TypedDict, total=False):
    """One of drive's time bounds, as keyword arguments."""

    idle_timeout: float
    deadline: float


BOUNDS: list[tuple[Bound, str]] = [
    ({"idle_timeout": 0.3}, "no event for 0.3s (idle_timeout; keep-alive comments do not count)"),
    ({"deadline": 0.3}, "the deadline of 0.3s passed")]


@pytest.mark.parametrize(("bound", "reason"), BOUNDS, ids=["idle_timeout", "deadline"])
def test_drive_ends_an_endless_stream(endless: EndlessStream, bound: Bound,
                                      reason: str) -> None:
    flow = RunFlow()
    with openai.OpenAI(base_url=endless.base_url, api_key="test", max_retries=0) as client, \
            pytest.raises(RunTimeout) as info:
        drive(client, thread_id="thread_x", assistant_id="asst_x", flow=flow, **bound)
    assert str(info.value) == (f"run None still 'unseen': the stream was ended after 0 "
                               f"event(s): {reason}")
    assert flow.event_count == 0 and flow.ending == "truncated"
    assert endless.requests == ["/v1/threads/thread_x/runs"]  # one stream, not retried


@pytest.mark.asyncio
@pytest.mark.parametrize(("bound", "reason"), BOUNDS, ids=["idle_timeout", "deadline"])
async def test_adrive_ends_an_endless_stream(endless: EndlessStream, bound: Bound,
                                             reason: str) -> None:
    flow = RunFlow()
    async with openai.AsyncOpenAI(base_url=endless.base_url, api_key="test",
                                  max_retries=0) as client:
        with pytest.raises(RunTimeout) as info:
            await adrive(client, thread_id="thread_x", assistant_id="asst_x", flow=flow,
                         **bound)
    assert str(info.value) == (f"run None still 'unseen': the stream was ended after 0 "
                               f"event(s): {reason}")
    assert flow.event_count == 0 and flow.ending == "truncated"
    assert endless.requests == ["/v1/threads/thread_x/runs"]


def test_idle_counts_from_the_last_event() -> None:
    """One event, then only comments: the idle timeout still ends the stream."""
    flow = RunFlow()
    with EndlessStream("event_then_comments") as endless, openai.OpenAI(
            base_url=endless.base_url, api_key="test", max_retries=0) as client, \
            pytest.raises(RunTimeout) as info:
        drive(client, thread_id="thread_x", assistant_id="asst_x", flow=flow, idle_timeout=0.3)
    assert str(info.value) == ("run run_1 still 'queued': the stream was ended after 1 event(s): "
                               "no event for 0.3s (idle_timeout; keep-alive comments do not "
                               "count)")
    assert flow.event_count == 1 and flow.run_status == "queued"
    # the flow records what it saw: the stream ended (was ended) without done
    assert [(v.code.value, v.index) for v in flow.violations] == [("truncated", 1)]


@pytest.mark.parametrize("loop", [drive, adrive, drive_response, adrive_response])
def test_the_idle_timeout_is_finite_by_default(loop: Callable[..., object]) -> None:
    """A server that only sends keep-alive comments does not hold a drive for ever
    unless asked (``idle_timeout=None``)."""
    assert inspect.signature(loop).parameters["idle_timeout"].default == DEFAULT_IDLE_TIMEOUT
    assert DEFAULT_IDLE_TIMEOUT == 60.0


RESPONSE_IDLE = "no event for 0.3s (idle_timeout; keep-alive comments do not count)"


def test_drive_response_ends_a_stream_of_keep_alive_comments() -> None:
    with EndlessStream("comments") as endless, openai.OpenAI(
            base_url=endless.base_url, api_key="test", max_retries=0) as client, \
            pytest.raises(RunTimeout) as info:
        drive_response(client, tools={}, model="m", input="hi", idle_timeout=0.3)
    assert str(info.value) == ("response None still 'unseen': the stream was ended after 0 "
                               f"event(s): {RESPONSE_IDLE}")
    assert endless.requests == ["/v1/responses"]


async def test_adrive_response_idle_counts_from_the_last_event() -> None:
    """One event, then only comments: the comments do not reset the idle clock."""
    flows: list[ResponseFlow] = []

    def make_flow() -> ResponseFlow:
        flows.append(ResponseFlow())
        return flows[-1]

    with EndlessStream("response_then_comments") as endless:
        async with openai.AsyncOpenAI(base_url=endless.base_url, api_key="test",
                                      max_retries=0) as client:
            with pytest.raises(RunTimeout) as info:
                await adrive_response(client, tools={}, model="m", input="hi",
                                      idle_timeout=0.3, make_flow=make_flow)
    assert str(info.value) == ("response resp_1 still 'in_progress': the stream was ended "
                               f"after 1 event(s): {RESPONSE_IDLE}")
    (flow,) = flows
    assert flow.event_count == 1 and flow.ending == "truncated"
    assert endless.requests == ["/v1/responses"]


def test_replayed_events_are_not_progress_for_the_idle_clock() -> None:
    """A Responses stream's clock counts new events: replays (sequence numbers the flow
    had) do not reset the idle bound, a new sequence number does."""
    events = script_response("text", ResponseRequest({"model": "m", "input": "hi"},
                                                     ScenarioOptions()))
    flow = ResponseFlow()
    for event in events[:3]:
        flow.feed(event)
    clock = Clock(flow, Budget(idle_timeout=60.0), lambda: new_events(flow))
    last = clock.last
    for event in events[:3]:  # a resume replaying from 0
        flow.feed(event)
    clock.wait()
    assert (flow.replayed, clock.seen, clock.last) == (3, 3, last)
    flow.feed(events[3])
    clock.wait()
    assert clock.seen == 4 and clock.expired is None
