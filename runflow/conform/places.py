"""Where a positioned entity sits, as the grouping key of what a finding is about.

An entity the definition addresses by position (:attr:`EntityTable.position
<runflow.engine.tables.EntityTable.position>`) is grouped under the position it takes
in its outermost group: ``<group>/<N>``, where ``group`` is the group its chain of
:attr:`~runflow.engine.tables.EntityTable.parent_group` ends in and ``N`` the value of
its first position field (Responses: an item, and every content or summary part in
it, is ``output/<output_index>``). Both come from the definition, so another
positioned protocol gets keys of its own groups and fields.

:func:`places` reads them once per protocol (a lookup per event after that: the
grouping key is taken on ``runflow check``'s hot path).
"""

from __future__ import annotations

from dataclasses import dataclass

from runflow.engine.definition import Protocol
from runflow.engine.tables import EntityTable

__all__ = ["Place", "Places", "places"]


@dataclass(frozen=True, slots=True)
class Place:
    """The outermost group a positioned entity sits in, and the data field placing it."""

    group: str
    """The group name (``output``): the key's prefix."""
    field: str
    """The event data's field holding the position in that group (``output_index``)."""

    def key(self, index: int | str) -> str:
        """The grouping key of position ``index`` (its digits) in the group."""
        return f"{self.group}/{index}"


@dataclass(frozen=True, slots=True)
class Places:
    """One protocol's :class:`Place` s, by entity kind and by event name."""

    by_kind: dict[str, Place]
    """Positioned entity kind -> its place."""
    by_event: dict[str, Place]
    """Status or delta event about a positioned entity -> its place; for an event
    several tables share (the object's tag picks the table), the first tagged table's
    (a definition puts the tables an event is shared by in one group)."""


def _outermost(table: EntityTable, parents: dict[str, str | None]) -> Place | None:
    if not table.position or table.group is None:
        return None
    group, seen = table.group, {table.group}
    while (parent := parents.get(group)) is not None and parent not in seen:
        group = parent
        seen.add(parent)
    return Place(group, table.position[0])


def _read(protocol: Protocol) -> Places:
    tables = protocol.tables.values()
    parents = {t.group: t.parent_group for t in tables if t.group is not None}
    by_kind = {kind: place for kind, table in protocol.tables.items()
               if (place := _outermost(table, parents)) is not None}
    by_event: dict[str, Place] = {}
    for name, (_, kind) in protocol.routes.items():
        kinds = [kind] if kind is not None else list(protocol.dispatch.get(name, {}).values())
        place = next((by_kind[k] for k in kinds if k in by_kind), None)
        if place is not None:
            by_event[name] = place
    return Places(by_kind, by_event)


_READ: dict[int, tuple[Protocol, Places]] = {}
"""``id(protocol)`` -> the protocol (kept, so that its id is not reused) and its places."""
_KEPT = 64
"""Protocols whose places are kept at once (the registry's, and a test's few)."""
_last: tuple[Protocol | None, Places] = (None, Places({}, {}))
"""The protocol asked last and its places: a check asks of one protocol per event."""


def places(protocol: Protocol) -> Places:
    """``protocol``'s places, read from its tables on first use and kept."""
    global _last
    last = _last  # read once: another thread may set it between two reads
    if last[0] is protocol:
        return last[1]
    found = _READ.get(id(protocol))
    if found is None or found[0] is not protocol:
        if len(_READ) >= _KEPT:
            _READ.clear()
        found = _READ[id(protocol)] = (protocol, _read(protocol))
    _last = found
    return found[1]
