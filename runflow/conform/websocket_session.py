"""The WebSocket side of a grade: connections to ``/v1/responses`` through the
``websockets`` client, every frame both ways kept as a transcript
:class:`~runflow.protocols.responses.websocket.transcript.Frame`.

A :class:`WsConnection` is held to the same :class:`~.session.Bounds` as an HTTP
grade: ``timeout`` to open the socket and to wait for each frame, the scenario's
deadline (``scenario_seconds``), ``body_bytes`` per frame (the client's
``max_size``) and ``stream_bytes`` for all frames received on one connection. A
bound passed is an ``http.status`` finding at the frame that did not come, the
socket is closed, and :class:`Ended` tells the scenario to stop; what was recorded
until then is graded. A server that cannot be reached at the first connection is
:class:`~.session.CouldNotRun` (one line, exit 2); a handshake answered with
another status than 101 is :class:`~.session.Refused` (4xx: the scenario is not
applicable) after an ``http.status`` finding for a 5xx.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from runflow.conform.findings import Finding
from runflow.conform.session import Bounds, CouldNotRun, Exchange, Refused, excerpt
from runflow.protocols.responses.websocket.transcript import Frame

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

__all__ = ["Ended", "WsConnection", "WsSession", "websocket_url"]

MIB = 1 << 20


class Ended(Exception):
    """The connection ended (closed by the server, cut, or a bound passed): the
    scenario stops and what was recorded is graded."""


def websocket_url(base_url: str) -> str:
    """``ws(s)://host/.../responses`` for an ``http(s)://host/.../v1`` base URL (what
    openai-python's ``connect()`` derives)."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/responses", "", ""))


def _size(count: int) -> str:
    return f"{count / MIB:g} MiB" if count >= MIB else f"{count} bytes"


@dataclass
class WsSession:
    """What the connections of one grade share: where, how, the bounds, and whether
    the server was ever reached (only the first failure to connect is
    :class:`CouldNotRun`)."""

    base_url: str
    api_key: str
    headers: dict[str, str] = field(default_factory=dict)
    bounds: Bounds = field(default_factory=Bounds)
    reached: bool = False
    exchanges: list[Exchange] = field(default_factory=list)
    deadline: float = 0.0

    def restart(self) -> None:
        """A new scenario: its deadline starts now."""
        self.deadline = time.monotonic() + self.bounds.scenario_seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def connect(self, label: str) -> WsConnection:
        """Open one connection (see the module docstring for what can go wrong)."""
        from websockets.exceptions import InvalidHandshake, InvalidStatus
        from websockets.sync.client import connect

        url = websocket_url(self.base_url)
        path = urlsplit(url).path
        start = time.monotonic()
        headers = {"Authorization": f"Bearer {self.api_key}", **self.headers}
        try:  # entered as a context manager (what websockets asks), left in close()
            socket = contextlib.ExitStack().enter_context(connect(
                url, additional_headers=headers, proxy=None,
                open_timeout=max(0.001, min(self.bounds.timeout, self.left())),
                max_size=self.bounds.body_bytes, close_timeout=1, compression=None))
        except InvalidStatus as exc:
            self.reached = True
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace") if exc.response.body else ""
            self.exchanges.append(Exchange(label, "GET", path, status,
                                           exc.response.headers.get("content-type"),
                                           time.monotonic() - start))
            raise Refused(status, excerpt(body or "the WebSocket handshake was refused")
                          ) from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            line = f"cannot reach {url} ({excerpt(reason, 200)})"
            if isinstance(exc, TimeoutError):
                line = f"no answer from {url} within {self.bounds.timeout:g} s (--timeout)"
            if not self.reached:
                raise CouldNotRun(line) from None
            raise Ended(line) from None
        self.reached = True
        return WsConnection(self, label, socket, path, start)


class WsConnection:
    """One open socket and its transcript (:attr:`frames`, both directions)."""

    def __init__(self, session: WsSession, label: str, socket: ClientConnection, path: str,
                 start: float) -> None:
        self.session, self.label, self.socket = session, label, socket
        self.path, self.start = path, start
        self.frames: list[Frame] = []
        self.findings: list[Finding] = []
        self.received_bytes = 0
        self.ended = False

    # -- sending ---------------------------------------------------------------------
    def send(self, event: dict[str, Any]) -> None:
        """One client event, recorded as a ``send`` frame."""
        from websockets.exceptions import ConnectionClosed

        if self.ended:
            raise Ended("the connection has ended")
        text = json.dumps(event)
        try:
            self.socket.send(text)
        except ConnectionClosed:
            self._stop()
            raise Ended("the server closed the connection") from None
        self.frames.append(Frame("send", text, time.time()))

    # -- receiving -------------------------------------------------------------------
    def receive(self) -> dict[str, Any] | None:
        """The next server frame, parsed (None: it is not a JSON object; the flow says
        why). Raises :class:`Ended` when the socket closed or a bound passed."""
        from websockets.exceptions import ConnectionClosed, PayloadTooBig

        if self.ended:
            raise Ended("the connection has ended")
        bounds = self.session.bounds
        left = self.session.left()
        if left <= 0:
            self._bound(f"the scenario passed its {bounds.scenario_seconds:g} s deadline; "
                        "conform stopped reading (--scenario-timeout)")
        try:
            message = self.socket.recv(timeout=min(bounds.timeout, left))
        except TimeoutError:
            if self.session.left() <= 0:
                self._bound(f"the scenario passed its {bounds.scenario_seconds:g} s "
                            "deadline; conform stopped reading (--scenario-timeout)")
            self._bound(f"no frame within {bounds.timeout:g} s (read timeout; --timeout)")
        except PayloadTooBig:
            self._bound(f"a frame passed {_size(bounds.body_bytes)}; conform stopped reading "
                        "(--max-body-bytes)")
        except ConnectionClosed as exc:
            self._stop()
            if isinstance(exc.__cause__, PayloadTooBig) or (
                    exc.rcvd is None and exc.sent is not None and exc.sent.code == 1009):
                self._bound(f"a frame passed {_size(bounds.body_bytes)}; conform stopped "
                            "reading (--max-body-bytes)")
            raise Ended("the server closed the connection") from None
        opcode = 1 if isinstance(message, str) else 2
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        self.received_bytes += len(text.encode("utf-8")) if opcode == 1 else len(message)
        self.frames.append(Frame("receive", text, time.time(), opcode))
        if self.received_bytes > bounds.stream_bytes:
            self._bound(f"the connection's frames passed {_size(bounds.stream_bytes)}; "
                        "conform stopped reading (--max-stream-bytes)")
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _bound(self, message: str) -> None:
        """A bound passed: a finding at the frame that did not come, then stop."""
        self.findings.append(Finding("http.status", "error", f"{self.label}: {message}",
                                     len(self.frames)))
        self._stop()
        raise Ended(message)

    def _stop(self) -> None:
        """Close the socket once, and keep the exchange (the upgrade, and how many
        frames came over it)."""
        if self.ended:
            return
        self.ended = True
        received = sum(1 for f in self.frames if f.type == "receive")
        self.session.exchanges.append(Exchange(self.label, "GET", self.path, 101, None,
                                               time.monotonic() - self.start, received))
        with contextlib.suppress(Exception):  # a socket that cannot even close is closed
            self.socket.close()

    def close(self) -> None:
        """The scenario is done with it."""
        if not self.ended:
            self._stop()
