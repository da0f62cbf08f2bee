"""The events of a stream as a grader sees them: numbered like the flow numbers them.

A grader sees each event once, as it arrives, and keeps only what its rules need
(:mod:`runflow.conform.recorded`: a flow's :attr:`~runflow.engine.flow.Flow.observer`
hands it each event with the flow's own parse, :func:`observed`), so a recording of
any size is graded in the memory the flow takes.

A :class:`Tap` (``runflow conform``'s probes) feeds a flow over one or more HTTP
streams and, through the flow's observer, hands each event as a :class:`TappedEvent`
(the index the flow gives it, the stream it came in, the flow's parse of its data)
to the layers the flow does not run (payload invariants, order expectations,
consistency: :class:`runflow.conform.grade.FlowGrade`), which keep only what their
rules need. Of the events themselves it keeps a :class:`Window` for the HTML
report's timeline: the first and last ones and those a finding names, without their
payloads, so a stream of any length is graded in bounded memory.

:func:`carried` says which entity an event's object is about and which state the
event leads it to, from the protocol definition alone, as the engine decides it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic_core import from_json

from runflow.adapters.recording import Recording
from runflow.conform.places import places
from runflow.engine.core import BadData, may_overflow
from runflow.engine.definition import EventKind, Protocol
from runflow.engine.flow import Flow
from runflow.engine.jsonparse import JSONError, has_non_finite, parse_json
from runflow.engine.sse import RawEvent, SSEDecoder

__all__ = ["Carried", "Tap", "TappedEvent", "Window", "carried", "entity_key", "kept",
           "named_event", "observed", "tap_recording"]

_ID = re.compile(rb'"id"\s*:\s*"([^"\\]{1,200})"')


@cache
def _index_pattern(field: str) -> re.Pattern[bytes]:
    """The first ``"<field>": <digits>`` in raw data."""
    return re.compile(rb'"' + re.escape(field.encode()) + rb'"\s*:\s*(\d{1,9})')


@dataclass(slots=True)
class TappedEvent:
    """One event of a flow's input (read-only; not frozen, as one is made per event
    and a frozen dataclass is slower to make)."""

    index: int
    """The flow's index of the event (``Violation.index`` counts the same way)."""
    stream: int
    """Which HTTP stream of the flow it came in (0, 1, ...)."""
    name: str | None
    """The SSE event name, or the data's ``type`` where the protocol names events so."""
    data: Any
    """The parsed data (``None`` when absent or not JSON; ``"[DONE]"`` kept as text)."""
    raw: bytes | None
    """The data as it came, for what could not be parsed."""

    @property
    def parsed(self) -> bool:
        return self.data is not None or self.raw is None

    def guessed_id(self) -> str | None:
        """The first ``"id"`` in the raw data, even when the JSON is broken."""
        if isinstance(self.data, dict):
            for key in ("response", "item", ""):
                obj = self.data.get(key) if key else self.data
                if isinstance(obj, dict) and isinstance(obj.get("id"), str):
                    return str(obj["id"])
        found = _ID.search(self.raw or b"")
        return found.group(1).decode("utf-8", "replace") if found else None

    def guessed_index(self, field: str) -> int | None:
        """The position ``field`` of the data holds, even when the JSON is broken."""
        if isinstance(self.data, dict) and isinstance(self.data.get(field), int):
            return int(self.data[field])
        found = _index_pattern(field).search(self.raw or b"")
        return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Carried:
    """An event's object, its entity and the state the event leads it to."""

    kind: str
    state: str
    obj: dict[str, Any]


def carried(protocol: Protocol, event: TappedEvent) -> Carried | None:
    """The object a status event carries and where it leads (None for other events,
    and for objects too broken to place)."""
    name, data = event.name, event.data
    if name is None or not isinstance(data, dict):
        return None
    route = protocol.routes.get(name)
    if route is None or route[0] is not EventKind.STATUS:
        return None
    where = protocol.carries.get(name, "")
    if where is None:
        return None
    obj = data if where == "" else data.get(where)
    if not isinstance(obj, dict):
        return None
    kind = route[1]
    if kind is None:
        tags = protocol.dispatch.get(name, {})
        tag = obj.get("type")
        kind = tags.get(tag) if isinstance(tag, str) else None
        kind = kind or tags.get("*")
        if kind is None:
            return None
    table = protocol.tables[kind]
    for t in table.transitions:
        if t.event == name:
            state = t.dest
            status = obj.get(table.status_field) if table.status_field else None
            if type(status) is str and status in t.by_status:  # any JSON may come
                state = status
            return Carried(kind, state, obj)
    return None


def entity_key(protocol: Protocol, event: TappedEvent | None) -> str | None:
    """What a finding at ``event`` is about, for grouping by root cause: ``kind:id``
    for an entity named by id (Assistants: ``message:msg_1``), ``<group>/N`` for
    anything placed by position, at N in its outermost group (Responses: ``output/0``;
    :mod:`runflow.conform.places`), the root kind for the root; None when unknown."""
    if event is None or event.name is None:
        return None
    route = protocol.routes.get(event.name)
    if route is None or route[0] not in (EventKind.STATUS, EventKind.DELTA):
        return None
    kind = route[1]
    table = protocol.tables.get(kind) if kind is not None else None
    if table is not None and table.role == "root":
        return protocol.root
    if table is None or table.position:
        place = places(protocol).by_event.get(event.name)
        if place is None:
            return None
        index = event.guessed_index(place.field)
        return f"{place.group}/{index}" if index is not None else None
    found = event.guessed_id()
    return f"{kind}:{found}" if found is not None else None


HEAD = 100
"""Events a :class:`Window` keeps from the start of a flow."""
TAIL = 100
"""Events a :class:`Window` keeps from the end of a flow."""
NAMED = 1000
"""Events a :class:`Window` keeps beside those because a finding names them."""
KEEP_DATA_BYTES = 1024
"""The data of an event kept at the start of a flow is kept when its text is at most
this long (the first events, small: what a scenario's own checks and the tests read)."""
EXCERPT_BYTES = 64
"""Bytes kept of data that is not JSON (the report says only that it is not)."""


def kept(event: TappedEvent, *, data: bool) -> TappedEvent:
    """What a :class:`Window` keeps of ``event``: its index, stream and name; its data
    only with ``data`` and when its text is at most :data:`KEEP_DATA_BYTES` long (else
    ``None``), and of data that is not JSON an excerpt (so :attr:`TappedEvent.parsed`
    still says so). Never a whole payload."""
    raw = event.raw
    if event.data is None:
        return TappedEvent(event.index, event.stream, event.name, None,
                           raw[:EXCERPT_BYTES] if raw else raw)
    small = data and (raw is None or len(raw) <= KEEP_DATA_BYTES)
    value = event.data if small or event.data == "[DONE]" else None
    return TappedEvent(event.index, event.stream, event.name, value, None)


class Window:
    """The events of a flow a report shows: the first :data:`HEAD`, the last
    :data:`TAIL` and up to :data:`NAMED` that a finding names (:meth:`mark`), each as
    :func:`kept` makes it. What it holds does not grow with the stream."""

    __slots__ = ("_head", "_named", "_tail", "count")

    def __init__(self) -> None:
        self._head: list[TappedEvent] = []
        self._tail: deque[TappedEvent] = deque(maxlen=TAIL)
        self._named: dict[int, TappedEvent] = {}
        self.count = 0
        """Events seen."""

    def add(self, event: TappedEvent) -> None:
        self.count += 1
        if len(self._head) < HEAD:
            self._head.append(kept(event, data=True))
        else:
            self._tail.append(kept(event, data=False))

    def mark(self, index: int | None) -> None:
        """Keep the event at ``index`` (one of the last :data:`TAIL`) past the tail."""
        if index is None or index in self._named or len(self._named) >= NAMED:
            return
        if self._head and index <= self._head[-1].index:
            return
        for event in reversed(self._tail):
            if event.index == index:
                self._named[index] = event
                return
            if event.index < index:
                return

    def events(self) -> list[TappedEvent]:
        """The kept events in index order (every event, when there were at most
        :data:`HEAD` + :data:`TAIL`)."""
        out = list(self._head)
        tail = {e.index: e for e in self._tail}
        named = [e for i, e in self._named.items() if i not in tail]
        out += sorted([*named, *self._tail], key=lambda e: e.index)
        return out


class Tap:
    """Feed a flow and hand each of its events to ``see`` as it arrives (see the
    module docstring); keep a :class:`Window` of them for the report."""

    def __init__(self, flow: Flow, see: Callable[[TappedEvent], None] | None = None) -> None:
        self.flow = flow
        self.see = see
        self.window = Window()
        self.stream = -1
        """Which HTTP stream of the flow is being fed (0, 1, ...; -1: none yet)."""

    @property
    def events(self) -> list[TappedEvent]:
        """The events the window kept, in index order."""
        return self.window.events()

    @property
    def count(self) -> int:
        """Events seen, in every stream."""
        return self.window.count

    def begin(self) -> None:
        """A new HTTP stream of the same flow."""
        self.stream += 1
        self.flow.begin_stream()

    def feed(self, chunk: bytes) -> None:
        if self.stream < 0:
            self.begin()
        self._run(lambda: self.flow.feed_sse(chunk))

    def close(self) -> str:
        ending: list[str] = []
        self._run(lambda: ending.append(self.flow.close()))
        return ending[0]

    def _run(self, step: Callable[[], object]) -> None:
        flow = self.flow
        previous = flow.observer
        flow.observer = self._observe
        try:
            step()
        finally:
            flow.observer = previous

    def _observe(self, name: str | None, raw: bytes | None, _offset: int, parsed: Any) -> None:
        event = observed(self.flow.protocol, self.flow.event_count, self.stream, name, raw,
                         parsed)
        self.window.add(event)
        if self.see is not None:
            self.see(event)


def sse_event(protocol: Protocol, index: int, stream: int, raw: RawEvent) -> TappedEvent:
    """One decoded SSE event as a :class:`TappedEvent`."""
    data: Any = None
    if raw.data is not None and not raw.oversize:
        if raw.data.startswith(b"[DONE]"):
            data = "[DONE]"
        else:
            data = _parsed(protocol, raw.event, raw.data)
    return named_event(protocol, index, stream, raw.event, data, raw.data)


def named_event(protocol: Protocol, index: int, stream: int, name: str | None, data: Any,
                raw: bytes | None) -> TappedEvent:
    """The event named by its data's type field where the protocol names events so,
    else by ``name``; ``[DONE]`` alone is ``done``."""
    name = _named(protocol, name, data)
    if name is None and data == "[DONE]":
        name = "done"
    return TappedEvent(index, stream, name, data, raw)


def observed(protocol: Protocol, index: int, stream: int, name: str | None,
             raw: bytes | None, parsed: Any) -> TappedEvent:
    """The :class:`TappedEvent` of what a flow's observer saw: the same as
    :func:`sse_event` of that block, with the flow's parse of it (``parsed``: see
    :data:`runflow.engine.flow.Observer`) instead of a second one."""
    data: Any = None
    if raw is not None:
        if raw.startswith(b"[DONE]"):
            data = "[DONE]"
        elif parsed is None:  # the flow took it for its protocol's end: parse it here
            data = _parsed(protocol, name, raw)
        elif not isinstance(parsed, BadData):  # (not JSON)
            data = layers_data(protocol, name, raw, parsed)
    return named_event(protocol, index, stream, name, data, raw)


def layers_data(protocol: Protocol, name: str | None, raw: bytes, parsed: Any) -> Any:
    """The data the layers keep of an event whose JSON text is ``raw`` (``parsed``,
    which ``from_json`` gave): all of it, or None when it holds a number a float
    cannot (``1e999``, which :func:`~runflow.engine.jsonparse.parse_json` refuses; the
    flow reports one where it keeps the value) and the event is not a delta.

    A delta's data is kept whatever numbers it holds: no layer keeps a delta's
    values (the order layer reads its name, number and position; the payload layer
    reads no delta; the types layer says what its shape breaks), so a number out of
    range in, say, its ``logprobs`` does not make it an event with no data, whose
    sequence number the order layer would not count. That is also what lets
    ``runflow check`` pass a delta by without walking its values
    (:mod:`runflow.conform.short_paths`)."""
    if not (may_overflow(raw) and has_non_finite(parsed)):
        return parsed
    name = _named(protocol, name, parsed)
    route = protocol.routes.get(name) if name is not None else None
    return parsed if route is not None and route[0] is EventKind.DELTA else None


def _parsed(protocol: Protocol, name: str | None, raw: bytes) -> Any:
    """The data the layers keep of JSON text ``raw`` they parse themselves
    (:func:`layers_data`); None when it is not JSON."""
    try:
        parsed = from_json(raw, allow_inf_nan=False)
    except ValueError:
        return None
    return layers_data(protocol, name, raw, parsed)


def _named(protocol: Protocol, name: str | None, data: Any) -> str | None:
    """The event's name: its data's type field where the protocol names events so and
    the data holds one, else ``name`` (the SSE event line's)."""
    field_ = protocol.type_field
    if field_ is not None and isinstance(data, dict) and isinstance(data.get(field_), str):
        return str(data[field_])
    return name


def tap_recording(protocol: Protocol, recording: Recording) -> list[TappedEvent]:
    """The events of a recording numbered as :meth:`Recording.replay` feeds them (a new
    stream after each ``done``)."""
    out: list[TappedEvent] = []
    stream = 0
    if recording.format == "sse":
        decoder = SSEDecoder()
        raw = decoder.feed(recording.data) + decoder.close()
        for index, event in enumerate(raw):
            out.append(sse_event(protocol, index, stream, event))
            stream += out[-1].name == "done"
        return out
    for line in recording.data.splitlines():
        if not line.strip():
            continue
        try:
            record = parse_json(line)
        except JSONError:
            record = None
        if isinstance(record, dict):
            name = record.get("event") if isinstance(record.get("event"), str) else None
            data = record.get("data") if "event" in record else record
        else:
            name, data = None, None
        out.append(named_event(protocol, len(out), stream, name, data, line))
        stream += out[-1].name == "done"
    return out
