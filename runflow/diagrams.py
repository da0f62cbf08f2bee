"""State diagrams generated from the protocol table (never drawn by hand).

Everything here is a pure function of a checked :class:`~runflow.protocols.Protocol`
(:data:`runflow.protocols.PROTOCOL`, the Assistants definition, unless another one
such as :data:`~runflow.protocols.responses.definition.RESPONSES` is passed in) or of one of its
:class:`~runflow.protocols.EntityTable` s, so the diagrams cannot drift from what
the flow enforces:

* Mermaid ``stateDiagram-v2`` text: one diagram per entity, and a combined one with
  one composite state per entity;
* Graphviz DOT text: one digraph per entity, and a combined one with one cluster
  per entity;
* SVG/PNG by running Graphviz's ``dot`` (:func:`render`), which must be installed;
* the diagram of the path one flow took (:func:`path_mermaid`, from ``flow.history``).

Drawing rules: several events between the same two states share one edge whose
label lists them in table order; an event whose destination the object's status
chooses (``Transition.by_status``) has an edge to each destination; delta events
are drawn as separate self-loops (dashed in DOT, ``(delta)`` in Mermaid labels);
terminal states end in ``[*]`` (Mermaid) or are drawn with a double border (DOT).
Output is byte-identical from run to run: nothing depends on set or dict
iteration order of unordered inputs.

:func:`diagram_files` produces a committed folder: ``diagrams/`` for the
Assistants definition, ``diagrams/responses/`` for the Responses one (where each
lives, and what its files say about where they come from, is a :class:`DiagramSet`
in :data:`DIAGRAM_SETS`); ``runflow diagram --refresh`` rewrites both and
``tests/test_diagrams.py`` fails while either is stale.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runflow.engine.definition import STAY, Transition
from runflow.engine.view import StateChange
from runflow.protocols import PROTOCOL, Entity, EntityTable, Protocol

__all__ = [
    "DIAGRAM_ENTITIES",
    "DIAGRAM_SETS",
    "REFRESH_COMMAND",
    "DiagramSet",
    "GraphvizNotFoundError",
    "TextFormat",
    "UnknownDiagramError",
    "diagram_entities",
    "diagram_files",
    "diagram_names",
    "diagram_set",
    "diagram_text",
    "dot",
    "dot_all",
    "graphviz_version",
    "mermaid",
    "mermaid_all",
    "path_mermaid",
    "render",
    "svg_generator_version",
    "write_diagram_files",
]

TextFormat = Literal["mermaid", "dot"]
ImageFormat = Literal["svg", "png"]

DIAGRAM_ENTITIES: tuple[Entity, ...] = (Entity.RUN, Entity.STEP, Entity.MESSAGE)
"""Entities with their own file in ``diagrams/`` (the thread appears in ``all``)."""

REFRESH_COMMAND = "runflow diagram --refresh"
"""Regenerates every committed folder (``--protocol NAME`` for one of them)."""
STREAM = "stream"
"""The name of the stream machine's diagram (``diagrams/stream.mmd``)."""
ALL = "all"
"""The name of the overview diagram, every entity at once (``diagrams/all.mmd``)."""
_INDENT = "    "


@dataclass(frozen=True)
class DiagramSet:
    """Where one protocol's committed diagrams live and what their files say."""

    protocol: str
    """The :attr:`Protocol.name` it draws."""
    subfolder: str
    """Its folder under ``diagrams/`` (``""``: ``diagrams/`` itself)."""
    constant: str
    """The Python name of the definition, for the header of every file."""
    refresh: str
    """The command that regenerates this folder only."""
    title: str
    """The README's heading."""
    intro: tuple[str, ...]
    """The README's paragraph, line by line."""
    contents: bool = False
    """The README lists the machines first (when there are many)."""

    @property
    def header(self) -> str:
        return f"generated from {self.constant} by `{self.refresh}`; do not edit"


DIAGRAM_SETS: dict[str, DiagramSet] = {
    "assistants": DiagramSet(
        protocol="assistants", subfolder="", constant="runflow.protocols.PROTOCOL",
        refresh=REFRESH_COMMAND,
        title="runflow state diagrams",
        intro=(
            "Generated from the protocol definition",
            "(`runflow/protocols/assistants/definition.py`), never drawn by hand.",
            f"After changing the table, run `{REFRESH_COMMAND}`; `tests/test_diagrams.py`",
            "fails while these files are stale. Every entity starts `unseen` (before the",
            "flow has seen it); an edge lists the events that move it, and delta events are",
            "self-loops marked `(delta)` (dashed in the SVGs). `[*]` after a state marks it",
            "terminal. The stream machine's edges are labelled with their input (an entity",
            "`event`, `done`, `error`, `close` for the end of input, `begin` for a new stream",
            "of the same run), the run's position they need in brackets and, after `!`, the",
            "violation they report; `[*]` marks where the input may end.",
        ),
    ),
    "responses": DiagramSet(
        protocol="responses", subfolder="responses", constant="runflow.protocols.RESPONSES",
        refresh="runflow diagram --protocol responses --refresh",
        title="runflow state diagrams: the Responses API", contents=True,
        intro=(
            "Generated from the Responses definition",
            "(`runflow/protocols/responses/definition.py`), never drawn by hand.",
            "After changing it, run",
            "`runflow diagram --protocol responses --refresh` (or `runflow diagram --refresh`",
            "for every folder); `tests/test_diagrams.py` fails while these files are stale.",
            "The Assistants diagrams are one folder up.",
            "",
            "The response is the root. Every output item type and every part type has its own",
            "machine, found by its indices (`output_index`, then `content_index`,",
            "`summary_index` or `command_index`). `response.output_item.added` and",
            "`response.output_item.done` are shared by every item machine and the item's",
            "`type` picks the one that moves, as the part's `type` does for",
            "`response.content_part.added` and `.done`; `item` and `content_part` take the",
            "types no other machine claims. Every entity starts `unseen` (before the flow has",
            "seen it); an edge lists the events that move it, and where one event leaves a",
            "state by several edges (`response.created`, `response.output_item.done`) the",
            "status in its object chooses which. Delta events are self-loops marked `(delta)`",
            "(dashed in the SVGs). `[*]` after a state marks it terminal. The stream",
            "machine's edges are labelled with their input (an entity `event`, `done`,",
            "`error`, `close` for the end of input, `begin` for a stream that resumes the",
            "response with `starting_after`), the response's position they need in brackets",
            "and, after `!`, the violation they report; `[*]` marks where the input may end.",
        ),
    ),
}
"""The committed folders, by protocol name."""


def diagram_set(protocol: Protocol) -> DiagramSet:
    """The :class:`DiagramSet` of ``protocol`` (by name: a variant built from the
    same definition is drawn as that definition); a protocol runflow does not ship
    gets a generic one under ``diagrams/<name>/``."""
    known = DIAGRAM_SETS.get(protocol.name)
    if known is not None:
        return known
    return DiagramSet(
        protocol=protocol.name, subfolder=protocol.name,
        constant=f"the {protocol.name!r} protocol definition",
        refresh="runflow.diagrams.write_diagram_files", title=f"{protocol.name} state diagrams",
        intro=(f"Generated from the {protocol.name!r} protocol definition, never drawn by hand.",),
    )


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


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` is needed (SVG/PNG) but is not on ``PATH``."""

    def __init__(self) -> None:
        super().__init__(
            "Graphviz's `dot` program is not on PATH; install Graphviz "
            "(Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install graphviz`) "
            "or ask for --format mermaid or dot"
        )


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
# Graphviz
# --------------------------------------------------------------------------- #
def _dot_program() -> str:
    found = shutil.which("dot")
    if found is None:
        raise GraphvizNotFoundError()
    return found


def graphviz_version() -> str | None:
    """The installed Graphviz version (e.g. ``"2.43.0 (0)"``), or None without ``dot``."""
    try:
        program = _dot_program()
    except GraphvizNotFoundError:
        return None
    out = subprocess.run([program, "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"version\s+(.+?)\s*$", out.stderr + out.stdout, re.M)
    return match.group(1) if match else None


def svg_generator_version(svg: str) -> str | None:
    """The Graphviz version recorded in an SVG that ``dot`` wrote."""
    match = re.search(r"Generated by graphviz version (.+?)\s*-->", svg)
    return match.group(1) if match else None


def render(source: str, fmt: ImageFormat) -> bytes:
    """Run ``dot -T<fmt>`` on DOT text; raise :class:`GraphvizNotFoundError` without it."""
    program = _dot_program()
    # A fixed, minimal environment keeps the output independent of the caller's locale.
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"}
    done = subprocess.run(
        [program, f"-T{fmt}"], input=source.encode(), capture_output=True, check=False, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"dot -T{fmt} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


# --------------------------------------------------------------------------- #
# diagrams/ folder
# --------------------------------------------------------------------------- #
def _title(protocol: Protocol, name: str) -> str:
    if name == ALL:
        return "All entities"
    if name == STREAM:
        return "The stream machine"
    table = protocol.tables[name]
    if not table.position:
        return name.capitalize()
    kind = "Item" if len(table.position) == 1 else "Part"
    return f"{kind} `{name}`" + (" (any other type)" if table.tag == "*" else "")


def _contents(protocol: Protocol) -> list[str]:
    """One line per kind of machine: the root, the items, the parts, the rest."""
    by_kind: dict[str, list[str]] = {}
    for name in diagram_entities(protocol):
        table = protocol.tables[name]
        depth = len(table.position)
        kind = "Root" if table.role == "root" else {0: "Entities", 1: "Items"}.get(depth, "Parts")
        by_kind.setdefault(kind, []).append(f"[{name}]({name}.svg)")
    by_kind["Also"] = [f"[{STREAM}]({STREAM}.svg) (the stream machine)",
                       f"[{ALL}]({ALL}.svg) (every entity at once)"]
    return ["", *(f"- {kind}: {', '.join(links)}" for kind, links in by_kind.items())]


def _readme(protocol: Protocol, mmd: Mapping[str, str]) -> str:
    dset = diagram_set(protocol)
    parts = [f"# {dset.title}", "", f"<!-- {dset.header} -->", "", *dset.intro]
    if dset.contents:
        parts += _contents(protocol)
    for name, text in mmd.items():
        parts += ["", f"## {_title(protocol, name)}", "", f"SVG: [{name}.svg]({name}.svg)", "",
                  "```mermaid"]
        parts += [line for line in text.splitlines() if not line.startswith("%%")]
        parts.append("```")
    return "\n".join(parts) + "\n"


def diagram_files(protocol: Protocol = PROTOCOL, *, svg: bool = True) -> dict[str, bytes]:
    """The contents of the protocol's folder (``diagrams/``, ``diagrams/responses/``):
    ``{file name: bytes}``, in a fixed order.

    ``svg=False`` leaves the SVGs out (no Graphviz needed); with ``svg=True`` a
    missing ``dot`` raises :class:`GraphvizNotFoundError`.
    """
    names = [*diagram_entities(protocol), STREAM, ALL]
    mmd = {n: diagram_text(n, "mermaid", protocol) for n in names}
    files = {f"{n}.mmd": text.encode() for n, text in mmd.items()}
    if svg:
        for n in names:
            files[f"{n}.svg"] = render(diagram_text(n, "dot", protocol), "svg")
    files["README.md"] = _readme(protocol, mmd).encode()
    return files


def write_diagram_files(directory: Path, protocol: Protocol = PROTOCOL) -> list[Path]:
    """Rewrite ``directory`` (the protocol's folder); returns the files written.

    The text files are written first, so without Graphviz they are still fresh when
    :class:`GraphvizNotFoundError` is raised for the SVGs.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in diagram_files(protocol, svg=False).items():
        written.append(_write(directory / name, data))
    for name, data in diagram_files(protocol, svg=True).items():
        if name.endswith(".svg"):
            written.append(_write(directory / name, data))
    return written


def _write(path: Path, data: bytes) -> Path:
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- #
# the path one flow took
# --------------------------------------------------------------------------- #
def path_mermaid(history: Iterable[StateChange], protocol: Protocol = PROTOCOL) -> str:
    """A Mermaid diagram of the states visited and events taken, per entity kind.

    Built from :attr:`runflow.RunFlow.history`. Entities of one kind share a
    composite state; an edge is labelled ``#i event`` with the index of the first
    time it was taken, and ``(×n)`` when n entities (or n times) took it.
    """
    first: dict[str, dict[tuple[str, str, str], int]] = {}
    counts: dict[tuple[str, str, str, str], int] = {}
    for change in history:
        key = (change.source, change.dest, change.event)
        first.setdefault(change.entity, {}).setdefault(key, change.index)
        counted = (change.entity, change.source, change.dest, change.event)
        counts[counted] = counts.get(counted, 0) + 1
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
            times = f" (×{n})" if n > 1 else ""
            lines.append(f"{_INDENT * 2}{ids[src]} --> {ids[dest]} : #{index} {event}{times}")
        lines += [f"{_INDENT * 2}{ids[s]} --> [*]" for s in states if s in table.terminal]
        lines.append(f"{_INDENT}}}")
    return "\n".join(lines) + "\n"
