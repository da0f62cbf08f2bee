"""Payload invariants (:mod:`runflow.protocols.payload`; each protocol's rows are in its
registry row) checked on a flow's events, one event at a time as it arrives
(:class:`Payloads`): each finding holds an excerpt of the offending value
(:func:`~runflow.engine.accumulator.shorten`), never the payload, and nothing else is
kept between events."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from runflow.conform.events import TappedEvent, carried, entity_key
from runflow.conform.findings import Finding
from runflow.engine.accumulator import shorten
from runflow.engine.definition import Protocol
from runflow.protocols.payload import Expect, Invariant
from runflow.protocols.registry import row_of

__all__ = ["Payloads", "check_payloads", "holds"]

_MISSING = object()


def holds(row: Invariant, state: str, obj: dict[str, Any]) -> str | None:
    """None when ``obj`` keeps ``row`` in ``state``, else what is wrong."""
    expect = row.expect.get(state)
    if expect is None:
        return None
    value = obj.get(row.field, _MISSING)
    shown = "absent" if value is _MISSING else shorten(value)
    if expect is Expect.SET and (value is _MISSING or value is None):
        return f"{row.field} is {'absent' if value is _MISSING else 'null'}; it is set at {state}"
    if expect is Expect.NULL and value is not _MISSING and value is not None:
        return f"{row.field} is {shown}; it is null at {state}"
    if expect is Expect.SET_IF_PRESENT and value is None:
        return f"{row.field} is null; when sent, it is set at {state}"
    if expect is Expect.EQUALS and value != row.value:
        return f"{row.field} is {shown}, not {row.value!r}"
    if expect is Expect.PREFIX and not (isinstance(value, str) and value.startswith(
            row.value or "")):
        return f"{row.field} is {shown}, which does not start with {row.value!r}"
    return None


class Payloads:
    """The payload layer fed one event at a time: :meth:`see` gives the findings of
    that event (one per invariant its object breaks)."""

    __slots__ = ("_protocol", "_rows")

    def __init__(self, protocol: Protocol) -> None:
        self._protocol = protocol
        self._rows: dict[str, list[Invariant]] = {}
        for row in row_of(protocol).invariants:
            self._rows.setdefault(row.entity, []).append(row)

    def see(self, event: TappedEvent) -> list[Finding]:
        protocol = self._protocol
        found = carried(protocol, event)
        if found is None:
            return []
        out: list[Finding] = []
        for row in self._rows.get(found.kind, ()):
            if row.events is not None and event.name not in row.events:
                continue
            problem = holds(row, found.state, found.obj)
            if problem is not None:
                oid = found.obj.get("id")
                entity = f"{found.kind} {oid}" if isinstance(oid, str) else found.kind
                out.append(Finding(row.id, row.severity, f"{event.name}: {problem}",
                                   event.index, event.name, entity,
                                   entity_key(protocol, event)))
        return out


def check_payloads(protocol: Protocol, events: Iterable[TappedEvent]) -> Iterator[Finding]:
    """One finding per invariant an event's object breaks (:class:`Payloads` over
    ``events``)."""
    layer = Payloads(protocol)
    for event in events:
        yield from layer.see(event)


def rows_applied(protocol: Protocol, events: list[TappedEvent]) -> set[str]:
    """The invariant ids some event of ``events`` was checked against."""
    applied: set[str] = set()
    rows = row_of(protocol).invariants
    for event in events:
        found = carried(protocol, event)
        if found is None:
            continue
        for row in rows:
            if row.entity == found.kind and found.state in row.expect and (
                    row.events is None or event.name in row.events):
                applied.add(row.id)
    return applied
