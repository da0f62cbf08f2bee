"""Helpers shared by the subcommands that read recordings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import CommandError

if TYPE_CHECKING:
    from runflow.recording import Replay
    from runflow.violations import Violation

__all__ = ["load_replay", "where"]


def load_replay(path: str) -> Replay:
    """Read and replay one recording; an unreadable one is a :class:`CommandError`."""
    from runflow.recording import RecordingError, replay_file

    try:
        return replay_file(path)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None


def where(replay: Replay, violation: Violation) -> str:
    """``#12 line 13`` (the line only when known)."""
    line = replay.line(violation.index)
    return f"#{violation.index}" + (f" line {line}" if line is not None else "")
