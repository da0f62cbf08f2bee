"""The orchestrator (``drive``/``adrive``) over real loopback HTTP with the real openai
clients: a cut at every position of both streams of the parallel-function run, tool
policies, unknown tools, concurrent async tools and ``tool_timeout``."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import openai
import pytest
import pytest_asyncio
from helpers import function_calls_of
from starlette.requests import Request
from starlette.responses import Response

from runflow import RunFlow
from runflow.adapters.drive import DriveError, ToolError, UnknownTool, adrive, drive
from runflow.adapters.sdk import consume
from runflow.server.scenarios import FUNCTION_CALLS
from runflow.testing import Server

pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]

ASSISTANT = "asst_parallel_functions"
FIRST_EVENTS = 17  # events of the first stream, done included (checked below)
CONTINUATION_EVENTS = 21  # events of the submit_tool_outputs stream with RESULTS as outputs
RESULTS = {"get_weather": "18C, sunny", "get_time": "14:05"}
ANSWER = "Here is what I found. get_weather: 18C, sunny. get_time: 14:05."
FAST: dict[str, Any] = {"poll_interval": 0.005, "poll_timeout": 5}


Endpoint = Callable[[Request], Awaitable[Response]]
SUBMIT = "submit_tool_outputs"


class Spied:
    """The test server, with every submit_tool_outputs request counted per run id
    (before the server decides whether to accept it)."""

    def __init__(self) -> None:
        self.server = Server()
        self.submits: Counter[str] = Counter()
        # an Assistants endpoint is an attribute the backend sets by name and looks up
        # per request (runflow.server.backend), so the spy reaches it by name too
        original: Endpoint = getattr(self.server.backend, SUBMIT)

        async def counting(request: Request) -> Response:
            self.submits[request.path_params["run_id"]] += 1
            return await original(request)

        setattr(self.server.backend, SUBMIT, counting)

    def inject(self, fault: str) -> None:
        self.server.inject(fault)

    def run(self, thread_id: str, run_id: str) -> dict[str, Any]:
        return self.server.store.run(thread_id, run_id)

    def function_outputs(self, run_id: str) -> dict[str, list[tuple[str, str | None]]]:
        """Per function name: (call id, output) as the server stored them."""
        out: dict[str, list[tuple[str, str | None]]] = {}
        for step in self.server.store.steps(run_id, order="asc"):
            details = step["step_details"]
            if details["type"] != "tool_calls":
                continue
            for call in details["tool_calls"]:
                function = call["function"]
                out.setdefault(function["name"], []).append((call["id"], function["output"]))
        return out


@pytest.fixture(scope="module")
def spied() -> Iterator[Spied]:
    s = Spied()
    with s.server:
        yield s


@pytest.fixture(autouse=True)
def _no_leftover_faults(spied: Spied) -> Iterator[None]:
    yield
    spied.server.clear_faults()


@pytest.fixture(scope="module")
def client(spied: Spied) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=spied.server.base_url, api_key="test", max_retries=0) as c:
        yield c


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def aclient(spied: Spied) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=spied.server.base_url, api_key="test",
                                  max_retries=0) as c:
        yield c


class Tools:
    """get_weather / get_time that record every call; ``on_call`` runs at the first call
    (e.g. to inject a fault into the next streamed response: the continuation)."""

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
                await asyncio.sleep(0)
                return self._record("get_weather", city=city)

            async def get_time(timezone: str) -> str:
                await asyncio.sleep(0)
                return self._record("get_time", timezone=timezone)

            return {"get_weather": get_weather, "get_time": get_time}
        return {"get_weather": lambda city: self._record("get_weather", city=city),
                "get_time": lambda timezone: self._record("get_time", timezone=timezone)}


def cut_setup(spied: Spied, where: str, k: int, is_async: bool = False) -> Tools:
    if where == "first":
        spied.inject(f"cut_after={k}")
        return Tools(is_async=is_async)
    return Tools(lambda: spied.inject(f"cut_after={k}"), is_async=is_async)


def check_exactly_once(spied: Spied, client: openai.OpenAI, flow: RunFlow, thread_id: str,
                       tools: Tools, where: str, k: int) -> None:
    """Completed; each tool called once; each output submitted once; the flow agrees
    with REST; the only violation is the cut itself."""
    assert flow.run_status == "completed", flow.violations
    assert flow.run_id is not None
    assert sorted(tools.calls) == sorted((name, args) for name, args in FUNCTION_CALLS)
    assert spied.submits[flow.run_id] == 1
    assert spied.run(thread_id, flow.run_id)["status"] == "completed"
    stored = spied.function_outputs(flow.run_id)
    assert {name: [out for _, out in calls] for name, calls in stored.items()} == {
        name: [result] for name, result in RESULTS.items()}
    call_ids = [cid for calls in stored.values() for cid, _ in calls]
    assert len(set(call_ids)) == 2
    # the flow's snapshots (streamed and recovered) equal the server's, over REST
    steps = client.beta.threads.runs.steps.list(flow.run_id, thread_id=thread_id, order="asc")
    messages = client.beta.threads.messages.list(thread_id, run_id=flow.run_id, order="asc")
    run = client.beta.threads.runs.retrieve(flow.run_id, thread_id=thread_id)
    assert flow.run is not None
    assert json.loads(flow.run.to_json()) == json.loads(run.to_json())
    assert [json.loads(s.to_json()) for s in flow.steps] == [
        json.loads(s.to_json()) for s in steps.data]
    assert [json.loads(m.to_json()) for m in flow.messages] == [
        json.loads(m.to_json()) for m in messages.data]
    flow_calls = [
        (c.id, c.function.name, c.function.output)
        for s in flow.steps if s.step_details.type == "tool_calls"
        for c in function_calls_of(s)
    ]
    assert sorted(flow_calls) == sorted((cid, name, out) for name, calls in stored.items()
                                        for cid, out in calls)
    assert flow.text == ANSWER
    # a cut is reported as truncated where it happened, and nothing else is reported
    total = FIRST_EVENTS if where == "first" else CONTINUATION_EVENTS
    offset = 0 if where == "first" else FIRST_EVENTS
    expected = [("truncated", offset + k)] if k < total else []
    assert [(v.code.value, v.index) for v in flow.violations] == expected
    assert flow.ending == ("truncated" if where == "continuation" and k < total else "done")


def test_event_counts_of_the_parallel_function_run(client: openai.OpenAI) -> None:
    """The ranges below cover every position: check the stream lengths they assume."""
    thread = client.beta.threads.create()
    flow = RunFlow()
    runs = client.beta.threads.runs
    assert consume(flow, runs.create(thread_id=thread.id, assistant_id=ASSISTANT,
                                    stream=True)) == "done"
    assert flow.event_count == FIRST_EVENTS
    assert flow.run_id is not None
    outputs: Any = [{"tool_call_id": c.id, "output": RESULTS[c.function.name]}
                    for c in flow.pending_tool_calls]
    assert consume(flow, runs.submit_tool_outputs(run_id=flow.run_id, thread_id=thread.id,
                                                 tool_outputs=outputs, stream=True)) == "done"
    assert flow.event_count == FIRST_EVENTS + CONTINUATION_EVENTS
    assert flow.violations == []


CUTS = [("first", k) for k in range(FIRST_EVENTS + 2)] + [
    ("continuation", k) for k in range(CONTINUATION_EVENTS + 2)]


@pytest.mark.parametrize(("where", "k"), CUTS)
def test_drive_survives_a_cut_anywhere(spied: Spied, client: openai.OpenAI, where: str,
                                       k: int) -> None:
    thread = client.beta.threads.create()
    tools = cut_setup(spied, where, k)
    flow = drive(client, thread_id=thread.id, assistant_id=ASSISTANT, tools=tools.mapping(),
                 **FAST)
    check_exactly_once(spied, client, flow, thread.id, tools, where, k)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("where", "k"), CUTS)
async def test_adrive_survives_a_cut_anywhere(spied: Spied, client: openai.OpenAI,
                                              aclient: openai.AsyncOpenAI, where: str,
                                              k: int) -> None:
    thread = await aclient.beta.threads.create()
    tools = cut_setup(spied, where, k, is_async=k % 2 == 0)  # async and sync tools
    flow = await adrive(aclient, thread_id=thread.id, assistant_id=ASSISTANT,
                        tools=tools.mapping(), tool_timeout=5, **FAST)
    check_exactly_once(spied, client, flow, thread.id, tools, where, k)


# -- tool policies -------------------------------------------------------------------


def boom(city: str) -> str:
    raise ValueError(f"no weather for {city}")


def clock(timezone: str) -> str:
    return RESULTS["get_time"]


HUNG: list[str] = []  # how each hanging call ended


async def hang(city: str) -> str:
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        HUNG.append("cancelled")  # tool_timeout cut it short
        raise
    HUNG.append("finished")
    return "never"


ERROR_OUTPUT = json.dumps({"error": "ValueError: no weather for Paris"})
TIMEOUT_OUTPUT = json.dumps({"error": "TimeoutError: "})


def check_error_submitted(spied: Spied, flow: RunFlow, thread_id: str, output: str) -> None:
    assert flow.run_status == "completed"
    assert flow.run_id is not None
    assert spied.submits[flow.run_id] == 1
    assert spied.run(thread_id, flow.run_id)["status"] == "completed"
    stored = spied.function_outputs(flow.run_id)
    assert [out for _, out in stored["get_weather"]] == [output]
    assert [out for _, out in stored["get_time"]] == ["14:05"]
    assert f"get_weather: {output}." in flow.text
    assert flow.violations == []


def check_cancelled(spied: Spied, flow: RunFlow, thread_id: str) -> None:
    assert flow.run_status == "cancelled"
    assert flow.run_id is not None
    assert spied.submits[flow.run_id] == 0
    assert spied.run(thread_id, flow.run_id)["status"] == "cancelled"
    assert flow.run is not None and flow.run.status == "cancelled"
    assert [s.status for s in flow.steps] == ["cancelled"]


def check_not_submitted(spied: Spied, client: openai.OpenAI, thread_id: str) -> None:
    (run,) = client.beta.threads.runs.list(thread_id=thread_id).data
    assert run.status == "requires_action"
    assert spied.submits[run.id] == 0


def test_raising_tool_submit_error(spied: Spied, client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    flow = drive(client, thread_id=thread.id, assistant_id=ASSISTANT,
                 tools={"get_weather": boom, "get_time": clock}, on_tool_error="submit_error",
                 **FAST)
    check_error_submitted(spied, flow, thread.id, ERROR_OUTPUT)


def test_raising_tool_cancel(spied: Spied, client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    flow = drive(client, thread_id=thread.id, assistant_id=ASSISTANT,
                 tools={"get_weather": boom, "get_time": clock}, on_tool_error="cancel", **FAST)
    check_cancelled(spied, flow, thread.id)


def test_raising_tool_raise(spied: Spied, client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    with pytest.raises(ToolError, match=r"tool 'get_weather' \(call call_\w+\) failed") as info:
        drive(client, thread_id=thread.id, assistant_id=ASSISTANT,
              tools={"get_weather": boom, "get_time": clock}, on_tool_error="raise", **FAST)
    assert isinstance(info.value.__cause__, ValueError)
    assert isinstance(info.value, DriveError)
    check_not_submitted(spied, client, thread.id)


@pytest.mark.parametrize(("given", "missing"), [(["get_weather"], "get_time"),
                                                  (["get_time"], "get_weather"),
                                                  ([], "get_weather")])
def test_unknown_tool(spied: Spied, client: openai.OpenAI, given: list[str],
                      missing: str) -> None:
    thread = client.beta.threads.create()
    called: list[str] = []

    def tool(**kw: Any) -> str:
        called.append(str(kw))
        return "x"

    tools = {name: tool for name in given}
    with pytest.raises(UnknownTool) as info:
        drive(client, thread_id=thread.id, assistant_id=ASSISTANT, tools=tools, **FAST)
    assert isinstance(info.value, DriveError)
    message = str(info.value)
    assert f"tool {missing!r} (call call_" in message
    assert message.endswith(f"tools given: {', '.join(given) or 'none'}")
    assert called == []  # unknown tools fail before any tool is called
    check_not_submitted(spied, client, thread.id)


@pytest.mark.asyncio(loop_scope="module")
async def test_adrive_unknown_tool(spied: Spied, client: openai.OpenAI,
                                   aclient: openai.AsyncOpenAI) -> None:
    thread = await aclient.beta.threads.create()
    with pytest.raises(UnknownTool, match=r"'get_time'.*tools given: get_weather$"):
        await adrive(aclient, thread_id=thread.id, assistant_id=ASSISTANT,
                     tools={"get_weather": boom}, **FAST)
    check_not_submitted(spied, client, thread.id)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("failure", ["raises", "times_out"])
@pytest.mark.parametrize("policy", ["submit_error", "cancel", "raise"])
async def test_adrive_policies(spied: Spied, client: openai.OpenAI,
                               aclient: openai.AsyncOpenAI, policy: Any, failure: str) -> None:
    thread = await aclient.beta.threads.create()
    tool = boom if failure == "raises" else hang
    HUNG.clear()
    call = adrive(aclient, thread_id=thread.id, assistant_id=ASSISTANT,
                  tools={"get_weather": tool, "get_time": clock}, on_tool_error=policy,
                  tool_timeout=0.1, **FAST)
    if policy == "raise":
        with pytest.raises(ToolError, match=r"tool 'get_weather' \(call call_\w+\) failed"
                           ) as info:
            await call
        cause = ValueError if failure == "raises" else TimeoutError
        assert isinstance(info.value.__cause__, cause)
        check_not_submitted(spied, client, thread.id)
    else:
        flow = await call
        if policy == "cancel":
            check_cancelled(spied, flow, thread.id)
        else:
            output = ERROR_OUTPUT if failure == "raises" else TIMEOUT_OUTPUT
            check_error_submitted(spied, flow, thread.id, output)
    # the hanging tool did not hold the run: it was cancelled at tool_timeout
    assert HUNG == ([] if failure == "raises" else ["cancelled"])


@pytest.mark.asyncio(loop_scope="module")
async def test_adrive_runs_async_tools_concurrently(spied: Spied,
                                                    aclient: openai.AsyncOpenAI) -> None:
    """Each tool waits for the other to have started: only concurrent calls finish."""
    weather_started, time_started = asyncio.Event(), asyncio.Event()

    async def get_weather(city: str) -> str:
        weather_started.set()
        await time_started.wait()
        return RESULTS["get_weather"]

    async def get_time(timezone: str) -> str:
        time_started.set()
        await weather_started.wait()
        return RESULTS["get_time"]

    thread = await aclient.beta.threads.create()
    flow = await adrive(aclient, thread_id=thread.id, assistant_id=ASSISTANT,
                        tools={"get_weather": get_weather, "get_time": get_time},
                        on_tool_error="raise", tool_timeout=2, **FAST)
    assert flow.run_status == "completed" and flow.text == ANSWER
    assert flow.run_id is not None and spied.submits[flow.run_id] == 1


@pytest.mark.asyncio(loop_scope="module")
async def test_adrive_runs_sync_tools_concurrently(spied: Spied,
                                                   aclient: openai.AsyncOpenAI) -> None:
    """Plain functions run in threads, side by side: both must reach the barrier."""
    barrier = threading.Barrier(2, timeout=2)

    def get_weather(city: str) -> str:
        barrier.wait()
        return RESULTS["get_weather"]

    def get_time(timezone: str) -> str:
        barrier.wait()
        return RESULTS["get_time"]

    thread = await aclient.beta.threads.create()
    flow = await adrive(aclient, thread_id=thread.id, assistant_id=ASSISTANT,
                        tools={"get_weather": get_weather, "get_time": get_time},
                        on_tool_error="raise", tool_timeout=3, **FAST)
    assert flow.run_status == "completed" and flow.text == ANSWER
    assert flow.run_id is not None and spied.submits[flow.run_id] == 1


# -- tool results that cannot be sent as they are -------------------------------------


class BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def _circular() -> list[Any]:
    items: list[Any] = []
    items.append(items)
    return items


BAD_RESULTS: list[tuple[str, Callable[[], Any], str]] = [
    ("circular", _circular, "returned a list that cannot be written as JSON (ValueError: "
     "Circular reference detected)"),
    ("str_raises", BadStr, "returned a BadStr that cannot be written as JSON (RuntimeError: "
     "no text for you)"),
    ("lone_surrogate", lambda: "18C \udc80", "returned text with a lone surrogate at position "
     "4, which is not valid UTF-8"),
    ("bad_bytes", lambda: b"\xff18C", "returned bytes that are not UTF-8 (invalid start byte "
     "at byte 0)"),
    ("nan", lambda: float("nan"), "returned a float that cannot be written as JSON "
     "(ValueError: Out of range float values are not JSON compliant"),
]


@pytest.mark.parametrize(("make", "why"), [(m, w) for _, m, w in BAD_RESULTS],
                         ids=[name for name, _, _ in BAD_RESULTS])
def test_an_unsendable_result_is_a_tool_error(spied: Spied, client: openai.OpenAI,
                                              make: Callable[[], Any], why: str) -> None:
    """Submitted as an error output (the run completes), or raised as ToolError."""
    thread = client.beta.threads.create()
    flow = drive(client, thread_id=thread.id, assistant_id=ASSISTANT,
                 tools={"get_weather": lambda city: make(), "get_time": clock}, **FAST)
    assert flow.run_status == "completed" and flow.run_id is not None
    assert spied.submits[flow.run_id] == 1
    (output,) = [out for _, out in spied.function_outputs(flow.run_id)["get_weather"]]
    assert output is not None and json.loads(output)["error"].startswith(why)
    thread = client.beta.threads.create()
    with pytest.raises(ToolError, match=r"tool 'get_weather' \(call call_\w+\) returned a "
                       r"result that cannot be submitted: returned ") as info:
        drive(client, thread_id=thread.id, assistant_id=ASSISTANT, on_tool_error="raise",
              tools={"get_weather": lambda city: make(), "get_time": clock}, **FAST)
    assert why in str(info.value)
    check_not_submitted(spied, client, thread.id)


@pytest.mark.asyncio(loop_scope="module")
async def test_adrive_unsendable_result(spied: Spied, aclient: openai.AsyncOpenAI) -> None:
    async def get_weather(city: str) -> Any:
        return _circular()

    thread = await aclient.beta.threads.create()
    flow = await adrive(aclient, thread_id=thread.id, assistant_id=ASSISTANT,
                        tools={"get_weather": get_weather, "get_time": clock}, **FAST)
    assert flow.run_status == "completed" and flow.run_id is not None
    (output,) = [out for _, out in spied.function_outputs(flow.run_id)["get_weather"]]
    assert output is not None and "Circular reference detected" in json.loads(output)["error"]


@pytest.mark.parametrize(("result", "sent"), [(b"18C", "18C"), (None, "null"),
                                              ({"t": 18.5}, '{"t": 18.5}'), ("é", "é")])
def test_results_that_are_sent(spied: Spied, client: openai.OpenAI, result: Any,
                               sent: str) -> None:
    thread = client.beta.threads.create()
    flow = drive(client, thread_id=thread.id, assistant_id=ASSISTANT,
                 tools={"get_weather": lambda city: result, "get_time": clock}, **FAST)
    assert flow.run_id is not None
    assert [out for _, out in spied.function_outputs(flow.run_id)["get_weather"]] == [sent]
