"""The conform layers that a recording holds, for ``runflow check``.

A recording has no HTTP exchange and no REST read, but it has every event: the
grammar (the flow's violations), the payload invariants and the order
expectations apply, and the findings group by root cause as in ``conform``.
"""

from __future__ import annotations

from typing import Any

from runflow.conform.events import tap_recording
from runflow.conform.findings import Group
from runflow.conform.grade import grade_events
from runflow.conform.grouping import group

__all__ = ["grade_replay"]


def grade_replay(replay: Any) -> list[Group]:
    """The findings of a :class:`runflow.adapters.recording.Replay`, grouped by root cause."""
    flow = replay.flow
    events = tap_recording(flow.protocol, replay.recording)
    if len(events) != flow.event_count:  # numbered otherwise: the grammar alone
        events = []
    findings = grade_events(flow, events)
    return group(findings, events, flow.protocol.root)
