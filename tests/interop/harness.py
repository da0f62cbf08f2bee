"""Drive a server with the real openai client, keep the raw stream, grade it.

:func:`capture` sends ``client.responses.create(stream=True)`` and keeps the bytes
exactly as they came off the wire (read through the SDK's own stream, as
:func:`runflow.adapters.sdk.consume` does). :func:`grade` is ``runflow check`` as a
library: the recording replayed into a :class:`~runflow.ResponseFlow`, then the
grammar, payload and order layers grouped by root cause
(:func:`runflow.conform.recorded.grade_replay`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import openai

from runflow.adapters.recording import Recording
from runflow.adapters.sdk import TRANSPORT_ERRORS
from runflow.conform.recorded import grade_replay

__all__ = ["Capture", "Graded", "capture", "grade"]


@dataclass(frozen=True)
class Capture:
    """What one request gave: the raw SSE body, or the HTTP error before it."""

    scenario: str
    data: bytes = b""
    http_status: int = 200
    error_body: str = ""


@dataclass(frozen=True)
class Graded:
    """One capture as ``runflow check`` judges it."""

    findings: tuple[tuple[str, str, int | None], ...]
    """Every finding (root causes and their consequences): ``(rule, severity, index)``."""
    status: str
    """The response's state when the stream ended."""
    text: str
    arguments: tuple[str, ...]
    ok: bool
    """What ``runflow check`` exits with: True is exit 0 (no error finding)."""
    flow: Any = field(repr=False, compare=False)

    @property
    def rules(self) -> dict[str, str]:
        """Each rule that fired, with its severity (the worst when it fired twice)."""
        out: dict[str, str] = {}
        for rule, severity, _ in self.findings:
            out[rule] = "error" if "error" in (severity, out.get(rule)) else severity
        return out


def capture(client: openai.OpenAI, scenario: str, **request: Any) -> Capture:
    """One streamed ``responses.create`` whose input begins with ``scenario``."""
    request.setdefault("model", "interop-model")
    request.setdefault("input", [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": f"{scenario} please"}]}])
    try:
        stream = client.responses.create(stream=True, **request)
    except openai.APIStatusError as exc:
        return Capture(scenario, http_status=exc.status_code, error_body=exc.response.text)
    chunks: list[bytes] = []
    try:
        for chunk in stream.response.iter_bytes():
            chunks.append(chunk)
    except TRANSPORT_ERRORS:
        pass  # what arrived is kept; the flow reports the truncation
    finally:
        stream.close()
    return Capture(scenario, data=b"".join(chunks))


def grade(data: bytes, name: str = "interop.sse") -> Graded:
    """``runflow check --types`` on ``data`` (a raw SSE body): every layer, the types
    layer included."""
    replay = Recording(name=name, format="sse", data=data).replay(protocol="responses")
    groups = grade_replay(replay)
    every = [f for g in groups for f in (g.root, *g.consequences)]
    flow = replay.flow
    ok = all(f.severity != "error" for f in every) and all(
        v.severity != "error" for v in flow.violations)
    return Graded(
        findings=tuple((f.rule, f.severity, f.index) for f in every),
        status=flow.status, text=flow.text,
        arguments=tuple(call.arguments for call in flow.function_calls),
        ok=ok, flow=flow,
    )
