"""``runflow record``: tee a live stream into a recording while validating it.

It starts a stream with the real openai client -- an Assistants run
(``--assistant``: ``runs.create(stream=True)`` on ``--thread``, else
``threads.create_and_run(stream=True)``) or a Responses API response (``--model``:
``responses.create(stream=True)``, see :mod:`runflow.cli.record_responses`) --,
reads the raw SSE bytes of the response as they arrive and, at the same time,

* writes them to the recording: as is for ``.sse`` (or ``-o -``, stdout); for
  ``.jsonl`` decoded into one ``{"event": name, "data": ...}`` per line, where
  ``data`` is the parsed JSON, ``"[DONE]"`` or null -- data that is not JSON (or is
  a bare JSON string) is kept as its raw text, so nothing received is lost;
* feeds them into a flow of the protocol (a :class:`~runflow.RunFlow` or a
  :class:`~runflow.ResponseFlow`, one ``begin_stream``/``close`` per stream), whose
  ending, status and violations are summed up on stderr.

A run that reaches ``requires_action`` stops after that stream, since the tools
are unknown, unless ``--tool-output NAME=TEXT`` answers every pending function call
by name: then the outputs are submitted (``submit_tool_outputs(stream=True)``) and
the continuation stream is recorded into the same file. A Responses recording
holds one response (one flow is one response): its continuation is recorded with
``--previous-response-id``. Every chunk is flushed as it is written, so a cut
connection (or Ctrl-C) keeps everything received.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeAlias

from runflow.adapters.sdk import TRANSPORT_ERRORS
from runflow.cli import EXIT_OK, EXIT_VIOLATIONS, CommandError
from runflow.cli.common import tool_output
from runflow.cli.output import Output
from runflow.engine.jsonparse import JSONError, dump_json, parse_json

if TYPE_CHECKING:
    import openai
    from openai.types.beta import AssistantStreamEvent
    from openai.types.beta.thread_create_and_run_params import Thread
    from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

    from runflow import RunFlow
    from runflow.engine.flow import Flow
    from runflow.engine.sse import RawEvent, SSEDecoder

    Stream: TypeAlias = openai.Stream[AssistantStreamEvent]


EPILOG = """\
The format comes from the extension of OUT: .jsonl (one {"event", "data"} per line)
or .sse (the raw text/event-stream body); '-o -' writes SSE to stdout. The summary
(events, ending, run status, violations) goes to stderr.

The protocol follows the options: --assistant records an Assistants run, --model a
Responses API response (or say --protocol).

A run that stops in requires_action ends the recording there, unless
--tool-output NAME=TEXT answers each pending function call NAME: the outputs are
submitted and the continuation stream is recorded into the same file.

A Responses recording holds one response. --tool-output NAME=TEXT offers NAME to
the model as a function tool; a response that asks for calls ends the recording,
and the summary says how to record its continuation: --previous-response-id ID
with --tool-output answering each call, into another file.

--protocol responses-ws (or a ws:// / wss:// --base-url) records a WebSocket-mode
session instead: one response.create of --model and --input over
client.responses.connect(), every frame both ways written to OUT.jsonl (the
transcript form `runflow check` reads; '-o -' writes it to stdout), and the tool
loop run on the same socket while --tool-output answers each call. A create the
server refuses is recorded, then reported (exit 2).

examples:
  runflow serve --port 8000 &
  runflow record --base-url http://127.0.0.1:8000/v1 --assistant asst_text -o run.jsonl
  runflow record --base-url http://127.0.0.1:8000/v1 --model gpt-4o --input hi -o r.sse
  runflow record --protocol responses-ws --base-url http://127.0.0.1:8000/v1 \
      --model gpt-4o --input hi --tool-output get_weather=sunny -o session.jsonl

exit codes: 0 recorded with no error-severity violation, 1 violations found (e.g. a cut
stream: truncated), 2 usage error or the server could not be reached / refused the request
"""

Format = Literal["jsonl", "sse"]

_FORMATS: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".sse": "sse"}


IDLE_TIMEOUT = 60.0
"""Seconds without a byte (SSE) or a frame (WebSocket) before ``record`` gives up."""
CONNECT_TIMEOUT = 10.0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    from runflow.cli.record_responses import configure_responses

    parser.epilog = EPILOG
    parser.add_argument("--base-url", required=True, metavar="URL",
                        help="the API's base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key", metavar="KEY",
                        help="API key (default: $OPENAI_API_KEY, else 'none')")
    parser.add_argument("--protocol", choices=("assistants", "responses", "responses-ws"),
                        help="the API to record (default: responses with --model, "
                             "responses-ws with a ws:// or wss:// --base-url, assistants "
                             "with --assistant)")
    runs = parser.add_argument_group("an Assistants run")
    runs.add_argument("--assistant", metavar="ID", help="the assistant to run")
    runs.add_argument("--thread", metavar="ID",
                      help="run on this thread (default: create one with create_and_run)")
    runs.add_argument("--message", metavar="TEXT",
                      help="a user message added to the thread before the run")
    configure_responses(parser.add_argument_group("a Responses API response"))
    parser.add_argument("--tool-output", action="append", default=[], type=tool_output,
                        metavar="NAME=TEXT",
                        help="answer function calls named NAME with TEXT: a run's "
                             "continuation is recorded too; a response is offered NAME "
                             "as a tool (repeatable)")
    parser.add_argument("--idle-timeout", type=_seconds, default=IDLE_TIMEOUT,
                        metavar="SECONDS",
                        help="give up when the server sends nothing for this long: no "
                             "byte of an SSE stream, no frame of a WebSocket (default: "
                             "%(default)s); what arrived is kept")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="OUT.jsonl or OUT.sse; '-' writes SSE to stdout (a WebSocket "
                             "session: the JSONL transcript)")


def run(args: argparse.Namespace, out: Output) -> int:
    from runflow.cli.record_responses import check_responses_args, start_response, stopped

    protocol = _protocol(args)
    if protocol == "responses-ws":
        from runflow.cli.record_websocket import check_websocket_args, record_websocket

        check_websocket_args(args)
        with _open_target(args.output, out) as target:
            return record_websocket(args, out, target)
    fmt = _output_format(args.output)
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - openai is a dependency
        raise CommandError(f"record needs the openai package ({exc.name} is missing)") from exc
    from runflow import ResponseFlow, RunFlow

    api_key = args.api_key or os.environ.get("OPENAI_API_KEY") or "none"
    client = openai.OpenAI(base_url=args.base_url, api_key=api_key, max_retries=0,
                           timeout=openai.Timeout(args.idle_timeout, connect=CONNECT_TIMEOUT))
    try:
        if protocol == "responses":
            check_responses_args(args)
            with api_errors(args.base_url, "creating the response"):
                stream = start_response(client, args)
            with _open_target(args.output, out) as target:
                flow, sink = ResponseFlow(), _Sink(fmt, target)
                _, cut = tee(stream, flow, sink)
                notes = [f"the connection was cut: {cut}"] if cut else []
                _summary(flow, sink, 1, args.output, [*notes, *stopped(flow, args)], out)
                return EXIT_OK if flow.ok else EXIT_VIOLATIONS
        stream = _start(client, args)
        with _open_target(args.output, out) as target:
            return _record(client, stream, RunFlow(), _Sink(fmt, target), args, out)
    finally:
        client.close()


def _protocol(args: argparse.Namespace) -> str:
    """``--protocol``, else the one the options name; options of the other one are a
    :class:`CommandError`."""
    runs = [f"--{n}" for n in ("assistant", "thread", "message") if getattr(args, n)]
    responses = [f"--{n.replace('_', '-')}" for n in ("model", "input", "metadata",
                                                     "previous_response_id")
                 if getattr(args, n)]
    websocket = args.base_url.startswith(("ws://", "wss://"))
    protocol: str | None = args.protocol or (
        "responses-ws" if websocket and not runs else
        "responses" if responses and not runs else "assistants" if runs else None)
    if protocol is None:
        raise CommandError("give --assistant ID (an Assistants run) or --model M with "
                           "--input TEXT (a Responses API response)")
    wrong = responses if protocol == "assistants" else runs
    protocol_name = "Responses WebSocket" if protocol == "responses-ws" else protocol
    if wrong:
        raise CommandError(f"{', '.join(wrong)} cannot go with a recording of the "
                           f"{protocol_name} API")
    if protocol == "assistants" and not args.assistant:
        raise CommandError("an Assistants recording needs --assistant ID")
    return protocol


# --------------------------------------------------------------------------- #
# the run
# --------------------------------------------------------------------------- #
def _start(client: openai.OpenAI, args: argparse.Namespace) -> Stream:
    """Start the streamed run; a refused connection or request is a CommandError."""
    import openai

    threads = client.beta.threads
    with api_errors(args.base_url, "starting the run"):
        if args.thread:
            if args.message is not None:
                threads.messages.create(args.thread, role="user", content=args.message)
            return threads.runs.create(thread_id=args.thread, assistant_id=args.assistant,
                                       stream=True)
        thread: Thread | openai.Omit = openai.omit
        if args.message is not None:
            thread = {"messages": [{"role": "user", "content": args.message}]}
        return threads.create_and_run(assistant_id=args.assistant, thread=thread, stream=True)


def _record(client: openai.OpenAI, stream: Stream, flow: RunFlow, sink: _Sink,
            args: argparse.Namespace, out: Output) -> int:
    answers: dict[str, str] = dict(args.tool_output)
    notes: list[str] = []
    streams = 1
    ending, cut = tee(stream, flow, sink)
    submitted: set[str] = set()
    failure: str | None = None
    while cut is None and ending == "done" and flow.run_status == "requires_action":
        calls = [c for c in flow.pending_tool_calls if c.id not in submitted]
        names = sorted({c.function.name for c in calls})
        missing = [n for n in names if n not in answers]
        if not calls:
            notes.append("stopped in requires_action: no new function call to answer")
            break
        if missing:
            notes.append(
                f"stopped in requires_action (the tools are unknown): {', '.join(missing)} "
                "not answered; give --tool-output NAME=TEXT to record the continuation")
            break
        submitted.update(c.id for c in calls)
        run = flow.run
        assert run is not None  # requires_action was seen on it
        outputs: list[ToolOutput] = [
            {"tool_call_id": c.id, "output": answers[c.function.name]} for c in calls]
        try:
            with api_errors(args.base_url, "submitting tool outputs"):
                stream = client.beta.threads.runs.submit_tool_outputs(
                    run_id=run.id, thread_id=run.thread_id, tool_outputs=outputs, stream=True)
        except CommandError as exc:
            failure = str(exc)
            break
        streams += 1
        ending, cut = tee(stream, flow, sink)
    if cut is not None:
        notes.append(f"the connection was cut: {cut}")
    _summary(flow, sink, streams, args.output, notes, out)
    if failure is not None:
        raise CommandError(f"{failure} (what was received is in {args.output})")
    return EXIT_OK if flow.ok else EXIT_VIOLATIONS


def tee(stream: Any, flow: Flow, sink: _Sink) -> tuple[str, str | None]:
    """Record one stream and feed it to the flow; return its ending and, if the
    connection broke, why. Bytes are written before the flow sees them."""
    flow.begin_stream()
    sink.begin()
    cut: str | None = None
    try:
        for chunk in stream.response.iter_bytes():
            sink.write(chunk)
            flow.feed_sse(chunk)
    except TRANSPORT_ERRORS as exc:
        cut = _reason(exc)
    finally:
        stream.close()
        sink.end()
    return flow.close(), cut


def _summary(flow: Flow, sink: _Sink, streams: int, target: str, notes: list[str],
             out: Output) -> None:
    where = "stdout" if target == "-" else target
    kind = flow.root_kind
    run = f"{kind} {flow.root_id} {flow.root_state}" if flow.root_id else f"no {kind} seen"
    plural = "" if streams == 1 else "s"
    errors = len(flow.errors)
    line = (f"recorded {sink.events} events ({streams} stream{plural}) to {where}; "
            f"ended {flow.ending}; {run}; {len(flow.violations)} violation(s)")
    out.err.write(out.style(line, "red" if errors else "green") + "\n")
    for v in flow.violations:
        colour = "red" if v.severity == "error" else "yellow"
        out.err.write(out.style(f"  #{v.index} {v.severity} {v.code.value}: {v.message}",
                                colour) + "\n")
    for note in notes:
        out.err.write(f"  {note}\n")
    out.err.flush()


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")


def _reason(exc: BaseException) -> str:
    """A one-line reason: the innermost cause that says something (the SDK wraps
    e.g. ``[Errno 111] Connection refused`` in a bare ``Connection error.``)."""
    text = ""
    cause: BaseException | None = exc
    while cause is not None:
        said = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        # a sentence, not "[Errno 111] ..." (httpx quotes the OSError it wraps that way)
        text = " ".join(_ERRNO.sub("", said).split()) or text
        cause = cause.__cause__
    return text or type(exc).__name__


@contextlib.contextmanager
def api_errors(base_url: str, doing: str) -> Iterator[None]:
    """Turn the SDK's errors into a one-line :class:`CommandError`."""
    import openai

    try:
        yield
    except openai.APIStatusError as exc:
        raise CommandError(f"{doing}: the server answered HTTP {exc.status_code}: "
                           f"{_api_message(exc)}") from None
    except openai.APIConnectionError as exc:
        raise CommandError(f"cannot reach {base_url} ({doing}): {_reason(exc)}") from None
    except openai.APIError as exc:
        raise CommandError(f"{doing}: {' '.join(exc.message.split())}") from None


def _api_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message:
            return " ".join(message.split())
    return " ".join(exc.message.split())


# --------------------------------------------------------------------------- #
# the recording
# --------------------------------------------------------------------------- #
def _output_format(target: str) -> Format:
    if target == "-":
        return "sse"
    fmt = _FORMATS.get(Path(target).suffix.lower())
    if fmt is None:
        raise CommandError(f"-o {target}: the recording must end in .jsonl or .sse "
                           "('-' writes SSE to stdout)")
    path = Path(target)
    if path.is_dir():
        raise CommandError(f"-o {target}: is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise CommandError(f"-o {target}: no such directory {parent}")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CommandError(f"-o {target}: not writable")
    return fmt


@contextlib.contextmanager
def _open_target(target: str, out: Output) -> Iterator[IO[bytes]]:
    """The binary file to write (stdout's buffer for ``-``, left open)."""
    if target == "-":
        out.out.flush()
        buffer: IO[bytes] | None = getattr(out.out, "buffer", None)
        if buffer is None:
            raise CommandError("-o -: standard output cannot take bytes")
        yield buffer
        return
    try:
        file = open(target, "wb")
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
    with file:
        yield file


class _Sink:
    """Writes each stream's bytes in the chosen format, flushing as it goes."""

    def __init__(self, fmt: Format, target: IO[bytes]) -> None:
        self.format = fmt
        self.target = target
        self.events = 0
        self._decoder: SSEDecoder | None = None
        self._open_block = False  # the last stream ended inside an SSE block

    def begin(self) -> None:
        from runflow.engine.sse import SSEDecoder

        if self.format == "sse" and self._open_block:
            # The previous stream's last block had no closing blank line: end it, so
            # the next stream's first event is not glued to it on replay.
            self.target.write(b"\n\n")
        self._open_block = False
        self._decoder = SSEDecoder()

    def write(self, chunk: bytes) -> None:
        assert self._decoder is not None
        events = self._decoder.feed(chunk)
        self.events += len(events)
        if self.format == "sse":
            self.target.write(chunk)
        else:
            self.target.write(b"".join(_jsonl_lines(events)))
        self.target.flush()

    def end(self) -> None:
        assert self._decoder is not None
        tail = self._decoder.close()
        self.events += len(tail)
        if self.format == "jsonl":
            self.target.write(b"".join(_jsonl_lines(tail)))
        self._open_block = bool(tail)
        self.target.flush()


def _jsonl_lines(events: list[RawEvent]) -> Iterator[bytes]:
    for raw in events:
        line: dict[str, Any] = {"event": raw.event, "data": _data(raw.data)}
        if raw.oversize:
            line["oversize_bytes"] = raw.oversize
        yield dump_json(line)[0].encode("utf-8") + b"\n"


def _data(raw: bytes | None) -> Any:
    """The parsed JSON, ``"[DONE]"`` or None; data that is not JSON, or a bare JSON
    string (which could pose as ``[DONE]``), stays the raw text."""
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace")
    if text == "[DONE]":
        return text
    try:
        value = parse_json(raw)
    except JSONError:
        return text
    return text if isinstance(value, str) else value
