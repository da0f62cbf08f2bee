"""The sans-I/O engine (``Flow``): events in, states, snapshots and violations out.

The engine runs a protocol definition (:mod:`runflow.engine.definition`) it is
given and names none of its events, states or entities: what an event does, which
entity it moves, which rules it must pass and how a stream ends are all looked up
in the definition. Each protocol's package (``runflow.protocols.assistants``,
``runflow.protocols.responses``) makes its flow class from this one, adding its
read API and typed callbacks.

Each event goes through the same steps:

1. parse and route it by name (``protocol.routes``); tell the stream machine
   (:mod:`~runflow.engine.stream`);
2. check it -- payload shape, entity resolution (foreign, duplicate, unknown:
   :mod:`~runflow.engine.resolving`), the transition table, the ``check`` rules --
   before anything changes, so a rejected event leaves the flow exactly as it was;
3. apply it to the snapshot, then move the state through the shared
   ``transitions`` machine, whose on-enter hooks queue the enter callbacks
   (:mod:`~runflow.engine.status`);
4. run the ``after`` rules of the event;
5. fire the queued callbacks, then, in strict mode, raise the first error
   (:mod:`~runflow.engine.core`).

Deltas skip the machine (they never change state) and are checked against the
table directly: they are most of the traffic (:mod:`~runflow.engine.deltas`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel
from pydantic_core import from_json

from runflow.engine.accumulator import shorten
from runflow.engine.checkpoint import dump_flow, load_flow
from runflow.engine.construct import construct
from runflow.engine.core import BadData, Rejected, describe_bug
from runflow.engine.definition import EventKind
from runflow.engine.deltas import Deltas
from runflow.engine.jsonparse import describe
from runflow.engine.profiles import Profile
from runflow.engine.recovery import Recovery, RecoveryError
from runflow.engine.sse import RawEvent
from runflow.engine.state import Ending
from runflow.engine.stream import StreamSteps
from runflow.engine.violations import Code, Violation

if TYPE_CHECKING:
    from openai.types.shared import ErrorObject

__all__ = ["Ending", "Flow", "Observer", "RecoveryError"]

Observer = Callable[[str | None, bytes | None, int, Any], None]
"""Sees each SSE event a flow takes through ``feed_sse`` or ``close``, before the flow
processes it, as ``(event name, data bytes, byte offset, parsed)``: ``parsed`` is what
the flow's JSON parse made of the data (a :class:`~runflow.engine.core.BadData` when
it is not JSON), or None when the flow parsed nothing (no data, ``[DONE]``, a block
past ``max_event_bytes``, whose data is None too). The event's index is the flow's
``event_count`` at the call."""

_F = TypeVar("_F", bound="Flow")

_DELTA, _STATUS, _DONE, _ERROR = (
    EventKind.DELTA, EventKind.STATUS, EventKind.DONE, EventKind.ERROR)
"""The kinds :meth:`Flow._process` tells apart, as module constants (an enum member's
lookup on its class costs on every event)."""


def _dumped(model: BaseModel) -> Any:
    """An SDK object as JSON data; one pydantic cannot dump (nested past its depth, an
    integer too large for a float field kept by the SDK's lenient builder) is bad data."""
    try:
        return model.model_dump(mode="json", exclude_unset=True, warnings=False)
    except (ValueError, OverflowError, TypeError) as exc:
        return BadData(f"the {type(model).__name__} object cannot be read as JSON "
                        f"({shorten(str(exc), 120)})")


class Flow(Recovery, Deltas, StreamSteps):
    """The engine: validate and reconstruct one root entity from its stream events,
    under the protocol definition it is given. ``runflow.RunFlow`` (Assistants) and
    ``runflow.ResponseFlow`` (Responses) add their protocol's read API and callbacks
    and name their definition (:attr:`default_protocol`).

    ``protocol`` is the definition to run (by default the class's
    :attr:`default_protocol`; the engine's own class has none).
    ``strict=True`` raises :class:`ProtocolError` at the first error-severity
    violation; by default violations are collected in :attr:`violations` and the
    flow goes on. Warnings never raise. ``profile`` says how a server's known
    quirks are judged (:mod:`runflow.engine.profiles`).

    Callbacks (see :mod:`runflow.engine.callbacks`) fire after each event is fully
    applied. A callback that raises propagates out of ``feed`` once the flow is
    updated (``callback_errors="raise"``), or is recorded in
    :attr:`callback_failures` and the flow goes on (``"collect"``).
    """

    profiles: ClassVar[Mapping[str, Profile]] = {}
    """The profiles a checkpoint of this class may name, by name."""
    observer: Observer | None = None
    """Set on an instance, it sees each SSE event before the flow processes it
    (:data:`Observer`): how a layer beside the flow (``runflow check``'s payload and
    order graders) reads the stream without decoding and parsing it again."""

    # ------------------------------------------------------------------ #
    # checkpoints
    # ------------------------------------------------------------------ #
    def to_json(self) -> str:
        """Save the flow (states, snapshots, violations, input position) as JSON."""
        return dump_flow(self)

    @classmethod
    def from_json(cls: type[_F], text: str | bytes, **settings: Any) -> _F:
        """Restore a flow saved by :meth:`to_json`; ``settings`` override saved ones
        (e.g. ``strict=True``). Raises :class:`runflow.CheckpointError`."""
        protocol = settings.pop("protocol", None) or cls.default_protocol
        if protocol is None:
            raise TypeError(f"{cls.__name__}.from_json needs protocol=...: the engine's "
                            "flow has no definition of its own")
        arguments, state = load_flow(text, protocol, cls.profiles, settings)
        flow = cls(**arguments)
        flow._s = state
        return flow

    # ------------------------------------------------------------------ #
    # input
    # ------------------------------------------------------------------ #
    def feed(self, event: Any, *, finite: bool = False) -> list[Violation]:
        """Take one event: an SDK stream event or ``{"event": name, "data": ...}``.

        Returns the violations this event produced. ``finite=True`` says the data
        (a dict) holds no NaN or infinite number, because the caller parsed it from
        JSON text and checked it (the WebSocket mode's frames are): the flow then
        skips its own walk of the values. Anything else is checked as always.
        """
        violations = self._s.violations
        start = len(violations)
        named_by_data = self._c.type_field is not None
        data: Any
        if isinstance(event, Mapping):
            if "event" not in event and named_by_data:
                name, data = None, dict(event)  # a Responses event as a dict: data only
            else:
                name = event.get("event")
                data = event.get("data")
        elif isinstance(event, BaseModel) and named_by_data and not hasattr(event, "event"):
            name = None  # an SDK Responses event: the event is its own data
            data = _dumped(event)
        else:
            name = getattr(event, "event", None)
            data = getattr(event, "data", None)
            if isinstance(data, BaseModel):
                data = _dumped(data)
        if isinstance(data, BadData):
            named = name if name is not None else getattr(event, "type", None)
            self._process(named if isinstance(named, str) else None, data, None)
        elif not isinstance(name, str) and not (named_by_data and isinstance(data, dict)):
            self._process(None, BadData(f"the event has no 'event' name (got "
                                         f"{shorten(name)})"), None)
        elif isinstance(data, (bytes, bytearray)):
            self._feed_raw(name, bytes(data), None)
        elif finite:
            self._finite = True
            try:
                self._process(name, data, None)
            finally:
                self._finite = False
        else:
            self._process(name, data, None)
        return violations[start:]

    def feed_sse(self, chunk: bytes) -> list[Violation]:
        """Take raw SSE bytes, split anywhere. Returns the violations they produced."""
        violations = self._s.violations
        start = len(violations)
        self._drain(self._s.decoder.feed(chunk))
        return violations[start:]

    def _drain(self, events: list[RawEvent]) -> None:
        """Process decoded events. If a strict violation or a callback raises, the
        events not yet processed wait in the backlog for the next call: nothing
        received is lost."""
        state = self._s
        if state.backlog:
            events = state.backlog + events
            state.backlog = []
        feed_raw = self._feed_raw
        process = self._process
        done_data = self._c.done_data
        for i, (name, data, offset, oversize) in enumerate(events):
            try:
                if oversize:
                    self._feed_block(events[i])
                elif data is None or data == done_data:
                    feed_raw(name, data, offset)
                else:  # what _feed_raw does with an event's JSON, inlined for the hot path
                    try:
                        obj = from_json(data, allow_inf_nan=False)
                    except ValueError:
                        feed_raw(name, data, offset)  # which says what is wrong with it
                        continue
                    if (observer := self.observer) is not None and offset is not None:
                        observer(name, data, offset, obj)
                    self._raw = data
                    try:
                        process(name, obj, offset)
                    finally:
                        self._raw = None
            except BaseException:
                state.backlog = events[i + 1 :]
                raise

    def _feed_block(self, raw: RawEvent) -> None:
        if raw.oversize:
            if self.observer is not None:
                self.observer(None, None, raw.offset, None)
            self._process(None, BadData(
                f"an SSE event starting at byte {raw.offset} grew past {raw.oversize} bytes "
                f"(max_event_bytes={self.limits.max_event_bytes}) and was dropped",
                Code.LIMIT_EXCEEDED,
            ), raw.offset)
        else:
            self._feed_raw(raw.event, raw.data, raw.offset)

    def close(self) -> Ending:
        """End of input: classify how the stream ended (``done``, ``error``, ``truncated``)."""
        state = self._s
        self._drain(state.decoder.close())
        if state.closed:
            return self._ending_or_truncated()
        state.closed = True
        self._stream("close", None, state.index)
        ending = self._ending_or_truncated()
        if self._hooks is not None:
            self._hooks.ended(ending)
        self._finish_event()
        return ending

    def begin_stream(self) -> None:
        """Mark the start of a new input stream (e.g. the response to
        ``submit_tool_outputs``), so that one ending with no event at all is
        classified ``truncated`` by :meth:`close`. The SDK adapters call it."""
        self._s.closed = False
        self._stream("begin", None, self._s.index)

    def _feed_raw(self, name: str | None, data: bytes | None, offset: int | None) -> None:
        if data is None or data == self._c.done_data:
            if self.observer is not None and offset is not None:
                self.observer(name, data, offset, None)
            if name is None and data is not None:
                name = self._c.done_event  # ``data: [DONE]`` alone (OpenRouter) ends it too
            self._process(name, None if data is None else self._c.done_text, offset)
            return
        try:
            # parse_json without its check for infinite numbers, inlined on the hot
            # path: the values the flow keeps are checked where they are kept
            obj = from_json(data, allow_inf_nan=False)
        except ValueError as exc:
            where = f" at byte {offset}" if offset is not None else ""
            obj = BadData(
                f"the data of {shorten(name)}{where} is not valid JSON ({describe(exc)})")
        if self.observer is not None and offset is not None:
            self.observer(name, data, offset, obj)
        self._raw = data
        try:
            self._process(name, obj, offset)
        finally:
            self._raw = None


    # ------------------------------------------------------------------ #
    # dispatch
    # ------------------------------------------------------------------ #
    def _process(self, name: str | None, data: Any, offset: int | None) -> None:
        state = self._s
        index = state.index
        state.index = index + 1
        state.closed = False
        c = self._c
        try:
            type_field = c.type_field
            if type_field is not None and type(data) is dict:
                if data.get(type_field) != name:  # the line and the data agree: nothing to do
                    name = self._named(name, data, index)
                sequence_field = c.sequence_field
                if sequence_field is not None:
                    seq = data.get(sequence_field)
                    last = state.sequence
                    # the next number, as nearly every event has it: nothing to check
                    if type(seq) is int and last is not None and seq == last + 1:
                        state.sequence = seq
                    elif self._replayed(name, data, index):
                        return
            route = c.routes.get(name)  # type: ignore[arg-type]  # (None names no route)
            kind = route[0] if route is not None and type(data) is not BadData else None
            if kind is _DELTA:  # most events
                if state.stream not in c.quiet_stream_states:
                    self._stream("event", name, index)
                self._on_delta(route[1], name, data, index)  # type: ignore[index, arg-type]
            else:
                self._last_delta = None  # what the last delta found may change from here
                if kind is _STATUS:  # nearly every other
                    if state.stream not in c.quiet_stream_states:
                        self._stream("event", name, index)
                    self._on_status(route[1], name, data, index, offset)  # type: ignore[index, arg-type]
                elif kind is _DONE:
                    self._stream("done", name, index)
                elif kind is _ERROR:
                    self._on_error(name, data, index)  # type: ignore[arg-type]
                else:
                    if state.stream not in c.quiet_stream_states:
                        self._stream("event", name, index)
                    if type(data) is BadData:
                        raise Rejected(data.code, data.reason, None)
                    if kind is None:
                        raise Rejected(
                            Code.UNKNOWN_EVENT,
                            f"event {shorten(name, 200)} is not part of the protocol and "
                            "was ignored" if name is not None
                            else "an SSE block with data but no event name was ignored",
                            None,
                        )
        except Rejected as rejected:
            self._violate(rejected.code, index, name, rejected.entity, rejected.message)
        except Exception as exc:  # the last line of defence; never the normal path
            self._violate(Code.INTERNAL_ERROR, index, name, None, describe_bug(exc))
        finally:
            # what _finish_event does, when there is anything to do
            if self._first_error is not None or self._hooks is not None:
                self._finish_event()

    @property
    def error(self) -> ErrorObject | None:
        """The error object of the ``error`` event that ended the stream, if any."""
        from openai.types.shared import ErrorObject  # the SDK's types load when first built

        body = self._s.error
        return construct(ErrorObject, body) if body is not None else None
