"""Where the Assistants diagrams are committed and what their README says
(:mod:`runflow.protocols.diagram_set`); the drawing is :mod:`runflow.diagrams`'s."""

from __future__ import annotations

from runflow.protocols.diagram_set import REFRESH_COMMAND, DiagramSet

__all__ = ["DIAGRAMS"]

DIAGRAMS = DiagramSet(
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
)
