"""Streams that wait do not outlive their client or their server.

``runflow serve`` runs as a real subprocess here: SIGTERM and SIGINT must stop
it (exit status 0, no traceback) while a stream sits in a long ``delay``, and
that stream must be closed. The bounds below are generous ceilings that only a
hang can hit, not timings.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from runflow.testing import Server

HANG = 10.0  # seconds: a ceiling for "it did not hang", never reached when things work


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + HANG
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)


class SlowStream:
    """A create-and-run stream with a 60 s delay between frames, its first frame read."""

    def __init__(self, http: httpx.Client, base_url: str) -> None:
        request = http.build_request("POST", base_url + "/threads/runs",
                                     json={"assistant_id": "asst_text", "stream": True},
                                     headers={"X-Runflow-Fault": "delay=60"})
        self.response = http.send(request, stream=True)
        assert self.response.status_code == 200
        self.chunks = self.response.iter_raw()
        self.first = next(self.chunks)


def rest_of(stream: SlowStream) -> tuple[bytes, bool]:
    """What remains of the body, and whether it ended cleanly."""
    data = b""
    try:
        for chunk in stream.chunks:
            data += chunk
    except httpx.RemoteProtocolError:
        return data, False
    return data, True


@pytest.fixture
def serve() -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "runflow", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base_url = f"http://127.0.0.1:{port}/v1"

    def up() -> bool:
        assert proc.poll() is None, proc.communicate()
        try:
            return httpx.get(base_url + "/assistants/asst_text").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, "runflow serve answers")
        yield proc, base_url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_runflow_serve_stops_on_a_signal_closing_open_streams(
        serve: tuple[subprocess.Popen[str], str], sig: signal.Signals) -> None:
    proc, base_url = serve
    with httpx.Client(timeout=HANG) as http:
        stream = SlowStream(http, base_url)
        assert stream.first.startswith(b"event: thread.created")
        proc.send_signal(sig)
        # SIGTERM is a normal stop; Ctrl-C is "interrupted" in the exit-code table
        assert proc.wait(timeout=HANG) == (130 if sig == signal.SIGINT else 0)
        rest, _ = rest_of(stream)  # ended by the shutdown, not by the 60 s delays
        assert b"event: done" not in rest
        stream.response.close()
    _, stderr = proc.communicate()
    assert "Traceback" not in stderr


def test_a_delay_ends_when_the_client_goes_away(fresh: Server) -> None:
    with httpx.Client(timeout=HANG) as http:
        stream = SlowStream(http, fresh.base_url)
        wait_until(lambda: len(fresh.backend.streams) == 1, "the stream is open")
        stream.response.close()
    wait_until(lambda: len(fresh.backend.streams) == 0, "the server drops the stream")
    # the run went on server-side to its end, as on a real server
    runs = [fresh.store.get("run", run_id) for run_id in fresh.backend.runs]
    assert [r["status"] for r in runs] == ["completed"]


def test_server_stop_closes_a_waiting_stream() -> None:
    server = Server().start()
    try:
        with httpx.Client(timeout=HANG) as http:
            stream = SlowStream(http, server.base_url)
            thread = server._thread
            server.stop()
            assert thread is not None and not thread.is_alive()
            rest, _ = rest_of(stream)
            assert b"event: done" not in rest
            stream.response.close()
    finally:
        server.stop()
