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
(:mod:`runflow.conform.websocket_grade`) both grade the responses here:
:func:`response_findings` gives conform the layers' findings flat (it groups them
with the connection's violations itself), :func:`response_groups` gives ``check``
each response's findings grouped by root cause as ``check`` groups an SSE stream's
(:func:`~runflow.conform.grouping.group` told the ``responses`` rows), the response
flow's grammar findings among them: a lost or refused event is the root cause of the
payload and order findings it leaves behind, as in an SSE stream.

Each frame's data is parsed again here (:func:`parse_frame`): the connection flow
parsed it when the frame came, but keeps only each response's frame indices
(:attr:`ResponseRecord.frames`), not the parsed events, and holding every parsed
event of a long conversation to save a second parse would make the connection's
memory grow with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from runflow.conform.events import entity_key, named_event
from runflow.conform.findings import Finding, Group
from runflow.conform.grade import Layers
from runflow.conform.grouping import group
from runflow.conform.rules import WEBSOCKET, rules_for
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.websocket import ConnectionFlow
from runflow.protocols.responses.websocket.records import ResponseRecord, parse_frame
from runflow.protocols.responses.websocket.transcript import Frame

__all__ = ["ResponseGroups", "response_findings", "response_groups"]


@dataclass(frozen=True)
class ResponseGroups:
    """One response's findings of every layer, grouped by root cause, each at its
    frame's index in the conversation."""

    response_id: str
    lane: str | None
    """The response's ``stream_id`` (None: the default lane)."""
    groups: list[Group]


def _graded(connection: ConnectionFlow, frames: Sequence[Frame], types: bool,
            number: int) -> Iterator[tuple[ResponseRecord, Layers, list[int]]]:
    """Each response with its layers fed its events (the grouping key of each event a
    violation names kept: :attr:`Layers.keys`), and the frame of each of its events."""
    for record in connection.responses.values():
        places = [at for at in record.frames if at < len(frames)]
        layers = Layers(record.flow, types=types, protocol=RESPONSES)
        named = {v.index for v in record.flow.violations}
        for index, at in enumerate(places):
            frame = frames[at]
            data = parse_frame(frame.data)
            event = named_event(RESPONSES, index, number, None,
                                data if isinstance(data, dict) else None,
                                frame.data.encode("utf-8", "replace"))
            layers.see(event)
            if index in named:
                layers.keys[index] = entity_key(RESPONSES, event)
        yield record, layers, places


def _at_frame(finding: Finding, places: list[int], end: int) -> Finding:
    """``finding`` at its event's frame (a response flow's index of the event); past
    its last event (the input ended), at ``end``: the number of frames, where the
    connection's own findings of the end are."""
    local = finding.index
    if local is None or local < 0:
        return finding
    return replace(finding, index=places[local] if local < len(places) else end)


def _order(finding: Finding) -> int:
    return finding.index if finding.index is not None else 1 << 60


def response_findings(connection: ConnectionFlow, frames: Sequence[Frame], *,
                      types: bool = True, number: int = 0) -> list[Finding]:
    """The payload and order findings (and, with ``types``, the types findings) of each
    response of ``connection`` (run over ``frames``), each at its frame's index,
    in frame order. ``number``: the connection's (the events' ``stream``)."""
    graded = {r.id for r in rules_for(WEBSOCKET)}
    found: list[Finding] = []
    for _, layers, places in _graded(connection, frames, types, number):
        for finding in layers.findings():
            if finding.rule.startswith("grammar.") or finding.rule not in graded:
                continue  # the grammar's are the connection's violations
            found.append(_at_frame(finding, places, len(frames)))
    return sorted(found, key=_order)


def response_groups(connection: ConnectionFlow, frames: Sequence[Frame], *,
                    types: bool = True, number: int = 0) -> list[ResponseGroups]:
    """Each response's findings of every layer (its flow's grammar findings, the
    payload and order findings and, with ``types``, the types findings), grouped by
    root cause as ``check`` groups an SSE stream's, each at its frame's index; the
    responses that have any, in the order they began."""
    graded = {r.id for r in rules_for(WEBSOCKET)}
    out: list[ResponseGroups] = []
    for record, layers, places in _graded(connection, frames, types, number):
        found = [f for f in layers.findings()
                 if f.rule.startswith("grammar.") or f.rule in graded]
        if not found:
            continue
        groups = group(found, announcers=layers.announcers, protocol=RESPONSES)
        end = len(frames)
        out.append(ResponseGroups(record.id, record.lane, [
            Group(_at_frame(g.root, places, end),
                  tuple(_at_frame(f, places, end) for f in g.consequences)) for g in groups]))
    return out
