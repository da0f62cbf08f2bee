"""The official Node ``openai`` SDK in Responses WebSocket mode against the local server.

The pinned openai-node (tests/node/package.json) has no ``client.responses.connect()``
(nor has any published release yet); its WebSocket connection to ``/v1/responses`` is
``ResponsesWS`` (``openai/resources/responses/ws``, over the ``ws`` package, pinned
beside it), with ``ResponsesWebSocketSession`` routing events to lanes.
``tests/node/ws_responses.mjs`` runs, on one socket, a two-turn tool loop on lane a, a
text response on lane b and a steered response with its automatic successor on lane
c, and prints what the client got. Here that is checked, and so is the server's
transcript of the same socket, through ``ConnectionFlow``.

Needs ``node`` and ``npm ci --prefix tests/node``; without them it skips (marked
``needs_tools``: see tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import tool_missing
from test_server_clients import require_node

from runflow.protocols.responses.websocket.transcript import check_frames
from runflow.server.websocket_runner import WebSocketServer

pytestmark = pytest.mark.needs_tools

NODE_DIR = Path(__file__).resolve().parent / "node"
TOOLS = [{"type": "function", "name": "lookup",
          "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]
PLAN = {"tools": TOOLS, "answer": "42", "steer": "make it short"}


def _text(response: dict[str, Any]) -> str:
    return "".join(part["text"] for item in response["output"] if item["type"] == "message"
                   for part in item["content"] if part["type"] == "output_text")


def test_node_responses_ws_runs_lanes_a_tool_loop_and_a_steer() -> None:
    require_node()
    if not (NODE_DIR / "node_modules" / "ws" / "package.json").is_file():
        tool_missing("tests/node/node_modules/ws is missing (run: npm ci --prefix tests/node)")
    with WebSocketServer() as server:
        done = subprocess.run(["node", str(NODE_DIR / "ws_responses.mjs"), server.base_url,
                               json.dumps(PLAN)], capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        [frames] = server.mode.transcripts
    assert result["error"] is None
    lanes = result["lanes"]
    # lane a: the tool loop, its second turn continuing the first on the same socket
    calls, answer = lanes["a"]
    assert (calls["status"], answer["status"]) == ("completed", "completed")
    assert [item["type"] for item in calls["output"]] == ["function_call", "function_call"]
    assert answer["previous_response_id"] == calls["id"]
    assert answer["output_text"] == "Here is what I found. lookup: 42. lookup: 42."
    # lane b, concurrently
    [text] = lanes["b"]
    assert text["status"] == "completed" and text["output_text"]
    # lane c: steered, then its automatic successor with the steered input
    stopped, successor = lanes["c"]
    assert (stopped["status"], stopped["incomplete_details"]["reason"]) == (
        "incomplete", "steered")
    assert successor["status"] == "completed"
    assert successor["previous_response_id"] == stopped["id"]
    assert _text(successor).endswith("(steered: make it short)")
    assert [e["type"] for e in result["steers"]] == ["response.steer.accepted"]
    # the server's transcript of that socket passes ConnectionFlow with no violation
    flow = check_frames(frames)
    assert flow.violations == []
    assert flow.state == "closed"
    assert {lane: record.responses for lane, record in flow.lanes.items()} == {
        "a": [calls["id"], answer["id"]], "b": [text["id"]],
        "c": [stopped["id"], successor["id"]]}
    assert all(flow.responses[r["id"]].flow.status == r["status"]
               for lane in lanes.values() for r in lane)
    [steer] = flow.steers
    assert (steer.state, steer.committed_by) == ("committed", successor["id"])
    sent = [json.loads(f.data) for f in frames if f.type == "send"]
    assert [(e["type"], e.get("stream_id")) for e in sent if e["type"] == "response.create"
            ] == [("response.create", lane) for lane in ("a", "b", "c", "a")]
    assert all("stream" not in e and "background" not in e for e in sent)
