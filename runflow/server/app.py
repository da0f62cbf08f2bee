"""A local HTTP server (Assistants and Responses APIs) with scripted runs and fault injection.

``create_app`` builds the Starlette (ASGI) app, ``Server`` runs it with uvicorn in
a background thread on a free loopback port, ``serve`` runs it in the foreground
(``runflow serve``). Streamed answers come, in this priority, from queued
recordings (:meth:`Backend.enqueue_recording`) or from the scenario of the run
(see :mod:`.backend` for state and faults, :mod:`.assistants` for the endpoints).

Stopping -- :meth:`Server.stop`, or SIGTERM/SIGINT for ``serve`` -- first ends
every open stream (even one waiting in a long ``delay``), so shutdown takes a
fraction of a second instead of waiting for clients.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from runflow.server.backend import Backend
from runflow.server.bodies import MAX_BODY_BYTES
from runflow.server.errors import ApiError, exception_handlers
from runflow.server.faults import Fault
from runflow.server.scenarios import ScenarioOptions
from runflow.server.store import Store
from runflow.server.streaming import EventStream, OpenStreams

__all__ = ["ApiError", "Backend", "EventStream", "Server", "create_app", "serve"]

GRACE_SECONDS = 1
"""How long uvicorn may wait for requests still running after the streams closed."""


def create_app(store: Store | None = None, *, backend: Backend | None = None,
               options: ScenarioOptions | None = None,
               max_body_bytes: int = MAX_BODY_BYTES) -> Starlette:
    """The ASGI app; ``app.state.backend`` holds the :class:`Backend`."""
    backend = backend or Backend(store, options=options, max_body_bytes=max_body_bytes)
    app = Starlette(routes=backend.routes(),
                    exception_handlers=exception_handlers())  # type: ignore[arg-type]
    app.state.backend = backend
    return app


class _Uvicorn(uvicorn.Server):
    """uvicorn that closes the open streams first, and leaves signals as it found them.

    (uvicorn re-raises a captured SIGINT/SIGTERM once it has stopped, which would
    end ``runflow serve`` with a traceback or a kill status instead of exit 0.)
    """

    def __init__(self, config: uvicorn.Config, streams: OpenStreams,
                 on_listening: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._streams = streams
        self.stopped_by: int | None = None
        """The signal that stopped the server (SIGINT or SIGTERM), if one did."""
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_listening is not None:
            self._on_listening()  # the sockets accept connections from here on

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._streams.close_all()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.stopped_by is None:
            self.stopped_by = sig
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def _config(backend: Backend, log_level: str, **kwargs: Any) -> uvicorn.Config:
    return uvicorn.Config(create_app(backend=backend), log_level=log_level, lifespan="off",
                          ws="websockets-sansio", timeout_graceful_shutdown=GRACE_SECONDS, **kwargs)


def _backend(store: Store | None, options: ScenarioOptions | None,
             recordings: Iterable[str | Path], fault: Fault | str | None,
             max_body_bytes: int) -> Backend:
    backend = Backend(store, options=options, max_body_bytes=max_body_bytes)
    for path in recordings:
        backend.enqueue_recording(path)
    if fault:
        backend.inject(fault, always=True)
    return backend


def serve(host: str = "127.0.0.1", port: int = 8000, *, store: Store | None = None,
          options: ScenarioOptions | None = None, recordings: Iterable[str | Path] = (),
          fault: Fault | str | None = None, log_level: str = "info",
          max_body_bytes: int = MAX_BODY_BYTES,
          on_listening: Callable[[str, int], None] | None = None) -> int | None:
    """Run the server in the foreground until SIGINT/SIGTERM (for ``runflow serve``);
    returns the signal that stopped it (None: it stopped by itself).

    ``on_listening(host, port)`` is called once the server accepts connections, with
    the port bound (the one chosen for ``port=0``). Raises ``OSError`` when the
    address cannot be bound.
    """
    backend = _backend(store, options, recordings, fault, max_body_bytes)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))  # here, so a busy port is an OSError for the CLI to report
    bound = int(sock.getsockname()[1])
    server = _Uvicorn(_config(backend, log_level, host=host, port=port), backend.streams,
                      on_listening and (lambda: on_listening(host, bound)))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return server.stopped_by


class Server:
    """The app on a free loopback port, in a background thread::

        with Server() as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="test")
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, store: Store | None = None,
                 options: ScenarioOptions | None = None,
                 recordings: Iterable[str | Path] = (), fault: Fault | str | None = None,
                 log_level: str = "warning", max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.host, self._port, self._log_level = host, port, log_level
        self.backend = _backend(store, options, recordings, fault, max_body_bytes)
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def store(self) -> Store:
        return self.backend.store

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("server not started")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What ``openai.OpenAI(base_url=...)`` expects: the URL ending in ``/v1``."""
        return self.url + "/v1"

    def enqueue_recording(self, path: str | Path) -> int:
        return self.backend.enqueue_recording(path)

    def enqueue_events(self, events: Iterable[tuple[str, Any]]) -> None:
        self.backend.enqueue_events(events)

    def inject(self, fault: Fault | str, *, always: bool = False) -> None:
        self.backend.inject(fault, always=always)

    def clear_faults(self) -> None:
        self.backend.clear_faults()

    def start(self, timeout: float = 10.0) -> Server:
        """Bind, start uvicorn in a daemon thread and wait until it accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted sockets inherit this; without it small writes wait ~40 ms (Nagle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self._port))
        self._socket = sock
        self._server = _Uvicorn(_config(self.backend, self._log_level, log_config=None),
                                self.backend.streams)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"runflow-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("runflow test server did not start")
            time.sleep(0.005)
        with socket.create_connection((self.host, self.port), timeout=timeout):
            pass
        return self

    def stop(self) -> None:
        """Close the open streams, stop uvicorn and join its thread (forcing it if needed)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=3)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout=3)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
