"""The decisions of the WebSocket drive loop, without I/O: what to send when a
socket opens, what each received frame means, when a turn ends, what the next
turn sends -- so that :func:`~runflow.adapters.drive.websocket.drive_websocket`
and its async twin share every one of them.

One :class:`SocketPlan` lives for the whole loop; each socket gets a
:class:`~runflow.protocols.responses.websocket.flow.ConnectionFlow` of its own
(connection memory, lanes and frame indices are per socket, as a transcript's
connections are) and a list of frames (:attr:`SocketPlan.frames`, one list per
socket, what :func:`~runflow.protocols.responses.websocket.transcript.dump_har`
writes).

A *turn* is one ``response.create`` the loop owes an answer to: the first request,
then one per completed response that asked for function calls. A turn ends when
the response on the loop's lane is terminal and no successor is owed there
(``response.incomplete`` with reason ``steered`` is followed by the automatic
successor, which belongs to the same turn).

After a lost socket the turn is sent again on the next one, never its tools run
again: the ``function_call_output`` items were made once (and recorded in the
ledger before the first send) and are what is sent again. Connection memory is
gone with the socket, so a continuation sent with ``previous_response_id`` may be
answered ``previous_response_not_found`` (always with ``store: false``, and by the
local server when its ``WebSocketMode.persist`` is off); the loop then sends the
*full input* instead: the first input, every item of the responses it continued
from, every output sent, and the steers those responses committed, with no
``previous_response_id`` (what WEBSOCKET.md's
"works with ``store: false``" needs). With ``store: false`` it sends the full
input on a new socket at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openai.types.responses import Response, ResponseFunctionToolCall

from runflow.adapters.drive.budget import Budget
from runflow.adapters.drive.errors import DriveError
from runflow.adapters.drive.ledger import Ledger
from runflow.adapters.drive.responses import FunctionCallMade
from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.websocket.flow import ConnectionFlow
from runflow.protocols.responses.websocket.records import (
    FrameViolation,
    LaneRecord,
    ResponseRecord,
    SteerRecord,
    parse_frame,
)
from runflow.protocols.responses.websocket.transcript import Frame

__all__ = ["MAX_RECONNECT_DELAY", "RECONNECT_DELAY", "RECONNECT_ERRORS", "DrivenSocket",
           "SocketPlan", "Turn"]

RECONNECT_ERRORS = ("websocket_connection_limit_reached",)
"""Error codes that end the socket, not the request: the loop reconnects."""
NOT_FOUND = "previous_response_not_found"
RECONNECT_DELAY = 0.1
"""Seconds before the second reconnect in a row (the first is at once), doubling."""
MAX_RECONNECT_DELAY = 2.0


@dataclass
class Turn:
    """One turn: every response the loop saw for it, on whichever socket."""

    number: int
    records: list[tuple[int, ResponseRecord]] = field(default_factory=list)
    """(socket number, record) of each response created for this turn, in order: a
    response cut with its socket, the one sent again, an automatic successor."""
    violations: list[FrameViolation] = field(default_factory=list)
    """The violations naming one of those responses."""

    @property
    def record(self) -> ResponseRecord:
        """The response that ended the turn."""
        return self.records[-1][1]

    @property
    def response(self) -> Response | None:
        return self.record.flow.response


@dataclass
class DrivenSocket:
    """What :func:`~runflow.adapters.drive.websocket.drive_websocket` did."""

    turns: list[Turn]
    connections: list[ConnectionFlow]
    """One validated conversation per socket opened (each closed)."""
    frames: list[list[Frame]]
    """The transcript: each socket's frames, both directions, in order."""
    tool_calls: list[FunctionCallMade]
    repeated_calls: list[ResponseFunctionToolCall]
    """Calls not answered because an earlier call of the same response had their
    ``call_id`` (one output answers a call id)."""
    reconnects: int

    @property
    def response(self) -> Response:
        """The final response: the one that asked for no new call (or did not
        complete)."""
        final = self.turns[-1].response
        assert final is not None  # a turn ends only at a terminal event
        return final

    @property
    def flows(self) -> list[ResponseFlow]:
        """Each turn's final response's flow (the WebSocket variant of the grammar)."""
        return [t.record.flow for t in self.turns]

    @property
    def responses(self) -> list[Response]:
        """Each turn's final response, in order."""
        return [r for t in self.turns if (r := t.response) is not None]

    @property
    def text(self) -> str:
        return self.response.output_text

    @property
    def steers(self) -> list[SteerRecord]:
        """The steering ledger: every ``response.steer`` sent, on every socket, with
        its state (``committed``, ``pending``, ``failed``, ``unknown`` after a lost
        socket...) and the response that committed it."""
        return [s for c in self.connections for s in c.steers]

    @property
    def violations(self) -> list[tuple[int, FrameViolation]]:
        """(socket number, violation) for every socket's violations."""
        return [(n, v) for n, c in enumerate(self.connections) for v in c.violations]


def _items(given: Any) -> list[Any]:
    """Input as a list of items (a string is one user message)."""
    if isinstance(given, str):
        return [{"type": "message", "role": "user", "content": given}]
    return list(given)


class SocketPlan:
    """Every decision of the loop; see the module docstring. The loops call
    :meth:`opened` on each new socket (and send what it returns), :meth:`sent`
    after each frame crossed, :meth:`received` with each frame read, :meth:`lost`
    when the socket ends, :meth:`next` at each turn's end and :meth:`answer` with
    the tools' outputs."""

    def __init__(self, params: dict[str, Any], input: Any, budget: Budget, *,
                 max_rounds: int, max_reconnects: int,
                 steer: Mapping[int, Sequence[Any]],
                 make_connection: Callable[[], ConnectionFlow]) -> None:
        self.budget = budget
        self.max_rounds, self.max_reconnects = max_rounds, max_reconnects
        self.steer, self.make_connection = steer, make_connection
        self.root_previous: str | None = params.pop("previous_response_id", None)
        self.lane: str | None = params.get("stream_id")
        self.params = params
        self.stored = params.get("store") is not False
        self.history: list[Any] = []
        """What the server has seen before this turn's items (for a full resend)."""
        self.items: list[Any] = _items(input)
        """This turn's new input items."""
        self.previous = self.root_previous
        self.full = False
        """This socket cannot chain: send the full input."""
        self.connections: list[ConnectionFlow] = []
        self.frames: list[list[Frame]] = []
        self.turns: list[Turn] = [Turn(0)]
        self.steered: set[int] = set()
        self.seen: set[tuple[int, str]] = set()
        self.received_count = 0
        self.reconnects = 0
        """Sockets opened (or tried) after the first."""
        self.attempts = 0
        self.ledger = Ledger()
        self.calls: list[FunctionCallMade] = []
        self.repeated: list[ResponseFunctionToolCall] = []

    # -- reading ----------------------------------------------------------------------
    @property
    def flow(self) -> ConnectionFlow:
        return self.connections[-1]

    @property
    def turn(self) -> Turn:
        return self.turns[-1]

    def still(self) -> str:
        """What is not final now, for a timeout."""
        record = self.turn.records[-1][1] if self.turn.records else None
        if record is None:
            return f"turn {self.turn.number}: no response created yet"
        return (f"turn {self.turn.number}: response {record.id} still "
                f"{record.flow.status!r}")

    def _lane(self) -> LaneRecord | None:
        return self.flow.lanes.get(self.lane) if self.connections else None

    # -- sockets ----------------------------------------------------------------------
    def before_open(self) -> float:
        """Seconds to wait before opening the next socket: none for the first, nor
        for a first reconnect (a cut is most often a one-off), then
        :data:`RECONNECT_DELAY` doubling up to :data:`MAX_RECONNECT_DELAY`, never
        past the deadline. Raises :class:`DriveError` past ``max_reconnects``."""
        self.attempts += 1
        if self.attempts == 1:
            return 0.0
        self.reconnects += 1
        if self.reconnects > self.max_reconnects:
            raise DriveError(f"{self.still()}: the socket was lost or would not open "
                             f"{self.reconnects} times (max_reconnects={self.max_reconnects})")
        step = min(self.reconnects - 2, 16)
        return 0.0 if step < 0 else self.budget.clip(
            min(RECONNECT_DELAY * 2 ** step, MAX_RECONNECT_DELAY))

    def opened(self) -> list[str]:
        """A new socket: its flow, and the frames to send first (the turn's create)."""
        self.connections.append(self.make_connection())
        self.frames.append([])
        self.received_count = 0
        self.full = self.reconnects > 0 and not self.stored
        return [self.request()]

    def request(self) -> str:
        """The turn's ``response.create``: chained, or the full input."""
        body: dict[str, Any] = {"type": "response.create", **self.params}
        if self.full:
            body["input"] = [*self.history, *self.items]
            previous = self.root_previous
        else:
            body["input"] = list(self.items)
            previous = self.previous
        if previous is not None:
            body["previous_response_id"] = previous
        return json.dumps(body)

    def sent(self, text: str, when: float) -> None:
        """A frame crossed the socket."""
        self.frames[-1].append(Frame("send", text, when))
        self.flow.send(text)

    def lost(self) -> None:
        """The socket ended: its flow is closed (a response in flight there is
        ``truncated``); the turn is sent again on the next one."""
        if self.connections and self.flow.state != "closed":
            self.flow.close()
            self._note_violations()

    # -- frames -----------------------------------------------------------------------
    def received(self, raw: bytes | str, when: float) -> tuple[str, list[str]]:
        """One frame read: ``("wait", [])``, ``("send", frames)`` (a steer, a full
        resend), ``("turn", [])`` (the turn ended: call :meth:`next`) or
        ``("reconnect", [])``."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        self.frames[-1].append(Frame("receive", text, when))
        self.received_count += 1
        data = parse_frame(text)  # parsed once: the flow takes the event object, or
        self.flow.receive(data if type(data) is dict else text)  # reports what is wrong
        lane = self._lane()
        out: list[str] = []
        record = lane.response if lane is not None else None
        socket = len(self.connections) - 1
        if record is not None and (socket, record.id) not in self.seen:
            self.seen.add((socket, record.id))
            self.turn.records.append((socket, record))
            out += self._steers(record)
        if type(data) is dict and data.get("type") == "error":
            error = data.get("error")
            if isinstance(error, dict) and error.get("code") in RECONNECT_ERRORS:
                return "reconnect", []  # whatever was in flight: the socket is ending
            if (record is None or not record.active) and (lane is None or not lane.queued):
                return self._refused(error if isinstance(error, dict) else {})
        if (lane is not None and record is not None and not record.active
                and lane.state not in ("in_flight", "succeeding") and not lane.queued
                and self.turn.records and self.turn.records[-1][1] is record):
            return "turn", []
        return ("send", out) if out else ("wait", [])

    def _steers(self, record: ResponseRecord) -> list[str]:
        number = self.turn.number
        if number in self.steered or number not in self.steer:
            return []
        self.steered.add(number)  # once: after a lost socket its outcome stays unknown
        return [json.dumps({"type": "response.steer", "previous_response_id": record.id,
                            "input": inp}) for inp in self.steer[number]]

    def _refused(self, error: dict[str, Any]) -> tuple[str, list[str]]:
        """An error no response owns: the create was refused."""
        code, message = error.get("code"), error.get("message")
        if code == NOT_FOUND and not self.full and self.previous != self.root_previous:
            self.full = True  # connection memory is gone: send what it held
            return "send", [self.request()]
        raise DriveError(f"{self.still()}: the server refused response.create: {code}: "
                         f"{message}")

    # -- turns ------------------------------------------------------------------------
    def next(self) -> tuple[str, list[ResponseFunctionToolCall]]:
        """At a turn's end: ``("stop", [])`` or ``("call", calls)`` -- the completed
        function calls not yet answered."""
        self._note_violations()
        final = self.turn.response
        if final is None or final.status != "completed":
            return "stop", []
        calls = [c for c in final.output if isinstance(c, ResponseFunctionToolCall)]
        fresh, repeats = self.ledger.unanswered(calls, lambda c: c.call_id)
        if not fresh:
            return "stop", []
        self.budget.check(self.still())
        if len(self.turns) >= self.max_rounds:
            raise DriveError(f"response {final.id} still asks for function calls after "
                             f"{self.max_rounds} turn(s) (max_rounds)")
        self.repeated += repeats
        return "call", fresh

    def answer(self, calls: list[ResponseFunctionToolCall], outputs: list[str] | None
               ) -> str:
        """Record the outputs as answered (before they are sent) and open the next
        turn; returns its ``response.create``."""
        if outputs is None:
            raise DriveError("no outputs to send")
        final = self.turn.response
        assert final is not None
        self.ledger.record(c.call_id for c in calls)
        items: list[Any] = []
        for call, output in zip(calls, outputs, strict=True):
            self.calls.append(FunctionCallMade(call.call_id, call.name, call.arguments,
                                               output, final.id))
            items.append({"type": "function_call_output", "call_id": call.call_id,
                          "output": output})
        self.history += self.items
        last = self.turn.records[-1][0]
        for socket, record in self.turn.records:  # the final one and what it succeeded
            if socket != last:
                continue  # cut with its socket: the server forgot it
            self.history += self._committed(record)
            response = record.flow.response
            if response is not None:
                self.history += [i.model_dump(mode="json", exclude_none=True)
                                 for i in response.output]
        self.items, self.previous, self.full = items, final.id, False
        self.turns.append(Turn(len(self.turns)))
        return self.request()

    def _committed(self, record: ResponseRecord) -> list[Any]:
        """The steer inputs ``record`` committed (part of what the server saw)."""
        flow = next((c for c in self.connections if record.id in c.responses), None)
        steers = flow.steers if flow is not None else []
        return [i for n in record.committed for i in _items(steers[n].input)]

    def _note_violations(self) -> None:
        for turn in self.turns:
            ids = {r.id for _, r in turn.records}
            turn.violations = [v for c in self.connections for v in c.violations
                               if v.response_id in ids]

    def result(self) -> DrivenSocket:
        self._note_violations()
        return DrivenSocket(list(self.turns), list(self.connections), list(self.frames),
                            list(self.calls), list(self.repeated), self.reconnects)
