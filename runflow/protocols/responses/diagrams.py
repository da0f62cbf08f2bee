"""Where the Responses diagrams are committed and what their README says
(:mod:`runflow.protocols.diagram_set`); the drawing is :mod:`runflow.diagrams`'s."""

from __future__ import annotations

from runflow.protocols.diagram_set import DiagramSet

__all__ = ["DIAGRAMS"]

DIAGRAMS = DiagramSet(
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
)
