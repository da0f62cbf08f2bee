"""The ``text/event-stream`` response: frames written one by one, faults applied.

When the stream is cut, hits an injected error or the client goes away, the
remaining frames are still pulled (and thus applied to the store): the run goes
on server-side, as on a real server. A ``delay`` between frames is a wait that
ends early when the client disconnects or the server shuts down
(:meth:`OpenStreams.close_all`), so no request outlives its client or its server.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Iterator

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from runflow.server.faults import Cut, ErrorFrame, Fault, apply_faults, assistants_error
from runflow.server.sse import Frame

__all__ = ["EventStream", "OpenStreams"]

# uvicorn logs an error when a response is left unfinished; for deliberate cuts
# that is the point, so the log record is dropped (only in that request's context).
_deliberate_cut: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "runflow_deliberate_cut", default=False)


class _HideDeliberateCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_deliberate_cut.get() and "without completing response" in str(record.msg))


logging.getLogger("uvicorn.error").addFilter(_HideDeliberateCuts())


class OpenStreams:
    """The streams being written, so a shutting-down server can end them at once.

    ``close_all`` must be called on the event loop that serves the streams (the
    server's shutdown does that).
    """

    def __init__(self) -> None:
        self._stops: set[asyncio.Event] = set()
        self.closing = False

    def open(self) -> asyncio.Event:
        stop = asyncio.Event()
        if self.closing:
            stop.set()
        self._stops.add(stop)
        return stop

    def done(self, stop: asyncio.Event) -> None:
        self._stops.discard(stop)

    def close_all(self) -> None:
        self.closing = True
        for stop in list(self._stops):
            stop.set()

    def __len__(self) -> int:
        return len(self._stops)


class EventStream(Response):
    """Frames written one by one with ``fault`` applied; see the module docstring.

    ``error`` builds the event an ``error_after`` fault sends, in the stream's protocol.
    """

    media_type = "text/event-stream"

    def __init__(self, frames: Iterator[Frame], fault: Fault,
                 streams: OpenStreams | None = None, *,
                 error: ErrorFrame = assistants_error) -> None:
        super().__init__(media_type=self.media_type)
        self._frames = frames
        self._fault = fault
        self._error = error
        self._streams = streams if streams is not None else OpenStreams()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
        ]})
        stop = self._streams.open()
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            stop.set()

        watcher = asyncio.ensure_future(watch())
        cut = False
        try:
            for item in apply_faults(self._frames, self._fault, self._error):
                if isinstance(item, Cut):
                    cut = True
                    break
                if stop.is_set():
                    break
                await send({"type": "http.response.body", "body": item.raw, "more_body": True})
                if self._fault.delay:  # before producing the next event: REST stays in step
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=self._fault.delay)
                    except asyncio.TimeoutError:
                        pass
            if not cut and not gone:  # finished, or ended by a shutdown: close it properly
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            self._streams.done(stop)
            for _ in self._frames:
                pass
        if cut or gone:
            _deliberate_cut.set(True)
