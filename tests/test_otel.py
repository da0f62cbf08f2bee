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
from conftest import recordings_dir
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from runflow import Limits, ResponseFlow, RunFlow, drive_response
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
                       if c.entity == "run" and c.source != c.dest]


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
    outputs: list[ToolOutput] = [{"tool_call_id": c.id, "output": "ok"}
                                 for c in flow.pending_tool_calls]
    consume(flow, runs.submit_tool_outputs(run_id=str(flow.run_id), thread_id=str(flow.thread_id),
                                           tool_outputs=outputs, stream=True))
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


# --------------------------------------------------------------------------- #
# issue 24: a full history (Limits.max_history) must not keep spans open
# --------------------------------------------------------------------------- #
def test_spans_end_when_max_history_dropped_the_runs_end(exporter: InMemorySpanExporter) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    flow = RunFlow(limits=Limits(max_history=3))
    trace_flow(flow, provider.get_tracer("runflow-tests"))
    for stream in _demo_streams():
        _feed(flow, stream)
    assert flow.history_dropped > 0 and flow.run_status == "completed"
    spans = exporter.get_finished_spans()
    assert format_span_tree(spans) == TWO_STREAM_TREE  # every span ended, states in order
    run = _span(spans, "invoke_agent asst_demoWeather0001")
    changes = [dict(e.attributes or {}) for e in run.events if e.name == "runflow.state_change"]
    kept, dropped = changes[:2], changes[2:]  # the first three changes: run, run, step
    assert [c["runflow.event"] for c in kept] == ["thread.run.created", "thread.run.in_progress"]
    assert all(c["runflow.history_dropped"] is True and "runflow.event" not in c for c in dropped)
    assert [(c["runflow.state.from"], c["runflow.state.to"]) for c in dropped] == [
        ("in_progress", "requires_action"), ("requires_action", "queued"),
        ("queued", "in_progress"), ("in_progress", "completed")]


# --------------------------------------------------------------------------- #
# the Responses stream, from real captures
# --------------------------------------------------------------------------- #
FUNCTION_CALL = "pydanticai_function_call_noseq_gpt4o.sse"
TEXT = "openaidotnet_hello_text_gpt4omini.sse"
RATE_LIMITED = "prism_error_rate_limited_gpt4o.sse"


def _capture(name: str) -> bytes:
    return (recordings_dir() / "responses" / name).read_bytes()


def _capture_events(name: str) -> list[dict[str, Any]]:
    """The capture's events as dicts (to damage one before feeding it)."""
    return [json.loads(line[len("data: "):]) for line in _capture(name).decode().splitlines()
            if line.startswith("data: ")]


def _traced_response(exporter: InMemorySpanExporter,
                     **options: Any) -> tuple[ResponseFlow, FlowTracer]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    flow = ResponseFlow(**options)
    return flow, trace_flow(flow, provider.get_tracer("runflow-tests"))


FUNCTION_CALL_TREE = """\
chat gpt-4o-2024-08-06  resp_67e554a155508191900ee113293c4c830794405d35281ae2 completed  \
tokens 255 in / 16 out
  events: in_progress, completed, stream.end done
  function_call get_capital  fc_67e554a1de488191af0831d35cbe082e0794405d35281ae2 completed
    events: in_progress, arguments_done, completed
"""


def test_a_function_call_response_has_a_span_per_response_and_item(
        exporter: InMemorySpanExporter) -> None:
    flow, _ = _traced_response(exporter)
    flow.feed_sse(_capture(FUNCTION_CALL))
    assert exporter.get_finished_spans()[-1].name == "function_call get_capital"  # root open
    assert flow.close() == "done"
    spans = exporter.get_finished_spans()
    assert format_span_tree(spans) == FUNCTION_CALL_TREE
    assert "```text\n" + FUNCTION_CALL_TREE + "```" in README.read_text(encoding="utf-8")
    root, call = _span(spans, "chat gpt-4o-2024-08-06"), _span(spans, "function_call get_capital")
    assert root.parent is None
    assert call.parent is not None and call.parent.span_id == root.context.span_id
    rid = "resp_67e554a155508191900ee113293c4c830794405d35281ae2"
    assert dict(root.attributes or {}) == {
        "gen_ai.operation.name": "chat", "gen_ai.system": "openai",
        "gen_ai.provider.name": "openai", "gen_ai.response.id": rid,
        "runflow.response.id": rid, "gen_ai.response.model": "gpt-4o-2024-08-06",
        "runflow.ending": "done", "runflow.violations": 0, "runflow.response.status": "completed",
        "gen_ai.response.finish_reasons": ("completed",), "gen_ai.usage.input_tokens": 255,
        "gen_ai.usage.output_tokens": 16,
    }
    assert dict(call.attributes or {}) == {
        "runflow.item.id": "fc_67e554a1de488191af0831d35cbe082e0794405d35281ae2",
        "runflow.item.type": "function_call", "gen_ai.tool.name": "get_capital",
        "gen_ai.tool.type": "function", "gen_ai.tool.call.id": "call_kL0PCQV7M2WMoVX8V8OtYSAL",
        "runflow.item.status": "completed",
    }
    assert _states(root) == [("response.created", "unseen", "in_progress"),
                             ("response.completed", "in_progress", "completed")]
    assert _states(call) == [
        ("response.output_item.added", "unseen", "in_progress"),
        ("response.function_call_arguments.done", "in_progress", "arguments_done"),
        ("response.output_item.done", "arguments_done", "completed")]


def test_a_text_response_has_its_message_span(exporter: InMemorySpanExporter) -> None:
    flow, _ = _traced_response(exporter)
    flow.feed_sse(_capture(TEXT))
    flow.close()
    assert format_span_tree(exporter.get_finished_spans()) == (
        "chat gpt-4o-mini-2024-07-18  resp_0976c6df58902d6a0068c9ef349f8881968e62cd0dd40b45bf "
        "completed  tokens 11 in / 10 out\n"
        "  events: in_progress, completed, stream.end done\n"
        "  message  msg_0976c6df58902d6a0068c9ef3537f48196a252a62ce5661cef completed\n"
        "    events: in_progress, completed\n")


def test_a_failed_response_without_usage_is_an_error_span(
        exporter: InMemorySpanExporter) -> None:
    flow, _ = _traced_response(exporter)
    flow.feed_sse(_capture(RATE_LIMITED))
    flow.close()
    [root] = exporter.get_finished_spans()
    attrs = dict(root.attributes or {})
    assert flow.response is not None and flow.response.usage is None
    assert not [k for k in attrs if k.startswith("gen_ai.usage.")]
    assert attrs["error.type"] == "rate_limit_exceeded"
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == "response failed"
    # the error event ended the stream before response.failed: the span waits for close()
    assert attrs["runflow.ending"] == "error"
    assert format_span_tree([root]).splitlines()[1] == (
        "  events: in_progress, failed, stream.end error")


@pytest.mark.parametrize("usage", ["absent", None, "lots", {"input_tokens": "3"}])
def test_hostile_usage_and_tool_names_are_left_out(exporter: InMemorySpanExporter,
                                                   usage: Any) -> None:
    events = _capture_events(FUNCTION_CALL)
    for event in events:
        if event["type"] == "response.completed":
            if usage == "absent":
                del event["response"]["usage"]
            else:
                event["response"]["usage"] = usage
        item = event.get("item")
        if isinstance(item, dict):
            item["name"] = 7
    flow, _ = _traced_response(exporter)
    for event in events:
        flow.feed(event)
    flow.close()
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["function_call", "chat gpt-4o-2024-08-06"]
    root, call = (dict(s.attributes or {}) for s in reversed(spans))
    assert not [k for k in root if k.startswith("gen_ai.usage.")]
    assert root["runflow.response.status"] == "completed"
    assert not [k for k in call if k.startswith("gen_ai.tool.")]


def test_a_tracer_attached_mid_stream_traces_what_comes_after(
        exporter: InMemorySpanExporter) -> None:
    """Two function calls; the tracer attached once the first is done: the second
    call's changes are its own, not the first call's kept in the history."""
    events = _capture_events("mirascope_parallel_function_calls_gpt4o.sse")
    flow = ResponseFlow()
    for event in events[:12]:
        flow.feed(event)
    assert [s for _, _, s in flow.item_states] == ["completed"]
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_flow(flow, provider.get_tracer("runflow-tests"))
    for event in events[12:]:
        flow.feed(event)
    flow.close()
    [call] = [s for s in exporter.get_finished_spans() if s.name.startswith("function_call")]
    assert (call.attributes or {})["runflow.item.id"] == flow.item_states[1][1]
    indices = [(e.attributes or {})["runflow.event.index"] for e in call.events]
    assert indices == [12, 19, 20]


def test_a_violation_about_a_part_goes_on_its_items_span(
        exporter: InMemorySpanExporter) -> None:
    events = _capture_events(TEXT)
    done = [e["type"] for e in events].index("response.output_text.done")
    events[done]["text"] = "Bogus"  # not what the deltas built
    flow, _ = _traced_response(exporter)
    for event in events:
        flow.feed(event)
    flow.close()
    assert [(v.code, v.index, v.entity.kind if v.entity else None) for v in flow.violations] == [
        ("snapshot_divergence", done, "output_text"),
        ("snapshot_divergence", done + 1, "output_text")]
    root, message = (exporter.get_finished_spans()[-1], _span(exporter.get_finished_spans(),
                                                              "message"))
    assert [e.name for e in root.events].count("runflow.violation") == 0
    assert [(e.attributes or {})["runflow.violation.index"] for e in message.events
            if e.name == "runflow.violation"] == [done, done + 1]
    assert (root.attributes or {})["runflow.violations"] == 2


def test_response_spans_end_when_max_history_dropped_the_end(
        exporter: InMemorySpanExporter) -> None:
    flow, _ = _traced_response(exporter, limits=Limits(max_history=1))
    flow.feed_sse(_capture(FUNCTION_CALL))
    flow.close()
    assert flow.history_dropped == 5
    assert format_span_tree(exporter.get_finished_spans()) == FUNCTION_CALL_TREE


def test_a_cut_response_stays_open_until_finish(exporter: InMemorySpanExporter) -> None:
    events = _capture_events(FUNCTION_CALL)
    flow, tracing = _traced_response(exporter)
    for event in events[:5]:
        flow.feed(event)
    assert flow.close() == "truncated"
    assert exporter.get_finished_spans() == ()
    tracing.finish()
    tree = format_span_tree(exporter.get_finished_spans())
    assert tree == (
        "chat gpt-4o-2024-08-06  resp_67e554a155508191900ee113293c4c830794405d35281ae2 "
        "in_progress  ERROR unfinished: still in_progress\n"
        "  events: in_progress, violation truncated #5, stream.end truncated\n"
        "  function_call get_capital  fc_67e554a1de488191af0831d35cbe082e0794405d35281ae2 "
        "in_progress  ERROR unfinished: still in_progress\n"
        "    events: in_progress\n")


def test_drive_response_traced_through_the_client(exporter: InMemorySpanExporter,
                                                  local: Server) -> None:
    """The function-call loop, one traced flow per response: two root spans, the
    first with its two calls, the second with the answer."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("runflow-tests")

    def traced() -> ResponseFlow:
        flow = ResponseFlow()
        trace_flow(flow, tracer)
        return flow

    client = openai.OpenAI(base_url=local.base_url, api_key="test", max_retries=0)
    done = drive_response(client, model="gpt-4o", input="Weather and time in Lisbon?",
                          tools={"get_weather": lambda city: "sunny",
                                 "get_time": lambda timezone: "noon"},
                          metadata={"scenario": "parallel_functions"}, make_flow=traced)
    spans = exporter.get_finished_spans()
    roots = [s for s in spans if s.parent is None]
    assert [(s.attributes or {})["gen_ai.response.id"] for s in roots] == [
        r.id for r in done.responses]
    first, second = roots
    under = {r.context.span_id: sorted(s.name for s in spans if s.parent is not None
                                       and s.parent.span_id == r.context.span_id)
             for r in roots}
    assert under[first.context.span_id] == ["function_call get_time", "function_call get_weather"]
    assert under[second.context.span_id] == ["message"]
    assert all((s.attributes or {})["runflow.ending"] == "done" for s in roots)
