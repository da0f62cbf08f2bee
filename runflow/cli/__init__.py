"""The ``runflow`` command line: one module per subcommand, listed in :data:`COMMANDS`.

Adding a subcommand is adding a module ``runflow/cli/<name>.py`` that defines

* ``configure(parser)``: add its arguments to an ``argparse.ArgumentParser``;
* ``run(args, out) -> int``: do the work, write through :class:`Output`, return
  the exit code (one of :data:`EXIT_CODES`);

and one line in :data:`COMMANDS` (its name and the one line ``runflow --help``
shows). Start-up is lazy: ``runflow --help`` and ``--version`` import no
subcommand, and a command imports and configures only its own module, so nothing
pays for the ``openai`` types it does not use. A module's top imports only the
standard library and ``runflow.cli.*``; the rest is imported where it is used.

Exit codes are shared by every subcommand (:data:`EXIT_CODES`, enforced by
tests/test_cli_exit_codes.py). Subcommands report expected failures as
:class:`CommandError` (one sentence, exit 2); :func:`main` turns Ctrl-C into 130,
an ``OSError`` (a full disk, a missing file) into one sentence and exit 2, and, as
a last resort, any other exception into one line and exit 2 too, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Protocol, cast

from runflow.cli.output import Output

__all__ = ["COMMANDS", "EXIT_CODES", "EXIT_FINDINGS", "EXIT_INTERRUPTED", "EXIT_OK",
           "EXIT_USAGE", "EXIT_VIOLATIONS", "CommandError", "main", "os_sentence"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_VIOLATIONS = EXIT_FINDINGS  # the name the subcommands have used so far
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

EXIT_CODES: Mapping[int, str] = {
    EXIT_OK: "ok",
    EXIT_FINDINGS: "findings (a violation, a failed rule; with --strict: a warning too)",
    EXIT_USAGE: "unusable input or environment (bad arguments, not a recording, an "
                "unreadable file, an unreachable server, an unwritable output)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
"""The one exit-code table of every subcommand."""

COMMANDS: Mapping[str, str] = {
    "check": "validate recorded streams (.jsonl or .sse; Assistants or Responses) and list "
             "their violations",
    "replay": "replay a recorded stream: state changes, then the final run, messages and "
              "steps (or response and output items)",
    "diagram": "draw the protocols' state machines (Mermaid, DOT, SVG, PNG)",
    "demo": "run a tool-calling assistant against the embedded local server, live",
    "serve": "serve the local Assistants- and Responses-compatible API (scripted "
             "scenarios, recordings, faults)",
    "record": "record a live run or response (SSE, or a WebSocket session) to a file while "
              "validating it",
    "watch": "follow a run live (over REST, or a recording at its own pace) with its states",
    "conform": "grade an Assistants- or Responses-compatible server, rule by rule",
}
"""Subcommand name -> its line in ``runflow --help``, in that order; each is the
module ``runflow.cli.<name>``."""


def exit_codes_text() -> str:
    """The table, as the epilogs print it."""
    return "exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())


class CommandError(Exception):
    """An expected failure with a one-sentence reason (exit 2)."""


class Command(Protocol):
    """What a subcommand module provides (checked by mypy where modules are loaded)."""

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, out: Output) -> int: ...


def load(name: str) -> Command:
    module: ModuleType = importlib.import_module(f"{__name__}.{name}")
    return cast(Command, module)


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (None for ``--help``, ``--version``, a typo):
    the first word that is not an option of ``runflow`` itself."""
    words = iter(argv)
    for word in words:
        if word == "--color":
            next(words, None)
        elif word == "--":
            return next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with only ``command``'s arguments configured (the others are
    listed for ``--help`` and not imported)."""
    from runflow import __version__

    parser = argparse.ArgumentParser(
        prog="runflow",
        description="Validate, replay and draw Assistants and Responses API streams.",
        epilog=exit_codes_text(),
    )
    parser.add_argument("--version", action="version", version=f"runflow {__version__}")
    parser.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto",
        help="colour output (default: auto = only on a terminal, and not with NO_COLOR)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        sub = subparsers.add_parser(
            name, help=summary, description=summary,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if name == command:
            module = load(name)
            module.configure(sub)
            sub.set_defaults(_command=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (``--help`` and usage errors too)."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(chosen_command(words))
        args = parser.parse_args(words)
    except SystemExit as exit_:  # --help, --version, usage errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    out = Output(color=args.color)
    command: Command = args._command
    try:
        code = command.run(args, out)
        out.out.flush()  # a full disk fails here, not in the interpreter's exit
        return code
    except CommandError as exc:
        out.error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        out.clear_progress()
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `runflow replay x | head`: stop quietly
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:  # e.g. stdout on a full disk
        _silence_stdout()
        out.error(os_sentence(exc, "cannot write the output"))
        return EXIT_USAGE
    except Exception as exc:  # a bug: still one line, never a traceback
        out.error(f"unexpected {type(exc).__name__} ({_text(exc)}); this is a bug in "
                  "runflow, please report it")
        return EXIT_USAGE


def os_sentence(exc: OSError, doing: str = "") -> str:
    """One sentence for an ``OSError``: ``nope.jsonl: No such file or directory``,
    or ``doing: reason`` (e.g. "cannot write the output: No space left on device")
    when it names no file; never the raw ``[Errno 2] ...``."""
    reason = exc.strerror or _text(exc) or type(exc).__name__
    filename = exc.filename
    if filename is not None:
        where = os.fsdecode(filename) if isinstance(filename, (str, bytes)) else str(filename)
        return f"{where}: {reason}"
    return f"{doing}: {reason}" if doing else reason


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:300]
    except Exception:
        return "no message"


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
