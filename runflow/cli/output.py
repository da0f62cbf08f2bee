"""Terminal output shared by the subcommands: colour and progress, only on a TTY.

Colour is used only when stdout is a terminal and ``NO_COLOR`` is unset (see
https://no-color.org); ``--color always|never`` overrides. Progress goes to
stderr, only when stderr is a terminal, so pipes and ``--json`` output stay clean;
``quiet`` (the subcommands' ``-q``) turns it off too.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, TextIO

__all__ = ["ColorChoice", "Output"]

ColorChoice = Literal["auto", "always", "never"]

_CODES = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "dim": "2",
    "bold": "1",
}


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


class Output:
    """Where a subcommand writes: ``out`` for results, ``err`` for diagnostics."""

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        color: ColorChoice = "auto",
        prog: str = "runflow",
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.prog = prog
        if color == "auto":
            self.color = _isatty(self.out) and not os.environ.get("NO_COLOR")
        else:
            self.color = color == "always"
        self.progress_enabled = _isatty(self.err)
        self._progress_shown = False
        self._lock = threading.Lock()

    def style(self, text: str, *styles: str) -> str:
        """``text`` wrapped in ANSI codes when colour is on."""
        if not self.color or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def print(self, text: str = "") -> None:
        self.clear_progress()
        print(text, file=self.out)

    def error(self, message: str) -> None:
        """A one-line diagnostic on stderr, prefixed with the program name."""
        self.clear_progress()
        print(f"{self.prog}: error: {message}", file=self.err)

    def warn(self, message: str) -> None:
        self.clear_progress()
        print(f"{self.prog}: {message}", file=self.err)

    def quiet(self) -> None:
        """No progress from now on (``-q``)."""
        self.clear_progress()
        self.progress_enabled = False

    def progress(self, done: int, total: int, label: str) -> None:
        """A one-line ``[done/total] label`` on stderr, rewritten in place."""
        self.status(f"[{done}/{total}] {label}")

    def status(self, text: str) -> None:
        """One progress line on stderr, rewritten in place (only on a terminal)."""
        if not self.progress_enabled:
            return
        with self._lock:
            self.err.write(f"\r\x1b[2K{text}"[:200])
            self.err.flush()
            self._progress_shown = True

    @contextmanager
    def ticking(self, text: Callable[[], str], every: float = 0.25) -> Iterator[None]:
        """While the block runs, rewrite the progress line with ``text()`` every
        ``every`` seconds (from a thread: ``text`` only reads, e.g. a count)."""
        if not self.progress_enabled:
            yield
            return
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(every):
                self.status(text())

        thread = threading.Thread(target=tick, name="runflow-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def clear_progress(self) -> None:
        with self._lock:
            if self._progress_shown:
                self.err.write("\r\x1b[2K")
                self.err.flush()
                self._progress_shown = False
