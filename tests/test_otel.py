"""OpenTelemetry spans of a flow (runflow.adapters.otel), read back from the SDK's
in-memory exporter."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from runflow import RunFlow
from runflow.adapters.otel import FlowTracer, format_span_tree, trace_flow
from runflow.adapters.recording import DEMO_STREAM
from runflow.adapters.sdk import consume
from runflow.testing import Server

README = Path(__file__).resolve().parent.parent / "README.md"

TWO_STREAM_TREE = """\
invoke_agent asst_demoWeather0001  run_demoWeather0001 completed  tokens 159 in / 28 out
  events: queued, in_progress, requires_action, stream.end done, queued, in_progress,
          completed, stream.end done
  step tool_calls  step_demoToolCall0001 completed  tools get_weather  tokens 61 in / 16 out
    events: in_progress, completed
  step message_creation  step_demoMessage0001 completed  tokens 98 in / 12 out
    events: in_progress, completed
    message assistant  msg_demoAnswer0001 completed
      events: in_progress, completed
"""


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _traced(exporter: InMemorySpanExporter) -> tuple[RunFlow, FlowTracer]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    flow = RunFlow()
    return flow, trace_flow(flow, provider.get_tracer("runflow-tests"))


def _demo_streams() -> tuple[list[Any], list[Any]]:
    events = [json.loads(line) for line in DEMO_STREAM.read_text(encoding="utf-8").splitlines()]
    first = [e["event"] for e in events].index("done") + 1
    return events[:first], events[first:]


def _feed(flow: RunFlow, events: list[Any]) -> None:
    flow.begin_stream()
    for event in events:
        flow.feed(event)
    flow.close()


def _span(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    [span] = [s for s in spans if s.name == name]
    return span


def _states(span: ReadableSpan) -> list[tuple[Any, ...]]:
    return [(e.attributes["runflow.event"], e.attributes["runflow.state.from"],
             e.attributes["runflow.state.to"]) for e in span.events
            if e.name == "runflow.state_change" and e.attributes is not None]


# --------------------------------------------------------------------------- #
# a two-stream tool-call run
# --------------------------------------------------------------------------- #
def test_two_stream_tool_call_run_tree_is_the_one_in_the_readme(
        exporter: InMemorySpanExporter) -> None:
    flow, _ = _traced(exporter)
    first, second = _demo_streams()
    _feed(flow, first)
    assert exporter.get_finished_spans() == ()  # requires_action: run and tool step open
    _feed(flow, second)
    tree = format_span_tree(exporter.get_finished_spans())
    assert tree == TWO_STREAM_TREE
    assert "```text\n" + TWO_STREAM_TREE + "```" in README.read_text(encoding="utf-8")


def test_span_parents_names_and_genai_attributes(exporter: InMemorySpanExporter) -> None:
    flow, _ = _traced(exporter)
    for stream in _demo_streams():
        _feed(flow, stream)
    spans = exporter.get_finished_spans()
    run = _span(spans, "invoke_agent asst_demoWeather0001")
    tools = _span(spans, "step tool_calls")
    creation = _span(spans, "step message_creation")
    message = _span(spans, "message assistant")
    assert run.parent is None
    assert tools.parent is not None and tools.parent.span_id == run.context.span_id
    assert creation.parent is not None and creation.parent.span_id == run.context.span_id
    assert message.parent is not None and message.parent.span_id == creation.context.span_id
    assert {t.context.trace_id for t in spans} == {run.context.trace_id}
    assert dict(run.attributes or {}) == {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.system": "openai",
        "gen_ai.provider.name": "openai", "gen_ai.response.id": "run_demoWeather0001",
        "runflow.run.id": "run_demoWeather0001", "gen_ai.agent.id": "asst_demoWeather0001",
        "gen_ai.conversation.id": "thread_demoWeather0001", "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o", "runflow.ending": "done",
        "runflow.run.status": "completed", "gen_ai.response.finish_reasons": ("completed",),
        "runflow.violations": 0, "gen_ai.usage.input_tokens": 159,
        "gen_ai.usage.output_tokens": 28,
    }
    assert run.status.status_code is StatusCode.UNSET
    assert dict(tools.attributes or {}) == {
        "runflow.step.id": "step_demoToolCall0001", "runflow.step.type": "tool_calls",
        "runflow.step.status": "completed", "runflow.tool.names": ("get_weather",),
        "runflow.tool.call_ids": ("call_demoGetWeather0001",), "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.type": "function", "gen_ai.tool.call.id": "call_demoGetWeather0001",
        "gen_ai.usage.input_tokens": 61, "gen_ai.usage.output_tokens": 16,
    }
    assert _states(run) == [
        ("thread.run.created", "unseen", "queued"),
        ("thread.run.in_progress", "queued", "in_progress"),
        ("thread.run.requires_action", "in_progress", "requires_action"),
        ("thread.run.queued", "requires_action", "queued"),
        ("thread.run.in_progress", "queued", "in_progress"),
        ("thread.run.completed", "in_progress", "completed"),
    ]
    indices = [e.attributes["runflow.event.index"] for e in run.events
               if e.name == "runflow.state_change" and e.attributes is not None]
    assert indices == [c.index for c in flow.history
                       if c.entity.value == "run" and c.source != c.dest]


# --------------------------------------------------------------------------- #
# a cut stream, then recovery over REST
# --------------------------------------------------------------------------- #
def test_a_cut_stream_leaves_the_run_open_until_finish(exporter: InMemorySpanExporter) -> None:
    flow, tracing = _traced(exporter)
    first, _ = _demo_streams()
    _feed(flow, first[:8])
    assert exporter.get_finished_spans() == ()
    tracing.finish()
    spans = exporter.get_finished_spans()
    run = _span(spans, "invoke_agent asst_demoWeather0001")
    [violation] = [e for e in run.events if e.name == "runflow.violation"]
    assert dict(violation.attributes or {}) == {
        "runflow.violation.code": "truncated", "runflow.violation.severity": "error",
        "runflow.violation.index": 8, "runflow.violation.message": flow.violations[0].message,
    }
    assert run.status.status_code is StatusCode.ERROR
    assert (run.attributes or {})["runflow.ending"] == "truncated"
    assert format_span_tree(spans) == (
        "invoke_agent asst_demoWeather0001  run_demoWeather0001 in_progress  "
        "ERROR unfinished: still in_progress\n"
        "  events: queued, in_progress, violation truncated #8, stream.end truncated\n"
        "  step tool_calls  step_demoToolCall0001 in_progress  "
        "ERROR unfinished: still in_progress\n"
        "    events: in_progress\n")


def test_a_violation_goes_on_the_span_of_its_entity(exporter: InMemorySpanExporter) -> None:
    flow, _ = _traced(exporter)
    first, second = _demo_streams()
    _feed(flow, first)
    _feed(flow, [*second[:6], second[5], *second[6:]])  # message.created twice
    spans = exporter.get_finished_spans()
    message = _span(spans, "message assistant")
    codes = [(e.attributes or {}).get("runflow.violation.code") for e in message.events
             if e.name == "runflow.violation"]
    assert codes == ["duplicate_entity"]
    run = _span(spans, "invoke_agent asst_demoWeather0001")
    assert (run.attributes or {})["runflow.violations"] == 1


@pytest.fixture(scope="module")
def local() -> Iterator[Server]:
    with Server() as server:
        yield server


def test_a_recovered_run_ends_its_spans_with_the_states_read_over_rest(
        exporter: InMemorySpanExporter, local: Server) -> None:
    client = openai.OpenAI(base_url=local.base_url, api_key="test", max_retries=0)
    flow, _ = _traced(exporter)
    stream = client.beta.threads.create_and_run(
        assistant_id="asst_text", stream=True, extra_headers={"X-Runflow-Fault": "cut_after=7"})
    assert consume(flow, stream) == "truncated"
    assert exporter.get_finished_spans() == ()
    thread_id, run_id = str(flow.thread_id), str(flow.run_id)
    for step in client.beta.threads.runs.steps.list(run_id=run_id, thread_id=thread_id):
        flow.recover(step)
    for message in client.beta.threads.messages.list(thread_id=thread_id, run_id=run_id):
        flow.recover(message)
    flow.recover(client.beta.threads.runs.retrieve(run_id=run_id, thread_id=thread_id))
    spans = exporter.get_finished_spans()  # no finish(): recovery ended them all
    tree = format_span_tree(spans)
    ids = {run_id: "RUN", **{s.id: "STEP" for s in flow.steps},
           **{m.id: "MSG" for m in flow.messages}}
    tree = re.sub("|".join(ids), lambda m: ids[m.group(0)], tree)
    assert tree == (
        "invoke_agent asst_text  RUN completed  tokens 120 in / 10 out\n"
        "  events: queued, in_progress, violation truncated #7, stream.end truncated,\n"
        "          completed (recovered)\n"
        "  step message_creation  STEP completed  tokens 120 in / 10 out\n"
        "    events: in_progress, completed (recovered)\n"
        "    message assistant  MSG completed\n"
        "      events: in_progress, completed (recovered)\n")
    run = _span(spans, "invoke_agent asst_text")
    assert _states(run)[-1] == ("recovered", "in_progress", "completed")
    assert run.status.status_code is StatusCode.UNSET


def test_a_live_two_stream_run_through_the_client(exporter: InMemorySpanExporter,
                                                  local: Server) -> None:
    client = openai.OpenAI(base_url=local.base_url, api_key="test", max_retries=0)
    flow, _ = _traced(exporter)
    runs = client.beta.threads.runs
    consume(flow, client.beta.threads.create_and_run(assistant_id="asst_parallel_functions",
                                                     stream=True))
    outputs = [{"tool_call_id": c.id, "output": "ok"} for c in flow.pending_tool_calls]
    consume(flow, runs.submit_tool_outputs(run_id=str(flow.run_id), thread_id=str(flow.thread_id),
                                           tool_outputs=outputs, stream=True))  # type: ignore[arg-type]
    spans = exporter.get_finished_spans()
    tools = _span(spans, "step tool_calls")
    assert (tools.attributes or {})["runflow.tool.names"] == ("get_weather", "get_time")
    assert "gen_ai.tool.name" not in (tools.attributes or {})  # two calls: no single name
    run = _span(spans, "invoke_agent asst_parallel_functions")
    ends = [(e.attributes or {}).get("runflow.ending") for e in run.events
            if e.name == "runflow.stream.end"]
    assert ends == ["done", "done"]
    assert sorted(s.name for s in spans) == [
        "invoke_agent asst_parallel_functions", "message assistant", "step message_creation",
        "step tool_calls"]
