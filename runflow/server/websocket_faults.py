"""The fault switches of the emulator's WebSocket mode, and which server frame a frame
fault takes.

``drop``, ``cut``, ``duplicate`` and ``wrong_lane`` act on one server frame: the first
at or after transcript index ``at`` that the fault can act on (``wrong_lane`` waits
for a frame about an item while another lane runs, which that lane could receive;
``drop`` waits for a frame inside a response, so that one comes after it); each acts
once. The others change the whole connection and are read where they act
(:mod:`.websocket`): ``steer_unacked`` sends no ``response.steer.accepted``,
``successor_uncommitted`` makes an automatic successor continue from nothing,
``busy_lane`` answers a create on a lane that is still running at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runflow.server.store import JSON

__all__ = ["FAULTS", "FRAME_FAULTS", "Cut", "WsFault", "frame_fault"]

FAULTS = ("drop", "cut", "duplicate", "wrong_lane", "steer_unacked",
          "successor_uncommitted", "busy_lane")
"""Fault switches; ``drop``/``cut``/``duplicate``/``wrong_lane`` act on the first server
frame at or after transcript index ``at``; the others on the whole connection."""
FRAME_FAULTS = ("drop", "cut", "duplicate", "wrong_lane")
"""The faults that act on one server frame (:func:`frame_fault`)."""


@dataclass(frozen=True)
class WsFault:
    name: str
    at: int = 0


class Cut(Exception):
    """The ``cut`` fault: end the socket now."""


def frame_fault(faults: Mapping[str, WsFault], sent: int, event: JSON,
                other_lanes: Sequence[str | None]) -> WsFault | None:
    """The frame fault that takes ``event``, the next server frame (``sent``: frames in
    the transcript so far; ``other_lanes``: the lanes running besides the event's), or
    None: the first frame fault due, unless this frame is not one it acts on."""
    fault = next((f for f in faults.values() if f.name in FRAME_FAULTS and sent >= f.at),
                 None)
    if fault is not None and fault.name == "wrong_lane" and (
            not other_lanes or "item_id" not in event):
        return None  # wait for a frame another lane could receive
    if fault is not None and fault.name == "drop" and "response" in event:
        return None  # drop a frame inside a response, so that one comes after it
    return fault
