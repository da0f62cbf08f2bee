"""The protocol-free part of tracing a flow: spans opened and ended as entities
change state, span events for state changes, violations and stream ends.

What a protocol's spans are -- which kinds get one, their names and attributes,
which span is a child's parent -- is a :class:`SpanMap` (one module per protocol
in this package); :class:`FlowTracer` runs any of them:

* the root entity's span (the run, the response) starts when the flow first sees
  the root (or a child, or a violation, before it) and ends with the stream in
  which the root reached a terminal state -- a ``requires_action`` stream and its
  tool-output continuation are one span; an object recovered over REST ends it at
  once. Children still open then end with it, marked unfinished;
* each traced child gets a span under its parent, ended at its terminal state;
* a ``runflow.state_change`` event per state change, on the entity's span, with
  the event and index that caused it (``recovered`` for objects read over REST);
* a ``runflow.violation`` event per violation (on its entity's span when it has
  one, else on the span the map says owns that entity, else the root's) and a
  ``runflow.stream.end`` event per stream.

State changes are learnt from the flow's enter callbacks, which fire for every
change; ``flow.history`` only adds the event and index of each. Once the history
is full (``Limits.max_history``) changes are still traced, spans still end, and
their events say ``runflow.history_dropped`` instead of the event that caused
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from runflow.engine.definition import UNSEEN
from runflow.engine.state import Ending
from runflow.engine.violations import EntityRef, Violation

__all__ = ["AttrValue", "Attrs", "FlowTracer", "Key", "SpanMap", "as_int", "as_str"]

AttrValue = str | bool | int | float | Sequence[str]
Attrs = dict[str, AttrValue]
Key = tuple[str, str]
"""(entity kind, id) of a traced entity."""


def as_str(value: object) -> str | None:
    """``value`` if it is a string: remote fields can hold any JSON value."""
    return value if isinstance(value, str) else None


def as_int(value: object) -> int | None:
    """``value`` if it is an integer (not a bool)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class SpanMap:
    """How one protocol's entities become spans. Subclasses set :attr:`labels` and
    override the methods; the defaults are what a protocol without opinions gets."""

    labels: ClassVar[Mapping[str, str]] = {}
    """Traced entity kind -> the word of its ``runflow.<word>.id`` / ``.status``
    attributes (every kind not named here gets no span)."""

    def register(self, flow: Any, kind: str, state: str, callback: Any) -> None:
        """Register ``callback(snapshot)`` for ``kind`` entering ``state`` through the
        flow's public callbacks."""
        raise NotImplementedError

    def root_span(self, flow: Any, oid: str, system: str) -> tuple[str, Attrs]:
        """The root's span name and first attributes (``oid`` may be ``""``: the
        root is not named yet)."""
        raise NotImplementedError

    def root_named(self, oid: str) -> Attrs:
        """Attributes for a root span started before its id was known."""
        return {}

    def child_span(self, flow: Any, kind: str, oid: str) -> tuple[str, Attrs]:
        raise NotImplementedError

    def parent(self, flow: Any, kind: str, oid: str, open_keys: Sequence[Key]) -> Key | None:
        """The open span a new child goes under (None: the root's)."""
        return None

    def owner(self, ref: EntityRef, open_keys: Sequence[Key]) -> Key | None:
        """The open span that a violation about an untraced entity (``ref``) goes on
        (None: the root's)."""
        return None

    def finish(self, flow: Any, span: Span, kind: str, oid: str, state: str,
               root: bool) -> None:
        """Set the attributes and status of a span ending at ``state``."""


@dataclass
class _Open:
    span: Span
    kind: str
    oid: str
    ended: bool = False

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self.span.end()


@dataclass
class FlowTracer:
    """Turns one flow's state changes into spans (see the module docstring)."""

    flow: Any
    tracer: Tracer
    spans: SpanMap
    system: str = "openai"
    _open: dict[Key, _Open] = field(default_factory=dict)
    _root: _Open | None = None
    _seen: int = 0  # history entries already matched to a callback
    _states: dict[Key, str] = field(default_factory=dict)
    _pending: list[Violation] = field(default_factory=list)
    _streams: int = 0
    _ended_at: int = 0  # the flow's event count when the last stream was closed
    _root_over: str | None = None  # the root's terminal state, its span ends with the stream

    @property
    def root_span(self) -> Span | None:
        """The root entity's span, from when the flow first sees it."""
        return self._root.span if self._root is not None else None

    @property
    def run_span(self) -> Span | None:
        """:attr:`root_span` (the name from when runs were all there was)."""
        return self.root_span

    def attach(self) -> None:
        """Register the callbacks on the flow (``trace_flow`` does it)."""
        tables = self.flow.protocol.tables
        self._seen = len(self.flow.history)  # changes before now are not traced
        for kind in self.spans.labels:
            for state in tables[kind].states:
                if state != UNSEEN:
                    self.spans.register(self.flow, kind, state, self._entered(kind, state))
        self.flow.on_violation(self._violated)
        self.flow.on_end(self._ended)

    # -- callbacks ------------------------------------------------------ #
    def _entered(self, kind: str, state: str) -> Any:
        def entered(snapshot: Any) -> None:
            self._changed(kind, state, snapshot)
        return entered

    def _changed(self, kind: str, state: str, snapshot: Any) -> None:
        learnt = self._learn(kind, state, snapshot)
        if learnt is None:
            return
        oid, source, event, index = learnt
        self._states[(kind, oid)] = state
        opened = self._span_for(kind, oid)
        attrs: Attrs = {"runflow.entity": kind, "runflow.id": oid}
        if event is not None and index is not None:
            attrs["runflow.event"] = event
            attrs["runflow.event.index"] = index
        else:
            attrs["runflow.history_dropped"] = True
        attrs["runflow.state.from"] = source
        attrs["runflow.state.to"] = state
        opened.span.add_event("runflow.state_change", attrs)
        if state not in self.flow.protocol.tables[kind].terminal:
            return
        if kind == self.flow.root_kind and self._streaming():
            self._root_over = state  # a stream is open: end with it (done, ...)
        else:
            self._close(opened, state)

    def _streaming(self) -> bool:
        """A stream is being read: no ending yet, or events came since the last
        ``close()`` (an ``error`` event ends a stream before it is closed)."""
        return self.flow.ending is None or self.flow.event_count > self._ended_at

    def _learn(self, kind: str, state: str,
               snapshot: Any) -> tuple[str, str, str | None, int | None] | None:
        """(id, source, event, index) of the change ``kind`` entering ``state``:
        the next such entry of the history (callbacks fire in the order of the
        changes), else -- the history is full -- the entity of ``kind`` that is in
        ``state`` now and was not when last seen (event and index unknown)."""
        history = self.flow.history
        for i in range(self._seen, len(history)):
            change = history[i]
            if change.entity == kind and change.dest == state and change.source != state:
                self._seen = i + 1
                return change.id, change.source, change.event, change.index
        self._seen = len(history)
        oid = _moved(self.flow, kind, state, snapshot, self._states)
        if oid is None:
            return None
        return oid, self._states.get((kind, oid), UNSEEN), None, None

    def _violated(self, violation: Violation) -> None:
        attrs: Attrs = {
            "runflow.violation.code": violation.code.value,
            "runflow.violation.severity": violation.severity,
            "runflow.violation.index": violation.index,
            "runflow.violation.message": violation.message,
        }
        if violation.event:
            attrs["runflow.event"] = violation.event
        if violation.entity:
            attrs["runflow.violation.entity"] = str(violation.entity)
        target = self._span_of(violation.entity) or self._root
        if target is None or target.ended:
            self._pending.append(violation)
            return
        target.span.add_event("runflow.violation", attrs)

    def _ended(self, ending: Ending) -> None:
        self._streams += 1
        self._ended_at = self.flow.event_count
        if self._root is None or self._root.ended:
            return
        self._root.span.add_event("runflow.stream.end", {
            "runflow.ending": ending, "runflow.stream": self._streams,
            "runflow.events": self.flow.event_count})
        self._root.span.set_attribute("runflow.ending", ending)
        if self._root_over is not None:
            self._close(self._root, self._root_over)

    # -- spans ---------------------------------------------------------- #
    def _span_of(self, ref: EntityRef | None) -> _Open | None:
        if ref is None:
            return None
        opened = self._open.get((ref.kind, ref.id))
        if opened is None and ref.kind not in self.spans.labels:
            key = self.spans.owner(ref, list(self._open))
            opened = self._open.get(key) if key is not None else None
        return opened

    def _span_for(self, kind: str, oid: str) -> _Open:
        opened = self._open.get((kind, oid))
        if opened is not None:
            return opened
        if kind == self.flow.root_kind:
            root = self._root
            if root is not None and not root.oid and not root.ended:
                root.oid = oid  # started for a child or violation seen first
                root.span.set_attributes(self.spans.root_named(oid))
                self._open[(kind, oid)] = root
                return root
            return self._start_root(oid)
        parent = self._root if self._root is not None else self._start_root(
            self.flow.root_id or "")
        key = self.spans.parent(self.flow, kind, oid, list(self._open))
        if key is not None and key in self._open:
            parent = self._open[key]
        name, attrs = self.spans.child_span(self.flow, kind, oid)
        span = self.tracer.start_span(name, context=trace.set_span_in_context(parent.span),
                                      attributes=attrs)
        opened = self._open[(kind, oid)] = _Open(span, kind, oid)
        return opened

    def _start_root(self, oid: str) -> _Open:
        name, attrs = self.spans.root_span(self.flow, oid, self.system)
        span = self.tracer.start_span(name, attributes=attrs)
        self._root = _Open(span, self.flow.root_kind, oid)
        if oid:
            self._open[(self.flow.root_kind, oid)] = self._root
        pending, self._pending = self._pending, []
        for violation in pending:
            self._violated(violation)
        return self._root

    def _label(self, kind: str) -> str:
        return self.spans.labels.get(kind, kind)

    def _close(self, opened: _Open, state: str) -> None:
        root = opened is self._root
        if root:  # the flow is over: what is still open ends with it
            self._unfinished([o for o in self._open.values() if o is not opened])
            opened.span.set_attribute("runflow.violations", len(self.flow.violations))
        opened.span.set_attribute(f"runflow.{self._label(opened.kind)}.status", state)
        self.spans.finish(self.flow, opened.span, opened.kind, opened.oid, state, root)
        opened.end()
        self._open.pop((opened.kind, opened.oid), None)

    def _unfinished(self, spans: list[_Open]) -> None:
        for opened in spans:
            state = self.flow.state_of(opened.kind, opened.oid or None)
            opened.span.set_attribute(f"runflow.{self._label(opened.kind)}.status", state)
            if opened is self._root:
                opened.span.set_attribute("runflow.violations", len(self.flow.violations))
            opened.span.set_status(Status(StatusCode.ERROR, f"unfinished: still {state}"))
            opened.end()
            self._open.pop((opened.kind, opened.oid), None)

    def finish(self) -> None:
        """End the spans still open (a root that never reached a terminal state, e.g.
        a cut stream that was not recovered), marking them as errors."""
        if self._root is None and self._pending:
            self._start_root(self.flow.root_id or "")
        self._unfinished(sorted(self._open.values(), key=lambda o: o is self._root))
        if self._root is not None:  # a root span that never learnt its root
            self._root.end()


def _moved(flow: Any, kind: str, state: str, snapshot: Any,
           known: Mapping[Key, str]) -> str | None:
    """The id of the entity of ``kind`` that entered ``state`` when the history did
    not keep the change: the snapshot's id when it names such an entity, else the
    first entity of ``kind`` in ``state`` that was not in it when last seen."""
    oid = getattr(snapshot, "id", None)
    if (isinstance(oid, str) and flow.state_of(kind, oid) == state
            and known.get((kind, oid)) != state):
        return oid
    if kind == flow.root_kind:
        candidates = [flow.root_id] if flow.root_id else []
    else:
        candidates = [i for i, s in flow.states(kind).items() if s == state]
    return next((i for i in candidates if known.get((kind, i)) != state), None)
