"""The steering ledger's rules: each ``response.steer`` a :class:`SteerRecord` moved
through the steering machine by the server's ``response.steer.accepted`` /
``.pending`` / ``.failed``, committed by its successor's ``response.created``, made
unknown when the socket ends first (:data:`~.definition.MACHINES` ``"steer"``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runflow.protocols.responses.websocket.base import ConnectionBase
from runflow.protocols.responses.websocket.definition import WsCode
from runflow.protocols.responses.websocket.records import (
    LaneRecord,
    ResponseRecord,
    SteerRecord,
)

__all__ = ["STEER_EVENTS", "Steering"]

P = "response."
STEER_EVENTS = frozenset({P + "steer.accepted", P + "steer.pending", P + "steer.failed"})
_OPEN = ("accepted", "pending")
"""The states of a steer its target's successor commits."""


class Steering(ConnectionBase):
    """The ledger (:attr:`steers`) and its rules, on a :class:`ConnectionBase`."""

    def _submit(self, data: dict[str, Any]) -> None:
        """A client ``response.steer``."""
        if "stream_id" in data:
            self._violate(WsCode.STEER_HAS_STREAM_ID, "response.steer carries "
                          "stream_id; the target response determines the lane")
        target = data.get("previous_response_id")
        if type(target) is not str:
            self._violate(WsCode.MALFORMED_FRAME, "response.steer without a string "
                          "previous_response_id")
            return
        steer = SteerRecord(len(self.steers), self.index, target, data.get("input"))
        self.steers.append(steer)
        self._entered(steer, steer.state)

    def _open_steers(self, target: str | None) -> list[SteerRecord]:
        """The steers of ``target`` accepted or pending: what its successor commits."""
        if not self.steers:
            return []
        return [s for s in self.steers if s.target == target and s.state in _OPEN]

    def _commit(self, lane: LaneRecord, record: ResponseRecord,
                steers: list[SteerRecord]) -> None:
        """``record``'s ``response.created`` on ``lane``: the steers of the lane's
        responses still unanswered are lost, ``steers`` are committed by it."""
        if not self.steers:
            return
        self._unacknowledged(lambda s: s.target in lane.responses)
        for steer in steers:
            steer.committed_by = record.id
            record.committed.append(steer.number)
            self._move(steer, "steer", "commit")

    def _on_steer_event(self, kind: str, data: dict[str, Any], stream_id: str | None) -> None:
        body = data.get("steer")
        target = body.get("previous_response_id") if type(body) is dict else None
        if type(body) is not dict or type(target) is not str:
            self._violate(WsCode.MALFORMED_FRAME, f"{kind} without steer.previous_response_id",
                          stream_id)
            return
        sid = body.get("id")
        response = self.responses.get(target)
        if response is not None and stream_id is not None and stream_id != response.lane:
            self._violate(WsCode.WRONG_LANE, f"{kind} for {target} on lane {stream_id!r}; "
                          f"{target} runs on lane {response.lane!r}", stream_id, target)
        if kind == P + "steer.failed" and type(sid) is not str:
            steer = self._steer(lambda s: s.target == target and s.state == "submitted")
        elif kind == P + "steer.accepted":
            steer = self._steer(lambda s: s.target == target and s.state == "submitted")
        else:
            steer = self._steer(lambda s: s.id == sid and s.id is not None)
        if steer is None:
            self._violate(WsCode.UNKNOWN_STEER, f"{kind} for steer {sid!r} of {target}, which "
                          "matches no open submission", stream_id, target)
            return
        if kind == P + "steer.accepted":
            if response is None or not response.active:
                self._violate(WsCode.STEER_TARGET_INACTIVE, f"steer {sid!r} accepted for "
                              f"{target}, which is not a response in flight here",
                              stream_id, target)
            steer.id = sid if type(sid) is str else None
        elif kind == P + "steer.pending":
            if steer.pending_seen:
                self._violate(WsCode.STEER_PENDING_REPEATED, f"steer {sid} is pending again",
                              stream_id, target)
                return
            if response is None or response.ended != P + "completed":
                self._violate(WsCode.STEER_PENDING_EARLY, f"steer {sid} pending before "
                              f"{target}'s response.completed", stream_id, target)
            steer.pending_seen = True
            required = data.get("required_input")
            steer.required_input = required if type(required) is list else None
            lane = self.lanes.get(response.lane) if response is not None else None
            if lane is not None:
                self._move(lane, "lane", P + "steer.pending")
        else:
            error = data.get("error")
            code = error.get("code") if type(error) is dict else None
            steer.error_code = code if type(code) is str else None
            lane = self.lanes.get(response.lane) if response is not None else None
            if lane is not None and lane.steered_from == target and code == (
                    "successor_creation_failed"):
                lane.steered_from = None
                self._move(lane, "lane", "successor_failed")
        self._move(steer, "steer", kind)

    def _steer(self, match: Callable[[SteerRecord], bool]) -> SteerRecord | None:
        return next((s for s in self.steers if match(s)), None)

    def _unacknowledged(self, match: Callable[[SteerRecord], bool]) -> None:
        for steer in self.steers:
            if steer.state == "submitted" and match(steer):
                self._violate(WsCode.STEER_UNACKNOWLEDGED, f"steer #{steer.number} of "
                              f"{steer.target} was never accepted nor failed; its outcome "
                              "is unknown", None, steer.target)
                self._move(steer, "steer", "lost")
