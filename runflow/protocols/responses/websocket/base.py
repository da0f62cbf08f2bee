"""What every part of a :class:`~.flow.ConnectionFlow` shares: its records, its
callbacks, how a violation is kept (:func:`~.records.bounded`) and how a lane, steer
or the connection moves in its machine (:data:`~.definition.MACHINES`).

:class:`ConnectionBase` holds them; :class:`~.steering.Steering` adds the steering
ledger's rules on it and :class:`~.flow.ConnectionFlow` the routing of frames to
lanes and responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runflow.engine.limits import Limits
from runflow.engine.machines import build_machine, move_table
from runflow.protocols.responses.websocket.definition import MACHINES, RULES, WsCode
from runflow.protocols.responses.websocket.records import (
    Direction,
    FrameViolation,
    LaneRecord,
    ResponseRecord,
    SteerRecord,
    bounded,
)

__all__ = ["ConnectionBase", "LaneCallback", "ResponseCallback", "SteerCallback"]

LaneCallback = Callable[[LaneRecord], None]
SteerCallback = Callable[[SteerRecord], None]
ResponseCallback = Callable[[ResponseRecord], None]


class _Connection:
    """The connection machine's model."""

    state = MACHINES["connection"].initial


_MACHINES = {name: build_machine(table) for name, table in MACHINES.items()}
_ALLOWED = {name: table.lookup() for name, table in MACHINES.items()}
_MOVES = {name: move_table(machine) for name, machine in _MACHINES.items()}
"""Each machine's ``(state, event) -> dest`` (self-loops, entering nothing, left out): a
move sets the state and calls ``_entered``, all the hook does, with no trigger."""


class ConnectionBase:
    """The records, callbacks, violations and machine moves of one conversation."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits if limits is not None else Limits()  # also each response's
        self.suppressed: dict[str, int] = {}  # violations counted, not stored (bounded())
        self.repeats: dict[tuple[str, str | None], int] = {}
        """Violations seen per ``(code, lane)``, stored or not: past
        ``limits.max_repeated_violations`` of one, the rest go to :attr:`suppressed`."""
        self.connection = _Connection()
        self.lanes: dict[str | None, LaneRecord] = {}
        self.responses: dict[str, ResponseRecord] = {}
        self.steers: list[SteerRecord] = []
        self.violations: list[FrameViolation] = []
        self.errors: list[dict[str, Any]] = []
        """Error events no response owned (a refused create, a connection error)."""
        self.index = 0
        self._direction: Direction = "send"
        self._finite = False
        """Whether the frame being handled came as JSON text, which parse_frame checked
        for non-finite numbers: its response's flow is told so and skips the walk."""
        self._event: str | None = None
        self._lane_cbs: list[LaneCallback] = []
        self._steer_cbs: list[SteerCallback] = []
        self._response_cbs: list[ResponseCallback] = []

    # -- callbacks --------------------------------------------------------------------
    def on_lane(self, cb: LaneCallback) -> LaneCallback:
        """``cb(lane)`` whenever a lane enters a state."""
        self._lane_cbs.append(cb)
        return cb

    def on_steer(self, cb: SteerCallback) -> SteerCallback:
        """``cb(steer)`` when a submission is sent and whenever it enters a state."""
        self._steer_cbs.append(cb)
        return cb

    def on_response(self, cb: ResponseCallback) -> ResponseCallback:
        """``cb(response)`` for each new response, before its first event is fed."""
        self._response_cbs.append(cb)
        return cb

    def _entered(self, model: Any, state: str) -> None:
        """Told when a lane or steer enters ``state`` (by :meth:`_move`, or by the
        machine's on-enter hook, :class:`runflow.engine.machines.EnterListener`)."""
        if isinstance(model, LaneRecord):
            for lane_cb in self._lane_cbs:
                lane_cb(model)
        elif isinstance(model, SteerRecord):
            for steer_cb in self._steer_cbs:
                steer_cb(model)

    # -- reading ---------------------------------------------------------------------
    @property
    def state(self) -> str:
        return str(self.connection.state)

    @property
    def errors_only(self) -> list[FrameViolation]:
        return [v for v in self.violations if v.severity == "error"]

    def lane(self, stream_id: str | None = None) -> LaneRecord:
        return self.lanes[stream_id]

    def response(self, response_id: str) -> ResponseRecord:
        return self.responses[response_id]

    # -- violations and moves --------------------------------------------------------
    def _violate(self, code: WsCode, message: str, lane: str | None = None,
                 response_id: str | None = None, index: int | None = None) -> None:
        self.violations += bounded(FrameViolation(
            code=code.value, severity=RULES[code].severity,
            index=self.index if index is None else index, direction=self._direction,
            event=self._event, lane=lane, response_id=response_id, message=message),
            self.limits, self.repeats, self.suppressed)

    def _move(self, model: Any, machine: str, event: str) -> bool:
        key = (model.state, event)
        if key not in _ALLOWED[machine]:
            return False
        moves = _MOVES[machine]
        if moves is None:  # a machine with hooks of its own: let it run them
            _MACHINES[machine].events[event].trigger(model, self)
        elif (dest := moves.get(key)) is not None:  # None: a self-loop, nothing entered
            model.state = dest
            self._entered(model, dest)
        return True
