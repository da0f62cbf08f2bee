"""The orchestrator: run an assistant to a terminal state, calling tools on the way.

:func:`drive` (and :func:`adrive`) start a streamed run, feed one flow, and on
``requires_action`` call the matching tools, submit their outputs with the
streaming submit call, and continue the same flow until the run is terminal.

When a stream is cut (ending ``truncated``) or ends with an ``error`` event, they
reconcile over REST (retrieve the run, list its steps, list the thread's
messages), feed what changed into the flow as recovered objects, then resume:
in requires_action they submit, in progress they poll with backoff until the run
is final, at a terminal state they stop.

Outputs go to the server exactly once per tool call id, wherever a cut falls:
the submit request is sent without the SDK's automatic retries (a retry after a
reset that the server had already acted on would post the outputs twice), and
when it fails in a way that leaves open whether the server took it (no
connection, a reset, a timeout, a 5xx), the run is read back: if it left
``requires_action`` for those calls, the outputs were taken and the run is
followed by polling; otherwise they are sent once more.

Bounds: ``deadline`` caps the whole call, ``idle_timeout`` each stream, where
*idle* means no SSE event dispatched (keep-alive comments do not count). Both end
in :class:`RunTimeout`. A sync stream read blocks in the socket, so a watchdog
thread ends it by shutting the socket down (see :class:`_Watchdog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import openai
from openai.types.beta.threads import RequiredActionFunctionToolCall, Run
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from runflow.adapters.sdk import aconsume, consume
from runflow.engine.flow import Flow
from runflow.engine.jsonparse import JSONError, parse_json
from runflow.protocols import PROTOCOL, UNSEEN, Entity
from runflow.protocols.assistants.flow import RunFlow

__all__ = ["DriveError", "RunTimeout", "ToolError", "UnknownTool", "adrive", "drive"]

ToolPolicy = Literal["submit_error", "cancel", "raise"]
Tool = Callable[..., Any]
_TERMINAL = PROTOCOL.tables[Entity.RUN].terminal


class DriveError(RuntimeError):
    """The orchestrator could not take the run to a terminal state."""


class UnknownTool(DriveError):
    """The run asked for a tool that was not given to :func:`drive`."""


class ToolError(DriveError):
    """A tool raised, timed out or returned something that cannot be submitted, and
    the policy is ``"raise"``."""


class RunTimeout(DriveError):
    """The run did not become final in time: ``poll_timeout`` seconds of polling,
    the overall ``deadline``, or a stream idle for ``idle_timeout`` seconds."""


@dataclass
class _Options:
    tools: Mapping[str, Tool]
    on_tool_error: ToolPolicy
    tool_timeout: float | None
    poll_interval: float
    poll_timeout: float
    deadline: float | None = None
    idle_timeout: float | None = None


class _Planner:
    """What to do next, decided from the flow alone (no I/O), so that :func:`drive`
    and :func:`adrive` share every decision and differ only in how they wait.

    ``next`` answers ``("stop", None)``, ``("reconcile", None)`` after a stream that
    did not end with ``done`` (or named no run), ``("submit", calls)`` for the
    pending calls not yet submitted -- each call id is submitted once, wherever a
    cut falls -- or ``("poll", seconds)`` with exponential backoff. It raises
    :class:`RunTimeout` once polling or the overall deadline ran out.
    """

    def __init__(self, opts: _Options) -> None:
        self.opts = opts
        self.submitted: set[str] = set()
        self.stale = False  # the flow may be behind the server: read it over REST
        self.ends_at = None if opts.deadline is None else time.monotonic() + opts.deadline
        self._reset()

    def _reset(self) -> None:
        self.deadline = time.monotonic() + self.opts.poll_timeout
        self.delay = self.opts.poll_interval

    def streamed(self, ending: str) -> None:
        self.stale = ending != "done"

    def sent(self, calls: list[RequiredActionFunctionToolCall]) -> None:
        self.submitted.update(c.id for c in calls)
        self._reset()

    def remaining(self) -> float | None:
        """Seconds left before the overall deadline (None: no deadline)."""
        return None if self.ends_at is None else self.ends_at - time.monotonic()

    def check_deadline(self, flow: Flow) -> None:
        left = self.remaining()
        if left is not None and left <= 0:
            raise RunTimeout(f"{flow.root_kind} {flow.root_id} still {flow.root_state!r} at "
                             f"the deadline of {self.opts.deadline}s")

    def next(self, flow: RunFlow) -> tuple[str, Any]:
        status = flow.run_status
        if status in _TERMINAL:
            return "stop", None
        self.check_deadline(flow)
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
        left = self.remaining()
        if left is not None:
            delay = max(min(delay, left), 0.0)
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
    deadline: float | None = None,
    idle_timeout: float | None = None,
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
    not count), in seconds: either raises :class:`RunTimeout`. ``run_params`` go
    to ``runs.create``.
    """
    opts = _Options(dict(tools or {}), on_tool_error, None, poll_interval, poll_timeout,
                    deadline, idle_timeout)
    flow = flow if flow is not None else RunFlow()
    plan = _Planner(opts)
    with _timeouts(flow, plan):
        return _drive(client, flow, plan, thread_id, assistant_id, run_params)


def _drive(client: openai.OpenAI, flow: RunFlow, plan: _Planner, thread_id: str,
           assistant_id: str, run_params: dict[str, Any]) -> RunFlow:
    opts = plan.opts
    plan.streamed(_consume(flow, plan, lambda c: c.beta.threads.runs.create(
        thread_id=thread_id, assistant_id=assistant_id, stream=True, **run_params), client))
    while True:
        action, arg = plan.next(flow)
        if action == "stop":
            return flow
        if action == "reconcile":
            _reconcile(_bounded(client, plan), flow, thread_id)
        elif action == "poll":
            time.sleep(arg)
        else:
            outputs = _call_tools(arg, opts)
            plan.check_deadline(flow)
            if outputs is None:  # policy "cancel": nothing streams after it, so poll
                _bounded(client, plan).beta.threads.runs.cancel(
                    run_id=_run_id(flow), thread_id=thread_id)
                plan.stale = True
                continue
            plan.sent(arg)
            _submit(client, flow, plan, thread_id, arg, outputs)


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
    idle_timeout: float | None = None,
    **run_params: Any,
) -> RunFlow:
    """Async :func:`drive`: tools (sync or ``async def``) run concurrently, each
    under ``tool_timeout`` seconds; a timeout follows ``on_tool_error``."""
    opts = _Options(dict(tools or {}), on_tool_error, tool_timeout, poll_interval,
                    poll_timeout, deadline, idle_timeout)
    flow = flow if flow is not None else RunFlow()
    plan = _Planner(opts)
    with _timeouts(flow, plan):
        return await _adrive(client, flow, plan, thread_id, assistant_id, run_params)


async def _adrive(client: openai.AsyncOpenAI, flow: RunFlow, plan: _Planner, thread_id: str,
                  assistant_id: str, run_params: dict[str, Any]) -> RunFlow:
    opts = plan.opts

    async def start(c: openai.AsyncOpenAI) -> Any:
        return await c.beta.threads.runs.create(
            thread_id=thread_id, assistant_id=assistant_id, stream=True, **run_params)

    plan.streamed(await _aconsume(flow, plan, start, client))
    while True:
        action, arg = plan.next(flow)
        if action == "stop":
            return flow
        if action == "reconcile":
            await _areconcile(_abounded(client, plan), flow, thread_id)
        elif action == "poll":
            await asyncio.sleep(arg)
        else:
            outputs = await _acall_tools(arg, opts)
            plan.check_deadline(flow)
            if outputs is None:
                await _abounded(client, plan).beta.threads.runs.cancel(
                    run_id=_run_id(flow), thread_id=thread_id)
                plan.stale = True
                continue
            plan.sent(arg)
            await _asubmit(client, flow, plan, thread_id, arg, outputs)


# --------------------------------------------------------------------------- #
# submitting exactly once
# --------------------------------------------------------------------------- #
def _maybe_taken(exc: openai.APIError) -> bool:
    """Whether a failed submit may still have reached the server (so it must be
    read back before sending again): no answer at all, or a gateway-style error."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    return isinstance(exc, openai.APIStatusError) and (
        exc.status_code >= 500 or exc.status_code in (408, 409, 429))


def _taken(run: Run, calls: list[RequiredActionFunctionToolCall]) -> bool:
    """Whether the server took the outputs for ``calls``: the run left
    requires_action, or now asks for other calls."""
    if run.status != "requires_action" or run.required_action is None:
        return True
    asked = {c.id for c in run.required_action.submit_tool_outputs.tool_calls}
    return not asked & {c.id for c in calls}


def _submit(client: openai.OpenAI, flow: RunFlow, plan: _Planner, thread_id: str,
            calls: list[RequiredActionFunctionToolCall], outputs: list[ToolOutput]) -> None:
    run_id = _run_id(flow)
    for attempt in (1, 2):
        try:
            plan.streamed(_consume(flow, plan, lambda c: c.with_options(
                max_retries=0).beta.threads.runs.submit_tool_outputs(
                run_id=run_id, thread_id=thread_id, tool_outputs=outputs, stream=True),
                client))
            return
        except openai.APIError as exc:
            if not _maybe_taken(exc):
                raise
            run = _bounded(client, plan).beta.threads.runs.retrieve(
                run_id=run_id, thread_id=thread_id)
            if _taken(run, calls):
                plan.stale = True  # reconcile it all over REST (the run last), then poll
                return
            if attempt == 2:
                raise DriveError(f"could not submit the tool outputs of run {run_id} "
                                 f"(tried twice): {_describe(exc)}") from exc


async def _asubmit(client: openai.AsyncOpenAI, flow: RunFlow, plan: _Planner, thread_id: str,
                   calls: list[RequiredActionFunctionToolCall],
                   outputs: list[ToolOutput]) -> None:
    run_id = _run_id(flow)

    async def start(c: openai.AsyncOpenAI) -> Any:
        return await c.with_options(max_retries=0).beta.threads.runs.submit_tool_outputs(
            run_id=run_id, thread_id=thread_id, tool_outputs=outputs, stream=True)

    for attempt in (1, 2):
        try:
            plan.streamed(await _aconsume(flow, plan, start, client))
            return
        except openai.APIError as exc:
            if not _maybe_taken(exc):
                raise
            run = await _abounded(client, plan).beta.threads.runs.retrieve(
                run_id=run_id, thread_id=thread_id)
            if _taken(run, calls):
                plan.stale = True
                return
            if attempt == 2:
                raise DriveError(f"could not submit the tool outputs of run {run_id} "
                                 f"(tried twice): {_describe(exc)}") from exc


# --------------------------------------------------------------------------- #
# deadline and idle timeout
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def _timeouts(flow: Flow, plan: _Planner) -> Iterator[None]:
    """A request cut short by the deadline (its timeout is what was left of it)
    is the deadline passing: :class:`RunTimeout`, not the SDK's timeout error."""
    try:
        yield
    except openai.APITimeoutError as exc:
        left = plan.remaining()
        if left is None or left > 0:
            raise
        raise RunTimeout(f"{flow.root_kind} {flow.root_id} still {flow.root_state!r} at the "
                         f"deadline of {plan.opts.deadline}s (a request was cut short)") from exc


def _bounded(client: openai.OpenAI, plan: _Planner) -> openai.OpenAI:
    """``client`` with its request timeout cut to what is left of the deadline."""
    left = plan.remaining()
    return client if left is None else client.with_options(timeout=max(left, 0.001))


def _abounded(client: openai.AsyncOpenAI, plan: _Planner) -> openai.AsyncOpenAI:
    left = plan.remaining()
    return client if left is None else client.with_options(timeout=max(left, 0.001))


class _Clock:
    """When a stream must end: at the overall deadline, or ``idle`` seconds after
    the last event the flow dispatched (``flow.event_count`` grew)."""

    def __init__(self, flow: Flow, plan: _Planner) -> None:
        self.flow, self.plan = flow, plan
        self.idle = plan.opts.idle_timeout
        self.events = flow.event_count
        self.last = time.monotonic()
        self.expired: str | None = None

    def wait(self) -> float | None:
        """Seconds until the next check, or None (no bound); sets ``expired``."""
        now = time.monotonic()
        if self.flow.event_count != self.events:
            self.events, self.last = self.flow.event_count, now
        waits = []
        left = self.plan.remaining()
        if left is not None:
            if left <= 0:
                self.expired = f"the deadline of {self.plan.opts.deadline}s passed"
                return 0.0
            waits.append(left)
        if self.idle is not None:
            idle_left = self.last + self.idle - now
            if idle_left <= 0:
                self.expired = (f"no event for {self.idle}s (idle_timeout; keep-alive "
                                "comments do not count)")
                return 0.0
            waits.append(idle_left)
        return min(waits) if waits else None

    def timeout(self) -> RunTimeout:
        flow = self.flow
        return RunTimeout(f"{flow.root_kind} {flow.root_id} still {flow.root_state!r}: the "
                          f"stream was ended after {flow.event_count} event(s): {self.expired}")


class _Watchdog(threading.Thread):
    """Ends a sync stream read when the clock expires.

    A read blocked in the socket does not notice ``response.close()`` from another
    thread, so the watchdog shuts the connection's socket down (reached through
    httpx's documented ``network_stream`` response extension): the read returns
    at once and the flow sees a truncated stream. Without a socket to reach it
    closes the response, which ends the read at the next bytes received.
    """

    def __init__(self, clock: _Clock, stream: Any) -> None:
        super().__init__(name="runflow-drive-watchdog", daemon=True)
        self.clock, self.stream = clock, stream
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.clock.wait()):
            if self.clock.expired is not None:
                self._cut()
                return

    def _cut(self) -> None:
        response = getattr(self.stream, "response", None)
        network = getattr(response, "extensions", {}).get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        try:
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)
            elif response is not None:
                response.close()
        except OSError:
            pass  # already closed: the read has ended anyway


def _consume(flow: Flow, plan: _Planner, start: Callable[[openai.OpenAI], Any],
             client: openai.OpenAI) -> str:
    """Open a stream with ``start`` and feed it to the flow under the clock."""
    clock = _Clock(flow, plan)
    bounded = plan.opts.deadline is not None or plan.opts.idle_timeout is not None
    stream = start(_bounded(client, plan))
    if not bounded:
        return consume(flow, stream)
    watchdog = _Watchdog(clock, stream)
    watchdog.start()
    try:
        ending = consume(flow, stream)
    except Exception:
        if clock.expired is None:
            raise
        ending = flow.close()  # the read ended by the watchdog raised: still truncated
    finally:
        watchdog.stopped.set()
        watchdog.join()
    if clock.expired is not None:
        raise clock.timeout()
    return ending


async def _aconsume(flow: Flow, plan: _Planner,
                    start: Callable[[openai.AsyncOpenAI], Awaitable[Any]],
                    client: openai.AsyncOpenAI) -> str:
    """Async :func:`_consume`: the feeding task is cancelled when the clock expires.
    Either way the flow is closed, so the cut stream is recorded ``truncated``."""
    clock = _Clock(flow, plan)
    stream = await start(_abounded(client, plan))
    task = asyncio.ensure_future(aconsume(flow, stream))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=clock.wait())
            if done:
                return task.result()
            if clock.expired is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                await flow.aclose()  # as the sync drive: the cut stream is truncated
                raise clock.timeout()
    finally:
        if not task.done():
            task.cancel()


# --------------------------------------------------------------------------- #
# tools
# --------------------------------------------------------------------------- #
class _BadResult(Exception):
    """A tool's result that cannot be submitted as an output string."""


def _describe(exc: BaseException) -> str:
    """``Type: message`` for any exception, even one whose ``__str__`` raises or
    holds lone surrogates (the text is submitted or shown, so it must be UTF-8)."""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:
        text = f"{type(exc).__name__}: (its message could not be read)"
    return text.encode("utf-8", "replace").decode("utf-8")


def _lookup(call: RequiredActionFunctionToolCall, opts: _Options) -> tuple[Tool, Any]:
    name = call.function.name
    tool = opts.tools.get(name)
    if tool is None:
        known = ", ".join(sorted(opts.tools)) or "none"
        raise UnknownTool(f"the model asked for tool {name!r} (call {call.id}); tools given: "
                          f"{known}")
    try:
        args = parse_json(call.function.arguments or "{}")
    except JSONError:
        args = call.function.arguments
    return tool, args


def _invoke(tool: Tool, args: Any) -> Any:
    return tool(**args) if isinstance(args, dict) else tool(args)


def _output_text(result: Any) -> str:
    """The output string for a tool's result, or :class:`_BadResult` saying why
    there is none."""
    if isinstance(result, str):
        text = str.__str__(result)  # a str subclass's own __str__ is not called
    elif isinstance(result, bytes | bytearray):
        try:
            text = bytes(result).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _BadResult(f"returned bytes that are not UTF-8 ({exc.reason} at byte "
                             f"{exc.start})") from None
    else:
        try:
            text = json.dumps(result, ensure_ascii=False, allow_nan=False, default=str)
        except Exception as exc:  # circular, NaN, a __str__ that raises, too deep...
            raise _BadResult(f"returned a {type(result).__name__} that cannot be written "
                             f"as JSON ({_describe(exc)})") from exc
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _BadResult(f"returned text with a lone surrogate at position {exc.start}, "
                         "which is not valid UTF-8") from None
    return text


def _output(call: RequiredActionFunctionToolCall, result: Any, opts: _Options) -> ToolOutput | None:
    """The output to submit for ``result`` -- a value, or the exception the tool
    raised -- under the policy (None = cancel the run)."""
    if not isinstance(result, BaseException):
        try:
            return ToolOutput(tool_call_id=call.id, output=_output_text(result))
        except _BadResult as exc:
            result = exc
    bad = isinstance(result, _BadResult)
    why = str(result) if bad else _describe(result)
    if opts.on_tool_error == "raise":
        verb = "returned a result that cannot be submitted" if bad else "failed"
        raise ToolError(f"tool {call.function.name!r} (call {call.id}) {verb}: {why}"
                        ) from result
    if opts.on_tool_error == "cancel":
        return None
    error = json.dumps({"error": why}, ensure_ascii=False)
    return ToolOutput(tool_call_id=call.id, output=error)


def _call_tools(
    calls: list[RequiredActionFunctionToolCall], opts: _Options
) -> list[ToolOutput] | None:
    looked_up = [(_lookup(c, opts), c) for c in calls]  # unknown tools fail before any call
    outputs: list[ToolOutput] = []
    for (tool, args), call in looked_up:
        try:
            result = _invoke(tool, args)
        except Exception as exc:
            result = exc
        output = _output(call, result, opts)
        if output is None:
            return None
        outputs.append(output)
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
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
        output = _output(call, result, opts)
        if output is None:
            return None
        outputs.append(output)
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
    # The run is read first and applied last: steps and messages read after it are
    # at least as new, so a run read as final never comes with a stale message list.
    run = threads.runs.retrieve(run_id=run_id, thread_id=thread_id)
    for step in threads.runs.steps.list(run_id=run_id, thread_id=thread_id, order="asc"):
        flow.recover(step)
    for message in threads.messages.list(thread_id=thread_id, run_id=run_id, order="asc"):
        flow.recover(message)
    flow.recover(run)


async def _areconcile(client: openai.AsyncOpenAI, flow: RunFlow, thread_id: str) -> None:
    threads = client.beta.threads
    if flow.run_id is None:
        latest = (await threads.runs.list(thread_id=thread_id, limit=1, order="desc")).data
        if not latest:
            raise DriveError(f"the stream was cut before any run event and thread {thread_id} "
                             "has no run")
        flow.recover(latest[0])
    run_id = _run_id(flow)
    run = await threads.runs.retrieve(run_id=run_id, thread_id=thread_id)
    async for step in threads.runs.steps.list(run_id=run_id, thread_id=thread_id, order="asc"):
        flow.recover(step)
    async for message in threads.messages.list(thread_id=thread_id, run_id=run_id, order="asc"):
        flow.recover(message)
    flow.recover(run)
