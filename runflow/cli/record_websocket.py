"""``runflow record --protocol responses-ws``: record a live WebSocket-mode session.

It opens ``/v1/responses`` as a WebSocket with the real openai client
(``client.responses.connect()``; an ``http(s)://`` base URL becomes ``ws(s)://``, a
``ws(s)://`` one is used as it is), sends one ``response.create`` (``--model``,
``--input``, ``--metadata``; ``--tool-output NAME=TEXT`` offers NAME as a function
tool) and records every frame both ways, as it goes, in the JSONL transcript form
that ``runflow check`` reads (one ``{"type": "send"|"receive", "time", "opcode",
"data"}`` per line, flushed per frame, so a cut socket keeps what arrived). The same
frames feed a :class:`~runflow.protocols.responses.websocket.ConnectionFlow`, whose
verdict is summed up on stderr.

A response that asks for function calls answered by ``--tool-output`` is continued
on the same socket -- that is what WebSocket mode is for: ``previous_response_id``
and only the ``function_call_output`` items -- until a response asks for none (or
for one no answer names: a note says which). A create the server refuses (an
``error`` frame before its ``response.created``) is recorded, then reported as one
sentence (exit 2), like an HTTP refusal.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from runflow.cli import EXIT_OK, EXIT_VIOLATIONS, CommandError
from runflow.cli.output import Output
from runflow.cli.tool_answers import function_tools, outputs_for

if TYPE_CHECKING:
    from runflow.protocols.responses.websocket import ConnectionFlow

__all__ = ["check_websocket_args", "record_websocket"]

TERMINAL = ("response.completed", "response.incomplete", "response.failed")
SUFFIXES = (".jsonl", ".ndjson")


def check_websocket_args(args: argparse.Namespace) -> None:
    """What a WebSocket recording needs (one sentence each, exit 2)."""
    if not args.model or args.input is None:
        raise CommandError("a WebSocket recording needs --model M and --input TEXT")
    if args.previous_response_id:
        raise CommandError("--previous-response-id cannot go with a WebSocket recording: "
                           "its tool loop runs on one socket (give --tool-output NAME=TEXT)")
    target = args.output
    if target != "-" and not target.lower().endswith(SUFFIXES):
        raise CommandError(f"-o {target}: a WebSocket transcript is JSONL: it must end in "
                           ".jsonl ('-' writes it to stdout)")


def _client(args: argparse.Namespace) -> Any:
    import openai

    api_key = args.api_key or os.environ.get("OPENAI_API_KEY") or "none"
    url: str = args.base_url
    if url.startswith(("ws://", "wss://")):
        http = "http" + url[2:]
        return openai.OpenAI(base_url=http, websocket_base_url=url, api_key=api_key,
                             max_retries=0)
    return openai.OpenAI(base_url=url, api_key=api_key, max_retries=0)


def _reason(exc: BaseException) -> str:
    said = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(said.split()) or type(exc).__name__


class _Recorder:
    """Writes each frame as a JSONL line (flushed) and feeds it to the flow."""

    def __init__(self, target: IO[bytes], flow: ConnectionFlow, idle: float) -> None:
        from runflow.protocols.responses.websocket.records import parse_frame

        self.target, self.flow, self.idle = target, flow, idle
        self.parse = parse_frame
        """The flow's own reading of a frame: each is parsed once, here."""
        self.sent = self.received = 0
        self.last = time.monotonic()
        """When the last frame came (or the socket opened): what the watchdog reads."""
        self.timed_out = False
        """The socket was closed because no frame came for ``idle`` seconds."""

    def watch(self, conn: Any, done: threading.Event) -> threading.Thread:
        """One watchdog for the session: it closes ``conn`` (so a blocked
        ``recv_bytes`` raises) once no frame has come for ``idle`` seconds."""
        def run() -> None:
            while not done.wait(min(self.idle, 1.0) / 4):
                if time.monotonic() - self.last > self.idle:
                    self.timed_out = True
                    conn.close()
                    return

        dog = threading.Thread(target=run, name="runflow-record-watchdog", daemon=True)
        dog.start()
        return dog

    def _write(self, kind: str, text: str) -> None:
        line = {"type": kind, "time": time.time(), "opcode": 1, "data": text}
        self.target.write(json.dumps(line).encode("utf-8") + b"\n")
        self.target.flush()

    def send(self, conn: Any, event: dict[str, Any]) -> None:
        text = json.dumps(event)
        self._write("send", text)  # written first: a refused send is still a sent frame
        self.sent += 1
        self.flow.send(text)
        conn.send_raw(text)

    def receive(self, conn: Any) -> dict[str, Any]:
        """The next server event as JSON (after it is recorded and fed to the flow,
        which reports a frame that is not an event object; here it is ``{}``)."""
        raw = conn.recv_bytes()
        self.last = time.monotonic()
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        self._write("receive", text)
        self.received += 1
        event = self.parse(text)  # parsed once: the flow takes the event object
        if type(event) is dict:
            self.flow.receive(event)
            return event
        self.flow.receive(text)  # which reports what is wrong with it
        try:  # what the loop may still read in it (NaN, 1e999, a type not a string)
            event = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
            return {}
        return event if isinstance(event, dict) else {}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _turn(recorder: _Recorder, conn: Any, body: dict[str, Any],
          ) -> tuple[dict[str, Any], str | None]:
    """Send one create and read to its terminal event: ``(the final response, None)``,
    or ``({}, the refusal)`` for an ``error`` frame before ``response.created``. The
    server's frames may hold anything: what is not the expected shape reads as empty
    (the flow has reported it)."""
    recorder.send(conn, body)
    started = False
    while True:
        event = recorder.receive(conn)
        kind = event.get("type")
        if kind == "response.created":
            started = True
        elif kind == "error" and not started:
            message = _object(event.get("error")).get("message") or "an error event"
            return {}, " ".join(str(message).split())
        elif kind in TERMINAL:
            return _object(event.get("response")), None


@dataclass(frozen=True)
class _Call:
    """A ``function_call`` output item, as :func:`outputs_for` reads it."""

    name: str
    call_id: str


def _calls(response: dict[str, Any]) -> list[_Call]:
    output = response.get("output")
    return [_Call(item["name"], item["call_id"])
            for item in (output if isinstance(output, list) else [])
            if isinstance(item, dict) and item.get("type") == "function_call"
            and isinstance(item.get("name"), str) and isinstance(item.get("call_id"), str)]


def _loop(recorder: _Recorder, conn: Any, args: argparse.Namespace,
          notes: list[str]) -> str | None:
    """The turns of the tool loop; returns the refusal that ended it, if one did."""
    answers: dict[str, str] = dict(args.tool_output)
    body: dict[str, Any] = {"type": "response.create", "model": args.model,
                            "input": args.input}
    if answers:
        body["tools"] = function_tools(answers, "runflow record")
    if args.metadata:
        body["metadata"] = dict(args.metadata)
    while True:
        final, refused = _turn(recorder, conn, body)
        if refused is not None:
            return refused
        calls = _calls(final)
        rid = final.get("id")
        if not calls or not isinstance(rid, str):
            return None
        items, missing = outputs_for(calls, answers)
        if missing:
            notes.append(f"response {rid} asks for {', '.join(missing)}: give "
                         "--tool-output NAME=TEXT for each to record the continuation")
            return None
        body = {"type": "response.create", "model": args.model, "input": items,
                "previous_response_id": rid}
        if answers:
            body["tools"] = function_tools(answers, "runflow record")


def record_websocket(args: argparse.Namespace, out: Output, target: IO[bytes]) -> int:
    """Record the session into ``target``; the exit code (see the module docstring)."""
    from runflow.protocols.responses.websocket import ConnectionFlow

    try:
        from websockets.exceptions import InvalidStatus, WebSocketException
    except ImportError:
        raise CommandError("a WebSocket recording needs the websockets package, which the "
                           "server extra brings: pip install 'runflow-sse[server]'") from None
    client = _client(args)
    flow = ConnectionFlow()
    recorder = _Recorder(target, flow, args.idle_timeout)
    notes: list[str] = []
    try:
        manager = client.responses.connect(max_retries=0)
        try:
            conn = manager.enter()
        except InvalidStatus as exc:
            raise CommandError(f"{args.base_url} refused the WebSocket: HTTP "
                               f"{exc.response.status_code}") from None
        except (OSError, WebSocketException) as exc:
            raise CommandError(f"cannot reach {args.base_url}: {_reason(exc)}") from None
        done = threading.Event()
        recorder.last = time.monotonic()
        dog = recorder.watch(conn, done)
        try:
            refused = _loop(recorder, conn, args, notes)
        except (OSError, WebSocketException) as exc:
            refused = None
            notes.append(f"no frame for {args.idle_timeout:g} s (--idle-timeout): closed"
                         if recorder.timed_out else f"the connection was cut: {_reason(exc)}")
        finally:
            done.set()
            dog.join()
            manager.__exit__(None, None, None)
    finally:
        client.close()
    flow.close()
    _summary(flow, recorder, args.output, notes, out)
    if refused is not None:
        where = "stdout" if args.output == "-" else args.output
        raise CommandError(f"the server refused the create: {refused} (what was received "
                           f"is in {where})")
    return EXIT_VIOLATIONS if flow.errors_only else EXIT_OK


def _summary(flow: ConnectionFlow, recorder: _Recorder, target: str, notes: list[str],
             out: Output) -> None:
    from runflow.protocols.responses.websocket.transcript import ending

    where = "stdout" if target == "-" else target
    statuses = ", ".join(f"{rid} {record.flow.status}" for rid, record in
                         flow.responses.items()) or "no response seen"
    line = (f"recorded {flow.index} frames ({recorder.sent} sent, {recorder.received} "
            f"received) to {where}; ended {ending(flow)}; {statuses}; "
            f"{len(flow.violations)} violation(s)")
    out.err.write(out.style(line, "red" if flow.errors_only else "green") + "\n")
    for v in flow.violations:
        out.err.write(out.style(f"  {v}", "red" if v.severity == "error" else "yellow")
                      + "\n")
    for note in notes:
        out.err.write(f"  {note}\n")
    out.err.flush()
