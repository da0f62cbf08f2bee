"""Tool outputs reach the server exactly once, even when the submit request is cut.

A small TCP proxy between the openai client and the local test server resets the
client's connection (RST, via SO_LINGER 0) on the first ``submit_tool_outputs``
request: either right after the server received it and began answering
(``after``: the outputs were taken, the client cannot know) or before forwarding
it (``before``: the server never saw it). ``drive``/``adrive`` must return the
completed run with each output posted once, whether the client was built with
``max_retries=0`` or with the SDK's default retries (which, left on, repost the
request after the reset and get a 400 for the second copy).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from runflow.adapters.drive import adrive, drive
from runflow.server.scenarios import FUNCTION_CALLS
from runflow.testing import Server

pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]

ASSISTANT = "asst_parallel_functions"
RESULTS = {"get_weather": "18C, sunny", "get_time": "14:05"}
ANSWER = "Here is what I found. get_weather: 18C, sunny. get_time: 14:05."
SUBMIT = b"/submit_tool_outputs"


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: what a peer sees on a dropped connection."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class ResettingProxy:
    """Forwards 127.0.0.1:port to the server; resets the first submit request.

    ``mode`` "after": the request is forwarded, and the client connection is reset
    as soon as the server's answer begins (so the server surely acted on it); the
    server side is closed too, which makes the test server finish the run as a
    real one would. "before": the connection is reset instead of forwarding it.
    ``submits`` counts the submit requests that reached the server.
    """

    def __init__(self, upstream: tuple[str, int], mode: str) -> None:
        self.upstream, self.mode = upstream, mode
        self.submits = 0
        self.resets = 0
        self.cut_done = False
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # accept() does not notice close() from elsewhere
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._closed = False

    def start(self) -> ResettingProxy:
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        self._closed = True
        self._listener.close()
        for sock in list(self._sockets):
            _shut(sock)  # wakes the threads blocked in recv; each closes its own side
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue  # look at _closed again
            except OSError:
                return
            client.settimeout(None)
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            answered = threading.Event()  # the downstream side has ended
            self._spawn(self._upstream, client, server, answered)
            self._spawn(self._downstream, client, server, answered)

    def _upstream(self, client: socket.socket, server: socket.socket,
                  answered: threading.Event) -> None:
        """Client to server. Only this thread closes ``client`` (a socket closed by
        another thread while one blocks in ``recv`` on it is not closed at once)."""
        armed = False
        try:
            while not answered.is_set():
                if not select.select([client], [], [], 0.02)[0]:
                    continue
                data = client.recv(65536)
                if not data:
                    break
                if SUBMIT in data and b"POST " in data:
                    with self._lock:
                        cut = self.resets == 0
                        self.resets += cut
                        self.submits += not (cut and self.mode == "before")
                    if cut and self.mode == "before":
                        break
                    armed = armed or cut
                server.sendall(data)
        except OSError:
            pass
        finally:
            if armed or answered.is_set() or self.mode == "before":
                _reset(client)
            else:
                client.close()
            _shut(server)

    def _downstream(self, client: socket.socket, server: socket.socket,
                    answered: threading.Event) -> None:
        """Server to client; on the server's answer to the submit to cut, stop and
        tell the other side to reset the client."""
        try:
            while data := server.recv(65536):
                with self._lock:
                    cut_now = self.resets == 1 and self.mode == "after" and not self.cut_done
                    self.cut_done = self.cut_done or cut_now
                if cut_now:
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            answered.set()
            _shut(server)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server() as s:
        yield s


@pytest.fixture(params=["after", "before"])
def proxy(request: pytest.FixtureRequest, server: Server) -> Iterator[ResettingProxy]:
    p = ResettingProxy((server.host, server.port), request.param).start()
    yield p
    p.stop()


def tools(calls: list[str]) -> dict[str, Any]:
    def get_weather(city: str) -> str:
        calls.append("get_weather")
        return RESULTS["get_weather"]

    def get_time(timezone: str) -> str:
        calls.append("get_time")
        return RESULTS["get_time"]

    return {"get_weather": get_weather, "get_time": get_time}


def stored_outputs(server: Server, run_id: str) -> dict[str, list[str | None]]:
    """Per function name, the outputs the server stored for the run's calls."""
    out: dict[str, list[str | None]] = {}
    for step in server.store.steps(run_id, order="asc"):
        if step["step_details"]["type"] == "tool_calls":
            for call in step["step_details"]["tool_calls"]:
                out.setdefault(call["function"]["name"], []).append(call["function"]["output"])
    return out


def check(server: Server, proxy: ResettingProxy, flow: Any, thread_id: str,
          calls: list[str]) -> None:
    assert proxy.resets == 1  # the cut did happen
    assert proxy.submits == 1  # and the outputs reached the server once
    assert flow.run_status == "completed"
    assert server.store.run(thread_id, flow.run_id)["status"] == "completed"
    assert stored_outputs(server, flow.run_id) == {k: [v] for k, v in RESULTS.items()}
    assert sorted(calls) == sorted(name for name, _ in FUNCTION_CALLS)  # each tool once
    assert flow.text == ANSWER


@pytest.mark.parametrize("retries", [0, None], ids=["max_retries=0", "default_retries"])
def test_drive_submits_once_through_a_reset(server: Server, proxy: ResettingProxy,
                                            retries: int | None) -> None:
    extra: dict[str, Any] = {} if retries is None else {"max_retries": retries}
    with openai.OpenAI(base_url=f"http://127.0.0.1:{proxy.port}/v1", api_key="test",
                       **extra) as client:
        thread = client.beta.threads.create()
        calls: list[str] = []
        flow = drive(client, thread_id=thread.id, assistant_id=ASSISTANT, tools=tools(calls),
                     poll_interval=0.005, poll_timeout=10)
    check(server, proxy, flow, thread.id, calls)


@pytest.mark.asyncio
@pytest.mark.parametrize("retries", [0, None], ids=["max_retries=0", "default_retries"])
async def test_adrive_submits_once_through_a_reset(server: Server, proxy: ResettingProxy,
                                                   retries: int | None) -> None:
    extra: dict[str, Any] = {} if retries is None else {"max_retries": retries}
    async with openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{proxy.port}/v1",
                                  api_key="test", **extra) as client:
        thread = await client.beta.threads.create()
        calls: list[str] = []
        flow = await adrive(client, thread_id=thread.id, assistant_id=ASSISTANT,
                            tools=tools(calls), poll_interval=0.005, poll_timeout=10)
    check(server, proxy, flow, thread.id, calls)
