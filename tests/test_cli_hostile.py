"""The command line under hostile conditions: never a traceback, always exit 0, 1
or 2 with the cause in one line.

What is about the process (a closed stdin, stdout on a full disk, the exit code a
port in use gives) runs ``python -m runflow`` as a subprocess; argument checks run
``main()`` in process.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runflow.adapters.recording import DEMO_STREAM
from runflow.cli import main
from runflow.cli.record import _data

RUNFLOW = [sys.executable, "-m", "runflow"]
FULL = "/dev/full"
needs_dev_full = pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full here")


def runflow(*argv: str | bytes, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([*RUNFLOW, *argv], check=False, timeout=60, **kwargs)


def one_line_error(done: subprocess.CompletedProcess[bytes]) -> str:
    """The single stderr line of a failed command (and no traceback)."""
    err = done.stderr.decode()
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


# --------------------------------------------------------------------------- #
# standard input
# --------------------------------------------------------------------------- #
def test_check_with_stdin_closed() -> None:
    done = runflow("check", "-", stdin=None, preexec_fn=lambda: os.close(0))
    assert done.returncode == 2
    assert one_line_error(done) == "runflow: error: -: standard input is closed"
    assert done.stdout == b""


def test_check_with_unreadable_stdin(tmp_path: Path) -> None:
    with (tmp_path / "w").open("wb") as write_only:  # reading it fails with EBADF
        done = runflow("check", "-", stdin=write_only)
    assert done.returncode == 2
    assert one_line_error(done) == (
        "runflow: error: -: cannot read standard input (Bad file descriptor)")


def test_check_json_with_stdin_closed_still_reports_the_file() -> None:
    done = runflow("check", "--json", "-", preexec_fn=lambda: os.close(0))
    assert done.returncode == 2
    assert json.loads(done.stdout) == {"file": "-", "ok": False,
                                       "error": "-: standard input is closed"}


# --------------------------------------------------------------------------- #
# standard output on a full disk
# --------------------------------------------------------------------------- #
@needs_dev_full
@pytest.mark.parametrize("argv", [
    ["check", str(DEMO_STREAM)], ["check", "--json", str(DEMO_STREAM)],
    ["replay", str(DEMO_STREAM)], ["replay", "--json", str(DEMO_STREAM)], ["diagram"],
], ids=["check", "check-json", "replay", "replay-json", "diagram"])
def test_stdout_on_a_full_disk(argv: list[str]) -> None:
    with open(FULL, "wb") as full:
        done = runflow(*argv, stdout=full)
    assert done.returncode == 2
    assert one_line_error(done) == (
        "runflow: error: cannot write the output: No space left on device")


# --------------------------------------------------------------------------- #
# numbers and ports
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(("argv", "message"), [
    (["serve", "--port", "99999"], "argument --port: a port is 0-65535, got 99999"),
    (["serve", "--port", "-1"], "argument --port: a port is 0-65535, got -1"),
    (["serve", "--port", "eighty"], "argument --port: expected a whole number, got 'eighty'"),
    (["demo", "--cut-after", "-5"], "argument --cut-after: expected 0 or more, got -5"),
    (["demo", "--cut-after", "1.5"], "argument --cut-after: expected a whole number, got '1.5'"),
])
def test_bad_numbers_are_usage_errors(argv: list[str], message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.rstrip("\n").endswith(f"error: {message}")
    assert "Traceback" not in err


def test_serve_on_a_port_in_use() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = runflow("serve", "--port", str(port))
    assert done.returncode == 2
    assert one_line_error(done) == (
        f"runflow: error: cannot serve on 127.0.0.1:{port}: the port is already in use")
    assert done.stdout == b""  # no "serving on" banner for a server that never ran


# --------------------------------------------------------------------------- #
# input that is not an event stream
# --------------------------------------------------------------------------- #
RUN_OBJECT = {"id": "run_abc", "object": "thread.run", "status": "queued"}
NOT_A_STREAM = ("the input is a single JSON object (a 'thread.run' object), not an event "
                "stream: did the server ignore stream=true?")


@pytest.mark.parametrize("name", ["body.json", "body.jsonl", "body.sse", "body"])
@pytest.mark.parametrize("indent", [None, 2])
def test_a_json_object_body_is_named(tmp_path: Path, name: str, indent: int | None,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_text(json.dumps(RUN_OBJECT, indent=indent))
    assert main(["check", str(path)]) == 2
    assert capsys.readouterr().err == f"runflow: error: {path}: {NOT_A_STREAM}\n"


def test_a_json_object_body_on_stdin() -> None:
    done = runflow("check", "-", input=json.dumps(RUN_OBJECT).encode())
    assert done.returncode == 2
    assert one_line_error(done) == f"runflow: error: -: {NOT_A_STREAM}"


def test_a_json_array_body_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([RUN_OBJECT]))
    assert main(["check", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"runflow: error: {path}: the input is a single JSON array, not an event stream\n")


def test_a_one_event_recording_is_still_a_recording(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"event": "thread.run.created", "data": RUN_OBJECT}))
    assert main(["check", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["events"] == 1 and report["ending"] == "truncated"


# --------------------------------------------------------------------------- #
# JSON in and out
# --------------------------------------------------------------------------- #
def test_a_deeply_nested_line_is_a_violation_naming_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = DEMO_STREAM.read_text(encoding="utf-8").splitlines()
    deep = '{"event": "thread.run.step.delta", "data": {"delta": ' + "[" * 100_000 + "}}"
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join([lines[0], deep, *lines[1:]]) + "\n")
    assert main(["check", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    (bad,) = [v for v in report["violations"] if v["code"] == "malformed_event"]
    assert (bad["index"], bad["line"]) == (1, 2)
    assert bad["message"].startswith("line 2: not valid JSON (nested deeper than 200 levels")
    assert report["events"] == len(lines) + 1  # the flow went on after it


def test_check_json_output_is_valid_utf8_for_an_undecodable_file_name(tmp_path: Path) -> None:
    """A file name that is not UTF-8 reaches Python as lone surrogates; the JSON
    written is still valid UTF-8, and stderr says what was replaced."""
    name = os.fsencode(tmp_path) + b"/bad\xff.jsonl"
    with open(name, "wb") as f:
        f.write(DEMO_STREAM.read_bytes())
    done = runflow("check", "--json", name)
    assert done.returncode == 0
    report = json.loads(done.stdout.decode("utf-8"))  # strict: raises on invalid UTF-8
    assert report["file"].endswith("/bad\ufffd.jsonl")
    assert report["ok"] is True
    assert done.stderr.decode() == (
        "runflow: warning: lone surrogates in the output were replaced with U+FFFD\n")


def test_record_keeps_deeply_nested_data_as_text() -> None:
    deep = b"[" * 100_000
    assert _data(deep) == deep.decode()
    assert _data(b'{"a": NaN}') == '{"a": NaN}'
    assert _data(b'{"a": 1}') == {"a": 1}


def test_an_unexpected_exception_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import runflow.cli.check as check

    def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(check, "is_ok", broken)
    assert main(["check", str(DEMO_STREAM)]) == 2
    assert capsys.readouterr().err == (
        "runflow: error: unexpected RuntimeError (boom); this is a bug in runflow, please "
        "report it\n")


def test_non_finite_numbers_are_refused_not_printed() -> None:
    """NaN is not JSON: --json output refuses it in one line instead of printing it."""
    import io

    from runflow.cli import CommandError
    from runflow.cli.common import write_json
    from runflow.cli.output import Output

    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"^the result cannot be written as JSON \(Out of "
                                           r"range float values are not JSON compliant"):
        write_json(Output(out, err), {"x": float("nan")})
    assert out.getvalue() == ""


# --------------------------------------------------------------------------- #
# conform against a hostile server: everything it reads is bounded (issue 24)
# --------------------------------------------------------------------------- #
MIB = 1 << 20
ROUNDS = 3000
"""The most writes a hostile answer makes (each loop is bounded)."""


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Answers every request as ``server.mode`` says; stops when the client leaves."""

    server: _HostileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            getattr(self, f"_{self.server.mode}")()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what these tests want

    do_GET = do_POST

    def _head(self, status: int, content_type: str, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is None:
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _trickle(self) -> None:  # a stream that never ends: a comment every 50 ms
        self._head(200, "text/event-stream")
        for _ in range(ROUNDS):
            self.wfile.write(b": still here\n\n")
            self.wfile.flush()
            time.sleep(0.05)

    def _flood(self) -> None:  # a stream of ever more deltas
        self._head(200, "text/event-stream")
        frame = ("event: response.output_text.delta\ndata: " + json.dumps(
            {"type": "response.output_text.delta", "delta": "x" * 60_000}) + "\n\n").encode()
        for _ in range(ROUNDS):
            self.wfile.write(frame)

    def _big_body(self) -> None:  # a JSON answer of 20 MiB to a stream request
        body = b'{"object": "response", "pad": "' + b"x" * (20 * MIB) + b'"}'
        self._head(200, "application/json", len(body))
        self.wfile.write(body)

    def _big_error(self) -> None:  # a 400 whose message is 2 MB
        body = json.dumps({"error": {"message": "no! " * 500_000, "type": "invalid_request_error",
                                     "param": None, "code": None}}).encode()
        self._head(400, "application/json", len(body))
        self.wfile.write(body)


class _HostileServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), _Hostile)
        self.mode = mode

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that left: fine
            super().handle_error(request, client_address)


@contextlib.contextmanager
def hostile(mode: str) -> Iterator[_HostileServer]:
    server = _HostileServer(mode)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _conform(server: _HostileServer, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = runflow("conform", "--base-url", server.base_url, "--protocol", "responses",
                   "--scenario", "text", "--json", *extra)
    err = done.stderr.decode()
    assert "Traceback" not in err and "bug in runflow" not in err, err
    return done.returncode, json.loads(done.stdout) if done.stdout else {}, err


def _messages(report: dict[str, Any]) -> list[str]:
    return [f["message"] for s in report["scenarios"] for f in s["findings"]]


def test_conform_ends_a_trickling_stream_at_the_scenario_deadline() -> None:
    with hostile("trickle") as server:
        code, report, _ = _conform(server, "--timeout", "1", "--scenario-timeout", "2")
    assert code == 1
    assert any("passed its 2 s deadline" in m and "--scenario-timeout" in m
               for m in _messages(report)), _messages(report)


def test_conform_stops_reading_a_flood_at_the_stream_cap() -> None:
    with hostile("flood") as server:
        code, report, _ = _conform(server, "--max-stream-bytes", "1")
    assert code == 1
    assert any("the stream passed 1 MiB" in m and "--max-stream-bytes" in m
               for m in _messages(report)), _messages(report)


def test_conform_reads_a_body_up_to_the_body_cap() -> None:
    with hostile("big_body") as server:
        code, report, _ = _conform(server, "--max-body-bytes", "1")
    assert code == 1
    assert any("the body passed 1 MiB" in m for m in _messages(report)), _messages(report)


def test_a_huge_error_message_is_quoted_as_an_excerpt() -> None:
    with hostile("big_error") as server:
        done = runflow("conform", "--base-url", server.base_url, "--protocol", "responses",
                       "--scenario", "text", "--json")
    report = json.loads(done.stdout)
    (scenario,) = report["scenarios"]
    assert scenario["status"] == "not_applicable"
    assert "no! no! " in scenario["reason"] and "(2000000 characters)" in scenario["reason"]
    assert len(done.stdout) < 100_000  # not the 2 MB message


def test_conform_help_states_every_bound() -> None:
    out = runflow("conform", "--help").stdout.decode()
    flat = " ".join(out.split())
    for bound in ("--timeout S seconds to connect, and to wait for each answer and each frame "
                  "of a stream (default: 10)", "(default: 120)", "(default: 8)",
                  "(default: 16)"):
        assert bound in flat
