"""Mermaid diagrams of the WebSocket machines, generated from their tables (as
:mod:`runflow.diagrams` does for the stream definitions) and committed under
``diagrams/responses/websocket/``; ``tests/test_websocket_diagrams.py`` fails while
they are stale. The Responses registry row names :func:`diagram_files`
(``more_diagrams``), so ``runflow diagram --refresh`` (or ``--protocol responses
--refresh``) rewrites them with the rest."""

from __future__ import annotations

from pathlib import Path

from runflow.engine.definition import EntityTable
from runflow.protocols.responses.websocket.definition import MACHINES, RULES

__all__ = ["DIRECTORY", "REFRESH", "diagram_files", "mermaid"]

DIRECTORY = Path("diagrams/responses/websocket")
REFRESH = "runflow diagram --protocol responses --refresh"
_INDENT = "    "


def mermaid(table: EntityTable) -> str:
    """A ``stateDiagram-v2`` of one machine: events between the same two states share
    an edge (table order), terminal states end in ``[*]``."""
    merged: dict[tuple[str, str], list[str]] = {}
    for t in table.transitions:
        for src in t.sources:
            merged.setdefault((src, t.dest), []).append(t.event)
    lines = [f"%% {table.entity} states, generated from runflow.protocols.responses."
             f"websocket.definition ({REFRESH})", "stateDiagram-v2",
             f"{_INDENT}[*] --> {table.initial}"]
    lines += [f"{_INDENT}{s} --> {d} : {', '.join(events)}" for (s, d), events in merged.items()]
    lines += [f"{_INDENT}{s} --> [*]" for s in table.states if s in table.terminal]
    return "\n".join(lines) + "\n"


def _readme() -> str:
    lines = ["# Responses WebSocket mode: machines and rules", "",
             f"Generated; do not edit. Refresh with `{REFRESH}`.", "",
             *[f"- [{name}]({name}.mmd)" for name in MACHINES], "",
             "| code | severity | direction | source | why |", "|---|---|---|---|---|"]
    lines += [f"| `{r.code.value}` | {r.severity} | {r.direction} | {r.source} | {r.why} |"
              for r in RULES.values()]
    return "\n".join(lines) + "\n"


def diagram_files() -> dict[str, str]:
    """File name -> text of everything under :data:`DIRECTORY`."""
    files = {f"{name}.mmd": mermaid(table) for name, table in MACHINES.items()}
    files["README.md"] = _readme()
    return files

