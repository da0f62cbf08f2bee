"""``runflow watch``: follow a run or a response as it happens -- live, or a recording.

Sources, for either protocol (Assistants runs, Responses API responses):

* ``runflow watch REC.jsonl|REC.sse [--speed N]`` plays a recording at its own
  pace (:mod:`.pace`); the protocol is detected from the stream's event names
  (:func:`runflow.adapters.recording.detect_protocol`) unless ``--protocol``
  names it. ``runflow watch -`` plays standard input as it is read, a live pipe
  at its own pace (:mod:`.stdin`).
* Assistants, over ``--base-url`` (:mod:`.follow_runs`): ``--assistant A``
  starts a streamed run, ``--thread T --run R`` polls one someone else drives.
* Responses, over ``--base-url`` (:mod:`.follow_responses`): ``--model M --input
  TEXT`` creates a streamed response, ``--response ID`` follows one.

Either way it shows the current state of each entity (run, steps, messages; or
response and output items), the text as it streams, tool calls, violations and
the payload findings ``check`` shows (:mod:`.findings`) as they appear, and with
``--diagram`` the path taken so far through the state diagram. On a terminal this
is a live view (:mod:`.live`); otherwise, one line per change (:mod:`.views`).
What each protocol shows is its :mod:`.lens`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from runflow.cli import EXIT_OK, EXIT_VIOLATIONS, CommandError
from runflow.cli.common import add_protocol_options, tool_output

if TYPE_CHECKING:
    from runflow.adapters.recording import Recording, Source
    from runflow.cli.output import Output
    from runflow.cli.watch.stdin import Piped

HELP = "follow a run or a response live (over REST, or a recording at its own pace)"

EPILOG = """\
examples:
  runflow watch run.jsonl --speed 4 --diagram
  runflow watch response.sse --speed 0            (Responses: detected from the stream)
  runflow watch ws.har --speed 0                  (a WebSocket transcript: a line per frame)
  runflow watch --base-url http://127.0.0.1:8000/v1 --thread thread_x --run run_x
  runflow watch --base-url http://127.0.0.1:8000/v1 --assistant asst_parallel_functions \\
      --tool-output get_weather=sunny --tool-output get_time=14:05
  runflow watch --base-url http://127.0.0.1:8000/v1 --model gpt-4o --input "Weather?" \\
      --metadata scenario=parallel_functions --tool-output get_weather=sunny
  runflow watch --base-url http://127.0.0.1:8000/v1 --response resp_x
  curl -sN https://.../v1/responses -d @body.json ... | runflow watch -

RECORDING '-' reads standard input as it comes (a live pipe): it reads until the
protocol can be told (from the first whole event a protocol claims; at most 64 KiB),
then shows each event as it arrives; with --speed an event waits only when its
timestamp says it is due later than the time spent since reading began (waiting for
the pipe counts), and events without a timestamp are not spread. A JSON line longer
than max_event_bytes is not held: it is one malformed_event naming its line and the
byte offset where it began.
A recording of any size is read in chunks and kept only as far as its flow keeps
it (states, snapshots, text, violations); the live panel draws the last 4000
characters of the text and the last 50 tool calls, violations and notes.

The payload findings runflow check shows (payload.*: a field a status event's object
must hold) are shown too, worded as check words them.

exit codes: 0 no error-severity violation or payload finding, 1 violations found (a
cut stream is one: truncated), 2 usage error, unreadable recording or unreachable
server
"""

_RUNS = ("thread", "run", "assistant")
_RESPONSES = ("model", "input", "response", "metadata", "background")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("recording", nargs="?", metavar="RECORDING",
                        help="a .jsonl or .sse recording to play (else follow --base-url)")
    parser.add_argument("--speed", type=_speed, default=1.0, metavar="N",
                        help="recording pace: 1 recorded speed (default), 10 ten times "
                             "faster, 0 no waiting")
    add_protocol_options(parser)
    parser.add_argument("--base-url", metavar="URL", help="the API, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key", metavar="KEY",
                        help="API key (default: $OPENAI_API_KEY, else 'none')")
    runs = parser.add_argument_group("a live Assistants run")
    runs.add_argument("--thread", metavar="ID", help="the run's thread")
    runs.add_argument("--run", metavar="ID", help="follow this run by polling it")
    runs.add_argument("--assistant", metavar="ID", help="start a streamed run of it")
    responses = parser.add_argument_group("a live Responses API response")
    responses.add_argument("--model", metavar="M", help="create a streamed response with it")
    responses.add_argument("--input", metavar="TEXT", help="the input of that response")
    responses.add_argument("--metadata", action="append", default=[], type=_pair,
                           metavar="KEY=VALUE", help="metadata of the response (repeatable; "
                           "runflow's server picks a scenario with scenario=NAME)")
    responses.add_argument("--background", action="store_true",
                           help="create it in the background, so a cut stream is resumed "
                                "with starting_after")
    responses.add_argument("--response", metavar="ID",
                           help="follow this response (streamed if in the background, "
                                "else read over REST)")
    parser.add_argument("--tool-output", action="append", default=[], type=tool_output,
                        metavar="NAME=TEXT", help="answer function calls named NAME with "
                        "TEXT (with --assistant or --model; repeatable)")
    parser.add_argument("--fault", metavar="SPEC",
                        help="runflow's local server only: damage the stream, e.g. "
                             "cut_after=5 (sent as the X-Runflow-Fault header: the first "
                             "run stream; every response created)")
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


def _pair(value: str) -> tuple[str, str]:
    key, sep, text = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    return key, text


def run(args: argparse.Namespace, out: Output) -> int:
    from runflow.cli.watch.lens import lens_for
    from runflow.cli.watch.views import LineView, View, Watcher

    recording = None
    if args.recording is not None:
        live = _given(args, ("base_url", *_RUNS, *_RESPONSES, "fault", "tool_output"))
        if live:
            raise CommandError(f"give a RECORDING or --base-url, not both ({', '.join(live)})")
        from runflow.cli.transcripts import read_transcript, watch_transcript

        transcript = read_transcript(args.recording, args)
        if transcript is not None:
            return watch_transcript(args.recording, transcript, args.speed, out)
        recording = _read(args.recording)
    protocol = _protocol(args, recording)
    lens = lens_for(protocol)
    profile = _profile(args.profile, protocol)
    view: View
    if _is_tty(out):
        from runflow.cli.watch.live import LiveView

        view = LiveView(lens, out, args.diagram)
    else:
        view = LineView(lens, out)
    watcher = Watcher(lens, view)

    def make_flow() -> Any:
        return watcher.attach(lens.new_flow(profile))

    with view.showing():
        if recording is not None:
            _play(recording, make_flow(), args.speed)
        elif protocol == "assistants":
            from runflow.cli.watch.follow_runs import follow_run

            follow_run(make_flow(), watcher, args)
        elif args.response:
            from runflow.cli.watch.follow_responses import follow_response

            follow_response(make_flow(), watcher, args)
        else:
            from runflow.cli.watch.follow_responses import create_response

            create_response(watcher, make_flow, args)
        watcher.changed()
    view.summary(args.diagram)
    return EXIT_OK if watcher.ok else EXIT_VIOLATIONS


def _read(path: str) -> Recording | Source | Piped:
    """A file to be read in chunks; standard input to be played as it is read
    (:mod:`.stdin`), or held in memory when it ended before its protocol was told."""
    from runflow.adapters.recording import RecordingError, open_recording

    try:
        if path == "-":
            from runflow.cli.watch.stdin import open_stdin

            return open_stdin(getattr(sys.stdin, "buffer", None))
        return open_recording(path)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None


def _play(recording: Recording | Source | Piped, flow: Any, speed: float) -> None:
    """Play a recording: a file in two passes of chunks (its timestamps, then its
    events: :mod:`runflow.cli.watch.pace`), standard input as it is read -- or, when
    it ended before its protocol was told, held in memory (:mod:`.stdin`)."""
    from runflow.adapters.recording import Recording, RecordingError, open_recording
    from runflow.cli.watch.pace import known_times, paced, play, stream_blocks
    from runflow.cli.watch.stdin import Piped, play_piped

    if isinstance(recording, (Piped, Recording)):
        try:
            play_piped(recording, flow, speed, time.sleep, time.monotonic)
        except RecordingError as exc:
            raise CommandError(str(exc)) from None
        return
    try:
        most = flow.limits.max_event_bytes  # the longest JSON line held
        known = known_times(stamp for _, stamp in stream_blocks(
            recording.format, recording.chunks(), most))
        again = open_recording(recording.name)
        play(flow, stream_blocks(again.format, again.chunks(), most), speed, time.sleep,
             paced(known))
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    finally:
        recording.close()


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    return [f"--{n.replace('_', '-')}" for n in names if getattr(args, n)]


def _protocol(args: argparse.Namespace, recording: Recording | Source | Piped | None) -> str:
    """The protocol to watch, from ``--protocol``, the recording or the live options;
    any option that does not fit it is a :class:`CommandError`."""
    chosen: str = args.protocol
    if recording is not None:
        return recording.protocol if chosen == "auto" else chosen
    if not args.base_url:
        raise CommandError("give a RECORDING to play, or --base-url with --thread and --run "
                           "(or --assistant), or with --model and --input (or --response), to "
                           "follow a live run or response")
    if args.interval <= 0 or args.timeout <= 0:
        raise CommandError("--interval and --timeout must be positive")
    runs, responses = _given(args, _RUNS), _given(args, _RESPONSES)
    if runs and responses:
        raise CommandError(f"{', '.join(runs)} follow an Assistants run and "
                           f"{', '.join(responses)} a Responses API response: not both")
    live = "responses" if responses else "assistants" if runs else chosen
    if chosen not in ("auto", live):
        raise CommandError(f"--protocol {chosen} does not fit {', '.join(runs + responses)}")
    if live == "responses":
        _check_response_args(args)
    else:
        _check_run_args(args)
    return live


def _check_run_args(args: argparse.Namespace) -> None:
    if bool(args.run) == bool(args.assistant):
        raise CommandError("with --base-url give either --run (with --thread) or --assistant "
                           "(Assistants), or --model or --response (Responses)")
    if args.run and not args.thread:
        raise CommandError("--run needs its --thread")
    if args.run and (args.tool_output or args.fault):
        raise CommandError("--tool-output and --fault go with --assistant (a run watch starts)")


def _check_response_args(args: argparse.Namespace) -> None:
    if bool(args.model) == bool(args.response):
        raise CommandError("with --base-url give either --model (with --input) or --response")
    if args.model and args.input is None:
        raise CommandError("--model needs its --input")
    if args.response:
        extra = _given(args, ("input", "metadata", "background", "tool_output", "fault"))
        if extra:
            raise CommandError(f"{', '.join(extra)} go with --model (a response watch "
                               "creates), not --response")


def _profile(name: str | None, protocol: str) -> Any:
    if not name:
        return None
    from runflow.protocols.profiles import profile_named

    profile = profile_named(name)
    if profile.protocol != protocol:
        raise CommandError(f"profile {profile.name!r} is for {profile.protocol} streams, "
                           f"and this one is {protocol}")
    return profile


def _is_tty(out: Output) -> bool:
    try:
        return out.out.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False
