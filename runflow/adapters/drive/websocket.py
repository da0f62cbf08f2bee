"""The function-call loop of the Responses API over one WebSocket (WebSocket mode).

:func:`drive_websocket` (and :func:`adrive_websocket`) open a socket with
``connect()`` -- a factory such as ``lambda: client.responses.connect()`` -- send
one ``response.create`` and read the frames. When the response completes with
function calls they run the matching tools and send the next turn on the same
socket: only the new ``function_call_output`` items plus ``previous_response_id``
(the server holds the rest in connection memory). They stop at a response that
asks for no new call (or did not complete). Every frame both ways goes through a
:class:`~runflow.protocols.responses.websocket.flow.ConnectionFlow` and into the
transcript (:attr:`DrivenSocket.frames`).

Exactly once per ``call_id``, across lost sockets (decided in :mod:`.socket_plan`):

* tools run once per call id of a *completed* response (:mod:`.ledger`; a second
  call with an id already asked in that response is not run, and is listed in
  :attr:`DrivenSocket.repeated_calls`); the ids are recorded before the outputs
  are sent;
* when the socket is lost (closed by the server, reset, a
  ``websocket_connection_limit_reached`` error), the loop opens a new one and sends
  the turn again -- the same outputs, not new ones: a response cut with its socket
  is gone with the server's connection memory, so its turn must be asked again,
  and a cut response's calls were never answered (only completed responses are);
* a new socket has no connection memory, so a continuation may be refused with
  ``previous_response_not_found``; the loop then sends the full input instead (see
  :mod:`.socket_plan`). With ``store: false`` it does so at once.

Do not give the factory ``on_reconnecting``: the SDK would reconnect behind the
loop's back (and the loop would not send the lost turn again).

Steering: ``steer={turn: [input, ...]}`` (or one string) sends each input as a ``response.steer``
to that turn's response once it is created (turn 0 is the first request). Their
ledger -- accepted, pending, committed, failed, unknown after a lost socket -- is
:attr:`DrivenSocket.steers`; a steer is never sent again after a lost socket (its
outcome is unknown, which is not proof of rejection).

Bounds as in :func:`~runflow.adapters.drive.responses.drive_response`:
``deadline`` caps the whole call, ``idle_timeout`` (60 s unless given) each wait
for a frame; either raises :class:`~runflow.adapters.drive.errors.RunTimeout`
with the socket closed. ``max_reconnects`` (3) bounds the sockets opened (or
tried: a socket that would not open counts) after the first; the first reconnect
is at once, the next ones back off (:data:`~.socket_plan.RECONNECT_DELAY`
doubling). A first socket that does not open raises the SDK's error.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from runflow.adapters.drive.budget import DEFAULT_IDLE_TIMEOUT, Budget
from runflow.adapters.drive.clock import WaitClock
from runflow.adapters.drive.errors import RunTimeout
from runflow.adapters.drive.schema import function_tools
from runflow.adapters.drive.socket_plan import DrivenSocket, SocketPlan, Turn
from runflow.adapters.drive.tools import Tool, ToolCall, ToolRunner
from runflow.protocols.responses.websocket.flow import ConnectionFlow

__all__ = ["DrivenSocket", "SocketClock", "Turn", "adrive_websocket", "drive_websocket",
           "socket_gone"]

ToolErrorPolicy = Literal["raise", "submit_error"]


def socket_gone(exc: BaseException) -> bool:
    """Whether ``exc`` says the socket ended (websockets' ``ConnectionClosed``, the
    SDK's ``WebSocketConnectionClosedError``, an OS-level reset), by class name, so
    that importing this module needs no WebSocket package."""
    names = {c.__name__ for c in type(exc).__mro__}
    return isinstance(exc, OSError) or bool(
        names & {"ConnectionClosed", "WebSocketConnectionClosedError", "InvalidState"})


class SocketClock(WaitClock):
    """When a wait for a frame must end: at the deadline, or ``idle_timeout``
    seconds after the last frame (``progress`` counts them)."""

    idle_sentence = "no frame for {idle}s (idle_timeout)"

    def timeout(self, plan: SocketPlan) -> RunTimeout:
        return RunTimeout(f"{plan.still()}: the socket was closed: {self.expired}")


def _setup(tools: Mapping[str, Tool], tool_params: Iterable[Any] | None,
           on_tool_error: ToolErrorPolicy, tool_timeout: float | None, input: Any,
           deadline: float | None, idle_timeout: float | None, max_rounds: int,
           max_reconnects: int, steer: Mapping[int, Sequence[Any]] | None,
           make_connection: Callable[[], ConnectionFlow], params: dict[str, Any],
           ) -> tuple[SocketPlan, ToolRunner]:
    for name in ("stream", "background"):
        if name in params:
            raise TypeError(f"a WebSocket create leaves out {name}=")
    if on_tool_error not in ("raise", "submit_error"):
        raise ValueError(f"on_tool_error must be 'raise' or 'submit_error', not "
                         f"{on_tool_error!r}")
    if max_rounds < 1 or max_reconnects < 0:
        raise ValueError("max_rounds must be at least 1 and max_reconnects at least 0")
    params["tools"] = list(tool_params) if tool_params is not None else function_tools(tools)
    plan = SocketPlan(params, input, Budget(deadline, idle_timeout), max_rounds=max_rounds,
                      max_reconnects=max_reconnects,
                      steer={turn: [inputs] if isinstance(inputs, str) else list(inputs)
                             for turn, inputs in (steer or {}).items()},
                      make_connection=make_connection)
    return plan, ToolRunner(dict(tools), on_tool_error, tool_timeout)


def _calls(calls: Sequence[Any]) -> list[ToolCall]:
    return [ToolCall(c.call_id, c.name, c.arguments) for c in calls]


class _Watchdog(threading.Thread):
    """Closes the sync connection when the clock expires (a blocked ``recv`` then
    raises; the loop sees :attr:`SocketClock.expired` and raises RunTimeout)."""

    def __init__(self, clock: SocketClock, close: Callable[[], None]) -> None:
        super().__init__(name="runflow-ws-watchdog", daemon=True)
        self.clock, self.close = clock, close
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.clock.wait()):
            if self.clock.expired is not None:
                try:
                    self.close()
                except Exception:
                    pass  # already closed: the read has ended anyway
                return


def drive_websocket(
    connect: Callable[[], Any],
    *,
    tools: Mapping[str, Tool],
    model: str,
    input: Any,
    tool_params: Iterable[Any] | None = None,
    on_tool_error: ToolErrorPolicy = "raise",
    deadline: float | None = None,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    max_rounds: int = 10,
    max_reconnects: int = 3,
    steer: Mapping[int, Sequence[Any]] | None = None,
    make_connection: Callable[[], ConnectionFlow] = ConnectionFlow,
    **create_kwargs: Any,
) -> DrivenSocket:
    """Answer ``input`` with ``model`` on one socket of ``connect()``, calling
    ``tools`` until a response asks for no new call; see the module docstring.

    ``tools``, ``tool_params`` and ``on_tool_error`` are as for
    :func:`~runflow.adapters.drive.responses.drive_response`; ``make_connection``
    builds each socket's flow (to register ``on_lane`` / ``on_steer`` /
    ``on_response``); ``create_kwargs`` go to every ``response.create``
    (``previous_response_id`` to the first only).
    """
    plan, runner = _setup(tools, tool_params, on_tool_error, None, input, deadline,
                          idle_timeout, max_rounds, max_reconnects, steer, make_connection,
                          {"model": model, **create_kwargs})
    while True:
        time.sleep(plan.before_open())
        plan.budget.check(plan.still())
        manager = connect()
        try:
            conn = manager.__enter__()
        except Exception as exc:
            if plan.reconnects and socket_gone(exc):
                continue  # a socket that would not open counts as a reconnect
            raise
        try:
            done = _socket(conn, plan, runner)
        finally:
            plan.lost()
            try:
                manager.__exit__(None, None, None)
            except Exception:
                pass  # the socket is already gone
        if done is not None:
            return done


def _socket(conn: Any, plan: SocketPlan, runner: ToolRunner) -> DrivenSocket | None:
    """Run the loop on one socket: the result, or None when the socket was lost."""
    clock = SocketClock(plan.budget, lambda: plan.received_count)
    dog = _Watchdog(clock, conn.close)
    dog.start()

    def send(frames: list[str]) -> bool:
        for text in frames:
            try:
                conn.send_raw(text)
            except Exception as exc:
                if clock.expired is not None:
                    raise clock.timeout(plan) from exc
                if socket_gone(exc):
                    return False
                raise
            plan.sent(text, time.time())
        return True

    try:
        if not send(plan.opened()):
            return None
        while True:
            try:
                raw = conn.recv_bytes()
            except Exception as exc:
                if clock.expired is not None:
                    raise clock.timeout(plan) from exc
                if socket_gone(exc):
                    return None
                raise
            action, frames = plan.received(raw, time.time())
            if action == "reconnect" or not send(frames):
                return None
            if action != "turn":
                continue
            step, calls = plan.next()
            if step == "stop":
                return plan.result()
            outputs = runner.run(_calls(calls))
            plan.budget.check(plan.still())
            if not send([plan.answer(calls, outputs)]):
                return None
    finally:
        dog.stopped.set()
        dog.join()


async def adrive_websocket(
    connect: Callable[[], Any],
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
    max_reconnects: int = 3,
    steer: Mapping[int, Sequence[Any]] | None = None,
    make_connection: Callable[[], ConnectionFlow] = ConnectionFlow,
    **create_kwargs: Any,
) -> DrivenSocket:
    """Async :func:`drive_websocket` over ``AsyncOpenAI().responses.connect()``: the
    calls of one response run concurrently (sync tools in threads), each under
    ``tool_timeout`` seconds."""
    plan, runner = _setup(tools, tool_params, on_tool_error, tool_timeout, input, deadline,
                          idle_timeout, max_rounds, max_reconnects, steer, make_connection,
                          {"model": model, **create_kwargs})
    while True:
        await asyncio.sleep(plan.before_open())
        plan.budget.check(plan.still())
        manager = connect()
        try:
            conn = await manager.__aenter__()
        except Exception as exc:
            if plan.reconnects and socket_gone(exc):
                continue
            raise
        try:
            done = await _asocket(conn, plan, runner)
        finally:
            plan.lost()
            try:
                await manager.__aexit__(None, None, None)
            except Exception:
                pass
        if done is not None:
            return done


async def _asocket(conn: Any, plan: SocketPlan, runner: ToolRunner) -> DrivenSocket | None:
    clock = SocketClock(plan.budget, lambda: plan.received_count)

    async def send(frames: list[str]) -> bool:
        for text in frames:
            try:
                await conn.send_raw(text)
            except Exception as exc:
                if socket_gone(exc):
                    return False
                raise
            plan.sent(text, time.time())
        return True

    if not await send(plan.opened()):
        return None
    while True:
        try:
            raw = await asyncio.wait_for(conn.recv_bytes(), clock.wait())
        except TimeoutError as exc:
            if clock.expired is None:
                continue  # the wait was cut to the next check
            raise clock.timeout(plan) from exc
        except Exception as exc:
            if socket_gone(exc):
                return None
            raise
        action, frames = plan.received(raw, time.time())
        if action == "reconnect" or not await send(frames):
            return None
        if action != "turn":
            continue
        step, calls = plan.next()
        if step == "stop":
            return plan.result()
        outputs = await runner.arun(_calls(calls))
        plan.budget.check(plan.still())
        if not await send([plan.answer(calls, outputs)]):
            return None
