"""The path one flow took through its protocol's state diagram, for the HTML report.

Drawn from ``flow.history`` for any definition (the Responses one has two dozen
entity kinds): one composite state (Mermaid) or cluster (DOT) per entity kind that
moved, its visited states, and an edge per transition taken, labelled ``#i event``
with the index of the first time it was taken and ``(×n)`` when taken n times (a
history entry standing for a flood of repeats counts as its ``count``).
The SVG is rendered server-side by Graphviz through :func:`runflow.diagrams.render`
(the page stays one self-contained file); without Graphviz there is no SVG and the
page shows the Mermaid text alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from runflow.diagrams import GraphvizNotFoundError, render
from runflow.engine.definition import Protocol
from runflow.engine.state import StateChange

__all__ = ["path_dot", "path_mermaid", "path_svg"]

_INDENT = "    "


def _id(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


def _taken(history: Iterable[StateChange], protocol: Protocol
           ) -> list[tuple[str, list[str], list[tuple[str, str, str, int, int]]]]:
    """Per kind in table order: visited states, and (source, dest, event, first, n)."""
    first: dict[str, dict[tuple[str, str, str], int]] = {}
    counts: dict[tuple[str, str, str, str], int] = {}
    for change in history:
        key = (change.source, change.dest, change.event)
        first.setdefault(change.entity, {}).setdefault(key, change.index)
        counted = (change.entity, *key)
        counts[counted] = counts.get(counted, 0) + change.count
    out = []
    for kind, table in protocol.tables.items():
        taken = first.get(kind)
        if not taken:
            continue
        visited = {s for key in taken for s in key[:2]} | {table.initial}
        states = [s for s in table.states if s in visited]
        edges = [(src, dest, event, index, counts[(kind, src, dest, event)])
                 for (src, dest, event), index in sorted(taken.items(), key=lambda kv: kv[1])]
        out.append((kind, states, edges))
    return out


def path_mermaid(history: Iterable[StateChange], protocol: Protocol) -> str:
    """A Mermaid ``stateDiagram-v2`` of the path."""
    lines = ["stateDiagram-v2"]
    for kind, states, edges in _taken(history, protocol):
        table = protocol.tables[kind]
        lines.append(f"{_INDENT}state {_id(kind)} {{")
        lines += [f'{_INDENT * 2}state "{s}" as {_id(kind, s)}' for s in states]
        lines.append(f"{_INDENT * 2}[*] --> {_id(kind, table.initial)}")
        for src, dest, event, index, n in edges:
            times = f" (×{n:,})" if n > 1 else ""
            lines.append(f"{_INDENT * 2}{_id(kind, src)} --> {_id(kind, dest)} : "
                         f"#{index} {event}{times}")
        lines += [f"{_INDENT * 2}{_id(kind, s)} --> [*]" for s in states if s in table.terminal]
        lines.append(f"{_INDENT}}}")
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def path_dot(history: Iterable[StateChange], protocol: Protocol) -> str:
    """The same path as a Graphviz digraph (one cluster per entity kind)."""
    lines = ["digraph path {", f"{_INDENT}rankdir=LR;",
             f'{_INDENT}node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];',
             f'{_INDENT}edge [fontname="Helvetica", fontsize=9];']
    for kind, states, edges in _taken(history, protocol):
        table = protocol.tables[kind]
        lines.append(f"{_INDENT}subgraph {_q('cluster_' + kind)} {{")
        lines.append(f"{_INDENT * 2}label={_q(kind)};")
        for s in states:
            extra = ", peripheries=2" if s in table.terminal else ""
            lines.append(f"{_INDENT * 2}{_q(kind + '.' + s)} [label={_q(s)}{extra}];")
        for src, dest, event, index, n in edges:
            times = f" (×{n:,})" if n > 1 else ""
            lines.append(f"{_INDENT * 2}{_q(kind + '.' + src)} -> {_q(kind + '.' + dest)} "
                         f"[label={_q(f'#{index} {event}{times}')}];")
        lines.append(f"{_INDENT}}}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def path_svg(history: Iterable[StateChange], protocol: Protocol) -> str | None:
    """The path as an SVG document (None without Graphviz's ``dot``)."""
    try:
        svg = render(path_dot(list(history), protocol), "svg").decode("utf-8")
    except (GraphvizNotFoundError, RuntimeError):
        return None
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else None
