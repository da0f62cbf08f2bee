"""``WebSocketServer``: the local :class:`~runflow.server.Server` with its WebSocket
mode in reach (:attr:`mode`: faults, transcripts) and a connection time limit of the
caller's choosing. Every :class:`~runflow.server.Server` speaks WebSocket mode; this
only names the mode and sets its limit."""

from __future__ import annotations

from runflow.server.app import Server
from runflow.server.websocket import WebSocketMode

__all__ = ["WebSocketServer"]


class WebSocketServer(Server):
    """``with WebSocketServer() as server: OpenAI(base_url=server.base_url)``; faults
    and transcripts are on :attr:`mode`."""

    def __init__(self, *, max_seconds: float | None = None) -> None:
        super().__init__()
        self.mode = WebSocketMode(max_seconds=max_seconds)
        self.backend.websocket = self.mode

    def __enter__(self) -> WebSocketServer:
        self.start()
        return self
