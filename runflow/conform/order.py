"""Order expectations checked on a flow's events, each at its row's severity
(a warning where only captures show it, an error where a document requires it).

The rows (:mod:`runflow.protocols.order`: :class:`Follows`, :class:`Next`,
:class:`Repeats`) live in each protocol's folder and come from its registry row;
this module checks them.
"""

from __future__ import annotations

from collections.abc import Iterator

from runflow.conform.events import TappedEvent, carried, entity_key
from runflow.conform.findings import Finding
from runflow.engine.definition import EventKind, Protocol
from runflow.protocols.order import Expectation, Follows, Next, Repeats
from runflow.protocols.registry import row_of

__all__ = ["Expectation", "Follows", "Next", "Repeats", "check_order", "expectations_for"]


def expectations_for(protocol: Protocol) -> tuple[Expectation, ...]:
    """The order rows of ``protocol``'s registry row."""
    return row_of(protocol).order


def check_order(protocol: Protocol, events: list[TappedEvent]) -> Iterator[Finding]:
    """The order findings of one flow's events."""
    rows = expectations_for(protocol)
    follows = {r.event: r for r in rows if isinstance(r, Follows)}
    nexts = [r for r in rows if isinstance(r, Next)]
    repeats = [r for r in rows if isinstance(r, Repeats)]
    last: dict[tuple[int, str], TappedEvent] = {}
    waiting: tuple[Next, TappedEvent] | None = None
    seen: dict[int, set[int]] = {}
    field_ = protocol.sequence_field
    for event in events:
        route = protocol.routes.get(event.name or "")
        if route is None or route[0] is EventKind.IGNORED:
            continue  # unknown events and heartbeats: clients ignore them (OR-spec)
        if waiting is not None:
            row, first = waiting
            waiting = None
            if event.stream != first.stream:
                if row.required:
                    yield _missing(row, first)
            elif event.name not in row.then:
                yield Finding(row.id, row.severity,
                              f"{event.name} came right after {row.event} (#{first.index}); "
                              f"{_who(row)} {' or '.join(row.then)} next", event.index,
                              event.name, key=first_key(protocol, first))
        if field_ is not None and repeats and isinstance(event.data, dict):
            seq = event.data.get(field_)
            if isinstance(seq, int):
                numbers = seen.setdefault(event.stream, set())
                if seq in numbers:
                    yield Finding(repeats[0].id, repeats[0].severity,
                                  f"{event.name} repeats {field_} {seq} within one stream",
                                  event.index, event.name, key=entity_key(protocol, event))
                numbers.add(seq)
        for nxt in nexts:
            if nxt.event == event.name:
                found = carried(protocol, event)
                if nxt.when is None or (found is not None and found.state == nxt.when):
                    waiting = (nxt, event)
        key = entity_key(protocol, event)
        if key is None or event.name is None:
            continue
        slot = (event.stream, key)
        row_ = follows.get(event.name)
        before = last.get(slot)
        if row_ is not None and before is not None and before.name not in row_.after:
            yield Finding(row_.id, row_.severity,
                          f"{event.name} came right after {before.name} (#{before.index}); "
                          f"every capture sends {' or '.join(row_.after)} before it",
                          event.index, event.name, key=key)
        last[slot] = event
    if waiting is not None and waiting[0].required:
        yield _missing(*waiting)


def first_key(protocol: Protocol, event: TappedEvent) -> str | None:
    return entity_key(protocol, event)


def _who(row: Next) -> str:
    """Who says what comes next: the captures, or the document the row cites."""
    return "every capture sends" if row.source == "captures" else f"the {row.source} requires"


def _missing(row: Next, event: TappedEvent) -> Finding:
    return Finding(row.id, row.severity,
                   f"the stream ended right after {row.event} (#{event.index}); {_who(row)} "
                   f"{' or '.join(row.then)} next", event.index, event.name,
                   key=None)
