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
  into the same flow (replays are dropped by the flow); after resumes that bring
  no event it is read over REST instead;
* a foreground response cannot be resumed: it is read over REST
  (``responses.retrieve(id)``) until it is final, and that object is its final
  state (recovered into the flow, so ``flow.status`` follows it; the flow's
  items stay what streamed).

Exactly once per ``call_id``: every create is sent with ``max_retries=0`` (an SDK
retry after a reset the server had acted on would answer the calls twice), the
answered call ids are recorded before the continuation is sent, and a create
that failed in a way that leaves open whether the server took it (no
connection, a reset, a timeout, a 5xx), or whose stream broke before it named
its response, raises :class:`DriveError`: the Responses API lists no responses,
so what such a create did cannot be read back, and it is not sent again.

Bounds are drive.py's: ``deadline`` caps the whole call, ``idle_timeout`` each
stream (no event dispatched for that long), both ending in :class:`RunTimeout`;
the stream clock, its watchdog and the bounded client are imported from there
(they hold :class:`_AsRun`, the current response's flow). Tools are called as
there too, so their results, errors, unknown names and ``tool_timeout`` behave
alike.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import openai
from openai.types.beta.threads import RequiredActionFunctionToolCall
from openai.types.beta.threads.required_action_function_tool_call import Function
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput
from openai.types.responses import Response, ResponseFunctionToolCall

from runflow.adapters.drive import (
    DriveError,
    RunTimeout,
    Tool,
    _abounded,
    _acall_tools,
    _aconsume,
    _bounded,
    _call_tools,
    _consume,
    _maybe_taken,
    _Options,
    _timeouts,
)
from runflow.adapters.drive import _Planner as _Budget
from runflow.engine.flow import RecoveryError
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.flow import ResponseFlow

if TYPE_CHECKING:
    from runflow.engine.flow import Flow

__all__ = ["DrivenResponse", "FunctionCallMade", "adrive_response", "drive_response"]

ToolErrorPolicy = Literal["raise", "submit_error"]
_TERMINAL = RESPONSES.tables[RESPONSES.root].terminal
_STALLED_RESUMES = 2
"""Resumes in a row that bring no event before a background response is read over REST."""
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean",
               list: "array", dict: "object"}


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

    @property
    def response(self) -> Response:
        """The last response: the one that asked for no call."""
        return self.responses[-1]

    @property
    def text(self) -> str:
        return self.response.output_text


class _AsRun:
    """The current response's flow, behind one object that stays the same across
    rounds: drive.py's deadline context and stream clock hold it while the planner
    moves on to the next response's flow."""

    def __init__(self, flow: ResponseFlow) -> None:
        self.flow = flow

    def __getattr__(self, name: str) -> Any:
        return getattr(self.flow, name)

    def typed(self) -> Flow:
        return cast("Flow", self)


@dataclass
class _Round:
    """One response: its flow and what REST said of it after a cut."""

    flow: ResponseFlow
    rest: Response | None = None
    stalled: int = 0  # resumes in a row that brought no event
    polls: int = 0
    poll_started: float | None = None

    @property
    def status(self) -> str:
        if self.rest is not None:
            return self.rest.status or "unseen"
        return self.flow.status

    @property
    def final(self) -> Response:
        response = self.rest if self.rest is not None else self.flow.response
        assert response is not None  # a round without a response id never gets here
        return response


class _Planner:
    """What to do next, decided from the rounds alone (no I/O), so that
    :func:`drive_response` and :func:`adrive_response` share every decision.

    ``next`` answers ``("stop", None)``, ``("resume", None)`` (stream a cut
    background response on), ``("retrieve", seconds)`` (read it over REST after
    waiting that long) or ``("call", calls)`` with the completed function calls
    not yet answered. It raises :class:`RunTimeout` at the deadline or after
    ``poll_timeout`` seconds of reading, and :class:`DriveError` when a response
    cannot be followed or ``max_rounds`` responses were not enough.
    """

    def __init__(self, opts: _Options, *, max_rounds: int, background: bool,
                 make_flow: Callable[[], ResponseFlow] = ResponseFlow) -> None:
        self.opts = opts
        self.make_flow = make_flow
        self.budget = _Budget(opts)  # drive.py's: the overall deadline, for its helpers
        self.max_rounds = max_rounds
        self.background = background
        self.rounds: list[_Round] = []
        self.answered: set[str] = set()
        self.calls: list[FunctionCallMade] = []
        self.current = _AsRun(ResponseFlow())

    def begin(self) -> _Round:
        """A new response, in a flow of its own."""
        round_ = _Round(self.make_flow())
        self.rounds.append(round_)
        self.current.flow = round_.flow
        return round_

    def next(self, r: _Round) -> tuple[str, Any]:
        flow = r.flow
        if r.rest is None and flow.response_id is None:
            raise DriveError(
                f"the stream ended ({flow.ending}) before it named its response; whether "
                "the server took the request cannot be read back (the Responses API lists "
                "no responses), so it is not sent again")
        status = r.status
        if status not in _TERMINAL:
            self.check_deadline(r)
            if r.rest is None and self.background and r.stalled < _STALLED_RESUMES:
                return "resume", None
            return "retrieve", self._wait(r)
        pending = [c for c in r.final.output if isinstance(c, ResponseFunctionToolCall)
                   and c.call_id not in self.answered]
        if status != "completed" or not pending:
            return "stop", None
        self.check_deadline(r)
        if len(self.rounds) >= self.max_rounds:
            raise DriveError(f"response {r.final.id} still asks for function calls after "
                             f"{self.max_rounds} response(s) (max_rounds)")
        return "call", pending

    def resumed(self, r: _Round, events_before: int) -> None:
        r.stalled = 0 if r.flow.event_count > events_before else r.stalled + 1

    def read(self, r: _Round, response: Response) -> None:
        """A response read over REST: its final state once it is final."""
        r.rest = response
        try:
            r.flow.recover(response)
        except RecoveryError as exc:
            raise DriveError(f"response {response.id} read over REST does not fit its "
                             f"stream: {exc}") from exc

    def _wait(self, r: _Round) -> float:
        """Seconds to wait before the next REST read: none before the first, then
        ``poll_interval`` doubling up to 2 s, never past the deadline."""
        now = time.monotonic()
        if r.poll_started is None:
            r.poll_started = now
        elif now - r.poll_started > self.opts.poll_timeout:
            raise RunTimeout(f"response {r.flow.response_id} still {r.status!r} after "
                             f"{self.opts.poll_timeout}s of reading it over REST")
        delay = 0.0 if r.polls == 0 else min(self.opts.poll_interval * 2 ** (r.polls - 1), 2.0)
        r.polls += 1
        left = self.budget.remaining()
        return delay if left is None else max(min(delay, left), 0.0)

    def check_deadline(self, r: _Round) -> None:
        left = self.budget.remaining()
        if left is not None and left <= 0:
            raise RunTimeout(f"response {r.flow.response_id} still {r.status!r} at the "
                             f"deadline of {self.opts.deadline}s")

    def answer(self, r: _Round, calls: list[ResponseFunctionToolCall],
               outputs: list[ToolOutput] | None) -> list[dict[str, Any]]:
        """Record the outputs as sent (before sending them) and return the
        ``function_call_output`` items of the continuation."""
        if outputs is None:  # only the "cancel" policy gives none, and it is not offered
            raise DriveError("no outputs to send")
        sent = {o.get("tool_call_id"): o.get("output", "") for o in outputs}
        items = []
        for call in calls:
            output = sent[call.call_id]
            self.answered.add(call.call_id)
            self.calls.append(FunctionCallMade(call.call_id, call.name, call.arguments,
                                               output, r.final.id))
            items.append({"type": "function_call_output", "call_id": call.call_id,
                          "output": output})
        return items

    def failed(self, exc: openai.APIError) -> None:
        """A create that raised: at the deadline, let :func:`runflow.adapters.drive._timeouts`
        say so; when the server may have taken it, refuse to send it again."""
        left = self.budget.remaining()
        if isinstance(exc, openai.APITimeoutError) and left is not None and left <= 0:
            raise exc
        if _maybe_taken(exc):
            raise DriveError(f"creating a response failed ({type(exc).__name__}: "
                             f"{exc.message}) and the server may have taken it; it is not "
                             "sent again (the Responses API lists no responses to check)"
                             ) from exc
        raise exc

    def result(self) -> DrivenResponse:
        return DrivenResponse([r.flow for r in self.rounds], [r.final for r in self.rounds],
                              list(self.calls))


def _as_required(calls: list[ResponseFunctionToolCall]) -> list[RequiredActionFunctionToolCall]:
    """The calls in the shape drive.py's tool runner takes (the Assistants one)."""
    return [RequiredActionFunctionToolCall(
        id=c.call_id, type="function", function=Function(name=c.name, arguments=c.arguments))
        for c in calls]


def function_tools(tools: Mapping[str, Tool]) -> list[dict[str, Any]]:
    """Function tool definitions for ``tools``, read from their signatures: one
    property per parameter (typed from ``str``/``int``/``float``/``bool``/``list``/
    ``dict`` annotations), required when it has no default, and the docstring's
    first line as the description. Pass ``tool_params=`` for anything richer."""
    out = []
    for name, tool in tools.items():
        try:
            parameters = inspect.signature(tool, eval_str=True).parameters.values()
        except (TypeError, ValueError, NameError):
            parameters = inspect.signature(tool).parameters.values()
        properties: dict[str, Any] = {}
        required = []
        for p in parameters:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            kind = _JSON_TYPES.get(p.annotation) if isinstance(p.annotation, type) else None
            properties[p.name] = {"type": kind} if kind else {}
            if p.default is p.empty:
                required.append(p.name)
        definition: dict[str, Any] = {
            "type": "function", "name": name, "strict": False,
            "parameters": {"type": "object", "properties": properties, "required": required}}
        doc = inspect.getdoc(tool)
        if doc:
            definition["description"] = doc.splitlines()[0]
        out.append(definition)
    return out


def _setup(tools: Mapping[str, Tool], tool_params: Iterable[Any] | None,
           on_tool_error: ToolErrorPolicy, tool_timeout: float | None, poll_interval: float,
           poll_timeout: float, deadline: float | None, idle_timeout: float | None,
           max_rounds: int, make_flow: Callable[[], ResponseFlow],
           params: dict[str, Any]) -> _Planner:
    if "stream" in params:
        raise TypeError("drive_response streams every response: do not pass stream=")
    if on_tool_error not in ("raise", "submit_error"):
        raise ValueError(f"on_tool_error must be 'raise' or 'submit_error', not "
                         f"{on_tool_error!r}")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, not {max_rounds}")
    params["tools"] = list(tool_params) if tool_params is not None else function_tools(tools)
    opts = _Options(dict(tools), on_tool_error, tool_timeout, poll_interval, poll_timeout,
                    deadline, idle_timeout)
    return _Planner(opts, max_rounds=max_rounds, background=bool(params.get("background")),
                    make_flow=make_flow)


def drive_response(
    client: openai.OpenAI,
    *,
    tools: Mapping[str, Tool],
    model: str,
    input: Any,
    tool_params: Iterable[Any] | None = None,
    on_tool_error: ToolErrorPolicy = "raise",
    deadline: float | None = None,
    idle_timeout: float | None = None,
    max_rounds: int = 10,
    poll_interval: float = 0.05,
    poll_timeout: float = 60.0,
    make_flow: Callable[[], ResponseFlow] = ResponseFlow,
    **create_kwargs: Any,
) -> DrivenResponse:
    """Answer ``input`` with ``model``, calling ``tools`` until a response asks for
    no function call; see the module docstring.

    ``tools`` maps function names to callables taking the call's JSON arguments as
    keyword arguments; their results are sent as in :func:`runflow.adapters.drive` (a
    ``str`` as is, anything else as JSON). The definitions the model sees are
    ``tool_params`` (``responses.create``'s ``tools=``), else read from the
    callables (:func:`function_tools`). A tool that raises, or whose result
    cannot be sent, raises :class:`ToolError` (``on_tool_error="raise"``) or is
    answered with ``{"error": ...}`` (``"submit_error"``); a call of a tool not
    given raises :class:`UnknownTool` before any tool runs. ``make_flow`` builds
    each response's flow (to register callbacks, or set ``strict`` or limits).
    ``create_kwargs`` go to every ``responses.create`` (``previous_response_id``
    to the first only).
    """
    params = dict(create_kwargs)
    plan = _setup(tools, tool_params, on_tool_error, None, poll_interval, poll_timeout,
                  deadline, idle_timeout, max_rounds, make_flow, params)
    with _timeouts(plan.current.typed(), plan.budget):
        r = plan.begin()
        _create(client, plan, {"model": model, "input": input, **params})
        params.pop("previous_response_id", None)
        while True:
            action, arg = plan.next(r)
            if action == "stop":
                return plan.result()
            if action == "resume":
                _resume(client, plan, r)
            elif action == "retrieve":
                time.sleep(arg)
                plan.read(r, _bounded(client, plan.budget).responses.retrieve(_id(r)))
            else:
                outputs = _call_tools(_as_required(arg), plan.opts)
                plan.check_deadline(r)
                items = plan.answer(r, arg, outputs)
                previous = _id(r)
                r = plan.begin()
                _create(client, plan, {"model": model, "input": items,
                                       "previous_response_id": previous, **params})


def _id(r: _Round) -> str:
    response_id = r.rest.id if r.rest is not None else r.flow.response_id
    assert response_id is not None  # the planner refused a round without one
    return response_id


def _create(client: openai.OpenAI, plan: _Planner, params: dict[str, Any]) -> None:
    def start(c: openai.OpenAI) -> Any:
        return c.with_options(max_retries=0).responses.create(stream=True, **params)

    try:
        _consume(plan.current.typed(), plan.budget, start, client)
    except openai.APIError as exc:
        plan.failed(exc)


def _resume(client: openai.OpenAI, plan: _Planner, r: _Round) -> None:
    flow = r.flow
    before = flow.event_count
    after = flow.sequence_number

    def start(c: openai.OpenAI) -> Any:
        if after is None:
            return c.responses.retrieve(_id(r), stream=True)
        return c.responses.retrieve(_id(r), stream=True, starting_after=after)

    _consume(plan.current.typed(), plan.budget, start, client)
    plan.resumed(r, before)


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
    idle_timeout: float | None = None,
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
    plan = _setup(tools, tool_params, on_tool_error, tool_timeout, poll_interval,
                  poll_timeout, deadline, idle_timeout, max_rounds, make_flow, params)
    with _timeouts(plan.current.typed(), plan.budget):
        r = plan.begin()
        await _acreate(client, plan, {"model": model, "input": input, **params})
        params.pop("previous_response_id", None)
        while True:
            action, arg = plan.next(r)
            if action == "stop":
                return plan.result()
            if action == "resume":
                await _aresume(client, plan, r)
            elif action == "retrieve":
                await asyncio.sleep(arg)
                plan.read(r, await _abounded(client, plan.budget).responses.retrieve(_id(r)))
            else:
                outputs = await _acall_tools(_as_required(arg), plan.opts)
                plan.check_deadline(r)
                items = plan.answer(r, arg, outputs)
                previous = _id(r)
                r = plan.begin()
                await _acreate(client, plan, {"model": model, "input": items,
                                              "previous_response_id": previous, **params})


async def _acreate(client: openai.AsyncOpenAI, plan: _Planner, params: dict[str, Any]) -> None:
    async def start(c: openai.AsyncOpenAI) -> Any:
        return await c.with_options(max_retries=0).responses.create(stream=True, **params)

    try:
        await _aconsume(plan.current.typed(), plan.budget, start, client)
    except openai.APIError as exc:
        plan.failed(exc)


async def _aresume(client: openai.AsyncOpenAI, plan: _Planner, r: _Round) -> None:
    flow = r.flow
    before = flow.event_count
    after = flow.sequence_number

    def start(c: openai.AsyncOpenAI) -> Awaitable[Any]:
        if after is None:
            return c.responses.retrieve(_id(r), stream=True)
        return c.responses.retrieve(_id(r), stream=True, starting_after=after)

    await _aconsume(plan.current.typed(), plan.budget, start, client)
    plan.resumed(r, before)
