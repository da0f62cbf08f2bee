"""The Assistants scenarios: what ``runflow conform --protocol assistants`` drives.

Each creates what it needs (an assistant with the tools it asks for, a thread with
one user message) through the real openai client, streams the run, answers
``requires_action``, and reads the run, its steps and its messages over REST
afterwards. Instructions ask a real model for the behaviour; ``metadata.scenario``
asks an emulator for it. A server that cannot be made to do it (the model answers
without calling the tools, the run completes before a cancel lands) makes the
scenario not applicable.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any, cast

from runflow.conform.catalogue import Context, Scenario
from runflow.conform.events import TappedEvent
from runflow.conform.grade import Watch
from runflow.conform.session import NotApplicable, Probe

__all__ = ["ASSISTANTS_SCENARIOS", "FUNCTION_TOOLS", "TOOL_OUTPUTS"]

FUNCTION_TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": {arg: {"type": "string"}},
                       "required": [arg]}}}
    for name, arg, description in (
        ("get_weather", "city", "The weather in a city (runflow conform tool)"),
        ("get_time", "timezone", "The time in a time zone (runflow conform tool)"),
    )
]
TOOL_OUTPUTS = {"get_weather": "sunny, 21 C", "get_time": "12:00"}


def _assistant(ctx: Context, hint: str, instructions: str,
               tools: list[dict[str, Any]] | None = None) -> str:
    body = ctx.session.create("assistants.create", lambda: (
        ctx.client.beta.assistants.with_raw_response.create(
            model=ctx.model, name=f"runflow conform {ctx.scenario}", instructions=instructions,
            tools=cast(Any, tools or []), metadata=ctx.hint(hint))))
    return str(body["id"])


def _thread(ctx: Context, text: str) -> str:
    body = ctx.session.create("threads.create", lambda: (
        ctx.client.beta.threads.with_raw_response.create(
            messages=[{"role": "user", "content": text}])))
    return str(body["id"])


def _stream_run(ctx: Context, probe: Probe, thread: str, assistant: str, hint: str,
                **params: Any) -> None:
    on_event = params.pop("on_event", None)
    ctx.session.stream(probe, "runs.create (stream)", lambda: (
        ctx.client.beta.threads.runs.with_streaming_response.create(
            thread_id=thread, assistant_id=assistant, stream=True, metadata=ctx.hint(hint),
            **params)), on_event)


def _rest_reads(ctx: Context, probe: Probe, thread: str) -> None:
    """The run, its steps and its messages over REST, against the stream's finals."""
    run_id: str | None = probe.flow.root_id
    if run_id is None:
        return
    runs = ctx.client.beta.threads.runs
    run = ctx.session.rest(probe, "runs.retrieve", lambda: (
        runs.with_raw_response.retrieve(run_id, thread_id=thread)), key="run")
    steps = ctx.session.rest(probe, "runs.steps.list", lambda: (
        runs.steps.with_raw_response.list(run_id, thread_id=thread, order="asc", limit=100)))
    messages = ctx.session.rest(probe, "messages.list", lambda: (
        ctx.client.beta.threads.messages.with_raw_response.list(
            thread, run_id=run_id, order="asc", limit=100)))
    ctx.compare_root(probe, "consistency.run", run)
    ctx.compare_children(probe, "consistency.steps", "step", steps)
    ctx.compare_children(probe, "consistency.messages", "message", messages)


def _paused(flow: Any) -> bool:
    """The run waits for tool outputs: it is in a pause state of the run table
    (``requires_action``), read from the flow's definition."""
    return flow.root_state in flow.protocol.root_table.pauses


def _answer_tools(ctx: Context, probe: Probe, thread: str, rounds: int = 3) -> int:
    """Submit outputs while the run requires action; returns how many rounds."""
    done = 0
    flow: Any = probe.flow
    while _paused(flow) and done < rounds:
        calls = flow.pending_tool_calls
        outputs: Any = [{"tool_call_id": call.id,
                    "output": TOOL_OUTPUTS.get(call.function.name, "ok")} for call in calls]
        ctx.session.stream(probe, "runs.submit_tool_outputs (stream)", partial(
            ctx.client.beta.threads.runs.with_streaming_response.submit_tool_outputs,
            flow.run_id, thread_id=thread, tool_outputs=outputs, stream=True))
        done += 1
    return done


def _plain(ctx: Context, hint: str, instructions: str, question: str,
           tools: list[dict[str, Any]] | None = None, *, watch: Watch | None = None,
           **params: Any) -> Probe:
    assistant = _assistant(ctx, hint, instructions, tools)
    thread = _thread(ctx, question)
    probe = ctx.probe("run")
    if watch is not None:
        probe.watch(watch)
    _stream_run(ctx, probe, thread, assistant, hint, **params)
    _answer_tools(ctx, probe, thread)
    _rest_reads(ctx, probe, thread)
    return probe


def text(ctx: Context) -> None:
    _plain(ctx, "text", "Answer in one short sentence.", "Say hello.")


def parallel_functions(ctx: Context) -> None:
    assistant = _assistant(ctx, "parallel_functions",
                           "Always call get_weather and get_time, both at once, before "
                           "answering.", FUNCTION_TOOLS)
    thread = _thread(ctx, "What is the weather in Paris, and the time in Europe/Paris?")
    probe = ctx.probe("run")
    _stream_run(ctx, probe, thread, assistant, "parallel_functions")
    asked = _paused(probe.flow)
    calls = len(probe.flow.pending_tool_calls)  # type: ignore[attr-defined]
    _answer_tools(ctx, probe, thread)
    _rest_reads(ctx, probe, thread)
    if not asked:
        raise NotApplicable(f"the run ended {probe.flow.root_state} without calling the tools")
    ctx.notes.append(f"{calls} parallel function call(s) answered")


def create_and_run(ctx: Context) -> None:
    assistant = _assistant(ctx, "text", "Answer in one short sentence.")
    probe = ctx.probe("run")
    ctx.session.stream(probe, "threads.create_and_run (stream)", lambda: (
        ctx.client.beta.threads.with_streaming_response.create_and_run(
            assistant_id=assistant, stream=True, metadata=ctx.hint("text"),
            thread={"messages": [{"role": "user", "content": "Say hello."}]})))
    flow: Any = probe.flow
    thread = flow.thread_id or (flow.run.thread_id if flow.run is not None else None)
    if thread is None:
        raise NotApplicable("the stream named no thread")
    _rest_reads(ctx, probe, thread)


def cancel(ctx: Context) -> None:
    assistant = _assistant(ctx, "cancel", "Write a long, detailed essay.")
    thread = _thread(ctx, "Write a 2000-word essay about the history of clocks.")
    probe = ctx.probe("run")
    sent: list[int] = []

    def cancel_once(p: Probe) -> bool:
        flow: Any = p.flow
        if not sent and flow.run_id is not None and flow.run_status == "in_progress" and (
                "thread.message.delta" in p.grade.names):
            sent.append(flow.event_count)
            ctx.session.rest(None, "runs.cancel", lambda: (
                ctx.client.beta.threads.runs.with_raw_response.cancel(
                    flow.run_id, thread_id=thread)))
        return False

    _stream_run(ctx, probe, thread, assistant, "cancel", on_event=cancel_once)
    _rest_reads(ctx, probe, thread)
    status = probe.flow.root_state
    if status != "cancelled":
        raise NotApplicable(f"the run ended {status} before a cancel took effect")
    if sent:
        ctx.notes.append(f"cancel sent after event #{sent[0] - 1}")


def failure(ctx: Context) -> None:
    probe = _plain(ctx, "failure", "Answer in one short sentence.", "Say hello.")
    if probe.flow.root_state != "failed":
        raise NotApplicable(f"the server could not be made to fail a run (it ended "
                            f"{probe.flow.root_state})")


def incomplete(ctx: Context) -> None:
    probe = _plain(ctx, "incomplete", "Write at length.", "Write a 500-word story.",
                   max_completion_tokens=16)
    if probe.flow.root_state != "incomplete":
        raise NotApplicable(f"max_completion_tokens=16 did not make the run incomplete "
                            f"(it ended {probe.flow.root_state})")


def _uses_code_interpreter(event: TappedEvent) -> bool:
    return isinstance(event.data, dict) and "code_interpreter" in json.dumps(
        event.data.get("step_details") or {})


def code_interpreter(ctx: Context) -> None:
    used = Watch(_uses_code_interpreter)
    _plain(ctx, "code_interpreter", "Use the code interpreter for any arithmetic.",
           "Compute the maximum of sin(x) on [0, 2pi] with code.",
           [{"type": "code_interpreter"}], watch=used)
    if used.event is None:
        raise NotApplicable("the run used no code_interpreter tool call")


def errors(ctx: Context) -> None:
    probe = ctx.probe("errors")
    thread = _thread(ctx, "hello")
    ctx.session.expect_error(probe, "threads.retrieve (unknown id)", lambda: (
        ctx.client.beta.threads.with_raw_response.retrieve("thread_runflowConformMissing")))
    ctx.session.expect_error(probe, "runs.retrieve (unknown id)", lambda: (
        ctx.client.beta.threads.runs.with_raw_response.retrieve(
            "run_runflowConformMissing", thread_id=thread)))


ASSISTANTS_SCENARIOS: tuple[Scenario, ...] = tuple(
    Scenario(fn.__name__, "assistants", description, fn) for fn, description in (
        (text, "a plain text run, streamed; REST reads after it"),
        (parallel_functions, "parallel function calls, then the submit_tool_outputs stream"),
        (create_and_run, "threads.create_and_run, streamed"),
        (cancel, "runs.cancel while the run streams"),
        (failure, "a run that fails (where the server can be made to)"),
        (incomplete, "a run that stops at max_completion_tokens=16"),
        (code_interpreter, "a code_interpreter tool call"),
        (errors, "unknown ids: a 4xx in OpenAI's error shape"),
    )
)
