"""``WebSocketServer``: the local server with WebSocket mode on, in a background thread
(the shipped :class:`runflow.server.Server` speaks WebSocket mode too; this one
exposes its :class:`WebSocketMode` with a time limit of the test's choosing)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from runflow.server.app import create_app
from runflow.server.backend import Backend
from runflow.server.websocket import WebSocketMode

__all__ = ["WebSocketServer"]


class WebSocketServer:
    """``with WebSocketServer() as server: OpenAI(base_url=server.base_url)``; faults
    and transcripts are on :attr:`mode`."""

    def __init__(self, *, max_seconds: float | None = None) -> None:
        self.backend = Backend()
        self.mode = WebSocketMode(max_seconds=max_seconds)
        self.backend.websocket = self.mode
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._socket is not None
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"

    def __enter__(self) -> WebSocketServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        config = uvicorn.Config(create_app(backend=self.backend), log_level="warning",
                                lifespan="off", ws="websockets-sansio", log_config=None)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("runflow WebSocket server did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=3)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout=3)
        if self._socket is not None:
            self._socket.close()
