"""The WebSocket drive loop and ``runflow record --protocol responses-ws`` parse each
received frame once: they read it with the ConnectionFlow's own ``parse_frame`` and
hand the flow the event object (the flow reads a frame it cannot take from its text,
to report it). A frame nested past Python's stack is a malformed frame in the
recording, not a traceback. Real openai clients against the local server over
loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from pydantic_core import from_json
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from runflow.adapters.drive import drive_websocket
from runflow.cli import main
from runflow.cli import record_websocket as recorder_module
from runflow.protocols.responses.websocket import records
from runflow.server.app import Server
from runflow.server.responses_scenarios import ResponseRequest, script_response
from runflow.server.scenarios import ScenarioOptions
from runflow.server.websocket import HasOptions, WebSocketMode
from runflow.server.websocket_runner import WebSocketServer

DEEP = "[" * 100_000 + "]" * 100_000


class Counted:
    """Counts the calls of ``wrapped``."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped, self.calls = wrapped, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.wrapped(*args, **kwargs)


@pytest.fixture(scope="module")
def server() -> Iterator[WebSocketServer]:
    with WebSocketServer() as running:
        yield running


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Counted:
    """The JSON parses of frame text by the flow's parse_frame."""
    counted = Counted(from_json)  # the one records imported: pydantic_core's
    monkeypatch.setattr(records, "from_json", counted)
    return counted


def test_the_drive_loop_parses_each_frame_once(server: WebSocketServer,
                                               parses: Counted) -> None:
    answers = {"get_weather": "18C", "get_time": "14:05"}

    def get_weather(city: str) -> str:
        """Weather."""
        return answers["get_weather"]

    def get_time(timezone: str) -> str:
        """Time."""
        return answers["get_time"]

    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        result = drive_websocket(lambda: client.responses.connect(), model="gpt-4o",
                                 input="Weather?", idle_timeout=10,
                                 metadata={"scenario": "parallel_functions"},
                                 tools={"get_weather": get_weather, "get_time": get_time})
    assert result.response.status == "completed" and len(result.turns) == 2
    frames = [f for socket in result.frames for f in socket]
    received = sum(1 for f in frames if f.type == "receive")
    assert received > 20
    assert parses.calls == len(frames)  # each sent and each received frame once
    assert not [v for c in result.connections for v in c.violations]


def test_record_parses_each_frame_once(server: WebSocketServer, parses: Counted,
                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    loads = Counted(json.loads)
    monkeypatch.setattr(recorder_module, "json", SimpleNamespace(dumps=json.dumps,
                                                                 loads=loads))
    out = tmp_path / "session.jsonl"
    assert main(["record", "--protocol", "responses-ws", "--base-url", server.base_url,
                 "--api-key", "test", "--model",
                 "gpt-4o", "--input", "hi", "-o", str(out), "--metadata",
                 "scenario=parallel_functions", "--tool-output", "lookup=42"]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert sum(1 for line in lines if json.loads(line)["type"] == "send") == 2
    assert parses.calls == len(lines) > 20
    assert loads.calls == 0
    assert capsys.readouterr().err.strip().endswith("completed; 0 violation(s)")


class Scripted(WebSocketMode):
    """Answers each create with the texts of ``frames`` as they are."""

    def __init__(self, frames: list[str]) -> None:
        super().__init__()
        self.frames = frames

    def routes(self, backend: HasOptions) -> list[BaseRoute]:
        return [WebSocketRoute("/v1/responses", self.endpoint)]

    async def endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.receive_text()
                for text in self.frames:
                    await websocket.send_text(text)
        except WebSocketDisconnect:
            pass


def test_record_takes_a_frame_nested_past_the_stack_as_a_malformed_frame(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = ResponseRequest({"model": "gpt-4o", "input": "hi"},
                              ScenarioOptions(text="fine", chunk_size=0))
    events = [json.dumps(e) for e in script_response("text", request)]
    server = Server()
    server.backend.websocket = Scripted([events[0], DEEP, *events[1:]])
    out = tmp_path / "session.jsonl"
    with server:
        code = main(["record", "--protocol", "responses-ws", "--base-url", server.base_url,
                     "--api-key", "test",
                     "--model", "gpt-4o", "--input", "hi", "-o", str(out),
                     "--idle-timeout", "10"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "bug in runflow" not in err, err
    assert code == 1, err
    summary = err.splitlines()
    assert summary[0].startswith(f"recorded {len(events) + 2} frames (1 sent, "
                                 f"{len(events) + 1} received)")
    assert summary[0].endswith("completed; 1 violation(s)"), summary
    assert summary[1].strip().startswith("#2 receive error malformed_frame: a frame that "
                                         "is not JSON (nested deeper than 200 levels")
    recorded = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert recorded[2]["data"] == DEEP
