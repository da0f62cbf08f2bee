"""``runflow check``, ``replay`` and ``watch`` of a WebSocket-mode transcript, recorded
from the local server with the real openai client (detected, or --protocol responses-ws)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from runflow.cli import main
from runflow.protocols.responses.websocket.transcript import Frame, dump_har, dump_jsonl
from runflow.server.websocket_runner import WebSocketServer

pytest.importorskip("websockets")

WS = ["--protocol", "responses-ws"]


@pytest.fixture
def server() -> Iterator[WebSocketServer]:
    with WebSocketServer() as running:
        yield running


def _create(stream_id: str, **fields: Any) -> Any:
    return {"type": "response.create", "model": "gpt-4o", "input": "hi", "stream_id": stream_id,
            **fields}


def _record(server: WebSocketServer) -> list[Frame]:
    """Two lanes, each to its terminal event (or until a fault cuts the socket)."""
    client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    long_text = " ".join(f"word{i}" for i in range(200))
    with client.responses.connect() as conn:
        try:
            conn.send(_create("a", metadata={"text": long_text}))
            conn.send(_create("b"))
            seen = 0
            while seen < 2:
                if conn.recv().type in ("response.completed", "response.incomplete"):
                    seen += 1
        except Exception:  # a cut socket, or events the fault made unreadable
            pass
    return server.mode.transcripts[0]


@pytest.fixture
def clean(server: WebSocketServer, tmp_path: Path) -> Path:
    path = tmp_path / "clean.jsonl"
    path.write_text(dump_jsonl(_record(server)))
    return path


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("chosen", [[], WS])
def test_check_a_clean_transcript_is_ok(clean: Path, chosen: list[str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(clean), *chosen]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{clean}: ok (responses-ws, 1 connection(s))")
    assert "2 lane(s), 2 response(s), 0 steer(s), closed" in text
    assert main(["check", "--json", str(clean), *chosen]) == 0
    [report] = _json_lines(capsys.readouterr().out)
    assert report["ok"] is True and report["protocol"] == "responses-ws"
    assert report["violations"] == []
    conns = report["connections"]
    assert isinstance(conns, list)
    [conn] = conns
    assert (conn["lanes"], conn["state"]) == ({"a": "detached", "b": "detached"}, "closed")
    assert sorted(conn["responses"].values()) == ["completed", "completed"]


def test_check_a_har_transcript_is_detected(server: WebSocketServer, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "session.har"
    path.write_text(dump_har([_record(server)]))
    assert main(["check", "--json", str(path)]) == 0
    [report] = _json_lines(capsys.readouterr().out)
    assert (report["protocol"], report["ok"]) == ("responses-ws", True)


@pytest.mark.parametrize("chosen", [[], WS])
def test_check_a_faulted_transcript_names_the_code_and_frame(
        server: WebSocketServer, tmp_path: Path, chosen: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    server.mode.inject("drop", at=6)
    frames = _record(server)
    [(_, at)] = server.mode.faulted
    path = tmp_path / "dropped.jsonl"
    path.write_text(dump_jsonl(frames))
    assert main(["check", "--json", str(path), *chosen]) == 1
    [report] = _json_lines(capsys.readouterr().out)
    assert report["ok"] is False
    violations = report["violations"]
    assert isinstance(violations, list)
    first = violations[0]
    assert (first["code"], first["index"], first["direction"], first["connection"]) == (
        "sequence_gap", at, "receive", 0)
    assert main(["check", str(path), *chosen]) == 1
    assert f"#{at} receive error sequence_gap" in capsys.readouterr().out


def test_check_garbage_chosen_as_a_transcript_is_unusable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_text("this is not a transcript\n")
    assert main(["check", str(path), *WS]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{path}:1: frame 0: not JSON" in err
    assert main(["check", "--json", str(path), *WS]) == 2
    [report] = _json_lines(capsys.readouterr().out)
    assert report["ok"] is False and "not JSON" in str(report["error"])


def test_check_garbage_without_a_protocol_is_unusable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_text("this is not a transcript\n")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err


def test_a_transcript_with_a_bad_frame_is_unusable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Detected from its first line, so the second line's defect is named."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"type": "send", "data": "{}"}\n{"type": "sideways", "data": ""}\n')
    assert main(["check", str(path)]) == 2
    assert "bad.jsonl:2: frame 1: type must be 'send' or 'receive'" in capsys.readouterr().err


@pytest.mark.parametrize("chosen", [[], WS])
def test_replay_a_clean_transcript(clean: Path, chosen: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(clean), *chosen]) == 0
    text = capsys.readouterr().out
    assert "#0 send response.create" in text and "lane a: - -> " in text
    assert "response.completed" in text and "-> completed" in text
    assert "response " in text and "on lane b: completed" in text
    assert main(["replay", "--json", str(clean), *chosen]) == 0
    [conn] = json.loads(capsys.readouterr().out)["connections"]
    assert [(r["lane"], r["status"]) for r in conn["responses"]] == [
        ("a", "completed"), ("b", "completed")]
    assert conn["responses"][0]["response"]["output"][0]["type"] == "message"


def test_watch_a_clean_transcript_prints_a_line_per_change(
        clean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", str(clean), "--speed", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("watching responses-ws")
    assert lines[-1] == "0 violation(s); ok"
    frames = [line for line in lines[1:-1] if line.strip().startswith("#")]
    # a line for a frame that changed something, never for a bare text delta
    assert frames and not any("output_text.delta" in line for line in frames)
    assert any("close" in line and "connection: open -> closed" in line for line in frames)


def test_watch_a_faulted_transcript_shows_the_violation(
        server: WebSocketServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.mode.inject("duplicate", at=6)
    path = tmp_path / "dup.jsonl"
    path.write_text(dump_jsonl(_record(server)))
    assert main(["watch", str(path), "--speed", "0"]) == 1
    text = capsys.readouterr().out
    assert "sequence_replay" in text and text.rstrip().endswith("NOT OK")


def test_a_profile_does_not_judge_a_transcript(clean: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(clean), "--profile", "azure"]) == 2
    assert "--profile judges SSE streams, not a WebSocket transcript" in capsys.readouterr().err


# --------------------------------------------------------------------------- #
# runflow record --protocol responses-ws: a live session over a real WebSocket
# --------------------------------------------------------------------------- #
def _ws_record(server: WebSocketServer, out: Path | str, *extra: str,
               base_url: str | None = None) -> int:
    return main(["record", "--base-url", base_url or server.base_url, "--api-key", "test",
                 "--model", "gpt-4o", "--input", "hi", "-o", str(out), *extra])


def _frames(path: Path) -> list[dict[str, Any]]:
    return _json_lines(path.read_text(encoding="utf-8"))


def test_record_a_tool_loop_over_one_socket_and_check_it(
        server: WebSocketServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "session.jsonl"
    assert _ws_record(server, out, *WS, "--metadata", "scenario=parallel_functions",
                      "--tool-output", "lookup=42") == 0
    summary = capsys.readouterr().err.strip()
    frames = _frames(out)
    sent = [json.loads(f["data"]) for f in frames if f["type"] == "send"]
    received = [json.loads(f["data"]) for f in frames if f["type"] == "receive"]
    assert summary.startswith(f"recorded {len(frames)} frames (2 sent, {len(received)} "
                              f"received) to {out}; ended closed; resp_")
    assert summary.endswith("completed; 0 violation(s)") and summary.count("completed") == 2
    # the second turn continues on the same socket with only the outputs
    first = next(e for e in received if e["type"] == "response.completed")["response"]
    calls = [item["call_id"] for item in first["output"]]
    assert [e["type"] for e in sent] == ["response.create", "response.create"]
    assert sent[1]["previous_response_id"] == first["id"]
    assert [(i["type"], i["call_id"], i["output"]) for i in sent[1]["input"]] == [
        ("function_call_output", c, "42") for c in calls]
    final = [e for e in received if e["type"] == "response.completed"][-1]["response"]
    assert final["output"][0]["content"][0]["text"] == (
        "Here is what I found. lookup: 42. lookup: 42.")
    # what was written is what the server saw, frame for frame
    assert [(f["type"], f["data"]) for f in frames] == [
        (f.type, f.data) for f in server.mode.transcripts[0]]
    assert main(["check", "--json", str(out)]) == 0
    [report] = _json_lines(capsys.readouterr().out)
    assert (report["ok"], report["protocol"], report["violations"]) == (
        True, "responses-ws", [])


def test_record_detects_a_ws_base_url_and_writes_stdout(
        server: WebSocketServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert _ws_record(server, "-", base_url=server.base_url.replace("http://", "ws://")) == 0
    captured = capsys.readouterr()
    frames = _json_lines(captured.out)
    assert frames[0]["type"] == "send" and frames[-1]["type"] == "receive"
    assert json.loads(frames[-1]["data"])["type"] == "response.completed"
    assert "to stdout; ended closed" in captured.err


def test_record_a_cut_socket_keeps_what_arrived(
        server: WebSocketServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.mode.inject("cut", at=5)
    out = tmp_path / "cut.jsonl"
    assert _ws_record(server, out, *WS) == 1
    err = capsys.readouterr().err
    assert "ended truncated" in err and "the connection was cut" in err
    assert "Traceback" not in err
    assert len(_frames(out)) == 5
    assert main(["check", str(out)]) == 1
    assert "#5 close error truncated" in capsys.readouterr().out


def test_record_a_refused_create_is_one_sentence_and_exit_2(
        server: WebSocketServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "refused.jsonl"
    assert _ws_record(server, out, *WS, "--metadata", "scenario=parallel_functions") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("runflow: error: the server refused the create: The "
                              "parallel_functions scenario needs")
    assert err[-1].endswith(f"(what was received is in {out})")
    assert [f["type"] for f in _frames(out)] == ["send", "receive"]


def test_record_an_unreachable_server_is_one_sentence_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    assert main(["record", *WS, "--base-url", url, "--model", "m", "--input", "hi",
                 "-o", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err == f"runflow: error: cannot reach {url}: Connection refused\n"


@pytest.mark.parametrize("extra,says", [
    (["--previous-response-id", "resp_1"], "--previous-response-id cannot go with a "
                                           "WebSocket recording"),
    (["-o", "x.sse"], "a WebSocket transcript is JSONL"),
    (["--assistant", "asst_text"], "--assistant cannot go with a recording of the "
                                   "Responses WebSocket API"),
])
def test_record_websocket_usage_errors_are_one_line(
        server: WebSocketServer, tmp_path: Path, extra: list[str], says: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    args = ["record", *WS, "--base-url", server.base_url, "--model", "m", "--input", "hi",
            "-o", str(tmp_path / "x.jsonl"), *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err
    assert server.mode.transcripts == []


HOSTILE = ["not json", "[1, 2]", '{"type": "response.created", "response": 5}',
           json.dumps({"type": "response.completed", "response": {
               "id": "resp_h", "output": [7, {"type": "function_call", "name": "other",
                                              "call_id": "call_1", "arguments": "{}"}]}})]


def test_record_hostile_frames_are_violations_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A server (a bare websockets one, on loopback) that answers the create with
    garbage and then asks for a tool nobody answers: every frame is recorded, the
    flow reports them, the recorder stops with a note and exit 1."""
    import threading

    from websockets.sync.server import ServerConnection, serve

    def answer(ws: ServerConnection) -> None:
        ws.recv()
        for text in HOSTILE:
            ws.send(text)
        with contextlib.suppress(Exception):
            ws.recv(timeout=5)

    with serve(answer, "127.0.0.1", 0) as hostile:
        port = hostile.socket.getsockname()[1]
        threading.Thread(target=hostile.serve_forever, daemon=True).start()
        out = tmp_path / "hostile.jsonl"
        code = main(["record", *WS, "--base-url", f"http://127.0.0.1:{port}/v1",
                     "--model", "m", "--input", "hi", "--tool-output", "lookup=1",
                     "-o", str(out)])
        hostile.shutdown()
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert [f["data"] for f in _frames(out)][1:] == HOSTILE
    assert "#1 receive error malformed_frame" in err
    assert "response resp_h asks for other: give --tool-output NAME=TEXT" in err


def test_record_a_silent_server_ends_at_the_idle_timeout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A server that takes the create and then sends nothing: ``--idle-timeout``
    closes the socket, the create is kept in the transcript, and the summary says why."""
    import threading

    from websockets.sync.server import ServerConnection, serve

    stop = threading.Event()

    def silent(ws: ServerConnection) -> None:
        ws.recv()
        stop.wait(30)

    with serve(silent, "127.0.0.1", 0) as quiet:
        port = quiet.socket.getsockname()[1]
        threading.Thread(target=quiet.serve_forever, daemon=True).start()
        out = tmp_path / "silent.jsonl"
        code = main(["record", *WS, "--base-url", f"http://127.0.0.1:{port}/v1",
                     "--model", "m", "--input", "hi", "--idle-timeout", "0.5",
                     "-o", str(out)])
        stop.set()
        quiet.shutdown()
    err = capsys.readouterr().err
    assert "no frame for 0.5 s (--idle-timeout): closed" in err and "Traceback" not in err
    assert [f["type"] for f in _frames(out)] == ["send"]
    assert code == 1  # the create was never answered
    assert "create_unanswered" in err


@pytest.mark.parametrize("bad", ["0", "-1", "inf", "soon"])
def test_record_idle_timeout_must_be_positive(bad: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", *WS, "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                 "--input", "hi", "--idle-timeout", bad, "-o", str(tmp_path / "x")]) == 2
    assert "expected a positive number of seconds" in capsys.readouterr().err
