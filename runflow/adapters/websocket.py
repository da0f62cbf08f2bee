"""``watch`` / ``awatch``: validate a live ``client.responses.connect()`` connection.

The returned wrapper is used in place of the SDK connection for ``send`` / ``recv`` /
iteration: each frame goes through a :class:`ConnectionFlow` (as its raw text, so
what is checked is what crossed the socket) and into a transcript
(:attr:`WatchedConnection.frames`, :func:`~runflow.protocols.responses.websocket.
transcript.dump_jsonl` writes it). The SDK still parses and returns its own typed
events; nothing is changed on the wire.

    with client.responses.connect() as conn:
        watched = watch(conn)
        watched.send({"type": "response.create", ...})
        for event in watched:
            ...
        watched.close()
        assert watched.flow.violations == []

The SDK's session helper (``ResponsesWebSocketSession``) owns the connection's read
side, so it is watched at the socket: :func:`watch_session` (:func:`awatch_session`)
hooks the connection's raw receive that the session's one reader calls, and its
lanes record each client frame before it is sent, so the flow sees the frames of
every lane in wire order. :func:`consume_lane` (:func:`aconsume_lane`) reads one
lane to its final response and returns it with what the flow found of it::

    with client.responses.connect() as conn:
        with watch_session(ResponsesWebSocketSession(conn, limits=limits)) as session:
            a, b = session.lane("a"), session.lane("b")
            a.send({"type": "response.create", ...})
            b.send({"type": "response.create", ...})
            first, second = consume_lane(a), consume_lane(b)
        assert session.flow.violations == []
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from openai.types.responses import Response
from pydantic import BaseModel

from runflow.protocols.responses.websocket.flow import ConnectionFlow
from runflow.protocols.responses.websocket.records import FrameViolation, ResponseRecord
from runflow.protocols.responses.websocket.transcript import Frame

__all__ = ["AsyncWatchedConnection", "AsyncWatchedLane", "AsyncWatchedSession", "LaneResult",
           "WatchedConnection", "WatchedLane", "WatchedSession", "aconsume_lane", "awatch",
           "awatch_session", "consume_lane", "watch", "watch_session"]


def _text(event: Any) -> str:
    if isinstance(event, BaseModel):
        return event.model_dump_json(exclude_unset=True)
    return json.dumps(event, default=str)


class _Watched:
    def __init__(self, connection: Any, flow: ConnectionFlow | None) -> None:
        self.connection = connection
        self.flow = flow if flow is not None else ConnectionFlow()
        self.frames: list[Frame] = []
        self.ending: str | None = None

    def _sent(self, event: Any) -> None:
        text = _text(event)
        self.frames.append(Frame("send", text, time.time()))
        self.flow.send(text)

    def _received(self, raw: bytes | str) -> Any:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        self.frames.append(Frame("receive", text, time.time()))
        self.flow.receive(text)
        return self.connection.parse_event(raw)

    def close(self) -> str:
        """Tell the flow the socket ended (idempotent); returns its ending."""
        if self.ending is None:
            self.ending = self.flow.close()
        return self.ending


class WatchedConnection(_Watched):
    """A sync ``ResponsesConnection`` whose frames a :class:`ConnectionFlow` checks."""

    def send(self, event: Any) -> None:
        self.connection.send(event)
        self._sent(event)

    def recv(self) -> Any:
        return self._received(self.connection.recv_bytes())

    def __iter__(self) -> Iterator[Any]:
        """Events until the socket closes (then the flow is closed too)."""
        try:
            while True:
                yield self.recv()
        except Exception as exc:  # the SDK raises its transport's ConnectionClosed
            if "Closed" not in type(exc).__name__:
                raise
        self.close()


class AsyncWatchedConnection(_Watched):
    """The async twin of :class:`WatchedConnection`."""

    async def send(self, event: Any) -> None:
        await self.connection.send(event)
        self._sent(event)

    async def recv(self) -> Any:
        return self._received(await self.connection.recv_bytes())

    async def __aiter__(self) -> AsyncIterator[Any]:
        try:
            while True:
                yield await self.recv()
        except Exception as exc:
            if "Closed" not in type(exc).__name__:
                raise
        self.close()


def watch(connection: Any, flow: ConnectionFlow | None = None) -> WatchedConnection:
    """Wrap the connection of ``client.responses.connect()``."""
    return WatchedConnection(connection, flow)


def awatch(connection: Any, flow: ConnectionFlow | None = None) -> AsyncWatchedConnection:
    """Wrap the connection of ``AsyncOpenAI().responses.connect()``."""
    return AsyncWatchedConnection(connection, flow)


# -- the SDK's session helper ---------------------------------------------------------


def _client_frame(event: Any, stream_id: str | None) -> str:
    """The frame a lane sends for ``event``: a create carries the lane's ``stream_id``
    (the SDK's lane adds it); a steer keeps its own fields."""
    data = (event.model_dump(mode="json", exclude_unset=True) if isinstance(event, BaseModel)
            else dict(event))
    if data.get("type") == "response.create" and stream_id is not None:
        data["stream_id"] = stream_id
    return json.dumps(data, default=str)


@dataclass
class LaneResult:
    """One lane's response, read to its terminal event, and what the flow found."""

    response: Response
    record: ResponseRecord | None
    """The flow's record of it (None: the flow never saw its ``response.created``)."""
    violations: list[FrameViolation]
    """The violations naming this response."""


class _SessionWatch(_Watched):
    """What both session watchers share: the flow, the frames, a lock (the sync
    session's reader is a thread of its own)."""

    def __init__(self, session: Any, flow: ConnectionFlow | None) -> None:
        super().__init__(session.connection, flow)
        self.session = session
        self.lock = threading.Lock()

    def record_receive(self, raw: bytes | str) -> None:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        with self.lock:
            self.frames.append(Frame("receive", text, time.time()))
            self.flow.receive(text)

    def record_send(self, text: str) -> None:
        self.frames.append(Frame("send", text, time.time()))
        self.flow.send(text)

    def result(self, response: Response) -> LaneResult:
        with self.lock:
            return LaneResult(response, self.flow.responses.get(response.id),
                              [v for v in self.flow.violations if v.response_id == response.id])


class WatchedSession(_SessionWatch):
    """A ``ResponsesWebSocketSession`` whose frames a :class:`ConnectionFlow` checks.
    Enter it instead of the session (it enters the session); lanes come from
    :meth:`lane`."""

    def __init__(self, session: Any, flow: ConnectionFlow | None = None) -> None:
        super().__init__(session, flow)
        original: Callable[[], bytes] = session.connection.recv_bytes

        def recv_bytes() -> bytes:
            raw = original()
            self.record_receive(raw)
            return raw

        session.connection.recv_bytes = recv_bytes  # the reader reads through it

    def __enter__(self) -> WatchedSession:
        self.session.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.session.__exit__(exc_type, exc, tb)
        finally:
            with self.lock:
                self.close()

    def lane(self, stream_id: str | None = None) -> WatchedLane:
        return WatchedLane(self, self.session.lane(stream_id), stream_id)


class WatchedLane:
    """A session lane whose sends the flow sees first (in wire order)."""

    def __init__(self, watch: WatchedSession, lane: Any, stream_id: str | None) -> None:
        self.watch, self.lane, self.stream_id = watch, lane, stream_id

    def send(self, event: Any) -> None:
        text = _client_frame(event, self.stream_id)
        with self.watch.lock:  # before the reader can feed the answer
            self.watch.record_send(text)
            self.lane.send(event)

    def recv(self, *, timeout: float | None = None) -> Any:
        return self.lane.recv(timeout=timeout)

    def get_final_response(self, *, timeout: float | None = None) -> Response:
        response: Response = self.lane.get_final_response(timeout=timeout)
        return response


def consume_lane(lane: WatchedLane, *, timeout: float | None = None) -> LaneResult:
    """Read ``lane`` to its response's terminal event (the SDK's
    ``get_final_response``); the response with its record and violations."""
    return lane.watch.result(lane.get_final_response(timeout=timeout))


class AsyncWatchedSession(_SessionWatch):
    """The async twin of :class:`WatchedSession` (``async with``)."""

    def __init__(self, session: Any, flow: ConnectionFlow | None = None) -> None:
        super().__init__(session, flow)
        original: Callable[[], Awaitable[bytes]] = session.connection.recv_bytes

        async def recv_bytes() -> bytes:
            raw = await original()
            self.record_receive(raw)
            return raw

        session.connection.recv_bytes = recv_bytes

    async def __aenter__(self) -> AsyncWatchedSession:
        await self.session.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            await self.session.__aexit__(exc_type, exc, tb)
        finally:
            self.close()

    def lane(self, stream_id: str | None = None) -> AsyncWatchedLane:
        return AsyncWatchedLane(self, self.session.lane(stream_id), stream_id)


class AsyncWatchedLane:
    """An async session lane whose sends the flow sees first."""

    def __init__(self, watch: AsyncWatchedSession, lane: Any, stream_id: str | None) -> None:
        self.watch, self.lane, self.stream_id = watch, lane, stream_id

    async def send(self, event: Any) -> None:
        with self.watch.lock:
            self.watch.record_send(_client_frame(event, self.stream_id))
        await self.lane.send(event)

    async def recv(self) -> Any:
        return await self.lane.recv()

    async def get_final_response(self) -> Response:
        response: Response = await self.lane.get_final_response()
        return response


async def aconsume_lane(lane: AsyncWatchedLane) -> LaneResult:
    """Async :func:`consume_lane`."""
    return lane.watch.result(await lane.get_final_response())


def watch_session(session: Any, flow: ConnectionFlow | None = None) -> WatchedSession:
    """Watch a ``ResponsesWebSocketSession`` not yet entered (``with`` the result)."""
    return WatchedSession(session, flow)


def awatch_session(session: Any, flow: ConnectionFlow | None = None) -> AsyncWatchedSession:
    """Watch an ``AsyncResponsesWebSocketSession`` not yet entered."""
    return AsyncWatchedSession(session, flow)
