"""``runflow check``, ``replay`` and ``watch`` of a WebSocket-mode transcript, recorded
from the local server with the real openai client (detected, or --protocol responses-ws)."""

from __future__ import annotations

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
