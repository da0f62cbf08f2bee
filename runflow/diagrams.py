"""State diagrams generated from the protocol table (never drawn by hand).

Everything here is a pure function of :data:`runflow.protocol.PROTOCOL` (or any
checked :class:`~runflow.protocol.Protocol` / :class:`~runflow.protocol.EntityTable`
passed in), so the diagrams cannot drift from what the flow enforces:

* Mermaid ``stateDiagram-v2`` text: one diagram per entity, and a combined one with
  one composite state per entity;
* Graphviz DOT text: one digraph per entity, and a combined one with one cluster
  per entity;
* SVG/PNG by running Graphviz's ``dot`` (:func:`render`), which must be installed;
* the diagram of the path one flow took (:func:`path_mermaid`, from ``flow.history``).

Drawing rules: several events between the same two states share one edge whose
label lists them in table order; delta events are drawn as separate self-loops
(dashed in DOT, ``(delta)`` in Mermaid labels); terminal states end in ``[*]``
(Mermaid) or are drawn with a double border (DOT). Output is byte-identical from
run to run: nothing depends on set or dict iteration order of unordered inputs.

:func:`diagram_files` produces the committed ``diagrams/`` folder;
``runflow diagram --refresh`` rewrites it and ``tests/test_diagrams.py`` fails
while it is stale.
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

from .protocol import PROTOCOL, Entity, EntityTable, Protocol
from .protocol.model import STAY, Transition
from .view import StateChange

__all__ = [
    "DIAGRAM_ENTITIES",
    "REFRESH_COMMAND",
    "GraphvizNotFoundError",
    "TextFormat",
    "diagram_files",
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
_HEADER = f"generated from runflow.protocol.PROTOCOL by `{REFRESH_COMMAND}`; do not edit"
_INDENT = "    "


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


def mermaid(table: EntityTable) -> str:
    """A Mermaid ``stateDiagram-v2`` of one entity's table."""
    ids = {s: s for s in table.states}
    lines = [
        f"%% {table.entity} states, {_HEADER}",
        "stateDiagram-v2",
        *_mermaid_body(table, ids, named=False, indent=_INDENT),
    ]
    return "\n".join(lines) + "\n"


def mermaid_all(protocol: Protocol = PROTOCOL) -> str:
    """Every entity in one Mermaid diagram: one composite state per entity."""
    lines = [f"%% all entities, {_HEADER}", "stateDiagram-v2"]
    for entity in Entity:
        table = protocol.tables[entity]
        ids = {s: f"{entity.value}_{s}" for s in table.states}
        lines.append(f"{_INDENT}state {entity.value} {{")
        lines += _mermaid_body(table, ids, named=True, indent=_INDENT * 2)
        lines.append(f"{_INDENT}}}")
    return "\n".join(lines) + "\n"


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


def dot(table: EntityTable) -> str:
    """A Graphviz digraph of one entity's table."""
    lines = [
        f"// {table.entity} states, {_HEADER}",
        f"digraph {_q(table.entity)} {{",
        *(_INDENT + d for d in _DOT_DEFAULTS),
        *_dot_body(table, "", _INDENT),
        "}",
    ]
    return "\n".join(lines) + "\n"


def dot_all(protocol: Protocol = PROTOCOL) -> str:
    """Every entity in one digraph: one cluster per entity."""
    lines = [
        f"// all entities, {_HEADER}",
        'digraph "runflow" {',
        *(_INDENT + d for d in _DOT_DEFAULTS),
    ]
    for entity in Entity:
        lines.append(f"{_INDENT}subgraph {_q('cluster_' + entity.value)} {{")
        lines.append(f"{_INDENT * 2}label={_q(entity.value)};")
        lines += _dot_body(protocol.tables[entity], f"{entity.value}.", _INDENT * 2)
        lines.append(f"{_INDENT}}}")
    lines.append("}")
    return "\n".join(lines) + "\n"


STREAM = "stream"
"""The name of the stream machine's diagram (``diagrams/stream.mmd``)."""


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
    """The Mermaid or DOT text of one entity, of the stream machine, or of all the
    entities (``"all"``)."""
    if entity == "all":
        return mermaid_all(protocol) if fmt == "mermaid" else dot_all(protocol)
    table = stream_table(protocol) if entity == STREAM else protocol.tables[entity]
    return mermaid(table) if fmt == "mermaid" else dot(table)


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
def _readme(mmd: Mapping[str, str]) -> str:
    parts = [
        "# runflow state diagrams",
        "",
        f"<!-- {_HEADER} -->",
        "",
        "Generated from the protocol definition (`runflow/protocol/assistants.py`), never",
        "drawn by hand.",
        f"After changing the table, run `{REFRESH_COMMAND}`; `tests/test_diagrams.py`",
        "fails while these files are stale. Every entity starts `unseen` (before the",
        "flow has seen it); an edge lists the events that move it, and delta events are",
        "self-loops marked `(delta)` (dashed in the SVGs). `[*]` after a state marks it",
        "terminal. The stream machine's edges are labelled with their input (an entity",
        "`event`, `done`, `error`, `close` for the end of input, `begin` for a new stream",
        "of the same run), the run's position they need in brackets and, after `!`, the",
        "violation they report; `[*]` marks where the input may end.",
    ]
    for name, text in mmd.items():
        title = {"all": "All entities", STREAM: "The stream machine"}.get(
            name, name.capitalize())
        parts += ["", f"## {title}", "", f"SVG: [{name}.svg]({name}.svg)", "", "```mermaid"]
        parts += [line for line in text.splitlines() if not line.startswith("%%")]
        parts.append("```")
    return "\n".join(parts) + "\n"


def diagram_files(protocol: Protocol = PROTOCOL, *, svg: bool = True) -> dict[str, bytes]:
    """The contents of ``diagrams/``: ``{file name: bytes}``, in a fixed order.

    ``svg=False`` leaves the SVGs out (no Graphviz needed); with ``svg=True`` a
    missing ``dot`` raises :class:`GraphvizNotFoundError`.
    """
    names = [*(e.value for e in DIAGRAM_ENTITIES), STREAM, "all"]
    mmd = {n: diagram_text(_target(n), "mermaid", protocol) for n in names}
    files = {f"{n}.mmd": text.encode() for n, text in mmd.items()}
    if svg:
        for n in names:
            files[f"{n}.svg"] = render(diagram_text(_target(n), "dot", protocol), "svg")
    files["README.md"] = _readme(mmd).encode()
    return files


def _target(name: str) -> str:
    return name


def write_diagram_files(directory: Path, protocol: Protocol = PROTOCOL) -> list[Path]:
    """Rewrite ``directory`` (``diagrams/``); returns the files written.

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
    for entity in Entity:
        taken = first.get(entity)
        if not taken:
            continue
        table = protocol.tables[entity]
        visited = {s for key in taken for s in key[:2]} | {table.initial}
        states = [s for s in table.states if s in visited]
        ids = {s: f"{entity.value}_{s}" for s in states}
        lines.append(f"{_INDENT}state {entity.value} {{")
        lines += [f'{_INDENT * 2}state "{s}" as {ids[s]}' for s in states]
        lines.append(f"{_INDENT * 2}[*] --> {ids[table.initial]}")
        for (src, dest, event), index in sorted(taken.items(), key=lambda kv: kv[1]):
            n = counts[(entity, src, dest, event)]
            times = f" (×{n})" if n > 1 else ""
            lines.append(f"{_INDENT * 2}{ids[src]} --> {ids[dest]} : #{index} {event}{times}")
        lines += [f"{_INDENT * 2}{ids[s]} --> [*]" for s in states if s in table.terminal]
        lines.append(f"{_INDENT}}}")
    return "\n".join(lines) + "\n"
