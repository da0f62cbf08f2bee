"""What a :class:`~runflow.protocols.responses.websocket.flow.ConnectionFlow` keeps:
one record per lane, response and steering submission (each a machine's model, its
``state`` moved by the shared ``transitions`` machines), the violations, and the
parsing of one frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic_core import from_json

from runflow.engine.core import may_overflow
from runflow.engine.jsonparse import describe, has_non_finite, parse_json
from runflow.engine.limits import Limits
from runflow.engine.violations import Severity
from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.websocket.definition import OPTIONAL_SETUP

__all__ = ["OUT_OF_RANGE", "SETUP_ROWS", "Direction", "FrameViolation", "LaneRecord",
           "ResponseRecord", "SetupRow", "SteerRecord", "bounded", "parse_frame"]

Direction = Literal["send", "receive", "close"]

SetupRow = tuple[str, tuple[str, ...], bool]
SETUP_ROWS: dict[str, tuple[SetupRow, ...]] = {
    event: tuple((row.setup, row.position, event == row.setup) for row in OPTIONAL_SETUP
                 if event == row.setup or event in row.dependents)
    for event in {e for row in OPTIONAL_SETUP for e in (row.setup, *row.dependents)}}
"""Event -> ``(setup event, position fields, True if it is that setup event)`` of the
:data:`~.definition.OPTIONAL_SETUP` rows it sets up or depends on, in that table's
order (most events: none; deltas: one or two), for :meth:`ResponseRecord.held_back`."""


class FrameViolation(BaseModel):
    """One violation in a WebSocket conversation, at a frame.

    ``code`` is a :class:`~.definition.WsCode` value (a rule of the conversation,
    ``source="connection"``) or an engine :class:`~runflow.engine.violations.Code`
    value reported by one response's flow (``source="response"``)."""

    model_config = ConfigDict(frozen=True)

    code: str
    severity: Severity
    index: int
    """The frame's 0-based position in the conversation (both directions count);
    for what ``close()`` finds, the number of frames."""
    direction: Direction
    event: str | None
    lane: str | None
    response_id: str | None
    message: str
    source: Literal["connection", "response"] = "connection"

    def __str__(self) -> str:
        lane = f" lane={self.lane}" if self.lane is not None else ""
        return (f"#{self.index} {self.direction} {self.severity} {self.code}{lane}: "
                f"{self.message}")


def bounded(v: FrameViolation, limits: Limits, repeats: dict[tuple[str, str | None], int],
            suppressed: dict[str, int]) -> list[FrameViolation]:
    """``[v]`` as a conversation keeps it under ``limits``, as a response's flow does:
    its event name and message cut at ``max_message_text`` (stating the length); past
    ``max_repeated_violations`` of one code on one lane, one ``limit_exceeded`` warning
    and then none, each counted in ``suppressed`` (``repeats`` counts what was seen)."""
    key = (v.code, v.lane)
    seen = repeats[key] = repeats.get(key, 0) + 1
    most = limits.max_repeated_violations
    update: dict[str, Any] = {}
    if seen > most:
        suppressed[v.code] = suppressed.get(v.code, 0) + 1
        if seen > most + 1:
            return []
        update = {"code": "limit_exceeded", "severity": "warning", "message": (
            f"more than {most} {v.code} violations on lane {v.lane!r}; further ones are "
            "counted in suppressed, not stored")}
    cap = limits.max_message_text
    for name in ("event", "message"):
        text = update.get(name, getattr(v, name))
        if text is not None and len(text) > cap:
            update[name] = f"{text[:cap]}…({len(text)} characters)"
    return [v.model_copy(update=update) if update else v]


@dataclass(eq=False)
class LaneRecord:
    """One ``stream_id`` (None: the default lane) and its machine state."""

    id: str | None
    state: str = "idle"
    queued: int = 0
    """Creates sent on this lane and not yet answered (FIFO)."""
    response: ResponseRecord | None = None
    """The response in flight, or the last one."""
    responses: list[str] = field(default_factory=list)
    steered_from: str | None = None
    """The response whose ``incomplete`` (steered) awaits its successor here."""


@dataclass(eq=False)
class ResponseRecord:
    """One response on the socket: its own :class:`ResponseFlow` (the WebSocket
    variant of the grammar) and where its events were in the conversation."""

    id: str
    lane: str | None
    flow: ResponseFlow
    created_at: int
    """The frame of its ``response.created``."""
    previous_response_id: str | None = None
    frames: list[int] = field(default_factory=list)
    """Frame index of each event fed to :attr:`flow`, in order (flow index -> frame)."""
    next_sequence: int | None = None
    setup: set[tuple[str, tuple[int, ...]]] = field(default_factory=set)
    items: set[str] = field(default_factory=set)
    """The ids of its output items seen so far (to find events routed to another lane)."""
    held: int = 0
    """Frames not fed to :attr:`flow` because their optional setup event was omitted."""
    ended: str | None = None
    """The terminal event, once it arrived."""
    successor_of: str | None = None
    committed: list[int] = field(default_factory=list)
    """The steering submissions (:attr:`SteerRecord.number`) this response committed."""

    @property
    def active(self) -> bool:
        return self.ended is None

    def held_back(self, rows: tuple[SetupRow, ...], data: dict[str, Any]) -> bool:
        """Track setup positions; True when the event's setup event was omitted (the
        WebSocket variant allows it), so it is not fed to :attr:`flow`. ``rows`` are
        the event's :data:`SETUP_ROWS`; a position not all integers is none."""
        for setup, fields, is_setup in rows:
            if len(fields) == 1:  # the rows' positions are one or two fields: unrolled
                first = data.get(fields[0])
                if type(first) is not int:
                    continue
                place: tuple[Any, ...] = (first,)
            elif len(fields) == 2:
                first, second = data.get(fields[0]), data.get(fields[1])
                if type(first) is not int or type(second) is not int:
                    continue
                place = (first, second)
            else:
                place = tuple([data.get(f) for f in fields])
                if not all(type(value) is int for value in place):
                    continue
            if is_setup:
                self.setup.add((setup, place))
            elif (setup, place) not in self.setup:
                self.held += 1
                return True
        return False


@dataclass(eq=False)
class SteerRecord:
    """One ``response.steer`` submission in the steering ledger."""

    number: int
    """Its position among this connection's submissions."""
    frame: int
    target: str
    """The ``previous_response_id`` it steers."""
    input: Any
    state: str = "submitted"
    id: str | None = None
    """The id the server assigned (accepted, pending, failed after acceptance)."""
    committed_by: str | None = None
    """The successor response whose ``response.created`` committed it."""
    error_code: str | None = None
    required_input: list[Any] | None = None
    pending_seen: bool = False


OUT_OF_RANGE = "a frame that is not JSON (a number is out of range (it would be infinite))"
"""What :func:`parse_frame` says of text holding a number that parses to infinity
(``1e999``), in the words :func:`~runflow.engine.jsonparse.parse_json` gives it."""


def parse_frame(frame: Any) -> dict[str, Any] | str:
    """The event object of one frame (a dict, an SDK model, or JSON text/bytes), or a
    sentence saying why it is not one. Text is parsed as all remote JSON is (nesting
    bounded, NaN, inf and lone surrogates refused). A dict given is copied (its top
    level): the flow keeps what it was given, not what the caller may change later."""
    if type(frame) is str:  # the wire's case first, without the checks for the others
        try:
            # parse_json with the engine's screen for numbers that overflow, cheaper
            # than its own: the parsed value is walked only where the text may hold one
            value = from_json(frame, allow_inf_nan=False)
        except ValueError as exc:
            return f"a frame that is not JSON ({describe(exc)})"
        if may_overflow(frame.encode("utf-8", "surrogatepass")) and has_non_finite(value):
            return OUT_OF_RANGE
        if type(value) is dict and type(value.get("type")) is str:
            return value
        return _event_object(value)  # says what is wrong
    if type(frame) is dict:
        return _event_object(dict(frame))
    if isinstance(frame, BaseModel):
        frame = frame.model_dump(mode="json", exclude_unset=True)
    if isinstance(frame, bytes | bytearray):
        try:
            frame = bytes(frame).decode()
        except UnicodeDecodeError:
            return "a frame that is not UTF-8 text"
    if isinstance(frame, str):
        try:
            frame = parse_json(frame)
        except ValueError as exc:
            return f"a frame that is not JSON ({describe(exc)})"
    return _event_object(frame)


def _event_object(frame: Any) -> dict[str, Any] | str:
    if type(frame) is not dict:
        return f"a frame holding {type(frame).__name__}, not an event object"
    if type(frame.get("type")) is not str:
        return "an event object without a string type"
    return frame
