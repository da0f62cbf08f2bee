"""``RunFlow``: the sans-I/O core. Events in, states, snapshots and violations out.

One flow is one run, possibly over several streams: a ``done`` right after
``thread.run.requires_action`` ends a stream, and the stream returned by
``submit_tool_outputs`` continues the same flow.

Each event goes through the same steps:

1. parse and route it by name (:data:`runflow.protocol.PROTOCOL`);
2. check it -- every rule that can reject it is checked before anything changes,
   so a rejected event leaves states and snapshots exactly as they were;
3. apply it to the snapshot, then move the state through the shared ``transitions``
   machine, whose on-enter hooks queue the enter callbacks;
4. check the cross-entity rules that follow an accepted change;
5. fire the queued callbacks, then, in strict mode, raise the first error.

Deltas skip the machine (they never change state) and are checked against the
table directly: they are most of the traffic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from openai.types.shared import ErrorObject
from pydantic import BaseModel

from .callbacks import Callbacks
from .checkpoint import dump_flow, load_flow
from .content import (
    JSON,
    apply_content,
    apply_tool_calls,
    check_content,
    check_tool_calls,
    plain_fragment,
    plain_text,
)
from .driving import Driving
from .entities import Tracker, merge_server_object
from .hooks import CallbackFailure, Hooks
from .limits import Limits
from .machines import MACHINES
from .objects import object_problem, step_identity_problem, text_size, tool_size
from .protocol import (
    ADOPTION_RUN_STATES,
    CHILD_EVENT_RUN_STATES,
    FINAL_OBJECT_EVENTS,
    PROTOCOL,
    UNSEEN,
    Entity,
    EventKind,
)
from .rules import after_run, after_step, check_divergence
from .sse import RawEvent, SSEDecoder
from .view import Ending, FlowView, StateChange
from .violations import RULES, Code, ProtocolViolation, Severity, Violation

if TYPE_CHECKING:


    from .callbacks import Handler

__all__ = ["Ending", "RunFlow"]

_ROUTES = PROTOCOL.routes
_LOOKUP = PROTOCOL.transitions
_RUN_TERMINAL = PROTOCOL.tables[Entity.RUN].terminal
_DELTA_STATES = {
    name: allowed for table in PROTOCOL.tables.values() for name, allowed in table.deltas.items()
}
_CREATED = {
    Entity.THREAD: "thread.created",
    Entity.RUN: "thread.run.created",
    Entity.STEP: "thread.run.step.created",
    Entity.MESSAGE: "thread.message.created",
}
_DONE = b"[DONE]"
_F = TypeVar("_F", bound="RunFlow")
_T = TypeVar("_T")


class _BadData:
    """Stands for an event's data that could not be decoded; says why."""

    __slots__ = ("code", "reason")

    def __init__(self, reason: str, code: Code = Code.MALFORMED_EVENT) -> None:
        self.reason = reason
        self.code = code


class _Rejected(Exception):
    """Internal: the current event broke a rejecting rule (already recorded)."""


class RunFlow(FlowView, Callbacks, Driving):
    """Validate and reconstruct one Assistants run from its stream events.

    ``strict=True`` raises :class:`ProtocolViolation` at the first error-severity
    violation; by default violations are collected in :attr:`violations` and the
    flow goes on. Warnings never raise.

    Callbacks (see :mod:`runflow.callbacks`) fire after each event is fully
    applied. A callback that raises propagates out of ``feed`` once the flow is
    updated (``callback_errors="raise"``), or is recorded in
    :attr:`callback_failures` and the flow goes on (``"collect"``).
    """

    def __init__(
        self,
        *,
        strict: bool = False,
        limits: Limits | None = None,
        callback_errors: Literal["raise", "collect"] = "raise",
        handler: Handler | None = None,
    ) -> None:
        super().__init__()
        self.strict = strict
        self.limits = limits or Limits()
        self.callback_errors = callback_errors
        self._decoder = SSEDecoder(self.limits.max_event_bytes)
        self._backlog: list[RawEvent] = []  # decoded, not yet processed (after a raise)
        self._announced: set[str] = set()  # message ids named by message_creation steps
        self._capped: set[str] = set()  # entity labels that reached a limit
        self._stream_end: str | None = None  # "done" | "error" once the stream ended
        self._continues = False  # the stream ended in requires_action
        self._stray_reported = False  # event_after_done/error already said for this end
        self._stream_start = 0  # input position where the current stream began
        self._continuation = False  # the current stream began after requires_action
        self._repeats: dict[tuple[Code, str | None], int] = {}
        self.suppressed: dict[str, int] = {}
        """Violations counted but not stored, by code (see ``Limits.max_repeated_violations``)."""
        self._closed = False
        self._first_error: Violation | None = None
        self._hooks: Hooks | None = None
        self._deferred = False  # async driving: callbacks wait for aflush
        self.callback_failures: list[CallbackFailure] = []
        """Callbacks that raised, when ``callback_errors="collect"``."""
        if handler is not None:
            self.add_handler(handler)

    # ------------------------------------------------------------------ #
    # checkpoints
    # ------------------------------------------------------------------ #
    def to_json(self) -> str:
        """Save the flow (states, snapshots, violations, input position) as JSON."""
        return json.dumps(dump_flow(self), ensure_ascii=False)

    @classmethod
    def from_json(cls: type[_F], text: str | bytes, **settings: Any) -> _F:
        """Restore a flow saved by :meth:`to_json`; ``settings`` override saved ones
        (e.g. ``strict=True``). Raises :class:`runflow.checkpoint.CheckpointError`."""
        return load_flow(cls, text, **settings)

    # ------------------------------------------------------------------ #
    # input
    # ------------------------------------------------------------------ #
    def feed(self, event: Any) -> list[Violation]:
        """Take one event: an SDK stream event or ``{"event": name, "data": ...}``.

        Returns the violations this event produced.
        """
        start = len(self.violations)
        if isinstance(event, Mapping):
            name = event.get("event")
            data = event.get("data")
        else:
            name = getattr(event, "event", None)
            data = getattr(event, "data", None)
            if isinstance(data, BaseModel):
                data = data.model_dump(mode="json", exclude_unset=True, warnings=False)
        if not isinstance(name, str):
            self._process(None, _BadData(f"the event has no 'event' name (got {name!r})"), None)
        elif isinstance(data, (bytes, bytearray)):
            self._feed_raw(name, bytes(data), None)
        else:
            self._process(name, data, None)
        return self.violations[start:]

    def feed_sse(self, chunk: bytes) -> list[Violation]:
        """Take raw SSE bytes, split anywhere. Returns the violations they produced."""
        start = len(self.violations)
        self._drain(self._decoder.feed(chunk))
        return self.violations[start:]

    def _drain(self, events: list[RawEvent]) -> None:
        """Process decoded events. If a strict violation or a callback raises, the
        events not yet processed wait in the backlog for the next call: nothing
        received is lost."""
        if self._backlog:
            events = self._backlog + events
            self._backlog = []
        feed_raw = self._feed_raw
        for i, (name, data, offset, oversize) in enumerate(events):
            try:
                if oversize:
                    self._feed_block(events[i])
                else:
                    feed_raw(name, data, offset)
            except BaseException:
                self._backlog = events[i + 1 :]
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
        self._drain(self._decoder.close())
        if self._closed:
            return self._ending or "truncated"
        self._closed = True
        if self._stream_end is None or self._index == self._stream_start:
            self._ending = "truncated"
            self._violate(
                Code.TRUNCATED, self._index, None, None,
                f"the input ended after {self._index} event(s) with no done and no error "
                f"event; the run is {self.run_status}",
            )
        if self._hooks is not None:
            self._hooks.ended(self, self._ending or "truncated")
        self._finish_event()
        return self._ending or "truncated"

    def begin_stream(self) -> None:
        """Mark the start of a new input stream (e.g. the response to
        ``submit_tool_outputs``), so that one ending with no event at all is
        classified ``truncated`` by :meth:`close`. The SDK adapters call it."""
        self._closed = False
        self._stream_start = self._index

    def _feed_raw(self, name: str | None, data: bytes | None, offset: int | None) -> None:
        if data is None or data == _DONE:
            self._process(name, None if data is None else "[DONE]", offset)
            return
        try:
            # decode first: json.loads(bytes) spends ~1 µs detecting the encoding
            obj = json.loads(data.decode())
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            where = f" at byte {offset}" if offset is not None else ""
            obj = _BadData(f"the data of {name!r}{where} is not valid JSON ({exc})")
        self._process(name, obj, offset)

    # ------------------------------------------------------------------ #
    # dispatch
    # ------------------------------------------------------------------ #
    def _process(self, name: str | None, data: Any, offset: int | None) -> None:
        index = self._index
        self._index = index + 1
        self._closed = False
        if self._stream_end is not None:
            self._next_stream(index, name)
        route = _ROUTES.get(name) if name is not None else None
        try:
            if isinstance(data, _BadData):
                self._violate(data.code, index, name, None, data.reason)
            elif route is None:
                self._violate(
                    Code.UNKNOWN_EVENT, index, name, None,
                    f"event {name!r} is not part of the protocol and was ignored"
                    if name is not None else "an SSE block with data but no event name was ignored",
                )
            else:
                kind, entity = route
                if kind is EventKind.DELTA:
                    self._on_delta(entity, name, data, index)  # type: ignore[arg-type]
                elif kind is EventKind.STATUS:
                    self._on_status(entity, name, data, index, offset)  # type: ignore[arg-type]
                elif kind is EventKind.DONE:
                    self._on_done(index)
                elif kind is EventKind.ERROR:
                    self._on_error(data, index)
        except _Rejected:
            pass
        self._finish_event()

    def _finish_event(self) -> None:
        # Take the strict error first: if a callback raises below, its error
        # propagates and the violation (already in self.violations) must not leak
        # into the next event.
        first, self._first_error = self._first_error, None
        if self._hooks is not None and not self._deferred:
            self._hooks.flush(self)
        if first is not None:
            raise ProtocolViolation(first)

    def _next_stream(self, index: int, name: str | None) -> None:
        """An event after ``done`` or ``error``: a continuation or a violation.

        After ``done`` in requires_action the event opens the next stream. Otherwise
        the stream stays ended (so it is not ``truncated``); the first stray event
        is reported and the events are still applied.
        """
        ended = self._stream_end
        if ended == "done" and self._continues:
            self._stream_end = None
            self._ending = None
            self._continuation = True
            return
        if self._stray_reported:
            return
        self._stray_reported = True
        code = Code.EVENT_AFTER_DONE if ended == "done" else Code.EVENT_AFTER_ERROR
        self._violate(
            code, index, name, None,
            f"{name!r} arrived after the stream ended with {ended}, and the run was "
            f"{self.run_status}, not requires_action",
        )

    # ------------------------------------------------------------------ #
    # violations
    # ------------------------------------------------------------------ #
    def _violate(
        self,
        code: Code,
        index: int,
        event: str | None,
        entity: str | None,
        message: str,
        severity: Severity | None = None,
    ) -> None:
        kind = entity.split(" ", 1)[0] if entity else None
        seen = self._repeats.get((code, kind), 0)
        self._repeats[(code, kind)] = seen + 1
        limit = self.limits.max_repeated_violations
        if seen >= limit:
            self.suppressed[code.value] = self.suppressed.get(code.value, 0) + 1
            if seen > limit:
                return
            code, severity, entity = Code.LIMIT_EXCEEDED, "warning", None
            message = (f"more than {limit} violations of one kind ({kind or 'stream'}); "
                       "further ones are counted in flow.suppressed, not stored")
        violation = Violation(
            code=code,
            severity=severity or RULES[code].severity,
            index=index,
            event=event,
            entity=entity,
            message=message,
        )
        self.violations.append(violation)
        if self._hooks is not None:
            self._hooks.violation(self, violation)
        if self.strict and violation.severity == "error" and self._first_error is None:
            self._first_error = violation

    def _reject(
        self, code: Code, index: int, event: str | None, entity: str | None, message: str
    ) -> _Rejected:
        self._violate(code, index, event, entity, message)
        return _Rejected()

    # ------------------------------------------------------------------ #
    # status events: full objects
    # ------------------------------------------------------------------ #
    def _on_status(
        self, entity: Entity, name: str, data: Any, index: int, offset: int | None
    ) -> None:
        obj = self._check_object(entity, name, data, index, offset)
        oid: str = obj["id"]
        if entity is Entity.THREAD:
            tracker = self._resolve_thread(oid, name, index)
        elif entity is Entity.RUN:
            tracker = self._resolve_run(oid, obj, name, index)
        else:
            tracker = self._resolve_child(entity, oid, obj, name, index)
        state = tracker.state
        dest = _LOOKUP[entity].get((state, name))
        if dest is None:
            allowed = sorted(e for (s, e) in _LOOKUP[entity] if s == state)
            raise self._reject(
                Code.INVALID_TRANSITION, index, name, tracker.label,
                f"{name} is not allowed for {tracker.label} in state {state!r}; "
                f"allowed: {', '.join(allowed) or 'nothing (terminal)'}",
            )
        # -- accepted from here on: apply, then move, then cross-entity rules --
        if entity is Entity.STEP and state != UNSEEN:
            problem = step_identity_problem(tracker, obj)
            if problem is not None:
                raise self._reject(problem[0], index, name, tracker.label, problem[1])
        if state == UNSEEN:
            self._adopt(tracker, obj)
        if name in FINAL_OBJECT_EVENTS and tracker.deltas and tracker.label not in self._capped:
            check_divergence(self, tracker, obj, name, index)
        merge_server_object(tracker, obj)
        status = obj.get("status")
        if entity is not Entity.THREAD and status != dest:
            tracker.status_override = dest
            self._violate(
                Code.STATUS_MISMATCH, index, name, tracker.label,
                f"{name} carries status {status!r}; the event name is followed "
                f"and {tracker.label} is now {dest!r}",
            )
        if entity is Entity.STEP:
            self._note_step(tracker, obj)
        if dest != state:  # a self-loop is an internal transition: nothing to run
            MACHINES[entity].events[name].trigger(tracker, self)
        self.history.append(StateChange(index, entity, oid, name, state, dest))
        if entity is Entity.RUN:
            after_run(self, tracker, name, index)
        elif entity is Entity.STEP:
            after_step(self, tracker, name, index)
        elif entity is Entity.THREAD and (self._run is not None or self._steps
                                          or self._messages):
            self._violate(
                Code.OUT_OF_ORDER, index, name, tracker.label,
                "thread.created arrived after the run's events; create-and-run streams "
                "start with it",
            )
        elif entity is Entity.MESSAGE and name == "thread.message.created":
            if obj["id"] not in self._announced:
                self._violate(
                    Code.ORPHAN_MESSAGE, index, name, tracker.label,
                    f"{tracker.label} was created but no message_creation step names it",
                )

    def _check_object(
        self, entity: Entity, name: str, data: Any, index: int, offset: int | None
    ) -> JSON:
        problem = object_problem(entity, data)
        if problem is not None:
            where = f" (byte {offset})" if offset is not None else ""
            raise self._reject(Code.MALFORMED_EVENT, index, name, None,
                               f"the data of {name}{where} {problem}")
        return data  # type: ignore[no-any-return]

    def _resolve_thread(self, oid: str, name: str, index: int) -> Tracker:
        thread = self._thread
        if thread is not None:
            code = Code.DUPLICATE_ENTITY if thread.id == oid else Code.FOREIGN_ENTITY
            raise self._reject(code, index, name, f"thread {oid}",
                               f"thread {oid} arrived but this flow already has thread {thread.id}")
        if self._thread_id is not None and self._thread_id != oid:
            raise self._reject(Code.FOREIGN_ENTITY, index, name, f"thread {oid}",
                               f"thread {oid} is not this flow's thread {self._thread_id}")
        return Tracker(Entity.THREAD, oid)

    def _resolve_run(self, oid: str, obj: JSON, name: str, index: int) -> Tracker:
        label = f"run {oid}"
        if self._run_id is not None and oid != self._run_id:
            raise self._reject(
                Code.FOREIGN_ENTITY, index, name, label,
                f"{label} is not this flow's run {self._run_id}; one flow is one run",
            )
        thread_id = obj.get("thread_id")
        if self._thread_id is not None and thread_id != self._thread_id:
            raise self._reject(Code.FOREIGN_ENTITY, index, name, label,
                               f"{label} belongs to thread {thread_id!r}, not {self._thread_id}")
        run = self._run
        if run is None:
            if name != _CREATED[Entity.RUN] and self._thread is not None:
                raise self._reject(
                    Code.UNKNOWN_ENTITY, index, name, label,
                    f"{name} for {label}, which this flow never saw created; the stream "
                    "began with thread.created, so it did not begin mid-run",
                )
            return Tracker(Entity.RUN, oid)
        if name == _CREATED[Entity.RUN]:
            raise self._reject(Code.DUPLICATE_ENTITY, index, name, label,
                               f"{name} for {label}, which this flow already has")
        return run

    def _resolve_child(self, entity: Entity, oid: str, obj: JSON, name: str, index: int) -> Tracker:
        table = self._steps if entity is Entity.STEP else self._messages
        label = f"{entity.value} {oid}"
        run_id, thread_id = obj.get("run_id"), obj.get("thread_id")
        if self._run_id is not None and run_id != self._run_id:
            raise self._reject(
                Code.FOREIGN_ENTITY, index, name, label,
                f"{label} belongs to run {run_id!r}, not this flow's run {self._run_id}",
            )
        if self._thread_id is not None and thread_id != self._thread_id:
            raise self._reject(
                Code.FOREIGN_ENTITY, index, name, label,
                f"{label} belongs to thread {thread_id!r}, "
                f"not this flow's thread {self._thread_id}",
            )
        self._check_run_allows(name, label, index)
        tracker = table.get(oid)
        if tracker is not None:
            if name == _CREATED[entity]:
                raise self._reject(Code.DUPLICATE_ENTITY, index, name, label,
                                   f"{name} for {label}, which this flow already has "
                                   f"(state {tracker.state!r})")
            return tracker
        run_state = self._run.state if self._run is not None else UNSEEN
        if name != _CREATED[entity] and run_state not in ADOPTION_RUN_STATES:
            raise self._reject(
                Code.UNKNOWN_ENTITY, index, name, label,
                f"{name} for {label}, which this flow never saw created; it cannot be "
                f"adopted while the run is {run_state!r}",
            )
        if len(self._steps) + len(self._messages) >= self.limits.max_entities:
            raise self._reject(
                Code.LIMIT_EXCEEDED, index, name, label,
                f"{label} would exceed max_entities={self.limits.max_entities}",
            )
        return Tracker(entity, oid)

    def _check_run_allows(self, name: str, label: str, index: int) -> None:
        run = self._run
        if run is None:
            return
        state = run.state
        if state in _RUN_TERMINAL:
            raise self._reject(Code.EVENT_AFTER_TERMINAL, index, name, label,
                               f"{name} for {label} after the run ended {state!r}")
        allowed = CHILD_EVENT_RUN_STATES[name]
        if state not in allowed and state != UNSEEN:
            raise self._reject(
                Code.RUN_NOT_IN_PROGRESS, index, name, label,
                f"{name} for {label} while the run is {state!r}; "
                f"allowed while the run is {', '.join(sorted(allowed))}",
            )

    def _adopt(self, tracker: Tracker, obj: JSON) -> None:
        """Register an entity the flow sees for the first time (created or adopted)."""
        entity = tracker.entity
        if entity is Entity.THREAD:
            self._thread = tracker
            self._thread_id = tracker.id
            return
        if entity is Entity.RUN:
            self._run = tracker
            self._run_id = tracker.id
        else:
            (self._steps if entity is Entity.STEP else self._messages)[tracker.id] = tracker
            if self._run_id is None and isinstance(obj.get("run_id"), str):
                self._run_id = obj["run_id"]
        if self._thread_id is None and isinstance(obj.get("thread_id"), str):
            self._thread_id = obj["thread_id"]

    def _note_step(self, tracker: Tracker, obj: JSON) -> None:
        details = obj.get("step_details")
        if isinstance(details, dict) and details.get("type") == "message_creation":
            creation = details.get("message_creation")
            if isinstance(creation, dict) and isinstance(creation.get("message_id"), str):
                self._announced.add(creation["message_id"])

    # ------------------------------------------------------------------ #
    # deltas: the hot path, no machine involved
    # ------------------------------------------------------------------ #
    def _on_delta(self, entity: Entity, name: str, data: Any, index: int) -> None:
        if type(data) is not dict:
            raise self._reject(Code.MALFORMED_EVENT, index, name, None,
                               f"the data of {name} is {type(data).__name__}, not an object")
        oid = data.get("id")
        delta = data.get("delta")
        if type(oid) is not str or not oid:
            raise self._reject(Code.MALFORMED_EVENT, index, name, None,
                               f"the data of {name} has no string 'id'")
        if type(delta) is not dict:
            raise self._reject(Code.MALFORMED_EVENT, index, name, f"{entity.value} {oid}",
                               f"the data of {name} has no 'delta' object")
        tracker = (self._messages if entity is Entity.MESSAGE else self._steps).get(oid)
        if tracker is None:
            raise self._reject(
                Code.UNKNOWN_ENTITY, index, name, f"{entity.value} {oid}",
                f"{name} for {entity.value} {oid}, which this flow never saw; "
                "a delta carries no full object, so it cannot be adopted",
            )
        self._check_run_allows(name, tracker.label, index)
        if tracker.state not in _DELTA_STATES[name]:
            raise self._reject(
                Code.INVALID_TRANSITION, index, name, tracker.label,
                f"{name} is not allowed for {tracker.label} in state {tracker.state!r}; "
                f"deltas are allowed in {', '.join(sorted(_DELTA_STATES[name]))}",
            )
        if tracker.label in self._capped:
            return  # the entity reached a limit and stopped growing
        if entity is Entity.MESSAGE:
            self._message_delta(tracker, delta, name, index)
        else:
            self._step_delta(tracker, delta, name, index)

    def _message_delta(self, tracker: Tracker, delta: JSON, name: str, index: int) -> None:
        content = delta.get("content")
        if content is None:
            return
        parts = tracker.parts
        simple = plain_text(parts, content)
        if simple is not None:
            part, value = simple
            if not self._fits(tracker, len(value), "max_message_chars", index, name):
                return
            tracker.size += part.add(value)
        else:
            problem = check_content(parts, content, self.limits.max_index)
            if problem is not None:
                raise self._reject(problem[0], index, name, tracker.label, problem[1])
            if not self._fits(tracker, text_size(content), "max_message_chars", index, name):
                return
            tracker.size += apply_content(parts, content)
        tracker.deltas += 1
        tracker.typed = None
        if self._hooks is not None:
            self._hooks.message_delta(self, tracker, content)

    def _step_delta(self, tracker: Tracker, delta: JSON, name: str, index: int) -> None:
        details = delta.get("step_details")
        if details is None:
            return
        if type(details) is not dict or not isinstance(details.get("type"), str):
            raise self._reject(Code.MALFORMED_EVENT, index, name, tracker.label,
                               "delta.step_details is not an object with a 'type'")
        if details["type"] != tracker.step_type:
            raise self._reject(
                Code.TYPE_CHANGE, index, name, tracker.label,
                f"delta.step_details.type is {details['type']!r} but {tracker.label} "
                f"is a {tracker.step_type!r} step",
            )
        items = details.get("tool_calls")
        if items is None:
            return
        calls = tracker.calls
        simple = plain_fragment(calls, items)
        if simple is not None:
            call, fragment = simple
            if not self._fits(tracker, len(fragment), "max_tool_chars", index, name):
                return
            tracker.size += call.add(fragment)
        else:
            problem = check_tool_calls(calls, items, self.limits.max_index)
            if problem is not None:
                raise self._reject(problem[0], index, name, tracker.label, problem[1])
            if not self._fits(tracker, tool_size(items), "max_tool_chars", index, name):
                return
            tracker.size += apply_tool_calls(calls, items)
        tracker.deltas += 1
        tracker.typed = None
        if self._hooks is not None:
            self._hooks.step_delta(self, tracker, items)

    def _fits(self, tracker: Tracker, extra: int, limit: str, index: int, name: str) -> bool:
        """Whether ``extra`` more characters keep ``tracker`` under ``limit``; if
        not, it is capped (one ``limit_exceeded``) and stops growing."""
        value: int = getattr(self.limits, limit)
        if tracker.size + extra <= value:
            return True
        self._cap(tracker, index, name, limit, value)
        return False

    def _cap(self, tracker: Tracker, index: int, name: str, limit: str, value: int) -> None:
        self._capped.add(tracker.label)
        self._violate(
            Code.LIMIT_EXCEEDED, index, name, tracker.label,
            f"{tracker.label} would grow past {limit}={value}; it stops growing here",
        )

    # ------------------------------------------------------------------ #
    # stream events
    # ------------------------------------------------------------------ #
    def _on_done(self, index: int) -> None:
        state = self.run_status
        self._stream_end = "done"
        self._ending = "done"
        self._stray_reported = False
        continuation, self._continuation = self._continuation, False
        self._continues = state == "requires_action" and not continuation
        label = self._run.label if self._run else None
        if state not in _RUN_TERMINAL and state != "requires_action":
            self._violate(
                Code.DONE_BEFORE_FINAL, index, "done", label,
                f"done arrived while the run is {state!r}, neither terminal nor requires_action",
            )
        elif continuation and state == "requires_action":
            self._violate(
                Code.DONE_BEFORE_FINAL, index, "done", label,
                "the stream after requires_action ended with the run still requires_action; "
                "it should continue from thread.run.queued",
            )

    def _on_error(self, data: Any, index: int) -> None:
        body = data.get("error") if isinstance(data, dict) else None
        if not isinstance(body, dict):
            body = data
        if not isinstance(body, dict):
            raise self._reject(Code.MALFORMED_EVENT, index, "error", None,
                               f"the data of error is {type(data).__name__}, not an error object")
        self.error = ErrorObject.construct(**body)
        self._stream_end = "error"
        self._ending = "error"
        self._stray_reported = False
        self._continues = False

    # ------------------------------------------------------------------ #
    # enter hook (called by the machines)
    # ------------------------------------------------------------------ #
    def _entered(self, tracker: Tracker, state: str) -> None:
        if self._hooks is not None:
            self._hooks.entered(self, tracker, state)
