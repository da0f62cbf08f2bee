"""Adapters for the openai SDK, kept outside the core.

* :func:`consume` / :func:`aconsume` feed a whole stream into a flow. An SDK
  ``Stream`` / ``AsyncStream`` (``runs.create(..., stream=True)``,
  ``threads.create_and_run(stream=True)``, ``runs.submit_tool_outputs(stream=True)``;
  for a :class:`runflow.ResponseFlow` ``responses.create(..., stream=True)`` and
  ``responses.retrieve(id, stream=True, starting_after=N)``) is read as raw SSE
  bytes: that is faster than the SDK's own parsing and sees exactly what the
  server sent -- ``done``, a cut connection, invalid JSON, an ``error`` event,
  unknown events -- where the SDK would stop silently or raise. The Responses
  helper ``responses.stream(...)`` (a ``ResponseStreamManager``, entered here, or
  the ``ResponseStream`` it yields, and their async twins) is read the same way
  through the raw stream it wraps (:func:`raw_stream`). Pass a stream nobody has
  read from yet.
* :class:`FlowEventHandler` / :class:`AsyncFlowEventHandler` are
  ``AssistantEventHandler`` subclasses for ``event_handler=`` in ``runs.stream``,
  ``threads.create_and_run_stream`` and ``runs.submit_tool_outputs_stream``. The
  SDK allows one handler per stream, so make one per stream over the same flow:
  ``FlowEventHandler(flow)``; the flow continues across the tool-output stream.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import openai
from openai import AssistantEventHandler, AsyncAssistantEventHandler
from openai.lib.streaming.responses import (
    AsyncResponseStream,
    AsyncResponseStreamManager,
    ResponseStream,
    ResponseStreamManager,
)
from openai.types.beta import AssistantStreamEvent

if TYPE_CHECKING:
    from runflow.engine.flow import Ending, Flow
    from runflow.protocols.assistants.flow import RunFlow

__all__ = [
    "TRANSPORT_ERRORS", "AsyncFlowEventHandler", "FlowEventHandler", "aconsume", "consume",
    "raw_stream", "watch_done",
]

def _transport_errors() -> tuple[type[BaseException], ...]:
    """A connection that broke mid-stream (the flow's ending then says ``truncated``).
    openai 3.x reads with ``httpx2``; older releases and custom clients use ``httpx``."""
    errors: list[type[BaseException]] = [openai.APIConnectionError]
    for name in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(name).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


TRANSPORT_ERRORS = _transport_errors()
"""Exceptions of a connection that broke mid-stream (any HTTP stack the SDK uses)."""
_HELPER_ERRORS: tuple[type[BaseException], ...] = (*TRANSPORT_ERRORS, openai.APIError)
"""What a Responses helper stream raises that :func:`_helper_error` handles."""


def consume(flow: Flow, stream: Iterable[Any] | ResponseStreamManager[Any]) -> Ending:
    """Feed ``stream`` into ``flow`` and close it; return the ending."""
    if isinstance(stream, ResponseStreamManager):
        with stream as opened:  # sends the request; an HTTP error raises before the flow
            return consume(flow, opened)
    flow.begin_stream()
    raw = raw_stream(stream)
    if isinstance(raw, openai.Stream):
        try:
            for chunk in raw.response.iter_bytes():
                flow.feed_sse(chunk)
        except TRANSPORT_ERRORS:
            pass  # what arrived is kept; close() reports the truncation
        finally:
            raw.close()
        return flow.close()
    try:
        for event in stream:
            flow.feed(event)
    except _HELPER_ERRORS as exc:
        if not isinstance(stream, ResponseStream):
            raise
        error = _helper_error(exc, getattr(flow, "sequence_number", None))
        if error is not None:
            flow.feed(error)
    return flow.close()


async def aconsume(flow: Flow,
                   stream: AsyncIterable[Any] | Iterable[Any] | AsyncResponseStreamManager[Any],
                   ) -> Ending:
    """Async :func:`consume`; awaits ``async def`` callbacks."""
    if isinstance(stream, AsyncResponseStreamManager):
        async with stream as opened:
            return await aconsume(flow, opened)
    flow.begin_stream()
    raw = raw_stream(stream)
    if isinstance(raw, openai.AsyncStream):
        try:
            async for chunk in raw.response.aiter_bytes():
                await flow.afeed_sse(chunk)
        except TRANSPORT_ERRORS:
            pass
        finally:
            await raw.close()
        return await flow.aclose()
    try:
        if isinstance(stream, AsyncIterable):
            async for event in stream:
                await flow.afeed(event)
        else:
            for event in stream:
                await flow.afeed(event)
    except _HELPER_ERRORS as exc:
        if not isinstance(stream, AsyncResponseStream):
            raise
        error = _helper_error(exc, getattr(flow, "sequence_number", None))
        if error is not None:
            await flow.afeed(error)
    return await flow.aclose()


def raw_stream(stream: Any) -> Any:
    """The SDK ``Stream`` / ``AsyncStream`` whose raw bytes carry ``stream``: the
    stream itself, or the one a Responses helper stream wraps (None: neither).

    ``ResponseStream`` / ``AsyncResponseStream`` (what ``responses.stream(...)``
    yields) keep the stream they parse in the private attribute ``_raw_stream``;
    this is the second place where runflow reads a private structure of the
    openai SDK (:func:`watch_done` is the first). Without it (another SDK
    version) :func:`consume` feeds the helper's events instead, which loses only
    what the SDK hides: an ``error`` event's sequence number, unknown events.
    ``tests/test_sdk_responses.py`` checks the structure against the installed
    openai and fails naming its version when it changes.
    """
    if isinstance(stream, openai.Stream | openai.AsyncStream):
        return stream
    if isinstance(stream, ResponseStream | AsyncResponseStream):
        inner = getattr(stream, "_raw_stream", None)
        if isinstance(inner, openai.Stream | openai.AsyncStream):
            return inner
    return None


def _helper_error(exc: BaseException, after: int | None) -> dict[str, Any] | None:
    """What a Responses helper stream's exception means for the flow: a broken
    connection is left to ``close()`` (None: truncated); the ``error`` event the
    SDK turned into an ``APIError`` is returned to be fed, numbered as the event
    after ``after`` (the SDK raises on the event that follows the last it
    yielded, and drops its number); anything else re-raises."""
    if isinstance(exc, TRANSPORT_ERRORS):
        return None
    error = _error_event(exc)
    if error is None:
        raise exc
    event: dict[str, Any] = {"type": "error", "error": error["data"]["error"]}
    if after is not None:
        event["sequence_number"] = after + 1
    return event


def watch_done(stream: Any, on_done: Callable[[], None]) -> bool:
    """Arrange for ``on_done()`` to be called when ``stream`` yields ``data: [DONE]``.

    The SDK swallows the ``[DONE]`` sentinel, so an ``event_handler=`` cannot tell a
    stream that ended cleanly from one that was cut. This function is the ONE place
    where runflow reaches into a private structure of the openai SDK for the
    Assistants handlers (:func:`raw_stream` is the one for Responses): an
    ``openai.Stream`` / ``AsyncStream`` keeps its SSE decoder in the private
    attribute ``_decoder`` (an object whose ``iter_bytes(iterator)`` /
    ``aiter_bytes(iterator)`` yield events with a ``data`` string) and reads it
    lazily, at the first iteration. The decoder is wrapped in place (before the
    stream is iterated) by one that reports ``[DONE]`` and passes everything on.

    Returns whether the watch was installed. ``False`` (no such decoder: another
    SDK version, a custom stream) means ``on_done`` will never be called; the
    handlers then assume ``done`` when the stream ended without an error.
    ``tests/test_sdk.py`` checks the structure against the installed openai and
    fails naming its version when it changes.
    """
    decoder = getattr(stream, "_decoder", None)
    if decoder is None or not hasattr(decoder, "iter_bytes"):
        return False
    stream._decoder = _DoneSpy(decoder, on_done)
    return True


class _DoneSpy:
    """The decoder wrapper :func:`watch_done` installs (used nowhere else)."""

    def __init__(self, inner: Any, on_done: Callable[[], None]) -> None:
        self._inner = inner
        self._on_done = on_done

    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[Any]:
        for sse in self._inner.iter_bytes(iterator):
            if sse.data.startswith("[DONE]"):
                self._on_done()
            yield sse

    async def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        async for sse in self._inner.aiter_bytes(iterator):
            if sse.data.startswith("[DONE]"):
                self._on_done()
            yield sse

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _error_event(exc: BaseException) -> dict[str, Any] | None:
    """The ``error`` event the SDK turned into an ``APIError``, if that is what it was."""
    if isinstance(exc, openai.APIError) and not isinstance(
        exc, (openai.APIStatusError, openai.APIConnectionError)
    ):
        body = exc.body if isinstance(exc.body, dict) else {"message": exc.message}
        return {"event": "error", "data": {"error": body}}
    return None


class _Feeding:
    """What both handler twins share: the flow, and whether the stream ended with
    ``done`` (the SDK swallows it; :func:`watch_done` notices it)."""

    def _bind(self, flow: RunFlow | None) -> None:
        from runflow.protocols.assistants.flow import RunFlow

        self.flow = flow if flow is not None else RunFlow()
        self._done = False
        self._spied = False

    def _start(self, stream: Any) -> None:
        """The SDK hands the handler its stream (through its private
        ``_init(stream)`` hook, which tests/test_sdk.py checks): a new stream of the
        same flow."""
        self.flow.begin_stream()
        self._spied = watch_done(stream, self._saw_done)

    def _saw_done(self) -> None:
        self._done = True

    def _ended_with_done(self) -> bool:
        """Feed ``done`` at the end? When it was seen -- or, where the SDK's decoder
        could not be watched, when the stream ended without an error."""
        return self._done or (not self._spied and self.flow.ending is None)


class FlowEventHandler(_Feeding, AssistantEventHandler):
    """An ``AssistantEventHandler`` that feeds every event into ``flow``.

    Use one per stream; pass the same flow to continue after tool outputs::

        flow = RunFlow()
        with client.beta.threads.runs.stream(..., event_handler=FlowEventHandler(flow)) as s:
            s.until_done()
    """

    def __init__(self, flow: RunFlow | None = None) -> None:
        super().__init__()
        self._bind(flow)

    def _init(self, stream: Any) -> None:
        super()._init(stream)
        self._start(stream)

    def on_event(self, event: AssistantStreamEvent) -> None:
        self.flow.feed(event)

    def on_exception(self, exception: Exception) -> None:
        error = _error_event(exception)
        if error is not None:
            self.flow.feed(error)

    def on_end(self) -> None:
        if self._ended_with_done():
            self.flow.feed({"event": "done", "data": "[DONE]"})
        self.flow.close()


class AsyncFlowEventHandler(_Feeding, AsyncAssistantEventHandler):
    """The async twin of :class:`FlowEventHandler`; awaits ``async def`` callbacks."""

    def __init__(self, flow: RunFlow | None = None) -> None:
        super().__init__()
        self._bind(flow)

    def _init(self, stream: Any) -> None:
        super()._init(stream)
        self._start(stream)

    async def on_event(self, event: AssistantStreamEvent) -> None:
        await self.flow.afeed(event)

    async def on_exception(self, exception: Exception) -> None:
        error = _error_event(exception)
        if error is not None:
            await self.flow.afeed(error)

    async def on_end(self) -> None:
        if self._ended_with_done():
            await self.flow.afeed({"event": "done", "data": "[DONE]"})
        await self.flow.aclose()
