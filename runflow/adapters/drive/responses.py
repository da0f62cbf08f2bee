"""The function-call loop of the Responses API: create, stream, call tools, continue.

:func:`drive_response` (and :func:`adrive_response`) create a streamed response
and feed it into a :class:`~runflow.ResponseFlow`. When the response completes
with function calls, they call the matching tools and create the next response
with ``previous_response_id`` and one ``function_call_output`` item per call, in
a flow of its own; they stop at a response that asks for no call (or that did
not complete). The result holds every flow, every response's final state and
the calls made.

A cut stream is followed up, never sent again:

* a background response (``background=True``) is resumed with
  ``responses.retrieve(id, stream=True, starting_after=flow.sequence_number)``
  into the same flow (replays are dropped by the flow). Progress is a new
  sequence number, not an event received: after :data:`STALLED_RESUMES` resumes
  in a row that bring none, a server that sent nothing is read over REST
  instead, and one that only replayed what the flow had (it ignores
  ``starting_after``) ends the loop with :class:`DriveError`;
* a foreground response cannot be resumed: it is read over REST
  (``responses.retrieve(id)``) until it is final, and that object is its final
  state (recovered into the flow, so ``flow.status`` follows it; the flow's
  items stay what streamed).

Exactly once per ``call_id`` (:mod:`.ledger`): every create is sent with
``max_retries=0``, the answered call ids are recorded before the continuation is
sent, and a create that failed in a way that leaves open whether the server
took it (no connection, a reset, a timeout, a 5xx), or whose stream broke
before it named its response, raises :class:`DriveError`: the Responses API
lists no responses, so what such a create did cannot be read back, and it is
not sent again. A response that asks twice for one ``call_id`` gets one output
for it, the first call's; the repeat is not run and is listed in
:attr:`DrivenResponse.repeated_calls` (the flow reports it: ``duplicate_call_id``).

Bounds are the shared ones (:mod:`.budget`, :mod:`.clock`): ``deadline`` caps
the whole call, ``idle_timeout`` (60 s unless given; None: no bound) each stream
(no new event for that long; keep-alive comments and replays do not count),
both ending in :class:`RunTimeout`. Tools are run by :mod:`.tools`, as in the
Assistants loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import openai
from openai.types.responses import Response, ResponseFunctionToolCall

from runflow.adapters.drive.budget import DEFAULT_IDLE_TIMEOUT, Budget, Polling
from runflow.adapters.drive.clock import abounded, astream, bounded, deadline_errors, stream
from runflow.adapters.drive.errors import DriveError, RunTimeout
from runflow.adapters.drive.ledger import Ledger, maybe_taken
from runflow.adapters.drive.schema import function_tools
from runflow.adapters.drive.tools import Tool, ToolCall, ToolRunner
from runflow.engine.flow import RecoveryError
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.flow import ResponseFlow

__all__ = ["STALLED_RESUMES", "DrivenResponse", "FunctionCallMade", "Planner", "Round",
           "adrive_response", "drive_response", "new_events"]

ToolErrorPolicy = Literal["raise", "submit_error"]
TERMINAL = RESPONSES.tables[RESPONSES.root].terminal
STALLED_RESUMES = 2
"""Resumes in a row that bring no new sequence number before a background
response is no longer resumed."""


@dataclass(frozen=True)
class FunctionCallMade:
    """One function call a response asked for, and the output sent for it."""

    call_id: str
    name: str
    arguments: str
    output: str
    """The ``function_call_output`` sent (a tool's error, under ``submit_error``)."""
    response_id: str
    """The response that asked for it."""


@dataclass
class DrivenResponse:
    """What :func:`drive_response` did: one flow and one final response per
    response created, in order, and the calls answered on the way."""

    flows: list[ResponseFlow]
    responses: list[Response]
    """Each response's final state: the flow's rebuilt ``Response`` when its stream
    was read whole (after resumes), else the one read over REST."""
    tool_calls: list[FunctionCallMade]
    repeated_calls: list[ResponseFunctionToolCall] = field(default_factory=list)
    """Function calls not answered because an earlier call of the same response
    had their ``call_id`` (that one was run and answered; one output answers a
    call id)."""

    @property
    def response(self) -> Response:
        """The last response: the one that asked for no call."""
        return self.responses[-1]

    @property
    def text(self) -> str:
        return self.response.output_text


def new_events(flow: ResponseFlow) -> int:
    """Events received that were not replays: the progress of a stream."""
    return flow.event_count - flow.replayed


@dataclass
class Round:
    """One response: its flow and what REST said of it after a cut."""

    flow: ResponseFlow
    polling: Polling
    rest: Response | None = None
    stalled: int = 0
    """Resumes in a row that brought no new sequence number."""
    replays: int = 0
    """Events those resumes replayed (dropped by the flow)."""

    @property
    def status(self) -> str:
        if self.rest is not None:
            return self.rest.status or "unseen"
        return self.flow.status

    @property
    def id(self) -> str:
        response_id = self.rest.id if self.rest is not None else self.flow.response_id
        assert response_id is not None  # the planner refused a round without one
        return response_id

    @property
    def final(self) -> Response:
        response = self.rest if self.rest is not None else self.flow.response
        assert response is not None  # a round without a response id never gets here
        return response

    def still(self) -> str:
        return f"response {self.flow.response_id} still {self.status!r}"


class Planner:
    """What to do next, decided from the rounds alone (no I/O), so that
    :func:`drive_response` and :func:`adrive_response` share every decision.

    ``next`` answers ``("stop", None)``, ``("resume", None)`` (stream a cut
    background response on), ``("retrieve", seconds)`` (read it over REST after
    waiting that long) or ``("call", calls)`` with the completed function calls
    not yet answered. It raises :class:`RunTimeout` at the deadline or after
    ``poll_timeout`` seconds of reading, and :class:`DriveError` when a response
    cannot be followed or ``max_rounds`` responses were not enough.
    """

    def __init__(self, budget: Budget, *, poll_interval: float, poll_timeout: float,
                 max_rounds: int, background: bool,
                 make_flow: Callable[[], ResponseFlow] = ResponseFlow) -> None:
        self.budget = budget
        self.poll_interval, self.poll_timeout = poll_interval, poll_timeout
        self.make_flow = make_flow
        self.max_rounds = max_rounds
        self.background = background
        self.rounds: list[Round] = []
        self.ledger = Ledger()
        self.calls: list[FunctionCallMade] = []
        self.repeated: list[ResponseFunctionToolCall] = []

    def begin(self) -> Round:
        """A new response, in a flow of its own."""
        round_ = Round(self.make_flow(), Polling(self.poll_interval, self.poll_timeout,
                                                 first_now=True))
        self.rounds.append(round_)
        return round_

    def still(self) -> str:
        """What is not final now, for a timeout."""
        return self.rounds[-1].still() if self.rounds else "no response yet"

    def next(self, r: Round) -> tuple[str, Any]:
        flow = r.flow
        if r.rest is None and flow.response_id is None:
            raise DriveError(
                f"the stream ended ({flow.ending}) before it named its response; whether "
                "the server took the request cannot be read back (the Responses API lists "
                "no responses), so it is not sent again")
        status = r.status
        if status not in TERMINAL:
            self.check_deadline(r)
            if r.rest is None and self.background:
                if r.stalled < STALLED_RESUMES:
                    return "resume", None
                if r.replays:
                    raise DriveError(
                        f"response {r.id}: {r.stalled} resumes in a row after sequence_number "
                        f"{flow.sequence_number} brought no new event, only {r.replays} "
                        "replayed one(s): the server does not resume after starting_after; "
                        f"stopped with the response still {status!r}")
            return "retrieve", self._wait(r)
        calls = [c for c in r.final.output if isinstance(c, ResponseFunctionToolCall)]
        fresh, repeats = self.ledger.unanswered(calls, lambda c: c.call_id)
        if status != "completed" or not fresh:
            return "stop", None
        self.check_deadline(r)
        if len(self.rounds) >= self.max_rounds:
            raise DriveError(f"response {r.final.id} still asks for function calls after "
                             f"{self.max_rounds} response(s) (max_rounds)")
        self.repeated += repeats
        return "call", fresh

    def resumed(self, r: Round, cursor: int | None, replayed: int) -> None:
        """A resume of ``r`` ended; ``cursor`` and ``replayed`` were the flow's
        sequence number and replay count before it."""
        if r.flow.sequence_number != cursor:
            r.stalled = r.replays = 0
        else:
            r.stalled += 1
            r.replays += r.flow.replayed - replayed

    def read(self, r: Round, response: Response) -> None:
        """A response read over REST: its final state once it is final."""
        r.rest = response
        try:
            r.flow.recover(response)
        except RecoveryError as exc:
            raise DriveError(f"response {response.id} read over REST does not fit its "
                             f"stream: {exc}") from exc

    def _wait(self, r: Round) -> float:
        """Seconds to wait before the next REST read: none before the first, then
        ``poll_interval`` doubling up to 2 s, never past the deadline."""
        delay = r.polling.delay(self.budget)
        if delay is None:
            raise RunTimeout(f"{r.still()} after {self.poll_timeout}s of reading it over REST")
        return delay

    def check_deadline(self, r: Round) -> None:
        self.budget.check(r.still())

    def answer(self, r: Round, calls: list[ResponseFunctionToolCall],
               outputs: list[str] | None) -> list[dict[str, Any]]:
        """Record the outputs as sent (before sending them) and return the
        ``function_call_output`` items of the continuation."""
        if outputs is None:  # only the "cancel" policy gives none, and it is not offered
            raise DriveError("no outputs to send")
        self.ledger.record(c.call_id for c in calls)
        items = []
        for call, output in zip(calls, outputs, strict=True):
            self.calls.append(FunctionCallMade(call.call_id, call.name, call.arguments,
                                               output, r.final.id))
            items.append({"type": "function_call_output", "call_id": call.call_id,
                          "output": output})
        return items

    def failed(self, exc: openai.APIError) -> None:
        """A create that raised: at the deadline, let the deadline say so; when the
        server may have taken it, refuse to send it again."""
        if isinstance(exc, openai.APITimeoutError) and self.budget.expired():
            raise exc
        if maybe_taken(exc):
            raise DriveError(f"creating a response failed ({type(exc).__name__}: "
                             f"{exc.message}) and the server may have taken it; it is not "
                             "sent again (the Responses API lists no responses to check)"
                             ) from exc
        raise exc

    def result(self) -> DrivenResponse:
        return DrivenResponse([r.flow for r in self.rounds], [r.final for r in self.rounds],
                              list(self.calls), list(self.repeated))


def _tool_calls(calls: list[ResponseFunctionToolCall]) -> list[ToolCall]:
    return [ToolCall(c.call_id, c.name, c.arguments) for c in calls]


def _setup(tools: Mapping[str, Tool], tool_params: Iterable[Any] | None,
           on_tool_error: ToolErrorPolicy, tool_timeout: float | None, poll_interval: float,
           poll_timeout: float, deadline: float | None, idle_timeout: float | None,
           max_rounds: int, make_flow: Callable[[], ResponseFlow],
           params: dict[str, Any]) -> tuple[Planner, ToolRunner]:
    if "stream" in params:
        raise TypeError("drive_response streams every response: do not pass stream=")
    if on_tool_error not in ("raise", "submit_error"):
        raise ValueError(f"on_tool_error must be 'raise' or 'submit_error', not "
                         f"{on_tool_error!r}")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, not {max_rounds}")
    params["tools"] = list(tool_params) if tool_params is not None else function_tools(tools)
    plan = Planner(Budget(deadline, idle_timeout), poll_interval=poll_interval,
                   poll_timeout=poll_timeout, max_rounds=max_rounds,
                   background=bool(params.get("background")), make_flow=make_flow)
    return plan, ToolRunner(dict(tools), on_tool_error, tool_timeout)


def drive_response(
    client: openai.OpenAI,
    *,
    tools: Mapping[str, Tool],
    model: str,
    input: Any,
    tool_params: Iterable[Any] | None = None,
    on_tool_error: ToolErrorPolicy = "raise",
    deadline: float | None = None,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    max_rounds: int = 10,
    poll_interval: float = 0.05,
    poll_timeout: float = 60.0,
    make_flow: Callable[[], ResponseFlow] = ResponseFlow,
    **create_kwargs: Any,
) -> DrivenResponse:
    """Answer ``input`` with ``model``, calling ``tools`` until a response asks for
    no function call; see the module docstring.

    ``tools`` maps function names to callables taking the call's JSON arguments as
    keyword arguments; their results are sent as in :func:`runflow.drive` (a
    ``str`` as is, anything else as JSON). The definitions the model sees are
    ``tool_params`` (``responses.create``'s ``tools=``), else read from the
    callables (:func:`function_tools`). A tool that raises, or whose result
    cannot be sent, raises :class:`ToolError` (``on_tool_error="raise"``) or is
    answered with ``{"error": ...}`` (``"submit_error"``); a call of a tool not
    given raises :class:`UnknownTool` before any tool runs. ``deadline`` bounds
    the whole call and ``idle_timeout`` each stream (no new event for that long;
    keep-alive comments do not count; 60 s by default, None for no bound), in
    seconds: either raises :class:`RunTimeout`. ``make_flow`` builds each
    response's flow (to register callbacks, or set ``strict`` or limits).
    ``create_kwargs`` go to every ``responses.create`` (``previous_response_id``
    to the first only).
    """
    params = dict(create_kwargs)
    plan, runner = _setup(tools, tool_params, on_tool_error, None, poll_interval, poll_timeout,
                          deadline, idle_timeout, max_rounds, make_flow, params)
    with deadline_errors(plan.budget, plan.still):
        r = plan.begin()
        _create(client, plan, r, {"model": model, "input": input, **params})
        params.pop("previous_response_id", None)
        while True:
            action, arg = plan.next(r)
            if action == "stop":
                return plan.result()
            if action == "resume":
                _resume(client, plan, r)
            elif action == "retrieve":
                time.sleep(arg)
                plan.read(r, bounded(client, plan.budget).responses.retrieve(r.id))
            else:
                outputs = runner.run(_tool_calls(arg))
                plan.check_deadline(r)
                items = plan.answer(r, arg, outputs)
                previous = r.id
                r = plan.begin()
                _create(client, plan, r, {"model": model, "input": items,
                                          "previous_response_id": previous, **params})


def _create(client: openai.OpenAI, plan: Planner, r: Round, params: dict[str, Any]) -> None:
    def start(c: openai.OpenAI) -> Any:
        return c.with_options(max_retries=0).responses.create(stream=True, **params)

    try:
        stream(r.flow, plan.budget, start, client, lambda: new_events(r.flow))
    except openai.APIError as exc:
        plan.failed(exc)


def _resume(client: openai.OpenAI, plan: Planner, r: Round) -> None:
    flow = r.flow
    cursor, replayed = flow.sequence_number, flow.replayed

    def start(c: openai.OpenAI) -> Any:
        if cursor is None:
            return c.responses.retrieve(r.id, stream=True)
        return c.responses.retrieve(r.id, stream=True, starting_after=cursor)

    stream(flow, plan.budget, start, client, lambda: new_events(flow))
    plan.resumed(r, cursor, replayed)


async def adrive_response(
    client: openai.AsyncOpenAI,
    *,
    tools: Mapping[str, Tool],
    model: str,
    input: Any,
    tool_params: Iterable[Any] | None = None,
    on_tool_error: ToolErrorPolicy = "raise",
    tool_timeout: float | None = 30.0,
    deadline: float | None = None,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    max_rounds: int = 10,
    poll_interval: float = 0.05,
    poll_timeout: float = 60.0,
    make_flow: Callable[[], ResponseFlow] = ResponseFlow,
    **create_kwargs: Any,
) -> DrivenResponse:
    """Async :func:`drive_response`: the calls of one response run concurrently
    (sync tools in threads, ``async def`` ones awaited), each under
    ``tool_timeout`` seconds; a timeout follows ``on_tool_error``."""
    params = dict(create_kwargs)
    plan, runner = _setup(tools, tool_params, on_tool_error, tool_timeout, poll_interval,
                          poll_timeout, deadline, idle_timeout, max_rounds, make_flow, params)
    with deadline_errors(plan.budget, plan.still):
        r = plan.begin()
        await _acreate(client, plan, r, {"model": model, "input": input, **params})
        params.pop("previous_response_id", None)
        while True:
            action, arg = plan.next(r)
            if action == "stop":
                return plan.result()
            if action == "resume":
                await _aresume(client, plan, r)
            elif action == "retrieve":
                await asyncio.sleep(arg)
                plan.read(r, await abounded(client, plan.budget).responses.retrieve(r.id))
            else:
                outputs = await runner.arun(_tool_calls(arg))
                plan.check_deadline(r)
                items = plan.answer(r, arg, outputs)
                previous = r.id
                r = plan.begin()
                await _acreate(client, plan, r, {"model": model, "input": items,
                                                 "previous_response_id": previous, **params})


async def _acreate(client: openai.AsyncOpenAI, plan: Planner, r: Round,
                   params: dict[str, Any]) -> None:
    async def start(c: openai.AsyncOpenAI) -> Any:
        return await c.with_options(max_retries=0).responses.create(stream=True, **params)

    try:
        await astream(r.flow, plan.budget, start, client, lambda: new_events(r.flow))
    except openai.APIError as exc:
        plan.failed(exc)


async def _aresume(client: openai.AsyncOpenAI, plan: Planner, r: Round) -> None:
    flow = r.flow
    cursor, replayed = flow.sequence_number, flow.replayed

    async def start(c: openai.AsyncOpenAI) -> Any:
        if cursor is None:
            return await c.responses.retrieve(r.id, stream=True)
        return await c.responses.retrieve(r.id, stream=True, starting_after=cursor)

    await astream(flow, plan.budget, start, client, lambda: new_events(flow))
    plan.resumed(r, cursor, replayed)
