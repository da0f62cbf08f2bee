"""The orchestrator: run an assistant to a terminal state, calling tools on the way.

:func:`drive` (and :func:`adrive`) start a streamed run, feed one flow, and on
``requires_action`` call the matching tools, submit their outputs with the
streaming submit call, and continue the same flow until the run is terminal.

When a stream is cut (ending ``truncated``) or ends with an ``error`` event, they
reconcile over REST (retrieve the run, list its steps, list the thread's
messages), feed what changed into the flow as recovered objects, then resume:
in requires_action they submit, in progress they poll with backoff until the run
is final, at a terminal state they stop. Outputs are submitted exactly once per
tool call id, wherever the cut falls.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import openai
from openai.types.beta.threads import RequiredActionFunctionToolCall
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from .flow import RunFlow
from .protocol import PROTOCOL, UNSEEN, Entity
from .sdk import aconsume, consume

__all__ = ["DriveError", "RunTimeout", "ToolError", "UnknownTool", "adrive", "drive"]

ToolPolicy = Literal["submit_error", "cancel", "raise"]
Tool = Callable[..., Any]
_TERMINAL = PROTOCOL.tables[Entity.RUN].terminal


class DriveError(RuntimeError):
    """The orchestrator could not take the run to a terminal state."""


class UnknownTool(DriveError):
    """The run asked for a tool that was not given to :func:`drive`."""


class ToolError(DriveError):
    """A tool raised or timed out, and the policy is ``"raise"``."""


class RunTimeout(DriveError):
    """The run did not become final within ``poll_timeout`` seconds of polling."""


@dataclass
class _Options:
    tools: Mapping[str, Tool]
    on_tool_error: ToolPolicy
    tool_timeout: float | None
    poll_interval: float
    poll_timeout: float


class _Planner:
    """What to do next, decided from the flow alone (no I/O), so that :func:`drive`
    and :func:`adrive` share every decision and differ only in how they wait.

    ``next`` answers ``("stop", None)``, ``("reconcile", None)`` after a stream that
    did not end with ``done`` (or named no run), ``("submit", calls)`` for the
    pending calls not yet submitted -- each call id is submitted once, wherever a
    cut falls -- or ``("poll", seconds)`` with exponential backoff.
    """

    def __init__(self, opts: _Options) -> None:
        self.opts = opts
        self.submitted: set[str] = set()
        self.stale = False  # the flow may be behind the server: read it over REST
        self._reset()

    def _reset(self) -> None:
        self.deadline = time.monotonic() + self.opts.poll_timeout
        self.delay = self.opts.poll_interval

    def streamed(self, ending: str) -> None:
        self.stale = ending != "done"

    def sent(self, calls: list[RequiredActionFunctionToolCall]) -> None:
        self.submitted.update(c.id for c in calls)
        self._reset()

    def next(self, flow: RunFlow) -> tuple[str, Any]:
        status = flow.run_status
        if status in _TERMINAL:
            return "stop", None
        if self.stale or status == UNSEEN:
            self.stale = False
            return "reconcile", None
        if status == "requires_action":
            calls = [c for c in flow.pending_tool_calls if c.id not in self.submitted]
            if calls:
                return "submit", calls
        if time.monotonic() > self.deadline:
            raise RunTimeout(
                f"run {flow.run_id} still {status!r} after {self.opts.poll_timeout}s of polling"
            )
        delay, self.delay = self.delay, min(self.delay * 2, 2.0)
        self.stale = True  # after the wait, read the run again
        return "poll", delay


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
    **run_params: Any,
) -> RunFlow:
    """Run ``assistant_id`` on ``thread_id`` to a terminal state; return the flow.

    ``tools`` maps function names to callables taking the call's JSON arguments as
    keyword arguments; their result is submitted (``str`` as is, anything else as
    JSON). ``on_tool_error`` says what a raising tool does: submit an error output,
    cancel the run, or raise :class:`ToolError`. ``run_params`` go to ``runs.create``.
    """
    opts = _Options(dict(tools or {}), on_tool_error, None, poll_interval, poll_timeout)
    flow = flow if flow is not None else RunFlow()
    runs = client.beta.threads.runs
    plan = _Planner(opts)
    plan.streamed(consume(flow,
        runs.create(thread_id=thread_id, assistant_id=assistant_id, stream=True, **run_params)
    ))
    while True:
        action, arg = plan.next(flow)
        if action == "stop":
            return flow
        if action == "reconcile":
            _reconcile(client, flow, thread_id)
        elif action == "poll":
            time.sleep(arg)
        else:
            outputs = _call_tools(arg, opts)
            if outputs is None:  # policy "cancel": nothing streams after it, so poll
                runs.cancel(run_id=_run_id(flow), thread_id=thread_id)
                plan.stale = True
                continue
            plan.sent(arg)
            plan.streamed(consume(flow, runs.submit_tool_outputs(
                run_id=_run_id(flow), thread_id=thread_id, tool_outputs=outputs, stream=True
            )))


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
    **run_params: Any,
) -> RunFlow:
    """Async :func:`drive`: tools (sync or ``async def``) run concurrently, each
    under ``tool_timeout`` seconds; a timeout follows ``on_tool_error``."""
    opts = _Options(dict(tools or {}), on_tool_error, tool_timeout, poll_interval, poll_timeout)
    flow = flow if flow is not None else RunFlow()
    runs = client.beta.threads.runs
    plan = _Planner(opts)
    plan.streamed(await aconsume(flow,
        await runs.create(thread_id=thread_id, assistant_id=assistant_id, stream=True, **run_params)
    ))
    while True:
        action, arg = plan.next(flow)
        if action == "stop":
            return flow
        if action == "reconcile":
            await _areconcile(client, flow, thread_id)
        elif action == "poll":
            await asyncio.sleep(arg)
        else:
            outputs = await _acall_tools(arg, opts)
            if outputs is None:
                await runs.cancel(run_id=_run_id(flow), thread_id=thread_id)
                plan.stale = True
                continue
            plan.sent(arg)
            plan.streamed(await aconsume(flow, await runs.submit_tool_outputs(
                run_id=_run_id(flow), thread_id=thread_id, tool_outputs=outputs, stream=True
            )))


# --------------------------------------------------------------------------- #
# tools
# --------------------------------------------------------------------------- #
def _lookup(call: RequiredActionFunctionToolCall, opts: _Options) -> tuple[Tool, Any]:
    name = call.function.name
    tool = opts.tools.get(name)
    if tool is None:
        known = ", ".join(sorted(opts.tools)) or "none"
        raise UnknownTool(f"the run asked for tool {name!r} (call {call.id}); tools given: {known}")
    try:
        args = json.loads(call.function.arguments or "{}")
    except ValueError:
        args = call.function.arguments
    return tool, args


def _invoke(tool: Tool, args: Any) -> Any:
    return tool(**args) if isinstance(args, dict) else tool(args)


def _output(call_id: str, result: Any) -> ToolOutput:
    text = result if isinstance(result, str) else json.dumps(result, default=str)
    return ToolOutput(tool_call_id=call_id, output=text)


def _failure(call: RequiredActionFunctionToolCall, exc: BaseException, opts: _Options) -> Any:
    """What a failed tool call becomes under the policy (None = cancel the run)."""
    if opts.on_tool_error == "raise":
        raise ToolError(f"tool {call.function.name!r} (call {call.id}) failed: {exc!r}") from exc
    if opts.on_tool_error == "cancel":
        return None
    return _output(call.id, {"error": f"{type(exc).__name__}: {exc}"})


def _call_tools(
    calls: list[RequiredActionFunctionToolCall], opts: _Options
) -> list[ToolOutput] | None:
    looked_up = [(_lookup(c, opts), c) for c in calls]  # unknown tools fail before any call
    outputs: list[ToolOutput] = []
    for (tool, args), call in looked_up:
        try:
            result = _invoke(tool, args)
        except Exception as exc:
            failed = _failure(call, exc, opts)
            if failed is None:
                return None
            outputs.append(failed)
            continue
        outputs.append(_output(call.id, result))
    return outputs


async def _acall_tools(
    calls: list[RequiredActionFunctionToolCall], opts: _Options
) -> list[ToolOutput] | None:
    looked_up = [(_lookup(c, opts), c) for c in calls]

    async def one(tool: Tool, args: Any) -> Any:
        if inspect.iscoroutinefunction(tool):
            coro: Awaitable[Any] = _invoke(tool, args)
        else:
            coro = asyncio.to_thread(_invoke, tool, args)
        return await asyncio.wait_for(coro, opts.tool_timeout)

    results = await asyncio.gather(
        *(one(tool, args) for (tool, args), _ in looked_up), return_exceptions=True
    )
    outputs: list[ToolOutput] = []
    for result, (_, call) in zip(results, looked_up, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            failed = _failure(call, result, opts)
            if failed is None:
                return None
            outputs.append(failed)
        else:
            outputs.append(_output(call.id, result))
    return outputs


# --------------------------------------------------------------------------- #
# reconciliation over REST
# --------------------------------------------------------------------------- #
def _run_id(flow: RunFlow) -> str:
    if flow.run_id is None:
        raise DriveError("the stream ended before it named its run, and the thread has none")
    return flow.run_id


def _reconcile(client: openai.OpenAI, flow: RunFlow, thread_id: str) -> None:
    threads = client.beta.threads
    if flow.run_id is None:
        latest = threads.runs.list(thread_id=thread_id, limit=1, order="desc").data
        if not latest:
            raise DriveError(f"the stream was cut before any run event and thread {thread_id} "
                             "has no run")
        flow.recover(latest[0])
    run_id = _run_id(flow)
    for step in threads.runs.steps.list(run_id=run_id, thread_id=thread_id, order="asc"):
        flow.recover(step)
    for message in threads.messages.list(thread_id=thread_id, run_id=run_id, order="asc"):
        flow.recover(message)
    flow.recover(threads.runs.retrieve(run_id=run_id, thread_id=thread_id))


async def _areconcile(client: openai.AsyncOpenAI, flow: RunFlow, thread_id: str) -> None:
    threads = client.beta.threads
    if flow.run_id is None:
        latest = (await threads.runs.list(thread_id=thread_id, limit=1, order="desc")).data
        if not latest:
            raise DriveError(f"the stream was cut before any run event and thread {thread_id} "
                             "has no run")
        flow.recover(latest[0])
    run_id = _run_id(flow)
    async for step in threads.runs.steps.list(run_id=run_id, thread_id=thread_id, order="asc"):
        flow.recover(step)
    async for message in threads.messages.list(thread_id=thread_id, run_id=run_id, order="asc"):
        flow.recover(message)
    flow.recover(await threads.runs.retrieve(run_id=run_id, thread_id=thread_id))
