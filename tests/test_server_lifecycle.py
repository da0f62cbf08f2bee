"""Streams that wait do not outlive their client or their server.

``runflow serve`` runs as a real subprocess here: SIGTERM and SIGINT must stop
it (exit status 0, no traceback) while a stream sits in a long ``delay``, and
that stream must be closed. The tests wait on events, never on a clock: the
server's readiness line (printed once it accepts connections, naming the port it
chose for ``--port 0``), the process's exit, the server's own count of open
streams. ``HANG`` only turns a hang into a failure; a loaded machine never gets
near it.
"""

from __future__ import annotations

import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from runflow.testing import Server

HANG = 120.0  # seconds: a ceiling for "it did not hang", never reached when things work
READY = re.compile(r"^runflow serve: listening on (http://\S+/v1) ")


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


def readiness_line(proc: subprocess.Popen[str]) -> str:
    """The base URL named by ``runflow serve``'s first line, which it prints once
    it accepts connections."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=HANG):
            pytest.fail(f"runflow serve printed nothing in {HANG:.0f} s")
    line = proc.stdout.readline()
    ready = READY.match(line)
    assert ready, (line, proc.poll() is not None and proc.communicate())
    return ready.group(1)


@pytest.fixture
def serve() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen([sys.executable, "-m", "runflow", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base_url = readiness_line(proc)
        # ready means ready: the first request is answered, with no retry
        assert httpx.get(base_url + "/assistants/asst_text", timeout=HANG).status_code == 200
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

    # the run goes on server-side to its end, as on a real server (the stream's task
    # finishes the run after the stream is dropped, so wait for it, bounded)
    def statuses() -> list[str]:
        return [fresh.store.get("run", run_id)["status"] for run_id in fresh.backend.runs]

    wait_until(lambda: statuses() != ["in_progress"], "the run goes on to its end")
    assert statuses() == ["completed"]


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
