"""Helpers shared by the subcommands that read recordings."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from runflow.cli import CommandError

if TYPE_CHECKING:
    from collections.abc import Callable

    from runflow.adapters.recording import Replay
    from runflow.adapters.recording_feed import Feeder, Listener
    from runflow.cli.output import Output
    from runflow.engine.flow import Flow
    from runflow.engine.violations import Violation

__all__ = ["TRANSCRIPT_PROTOCOL", "add_protocol_options", "load_replay", "non_negative", "port",
           "tool_output", "where", "write_json"]

TRANSCRIPT_PROTOCOL = "responses-ws"
"""``--protocol`` for a WebSocket transcript: the name of
:data:`~runflow.protocols.responses.websocket.definition.WS_RESPONSES`, written out so
that parsing the arguments of ``check`` does not build that definition (and the
Responses one under it) for every stream; tests/test_startup.py keeps them equal."""


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def port(text: str) -> int:
    """An argparse type: a TCP port, 0-65535 (0: any free port)."""
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, got {value}")
    return value


def non_negative(text: str) -> int:
    """An argparse type: a count, 0 or more."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def tool_output(value: str) -> tuple[str, str]:
    """``--tool-output NAME=TEXT``: the answer to give function calls named NAME."""
    name, sep, text = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=TEXT, got {value!r}")
    return name, text


def write_json(out: Output, value: Any, *, indent: int | None = None) -> None:
    """Print ``value`` as valid UTF-8 JSON; lone surrogates (from undecodable
    input) are replaced with U+FFFD, with a warning on stderr."""
    from runflow.engine.jsonparse import dump_json

    try:
        text, replaced = dump_json(value, indent=indent)
    except ValueError as exc:  # NaN or infinity: not JSON
        raise CommandError(f"the result cannot be written as JSON ({exc})") from None
    if replaced:
        out.warn("warning: lone surrogates in the output were replaced with U+FFFD")
    out.print(text)


def add_protocol_options(parser: argparse.ArgumentParser) -> None:
    """``--protocol`` and ``--profile``, for the subcommands that read streams."""
    from runflow.protocols.profiles import PROFILES
    from runflow.protocols.registry import PROTOCOLS

    # responses-ws is not a registry row: a transcript is frames of a connection, not
    # an SSE stream (runflow.cli.transcripts dispatches it before the recording path).
    ws = TRANSCRIPT_PROTOCOL
    parser.add_argument(
        "--protocol", choices=("auto", *PROTOCOLS, ws), default="auto",
        help="the grammar to check against (default: auto = from the stream's event "
             f"names; a WebSocket transcript, HAR or JSONL frames, is {ws})")
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), metavar="SERVER",
        help="judge a server's known quirks as that server's profile says: "
             + ", ".join(sorted(PROFILES)) + " (Responses)")


def load_replay(path: str, args: argparse.Namespace | None = None, out: Output | None = None,
                label: str | None = None,
                listener: Callable[[Flow, Feeder], Listener] | None = None) -> Replay:
    """Read and replay one recording, in chunks (never whole: :class:`~runflow.adapters.
    recording.Source`); an unreadable one is a :class:`CommandError`. ``args`` may
    carry ``--protocol`` and ``--profile``; with ``out``, the count of events fed so
    far is shown as progress (on a terminal), after ``label``; ``listener`` (made for
    the flow) sees each event beside it (``runflow check``'s graders)."""
    from runflow.adapters.recording import RecordingError, new_flow, open_recording
    from runflow.protocols.profiles import profile_named

    try:
        source = open_recording(path)
        try:
            chosen = getattr(args, "protocol", "auto")
            protocol = source.protocol if chosen in (None, "auto") else chosen
            name = getattr(args, "profile", None)
            profile = profile_named(name) if name else None
            if profile is not None and profile.protocol != protocol:
                raise CommandError(f"{path}: profile {profile.name!r} is for "
                                   f"{profile.protocol} streams, and this one is {protocol}")
        except BaseException:
            source.close()
            raise
        flow = new_flow(protocol, profile=profile)
        if out is None:
            return source.replay(flow, listener=listener)
        shown = label or path
        with out.ticking(lambda: f"{shown}: {flow.event_count:,} events"):
            return source.replay(flow, listener=listener)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None


def where(replay: Replay, violation: Violation) -> str:
    """``#12 line 13`` (the line only when known)."""
    line = replay.line(violation.index)
    return f"#{violation.index}" + (f" line {line}" if line is not None else "")
