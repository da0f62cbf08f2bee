"""One exit-code table for every subcommand (``runflow.cli.EXIT_CODES``): 0 ok,
1 findings, 2 unusable input or environment, 130 interrupted.

Each subcommand is run for real (in process, or as a subprocess where a signal is
needed) on an input that should give each code it can give; servers are
``runflow.testing.Server`` on a free loopback port.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runflow.adapters.recording import DEMO_STREAM
from runflow.cli import (
    COMMANDS,
    EXIT_CODES,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    main,
)
from runflow.testing import Server

RUNFLOW = [sys.executable, "-m", "runflow"]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server() as srv:
        yield srv


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cut(tmp: Path) -> str:
    """The demo stream cut after 10 events: ``truncated``, an error finding."""
    path = tmp / "cut.jsonl"
    path.write_text("".join(DEMO_STREAM.read_text(encoding="utf-8").splitlines(True)[:10]),
                    encoding="utf-8")
    return str(path)


def _prose(tmp: Path) -> str:
    path = tmp / "notes.txt"
    path.write_text("Dear diary,\nToday I checked a stream.\nIt went well.\n", encoding="utf-8")
    return str(path)


def _binary(tmp: Path) -> str:
    path = tmp / "blob.sse"
    path.write_bytes(b"\x00\x01\x02\xff")
    return str(path)


Argv = Callable[[Path, Server], list[str]]
DEMO = str(DEMO_STREAM)

CASES: list[tuple[str, str, Argv, int]] = [
    # check
    ("check", "a clean recording", lambda t, s: ["check", DEMO], EXIT_OK),
    ("check", "a cut recording", lambda t, s: ["check", _cut(t)], EXIT_FINDINGS),
    ("check", "a missing file", lambda t, s: ["check", str(t / "nope.jsonl")], EXIT_USAGE),
    ("check", "prose", lambda t, s: ["check", _prose(t)], EXIT_USAGE),
    ("check", "binary", lambda t, s: ["check", _binary(t)], EXIT_USAGE),
    # replay
    ("replay", "a clean recording", lambda t, s: ["replay", DEMO], EXIT_OK),
    ("replay", "a cut recording", lambda t, s: ["replay", _cut(t)], EXIT_FINDINGS),
    ("replay", "prose", lambda t, s: ["replay", _prose(t)], EXIT_USAGE),
    # watch (a recording, no waiting)
    ("watch", "a clean recording", lambda t, s: ["watch", DEMO, "--speed", "0"], EXIT_OK),
    ("watch", "a cut recording", lambda t, s: ["watch", _cut(t), "--speed", "0"],
     EXIT_FINDINGS),
    ("watch", "prose", lambda t, s: ["watch", _prose(t), "--speed", "0"], EXIT_USAGE),
    # diagram (no findings to make: 0 or 2)
    ("diagram", "mermaid", lambda t, s: ["diagram", "-o", str(t / "d.mmd")], EXIT_OK),
    ("diagram", "an unknown entity", lambda t, s: ["diagram", "--entity", "nope"], EXIT_USAGE),
    ("diagram", "an unwritable file", lambda t, s: ["diagram", "-o", str(t / "no" / "d.mmd")],
     EXIT_USAGE),
    # record
    ("record", "a text run", lambda t, s: ["record", "--base-url", s.base_url, "--assistant",
                                           "asst_text", "-o", str(t / "r.jsonl")], EXIT_OK),
    ("record", "an unreachable server",
     lambda t, s: ["record", "--base-url", f"http://127.0.0.1:{_closed_port()}/v1",
                   "--assistant", "asst_text", "-o", str(t / "r.jsonl")], EXIT_USAGE),
    ("record", "an unwritable output",
     lambda t, s: ["record", "--base-url", s.base_url, "--assistant", "asst_text",
                   "-o", str(t / "no" / "r.jsonl")], EXIT_USAGE),
    # conform
    ("conform", "a conformant scenario",
     lambda t, s: ["conform", "--base-url", s.base_url, "--scenario", "text"], EXIT_OK),
    ("conform", "a broken payload",
     lambda t, s: ["conform", "--base-url", s.base_url, "--protocol", "responses",
                   "--scenario", "text", "--header", "X-Runflow-Break: response.object"],
     EXIT_FINDINGS),  # (usage null is a warning since issue 23: the spec makes it nullable)
    ("conform", "an unreachable server",
     lambda t, s: ["conform", "--base-url", f"http://127.0.0.1:{_closed_port()}/v1"],
     EXIT_USAGE),
    ("conform", "a URL that is not one",
     lambda t, s: ["conform", "--base-url", "http://[::1"], EXIT_USAGE),
    # serve (its 0 and 130 need a signal: below)
    ("serve", "a missing recording", lambda t, s: ["serve", "--recording",
                                                   str(t / "nope.jsonl")], EXIT_USAGE),
    # demo
    ("demo", "a clean run", lambda t, s: ["demo", "--path-diagram", str(t / "p.mmd")], EXIT_OK),
    ("demo", "an unwritable diagram",
     lambda t, s: ["demo", "--path-diagram", str(t / "no" / "p.mmd")], EXIT_USAGE),
]

def test_the_table_has_the_four_codes() -> None:
    assert sorted(EXIT_CODES) == [0, 1, 2, 130]


def test_every_subcommand_has_a_case_for_every_code_it_can_give() -> None:
    covered = {(name, code) for name, _, _, code in CASES}
    assert {name for name, _ in covered} == set(COMMANDS)
    # every command that reads input or a server can end in 0 and 2
    assert all((name, EXIT_OK) in covered or name == "serve" for name in COMMANDS)
    assert all((name, EXIT_USAGE) in covered for name in COMMANDS)


@pytest.mark.parametrize("name, what, argv, code", [
    pytest.param(*case, id=f"{case[0]}-{case[1].replace(' ', '_')}") for case in CASES])
def test_exit_code(name: str, what: str, argv: Argv, code: int, server: Server,
                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv(tmp_path, server)) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and "bug in runflow" not in err
    if code == EXIT_USAGE:  # one sentence on stderr, never a raw errno
        errors = [line for line in err.splitlines() if ": error: " in line]
        assert len(errors) == 1 and "[Errno" not in err, err


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unknown_option_is_a_usage_error(name: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "--no-such-option"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "usage: runflow" in err and ": error: " in err


@pytest.mark.parametrize("name", COMMANDS)
def test_ctrl_c_in_any_subcommand_is_130(name: str, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """However far the command got, Ctrl-C ends it with 130 and no traceback."""
    from runflow.cli import load

    def interrupted(*args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(load(name), "run", interrupted)
    argv = {"check": [DEMO], "replay": [DEMO], "watch": [DEMO],
            "record": ["--base-url", "x", "--assistant", "a", "-o", "x.jsonl"],
            "conform": ["--base-url", "http://127.0.0.1:1/v1"]}.get(name, [])
    assert main([name, *argv]) == EXIT_INTERRUPTED
    assert "Traceback" not in capsys.readouterr().err


def _first_line(proc: subprocess.Popen[bytes], within: float = 120.0) -> bytes:
    """The first line the process prints (bounded: fails after ``within`` s)."""
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    data = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        end = time.monotonic() + within
        while b"\n" not in data and time.monotonic() < end and proc.poll() is None:
            if sel.select(timeout=0.5):
                data += proc.stdout.read() or b""
    assert b"\n" in data, f"no output (exit {proc.poll()})"
    return data.split(b"\n", 1)[0]


def _listening(port: int, proc: subprocess.Popen[bytes], within: float = 120.0) -> None:
    """Wait until ``port`` accepts (bounded: fails after ``within`` s)."""
    end = time.monotonic() + within
    while time.monotonic() < end and proc.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"port {port} never accepted (exit {proc.poll()})")


def _stop(argv: list[str], sig: signal.Signals, port: int | None = None) -> int:
    """Start ``runflow argv``, wait for its first line (or for ``port`` to accept),
    send ``sig``, return its exit."""
    proc = subprocess.Popen([*RUNFLOW, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        if port is None:
            _first_line(proc)
        else:
            _listening(port, proc)
        proc.send_signal(sig)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_watch_interrupted_is_130() -> None:
    assert _stop(["watch", DEMO, "--speed", "0.001"], signal.SIGINT) == EXIT_INTERRUPTED


def test_serve_stopped_is_0() -> None:
    port = _closed_port()
    assert _stop(["serve", "--port", str(port)], signal.SIGTERM, port) == EXIT_OK


def test_serve_interrupted_is_130() -> None:
    port = _closed_port()
    assert _stop(["serve", "--port", str(port)], signal.SIGINT, port) == EXIT_INTERRUPTED


def test_demo_with_a_violation_exits_1(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--cut-after", "5", "--path-diagram", str(tmp_path / "p.mmd")]) == 1
