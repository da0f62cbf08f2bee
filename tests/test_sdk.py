"""runflow with the real openai client over real HTTP (issue 4): ``consume`` /
``aconsume`` on SDK streams and ``FlowEventHandler`` / ``AsyncFlowEventHandler`` as
``event_handler=``, against :class:`runflow.testing.Server` on 127.0.0.1. No mocks.

One flow follows one run across the submit-tool-outputs stream; cut and error
streams end ``truncated`` and ``error``."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
from conftest import recordings_dir
from helpers import function_calls_of, text_of
from openai.types.beta import Thread
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput
from openai.types.beta.threads.runs import RunStep

from runflow import (
    AsyncFlowEventHandler,
    Code,
    FlowEventHandler,
    Handler,
    RunFlow,
    TextSnapshot,
    ToolCallSnapshot,
)
from runflow.adapters.sdk import aconsume, consume, watch_done
from runflow.testing import SCENARIOS, Server

pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]

FIRST = "dotnet_create_and_run_function_requires_action.jsonl"
SECOND = "dotnet_function_call_continuation.jsonl"
TOOL_RUN = ["queued", "in_progress", "requires_action", "queued", "in_progress", "completed"]
TEXT_RUN = ["queued", "in_progress", "completed"]
OUTPUTS = {"get_weather": "sunny, 21 C", "get_time": "14:05"}


def _transport_errors() -> tuple[type[Exception], ...]:
    """What a cut connection raises through the SDK (openai 3 reads with httpx2)."""
    found: list[type[Exception]] = [openai.APIConnectionError]
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).TransportError)
        except ImportError:
            pass
    return tuple(found)


CUT = _transport_errors()


class Recorder(Handler):
    """One runflow Handler that records what a run does, across streams."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.threads: list[str] = []
        self.steps: list[tuple[str, str]] = []
        self.messages: list[tuple[str, str]] = []
        self.texts: list[str] = []
        self.calls: list[tuple[str | None, str | None, str]] = []
        self.ends: list[str] = []

    def on_thread_created(self, thread: Thread) -> None:
        assert isinstance(thread, Thread)
        self.threads.append(thread.id)

    def on_run_queued(self, run: Run) -> None:
        self.runs.append(run.status)

    def on_run_in_progress(self, run: Run) -> None:
        self.runs.append(run.status)

    def on_run_requires_action(self, run: Run) -> None:
        assert run.required_action is not None
        self.runs.append(run.status)

    def on_run_completed(self, run: Run) -> None:
        self.runs.append(run.status)

    def on_run_cancelled(self, run: Run) -> None:
        self.runs.append(run.status)

    def on_run_failed(self, run: Run) -> None:
        self.runs.append(run.status)

    def on_run_incomplete(self, run: Run) -> None:
        self.runs.append(run.status)

    def on_step_in_progress(self, step: RunStep) -> None:
        self.steps.append((step.id, step.status))

    def on_step_completed(self, step: RunStep) -> None:
        self.steps.append((step.id, step.status))

    def on_message_in_progress(self, message: Message) -> None:
        self.messages.append((message.id, message.status))

    def on_message_completed(self, message: Message) -> None:
        self.messages.append((message.id, message.status))

    def on_text_done(self, text: TextSnapshot) -> None:
        self.texts.append(text.value)

    def on_tool_call_done(self, tool_call: ToolCallSnapshot) -> None:
        self.calls.append((tool_call.id, tool_call.name, tool_call.arguments))

    def on_end(self, ending: str) -> None:
        self.ends.append(ending)


class AsyncRecorder(Recorder):
    """The same, with ``async def`` hooks that await before recording."""

    # the overrides are async on purpose (hence the ignores): the async adapters await a
    # hook that returns an awaitable, and this checks they do

    async def on_run_queued(self, run: Run) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.runs.append(run.status)

    async def on_run_completed(self, run: Run) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.runs.append(run.status)

    async def on_tool_call_done(self, tool_call: ToolCallSnapshot) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.calls.append((tool_call.id, tool_call.name, tool_call.arguments))


@pytest.fixture
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as c:
        yield c


@pytest.fixture
async def aclient(server: Server) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0) as c:
        yield c


# --------------------------------------------------------------------------- #
# the one reach into openai internals: runflow.adapters.sdk.watch_done
# --------------------------------------------------------------------------- #
CHANGED = (f"openai {openai.__version__} changed the private stream decoder that "
           "runflow.adapters.sdk.watch_done wraps; adapt watch_done to it")


def _check_decoder(stream: Any, method: str) -> None:
    decoder = getattr(stream, "_decoder", None)
    assert decoder is not None, f"{CHANGED}: {type(stream).__name__} has no _decoder"
    assert callable(getattr(decoder, method, None)), (
        f"{CHANGED}: {type(stream).__name__}._decoder has no {method}()")


def test_watch_done_sees_done_through_the_installed_openai(fresh: Server) -> None:
    with openai.OpenAI(base_url=fresh.base_url, api_key="t", max_retries=0) as client:
        seen: list[str] = []
        stream = client.beta.threads.create_and_run(assistant_id="asst_text", stream=True)
        _check_decoder(stream, "iter_bytes")
        assert watch_done(stream, lambda: seen.append("done")), CHANGED
        events = [e.event for e in stream]
        assert events[-1] == "thread.run.completed"
        assert seen == ["done"], f"{CHANGED}: the wrapped decoder never saw [DONE]"

        fresh.inject("cut_after=5")
        seen.clear()
        stream = client.beta.threads.create_and_run(assistant_id="asst_text", stream=True)
        assert watch_done(stream, lambda: seen.append("done")), CHANGED
        with pytest.raises(CUT):
            for _ in stream:
                pass
        assert seen == []  # a cut stream is not mistaken for a clean end


async def test_watch_done_sees_done_through_the_installed_async_openai(fresh: Server) -> None:
    async with openai.AsyncOpenAI(base_url=fresh.base_url, api_key="t",
                                  max_retries=0) as client:
        seen: list[str] = []
        stream = await client.beta.threads.create_and_run(assistant_id="asst_text",
                                                          stream=True)
        _check_decoder(stream, "aiter_bytes")
        assert watch_done(stream, lambda: seen.append("done")), CHANGED
        events = [e.event async for e in stream]
        assert events[-1] == "thread.run.completed"
        assert seen == ["done"], f"{CHANGED}: the wrapped decoder never saw [DONE]"


def test_the_handler_hook_runflow_overrides_is_still_called_with_the_stream(
    fresh: Server,
) -> None:
    """FlowEventHandler learns of its stream through the SDK's private
    ``AssistantEventHandler._init(stream)``; a rename would silently skip it."""
    for cls in (openai.AssistantEventHandler, openai.AsyncAssistantEventHandler):
        assert callable(getattr(cls, "_init", None)), (
            f"openai {openai.__version__}: {cls.__name__} has no _init(stream) hook; "
            "runflow.adapters.sdk's handlers must be adapted")
    got: list[str] = []

    class Spy(FlowEventHandler):
        def _init(self, stream: Any) -> None:
            got.append(type(stream).__name__)
            super()._init(stream)

    with openai.OpenAI(base_url=fresh.base_url, api_key="t", max_retries=0) as client, \
            client.beta.threads.create_and_run_stream(
                assistant_id="asst_text", event_handler=Spy()) as stream:
        stream.until_done()
    assert got == ["Stream"], f"openai {openai.__version__} no longer calls _init(stream)"


def test_watch_done_declines_what_is_not_an_sdk_stream() -> None:
    called: list[str] = []
    assert watch_done(iter([]), lambda: called.append("done")) is False
    assert called == []


def outputs_for(flow: RunFlow) -> list[ToolOutput]:
    assert flow.run_status == "requires_action"
    return [{"tool_call_id": call.id, "output": OUTPUTS[call.function.name]}
            for call in flow.pending_tool_calls]


def check_text_run(flow: RunFlow, rec: Recorder, client: openai.OpenAI) -> None:
    """The flow matches what the server stored, read back over REST."""
    assert flow.ok, flow.violations
    assert rec.runs == TEXT_RUN
    assert flow.run_id is not None and flow.thread_id is not None
    stored = client.beta.threads.runs.retrieve(flow.run_id, thread_id=flow.thread_id)
    assert stored.status == "completed" == flow.run_status
    messages = client.beta.threads.messages.list(flow.thread_id, run_id=flow.run_id)
    text = text_of(messages.data[0].content[0])
    assert text and rec.texts == [text] and flow.text == text
    assert rec.messages == [(messages.data[0].id, "in_progress"),
                            (messages.data[0].id, "completed")]
    assert rec.ends == ["done"]


def check_tool_run(flow: RunFlow, rec: Recorder) -> None:
    assert flow.ok, flow.violations
    assert rec.runs == TOOL_RUN
    assert sorted((name, args) for _id, name, args in rec.calls) == [
        ("get_time", '{"timezone": "Europe/Paris"}'), ("get_weather", '{"city": "Paris"}')]
    tool_step = flow.steps[0]
    assert tool_step.step_details.type == "tool_calls"
    assert [c.function.output for c in function_calls_of(tool_step)] == [
        OUTPUTS["get_weather"], OUTPUTS["get_time"]]
    assert all(v in flow.text for v in OUTPUTS.values())
    assert rec.ends == ["done", "done"]  # one per stream


# --------------------------------------------------------------------------- #
# sync client, consume()
# --------------------------------------------------------------------------- #
def test_consume_runs_create_stream(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    rec = Recorder()
    flow = RunFlow(handler=rec)
    stream = client.beta.threads.runs.create(thread.id, assistant_id="asst_text", stream=True)
    assert isinstance(stream, openai.Stream)
    assert consume(flow, stream) == "done"
    assert rec.threads == []  # runs.create has no thread.created
    check_text_run(flow, rec, client)


def test_consume_create_and_run_stream(client: openai.OpenAI) -> None:
    rec = Recorder()
    flow = RunFlow(handler=rec)
    assert consume(flow, client.beta.threads.create_and_run(
        assistant_id="asst_text", stream=True,
        thread={"messages": [{"role": "user", "content": "hi"}]})) == "done"
    assert rec.threads == [flow.thread_id]
    check_text_run(flow, rec, client)


def test_consume_across_submit_tool_outputs(client: openai.OpenAI) -> None:
    rec = Recorder()
    flow = RunFlow(handler=rec)
    assert consume(flow, client.beta.threads.create_and_run(
        assistant_id="asst_parallel_functions", stream=True)) == "done"
    assert rec.runs == TOOL_RUN[:3] and len(rec.calls) == 2  # done at requires_action
    assert flow.run_id is not None and flow.thread_id is not None
    more = client.beta.threads.runs.submit_tool_outputs(
        flow.run_id, thread_id=flow.thread_id, tool_outputs=outputs_for(flow), stream=True)
    assert consume(flow, more) == "done"
    check_tool_run(flow, rec)


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "parallel_functions"])
def test_consume_every_scenario_ends_where_the_server_says(
    client: openai.OpenAI, scenario: str
) -> None:
    rec = Recorder()
    flow = RunFlow(handler=rec)
    assert consume(flow, client.beta.threads.create_and_run(
        assistant_id=f"asst_{scenario}", stream=True)) == "done"
    assert flow.run_id is not None and flow.thread_id is not None
    stored = client.beta.threads.runs.retrieve(flow.run_id, thread_id=flow.thread_id)
    assert rec.runs[-1] == stored.status == flow.run_status
    assert rec.runs[:2] == ["queued", "in_progress"]
    assert not flow.errors, flow.errors


# --------------------------------------------------------------------------- #
# sync client, FlowEventHandler
# --------------------------------------------------------------------------- #
def test_flow_event_handler_runs_stream(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    rec = Recorder()
    flow = RunFlow(handler=rec)
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id="asst_text",
                                         event_handler=FlowEventHandler(flow)) as stream:
        stream.until_done()
    assert flow.ending == "done"
    check_text_run(flow, rec, client)


def test_flow_event_handler_across_submit_tool_outputs_stream(client: openai.OpenAI) -> None:
    rec = Recorder()
    flow = RunFlow(handler=rec)
    first = FlowEventHandler(flow)
    with client.beta.threads.create_and_run_stream(
            assistant_id="asst_parallel_functions", event_handler=first) as stream:
        stream.until_done()
    assert flow.ending == "done" and rec.runs == TOOL_RUN[:3]
    assert rec.threads == [flow.thread_id]
    assert flow.run_id is not None and flow.thread_id is not None
    second = FlowEventHandler(flow)
    assert second is not first and second.flow is first.flow is flow
    with client.beta.threads.runs.submit_tool_outputs_stream(
            run_id=flow.run_id, thread_id=flow.thread_id, tool_outputs=outputs_for(flow),
            event_handler=second) as stream:
        stream.until_done()
    assert flow.ending == "done"
    check_tool_run(flow, rec)


def test_the_sdk_refuses_to_reuse_a_flow_event_handler(client: openai.OpenAI) -> None:
    handler = FlowEventHandler(RunFlow())
    with client.beta.threads.create_and_run_stream(assistant_id="asst_text",
                                                   event_handler=handler) as stream:
        stream.until_done()
    with pytest.raises(RuntimeError), client.beta.threads.create_and_run_stream(
            assistant_id="asst_text", event_handler=handler) as stream:
        stream.until_done()


# --------------------------------------------------------------------------- #
# one flow across two recorded HTTP responses
# --------------------------------------------------------------------------- #
def two_recordings(server: Server) -> None:
    assert server.enqueue_recording(recordings_dir() / FIRST) == 1
    assert server.enqueue_recording(recordings_dir() / SECOND) == 1


def check_recorded_pair(flow: RunFlow, rec: Recorder) -> None:
    assert flow.ok, flow.violations
    assert rec.runs == TOOL_RUN
    assert rec.threads == ["thread_6oUGUBxLwhyApwhYBhWjHI5f"]
    assert rec.calls == [("call_xyFYaEeyocjyE6jN64QTcxip", "get_current_weather", "{}")]
    assert rec.ends == ["done", "done"]
    assert flow.run_status == "completed" and len(rec.texts) == 1
    assert rec.texts[0].startswith("Since it's warm and sunny outside")
    assert [s for _, s in rec.steps] == ["in_progress", "completed", "in_progress", "completed"]


def test_recorded_pair_with_consume(fresh: Server) -> None:
    two_recordings(fresh)
    rec = Recorder()
    flow = RunFlow(handler=rec)
    with openai.OpenAI(base_url=fresh.base_url, api_key="t", max_retries=0) as client:
        assert consume(flow, client.beta.threads.create_and_run(
            assistant_id="asst_text", stream=True)) == "done"
        assert flow.run_status == "requires_action"
        assert flow.run_id is not None and flow.thread_id is not None
        assert consume(flow, client.beta.threads.runs.submit_tool_outputs(
            flow.run_id, thread_id=flow.thread_id, stream=True,
            tool_outputs=[{"tool_call_id": "call_xyFYaEeyocjyE6jN64QTcxip",
                           "output": "warm, sunny"}])) == "done"
    check_recorded_pair(flow, rec)


def test_recorded_pair_with_flow_event_handler(fresh: Server) -> None:
    two_recordings(fresh)
    rec = Recorder()
    flow = RunFlow(handler=rec)
    with openai.OpenAI(base_url=fresh.base_url, api_key="t", max_retries=0) as client:
        with client.beta.threads.create_and_run_stream(
                assistant_id="asst_text", event_handler=FlowEventHandler(flow)) as stream:
            stream.until_done()
        assert flow.run_status == "requires_action"
        assert flow.run_id is not None and flow.thread_id is not None
        with client.beta.threads.runs.submit_tool_outputs_stream(
                run_id=flow.run_id, thread_id=flow.thread_id,
                tool_outputs=[{"tool_call_id": "call_xyFYaEeyocjyE6jN64QTcxip",
                               "output": "warm, sunny"}],
                event_handler=FlowEventHandler(flow)) as stream:
            stream.until_done()
    check_recorded_pair(flow, rec)


async def test_recorded_pair_async_both_ways(fresh: Server) -> None:
    for way in ("aconsume", "handler"):
        two_recordings(fresh)
        rec = AsyncRecorder()
        flow = RunFlow(handler=rec)
        async with openai.AsyncOpenAI(base_url=fresh.base_url, api_key="t",
                                      max_retries=0) as client:
            outputs: list[ToolOutput] = [
                {"tool_call_id": "call_xyFYaEeyocjyE6jN64QTcxip", "output": "sunny"}]
            if way == "aconsume":
                await aconsume(flow, await client.beta.threads.create_and_run(
                    assistant_id="asst_text", stream=True))
                assert flow.run_id is not None and flow.thread_id is not None
                await aconsume(flow, await client.beta.threads.runs.submit_tool_outputs(
                    flow.run_id, thread_id=flow.thread_id, stream=True, tool_outputs=outputs))
            else:
                async with client.beta.threads.create_and_run_stream(
                        assistant_id="asst_text",
                        event_handler=AsyncFlowEventHandler(flow)) as stream:
                    await stream.until_done()
                assert flow.run_id is not None and flow.thread_id is not None
                async with client.beta.threads.runs.submit_tool_outputs_stream(
                        run_id=flow.run_id, thread_id=flow.thread_id, tool_outputs=outputs,
                        event_handler=AsyncFlowEventHandler(flow)) as stream:
                    await stream.until_done()
        check_recorded_pair(flow, rec)


# --------------------------------------------------------------------------- #
# async client
# --------------------------------------------------------------------------- #
async def test_aconsume_runs_create_and_create_and_run(
    aclient: openai.AsyncOpenAI, client: openai.OpenAI
) -> None:
    thread = await aclient.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    rec = AsyncRecorder()
    flow = RunFlow(handler=rec)
    stream = await aclient.beta.threads.runs.create(thread.id, assistant_id="asst_text",
                                                    stream=True)
    assert isinstance(stream, openai.AsyncStream)
    assert await aconsume(flow, stream) == "done"
    check_text_run(flow, rec, client)

    rec = AsyncRecorder()
    flow = RunFlow(handler=rec)
    assert await aconsume(flow, await aclient.beta.threads.create_and_run(
        assistant_id="asst_text", stream=True)) == "done"
    assert rec.threads == [flow.thread_id]
    check_text_run(flow, rec, client)


async def test_aconsume_across_submit_tool_outputs(aclient: openai.AsyncOpenAI) -> None:
    rec = AsyncRecorder()
    flow = RunFlow(handler=rec)
    assert await aconsume(flow, await aclient.beta.threads.create_and_run(
        assistant_id="asst_parallel_functions", stream=True)) == "done"
    assert flow.run_id is not None and flow.thread_id is not None
    assert await aconsume(flow, await aclient.beta.threads.runs.submit_tool_outputs(
        flow.run_id, thread_id=flow.thread_id, tool_outputs=outputs_for(flow),
        stream=True)) == "done"
    check_tool_run(flow, rec)


async def test_async_flow_event_handler_across_submit_tool_outputs(
    aclient: openai.AsyncOpenAI, client: openai.OpenAI
) -> None:
    thread = await aclient.beta.threads.create()
    rec = AsyncRecorder()
    flow = RunFlow(handler=rec)
    async with aclient.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id="asst_parallel_functions",
            event_handler=AsyncFlowEventHandler(flow)) as stream:
        await stream.until_done()
    assert flow.run_id is not None and flow.thread_id == thread.id
    async with aclient.beta.threads.runs.submit_tool_outputs_stream(
            run_id=flow.run_id, thread_id=thread.id, tool_outputs=outputs_for(flow),
            event_handler=AsyncFlowEventHandler(flow)) as stream:
        await stream.until_done()
    check_tool_run(flow, rec)

    rec = AsyncRecorder()
    flow = RunFlow(handler=rec)
    async with aclient.beta.threads.create_and_run_stream(
            assistant_id="asst_text", event_handler=AsyncFlowEventHandler(flow)) as stream:
        await stream.until_done()
    assert rec.threads == [flow.thread_id]
    check_text_run(flow, rec, client)


# --------------------------------------------------------------------------- #
# cut and error streams
# --------------------------------------------------------------------------- #
def check_truncated(flow: RunFlow, rec: Recorder, frames: int) -> None:
    assert flow.ending == "truncated"
    assert flow.event_count == frames
    assert [v.code for v in flow.violations] == [Code.TRUNCATED]
    assert flow.run_status == "in_progress" and rec.runs == ["queued", "in_progress"]
    assert rec.ends == ["truncated"]


def check_error(flow: RunFlow, rec: Recorder) -> None:
    assert flow.ending == "error"
    assert flow.error is not None and "injected by runflow" in (flow.error.message or "")
    assert rec.ends == ["error"]
    assert flow.run_status == "in_progress"


def test_cut_stream_is_truncated_via_consume_and_handler(fresh: Server) -> None:
    with openai.OpenAI(base_url=fresh.base_url, api_key="t", max_retries=0) as client:
        fresh.inject("cut_after=5")
        rec = Recorder()
        flow = RunFlow(handler=rec)
        assert consume(flow, client.beta.threads.create_and_run(
            assistant_id="asst_text", stream=True)) == "truncated"
        check_truncated(flow, rec, 5)

        fresh.inject("cut_after=5")
        rec = Recorder()
        flow = RunFlow(handler=rec)
        # the SDK raises on the broken connection; the handler has closed the flow
        with pytest.raises(CUT), \
                client.beta.threads.create_and_run_stream(
                    assistant_id="asst_text", event_handler=FlowEventHandler(flow)) as stream:
            stream.until_done()
        check_truncated(flow, rec, 5)


def test_error_event_ends_with_error_via_consume_and_handler(fresh: Server) -> None:
    with openai.OpenAI(base_url=fresh.base_url, api_key="t", max_retries=0) as client:
        fresh.inject("error_after=4")
        rec = Recorder()
        flow = RunFlow(handler=rec)
        assert consume(flow, client.beta.threads.create_and_run(
            assistant_id="asst_text", stream=True)) == "error"
        check_error(flow, rec)
        assert flow.event_count == 5  # four frames, then the error event

        fresh.inject("error_after=4")
        rec = Recorder()
        flow = RunFlow(handler=rec)
        with pytest.raises(openai.APIError, match="injected"), \
                client.beta.threads.create_and_run_stream(
                    assistant_id="asst_text", event_handler=FlowEventHandler(flow)) as stream:
            stream.until_done()
        check_error(flow, rec)


async def test_cut_and_error_streams_async(fresh: Server) -> None:
    async with openai.AsyncOpenAI(base_url=fresh.base_url, api_key="t",
                                  max_retries=0) as client:
        for fault, ending in (("cut_after=5", "truncated"), ("error_after=4", "error")):
            fresh.inject(fault)
            rec = AsyncRecorder()
            flow = RunFlow(handler=rec)
            assert await aconsume(flow, await client.beta.threads.create_and_run(
                assistant_id="asst_text", stream=True)) == ending
            results: list[Any] = [flow.ending, rec.ends, flow.run_status]

            fresh.inject(fault)
            rec = AsyncRecorder()
            flow = RunFlow(handler=rec)
            with pytest.raises(CUT if ending == "truncated" else openai.APIError):
                async with client.beta.threads.create_and_run_stream(
                        assistant_id="asst_text",
                        event_handler=AsyncFlowEventHandler(flow)) as stream:
                    await stream.until_done()
            results += [flow.ending, rec.ends, flow.run_status]
            assert results == [ending, [ending], "in_progress"] * 2
            assert (flow.error is not None) == (ending == "error")
