"""Which :class:`~runflow.Limits` field bounds which growth, read from the shipped
definitions (for the README's hostile-input table, :mod:`runflow.testing.hostile`).

Every entity that deltas grow has an accumulator, and the accumulator names the
limit that bounds it (``limit``); a part (a Responses content part, summary part or
shell command) counts against the item that holds it, so the limit is per message
or per call, whatever the parts. Derived, not written: a table added to a
definition shows up here.
"""

from __future__ import annotations

from dataclasses import dataclass

from runflow.engine.definition import Protocol
from runflow.protocols.assistants.definition import ASSISTANTS
from runflow.protocols.responses.definition import RESPONSES

__all__ = ["Growth", "growths", "render_growths"]


@dataclass(frozen=True)
class Growth:
    protocol: str
    entity: str
    events: tuple[str, ...]
    """The delta events that grow it."""
    limit: str
    """The :class:`~runflow.Limits` field."""
    per: str
    """What the limit counts: the entity itself, or the item that holds it."""


def growths(protocols: tuple[Protocol, ...] = (ASSISTANTS, RESPONSES)) -> list[Growth]:
    """One row per entity kind that deltas grow, in definition order."""
    rows = []
    for protocol in protocols:
        for table in protocol.tables.values():
            if table.accumulator is None or not table.deltas:
                continue
            per = (f"the item holding it (`{table.parent_group}` at its index)"
                   if table.parent_group is not None else f"each {table.entity}")
            rows.append(Growth(protocol.name, table.entity, tuple(sorted(table.deltas)),
                               table.accumulator().limit, per))
    return rows


def render_growths(rows: list[Growth]) -> list[str]:
    """The Markdown table of :func:`growths`."""
    lines = ["| protocol | what grows | by | bounded by | counted per |",
             "|---|---|---|---|---|"]
    for g in rows:
        events = ", ".join(f"`{e}`" for e in g.events)
        lines.append(f"| {g.protocol} | {g.entity} | {events} | `{g.limit}` | {g.per} |")
    return lines
