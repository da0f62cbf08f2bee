"""``runflow watch``: follow a run as it happens -- live over REST, or a recording.

Three sources feed one :class:`~runflow.RunFlow`:

* ``runflow watch REC.jsonl|REC.sse [--speed N]`` plays a recording. Recordings
  carry no clock of their own, so the pace comes from the timestamps in the
  objects (``created_at``, ``started_at``, ``completed_at``...); events between two
  timestamps are spread evenly across the gap. ``--speed 1`` is recorded speed,
  ``--speed 10`` ten times faster, ``--speed 0`` no waiting; a pause is never
  longer than 5 s.
* ``--base-url URL --thread T --run R`` follows a run someone else is driving, by
  polling it over REST (run, steps, messages) with the real openai client.
* ``--base-url URL --assistant A`` starts a run and streams it; after a cut stream
  it recovers over REST and keeps polling. Function calls named with
  ``--tool-output NAME=TEXT`` are answered, and the continuation stream followed.

It shows the current state of each entity, the text as it streams, tool calls and
violations as they appear, and with ``--diagram`` the path taken so far through
the state diagram (:func:`runflow.diagrams.path_mermaid`). On a terminal this is
a live view (rich); otherwise, one line per change.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from runflow.cli import EXIT_OK, EXIT_VIOLATIONS, CommandError
from runflow.cli.common import tool_output
from runflow.cli.output import Output
from runflow.engine.jsonparse import JSONError, parse_json

if TYPE_CHECKING:
    import openai
    from rich.console import Console, RenderableType
    from rich.live import Live

    from runflow import Ending, RunFlow, TextDelta, TextSnapshot, Violation
    from runflow.engine.view import StateChange

HELP = "follow a run live (over REST, or a recording at its own pace) with its states"

EPILOG = """\
examples:
  runflow watch run.jsonl --speed 4 --diagram
  runflow watch --base-url http://127.0.0.1:8000/v1 --thread thread_x --run run_x
  runflow watch --base-url http://127.0.0.1:8000/v1 --assistant asst_parallel_functions \\
      --tool-output get_weather=sunny --tool-output get_time=14:05

exit codes: 0 no error-severity violation, 1 violations found (a cut stream is one:
truncated), 2 usage error, unreadable recording or unreachable server
"""

MAX_PAUSE = 5.0
_STAMPS = ("created_at", "started_at", "completed_at", "failed_at", "cancelled_at",
           "expired_at", "incomplete_at")
_BLANK_LINE = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("recording", nargs="?", metavar="RECORDING",
                        help="a .jsonl or .sse recording to play (else follow --base-url)")
    parser.add_argument("--speed", type=_speed, default=1.0, metavar="N",
                        help="recording pace: 1 recorded speed (default), 10 ten times "
                             "faster, 0 no waiting")
    parser.add_argument("--base-url", metavar="URL", help="the API, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key", metavar="KEY",
                        help="API key (default: $OPENAI_API_KEY, else 'none')")
    parser.add_argument("--thread", metavar="ID", help="the run's thread")
    parser.add_argument("--run", metavar="ID", help="follow this run by polling it")
    parser.add_argument("--assistant", metavar="ID", help="start a streamed run of it")
    parser.add_argument("--tool-output", action="append", default=[], type=tool_output,
                        metavar="NAME=TEXT", help="answer function calls named NAME with "
                        "TEXT (with --assistant; repeatable)")
    parser.add_argument("--fault", metavar="SPEC",
                        help="runflow's local server only: damage the first stream, e.g. "
                             "cut_after=5 (sent as the X-Runflow-Fault header)")
    parser.add_argument("--interval", type=float, default=0.2, metavar="S",
                        help="seconds between polls (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=600.0, metavar="S",
                        help="stop polling after S seconds (default: %(default)s)")
    parser.add_argument("--diagram", action="store_true",
                        help="show the path taken so far through the state diagram")


def _speed(value: str) -> float:
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not speed >= 0 or speed == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value!r}")
    return speed


def run(args: argparse.Namespace, out: Output) -> int:
    from runflow import RunFlow

    _check_args(args)
    flow = RunFlow()
    view = LiveView(flow, out, args.diagram) if _is_tty(out) else LineView(flow, out)
    watcher = Watcher(flow, view)
    with view.showing():
        if args.recording is not None:
            play(flow, _blocks(args.recording), args.speed, time.sleep)
        else:
            _follow(flow, watcher, args)
        watcher.changed()
    view.summary(args.diagram)
    return EXIT_OK if flow.ok else EXIT_VIOLATIONS


def _check_args(args: argparse.Namespace) -> None:
    if args.recording is not None:
        live = [f"--{n.replace('_', '-')}" for n in ("base_url", "thread", "run", "assistant",
                                                     "fault") if getattr(args, n)]
        if live:
            raise CommandError(f"give a RECORDING or --base-url, not both ({', '.join(live)})")
        return
    if not args.base_url:
        raise CommandError("give a RECORDING to play, or --base-url with --thread and --run "
                           "(or --assistant) to follow a live run")
    if bool(args.run) == bool(args.assistant):
        raise CommandError("with --base-url give either --run (with --thread) or --assistant")
    if args.run and not args.thread:
        raise CommandError("--run needs its --thread")
    if args.run and (args.tool_output or args.fault):
        raise CommandError("--tool-output and --fault go with --assistant (a run watch starts)")
    if args.interval <= 0 or args.timeout <= 0:
        raise CommandError("--interval and --timeout must be positive")


def _is_tty(out: Output) -> bool:
    try:
        return out.out.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------- #
# what happened: one place that turns the flow's callbacks into view updates
# --------------------------------------------------------------------------- #
class Watcher:
    """Registers on the flow and tells the view about each change, in order."""

    def __init__(self, flow: RunFlow, view: View) -> None:
        self.flow, self.view = flow, view
        self._seen = 0
        from runflow.protocols import PROTOCOL, UNSEEN, Entity

        registrars: dict[Entity, Any] = {Entity.RUN: flow.on_run, Entity.STEP: flow.on_step,
                                         Entity.MESSAGE: flow.on_message}
        for entity, register in registrars.items():
            for state in PROTOCOL.tables[entity].states:
                if state != UNSEEN:
                    register(state)(self._entered)
        flow.on_text("delta")(self._delta)
        flow.on_text("done")(self._text_done)
        flow.on_violation(self._violation)
        flow.on_end(self._end)

    def changed(self) -> None:
        """Report state changes not reported yet (recovery fires callbacks too)."""
        history = self.flow.history
        while self._seen < len(history):
            change = history[self._seen]
            self._seen += 1
            if change.source != change.dest:
                self.view.state(change)
        self.view.refresh()

    def _entered(self, obj: Any) -> None:
        self.changed()
        if getattr(obj, "object", None) == "thread.run" and obj.status == "requires_action":
            for call in self.flow.pending_tool_calls:
                self.view.tool_call(call.id, call.function.name, call.function.arguments)

    def _delta(self, delta: TextDelta, snapshot: TextSnapshot) -> None:
        self.view.text_delta(delta.value or "")

    def _text_done(self, snapshot: TextSnapshot) -> None:
        self.view.text_done(snapshot.value)

    def _violation(self, violation: Violation) -> None:
        self.changed()
        self.view.violation(violation)

    def _end(self, ending: Ending) -> None:
        self.changed()
        self.view.stream_end(ending)

    def note(self, text: str) -> None:
        self.changed()
        self.view.note(text)


# --------------------------------------------------------------------------- #
# views
# --------------------------------------------------------------------------- #
class View:
    """What a watch shows; :class:`LineView` and :class:`LiveView` say how."""

    def __init__(self, flow: RunFlow, out: Output) -> None:
        self.flow, self.out = flow, out
        self.streams = 0

    @contextlib.contextmanager
    def showing(self) -> Iterator[None]:
        yield

    def refresh(self) -> None: ...
    def state(self, change: StateChange) -> None: ...
    def tool_call(self, call_id: str, name: str, arguments: str) -> None: ...
    def text_delta(self, text: str) -> None: ...
    def text_done(self, text: str) -> None: ...
    def violation(self, violation: Violation) -> None: ...
    def note(self, text: str) -> None: ...

    def stream_end(self, ending: Ending) -> None:
        self.streams += 1

    def outcome(self) -> str:
        flow = self.flow
        recovered = sum(1 for c in flow.history if c.event == "recovered")
        return (f"run {flow.run_id or '-'} {flow.run_status}: {flow.event_count} events, "
                f"{self.streams} stream(s), {recovered} change(s) recovered over REST, "
                f"{len(flow.violations)} violation(s)")

    def summary(self, diagram: bool) -> None:
        self.out.print(self.outcome())
        if diagram:
            from runflow.diagrams import path_mermaid

            self.out.print(path_mermaid(self.flow.history).rstrip("\n"))


class LineView(View):
    """One line per change, for pipes, logs and dumb terminals."""

    def state(self, change: StateChange) -> None:
        from runflow.protocols import PROTOCOL, Entity

        how = "recovered over REST" if change.event == "recovered" else change.event
        where = "" if change.event == "recovered" else f"#{change.index} "
        self.out.print(f"{where}{change.entity} {change.id}: {change.source} -> "
                       f"{change.dest} ({how})")
        if (change.entity is Entity.MESSAGE
                and change.dest in PROTOCOL.tables[Entity.MESSAGE].terminal):
            message = self.flow.message(change.id)
            text = "".join(p.text.value for p in message.content if p.type == "text")
            if text and message.role == "assistant":
                self.out.print(f"text {change.id}: {text}")

    def tool_call(self, call_id: str, name: str, arguments: str) -> None:
        self.out.print(f"tool call {name}({arguments}) [{call_id}]")

    def violation(self, violation: Violation) -> None:
        self.out.print(f"! {violation}")

    def stream_end(self, ending: Ending) -> None:
        super().stream_end(ending)
        self.out.print(f"stream {self.streams} ended: {ending}")

    def note(self, text: str) -> None:
        self.out.print(f"-- {text}")


class LiveView(View):
    """A rich live panel: entities and states, text, tool calls, violations, path."""

    def __init__(self, flow: RunFlow, out: Output, diagram: bool) -> None:
        super().__init__(flow, out)
        from rich.console import Console

        self.console: Console = Console(file=out.out, highlight=False,
                                        no_color=not out.color)
        self.diagram = diagram
        self.calls: list[str] = []
        self.notes: list[str] = []
        self.recovered: set[str] = set()
        self.live: Live | None = None
        self._last = 0.0

    @contextlib.contextmanager
    def showing(self) -> Iterator[None]:
        from rich.live import Live

        with Live(self._render(), console=self.console, auto_refresh=False,
                  transient=False) as live:
            self.live = live
            try:
                yield
            finally:
                live.update(self._render(), refresh=True)
                self.live = None

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.live is not None and (force or now - self._last > 0.05):
            self._last = now
            self.live.update(self._render(), refresh=True)

    def state(self, change: StateChange) -> None:
        if change.event == "recovered":
            self.recovered.add(change.id)
            self.notes.append(f"{change.entity} {change.id}: {change.source} -> "
                              f"{change.dest} (recovered over REST)")
        else:
            self.recovered.discard(change.id)

    def tool_call(self, call_id: str, name: str, arguments: str) -> None:
        self.calls.append(f"{name}({arguments})  {call_id}")
        self.refresh(force=True)

    def text_delta(self, text: str) -> None:
        self.refresh()

    def violation(self, violation: Violation) -> None:
        self.refresh(force=True)

    def stream_end(self, ending: Ending) -> None:
        super().stream_end(ending)
        self.notes.append(f"stream {self.streams} ended: {ending}")
        self.refresh(force=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.refresh(force=True)

    def summary(self, diagram: bool) -> None:
        self.console.print(self.outcome(), markup=False, highlight=False)

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        flow = self.flow
        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for column in ("entity", "id", "state", ""):
            table.add_column(column)
        rows: list[tuple[str, str, str, str]] = []
        if flow.run_id is not None:
            rows.append(("run", flow.run_id, flow.run_status, ""))
        for step in flow.steps:
            rows.append(("step", step.id, flow.step_state(step.id), step.type))
        for message in flow.messages:
            rows.append(("message", message.id, flow.message_state(message.id), message.role))
        for kind, oid, state, extra in rows:
            mark = " (recovered)" if oid in self.recovered else ""
            table.add_row(kind, oid, Text(state + mark, style=_state_style(state)), extra)
        parts: list[RenderableType] = [
            Panel(table, title=f"runflow watch: {flow.event_count} events, {self.streams} "
                               "stream(s) ended", title_align="left")]
        if flow.text:
            parts.append(Panel(Text(flow.text), title="text", title_align="left"))
        if self.calls:
            parts.append(Panel(Text("\n".join(self.calls)), title="tool calls",
                               title_align="left"))
        if flow.violations:
            lines = Text("\n".join(str(v) for v in flow.violations), style="red")
            parts.append(Panel(lines, title="violations", title_align="left"))
        if self.notes:
            parts.append(Text("\n".join(self.notes), style="dim"))
        if self.diagram and flow.history:
            from runflow.diagrams import path_mermaid

            edges = [line.strip() for line in path_mermaid(flow.history).splitlines()
                     if " --> " in line and " : " in line]
            parts.append(Panel(Text("\n".join(edges)), title="path so far (Mermaid edges)",
                               title_align="left"))
        return Group(*parts)


def _state_style(state: str) -> str:
    if state == "completed":
        return "green"
    if state in ("failed", "cancelled", "expired", "incomplete"):
        return "red"
    return "yellow"


# --------------------------------------------------------------------------- #
# a recording, at its own pace
# --------------------------------------------------------------------------- #
Block = tuple[bytes | dict[str, Any] | None, float | None]


def _blocks(path: str) -> list[Block]:
    """The recording's events with the latest timestamp each carries (or None)."""
    from runflow.adapters.recording import RecordingError, read_recording

    try:
        recording = read_recording(path)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    if recording.format == "jsonl":
        out: list[Block] = []
        for line in recording.data.splitlines():
            if line.strip():
                try:
                    event = parse_json(line)
                except JSONError:
                    event = None
                ok = isinstance(event, dict) and isinstance(event.get("event"), str)
                out.append((event if ok else None, _stamp(event.get("data") if ok else None)))
        return out
    pieces = _BLANK_LINE.split(recording.data)
    blocks: list[Block] = []
    for piece in pieces:
        if piece.strip():
            data = b"".join(line[5:].lstrip(b" ") for line in piece.splitlines()
                            if line.startswith(b"data:"))
            try:
                parsed = parse_json(data) if data else None
            except JSONError:
                parsed = None
            blocks.append((piece + b"\n\n", _stamp(parsed)))
    return blocks


def _stamp(data: Any) -> float | None:
    if not isinstance(data, dict):
        return None
    stamps = [v for k in _STAMPS if isinstance(v := data.get(k), (int, float))
              and not isinstance(v, bool)]
    return float(max(stamps)) if stamps else None


def schedule(stamps: list[float | None]) -> list[float]:
    """Each event's time in seconds from the first timestamp: its own timestamp (never
    earlier than the one before), events without one spread evenly between their
    neighbours."""
    origin = next((s for s in stamps if s is not None), 0.0)
    stamps = [s - origin if s is not None else None for s in stamps]  # keeps precision
    known = [(i, s) for i, s in enumerate(stamps) if s is not None]
    if not known:
        return [0.0] * len(stamps)
    times: list[float] = []
    latest = known[0][1]
    for stamp in stamps:
        if stamp is not None:
            latest = max(latest, stamp)
        times.append(latest if stamp is not None else float("nan"))
    for (i, _), (j, _) in itertools.pairwise(known):
        a, b = times[i], times[j]
        for k in range(i + 1, j):
            times[k] = a + (b - a) * (k - i) / (j - i)
    first, last = known[0][0], known[-1][0]
    return [times[first] if k < first else times[last] if k > last else t
            for k, t in enumerate(times)]


def play(flow: RunFlow, blocks: list[Block], speed: float,
         sleep: Callable[[float], None]) -> None:
    """Feed the recording into ``flow``, waiting between events per :func:`schedule`."""
    times = schedule([stamp for _, stamp in blocks])
    flow.begin_stream()
    for k, (item, _) in enumerate(blocks):
        if k and speed > 0:
            pause = min((times[k] - times[k - 1]) / speed, MAX_PAUSE)
            if pause > 0:
                sleep(pause)
        if isinstance(item, bytes):
            flow.feed_sse(item)
        else:
            flow.feed(item if item is not None else {"data": None})
    flow.close()


# --------------------------------------------------------------------------- #
# a live run over REST
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def _api_errors(base_url: str, doing: str) -> Iterator[None]:
    """The SDK's errors as a one-line :class:`CommandError`."""
    import openai

    try:
        yield
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message") if isinstance(body.get("message"), str) else exc.message
        raise CommandError(f"{doing}: the server answered HTTP {exc.status_code}: "
                           f"{' '.join(str(message).split())}") from None
    except openai.APIConnectionError:
        raise CommandError(f"cannot reach {base_url} ({doing})") from None
    except openai.APIError as exc:
        raise CommandError(f"{doing}: {' '.join(exc.message.split())}") from None


def _follow(flow: RunFlow, watcher: Watcher, args: argparse.Namespace) -> None:
    import openai

    from runflow.adapters.sdk import consume
    from runflow.protocols import PROTOCOL, Entity

    terminal = PROTOCOL.tables[Entity.RUN].terminal
    api_key = args.api_key or os.environ.get("OPENAI_API_KEY") or "none"
    client = openai.OpenAI(base_url=args.base_url, api_key=api_key, max_retries=0)
    answers: dict[str, str] = dict(args.tool_output)
    submitted: set[str] = set()
    thread_id: str | None = args.thread
    with client, _api_errors(args.base_url, "following the run"):
        if args.assistant:
            ending: str = consume(flow, _start(client, args))
            thread_id = thread_id or flow.thread_id
        else:
            ending = "poll"
        deadline = time.monotonic() + args.timeout
        while True:
            if ending != "done":
                _catch_up(client, flow, thread_id, args.run)
                watcher.changed()
            if flow.run_status in terminal:
                return
            calls = [c for c in flow.pending_tool_calls if c.id not in submitted]
            if args.assistant and calls:
                missing = sorted({c.function.name for c in calls} - set(answers))
                if missing:
                    watcher.note(f"stopped in requires_action: {', '.join(missing)} not "
                                 "answered (give --tool-output NAME=TEXT)")
                    return
                submitted.update(c.id for c in calls)
                outputs: Any = [{"tool_call_id": c.id, "output": answers[c.function.name]}
                                for c in calls]
                ending = consume(flow, client.beta.threads.runs.submit_tool_outputs(
                    run_id=str(flow.run_id), thread_id=str(thread_id or flow.thread_id),
                    tool_outputs=outputs, stream=True))
                continue
            if time.monotonic() > deadline:
                watcher.note(f"still {flow.run_status} after {args.timeout:g} s; stopped")
                return
            time.sleep(args.interval)
            ending = "poll"


FAULT_HEADER = "X-Runflow-Fault"
"""runflow.testing.FAULT_HEADER, spelt out: the testing package needs the server extra."""


def _start(client: openai.OpenAI, args: argparse.Namespace) -> Any:
    headers = {FAULT_HEADER: args.fault} if args.fault else {}
    threads = client.beta.threads
    if args.thread:
        return threads.runs.create(thread_id=args.thread, assistant_id=args.assistant,
                                   stream=True, extra_headers=headers)
    return threads.create_and_run(assistant_id=args.assistant, stream=True,
                                  extra_headers=headers)


def _catch_up(client: openai.OpenAI, flow: RunFlow, thread_id: str | None,
              run_id: str | None) -> None:
    """Read the run, its steps and messages over REST into the flow."""

    threads = client.beta.threads
    thread_id = thread_id or flow.thread_id
    if thread_id is None:
        raise CommandError("the stream was cut before it named its thread; give --thread")
    run_id = run_id or flow.run_id
    if run_id is None:
        latest = threads.runs.list(thread_id=thread_id, limit=1).data
        if not latest:
            raise CommandError(f"thread {thread_id} has no run")
        run_id = latest[0].id
    run = threads.runs.retrieve(run_id=run_id, thread_id=thread_id)
    if flow.run_id is None:
        flow.recover(run)
    for step in threads.runs.steps.list(run_id=run_id, thread_id=thread_id, order="asc"):
        flow.recover(step)
    for message in threads.messages.list(thread_id=thread_id, run_id=run_id, order="asc"):
        flow.recover(message)
    flow.recover(run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: runflow watch")
