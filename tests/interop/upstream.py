"""A scripted Chat Completions upstream for the gateways under test.

The gateways of the interop suite turn a Responses request into a Chat Completions
request and stream the answer back as Responses events. This upstream plays the
model: the scenario is the first word of the last user message (``text``, ``tool``,
``reasoning``, ``length``, ``error``), and the answer is always the same, so each
gateway's translation can be compared with what the model said. It runs in a
thread on 127.0.0.1 on a free port, with no network beyond the loopback.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["SCENARIO_TEXT", "Upstream"]

SCENARIO_TEXT = {
    "text": "Hello, world!",
    "tool": "",
    "reasoning": "The answer is 4.",
    "length": "This answer is cut",
}
"""The text each scenario's answer carries (the tool call carries none)."""

TOOL_ARGUMENTS = '{"city": "Paris"}'
REASONING = "Two plus two is four."


def _last_user_text(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content)
    return ""


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None,
           usage: dict[str, int] | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-interop", "object": "chat.completion.chunk", "created": int(time.time()),
        "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _chunks(scenario: str, model: str) -> Iterator[dict[str, Any]]:
    usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    yield _chunk(model, {"role": "assistant", "content": ""})
    if scenario == "tool":
        call = {"index": 0, "id": "call_interop1", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}
        yield _chunk(model, {"tool_calls": [call]})
        for piece in (TOOL_ARGUMENTS[:8], TOOL_ARGUMENTS[8:]):
            yield _chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        yield _chunk(model, {}, "tool_calls", usage)
        return
    if scenario == "reasoning":
        for piece in (REASONING[:9], REASONING[9:]):
            yield _chunk(model, {"reasoning_content": piece})
    text = SCENARIO_TEXT.get(scenario, SCENARIO_TEXT["text"])
    for piece in (text[:5], text[5:]):
        yield _chunk(model, {"content": piece})
    yield _chunk(model, {}, "length" if scenario == "length" else "stop", usage)


def _completion(scenario: str, model: str) -> dict[str, Any]:
    """The same answer as one non-streamed chat.completion."""
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "stop"
    for chunk in _chunks(scenario, model):
        choice = chunk["choices"][0]
        delta = choice["delta"]
        if delta.get("content"):
            message["content"] = (message["content"] or "") + delta["content"]
        if delta.get("reasoning_content"):
            reasoning = message.get("reasoning_content", "")
            message["reasoning_content"] = reasoning + delta["reasoning_content"]
        for call in delta.get("tool_calls", []):
            calls = message.setdefault("tool_calls", [])
            if "id" in call:
                calls.append({"id": call["id"], "type": "function",
                              "function": {"name": call["function"]["name"], "arguments": ""}})
            calls[call["index"]]["function"]["arguments"] += call["function"].get("arguments", "")
        finish = choice["finish_reason"] or finish
    return {"id": "chatcmpl-interop", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [
                {"id": "interop-model", "object": "model", "created": 0, "owned_by": "interop"}]})
            return
        # A Chat Completions provider has no /responses: what a gateway that proxies
        # unknown routes upstream gets back.
        self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found",
                                   "param": None, "code": None}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        self.server.requests.append(body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found",
                                   "param": None, "code": None}})
            return
        scenario = (_last_user_text(body).split() or ["text"])[0]
        model = str(body.get("model", "interop-model"))
        if scenario == "error":
            self._json(500, {"error": {"message": "the scripted upstream failed",
                                       "type": "server_error", "param": None,
                                       "code": "server_error"}})
            return
        if not body.get("stream"):
            self._json(200, _completion(scenario, model))
            return
        payload = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n"
                           for c in _chunks(scenario, model)) + b"data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status: int, value: Any) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[Any]


class Upstream:
    """The scripted upstream, serving from a thread until :meth:`close`."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.requests = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[Any]:
        """The request bodies received, in order."""
        return self._server.requests

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
