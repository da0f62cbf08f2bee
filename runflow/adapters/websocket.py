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
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from pydantic import BaseModel

from runflow.protocols.responses.websocket.flow import ConnectionFlow
from runflow.protocols.responses.websocket.transcript import Frame

__all__ = ["AsyncWatchedConnection", "WatchedConnection", "awatch", "watch"]


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
