"""The ``runflow`` command line: one module per subcommand, listed in :data:`COMMANDS`.

Adding a subcommand is adding a module ``runflow/cli/<name>.py`` that defines

* ``HELP``: one line for ``runflow --help``;
* ``configure(parser)``: add its arguments to an ``argparse.ArgumentParser``;
* ``run(args, out) -> int``: do the work, write through :class:`Output`, return
  the exit code;

and one line in :data:`COMMANDS`. Exit codes are shared: 0 ok, 1 violations found,
2 usage error, unreadable input or unwritable output. Subcommands report expected
failures as :class:`CommandError` (a one-line reason, exit 2); :func:`main` turns
an output failure (e.g. a full disk) and, as a last resort, any other exception
into one line and exit 2 too, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Protocol, cast

from runflow.cli.output import Output

__all__ = ["COMMANDS", "EXIT_OK", "EXIT_USAGE", "EXIT_VIOLATIONS", "CommandError", "main"]

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_USAGE = 2

COMMANDS: tuple[str, ...] = (
    "check",
    "replay",
    "diagram",
    "demo",
    "serve",
    "record",
    "watch",
    "conform",
)
"""Subcommand names, in ``--help`` order; each is the module ``runflow.cli.<name>``."""


class CommandError(Exception):
    """An expected failure with a one-line reason (exit 2)."""


class Command(Protocol):
    """What a subcommand module provides (checked by mypy where modules are loaded)."""

    HELP: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, out: Output) -> int: ...


def load(name: str) -> Command:
    module: ModuleType = importlib.import_module(f"{__name__}.{name}")
    return cast(Command, module)


def build_parser() -> argparse.ArgumentParser:
    from runflow import __version__

    parser = argparse.ArgumentParser(
        prog="runflow",
        description="Validate, replay and draw Assistants and Responses API streams.",
        epilog="exit codes: 0 ok, 1 violations found, 2 usage error, unreadable input or "
               "unwritable output",
    )
    parser.add_argument("--version", action="version", version=f"runflow {__version__}")
    parser.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto",
        help="colour output (default: auto = only on a terminal, and not with NO_COLOR)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        command = load(name)
        sub = subparsers.add_parser(
            name, help=command.HELP, description=command.HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.configure(sub)
        sub.set_defaults(_command=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (``--help`` and usage errors too)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
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
        return 130
    except BrokenPipeError:  # e.g. `runflow replay x | head`: stop quietly
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:  # e.g. stdout on a full disk
        _silence_stdout()
        out.error(_os_reason(exc))
        return EXIT_USAGE
    except Exception as exc:  # a bug: still one line, never a traceback
        out.error(f"unexpected {type(exc).__name__} ({_text(exc)}); this is a bug in "
                  "runflow, please report it")
        return EXIT_USAGE


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:300]
    except Exception:
        return "no message"


def _os_reason(exc: OSError) -> str:
    reason = exc.strerror or _text(exc)
    if exc.filename is not None:
        return f"{exc.filename}: {reason}"
    return f"cannot write the output: {reason}"


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
