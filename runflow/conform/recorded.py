"""The conform layers that a recording holds, for ``runflow check``.

A recording has no HTTP exchange and no REST read, but it has every event: the
grammar (the flow's violations), the payload invariants and the order
expectations apply, and the findings group by root cause as in ``conform``.

:class:`Grader` grades a recording as it is read (a
:class:`~runflow.adapters.recording_feed.Listener` of the feeder): each layer sees
each event once, as it arrives, beside the flow, and keeps only what its rules need.
Of an event, only the grouping key of one a violation names is kept. The findings
are those the same layers give run over the list of every event
(:func:`grade_replay`, for a recording held in memory), in the same order.
"""

from __future__ import annotations

from typing import Any

from runflow.adapters.recording_feed import Feeder
from runflow.conform.events import TappedEvent, entity_key, named_event, observed, tap_recording
from runflow.conform.findings import Finding, Group
from runflow.conform.grade import grade_events, judged, violation_finding
from runflow.conform.grouping import Announcers, group
from runflow.conform.order import Order
from runflow.conform.payload import Payloads
from runflow.engine.flow import Flow
from runflow.engine.violations import Violation

__all__ = ["Grader", "grade_replay"]


def grade_replay(replay: Any) -> list[Group]:
    """The findings of a :class:`runflow.adapters.recording.Replay` of a recording held
    in memory, grouped by root cause."""
    flow = replay.flow
    events = tap_recording(flow.protocol, replay.recording)
    if len(events) != flow.event_count:  # numbered otherwise: the grammar alone
        events = []
    findings = grade_events(flow, events)
    return group(findings, events, flow.protocol.root)


class Grader:
    """The payload and order layers and the grouping's announcers, fed each event of a
    recording as the flow takes it (see the module docstring); :meth:`groups` at the
    end. Per rule, at most ``Limits.max_repeated_violations`` findings are kept (as
    the flow keeps violations); the others are counted in :attr:`suppressed`."""

    def __init__(self, flow: Flow, feeder: Feeder) -> None:
        protocol = flow.protocol
        self._flow = flow
        self._feeder = feeder
        self._protocol = protocol
        self._payloads = Payloads(protocol)
        self._order = Order(protocol, flow.limits)
        self._announcers = Announcers(flow.limits)
        self._found: tuple[list[Finding], list[Finding]] = ([], [])
        self._keys: dict[int, str | None] = {}
        self._event: TappedEvent | None = None
        self._stream = 0
        self._counts: dict[str, int] = {}
        self._cap = flow.limits.max_repeated_violations
        self.suppressed = 0
        """Findings past the cap of their rule, counted and not kept."""

    # -- the feeder's listener ------------------------------------------- #
    def sse_event(self, name: str | None, raw: bytes | None, parsed: Any) -> None:
        self._see(observed(self._protocol, self._flow.event_count, self._stream, name, raw,
                           parsed))

    def jsonl_event(self, record: Any, raw: bytes) -> None:
        if isinstance(record, dict):
            name = record.get("event") if isinstance(record.get("event"), str) else None
            data = record.get("data") if "event" in record else record
        else:
            name, data = None, None
        self._see(named_event(self._protocol, self._flow.event_count, self._stream, name,
                              data, raw))

    def settle(self, violations: list[Violation], line: int | None) -> None:
        event = self._event  # the last event: what the violations since it are about
        if event is None:
            return
        for violation in violations:
            if violation.index == event.index and event.index not in self._keys:
                self._keys[event.index] = entity_key(self._protocol, event)

    # -- the layers -------------------------------------------------------- #
    def _see(self, event: TappedEvent) -> None:
        self._event = event  # kept until the next event, for the violations it gets
        payloads, orders = self._found
        for finding in self._payloads.see(event):
            self._keep(finding, payloads)
        for finding in self._order.see(event):
            self._keep(finding, orders)
        self._announcers.see(event)
        if event.name == "done":
            self._stream += 1

    def _keep(self, finding: Finding, into: list[Finding]) -> None:
        count = self._counts.get(finding.rule, 0)
        self._counts[finding.rule] = count + 1
        if count >= self._cap:
            self.suppressed += 1
            return
        into.append(finding)
        self._feeder.keep_line(finding.index)

    def groups(self) -> list[Group]:
        """Every finding of the grammar, payload and order layers, grouped by root cause
        (call once, when the input ended)."""
        for finding in self._order.end():
            self._keep(finding, self._found[1])
        flow, protocol = self._flow, self._protocol
        found = [violation_finding(protocol, v, {}, keys=self._keys) for v in flow.violations]
        found += judged(flow, [*self._found[0], *self._found[1]])
        found.sort(key=lambda f: f.index if f.index is not None else 1 << 60)
        return group(found, root=protocol.root, announcers=self._announcers)
