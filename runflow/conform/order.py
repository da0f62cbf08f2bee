"""Order expectations checked on a flow's events, each at its row's severity
(a warning where only captures show it, an error where a document requires it).

The rows (:mod:`runflow.protocols.order`: :class:`Follows`, :class:`Next`,
:class:`Repeats`) live in each protocol's folder and come from its registry row;
this module checks them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from runflow.conform.events import TappedEvent, carried, entity_key
from runflow.conform.findings import Finding
from runflow.engine.definition import EventKind, Protocol
from runflow.engine.limits import Limits
from runflow.protocols.order import Expectation, Follows, Next, Repeats
from runflow.protocols.registry import row_of

__all__ = ["Expectation", "Follows", "Next", "Order", "Repeats", "Seen", "check_order",
           "expectations_for"]


def expectations_for(protocol: Protocol) -> tuple[Expectation, ...]:
    """The order rows of ``protocol``'s registry row."""
    return row_of(protocol).order


class Order:
    """The order layer fed one event at a time (:meth:`see`, then :meth:`end`).

    Between events it keeps, for the current stream only (a slot is per stream, and
    streams only go forward), the last event's name and index per entity, the
    sequence numbers seen (as runs, :class:`Seen`) and the one event waiting for
    what must come next: no event and no payload. Slots are bounded by
    :class:`~runflow.engine.limits.Limits` (``max_entities`` + ``max_index``; past it
    the oldest is forgotten)."""

    __slots__ = ("_follows", "_nexts", "_protocol", "_repeats", "last", "limit", "seen",
                 "stream", "waiting")

    def __init__(self, protocol: Protocol, limits: Limits | None = None) -> None:
        limits = limits or Limits()
        rows = expectations_for(protocol)
        self._protocol = protocol
        self._follows = {r.event: r for r in rows if isinstance(r, Follows)}
        self._nexts = [r for r in rows if isinstance(r, Next)]
        self._repeats = [r for r in rows if isinstance(r, Repeats)]
        self.limit = limits.max_entities + limits.max_index
        self.stream = -1
        """The stream the last event came in."""
        self.last: dict[str, tuple[str, int]] = {}
        """Entity key -> (name, index) of its last event in the current stream."""
        self.seen = Seen(self.limit)
        """The sequence numbers of the current stream."""
        self.waiting: tuple[Next, _Placed] | None = None
        """The event waiting for what must come next, with its row."""

    def see(self, event: TappedEvent) -> list[Finding]:
        protocol = self._protocol
        route = protocol.routes.get(event.name or "")
        if route is None or route[0] is EventKind.IGNORED:
            return []  # unknown events and heartbeats: clients ignore them (OR-spec)
        out: list[Finding] = []
        if event.stream != self.stream:
            self.stream = event.stream
            self.last = {}
            self.seen = Seen(self.limit)
        if self.waiting is not None:
            row, first = self.waiting
            self.waiting = None
            if event.stream != first.stream:
                if row.required:
                    out.append(_missing(row, first))
            elif event.name not in row.then:
                out.append(Finding(row.id, row.severity,
                                   f"{event.name} came right after {row.event} "
                                   f"(#{first.index}); {_who(row)} {' or '.join(row.then)} "
                                   "next", event.index, event.name, key=first.key))
        field_ = protocol.sequence_field
        if field_ is not None and self._repeats and isinstance(event.data, dict):
            seq = event.data.get(field_)
            if isinstance(seq, int) and not self.seen.add(seq):
                out.append(Finding(self._repeats[0].id, self._repeats[0].severity,
                                   f"{event.name} repeats {field_} {seq} within one stream",
                                   event.index, event.name, key=entity_key(protocol, event)))
        for nxt in self._nexts:
            if nxt.event == event.name:
                found = carried(protocol, event)
                if nxt.when is None or (found is not None and found.state == nxt.when):
                    self.waiting = (nxt, _Placed(event.index, event.name, event.stream,
                                                  first_key(protocol, event)))
        key = entity_key(protocol, event)
        if key is None or event.name is None:
            return out
        last = self.last
        row_ = self._follows.get(event.name)
        before = last.get(key)
        if row_ is not None and before is not None and before[0] not in row_.after:
            out.append(Finding(row_.id, row_.severity,
                               f"{event.name} came right after {before[0]} (#{before[1]}); "
                               f"every capture sends {' or '.join(row_.after)} before it",
                               event.index, event.name, key=key))
        if before is None and len(last) >= self.limit:
            del last[next(iter(last))]
        last[key] = (event.name, event.index)
        return out

    def names(self) -> frozenset[str]:
        """The event names a row looks at beyond the last event per entity: for any
        other event :meth:`see` only notes it (:meth:`note`), when no event waits and
        the stream is the same."""
        rows = expectations_for(self._protocol)
        return frozenset(r.event for r in rows if isinstance(r, (Follows, Next)))

    def note(self, key: str, name: str, index: int) -> None:
        """What :meth:`see` does with an event of another name than :meth:`names` of
        the current stream whose key is ``key``, while no event waits, beside noting
        its sequence number (none, or :meth:`Seen.next`)."""
        last = self.last
        if key not in last and len(last) >= self.limit:
            del last[next(iter(last))]
        last[key] = (name, index)

    def note_next(self, key: str, name: str, index: int, seq: int) -> bool:
        """What :meth:`see` does with an event of another name than :meth:`names`, of
        the current stream, while no event waits, when its sequence number ``seq`` is
        the next of the stream's run (:meth:`Seen.next`: a number never seen, no
        finding); False, having done nothing, when it is not (:meth:`see` then takes
        the event)."""
        if not self.seen.next(seq):
            return False
        self.note(key, name, index)
        return True

    @property
    def numbered(self) -> bool:
        """Whether :meth:`see` checks sequence numbers (a :class:`Repeats` row and the
        protocol's ``sequence_field``)."""
        return bool(self._repeats) and self._protocol.sequence_field is not None

    def end(self) -> list[Finding]:
        """The findings the end of the input makes (a required event never came)."""
        waiting, self.waiting = self.waiting, None
        if waiting is not None and waiting[0].required:
            return [_missing(*waiting)]
        return []


@dataclass(frozen=True, slots=True)
class _Placed:
    """What the order layer keeps of an event waiting for its successor."""

    index: int
    name: str | None
    stream: int
    key: str | None


class Seen:
    """The sequence numbers of one stream: a run ``[low, high)`` (a stream counts up,
    so it is usually all there is) and the numbers outside it, at most ``limit``."""

    __slots__ = ("_limit", "high", "low", "others")

    def __init__(self, limit: int) -> None:
        self.low = self.high = 0
        self.others: set[int] = set()
        self._limit = limit

    def next(self, seq: int) -> bool:
        """Note ``seq`` when it is the number right after a run and no number outside
        the run was seen (nearly every event of a stream counting up), as :meth:`add`
        would; False, noting nothing, otherwise."""
        if seq == self.high and self.low < seq and not self.others:
            self.high = seq + 1
            return True
        return False

    def add(self, seq: int) -> bool:
        """Note ``seq``; False when it was seen before."""
        if self.low <= seq < self.high or seq in self.others:
            return False
        if self.low == self.high:
            self.low, self.high = seq, seq + 1
        elif seq == self.high:
            self.high += 1
            while self.high in self.others:
                self.others.discard(self.high)
                self.high += 1
        elif seq == self.low - 1:
            self.low -= 1
            while self.low - 1 in self.others:
                self.others.discard(self.low - 1)
                self.low -= 1
        elif len(self.others) < self._limit:
            self.others.add(seq)
        return True


def check_order(protocol: Protocol, events: Iterable[TappedEvent]) -> Iterator[Finding]:
    """The order findings of one flow's events (:class:`Order` over ``events``)."""
    layer = Order(protocol)
    for event in events:
        yield from layer.see(event)
    yield from layer.end()


def first_key(protocol: Protocol, event: TappedEvent) -> str | None:
    """The key of a finding about the event waiting for its successor."""
    return entity_key(protocol, event)


def _who(row: Next) -> str:
    """Who says what comes next: the captures, or the document the row cites."""
    return "every capture sends" if row.source == "captures" else f"the {row.source} requires"


def _missing(row: Next, event: _Placed) -> Finding:
    return Finding(row.id, row.severity,
                   f"the stream ended right after {row.event} (#{event.index}); {_who(row)} "
                   f"{' or '.join(row.then)} next", event.index, event.name,
                   key=None)
