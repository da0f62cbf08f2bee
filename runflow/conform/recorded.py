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

import math
import sys
from collections.abc import Iterator
from typing import Any

from runflow.adapters.recording import Recording
from runflow.adapters.recording_feed import Feeder
from runflow.conform.events import TappedEvent, entity_key, named_event, observed, tap_recording
from runflow.conform.findings import Group
from runflow.conform.grade import Layers, grade_events
from runflow.conform.grouping import group
from runflow.conform.order import Order
from runflow.engine.definition import EntityTable, EventKind, Protocol
from runflow.engine.flow import Flow
from runflow.engine.jsonparse import has_non_finite
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
    return group(findings, events, flow.protocol.root)


class Grader(Layers):
    """The layers (:class:`~runflow.conform.grade.Layers`) fed each event of a
    recording as the flow takes it (see the module docstring); :meth:`groups` at the
    end. A kept finding keeps the line of its event (the feeder's ``keep_line``).

    Most events are deltas, which only move the order layer's last event of their
    entity (and, in a numbered stream, its run of sequence numbers): they take a short
    path when what :func:`~runflow.conform.events.observed` would make of them cannot
    differ from their parse, and no layer but the order layer looks at them (no order
    row names them, they name no step, response or item); any other event takes
    every layer. Which deltas, and how they are placed, comes from the definition:

    * an entity named by id, in a stream whose events are named by the SSE event
      name (Assistants): the data starts with its ``id``;
    * a positioned entity in a stream whose events are named by the data's type
      field and numbered (Responses): the data names a delta by that field, holds
      its sequence number, the next of the stream's run, and its first position
      field (``table.position``: the output index), and no value that
      :func:`~runflow.conform.events.observed` would refuse (a non-finite number).
    """

    def __init__(self, flow: Flow, feeder: Feeder) -> None:
        super().__init__(flow, feeder.keep_line)
        protocol = self.protocol
        self._feeder = feeder
        self._stream = 0
        self._kinds = _bulk(protocol, self.order)
        self._placed = _placed(protocol, self.order)
        if self._placed:
            self.sse_event = self._sse_placed  # type: ignore[method-assign]
        self._type_field = protocol.type_field or ""
        self._sequence_field = protocol.sequence_field or ""
        self._at: Any = None  # the position of the last placed delta that took it
        self._plain = False  # no event waits and the stream is the order layer's
        self._oid: str | None = None  # the id of the last delta that took it
        self._prefix = b""
        self._key = ""

    # -- the feeder's listener ------------------------------------------- #
    def sse_event(self, index: int, name: str | None, raw: bytes | None, parsed: Any) -> None:
        kind = self._kinds.get(name) if self._plain and name is not None else None
        if kind is not None and type(parsed) is dict and raw is not None:
            oid = parsed.get("id")
            if (type(oid) is str and "response" not in parsed and "item" not in parsed
                    and parsed.get("object") not in _STEPS):
                if oid != self._oid:
                    self._short(oid, kind)
                if self._prefix and raw.startswith(self._prefix):
                    order = self.order
                    last, key = order.last, self._key  # order.note, inlined: most events
                    if key in last or len(last) < order.limit:
                        last[key] = (name, index)  # type: ignore[assignment]
                    else:
                        order.note(key, name, index)  # type: ignore[arg-type]
                    return
        self._see(observed(self.protocol, index, self._stream, name, raw, parsed))
        self._feeder.remember(index)
        order = self.order
        self._plain = order.waiting is None and order.stream == self._stream

    def _sse_placed(self, index: int, name: str | None, raw: bytes | None,
                    parsed: Any) -> None:
        """:meth:`sse_event` of a numbered stream of positioned entities (Responses)."""
        if self._plain and type(parsed) is dict:
            named = parsed.get(self._type_field)
            if type(named) is str and (field := self._placed.get(named)) is not None:
                seq = parsed.get(self._sequence_field)
                at = parsed.get(field)
                if type(seq) is int and type(at) is int and "object" not in parsed:
                    # _finite of each value, inlined for the usual ones: an integer in
                    # fewer than _HUGE bytes of JSON is within the float range
                    small = raw is not None and len(raw) < _HUGE
                    for value in parsed.values():
                        if not value or type(value) is str or (type(value) is int and small):
                            continue
                        if not _finite(value):
                            break
                    else:
                        if at != self._at:
                            self._at = at
                            self._key = entity_key(self.protocol, observed(
                                self.protocol, index, self._stream, name, raw, parsed)) or ""
                        order, key = self.order, self._key
                        seen = order.seen  # order.note_next, inlined: most events
                        if key and seq == seen.high and seen.low < seq and not seen.others:
                            seen.high = seq + 1
                            last = order.last
                            if key in last or len(last) < order.limit:
                                last[key] = (named, index)
                            else:
                                order.note(key, named, index)
                            return
        self._see(observed(self.protocol, index, self._stream, name, raw, parsed))
        self._feeder.remember(index)
        order = self.order
        self._plain = order.waiting is None and order.stream == self._stream

    def _short(self, oid: str, kind: str) -> None:
        """The text the data of a delta about ``oid`` starts with, when it can take the
        short path (the first ``"id"`` the raw data holds is then ``oid``)."""
        self._oid, self._key, self._prefix = oid, f"{kind}:{oid}", b""
        if 0 < len(oid) <= 200 and '"' not in oid and "\\" not in oid:
            try:
                self._prefix = b'{"id":"' + oid.encode() + b'"'
            except UnicodeEncodeError:  # a lone surrogate, from an escape
                pass

    def jsonl_event(self, index: int, record: Any, raw: bytes) -> None:
        if isinstance(record, dict):
            name = record.get("event") if isinstance(record.get("event"), str) else None
            data = record.get("data") if "event" in record else record
        else:
            name, data = None, None
        self._see(named_event(self.protocol, index, self._stream, name, data, raw))

    def settle(self, violations: list[Violation]) -> None:
        """The grouping key of the event each violation names, while the feeder holds it."""
        for violation in violations:
            index = violation.index
            if index in self.keys:
                continue
            entry = self._feeder.entry(index)
            if entry is not None:
                name, raw, _offset, parsed = entry
                event = observed(self.protocol, index, 0, name, raw, parsed)
                self.keys[index] = entity_key(self.protocol, event)
            elif self.last is not None and self.last.index == index:
                self.keys[index] = entity_key(self.protocol, self.last)

    # -- the layers -------------------------------------------------------- #
    def _see(self, event: TappedEvent) -> None:
        self.see(event)
        if event.name == "done":
            self._stream += 1

    def groups(self) -> list[Group]:
        """Every finding of the grammar, payload and order layers, grouped by root cause
        (call once, when the input ended)."""
        return group(self.findings(), root=self.protocol.root, announcers=self.announcers)


_STEPS = ("thread.run.step", "thread.run.step.delta")
"""The objects the grouping's announcers read (:class:`~runflow.conform.grouping.Announcers`)."""


_FLOAT_MAX = int(sys.float_info.max)
_HUGE = len(str(_FLOAT_MAX))
"""Digits of the largest integer a float holds (309): a shorter JSON text holds none larger."""


def _finite(value: Any) -> bool:
    """Whether ``value`` (of a delta's data) holds no number that
    :func:`~runflow.conform.events.observed` refuses, which makes it drop the data
    (:func:`~runflow.engine.jsonparse.has_non_finite`: infinite, NaN, or an integer
    past the float range)."""
    if type(value) is int:
        return -_FLOAT_MAX <= value <= _FLOAT_MAX
    if type(value) is float:
        return math.isfinite(value)
    return not has_non_finite(value)


def _placed(protocol: Protocol, order: Order) -> dict[str, str]:
    """Name -> the first position field of the deltas of a numbered stream that may
    take the short path (:meth:`Grader._sse_placed`): named by the data's type field,
    about a positioned child, and no order row's event. Their grouping key is that
    of the position (:func:`~runflow.conform.events.entity_key`: ``output/N``)."""
    if protocol.type_field is None or not order.numbered:
        return {}
    return {name: table.position[0] for name, table in _child_deltas(protocol, order)
            if table.position}


def _bulk(protocol: Protocol, order: Order) -> dict[str, str]:
    """Name -> entity kind of the deltas that may take the short path: named by their
    SSE event name (the protocol names no event by its data, and numbers none), about
    a child named by id, and no order row's event."""
    if protocol.type_field is not None or protocol.sequence_field is not None:
        return {}
    return {name: table.entity for name, table in _child_deltas(protocol, order)
            if not table.position}


def _child_deltas(protocol: Protocol, order: Order) -> Iterator[tuple[str, EntityTable]]:
    """The delta events about a child entity (not the root) that no order row names,
    with the child's table: the candidates for either short path."""
    rows = order.names()
    for name, (kind_of_event, kind) in protocol.routes.items():
        if kind_of_event is not EventKind.DELTA or kind is None or name in rows:
            continue
        table = protocol.tables.get(kind)
        if table is not None and table.role != "root":
            yield name, table
