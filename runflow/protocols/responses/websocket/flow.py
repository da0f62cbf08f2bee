"""``ConnectionFlow``: one Responses WebSocket conversation validated, sans-I/O.

``send(event)`` takes each client frame, ``receive(event)`` each server frame (a
dict, an SDK model, or the raw JSON text), ``close()`` says the socket ended. The
flow keeps one :class:`ResponseFlow` per response (the WebSocket variant of the
grammar, :data:`~.definition.WS_RESPONSES`), routes server events to them by
``stream_id``, moves the lane, steering and connection machines of
:mod:`.definition`, and reports every broken rule as a :class:`FrameViolation` at its
frame. Nothing here raises on remote input.

Read it through ``lanes``, ``responses`` and ``steers`` (the steering ledger);
register :meth:`~ConnectionFlow.on_lane`, :meth:`~ConnectionFlow.on_steer` and
:meth:`~ConnectionFlow.on_response` (called with each new response before its first
event, to register that response's own callbacks)."""

from __future__ import annotations

from typing import Any

from runflow.engine.limits import Limits
from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.websocket.base import (
    LaneCallback,
    ResponseCallback,
    SteerCallback,
)
from runflow.protocols.responses.websocket.definition import (
    CUT,
    TERMINAL_EVENTS,
    WS_RESPONSES,
    WsCode,
)
from runflow.protocols.responses.websocket.records import (
    SETUP_ROWS,
    Direction,
    FrameViolation,
    LaneRecord,
    ResponseRecord,
    parse_frame,
)
from runflow.protocols.responses.websocket.steering import STEER_EVENTS, Steering

__all__ = ["ConnectionFlow", "LaneCallback", "ResponseCallback", "SteerCallback"]

P = "response."
_CREATED = P + "created"


class ConnectionFlow(Steering):
    """Validate one Responses WebSocket conversation; see the module docstring."""

    def __init__(self, limits: Limits | None = None) -> None:
        super().__init__(limits)
        self._active: dict[str, ResponseRecord] | None = None
        """The records of :attr:`responses` still in flight, in its order (built on
        first use, then kept): what the wrong-lane checks search instead of every
        response the connection ever had."""

    # -- input -----------------------------------------------------------------------
    def send(self, frame: Any) -> list[FrameViolation]:
        """One client frame (``response.create`` / ``response.steer``)."""
        return self._frame("send", frame)

    def receive(self, frame: Any) -> list[FrameViolation]:
        """One server frame."""
        return self._frame("receive", frame)

    def close(self) -> str:
        """The socket ended: ``"truncated"`` with a response, successor or create owed
        (:data:`~.definition.CUT`), else ``"closed"``."""
        before = len(self.violations)
        self._direction, self._event = "close", None
        self._end("close", "unknown")
        self._move(self.connection, "connection", "close")
        return "truncated" if any(v.code in CUT for v in self.violations[before:]) else "closed"

    def lost(self) -> None:
        """The socket was lost (no close): what was in flight is cut, steering
        outcomes become unknown; :meth:`reconnect` opens the next socket."""
        self._direction, self._event = "close", None
        self._end("detach", "lost")
        self._move(self.connection, "connection", "lost")

    def reconnect(self) -> None:
        """A new socket: lanes start again, connection memory is gone."""
        self.lanes = {}
        self._move(self.connection, "connection", "reconnect")

    def _frame(self, direction: Direction, frame: Any) -> list[FrameViolation]:
        """One frame either way: parsed, handed to :meth:`_on_send` or
        :meth:`_on_receive` (told apart by an ``if``, not a bound method made per
        frame), counted; the violations it produced."""
        violations = self.violations
        before = len(violations)
        self._direction, self._event = direction, None
        self._finite = isinstance(frame, (str, bytes, bytearray))
        data = parse_frame(frame)
        if isinstance(data, str):
            self._violate(WsCode.MALFORMED_FRAME, data)
        else:
            self._event = data["type"]
            if direction == "receive":
                self._on_receive(data)
            else:
                self._on_send(data)
        self.index += 1
        return violations[before:] if len(violations) > before else []

    # -- client frames ---------------------------------------------------------------
    def _on_send(self, data: dict[str, Any]) -> None:
        kind = data["type"]
        if kind == P + "create":
            for name in ("stream", "background"):
                if name in data:
                    self._violate(WsCode.CREATE_FIELD_NOT_ALLOWED,
                                  f"response.create carries {name!r}, which a WebSocket "
                                  "create leaves out")
            stream_id = data.get("stream_id")
            if stream_id is not None and type(stream_id) is not str:
                self._violate(WsCode.MALFORMED_FRAME, "response.create's stream_id is not "
                              "a string")
                return
            lane = self.lanes.get(stream_id)
            if lane is None:
                lane = self.lanes[stream_id] = LaneRecord(stream_id)
            lane.queued += 1
        elif kind == P + "steer":
            self._submit(data)
        else:
            self._violate(WsCode.UNKNOWN_CLIENT_EVENT, f"client event {kind!r} is neither "
                          "response.create nor response.steer")

    # -- server frames ---------------------------------------------------------------
    def _on_receive(self, data: dict[str, Any]) -> None:
        kind = data["type"]
        stream_id = data.get("stream_id")
        if stream_id is not None and type(stream_id) is not str:
            self._violate(WsCode.MALFORMED_FRAME, f"{kind}'s stream_id is not a string")
            return
        if kind in STEER_EVENTS:
            self._on_steer_event(kind, data, stream_id)
            return
        lane = self.lanes.get(stream_id)
        if lane is None:
            if stream_id is not None or kind != "error":
                self._violate(WsCode.UNKNOWN_LANE, f"{kind} on lane {stream_id!r}, which no "
                              "create on this connection named", stream_id)
                if kind != "error":
                    return
            self.errors.append(data)
            return
        if kind == _CREATED:
            self._on_created(lane, data)
            return
        current = lane.response
        if current is None or current.ended is not None:
            if kind == "error":
                if lane.queued:
                    lane.queued -= 1  # the create was refused
                self.errors.append(data)
                return
            if lane.state == "succeeding":
                self._violate(WsCode.SUCCESSOR_MISSING, f"{kind} on lane {stream_id!r} "
                              f"after {lane.steered_from} ended steered, before its "
                              "successor's response.created", stream_id)
            self._violate(WsCode.LANE_NOT_IN_FLIGHT, f"{kind} on lane {stream_id!r}, "
                          "which has no response in flight", stream_id)
            return
        item_id = data.get("item_id")
        if type(item_id) is str and item_id not in current.items:
            owner = next((r for r in self._in_flight().values()
                          if r is not current and item_id in r.items), None)
            if owner is not None:
                self._violate(WsCode.WRONG_LANE, f"{kind} on lane {stream_id!r} names item "
                              f"{item_id} of {owner.id} on lane {owner.lane!r}; it is "
                              "checked as that response's event", stream_id, current.id)
                lane = self.lanes[owner.lane]
                current = owner
        self._on_response_event(lane, current, kind, data)

    def _in_flight(self) -> dict[str, ResponseRecord]:
        """The records of :attr:`responses` in flight, in its order."""
        active = self._active
        if active is None:
            active = self._active = {rid: r for rid, r in self.responses.items()
                                     if r.ended is None}
        return active

    def _on_created(self, lane: LaneRecord, data: dict[str, Any]) -> None:
        obj = data.get("response")
        rid = obj.get("id") if type(obj) is dict else None
        if type(obj) is not dict or type(rid) is not str:
            self._violate(WsCode.MALFORMED_FRAME, "response.created without a response id",
                          lane.id)
            return
        if lane.response is not None and lane.response.id == rid:
            self._in_sequence(lane, lane.response, data)  # a duplicated response.created
            return
        if lane.response is not None and lane.response.active:
            self._violate(WsCode.LANE_BUSY, f"response.created for {rid} on lane "
                          f"{lane.id!r} while {lane.response.id} is in flight there", lane.id,
                          rid)
            return
        previous = obj.get("previous_response_id")
        previous = previous if type(previous) is str else None
        record = ResponseRecord(rid, lane.id, ResponseFlow(protocol=WS_RESPONSES,
                                                           limits=self.limits),
                                self.index, previous)
        open_steers = self._open_steers(previous)
        if lane.state == "succeeding":
            record.successor_of = lane.steered_from
            if previous != lane.steered_from:
                waiting = [s.number for s in self._open_steers(lane.steered_from)]
                self._violate(WsCode.SUCCESSOR_UNCOMMITTED, f"the successor {rid} on lane "
                              f"{lane.id!r} continues from {previous}, not the steered "
                              f"{lane.steered_from}; accepted steers {waiting} stay "
                              "uncommitted", lane.id, rid)
        elif lane.queued:
            lane.queued -= 1
        elif open_steers:
            record.successor_of = previous  # the automatic successor of a completion
        else:
            self._violate(WsCode.UNREQUESTED_RESPONSE, f"response.created for {rid} on lane "
                          f"{lane.id!r}, which has no create queued and no steered response",
                          lane.id, rid)
        self._commit(lane, record, open_steers)
        if rid in self.responses:  # an id seen before keeps its place: rebuild the index
            self.responses[rid] = record
            self._active = None
        else:
            self.responses[rid] = record
            if self._active is not None:
                self._active[rid] = record
        lane.response = record
        lane.responses.append(rid)
        lane.steered_from = None
        for cb in self._response_cbs:
            cb(record)
        self._move(lane, "lane", P + "created")
        self._move(self.connection, "connection", "turn")
        sequence = data.get("sequence_number")
        record.next_sequence = sequence + 1 if type(sequence) is int else None
        self._feed(record, data)

    def _on_response_event(self, lane: LaneRecord, record: ResponseRecord, kind: str,
                           data: dict[str, Any]) -> None:
        number = data.get("sequence_number")
        if type(number) is int and number == record.next_sequence:
            record.next_sequence = number + 1  # in order: the common case
        elif not self._in_sequence(lane, record, data):
            return
        obj = data.get("response")
        if type(obj) is dict and obj.get("id") != record.id:
            self._violate(WsCode.RESPONSE_ID_MISMATCH, f"{kind} names response "
                          f"{str(obj.get('id'))[:80]}, but {record.id} is in flight on lane "
                          f"{lane.id!r}", lane.id, record.id)
            return
        item = data.get("item")
        if type(item) is dict and type(item_id := item.get("id")) is str:
            record.items.add(item_id)
        rows = SETUP_ROWS.get(kind)
        if rows is not None and record.held_back(rows, data):
            return
        self._feed(record, data)
        if kind in TERMINAL_EVENTS:
            record.ended = kind
            if self._active is not None and self._active.get(record.id) is record:
                del self._active[record.id]
            record.flow.close()
            details = obj.get("incomplete_details") if type(obj) is dict else None
            steered = type(details) is dict and details.get("reason") == "steered"
            if steered:
                lane.steered_from = record.id
            self._move(lane, "lane", "steered" if steered else "ended")
            if not any(ln.state in ("in_flight", "succeeding") for ln in self.lanes.values()):
                self._move(self.connection, "connection", "settle")

    def _in_sequence(self, lane: LaneRecord, record: ResponseRecord,
                     data: dict[str, Any]) -> bool:
        """Check ``sequence_number`` against the response's count; False drops the frame."""
        number = data.get("sequence_number")
        expected = record.next_sequence
        if type(number) is not int or expected is None or number == expected:
            if type(number) is int:
                record.next_sequence = number + 1
            return True
        if number < expected:
            self._violate(WsCode.SEQUENCE_REPLAY, f"{data['type']} #{number} of "
                          f"{record.id} again (expected #{expected}): a duplicated frame",
                          lane.id, record.id)
            return False
        for other in self._in_flight().values():
            if other is not record and other.next_sequence == number:
                self._violate(WsCode.WRONG_LANE, f"{data['type']} #{number} on lane "
                              f"{lane.id!r} is the next event of {other.id} on lane "
                              f"{other.lane!r}, not of {record.id} (expected #{expected})",
                              lane.id, record.id)
                return False
        self._violate(WsCode.SEQUENCE_GAP, f"{data['type']} #{number} of {record.id}: "
                      f"#{expected} to #{number - 1} never arrived", lane.id, record.id)
        record.next_sequence = number + 1
        return True

    def _feed(self, record: ResponseRecord, data: dict[str, Any]) -> None:
        record.frames.append(self.index)
        # the violations this event produced; named as the line of an SSE event is,
        # the flow takes the frame's own dict (parse_frame's, not the caller's)
        new = record.flow.feed({"event": data["type"], "data": data}, finite=self._finite)
        for v in new:
            self.violations.append(FrameViolation(
                code=v.code.value, severity=v.severity, index=self.index,
                direction="receive", event=v.event, lane=record.lane, response_id=record.id,
                message=v.message, source="response"))

    def _end(self, lane_event: str, steer_event: str) -> None:
        for lane in self.lanes.values():
            current = lane.response
            if lane.state == "in_flight" and current is not None and current.active:
                if lane_event == "close":
                    self._violate(WsCode.TRUNCATED, f"the conversation ended while "
                                  f"{current.id} was in flight", lane.id, current.id)
                current.flow.close()
            if lane.queued and lane_event == "close":
                self._violate(WsCode.CREATE_UNANSWERED, f"the conversation ended before "
                              f"{lane.queued} create(s) on it were answered", lane.id)
            if lane.state == "succeeding" and lane_event == "close":
                self._violate(WsCode.SUCCESSOR_MISSING, f"the conversation ended before the "
                              f"successor of {lane.steered_from}", lane.id,
                              lane.steered_from)
            self._move(lane, "lane", "detach")
        if steer_event == "unknown":
            self._unacknowledged(lambda s: True)
        for steer in self.steers:
            self._move(steer, "steer", "lost")
