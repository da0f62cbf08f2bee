"""Reading one stream under the budget's clock, and requests bounded by the deadline.

:func:`stream` / :func:`astream` open a stream and feed it into a flow until it
ends, the overall deadline passes, or ``idle_timeout`` seconds go by without
progress; the last two end the stream (the flow records it ``truncated``) and
raise :class:`RunTimeout`. *Progress* is a new event: by default the flow's
``event_count`` growing; a loop whose server may replay events passes a count
that leaves the replays out, so a server that keeps replaying (or only sends
keep-alive comments) does not keep a stream alive.

A sync stream read blocks in the socket, so a watchdog thread ends it by shutting
the socket down (see :class:`Watchdog`); the async read is a task, cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import openai

from runflow.adapters.drive.budget import Budget
from runflow.adapters.drive.errors import RunTimeout
from runflow.adapters.sdk import aconsume, consume
from runflow.engine.flow import Ending, Flow

__all__ = ["Clock", "Progress", "WaitClock", "Watchdog", "abounded", "astream", "bounded",
           "deadline_errors", "stream"]

Progress = Callable[[], int]
"""A count that grows with each new event of the stream being read."""


@contextlib.contextmanager
def deadline_errors(budget: Budget, what: Callable[[], str]) -> Iterator[None]:
    """A request cut short by the deadline (its timeout is what was left of it)
    is the deadline passing: :class:`RunTimeout`, not the SDK's timeout error.
    ``what()`` says what was not final then."""
    try:
        yield
    except openai.APITimeoutError as exc:
        if not budget.expired():
            raise
        raise RunTimeout(f"{what()} at the deadline of {budget.deadline}s (a request was cut "
                         "short)") from exc


def bounded(client: openai.OpenAI, budget: Budget) -> openai.OpenAI:
    """``client`` with its request timeout cut to what is left of the deadline."""
    left = budget.remaining()
    return client if left is None else client.with_options(timeout=max(left, 0.001))


def abounded(client: openai.AsyncOpenAI, budget: Budget) -> openai.AsyncOpenAI:
    """Async :func:`bounded`."""
    left = budget.remaining()
    return client if left is None else client.with_options(timeout=max(left, 0.001))


class WaitClock:
    """When a wait must end: at the overall deadline, or ``idle_timeout`` seconds after
    ``progress`` last moved. :class:`Clock` counts a flow's events, the WebSocket
    loop's ``SocketClock`` a connection's frames; they differ in what they say."""

    idle_sentence = "no event for {idle}s (idle_timeout; keep-alive comments do not count)"

    def __init__(self, budget: Budget, progress: Progress) -> None:
        self.budget, self.progress = budget, progress
        self.seen = progress()
        self.last = time.monotonic()
        self.expired: str | None = None

    def wait(self) -> float | None:
        """Seconds until the next check, or None (no bound); sets ``expired``."""
        now = time.monotonic()
        seen = self.progress()
        if seen != self.seen:
            self.seen, self.last = seen, now
        waits = []
        left = self.budget.remaining()
        if left is not None:
            if left <= 0:
                self.expired = f"the deadline of {self.budget.deadline}s passed"
                return 0.0
            waits.append(left)
        idle = self.budget.idle_timeout
        if idle is not None:
            idle_left = self.last + idle - now
            if idle_left <= 0:
                self.expired = self.idle_sentence.format(idle=idle)
                return 0.0
            waits.append(idle_left)
        return min(waits) if waits else None


class Clock(WaitClock):
    """When a stream must end: at the overall deadline, or ``idle_timeout`` seconds
    after the last progress (by default, the flow's last event)."""

    def __init__(self, flow: Flow, budget: Budget, progress: Progress | None = None) -> None:
        self.flow = flow
        super().__init__(budget, progress or (lambda: flow.event_count))

    def timeout(self) -> RunTimeout:
        flow = self.flow
        return RunTimeout(f"{flow.root_kind} {flow.root_id} still {flow.root_state!r}: the "
                          f"stream was ended after {flow.event_count} event(s): {self.expired}")


class Watchdog(threading.Thread):
    """Ends a sync stream read when the clock expires.

    A read blocked in the socket does not notice ``response.close()`` from another
    thread, so the watchdog shuts the connection's socket down (reached through
    httpx's documented ``network_stream`` response extension): the read returns
    at once and the flow sees a truncated stream. Without a socket to reach it
    closes the response, which ends the read at the next bytes received.
    """

    def __init__(self, clock: Clock, opened: Any) -> None:
        super().__init__(name="runflow-drive-watchdog", daemon=True)
        self.clock, self.opened = clock, opened
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.clock.wait()):
            if self.clock.expired is not None:
                self.cut()
                return

    def cut(self) -> None:
        response = getattr(self.opened, "response", None)
        network = getattr(response, "extensions", {}).get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        try:
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)
            elif response is not None:
                response.close()
        except OSError:
            pass  # already closed: the read has ended anyway


def stream(flow: Flow, budget: Budget, start: Callable[[openai.OpenAI], Any],
           client: openai.OpenAI, progress: Progress | None = None) -> Ending:
    """Open a stream with ``start`` (given ``client`` bounded by the deadline) and
    feed it into ``flow`` under the clock; return how it ended."""
    clock = Clock(flow, budget, progress)
    opened = start(bounded(client, budget))
    if not budget.bounded:
        return consume(flow, opened)
    watchdog = Watchdog(clock, opened)
    watchdog.start()
    try:
        ending = consume(flow, opened)
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


async def astream(flow: Flow, budget: Budget,
                  start: Callable[[openai.AsyncOpenAI], Awaitable[Any]],
                  client: openai.AsyncOpenAI, progress: Progress | None = None) -> Ending:
    """Async :func:`stream`: the feeding task is cancelled when the clock expires.
    Either way the flow is closed, so the cut stream is recorded ``truncated``."""
    clock = Clock(flow, budget, progress)
    opened = await start(abounded(client, budget))
    task = asyncio.ensure_future(aconsume(flow, opened))
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
                await flow.aclose()  # as the sync stream: the cut stream is truncated
                raise clock.timeout()
    finally:
        if not task.done():
            task.cancel()
