"""Each response of a WebSocket conversation, graded as a Responses SSE stream is.

A :class:`~runflow.protocols.responses.websocket.ConnectionFlow` runs each response's
events through its own :class:`~runflow.protocols.responses.flow.ResponseFlow` (the
grammar: its violations are the connection's ``FrameViolation`` s). The layers
``runflow check`` runs beside an SSE stream's flow (:class:`~runflow.conform.grade.Layers`:
the payload rows, the order rows and, with ``types``, the SDK's types) see the same
events here (the registered Responses rows: the flow runs the WebSocket variant of
the definition, which has no row of its own), numbered as that response's flow
numbered them; each finding then names
the frame (its 0-based index in the conversation, both directions counting), as the
connection's violations do. Only the rules a WebSocket server is graded on are kept
(:func:`~runflow.conform.rules.rules_for`: no row that only SSE captures support).

``runflow check`` of a transcript and ``runflow conform``'s WebSocket scenarios
(:mod:`runflow.conform.websocket_grade`) both grade the responses here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from runflow.conform.events import TappedEvent
from runflow.conform.findings import Finding
from runflow.conform.grade import Layers
from runflow.conform.rules import WEBSOCKET, rules_for
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.websocket import ConnectionFlow
from runflow.protocols.responses.websocket.records import parse_frame
from runflow.protocols.responses.websocket.transcript import Frame

__all__ = ["response_findings"]


def response_findings(connection: ConnectionFlow, frames: Sequence[Frame], *,
                      types: bool = True, number: int = 0) -> list[Finding]:
    """The payload and order findings (and, with ``types``, the types findings) of each
    response of ``connection`` (run over ``frames``), each at its frame's index,
    in frame order. ``number``: the connection's (the events' ``stream``)."""
    graded = {r.id for r in rules_for(WEBSOCKET)}
    found: list[Finding] = []
    for record in connection.responses.values():
        places = [at for at in record.frames if at < len(frames)]
        layers = Layers(record.flow, types=types, protocol=RESPONSES)
        for index, at in enumerate(places):
            frame = frames[at]
            data = parse_frame(frame.data)
            name = data.get("type") if isinstance(data, dict) else None
            layers.see(TappedEvent(index, number, name if isinstance(name, str) else None,
                                   data if isinstance(data, dict) else None,
                                   frame.data.encode("utf-8", "replace")))
        for finding in layers.findings():
            if finding.rule.startswith("grammar.") or finding.rule not in graded:
                continue  # the grammar's are the connection's violations
            local = finding.index  # the response flow's index of the event
            found.append(replace(finding, index=places[local]) if local is not None
                         and 0 <= local < len(places) else finding)
    return sorted(found, key=lambda f: (f.index if f.index is not None else 1 << 60))
