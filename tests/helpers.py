"""Helpers shared by the test modules (imported as ``from helpers import ...``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runflow import RunFlow

__all__ = ["feed_all"]


def feed_all(events: Iterable[Any], flow: RunFlow | None = None, *, close: bool = False,
             **options: Any) -> RunFlow:
    """Feed every event into ``flow`` (by default a new ``RunFlow(**options)``) and
    return it; ``close=True`` also closes the stream."""
    if flow is None:
        flow = RunFlow(**options)
    elif options:
        raise TypeError("options are for a new flow; pass them to RunFlow instead")
    for event in events:
        flow.feed(event)
    if close:
        flow.close()
    return flow
