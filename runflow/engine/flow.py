"""The sans-I/O engine (``Flow``) and the Assistants flow (``RunFlow``): events in, states,
snapshots and violations out.

The engine runs a protocol definition (:mod:`runflow.protocols`) and names none of
its events, states or entities: what an event does, which entity it moves, which
rules it must pass and how a stream ends are all looked up in the definition.

Each event goes through the same steps:

1. parse and route it by name (``protocol.routes``); tell the stream machine;
2. check it -- payload shape, entity resolution (foreign, duplicate, unknown),
   the transition table, the ``check`` rules -- before anything changes, so a
   rejected event leaves the flow exactly as it was;
3. apply it to the snapshot, then move the state through the shared
   ``transitions`` machine, whose on-enter hooks queue the enter callbacks;
4. run the ``after`` rules of the event;
5. fire the queued callbacks, then, in strict mode, raise the first error.

Deltas skip the machine (they never change state) and are checked against the
table directly: they are most of the traffic.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn, TypeVar

from openai.types.shared import ErrorObject
from pydantic import BaseModel
from pydantic_core import from_json

from runflow.engine.callbacks import Callbacks, RunCallbacks
from runflow.engine.definition import (
    STAY,
    UNSEEN,
    EntityTable,
    EventKind,
    Guard,
    Protocol,
    StreamInput,
)
from runflow.engine.driving import AsyncDriving
from runflow.engine.entities import Tracker, merge_server_object
from runflow.engine.hooks import CallbackFailure, Hooks
from runflow.engine.jsonparse import describe, has_non_finite
from runflow.engine.limits import Limits
from runflow.engine.machines import compiled, trigger_name
from runflow.engine.profiles import Profile
from runflow.engine.shapes import json_type
from runflow.engine.sse import RawEvent, SSEDecoder
from runflow.engine.state import RECOVERED, Ending, FlowState, StateChange
from runflow.engine.view import FlowView, RunView
from runflow.engine.violations import RULES, Code, EntityRef, ProtocolError, Severity, Violation
from runflow.protocols import PROTOCOL
from runflow.protocols.assistants.accumulators import OVER_LIMIT
from runflow.protocols.assistants.divergence import MISSING, shorten

if TYPE_CHECKING:
    from runflow.engine.callbacks import Handler

__all__ = ["Ending", "Flow", "RecoveryError", "RunFlow"]

_F = TypeVar("_F", bound="Flow")


class RecoveryError(ValueError):
    """An object that cannot be recovered into this flow (another run, unknown
    status, not an object of the protocol)."""


class _BadData:
    """Stands for an event's data that could not be decoded; says why."""

    __slots__ = ("code", "reason")

    def __init__(self, reason: str, code: Code = Code.MALFORMED_EVENT) -> None:
        self.reason = reason
        self.code = code


class _Rejected(Exception):
    """Internal: the current event broke a rejecting rule."""

    def __init__(self, code: Code, message: str, entity: EntityRef | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.entity = entity


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
"""The ``runflow`` package's own directory: frames are matched by it, never by a
substring, so a checkout in a folder named ``runflow`` names the right frame."""


def _describe(exc: Exception) -> str:
    """``TypeError at runflow/protocols/assistants/content.py:305 (plain_fragment): ...`` for an
    internal error: the innermost frame inside runflow, so it can be reported."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]
    where = ""
    if frames:
        f = frames[-1]
        inside = os.path.relpath(os.path.abspath(f.filename), _PACKAGE_DIR).replace(os.sep, "/")
        where = f" at {inside}:{f.lineno} ({f.name})"
    return (f"{type(exc).__name__}{where}: {shorten(str(exc), 200)}; this is a bug in "
            "runflow: the event was not applied as a whole, please report it")


def _dumped(model: BaseModel) -> Any:
    """An SDK object as JSON data; one pydantic cannot dump (nested past its depth, an
    integer too large for a float field kept by the SDK's lenient builder) is bad data."""
    try:
        return model.model_dump(mode="json", exclude_unset=True, warnings=False)
    except (ValueError, OverflowError, TypeError) as exc:
        return _BadData(f"the {type(model).__name__} object cannot be read as JSON "
                        f"({shorten(str(exc), 120)})")


def _slot_key(group: str | None, indices: tuple[int, ...]) -> str:
    return f"{group}/{'/'.join(map(str, indices))}"


def _where(fields: tuple[str, ...], indices: tuple[int, ...]) -> str:
    return ", ".join(f"{f}={i}" for f, i in zip(fields, indices, strict=True))


def _reject(code: Code, message: str, entity: Tracker | EntityRef | None = None) -> NoReturn:
    ref = entity.ref if isinstance(entity, Tracker) else entity
    raise _Rejected(code, message, ref)


class Flow(FlowView, Callbacks, AsyncDriving):
    """The engine: validate and reconstruct one root entity from its stream events,
    under any protocol definition. :class:`RunFlow` (Assistants) and
    :class:`runflow.ResponseFlow` (Responses) add their protocol's read API and
    callbacks.

    ``protocol`` is the definition to run (by default the class's
    :attr:`default_protocol`).
    ``strict=True`` raises :class:`ProtocolError` at the first error-severity
    violation; by default violations are collected in :attr:`violations` and the
    flow goes on. Warnings never raise.

    Callbacks (see :mod:`runflow.engine.callbacks`) fire after each event is fully
    applied. A callback that raises propagates out of ``feed`` once the flow is
    updated (``callback_errors="raise"``), or is recorded in
    :attr:`callback_failures` and the flow goes on (``"collect"``).
    """

    default_protocol: ClassVar[Protocol] = PROTOCOL
    """The definition a flow of this class runs when none is given (and that its
    checkpoints are read with)."""

    def __init__(
        self,
        *,
        strict: bool = False,
        limits: Limits | None = None,
        callback_errors: Literal["raise", "collect"] = "raise",
        protocol: Protocol | None = None,
        profile: Profile | None = None,
    ) -> None:
        protocol = protocol or self.default_protocol
        if profile is not None and profile.protocol != protocol.name:
            raise ValueError(f"profile {profile.name!r} is for the {profile.protocol} "
                             f"protocol, not {protocol.name}")
        self.protocol = protocol
        self.profile = profile
        """How this server's known quirks are judged (:mod:`runflow.engine.profiles`)."""
        self.strict = strict
        self.limits = limits or Limits()
        self.callback_errors = callback_errors
        self._c = compiled(protocol)
        self._s = FlowState(
            decoder=SSEDecoder(self.limits.max_event_bytes),
            children={kind: {} for kind in protocol.children},
        )
        self._first_error: Violation | None = None
        self._hooks: Hooks | None = None
        self._deferred = False  # async driving: callbacks wait for aflush
        # enter notifications of the status event being applied, told to the hooks
        # once it applied whole (so a failure half-way has nothing there to undo)
        self._staged: list[tuple[Tracker, str, int]] | None = None
        self.callback_failures: list[CallbackFailure] = []
        """Callbacks that raised, when ``callback_errors="collect"``."""

    # ------------------------------------------------------------------ #
    # checkpoints
    # ------------------------------------------------------------------ #
    def to_json(self) -> str:
        """Save the flow (states, snapshots, violations, input position) as JSON."""
        from runflow.engine.checkpoint import dump_flow

        return dump_flow(self)

    @classmethod
    def from_json(cls: type[_F], text: str | bytes, **settings: Any) -> _F:
        """Restore a flow saved by :meth:`to_json`; ``settings`` override saved ones
        (e.g. ``strict=True``). Raises :class:`runflow.CheckpointError`."""
        from runflow.engine.checkpoint import load_flow

        return load_flow(cls, text, **settings)

    # ------------------------------------------------------------------ #
    # input
    # ------------------------------------------------------------------ #
    def feed(self, event: Any) -> list[Violation]:
        """Take one event: an SDK stream event or ``{"event": name, "data": ...}``.

        Returns the violations this event produced.
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
        if isinstance(data, _BadData):
            named = name if name is not None else getattr(event, "type", None)
            self._process(named if isinstance(named, str) else None, data, None)
        elif not isinstance(name, str) and not (named_by_data and isinstance(data, dict)):
            self._process(None, _BadData(f"the event has no 'event' name (got "
                                         f"{shorten(name)})"), None)
        elif isinstance(data, (bytes, bytearray)):
            self._feed_raw(name, bytes(data), None)
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
        for i, (name, data, offset, oversize) in enumerate(events):
            try:
                if oversize:
                    self._feed_block(events[i])
                else:
                    feed_raw(name, data, offset)
            except BaseException:
                state.backlog = events[i + 1 :]
                raise

    def _feed_block(self, raw: RawEvent) -> None:
        if raw.oversize:
            self._process(None, _BadData(
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
            self._hooks.ended(self, ending)
        self._finish_event()
        return ending

    def begin_stream(self) -> None:
        """Mark the start of a new input stream (e.g. the response to
        ``submit_tool_outputs``), so that one ending with no event at all is
        classified ``truncated`` by :meth:`close`. The SDK adapters call it."""
        self._s.closed = False
        self._stream("begin", None, self._s.index)

    def _ending_or_truncated(self) -> Ending:
        ending = self._c.endings[self._s.stream]
        return ending or "truncated"  # type: ignore[return-value]

    def _feed_raw(self, name: str | None, data: bytes | None, offset: int | None) -> None:
        if data is None or data == self._c.done_data:
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
            obj = _BadData(
                f"the data of {shorten(name)}{where} is not valid JSON ({describe(exc)})")
        self._process(name, obj, offset)

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
            if c.type_field is not None and type(data) is dict:
                name = self._named(name, data, index)
                if c.sequence_field is not None and self._replayed(name, data, index):
                    return
            route = c.routes.get(name) if name is not None else None
            kind = route[0] if route is not None and not isinstance(data, _BadData) else None
            if kind is EventKind.DONE or kind is EventKind.ERROR:
                if kind is EventKind.DONE:
                    self._stream("done", name, index)
                else:
                    self._on_error(name, data, index)  # type: ignore[arg-type]
            else:
                if state.stream not in self._c.quiet_stream_states:
                    self._stream("event", name, index)
                if isinstance(data, _BadData):
                    raise _Rejected(data.code, data.reason, None)
                if kind is None:
                    raise _Rejected(
                        Code.UNKNOWN_EVENT,
                        f"event {shorten(name, 200)} is not part of the protocol and was ignored"
                        if name is not None
                        else "an SSE block with data but no event name was ignored",
                        None,
                    )
                entity: str = route[1]  # type: ignore[index, assignment]
                if kind is EventKind.DELTA:
                    self._on_delta(entity, name, data, index)  # type: ignore[arg-type]
                elif kind is EventKind.STATUS:
                    self._on_status(entity, name, data, index, offset)  # type: ignore[arg-type]
        except _Rejected as rejected:
            self._violate(rejected.code, index, name, rejected.entity, rejected.message)
        except Exception as exc:  # the last line of defence; never the normal path
            self._violate(Code.INTERNAL_ERROR, index, name, None, _describe(exc))
        finally:
            self._finish_event()

    def _named(self, name: str | None, data: dict[str, Any], index: int) -> str | None:
        """The event's name where the data names it (Responses ``type``): a frame with
        no ``event:`` line (OpenRouter) takes it; one whose line disagrees is
        reported and the data is followed, as the SDKs do."""
        named = data.get(self._c.type_field)  # type: ignore[arg-type]
        if type(named) is not str or named == name:
            return name
        if name is not None:
            self._violate(Code.EVENT_NAME_MISMATCH, index, named, None,
                          f"the SSE event line says {shorten(name)} but the data's "
                          f"{self._c.type_field} is {shorten(named)}; the data is followed")
        return named

    def _replayed(self, name: str | None, data: dict[str, Any], index: int) -> bool:
        """Check the event's sequence number; True when it is a replay to drop.

        Numbers run 0, 1, 2... A number at or below the last accepted one is an
        event the flow already has (a resumed stream replays from its cursor):
        dropped and counted in :attr:`FlowState.replayed`. A jump is reported and
        the event applied. A flow's first number may be past 0: its stream resumed
        after a cursor."""
        state = self._s
        fld: str = self._c.sequence_field  # type: ignore[assignment]
        seq = data.get(fld)
        last = state.sequence
        if seq is None and fld not in data:
            route = self._c.routes.get(name or "")
            if last is not None and route is not None and route[0] is not EventKind.IGNORED:
                self._violate(Code.SEQUENCE_GAP, index, name, None,
                              f"{shorten(name)} has no {fld}, after {last}")
            return False
        if type(seq) is not int or seq < 0:
            raise _Rejected(Code.MALFORMED_EVENT, f"the data of {shorten(name)}: {fld}: "
                            f"expected an integer >= 0, got {shorten(seq)}", None)
        if last is not None and seq <= last:
            state.replayed += 1
            return True
        if last is not None and seq != last + 1:
            if self._c.routes.get(name or "", (EventKind.IGNORED,))[0] is EventKind.IGNORED:
                return False  # a heartbeat may count on its own: neither checked nor counted
            self._violate(Code.SEQUENCE_GAP, index, name, None,
                          f"{fld} jumped from {last} to {seq}: {seq - last - 1} event(s) "
                          "missing")
        state.sequence = seq
        return False

    def _finish_event(self) -> None:
        # Take the strict error first: if a callback raises below, its error
        # propagates and the violation (already in the violations) must not leak
        # into the next event.
        first, self._first_error = self._first_error, None
        if self._hooks is not None and not self._deferred:
            self._hooks.flush(self)
        if first is not None:
            raise ProtocolError(first)

    # ------------------------------------------------------------------ #
    # the stream machine
    # ------------------------------------------------------------------ #
    def _stream(self, inp: StreamInput, event: str | None, index: int) -> None:
        """Tell the stream machine about ``inp``; report what its row says."""
        state = self._s
        guard: Guard = "open"
        root = state.root
        root_state = root.state if root is not None else UNSEEN
        if inp == "done" or inp == "close":
            end = self._c.root_table.stream_end(root_state)
            if end == "final":
                guard = "final"
            elif end == "pause":
                guard = "pause" if state.stream_moves else "stalled"
        row = self._c.stream_lookup[(state.stream, inp, guard)]
        if row.code is not None:
            message = row.say.format(event=event, root_state=root_state, count=state.index,
                                     ended=self._c.endings[state.stream])
            entity = root.ref if root is not None and row.names_root else None
            self._violate(row.code, index, event, entity, message)
        dest = row.dest
        if dest != STAY and dest != state.stream:
            state.stream = dest
            state.stream_moves = 0

    # ------------------------------------------------------------------ #
    # violations
    # ------------------------------------------------------------------ #
    def _violate(
        self,
        code: Code,
        index: int,
        event: str | None,
        entity: EntityRef | None,
        message: str,
        severity: Severity | None = None,
    ) -> None:
        state = self._s
        limits = self.limits
        kind = entity.kind if entity is not None else None
        if self.profile is not None:
            verdict = self.profile.verdict(code, kind)
            if verdict == "expected":
                state.expected[code.value] = state.expected.get(code.value, 0) + 1
                return
            if verdict is not None:
                severity = verdict
        key = f"{code.value} {kind}"
        seen = state.repeats.get(key, 0)
        state.repeats[key] = seen + 1
        limit = limits.max_repeated_violations
        if seen >= limit:
            state.suppressed[code.value] = state.suppressed.get(code.value, 0) + 1
            if seen > limit:
                return
            code, severity, entity = Code.LIMIT_EXCEEDED, "warning", None
            message = (f"more than {limit} violations of one kind ({kind or 'stream'}); "
                       "further ones are counted in flow.suppressed, not stored")
        cap = limits.max_message_text
        if event is not None and len(event) > cap:
            event = f"{event[:cap]}…({len(event)} characters)"
        if len(message) > cap:
            message = f"{message[:cap]}…({len(message)} characters)"
        violation = Violation(
            code=code,
            severity=severity or RULES[code].severity,
            index=index,
            event=event,
            entity=entity,
            message=message,
        )
        state.violations.append(violation)
        if self._hooks is not None:
            self._hooks.violation(self, violation)
        if self.strict and violation.severity == "error" and self._first_error is None:
            self._first_error = violation

    # ------------------------------------------------------------------ #
    # status events: full objects
    # ------------------------------------------------------------------ #
    def _on_status(
        self, kind: str | None, name: str, data: Any, index: int, offset: int | None
    ) -> None:
        c = self._c
        carries = c.carries[name]
        if carries == "":
            obj = data
        else:
            event_shape = c.event_shapes.get(name)
            problem = event_shape.problem(data) if event_shape is not None else None
            if problem is None and type(data) is not dict:
                problem = f"expected an object, got {type(data).__name__}"
            if problem is not None:
                where = f" (byte {offset})" if offset is not None else ""
                _reject(Code.MALFORMED_EVENT, f"the data of {name}{where}: {problem}")
            obj = data.get(carries) if carries is not None else None
            if carries is not None and type(obj) is not dict:
                _reject(Code.MALFORMED_EVENT, f"the data of {name}: {carries}: expected an "
                        f"object, got {json_type(obj)}")
        if kind is None:  # a shared event: the object's discriminator picks the table
            kind = self._dispatch(name, obj)
        table = c.tables[kind]
        shape = table.shape
        checked = obj if carries is not None else data
        problem = (shape.problem(obj, carries or "") if shape is not None and carries is not None
                   else None)
        if problem is None and has_non_finite(checked):
            problem = "a number is NaN or infinite, which JSON cannot hold"
        if problem is not None:
            where = f" (byte {offset})" if offset is not None else ""
            _reject(Code.MALFORMED_EVENT, f"the data of {name}{where}: {problem}")
        tracker, new = (self._locate(table, obj, data, name) if table.position
                        else self._resolve(table, obj, name))
        state = tracker.state
        dest = c.lookup[kind].get((state, name))
        if dest is None:
            allowed = sorted(e for (s, e) in c.lookup[kind] if s == state)
            _reject(
                Code.INVALID_TRANSITION,
                f"{name} is not allowed for {tracker.label} in state {state!r}; "
                f"allowed: {', '.join(allowed) or 'nothing (terminal)'}",
                tracker,
            )
        if obj is not None and table.status_field is not None:
            chosen = c.status_dests.get((kind, name))
            if chosen is not None and obj.get(table.status_field) in chosen:
                dest = obj[table.status_field]
        flow_state = self._s
        for rule in c.check_rules.get((kind, name), ()):
            seen = data if rule.sees == "data" else obj
            for found in rule.check(flow_state, tracker, seen, name):
                _reject(rule.code, found.message, found.entity or tracker)  # type: ignore[arg-type]
        # -- accepted from here on: apply, then move, then the after rules --
        saved = self._save(tracker)
        hooks = self._hooks
        self._staged = [] if hooks is not None else None
        try:
            self._apply_status(tracker, table, obj, data, name, index, state, dest, new)
        except BaseException:
            self._staged = None
            self._restore(tracker, saved, new)  # applied whole or not at all
            raise
        staged, self._staged = self._staged, None
        if staged and hooks is not None:
            hooks.entered_at(self._s, staged)

    def _dispatch(self, name: str, obj: Any) -> str:
        """The table a shared event's object picks by its ``type``."""
        tags = self._c.dispatch[name]
        tag = obj.get("type") if type(obj) is dict else None
        kind = tags.get(tag) if type(tag) is str else None
        if kind is None:
            kind = tags.get("*")
        if kind is None:
            _reject(Code.MALFORMED_EVENT,
                    f"the data of {name}: type {shorten(tag)} is none of "
                    f"{', '.join(sorted(t for t in tags if t != '*'))}")
        return kind

    def _apply_status(self, tracker: Tracker, table: EntityTable, obj: Any, data: Any,
                      name: str, index: int, state: str, dest: str, new: bool) -> None:
        c = self._c
        flow_state = self._s
        kind = table.entity
        if new:
            self._adopt(tracker, obj)
        value = obj if obj is not None else data
        if (name in c.final_object_events and tracker.deltas
                and tracker.label not in flow_state.capped):
            self._check_divergence(tracker, value, name, index)
        if obj is not None:
            merge_server_object(tracker, obj)
            status_field = table.status_field
            status = obj.get(status_field) if status_field is not None else None
            if status_field is not None and status != dest and (
                    status is not None or status_field in obj):
                if table.status_from_event:
                    tracker.status_override = dest
                    what = (f"the event name is followed and {tracker.label} is now "
                            f"{dest!r}")
                else:
                    what = (f"{tracker.label} is now {dest!r} and its snapshot keeps the "
                            "server's status")
                self._violate(Code.STATUS_MISMATCH, index, name, tracker.ref,
                              f"{name} carries {status_field} {shorten(status)}; {what}")
        elif tracker.acc is not None:
            tracker.typed = None
            tracker.acc.absorb(data)  # a value event (``output_text.done``) ends the value
        self._move(tracker, kind, name, state, dest, index)
        for rule in c.after_rules.get((kind, name), ()):
            if rule.states is None or dest in rule.states:
                self._report(rule, tracker, data if rule.sees == "data" else obj, name, index)

    def _save(self, tracker: Tracker) -> tuple[Any, ...]:
        """What applying a status event may change, to undo one that fails half-way
        (only a bug can make it fail: every check ran before)."""
        s = self._s
        hooks = self._hooks
        return (
            tracker.state, tracker.raw, tracker.typed, tracker.status_override,
            tracker.recovered, tracker.acc.save() if tracker.acc is not None else None,
            s.root, s.scope, s.root_id, s.scope_id, s.stream_moves, len(s.history),
            s.history_dropped, len(s.violations), dict(s.repeats), dict(s.suppressed),
            dict(s.expected),
            {k: len(v) for k, v in s.marks.items()}, self._first_error,
            len(hooks.pending) if hooks is not None else None,
        )

    def _restore(self, tracker: Tracker, saved: tuple[Any, ...], new: bool) -> None:
        s = self._s
        (tracker.state, tracker.raw, tracker.typed, tracker.status_override,
         tracker.recovered, acc, s.root, s.scope, s.root_id, s.scope_id, s.stream_moves,
         history, s.history_dropped, violations, s.repeats, s.suppressed, s.expected, marks,
         self._first_error, pending) = saved
        if acc is not None:
            tracker.acc.restore(acc)
        del s.history[history:]
        del s.violations[violations:]
        if new and tracker.entity in s.children:
            s.children[tracker.entity].pop(tracker.id, None)
            if tracker.slot is not None:
                s.slots.pop(tracker.slot, None)
        for name in [k for k in s.marks if k not in marks]:
            del s.marks[name]
        for name, count in marks.items():
            taken = s.marks[name]
            while len(taken) > count:
                taken.popitem()  # the notes this event took are the last ones
        if pending is not None and self._hooks is not None:
            # enter callbacks were staged, not queued (see _entered): only the
            # violation callbacks of this event are in the queue
            del self._hooks.pending[pending:]

    def _move(self, tracker: Tracker, kind: str, event: str, source: str, dest: str,
              index: int) -> None:
        state = self._s
        if dest != source:  # a self-loop is an internal transition: nothing to run
            c = self._c
            default = c.lookup[kind][(source, event)]
            trigger = event if dest == default else trigger_name(event, dest, default)
            c.machines[kind].events[trigger].trigger(tracker, self)
            if tracker is state.root:
                state.stream_moves += 1
        if len(state.history) < self.limits.max_history:
            state.history.append(StateChange(index, kind, tracker.id, event, source, dest))
        else:
            state.history_dropped += 1

    def _report(self, rule: Any, tracker: Tracker, data: Any, name: str, index: int) -> None:
        for found in rule.check(self._s, tracker, data, name):
            if rule.code is not None:
                entity = found.entity or tracker
                ref = entity if isinstance(entity, EntityRef) else entity.ref
                self._violate(rule.code, index, name, ref, found.message, found.severity)

    def _check_divergence(self, tracker: Tracker, obj: Any, name: str, index: int) -> None:
        for path, ours, theirs in tracker.acc.diverge(obj):
            kept = ("the rebuilt value is kept" if theirs == MISSING
                    else "the server's value is kept")
            self._violate(
                Code.SNAPSHOT_DIVERGENCE, index, name, tracker.ref,
                f"{path}: rebuilt from deltas {shorten(ours)} but the server sent "
                f"{shorten(theirs)}; {kept}",
            )

    def _resolve(self, table: EntityTable, obj: Any, name: str,
                 recovered: bool = False) -> tuple[Tracker, bool]:
        """The tracker ``obj`` is about, and whether it is new; or reject."""
        state = self._s
        c = self._c
        kind = table.entity
        oid: str = obj["id"]
        label = f"{kind} {oid}"
        ref = EntityRef(kind=kind, id=oid)
        for fld, other in table.links.items():
            known = (state.root_id if other == c.root else
                     state.scope_id if other == c.scope else None)
            if known is not None and obj.get(fld) != known:
                value = obj.get(fld)
                shown = value[:80] if type(value) is str else shorten(value)
                _reject(Code.FOREIGN_ENTITY, f"{label} belongs to {other} {shown}, not this "
                        f"flow's {other} {known}", ref)
        created = name in c.created[kind]
        if table.role == "scope":
            scope = state.scope
            if scope is not None:
                code = Code.DUPLICATE_ENTITY if scope.id == oid else Code.FOREIGN_ENTITY
                _reject(code, f"{label} arrived but this flow already has {scope.label}", ref)
            if state.scope_id is not None and state.scope_id != oid:
                _reject(Code.FOREIGN_ENTITY,
                        f"{label} is not this flow's {kind} {state.scope_id}", ref)
            return Tracker(table, oid), True
        if table.role == "root":
            if state.root_id is not None and oid != state.root_id:
                _reject(Code.FOREIGN_ENTITY,
                        f"{label} is not this flow's {kind} {state.root_id}; one flow is one "
                        f"{kind}", ref)
            root = state.root
            if root is None:
                return Tracker(table, oid), True
            if created and not recovered:
                _reject(Code.DUPLICATE_ENTITY,
                        f"{name} for {label}, which this flow already has", ref)
            return root, False
        if not recovered:
            self._check_root_allows(name, ref)
        existing = state.children[kind].get(oid)
        if existing is not None:
            if created and not recovered:
                _reject(Code.DUPLICATE_ENTITY, f"{name} for {label}, which this flow already "
                        f"has (state {existing.state!r})", ref)
            return existing, False
        root_state = state.root.state if state.root is not None else UNSEEN
        if not created and not recovered and root_state not in c.root_table.adopt_children:
            _reject(Code.UNKNOWN_ENTITY, f"{name} for {label}, which this flow has not seen "
                    f"begin; it cannot be adopted while the {c.root} is {root_state!r}", ref)
        if sum(map(len, state.children.values())) >= self.limits.max_entities:
            _reject(Code.LIMIT_EXCEEDED,
                    f"{label} would exceed max_entities={self.limits.max_entities}", ref)
        return Tracker(table, oid), True

    def _check_root_allows(self, name: str, ref: EntityRef) -> None:
        """A child event while the root is terminal, or in a state where children
        neither grow nor end, is rejected."""
        root = self._s.root
        if root is None or root.state == UNSEEN:
            return
        c = self._c
        state = root.state
        if state in c.root_table.terminal:
            _reject(Code.EVENT_AFTER_TERMINAL,
                    f"{name} for {ref} after the {c.root} ended {state!r}", ref)
        allowed = c.closing_states if name in c.closing_events else c.root_table.children_open
        if state not in allowed:
            _reject(
                Code.RUN_NOT_IN_PROGRESS,
                f"{name} for {ref} while the {c.root} is {state!r}; allowed while the "
                f"{c.root} is {', '.join(sorted(allowed))}",
                ref,
            )

    def _locate(self, table: EntityTable, obj: Any, data: Any,
                name: str) -> tuple[Tracker, bool]:
        """The tracker at the position an event names, and whether it is new; or
        reject. A positioned entity (a Responses item, content part...) is found by
        its indices (``output_index``, ``content_index``), which also name its
        parent; the ids the event carries are checked against what is there."""
        state = self._s
        c = self._c
        kind = table.entity
        indices = self._indices(table, data, name)
        created = name in c.created[kind]
        parent: Tracker | None = None
        if table.parent_group is not None:
            parent = self._slot(table.parent_group, indices[:-1])
            where = _where(table.position[:-1], indices[:-1])
            if parent is None:
                _reject(Code.UNKNOWN_ENTITY,
                        f"{name} at {where}: this flow has seen nothing there in "
                        f"{table.parent_group}", EntityRef(kind=kind, id=where))
            if parent.state in c.tables[parent.entity].terminal:
                _reject(Code.EVENT_AFTER_TERMINAL,
                        f"{name} for {parent.label} after it ended {parent.state!r}", parent)
        key = _slot_key(table.group, indices)
        existing = self._slot(table.group, indices)
        owner = parent.owner if parent is not None else None
        oid = obj.get("id") if type(obj) is dict else None
        if existing is None:
            self._check_root_allows(name, EntityRef(kind=kind, id=oid or key))
            root_state = state.root.state if state.root is not None else UNSEEN
            if not created and (obj is None or root_state not in c.root_table.adopt_children):
                _reject(Code.UNKNOWN_ENTITY,
                        f"{name} for {kind} at {_where(table.position, indices)}, which this "
                        "flow has not seen begin", EntityRef(kind=kind, id=oid or key))
            if sum(map(len, state.children.values())) >= self.limits.max_entities:
                _reject(Code.LIMIT_EXCEEDED,
                        f"{kind} at {key} would exceed max_entities={self.limits.max_entities}")
            if type(oid) is not str:
                oid = f"{parent.id if parent is not None else ''}:{indices[-1]}"
            elif oid in state.children[kind]:
                _reject(Code.DUPLICATE_ENTITY, f"{name} for {kind} {oid}, which this flow "
                        "already has at another position", EntityRef(kind=kind, id=oid))
            tracker = Tracker(table, oid)
            tracker.slot = key
            tracker.owner = owner if owner is not None else oid
            new = True
        else:
            self._check_root_allows(name, existing.ref)
            if created:
                _reject(Code.DUPLICATE_ENTITY,
                        f"{name} at {_where(table.position, indices)}, where this flow already "
                        f"has {existing.label} (state {existing.state!r})", existing)
            if existing.entity != kind:
                _reject(Code.TYPE_CHANGE,
                        f"{name} says the {table.group} at {_where(table.position, indices)} "
                        f"is a {kind}, but it began as {existing.label}", existing)
            if type(oid) is str and parent is None and oid != existing.id:
                self._violate(Code.ITEM_ID_MISMATCH, state.index - 1, name, existing.ref,
                              f"{name} gives the entity at {_where(table.position, indices)} "
                              f"the id {shorten(oid)}, but it began as {existing.id}; the "
                              "position is followed")
            tracker, new = existing, False
        self._check_named(table, data, tracker, name)
        return tracker, new

    def _indices(self, table: EntityTable, data: Any, name: str) -> tuple[int, ...]:
        max_index = self.limits.max_index
        out = []
        for fld in table.position:
            value = data.get(fld) if type(data) is dict else None
            if type(value) is not int or value < 0:
                _reject(Code.MALFORMED_EVENT,
                        f"the data of {name}: {fld}: expected an index (an integer >= 0), got "
                        f"{shorten(value)}")
            if value >= max_index:
                _reject(Code.LIMIT_EXCEEDED,
                        f"the data of {name}: {fld} {value} exceeds the limit {max_index}")
            out.append(value)
        return tuple(out)

    def _slot(self, group: str | None, indices: tuple[int, ...]) -> Tracker | None:
        found = self._s.slots.get(_slot_key(group, indices))
        return self._s.children[found[0]].get(found[1]) if found is not None else None

    def _check_named(self, table: EntityTable, data: Any, tracker: Tracker, name: str) -> None:
        """An event whose ``named_by`` field names another id than the entity at its
        first position (GitHub Copilot rotates ``item_id`` on every event): reported,
        and the position is followed."""
        owner = tracker.owner
        named_by = table.named_by
        if named_by is None or type(data) is not dict:
            return
        named = data.get(named_by)
        if named is None and named_by not in data:
            return
        if type(named) is not str:
            _reject(Code.MALFORMED_EVENT, f"the data of {name}: {named_by}: expected a "
                    f"string, got {json_type(named)}")
        if named != owner:
            self._violate(Code.ITEM_ID_MISMATCH, self._s.index - 1, name, tracker.ref,
                          f"{name}'s {named_by} is {shorten(named)}, but the entity at its "
                          f"position belongs to {owner}; the position is followed")

    def _adopt(self, tracker: Tracker, obj: Any) -> None:
        """Register an entity the flow sees for the first time (created or adopted)."""
        state = self._s
        c = self._c
        kind = tracker.entity
        if kind == c.scope:
            state.scope = tracker
            state.scope_id = tracker.id
            return
        if kind == c.root:
            state.root = tracker
            state.root_id = tracker.id
        else:
            state.children[kind][tracker.id] = tracker
            if tracker.slot is not None:
                state.slots[tracker.slot] = [kind, tracker.id]
        table = c.tables[kind]
        for fld, other in table.links.items():
            value = obj.get(fld) if obj is not None else None
            if type(value) is str:
                if other == c.root and state.root_id is None:
                    state.root_id = value
                elif other == c.scope and state.scope_id is None:
                    state.scope_id = value

    # ------------------------------------------------------------------ #
    # deltas: the hot path, no machine involved
    # ------------------------------------------------------------------ #
    def _on_delta(self, kind: str, name: str, data: Any, index: int) -> None:
        c = self._c
        table = c.tables[kind]
        if table.position:
            tracker = self._placed(table, name, data)
            delta = data if table.delta_body == "" else data.get(table.delta_body)
        else:
            oid = data.get(table.delta_id) if type(data) is dict else None
            delta = data.get(table.delta_body) if type(data) is dict else None
            if type(oid) is not str or not oid or type(delta) is not dict:
                shape = table.delta_shape
                problem = shape.problem(data) if shape is not None else None
                _reject(Code.MALFORMED_EVENT,
                        f"the data of {name}: {problem or 'not a delta object'}")
            found = self._s.children[kind].get(oid)
            if found is None:
                _reject(
                    Code.UNKNOWN_ENTITY,
                    f"{name} for {kind} {oid}, which this flow never saw; a delta carries no "
                    "full object, so it cannot be adopted",
                    EntityRef(kind=kind, id=oid),
                )
            tracker = found
        root = self._s.root
        if root is not None and root.state not in c.delta_root_states:
            self._check_root_allows(name, tracker.ref)
        allowed = c.delta_states[name]
        if tracker.state not in allowed:
            _reject(
                Code.INVALID_TRANSITION,
                f"{name} is not allowed for {tracker.label} in state {tracker.state!r}; "
                f"deltas are allowed in {', '.join(sorted(allowed))}",
                tracker,
            )
        if tracker.label in self._s.capped:
            return  # the entity reached a limit and stopped growing
        acc = tracker.acc
        limit: int = getattr(self.limits, acc.limit)
        result = acc.merge(delta, limit - tracker.size, self.limits.max_index)
        if result is None:
            return
        if type(result) is not int:
            _reject(result[0], result[1], tracker)
        if result == OVER_LIMIT:
            self._s.capped.add(tracker.label)
            self._violate(
                Code.LIMIT_EXCEEDED, index, name, tracker.ref,
                f"{tracker.label} would grow past {acc.limit}={limit}; it stops growing here",
            )
            return
        tracker.size += result
        tracker.deltas += 1
        tracker.typed = None
        if self._hooks is not None:
            self._hooks.delta(self._s, tracker, delta)

    def _placed(self, table: EntityTable, name: str, data: Any) -> Tracker:
        """The positioned entity a delta is about (deltas never create one)."""
        if type(data) is not dict:
            _reject(Code.MALFORMED_EVENT, f"the data of {name}: expected an object, got "
                    f"{json_type(data)}")
        state = self._s
        pos = table.position
        if len(pos) == 2:  # the fast path: a part's delta (output_index, content_index)
            i, j = data.get(pos[0]), data.get(pos[1])
            if type(i) is int and type(j) is int and i >= 0 and j >= 0:
                found = state.slots.get(f"{table.group}/{i}/{j}")
                if found is not None and found[0] == table.entity:
                    placed = state.children[found[0]][found[1]]
                    if table.named_by is not None and data.get(table.named_by) != placed.owner:
                        self._check_named(table, data, placed, name)
                    return placed
        indices = self._indices(table, data, name)
        tracker = self._slot(table.group, indices)
        if tracker is None or tracker.entity != table.entity:
            what = (f"is {tracker.label}" if tracker is not None
                    else "holds nothing this flow has seen begin")
            _reject(Code.UNKNOWN_ENTITY,
                    f"{name} for a {table.entity} at {_where(table.position, indices)}, which "
                    f"{what}; a delta carries no object, so it cannot be adopted",
                    EntityRef(kind=table.entity, id=_slot_key(table.group, indices)))
        if table.named_by is not None and data.get(table.named_by) != tracker.owner:
            self._check_named(table, data, tracker, name)
        return tracker

    # ------------------------------------------------------------------ #
    # error events
    # ------------------------------------------------------------------ #
    def _on_error(self, name: str, data: Any, index: int) -> None:
        key = self._c.protocol.error_object
        body = data.get(key) if isinstance(data, dict) and key is not None else None
        if not isinstance(body, dict):
            body = data
        shape = self._c.protocol.error_shape
        problem = None
        if isinstance(body, dict):
            problem = shape.problem(body, "error") if shape is not None else None
            if problem is None and has_non_finite(body):
                problem = "a number is NaN or infinite, which JSON cannot hold"
        if not isinstance(body, dict) or problem is not None:
            self._stream("event", name, index)
            what = data.reason if isinstance(data, _BadData) else (
                f"the data of {name}: {problem}" if problem is not None else
                f"the data of {name} is {type(data).__name__}, not an error object")
            _reject(Code.MALFORMED_EVENT, what)
        self._stream("error", name, index)
        if self._s.error is None:
            self._s.error = body

    # ------------------------------------------------------------------ #
    # recovery: objects read over REST
    # ------------------------------------------------------------------ #
    def recover(self, obj: BaseModel) -> bool:
        """Apply a full object read over REST after a cut (a ``Run``, ``RunStep`` or
        ``Message``); return True when the entity changed state.

        After a cut stream the protocol has no resume: the only way to learn what
        happened is to poll. A recovered object may jump over states the flow never
        saw, so it bypasses the transition table, but it goes through the same
        resolution as a streamed event (another run or thread is refused) and the
        rules marked ``recovered``; the change is recorded in :attr:`history` with
        event ``"recovered"`` and fires the enter callbacks of the new state.
        Raises :class:`RecoveryError`.
        """
        c = self._c
        kind = c.kind_of_model.get(type(obj))
        if kind is None:
            names = ", ".join(m.__name__ for m in c.kind_of_model)
            raise RecoveryError(f"cannot recover a {type(obj).__name__}; expected {names}")
        table = c.tables[kind]
        data = obj.model_dump(mode="json", exclude_unset=True, warnings=False)
        problem = table.shape.problem(data) if table.shape is not None else None
        if problem is not None:
            raise RecoveryError(f"the {kind} object cannot be recovered: {problem}")
        status = data.get(table.status_field) if table.status_field else None
        if status not in table.states or status == table.initial:
            raise RecoveryError(f"{kind} {data['id']} has status {shorten(status)}, not one "
                                f"of {table.states[1:]}")
        try:
            tracker, new = self._resolve(table, data, RECOVERED, recovered=True)
        except _Rejected as rejected:
            raise RecoveryError(rejected.message) from None
        source = tracker.state
        if new:
            self._adopt(tracker, data)
        merge_server_object(tracker, data)
        tracker.recovered = True
        for rule in c.recovered_rules[kind]:
            self._report(rule, tracker, data, RECOVERED, self._s.index)
        if source == status:
            self._finish_event()
            return False
        c.machines[kind].set_state(status, model=tracker)
        if tracker is self._s.root:
            self._s.stream_moves += 1
        self._s.history.append(StateChange(self._s.index, kind, tracker.id, RECOVERED,
                                           source, str(status)))
        self._entered(tracker, str(status))
        self._finish_event()
        return True

    # ------------------------------------------------------------------ #
    # enter hook (called by the machines)
    # ------------------------------------------------------------------ #
    def _entered(self, tracker: Tracker, state: str) -> None:
        hooks = self._hooks
        if hooks is None:
            return
        if self._staged is not None:  # a status event is being applied: see _on_status
            self._staged.append((tracker, state, len(hooks.pending)))
        else:
            hooks.entered(self._s, tracker, state)

    @property
    def error(self) -> ErrorObject | None:
        """The error object of the ``error`` event that ended the stream, if any."""
        body = self._s.error
        return ErrorObject.construct(**body) if body is not None else None


class RunFlow(Flow, RunView, RunCallbacks):
    """Validate and reconstruct one Assistants run from its stream events.

    ``protocol`` is the definition to run (the Assistants stream by default).
    ``strict=True`` raises :class:`ProtocolError` at the first error-severity
    violation; by default violations are collected in :attr:`violations` and the
    flow goes on. Warnings never raise. ``handler`` registers a :class:`Handler`'s
    methods.
    """

    def __init__(
        self,
        *,
        strict: bool = False,
        limits: Limits | None = None,
        callback_errors: Literal["raise", "collect"] = "raise",
        handler: Handler | None = None,
        protocol: Protocol | None = None,
        profile: Profile | None = None,
    ) -> None:
        super().__init__(strict=strict, limits=limits, callback_errors=callback_errors,
                         protocol=protocol, profile=profile)
        if handler is not None:
            self.add_handler(handler)
