"""Fault injection for event streams.

A :class:`Fault` describes how one HTTP stream is damaged on its way to the
client. The server-side run is unaffected: every event is still applied to the
store before the fault decides what (if anything) goes on the wire.

Syntax (``parse_fault``, the ``X-Runflow-Fault`` header, the CLI), comma separated::

    cut_after=5     close the connection abruptly after 5 frames were written (no done)
    error_after=3   after 3 written frames send an ``error`` event and end (no done)
    corrupt=3       break the JSON of event 3
    duplicate=4     send event 4 twice
    drop=4          never send event 4
    swap=4          send event 5 before event 4
    unknown=2       send an unknown ``thread.run.step.mystery`` event before event 2
    delay=0.05      wait 0.05 s between frames (at most MAX_DELAY seconds)
    none            no fault at all (in a header: switch off the server-wide faults)

Event numbers count the events of the unmodified stream from 1 (``done``
included); ``cut_after`` and ``error_after`` count frames actually written, so
``cut_after=0`` closes the connection before the first event and
``error_after=0`` sends the ``error`` event first. A field left out is ``None``
(unset); every value that is set is honoured, zero included.

The ``error`` event is the stream's protocol's own: :func:`apply_faults` takes the
function that builds it from the frame it displaces (the Assistants shape by
default; the Responses API's carries that frame's ``sequence_number``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from runflow.server.sse import Frame, encode_event, error_frame, make_frame

__all__ = [
    "FAULT_HEADER", "MAX_DELAY", "Cut", "ErrorFrame", "Fault", "FaultSyntaxError",
    "apply_faults", "assistants_error", "parse_fault",
]

FAULT_HEADER = "X-Runflow-Fault"
UNKNOWN_EVENT = "thread.run.step.mystery"
ERROR_MESSAGE = "The server had an error processing your request. (injected by runflow)"

MAX_DELAY = 60.0
"""Longest ``delay`` accepted: a stream waiting longer is a mistake, not a test."""
NONE = "none"

ErrorFrame = Callable[[Frame], Frame]
"""Builds the injected ``error`` event from the frame it displaces."""

_INT_FIELDS = ("cut_after", "error_after", "corrupt", "duplicate", "drop", "swap", "unknown")


class FaultSyntaxError(ValueError):
    """A fault specification could not be parsed."""


@dataclass(frozen=True)
class Fault:
    """How to damage one stream. All fields are optional and combine."""

    cut_after: int | None = None
    error_after: int | None = None
    corrupt: int | None = None
    duplicate: int | None = None
    drop: int | None = None
    swap: int | None = None
    unknown: int | None = None
    delay: float | None = None

    def merge(self, other: Fault) -> Fault:
        """Fields set in ``other`` (zero included) win."""
        changes = {
            f.name: getattr(other, f.name)
            for f in dataclasses.fields(other)
            if getattr(other, f.name) is not None
        }
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        """The spec that parses back to this fault (``none`` when nothing is set)."""
        parts = [
            f"{f.name}={getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        ]
        return ",".join(parts) or NONE


@dataclass(frozen=True)
class Cut:
    """Marker: close the connection now, without the final chunk."""


def parse_fault(spec: str) -> Fault:
    """Parse ``"cut_after=5,delay=0.01"`` into a :class:`Fault` (``""``/``none``: no fault)."""
    values: dict[str, int | float] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item or item.lower() == NONE:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if name != "delay" and name not in _INT_FIELDS:
            known = ", ".join((*_INT_FIELDS, "delay", NONE))
            raise FaultSyntaxError(f"unknown fault {name!r} in {spec!r}; known: {known}")
        try:
            if not sep:
                raise ValueError
            if name == "delay":
                delay = float(value)
                if not math.isfinite(delay) or delay < 0:
                    raise ValueError
                if delay > MAX_DELAY:
                    raise FaultSyntaxError(
                        f"bad fault {item!r}: delay is at most {MAX_DELAY:g} seconds")
                values[name] = delay
            else:
                number = int(value)
                if number < (0 if name in ("cut_after", "error_after") else 1):
                    raise ValueError
                values[name] = number
        except FaultSyntaxError:
            raise
        except ValueError:
            low = 0 if name in ("cut_after", "error_after") else 1
            what = "seconds >= 0" if name == "delay" else f"an integer >= {low}"
            raise FaultSyntaxError(f"bad fault {item!r}: expected {name}={what}") from None
    return Fault(**values)  # type: ignore[arg-type]


def corrupt_frame(frame: Frame) -> Frame:
    """Keep the event name but cut the data in half, so it is not valid JSON."""
    data = frame.data or ""
    broken = data[: len(data) // 2] or "{"
    return make_frame(frame.event, broken)


def unknown_frame() -> Frame:
    """An event no client knows, carrying an object as documented events do."""
    return encode_event(
        UNKNOWN_EVENT,
        {"id": "mystery_0", "object": UNKNOWN_EVENT, "created_at": int(time.time())},
    )


def _reshape(frames: Iterator[Frame], fault: Fault) -> Iterator[Frame]:
    """Apply the per-event faults (numbered on the unmodified stream)."""
    held: Frame | None = None
    for number, frame in enumerate(frames, start=1):
        if fault.unknown == number:
            yield unknown_frame()
        if fault.drop == number:
            continue
        if fault.corrupt == number:
            frame = corrupt_frame(frame)
        copies = 2 if fault.duplicate == number else 1
        if fault.swap == number:
            held = frame
            continue
        for _ in range(copies):
            yield frame
        if held is not None:
            yield held
            held = None
    if held is not None:
        yield held


def assistants_error(displaced: Frame) -> Frame:
    """The Assistants ``error`` event: ``{"error": {...}}`` (see :func:`.sse.error_frame`)."""
    return error_frame(ERROR_MESSAGE)


def apply_faults(frames: Iterator[Frame], fault: Fault,
                 error: ErrorFrame = assistants_error) -> Iterator[Frame | Cut]:
    """Yield the frames to write, ending with :class:`Cut` when the connection must drop.

    Frames are pulled lazily, so the producer (which updates the store) runs just
    ahead of the writer; the caller drains ``frames`` after a cut or an error.
    """
    written = 0
    for frame in _reshape(frames, fault):
        if fault.cut_after is not None and written >= fault.cut_after:
            yield Cut()
            return
        if fault.error_after is not None and written >= fault.error_after:
            yield error(frame)
            return
        yield frame
        written += 1
