"""Grade one recorded WebSocket conversation on conform's layers.

The frames a :class:`~.websocket_session.WsConnection` recorded are run through a
:class:`~runflow.protocols.responses.websocket.ConnectionFlow` exactly as ``runflow
check`` runs a transcript (:func:`~runflow.protocols.responses.websocket.transcript.
check_frames`: each frame sent or received in order, then ``close()``), so a finding
and ``check`` on the saved transcript name the same code at the same frame. Every
index is the frame's 0-based position in the transcript (both directions count).

* ``grammar``: each :class:`FrameViolation` (the connection's rules and each
  response's own grammar) is ``grammar.<code>``;
* ``payload``, ``types`` and ``order``: each response's events (the frames its flow
  was fed) through the layers of an SSE stream
  (:mod:`~runflow.conform.websocket_layers`), as ``runflow check`` of a transcript;
* ``http``: the handshake, the bounds (:mod:`.websocket_session`), and the shape of
  every ``error`` event's error object (``http.error_shape``);
* ``consistency.ws_outcome``: the scenario row's :class:`~.websocket_context.Expect`
  against the ledger (each response's status, each steer's state and code, the
  error events).

Memory: the frames are the session's (held anyway, bounded by ``--max-stream-bytes``);
grading keeps only each frame's name beside them, and parses a response's frames
again when its turn comes (so the parsed events of one response are held at a time,
not those of the whole conversation). The tap keeps what an SSE probe's
:class:`~runflow.conform.events.Window` keeps: the first and last frames and those a
finding names, without big payloads.

The connections' REST side is not read: WebSocket-mode responses live in the
connection's memory (``store: false`` works), so there is no ``consistency.response``.
:class:`ConnectionProbe` is what the reports read of a graded connection, shaped like
an SSE :class:`~.session.Probe` (a flow with its history, a tap with its events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from runflow.conform.events import HEAD, NAMED, TAIL, TappedEvent, carried, kept
from runflow.conform.findings import Finding, Group
from runflow.conform.grouping import Announcers, group
from runflow.conform.order import Follows, Next, Repeats, expectations_for
from runflow.conform.payload import rows_applied
from runflow.conform.rules import WEBSOCKET, rules_for
from runflow.conform.sdk_types import rule_of
from runflow.conform.session import error_shape_problem
from runflow.conform.websocket_context import Expect
from runflow.conform.websocket_layers import response_findings
from runflow.engine.definition import Protocol
from runflow.engine.state import Ending, StateChange
from runflow.engine.violations import RULES as ENGINE_RULES
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.websocket import ConnectionFlow, FrameViolation
from runflow.protocols.responses.websocket.definition import MACHINES, WS_RESPONSES, WsCode
from runflow.protocols.responses.websocket.records import LaneRecord, SteerRecord, parse_frame
from runflow.protocols.responses.websocket.transcript import Frame, ending

__all__ = ["ConnectionProbe", "ConnectionView", "FrameTap", "grade_connection",
           "outcome_findings"]

DIAGRAM_PROTOCOL: Protocol = replace(WS_RESPONSES, tables={**MACHINES, **WS_RESPONSES.tables})
"""The connection's machines and a response's tables in one definition, for drawing the
path a conversation took (the HTML report); the root stays the response."""


@dataclass
class ConnectionView:
    """The checked conversation as the reports read a flow."""

    connection: ConnectionFlow
    history: list[StateChange]
    protocol: Protocol = DIAGRAM_PROTOCOL

    @property
    def event_count(self) -> int:
        return self.connection.index

    @property
    def ending(self) -> Ending | None:
        return "truncated" if ending(self.connection) == "truncated" else "done"

    @property
    def root_kind(self) -> str:
        return "connection"

    @property
    def root_state(self) -> str:
        return self.connection.state

    @property
    def root_id(self) -> str | None:
        return None


@dataclass
class FrameTap:
    """The frames of the conversation a report shows, each as a :class:`TappedEvent`
    (:func:`~runflow.conform.events.kept`): the first ``HEAD``, the last ``TAIL`` and
    up to ``NAMED`` a finding names (``stream``: the connection's number in the
    scenario)."""

    events: list[TappedEvent]
    stream: int = 0


@dataclass
class ConnectionProbe:
    """One graded connection of a scenario."""

    label: str
    frames: list[Frame]
    flow: ConnectionView
    tap: FrameTap
    findings: list[Finding] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)


def _event(frames: Sequence[Frame], index: int, number: int) -> TappedEvent:
    """Frame ``index`` as an event (its data parsed again: see the module docstring)."""
    frame = frames[index]
    data = parse_frame(frame.data)
    name = data["type"] if isinstance(data, dict) else None
    return TappedEvent(index, number, name if frame.type == "receive" else f"{name} (sent)",
                       data if isinstance(data, dict) else None,
                       frame.data.encode("utf-8", "replace"))


def _run(frames: Sequence[Frame], announcers: Announcers
         ) -> tuple[ConnectionFlow, list[StateChange], list[str | None]]:
    """What :func:`check_frames` does, keeping each lane, steer and connection change
    and each frame's event name (None: no name); ``announcers`` see each frame."""
    flow = ConnectionFlow()
    history: list[StateChange] = []
    last: dict[int, str] = {}
    current = {"event": "close"}

    def moved(kind: str, model: LaneRecord | SteerRecord, name: str) -> None:
        before = last.get(id(model), MACHINES[kind].initial)
        last[id(model)] = model.state
        if before != model.state:
            history.append(StateChange(flow.index, kind, name, current["event"], before,
                                       model.state))

    flow.on_lane(lambda lane: moved("lane", lane, str(lane.id)))
    flow.on_steer(lambda steer: moved("steer", steer, f"#{steer.number}"))
    names: list[str | None] = []
    for index, frame in enumerate(frames):
        data = parse_frame(frame.data)
        name = data["type"] if isinstance(data, dict) else None
        current["event"] = f"{frame.type} {name}" if name else frame.type
        before = flow.state
        (flow.send if frame.type == "send" else flow.receive)(frame.data)
        if flow.state != before:
            history.append(StateChange(index, "connection", "", current["event"], before,
                                       flow.state))
        if isinstance(data, dict):
            announcers.see(TappedEvent(index, 0, name, data, None))
        names.append(name)
    current["event"] = "close"
    before = flow.state
    flow.close()
    history.append(StateChange(flow.index, "connection", "", "close", before, flow.state))
    for record in flow.responses.values():  # each response's own path, at its frames
        history += [replace(c, index=record.frames[c.index])
                    for c in record.flow.history if c.index < len(record.frames)]
    return flow, sorted(history, key=lambda c: c.index), names


def _finding(v: FrameViolation) -> Finding:
    entity = (f"response {v.response_id}" if v.response_id is not None
              else f"lane {v.lane}" if v.lane is not None else None)
    key = (f"response:{v.response_id}" if v.response_id is not None
           else f"lane:{v.lane}" if v.lane is not None else None)
    return Finding(f"grammar.{v.code}", v.severity, f"{v.direction}: {v.message}", v.index,
                   v.event, entity, key)


def _layers(flow: ConnectionFlow, frames: Sequence[Frame], names: list[str | None],
            number: int) -> tuple[list[Finding], set[str]]:
    """The payload, order and error-shape findings, and the rules they exercised; each
    response's events, as its flow was fed them (frame indices kept), parsed in turn."""
    found = response_findings(flow, frames, number=number)
    checked: set[str] = set()
    graded = {r.id for r in rules_for(WEBSOCKET)}
    for record in flow.responses.values():
        own = [_event(frames, i, number) for i in record.frames if i < len(frames)]
        checked |= rows_applied(RESPONSES, own) & graded
        checked |= {rule_of(RESPONSES, c.kind)
                    for c in map(partial(carried, RESPONSES), own) if c} & graded
        seen = {e.name for e in own}
        checked |= {row.id for row in expectations_for(RESPONSES) if row.id in graded and (
            isinstance(row, Repeats) or (isinstance(row, (Follows, Next))
                                         and row.event in seen))}
    for index in (i for i, name in enumerate(names) if name == "error"):
        event = _event(frames, index, number)
        if event.name == "error" and isinstance(event.data, dict):
            checked.add("http.error_shape")
            problem = error_shape_problem(event.data)
            if problem is not None:
                found.append(Finding("http.error_shape", "error", f"the error event: {problem}",
                                     event.index, "error"))
    return found, checked


def outcome_findings(flow: ConnectionFlow, expects: Expect) -> list[Finding]:
    """``consistency.ws_outcome``: what the row expects that the ledger does not show."""
    problems = []
    statuses = tuple(str(r.flow.status) for r in flow.responses.values())
    if expects.responses is not None and statuses != expects.responses:
        problems.append(f"the responses ended {', '.join(statuses) or 'nowhere'}, not "
                        f"{', '.join(expects.responses)}")
    ledger = [(s.state, s.error_code) for s in flow.steers]
    for state, code in expects.steers:
        if (state, code) in ledger:
            ledger.remove((state, code))
        else:
            shown = ", ".join(f"{s}" + (f" ({c})" if c else "") for s, c in
                              ((st.state, st.error_code) for st in flow.steers)) or "none"
            problems.append(f"no steer {state}" + (f" with {code}" if code else "")
                            + f" (the ledger: {shown})")
    codes = [_code(e) for e in flow.errors]
    problems += [f"no error event with code {code} (error codes: "
                 f"{', '.join(map(str, codes)) or 'none'})" for code in expects.errors
                 if code not in codes]
    return [Finding("consistency.ws_outcome", "error", f"expected {expects.describe()}: {p}")
            for p in problems]


def _code(event: dict[str, Any]) -> Any:
    error = event.get("error")
    return error.get("code") if isinstance(error, dict) else None


def grade_connection(label: str, frames: list[Frame], number: int = 0,
                     found: Sequence[Finding] = (), expects: Expect | None = None,
                     scenario: str = "") -> tuple[ConnectionProbe, list[Group]]:
    """Check ``frames`` and grade them; ``found``: what the session found (bounds,
    the handshake); ``expects``: the row's outcome (None: not judged, e.g. after the
    connection ended early)."""
    announcers = Announcers(protocol=RESPONSES.name)  # each response's grammar: its rows
    flow, history, names = _run(frames, announcers)
    findings = [_finding(v) for v in flow.violations]
    more, checked = _layers(flow, frames, names, number)
    findings += more + list(found)
    checked |= {f"grammar.{code.value}" for code in WsCode}
    if flow.responses:  # some response's own grammar ran
        checked |= {f"grammar.{code.value}" for code in ENGINE_RULES}
    checked.add("http.status")
    if expects is not None:
        findings += outcome_findings(flow, expects)
        checked.add("consistency.ws_outcome")
    probe = ConnectionProbe(label, list(frames), ConnectionView(flow, history),
                            FrameTap(_shown(frames, findings, number), number), findings,
                            checked)
    return probe, group([f.placed(scenario, label) for f in findings], announcers=announcers,
                        protocol=RESPONSES.name)


def _shown(frames: Sequence[Frame], findings: list[Finding], number: int
           ) -> list[TappedEvent]:
    """The frames the tap keeps (:class:`FrameTap`), in index order."""
    count = len(frames)
    named = sorted({f.index for f in findings if f.index is not None and f.index < count})
    indices = {*range(min(HEAD, count)), *range(max(count - TAIL, 0), count)}
    indices |= set([i for i in named if i not in indices][:NAMED])
    return [kept(_event(frames, i, number), data=i < HEAD) for i in sorted(indices)]
