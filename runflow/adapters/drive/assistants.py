"""The Assistants drive loop: run an assistant to a terminal state, calling tools on
the way.

:func:`drive` (and :func:`adrive`) start a streamed run, feed one flow, and on
``requires_action`` call the matching tools, submit their outputs with the
streaming submit call, and continue the same flow until the run is terminal.

When a stream is cut (ending ``truncated``) or ends with an ``error`` event, they
reconcile over REST (retrieve the run, list its steps, list the thread's
messages), feed what changed into the flow as recovered objects, then resume:
in requires_action they submit, in progress they poll with backoff until the run
is final, at a terminal state they stop.

Outputs go to the server exactly once per tool call id, wherever a cut falls
(:mod:`.ledger`): the submit request is sent without the SDK's automatic
retries, and when it fails in a way that leaves open whether the server took it
(no connection, a reset, a timeout, a 5xx), the run is read back: if it left
``requires_action`` for those calls, the outputs were taken and the run is
followed by polling; otherwise they are sent once more. A run that names one
tool call id twice gets one output for it (the first call's), and its flow reports
the repeat (``tool_calls_mismatch`` at ``requires_action``).

Bounds (:mod:`.budget`, :mod:`.clock`): ``deadline`` caps the whole call,
``idle_timeout`` (60 s unless given; None: no bound) each stream, where *idle*
means no SSE event dispatched (keep-alive comments do not count). Both end in
:class:`RunTimeout`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import openai
from openai.types.beta.threads import RequiredActionFunctionToolCall, Run
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from runflow.adapters.drive.budget import DEFAULT_IDLE_TIMEOUT, Budget, Polling
from runflow.adapters.drive.clock import abounded, astream, bounded, deadline_errors, stream
from runflow.adapters.drive.errors import DriveError, RunTimeout, describe
from runflow.adapters.drive.ledger import Ledger, maybe_taken
from runflow.adapters.drive.tools import Tool, ToolCall, ToolPolicy, ToolRunner
from runflow.engine.flow import Flow
from runflow.protocols import PROTOCOL, UNSEEN, Entity
from runflow.protocols.assistants.flow import RunFlow

__all__ = ["Planner", "adrive", "areconcile", "drive", "reconcile", "run_id", "still", "taken"]

TERMINAL = PROTOCOL.tables[Entity.RUN].terminal
Calls = list[RequiredActionFunctionToolCall]


def still(flow: Flow) -> str:
    """``run run_1 still 'in_progress'``: what was not final, for a timeout."""
    return f"{flow.root_kind} {flow.root_id} still {flow.root_state!r}"


class Planner:
    """What to do next, decided from the flow alone (no I/O), so that :func:`drive`
    and :func:`adrive` share every decision and differ only in how they wait.

    ``next`` answers ``("stop", None)``, ``("reconcile", None)`` after a stream that
    did not end with ``done`` (or named no run), ``("submit", calls)`` for the
    pending calls not yet submitted -- each call id is submitted once, wherever a
    cut falls -- or ``("poll", seconds)`` with exponential backoff. It raises
    :class:`RunTimeout` once polling or the overall deadline ran out.
    """

    def __init__(self, budget: Budget, polling: Polling) -> None:
        self.budget, self.polling = budget, polling
        self.ledger = Ledger()
        self.stale = False  # the flow may be behind the server: read it over REST
        polling.restart()

    def streamed(self, ending: str) -> None:
        self.stale = ending != "done"

    def sent(self, calls: Calls) -> None:
        """The outputs of ``calls`` are about to be submitted."""
        self.ledger.record(c.id for c in calls)
        self.polling.restart()

    def check_deadline(self, flow: Flow) -> None:
        self.budget.check(still(flow))

    def next(self, flow: RunFlow) -> tuple[str, Any]:
        status = flow.run_status
        if status in TERMINAL:
            return "stop", None
        self.check_deadline(flow)
        if self.stale or status == UNSEEN:
            self.stale = False
            return "reconcile", None
        if status == "requires_action":
            calls, _ = self.ledger.unanswered(flow.pending_tool_calls, lambda c: c.id)
            if calls:
                return "submit", calls
        delay = self.polling.delay(self.budget)
        if delay is None:
            raise RunTimeout(f"run {flow.run_id} still {status!r} after "
                             f"{self.polling.timeout}s of polling")
        self.stale = True  # after the wait, read the run again
        return "poll", delay


def _tool_calls(calls: Calls) -> list[ToolCall]:
    return [ToolCall(c.id, c.function.name, c.function.arguments) for c in calls]


def _outputs(calls: Calls, outputs: list[str]) -> list[ToolOutput]:
    return [ToolOutput(tool_call_id=c.id, output=o) for c, o in zip(calls, outputs, strict=True)]


def drive(
    client: openai.OpenAI,
    *,
    thread_id: str,
    assistant_id: str,
    tools: Mapping[str, Tool] | None = None,
    flow: RunFlow | None = None,
    on_tool_error: ToolPolicy = "submit_error",
    poll_interval: float = 0.05,
    poll_timeout: float = 60.0,
    deadline: float | None = None,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    **run_params: Any,
) -> RunFlow:
    """Run ``assistant_id`` on ``thread_id`` to a terminal state; return the flow.

    ``tools`` maps function names to callables taking the call's JSON arguments as
    keyword arguments. Their result is submitted as the output: a ``str`` as is,
    ``bytes`` decoded as UTF-8, anything else as JSON (objects JSON cannot hold
    via ``str()``). A tool that raises, or whose result cannot be sent (a circular
    structure, a ``__str__`` that raises, a lone surrogate, bytes that are not
    UTF-8, NaN), follows ``on_tool_error``: submit an error output, cancel the
    run, or raise :class:`ToolError`. ``deadline`` bounds the whole call and
    ``idle_timeout`` each stream (no event for that long; keep-alive comments do
    not count; 60 s by default, None for no bound), in seconds: either raises
    :class:`RunTimeout`. ``run_params`` go to ``runs.create``.
    """
    runner = ToolRunner(dict(tools or {}), on_tool_error)
    flow = flow if flow is not None else RunFlow()
    plan = Planner(Budget(deadline, idle_timeout), Polling(poll_interval, poll_timeout))
    with deadline_errors(plan.budget, lambda: still(flow)):
        return _drive(client, flow, plan, runner, thread_id, assistant_id, run_params)


def _drive(client: openai.OpenAI, flow: RunFlow, plan: Planner, runner: ToolRunner,
           thread_id: str, assistant_id: str, run_params: dict[str, Any]) -> RunFlow:
    budget = plan.budget
    plan.streamed(stream(flow, budget, lambda c: c.beta.threads.runs.create(
        thread_id=thread_id, assistant_id=assistant_id, stream=True, **run_params), client))
    while True:
        action, arg = plan.next(flow)
        if action == "stop":
            return flow
        if action == "reconcile":
            reconcile(bounded(client, budget), flow, thread_id)
        elif action == "poll":
            time.sleep(arg)
        else:
            outputs = runner.run(_tool_calls(arg))
            plan.check_deadline(flow)
            if outputs is None:  # policy "cancel": nothing streams after it, so poll
                bounded(client, budget).beta.threads.runs.cancel(
                    run_id=run_id(flow), thread_id=thread_id)
                plan.stale = True
                continue
            plan.sent(arg)
            _submit(client, flow, plan, thread_id, arg, _outputs(arg, outputs))


async def adrive(
    client: openai.AsyncOpenAI,
    *,
    thread_id: str,
    assistant_id: str,
    tools: Mapping[str, Tool] | None = None,
    flow: RunFlow | None = None,
    on_tool_error: ToolPolicy = "submit_error",
    tool_timeout: float | None = 30.0,
    poll_interval: float = 0.05,
    poll_timeout: float = 60.0,
    deadline: float | None = None,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    **run_params: Any,
) -> RunFlow:
    """Async :func:`drive`: tools (sync or ``async def``) run concurrently, each
    under ``tool_timeout`` seconds; a timeout follows ``on_tool_error``."""
    runner = ToolRunner(dict(tools or {}), on_tool_error, tool_timeout)
    flow = flow if flow is not None else RunFlow()
    plan = Planner(Budget(deadline, idle_timeout), Polling(poll_interval, poll_timeout))
    with deadline_errors(plan.budget, lambda: still(flow)):
        return await _adrive(client, flow, plan, runner, thread_id, assistant_id, run_params)


async def _adrive(client: openai.AsyncOpenAI, flow: RunFlow, plan: Planner, runner: ToolRunner,
                  thread_id: str, assistant_id: str, run_params: dict[str, Any]) -> RunFlow:
    budget = plan.budget

    async def start(c: openai.AsyncOpenAI) -> Any:
        return await c.beta.threads.runs.create(
            thread_id=thread_id, assistant_id=assistant_id, stream=True, **run_params)

    plan.streamed(await astream(flow, budget, start, client))
    while True:
        action, arg = plan.next(flow)
        if action == "stop":
            return flow
        if action == "reconcile":
            await areconcile(abounded(client, budget), flow, thread_id)
        elif action == "poll":
            await asyncio.sleep(arg)
        else:
            outputs = await runner.arun(_tool_calls(arg))
            plan.check_deadline(flow)
            if outputs is None:
                await abounded(client, budget).beta.threads.runs.cancel(
                    run_id=run_id(flow), thread_id=thread_id)
                plan.stale = True
                continue
            plan.sent(arg)
            await _asubmit(client, flow, plan, thread_id, arg, _outputs(arg, outputs))


# --------------------------------------------------------------------------- #
# submitting exactly once
# --------------------------------------------------------------------------- #
def taken(run: Run, calls: Calls) -> bool:
    """Whether the server took the outputs for ``calls``: the run left
    requires_action, or now asks for other calls."""
    if run.status != "requires_action" or run.required_action is None:
        return True
    asked = {c.id for c in run.required_action.submit_tool_outputs.tool_calls}
    return not asked & {c.id for c in calls}


def _submit(client: openai.OpenAI, flow: RunFlow, plan: Planner, thread_id: str,
            calls: Calls, outputs: list[ToolOutput]) -> None:
    run = run_id(flow)
    for attempt in (1, 2):
        try:
            plan.streamed(stream(flow, plan.budget, lambda c: c.with_options(
                max_retries=0).beta.threads.runs.submit_tool_outputs(
                run_id=run, thread_id=thread_id, tool_outputs=outputs, stream=True),
                client))
            return
        except openai.APIError as exc:
            if not maybe_taken(exc):
                raise
            read = bounded(client, plan.budget).beta.threads.runs.retrieve(
                run_id=run, thread_id=thread_id)
            if taken(read, calls):
                plan.stale = True  # reconcile it all over REST (the run last), then poll
                return
            if attempt == 2:
                raise DriveError(f"could not submit the tool outputs of run {run} "
                                 f"(tried twice): {describe(exc)}") from exc


async def _asubmit(client: openai.AsyncOpenAI, flow: RunFlow, plan: Planner, thread_id: str,
                   calls: Calls, outputs: list[ToolOutput]) -> None:
    run = run_id(flow)

    async def start(c: openai.AsyncOpenAI) -> Any:
        return await c.with_options(max_retries=0).beta.threads.runs.submit_tool_outputs(
            run_id=run, thread_id=thread_id, tool_outputs=outputs, stream=True)

    for attempt in (1, 2):
        try:
            plan.streamed(await astream(flow, plan.budget, start, client))
            return
        except openai.APIError as exc:
            if not maybe_taken(exc):
                raise
            read = await abounded(client, plan.budget).beta.threads.runs.retrieve(
                run_id=run, thread_id=thread_id)
            if taken(read, calls):
                plan.stale = True
                return
            if attempt == 2:
                raise DriveError(f"could not submit the tool outputs of run {run} "
                                 f"(tried twice): {describe(exc)}") from exc


# --------------------------------------------------------------------------- #
# reconciliation over REST
# --------------------------------------------------------------------------- #
def run_id(flow: RunFlow) -> str:
    """The flow's run id; :class:`DriveError` when the stream never named it."""
    if flow.run_id is None:
        raise DriveError("the stream ended before it named its run, and the thread has none")
    return flow.run_id


def reconcile(client: openai.OpenAI, flow: RunFlow, thread_id: str) -> None:
    """Read the run, its steps and the thread's messages of it over REST into
    ``flow`` (the latest run of the thread when the stream named none)."""
    threads = client.beta.threads
    if flow.run_id is None:
        latest = threads.runs.list(thread_id=thread_id, limit=1, order="desc").data
        if not latest:
            raise DriveError(f"the stream was cut before any run event and thread {thread_id} "
                             "has no run")
        flow.recover(latest[0])
    run = run_id(flow)
    # The run is read first and applied last: steps and messages read after it are
    # at least as new, so a run read as final never comes with a stale message list.
    read = threads.runs.retrieve(run_id=run, thread_id=thread_id)
    for step in threads.runs.steps.list(run_id=run, thread_id=thread_id, order="asc"):
        flow.recover(step)
    for message in threads.messages.list(thread_id=thread_id, run_id=run, order="asc"):
        flow.recover(message)
    flow.recover(read)


async def areconcile(client: openai.AsyncOpenAI, flow: RunFlow, thread_id: str) -> None:
    """Async :func:`reconcile`."""
    threads = client.beta.threads
    if flow.run_id is None:
        latest = (await threads.runs.list(thread_id=thread_id, limit=1, order="desc")).data
        if not latest:
            raise DriveError(f"the stream was cut before any run event and thread {thread_id} "
                             "has no run")
        flow.recover(latest[0])
    run = run_id(flow)
    read = await threads.runs.retrieve(run_id=run, thread_id=thread_id)
    async for step in threads.runs.steps.list(run_id=run, thread_id=thread_id, order="asc"):
        flow.recover(step)
    async for message in threads.messages.list(thread_id=thread_id, run_id=run, order="asc"):
        flow.recover(message)
    flow.recover(read)
