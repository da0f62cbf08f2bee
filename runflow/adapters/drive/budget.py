"""The time a drive loop may take: the overall deadline, the idle bound of each
stream, and the waits between reads over REST.

``deadline`` caps the whole call and ``idle_timeout`` each stream (see
:mod:`.clock`, which enforces both while a stream is read); between streams the
loops call :meth:`Budget.check`. Reads over REST wait :meth:`Polling.delay`
seconds: ``poll_interval`` doubling up to :data:`MAX_POLL_DELAY`, never past the
deadline, for at most ``poll_timeout`` seconds from :meth:`Polling.restart`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from runflow.adapters.drive.errors import RunTimeout

__all__ = ["DEFAULT_IDLE_TIMEOUT", "MAX_POLL_DELAY", "Budget", "Polling"]

DEFAULT_IDLE_TIMEOUT = 60.0
"""Seconds a stream may go without an event before the drive loops end it: a
server that only sends keep-alive comments (or nothing) does not hold a drive
forever. ``idle_timeout=None`` turns the bound off."""
MAX_POLL_DELAY = 2.0
"""The longest wait between two reads over REST."""


class Budget:
    """The overall deadline (``deadline`` seconds from now; None: none) and the idle
    bound of each stream (``idle_timeout``)."""

    def __init__(self, deadline: float | None = None,
                 idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT) -> None:
        self.deadline = deadline
        self.idle_timeout = idle_timeout
        self.ends_at = None if deadline is None else time.monotonic() + deadline

    @property
    def bounded(self) -> bool:
        """Whether a stream has anything that ends it early."""
        return self.deadline is not None or self.idle_timeout is not None

    def remaining(self) -> float | None:
        """Seconds left before the overall deadline (None: no deadline)."""
        return None if self.ends_at is None else self.ends_at - time.monotonic()

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def check(self, what: str) -> None:
        """Raise :class:`RunTimeout` once the deadline passed; ``what`` says what
        was not final (``"run run_1 still 'in_progress'"``)."""
        if self.expired():
            raise RunTimeout(f"{what} at the deadline of {self.deadline}s")

    def clip(self, delay: float) -> float:
        """``delay``, cut to what is left of the deadline."""
        left = self.remaining()
        return delay if left is None else max(min(delay, left), 0.0)


@dataclass
class Polling:
    """The waits between reads over REST of one thing (a run, a response)."""

    interval: float
    timeout: float
    first_now: bool = False
    """The first read without a wait (a response just cut); else the first waits
    ``interval`` too (a run just seen in progress)."""
    started: float | None = None
    polls: int = 0

    def restart(self) -> None:
        """Count ``timeout`` from now, and back off from ``interval`` again."""
        self.started, self.polls = time.monotonic(), 0

    def delay(self, budget: Budget) -> float | None:
        """Seconds to wait before the next read, or None once ``timeout`` seconds
        passed since the first one (or the last :meth:`restart`)."""
        now = time.monotonic()
        if self.started is None:
            self.started = now
        elif now - self.started > self.timeout:
            return None
        step = min(self.polls - 1 if self.first_now else self.polls, 64)  # 2**64: past any cap
        self.polls += 1
        delay = 0.0 if step < 0 else min(self.interval * 2 ** step, MAX_POLL_DELAY)
        return budget.clip(delay)
