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

from runflow.adapters.recording import Recording
from runflow.adapters.recording_feed import Feeder
from runflow.conform.events import TappedEvent, entity_key, named_event, observed, tap_recording
from runflow.conform.findings import Finding, Group
from runflow.conform.grade import Layers, grade_events
from runflow.conform.grouping import group
from runflow.conform.short_paths import (
    Listen,
    Paths,
    every_path,
    named_deltas,
    named_path,
    placed_deltas,
    placed_path,
)
from runflow.engine.flow import Flow, Observer
from runflow.engine.violations import Violation

__all__ = ["Grader", "grade_replay"]


def grade_replay(replay: Any) -> list[Group]:
    """The findings of a :class:`runflow.adapters.recording.Replay` of a recording held
    in memory, grouped by root cause."""
    flow = replay.flow
    if not isinstance(replay.recording, Recording):
        raise TypeError("a recording read in chunks is graded as it is read (Grader), "
                        "not after: its events are not kept")
    events = tap_recording(flow.protocol, replay.recording)
    if len(events) != flow.event_count:  # numbered otherwise: the grammar alone
        events = []
    findings = grade_events(flow, events)
    return group(findings, events, protocol=flow.protocol)


class Grader(Layers):
    """The layers (:class:`~runflow.conform.grade.Layers`) fed each event of a
    recording as the flow takes it (see the module docstring); :meth:`groups` at the
    end. A kept finding keeps the line of its event (the feeder's ``keep_line``).

    Of an SSE recording it is the flow's observer itself
    (:class:`~runflow.adapters.recording_feed.Observing`). Most events are deltas,
    which take a short path past the layers when nothing but the order layer's last
    event of their entity could come of them (:mod:`runflow.conform.short_paths`,
    chosen from the definition); any other event takes every layer (:meth:`_long`)."""

    def __init__(self, flow: Flow, feeder: Feeder, *, types: bool = True) -> None:
        super().__init__(flow, feeder.keep_line, types=types)
        protocol, order = self.protocol, self.order
        self._feeder = feeder
        self._stream = 0
        placed, kinds = placed_deltas(protocol, order), named_deltas(protocol, order)
        self._path: Paths = (
            placed_path(protocol, order, placed, self._long) if placed
            else named_path(protocol, order, kinds, self._long) if kinds
            else every_path(self._long))
        self._typed: Listen | None = None
        """With ``types``: the types layer's typing of delta and value events, ahead of
        the path (:meth:`runflow.conform.sdk_types.SdkTypes.ahead`)."""
        if self.types is not None:
            payloads = self._found[0]
            self._typed = self.types.ahead(lambda f: self._keep(f, payloads))

    def sse_observer(self, feeder: Feeder, offsets: list[int], start: int) -> Observer:
        """The flow's observer for one chunk: the path's (see the class docstring),
        behind the types layer's typing with ``types``."""
        observe = self._path.observer(feeder, offsets, start)
        typed = self._typed
        if typed is None:
            return observe
        violations = feeder.flow.violations

        def typed_observe(name: str | None, raw: bytes | None, offset: int,
                          parsed: Any) -> None:
            if len(violations) != feeder.settled:  # the feeder's part first, as the path does
                feeder.settle()
            typed(start + len(offsets), name, raw, parsed)  # the index the path gives it
            observe(name, raw, offset, parsed)

        return typed_observe

    def sse_event(self, index: int, name: str | None, raw: bytes | None, parsed: Any) -> None:
        """One SSE event through every layer (the feeder calls :meth:`sse_observer`'s
        observer instead)."""
        self._long(index, name, raw, parsed)

    def _long(self, index: int, name: str | None, raw: bytes | None, parsed: Any) -> bool:
        """One SSE event through every layer; whether the next may take a short path
        (no event waits for its successor and the stream is the order layer's)."""
        self._see(observed(self.protocol, index, self._stream, name, raw, parsed))
        self._feeder.remember(index)
        order = self.order
        return order.waiting is None and order.stream == self._stream

    def jsonl_event(self, index: int, record: Any, raw: bytes) -> None:
        if isinstance(record, dict):
            name = record.get("event") if isinstance(record.get("event"), str) else None
            data = record.get("data") if "event" in record else record
        else:
            name, data = None, None
        self._see(named_event(self.protocol, index, self._stream, name, data, raw))

    def settle(self, violations: list[Violation]) -> None:
        """The grouping key of the event each violation names, when it is the last
        event: one that took the short path (its key), or the layers' last."""
        key_of = self._path.key_of
        for violation in violations:
            index = violation.index
            if index in self.keys:
                continue
            key = key_of(index)
            if key is not None:
                self.keys[index] = key
            elif self.last is not None and self.last.index == index:
                self.keys[index] = entity_key(self.protocol, self.last)

    # -- the layers -------------------------------------------------------- #
    def _see(self, event: TappedEvent) -> None:
        self.see(event)
        if event.name == "done":
            self._stream += 1

    def findings(self) -> list[Finding]:
        """Every finding (:meth:`Layers.findings`), the short path's last run noted first."""
        self._path.flush()
        found = super().findings()
        self._feeder.find_lines()  # of the events found about, if the feeder waited
        return found

    def groups(self) -> list[Group]:
        """Every finding of the grammar, payload and order layers, grouped by root cause
        (call once, when the input ended)."""
        return group(self.findings(), announcers=self.announcers, protocol=self.protocol)

