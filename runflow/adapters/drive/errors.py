"""What the drive loops raise, for either protocol."""

from __future__ import annotations

__all__ = ["DriveError", "RunTimeout", "ToolError", "UnknownTool", "describe"]


class DriveError(RuntimeError):
    """The drive loop could not take the run (or response) to a terminal state."""


class UnknownTool(DriveError):
    """The model asked for a tool that was not given to the drive loop."""


class ToolError(DriveError):
    """A tool raised, timed out or returned something that cannot be submitted, and
    the policy is ``"raise"``."""


class RunTimeout(DriveError):
    """The run (or response) did not become final in time: ``poll_timeout`` seconds
    of reading it over REST, the overall ``deadline``, or a stream idle for
    ``idle_timeout`` seconds."""


def describe(exc: BaseException) -> str:
    """``Type: message`` for any exception, even one whose ``__str__`` raises or
    holds lone surrogates (the text is submitted or shown, so it must be UTF-8)."""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:
        text = f"{type(exc).__name__}: (its message could not be read)"
    return text.encode("utf-8", "replace").decode("utf-8")
