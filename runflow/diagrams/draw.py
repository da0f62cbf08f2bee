"""Drawing a definition: Mermaid and DOT text of each entity's table, of the stream
machine and of every entity at once, and the path one flow took. Pure functions of
a :class:`~runflow.engine.definition.Protocol`: they know no protocol by name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from runflow.engine.definition import STAY, EntityTable, Protocol, Transition
from runflow.engine.view import StateChange
from runflow.protocols import PROTOCOL
from runflow.protocols.diagram_set import DiagramSet
from runflow.protocols.registry import row_of

__all__ = [
    "ALL",
    "STREAM",
    "TextFormat",
    "UnknownDiagramError",
    "diagram_entities",
    "diagram_names",
    "diagram_set",
    "diagram_text",
    "dot",
    "dot_all",
    "mermaid",
    "mermaid_all",
    "path_mermaid",
    "stream_table",
]

TextFormat = Literal["mermaid", "dot"]
STREAM = "stream"
"""The name of the stream machine's diagram (``diagrams/stream.mmd``)."""
ALL = "all"
"""The name of the overview diagram, every entity at once (``diagrams/all.mmd``)."""
_INDENT = "    "


def diagram_set(protocol: Protocol) -> DiagramSet:
    """The :class:`DiagramSet` of ``protocol``'s registry row (by name: a variant
    built from the same definition is drawn as that definition); a protocol that
    brings none gets a generic one under ``diagrams/<name>/``."""
    return row_of(protocol).diagram_set


class UnknownDiagramError(ValueError):
    """A diagram was asked for by a name the protocol has no machine for."""

    def __init__(self, protocol: Protocol, name: str) -> None:
        self.protocol = protocol
        self.name = name
        super().__init__(
            f"the {protocol.name} protocol has no entity {name!r}; "
            f"choose one of: {', '.join(diagram_names(protocol))}"
        )


def diagram_entities(protocol: Protocol = PROTOCOL) -> tuple[str, ...]:
    """The entities with a file of their own in the protocol's folder, in table order:
    all but the scope (the Assistants thread, a single state, is only in ``all``)."""
    return tuple(str(t.entity) for t in protocol.tables.values() if t.role != "scope")


def diagram_names(protocol: Protocol = PROTOCOL) -> tuple[str, ...]:
    """Every name :func:`diagram_text` draws for ``protocol``: the entities with a
    file, then the scope, then :data:`STREAM` and :data:`ALL`."""
    scope = tuple(str(t.entity) for t in protocol.tables.values() if t.role == "scope")
    return (*diagram_entities(protocol), *scope, STREAM, ALL)


@dataclass(frozen=True)
class _Edge:
    source: str
    dest: str
    events: tuple[str, ...]
    delta: bool = False

    @property
    def label(self) -> str:
        return ", ".join(f"{e} (delta)" if self.delta else e for e in self.events)


def _edges(table: EntityTable) -> list[_Edge]:
    """Status edges merged per (source, dest), then delta self-loops.

    Order: by first appearance in the table (transitions in order, sources in
    order), so the output follows the table and never a hash order.
    """
    merged: dict[tuple[str, str], list[str]] = {}
    for t in table.transitions:
        for src in t.sources:
            for dest in (t.dest, *sorted(t.by_status - {t.dest})):
                events = merged.setdefault((src, dest), [])
                if t.event not in events:
                    events.append(t.event)
    edges = [_Edge(s, d, tuple(ev)) for (s, d), ev in merged.items()]
    for name, allowed in table.deltas.items():
        for state in sorted(allowed, key=table.states.index):
            edges.append(_Edge(state, state, (name,), delta=True))
    return edges


# --------------------------------------------------------------------------- #
# Mermaid
# --------------------------------------------------------------------------- #
def _mermaid_body(
    table: EntityTable, ids: Mapping[str, str], named: bool, indent: str
) -> list[str]:
    lines = []
    if named:  # composite diagrams need ids unique across entities
        lines += [f'{indent}state "{s}" as {ids[s]}' for s in table.states]
    lines.append(f"{indent}[*] --> {ids[table.initial]}")
    for edge in _edges(table):
        lines.append(f"{indent}{ids[edge.source]} --> {ids[edge.dest]} : {edge.label}")
    for state in table.states:
        if state in table.terminal:
            lines.append(f"{indent}{ids[state]} --> [*]")
    return lines


def mermaid(table: EntityTable, *, protocol: Protocol = PROTOCOL) -> str:
    """A Mermaid ``stateDiagram-v2`` of one entity's table (``protocol``: the
    definition it belongs to, named in the header comment)."""
    ids = {s: s for s in table.states}
    lines = [
        f"%% {table.entity} states, {diagram_set(protocol).header}",
        "stateDiagram-v2",
        *_mermaid_body(table, ids, named=False, indent=_INDENT),
    ]
    return "\n".join(lines) + "\n"


def mermaid_all(protocol: Protocol = PROTOCOL) -> str:
    """Every entity in one Mermaid diagram: one composite state per entity."""
    lines = [f"%% all entities, {diagram_set(protocol).header}", "stateDiagram-v2"]
    for entity, ids in _composite_ids(protocol).items():
        lines.append(f"{_INDENT}state {entity} {{")
        lines += _mermaid_body(protocol.tables[entity], ids, named=True, indent=_INDENT * 2)
        lines.append(f"{_INDENT}}}")
    return "\n".join(lines) + "\n"


def _composite_ids(protocol: Protocol) -> dict[str, dict[str, str]]:
    """Per entity, ``{state: id}`` with ids ``<entity>_<state>``, unique in the whole
    diagram (Mermaid ids are global): on a clash (were an item ``reasoning`` to have
    a state ``text_done`` beside the part ``reasoning_text`` and its ``done``) the
    later one gets a number."""
    taken = {str(e) for e in protocol.tables}
    out: dict[str, dict[str, str]] = {}
    for entity, table in protocol.tables.items():
        ids = out.setdefault(str(entity), {})
        for state in table.states:
            found = base = f"{entity}_{state}"
            n = 2
            while found in taken:
                found, n = f"{base}_{n}", n + 1
            taken.add(found)
            ids[state] = found
    return out


# --------------------------------------------------------------------------- #
# DOT
# --------------------------------------------------------------------------- #
_DOT_DEFAULTS = (
    "rankdir=LR;",
    'node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];',
    'edge [fontname="Helvetica", fontsize=9];',
)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_body(table: EntityTable, prefix: str, indent: str) -> list[str]:
    def node(state: str) -> str:
        return _q(prefix + state)

    start = _q(f"{prefix}[*]")
    lines = [f"{indent}{start} [shape=point, width=0.15, label=\"\"];"]
    for state in table.states:
        attrs = [f"label={_q(state)}"]
        if state in table.terminal:
            attrs.append("peripheries=2")
        lines.append(f"{indent}{node(state)} [{', '.join(attrs)}];")
    lines.append(f"{indent}{start} -> {node(table.initial)};")
    for edge in _edges(table):
        label = '"' + "\\n".join(_q(e)[1:-1] for e in edge.events) + '"'
        style = ", style=dashed, color=gray40, fontcolor=gray40" if edge.delta else ""
        lines.append(f"{indent}{node(edge.source)} -> {node(edge.dest)} [label={label}{style}];")
    return lines


def dot(table: EntityTable, *, protocol: Protocol = PROTOCOL) -> str:
    """A Graphviz digraph of one entity's table (``protocol`` as for :func:`mermaid`)."""
    lines = [
        f"// {table.entity} states, {diagram_set(protocol).header}",
        f"digraph {_q(table.entity)} {{",
        *(_INDENT + d for d in _DOT_DEFAULTS),
        *_dot_body(table, "", _INDENT),
        "}",
    ]
    return "\n".join(lines) + "\n"


def dot_all(protocol: Protocol = PROTOCOL) -> str:
    """Every entity in one digraph: one cluster per entity."""
    lines = [
        f"// all entities, {diagram_set(protocol).header}",
        'digraph "runflow" {',
        *(_INDENT + d for d in _DOT_DEFAULTS),
    ]
    for entity, table in protocol.tables.items():
        lines.append(f"{_INDENT}subgraph {_q(f'cluster_{entity}')} {{")
        lines.append(f"{_INDENT * 2}label={_q(str(entity))};")
        lines += _dot_body(table, f"{entity}.", _INDENT * 2)
        lines.append(f"{_INDENT}}}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def stream_table(protocol: Protocol = PROTOCOL) -> EntityTable:
    """The stream machine laid out as a table for drawing: an edge per row, labelled
    with its input, the root's position it needs (``[final]``, ``[pause]``...) and
    the violation it reports; states where the input may end are terminal."""
    stream = protocol.stream
    transitions = []
    for row in stream.rows:
        label: str = row.input
        if row.when:
            label += f" [{'/'.join(row.when)}]"
        if row.code is not None:
            label += f" ! {row.code.value}"
        for src in row.sources:
            dest = src if row.dest == STAY else row.dest
            transitions.append(Transition(label, (src,), dest, row.why))
    return EntityTable(
        entity=STREAM,
        states=stream.states,
        terminal=frozenset(s for s, ending in stream.endings.items() if ending is not None),
        transitions=tuple(transitions),
        initial=stream.initial,
    )


def diagram_text(
    entity: str, fmt: TextFormat, protocol: Protocol = PROTOCOL
) -> str:
    """The Mermaid or DOT text of one entity, of the stream machine (``"stream"``),
    or of all the entities (``"all"``); :class:`UnknownDiagramError` for a name
    that is none of :func:`diagram_names`."""
    if entity == ALL:
        return mermaid_all(protocol) if fmt == "mermaid" else dot_all(protocol)
    if entity == STREAM:
        table = stream_table(protocol)
    elif entity in protocol.tables:
        table = protocol.tables[entity]
    else:
        raise UnknownDiagramError(protocol, entity)
    return mermaid(table, protocol=protocol) if fmt == "mermaid" else dot(table, protocol=protocol)


# --------------------------------------------------------------------------- #
# the path one flow took
# --------------------------------------------------------------------------- #
def path_mermaid(history: Iterable[StateChange], protocol: Protocol = PROTOCOL) -> str:
    """A Mermaid diagram of the states visited and events taken, per entity kind.

    Built from :attr:`runflow.RunFlow.history`. Entities of one kind share a
    composite state; an edge is labelled ``#i event`` with the index of the first
    time it was taken, and ``(×n)`` when n entities (or n times) took it: a flood of
    repeats the history holds as one entry is counted by its ``count``.
    """
    first: dict[str, dict[tuple[str, str, str], int]] = {}
    counts: dict[tuple[str, str, str, str], int] = {}
    for change in history:
        key = (change.source, change.dest, change.event)
        first.setdefault(change.entity, {}).setdefault(key, change.index)
        counted = (change.entity, change.source, change.dest, change.event)
        counts[counted] = counts.get(counted, 0) + change.count
    lines = ["%% the path of one flow, generated by runflow from flow.history", "stateDiagram-v2"]
    for entity, table in protocol.tables.items():
        taken = first.get(entity)
        if not taken:
            continue
        visited = {s for key in taken for s in key[:2]} | {table.initial}
        states = [s for s in table.states if s in visited]
        ids = {s: f"{entity}_{s}" for s in states}
        lines.append(f"{_INDENT}state {entity} {{")
        lines += [f'{_INDENT * 2}state "{s}" as {ids[s]}' for s in states]
        lines.append(f"{_INDENT * 2}[*] --> {ids[table.initial]}")
        for (src, dest, event), index in sorted(taken.items(), key=lambda kv: kv[1]):
            n = counts[(entity, src, dest, event)]
            times = f" (×{n:,})" if n > 1 else ""
            lines.append(f"{_INDENT * 2}{ids[src]} --> {ids[dest]} : #{index} {event}{times}")
        lines += [f"{_INDENT * 2}{ids[s]} --> [*]" for s in states if s in table.terminal]
        lines.append(f"{_INDENT}}}")
    return "\n".join(lines) + "\n"
