"""Payload invariants (:mod:`runflow.protocols.payload`; each protocol's rows are in its
registry row) checked on a flow's events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runflow.conform.events import TappedEvent, carried, entity_key
from runflow.conform.findings import Finding
from runflow.engine.accumulator import shorten
from runflow.engine.definition import Protocol
from runflow.protocols.payload import Expect, Invariant
from runflow.protocols.registry import row_of

__all__ = ["check_payloads", "holds"]

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


def check_payloads(protocol: Protocol, events: list[TappedEvent]) -> Iterator[Finding]:
    """One finding per invariant an event's object breaks."""
    rows: dict[str, list[Invariant]] = {}
    for row in row_of(protocol).invariants:
        rows.setdefault(row.entity, []).append(row)
    for event in events:
        found = carried(protocol, event)
        if found is None:
            continue
        for row in rows.get(found.kind, ()):
            if row.events is not None and event.name not in row.events:
                continue
            problem = holds(row, found.state, found.obj)
            if problem is not None:
                oid = found.obj.get("id")
                entity = f"{found.kind} {oid}" if isinstance(oid, str) else found.kind
                yield Finding(row.id, row.severity, f"{event.name}: {problem}", event.index,
                              event.name, entity, entity_key(protocol, event))


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
