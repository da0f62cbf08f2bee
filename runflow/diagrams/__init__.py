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
lives, and what its files say about where they come from, is the protocol's
:class:`~runflow.protocols.diagram_set.DiagramSet`, in its registry row);
``runflow diagram --refresh`` rewrites both and ``tests/test_diagrams.py`` fails
while either is stale. A registry row may name more machines drawn beside its
definition's (:func:`more_diagram_files`: the Responses WebSocket machines in
``diagrams/responses/websocket/``); the refresh writes those too. The drawing is
:mod:`.draw`, the folders and Graphviz :mod:`.files`.
"""

from runflow.diagrams.draw import (
    ALL,
    STREAM,
    TextFormat,
    UnknownDiagramError,
    diagram_entities,
    diagram_names,
    diagram_set,
    diagram_text,
    dot,
    dot_all,
    mermaid,
    mermaid_all,
    path_mermaid,
    stream_table,
)
from runflow.diagrams.files import (
    GraphvizNotFoundError,
    ImageFormat,
    diagram_files,
    graphviz_version,
    more_diagram_files,
    render,
    svg_generator_version,
    write_diagram_files,
    write_more_diagram_files,
)
from runflow.protocols.diagram_set import REFRESH_COMMAND, DiagramSet

__all__ = [
    "ALL",
    "REFRESH_COMMAND",
    "STREAM",
    "DiagramSet",
    "GraphvizNotFoundError",
    "ImageFormat",
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
    "more_diagram_files",
    "path_mermaid",
    "render",
    "stream_table",
    "svg_generator_version",
    "write_diagram_files",
    "write_more_diagram_files",
]
