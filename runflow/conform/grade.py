"""Grade one flow's events: grammar (the flow's violations), payloads, SDK types, order.

:class:`Layers` are the payload and order layers and the grouping's announcers fed
each event of a flow as it arrives, beside the flow, keeping only what they need;
:meth:`Layers.findings` at the end gives what :func:`grade_events` gives over the
list of every event, in the same order. Both graders are these layers:
:class:`FlowGrade` (``runflow conform``: fed by a
:class:`~runflow.conform.events.Tap`'s ``see``, with the consistency layer's final
objects and what a scenario asks) and :class:`runflow.conform.recorded.Grader`
(``runflow check``: fed by a recording's feeder). :func:`grade_events` grades a list
of events held anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from runflow.conform.consistency import FinalObjects
from runflow.conform.events import TappedEvent, Window, carried, entity_key
from runflow.conform.findings import Finding
from runflow.conform.grouping import Announcers
from runflow.conform.order import Follows, Next, Order, check_order, expectations_for
from runflow.conform.payload import Payloads, check_payloads
from runflow.conform.places import places
from runflow.conform.sdk_types import SdkTypes, check_types, rule_of
from runflow.engine.definition import Protocol
from runflow.engine.flow import Flow
from runflow.engine.violations import Violation
from runflow.protocols.payload import Invariant
from runflow.protocols.registry import row_of

__all__ = ["FlowGrade", "Layers", "Watch", "grade_events", "judged", "violation_finding",
           "violation_key"]


def _key_of(protocol: Protocol, violation: Violation,
            events: dict[int, TappedEvent]) -> str | None:
    return violation_key(protocol, violation, entity_key(protocol, events.get(violation.index)))


def violation_key(protocol: Protocol, violation: Violation, event_key: str | None) -> str | None:
    """What a violation is about, for grouping: its entity, else ``event_key`` (the
    :func:`~runflow.conform.events.entity_key` of the event at its index), else for a
    positioned entity the place its id names (:mod:`runflow.conform.places`)."""
    entity = violation.entity
    if entity is not None:
        if entity.kind == protocol.root:
            return protocol.root
        table = protocol.tables.get(entity.kind)
        if table is not None and not table.position:
            return f"{entity.kind}:{entity.id}"
    if event_key is not None or entity is None:
        return event_key
    place = places(protocol).by_kind.get(entity.kind)
    if place is not None:
        # a positioned entity's id is its place (``content/2/0``, ``output_index=2``):
        # its first number is its position in the outermost group
        digits = [p for p in entity.id.replace("=", "/").split("/") if p.isdigit()]
        if digits:
            return place.key(digits[0])
    return None


def violation_finding(protocol: Protocol, violation: Violation,
                      events: dict[int, TappedEvent], *,
                      keys: dict[int, str | None] | None = None) -> Finding:
    """A violation as a ``grammar.*`` finding; the key of the event at its index from
    ``events``, or from ``keys`` (index -> the event's key, kept as it came)."""
    key = (violation_key(protocol, violation, keys.get(violation.index)) if keys is not None
           else _key_of(protocol, violation, events))
    return Finding(f"grammar.{violation.code.value}", violation.severity, violation.message,
                   violation.index, violation.event,
                   str(violation.entity) if violation.entity is not None else None, key)


def grade_events(flow: Flow, events: Sequence[TappedEvent]) -> list[Finding]:
    """Every finding of the grammar, payload and order layers for one flow."""
    protocol = flow.protocol
    by_index = {e.index: e for e in events}
    found = [violation_finding(protocol, v, by_index) for v in flow.violations]
    found += judged(flow, [*check_payloads(protocol, list(events)),
                            *check_types(protocol, events, lambda: flow.violations),
                            *check_order(protocol, list(events))])
    return sorted(found, key=lambda f: (f.index if f.index is not None else 1 << 60))


def judged(flow: Flow, findings: list[Finding]) -> list[Finding]:
    """The payload and order findings as the flow's server profile judges them: a
    rule it expects is left out, one it rates differently gets that severity (the
    grammar's violations were judged by the flow itself)."""
    profile = flow.profile
    if profile is None or not profile.rules:
        return findings
    judged = []
    for finding in findings:
        verdict = profile.rule_verdict(finding.rule)
        if verdict == "expected":
            continue
        judged.append(finding if verdict is None else replace(finding, severity=verdict))
    return judged


@dataclass
class Watch:
    """A scenario's own question about a flow's events, answered as they arrive: the
    first event ``test`` accepts (with ``last``: the last one), kept whole (one event)."""

    test: Callable[[TappedEvent], bool]
    last: bool = False
    event: TappedEvent | None = None

    def see(self, event: TappedEvent) -> None:
        if (self.last or self.event is None) and self.test(event):
            self.event = event


class Layers:
    """The payload and order layers and the grouping's announcers of one flow, fed one
    event at a time (:meth:`see`), keeping only what their rules need; the grader of
    ``runflow conform`` (:class:`FlowGrade`) and of ``runflow check``
    (:class:`runflow.conform.recorded.Grader`) are both these layers.

    Beside each layer's own bounded state it keeps the findings, at most
    ``Limits.max_repeated_violations`` per rule (the others counted in
    :attr:`suppressed`), and the grouping key of each event a violation names
    (:attr:`keys`, filled by the grader that knows when a violation came).
    ``mark`` is told the index of each event a kept finding names (a report's
    window of events, a recording's lines)."""

    def __init__(self, flow: Flow, mark: Callable[[int | None], None] | None = None, *,
                 types: bool = True, protocol: Protocol | None = None) -> None:
        self.flow = flow
        self.protocol = protocol or flow.protocol
        """Whose rows grade the events: the flow's definition, or the registered one a
        variant runs (a WebSocket response's flow: :mod:`.websocket_layers`)."""
        self.payloads = Payloads(self.protocol)
        self.types = SdkTypes(self.protocol, lambda: flow.violations) if types else None
        """The types layer, unless ``types`` is false (it loads the openai SDK's types:
        ``runflow check`` runs it with ``--types``)."""
        self.order = Order(self.protocol, flow.limits)
        self.announcers = Announcers(flow.limits, self.protocol.name)
        self.suppressed = 0
        """Findings past the cap of their rule, counted and not kept."""
        self.keys: dict[int, str | None] = {}
        """Event index -> the grouping key of the event, for the violations naming it."""
        self.last: TappedEvent | None = None
        """The last event seen."""
        self._mark = mark
        self._found: tuple[list[Finding], list[Finding]] = ([], [])
        self._counts: dict[str, int] = {}
        self._cap = flow.limits.max_repeated_violations
        self._ended = False

    def see(self, event: TappedEvent) -> None:
        """One event through the payload and order layers and the announcers."""
        self.last = event
        payloads, orders = self._found
        for finding in self.payloads.see(event):
            self._keep(finding, payloads)
        if self.types is not None:
            for finding in self.types.see(event):
                self._keep(finding, payloads)
        for finding in self.order.see(event):
            self._keep(finding, orders)
        self.announcers.see(event)

    def _keep(self, finding: Finding, into: list[Finding]) -> None:
        count = self._counts.get(finding.rule, 0)
        self._counts[finding.rule] = count + 1
        if count >= self._cap:
            self.suppressed += 1
            return
        into.append(finding)
        if self._mark is not None:
            self._mark(finding.index)

    def findings(self) -> list[Finding]:
        """Every finding of the grammar, payload and order layers, by index (the input
        ended: the order layer's end is taken once)."""
        if not self._ended:
            self._ended = True
            for finding in self.types.end() if self.types is not None else ():
                self._keep(finding, self._found[0])
            for finding in self.order.end():
                self._keep(finding, self._found[1])
        flow, protocol = self.flow, self.protocol
        found = [violation_finding(protocol, v, {}, keys=self.keys) for v in flow.violations]
        found += judged(flow, [*self._found[0], *self._found[1]])
        return sorted(found, key=lambda f: (f.index if f.index is not None else 1 << 60))


class FlowGrade(Layers):
    """The layers of one flow of ``runflow conform`` (see the module docstring).

    Besides :class:`Layers`, it keeps the consistency layer's final objects, the
    protocol's event names seen and the invariants checked (which rules the flow
    exercised), and the :class:`Watch` es a scenario set; it works out the grouping
    key of each event a violation names while it is the last event. ``window`` (the
    tap's) is told which events a finding or a violation names."""

    def __init__(self, flow: Flow, window: Window | None = None) -> None:
        super().__init__(flow, window.mark if window is not None else None)
        protocol = self.protocol
        self.window = window
        self.finals = FinalObjects(protocol, flow.limits)
        self.watches: list[Watch] = []
        self.names: set[str] = set()
        """The protocol's event names (and its order rows') that came."""
        self.applied: set[str] = set()
        """The invariant ids some event was checked against (and the types rule of
        each object typed)."""
        self._known = frozenset(protocol.routes) | {
            r.event for r in expectations_for(protocol) if isinstance(r, (Follows, Next))}
        self._invariants: dict[str, list[Invariant]] = {}
        for row in row_of(protocol).invariants:
            self._invariants.setdefault(row.entity, []).append(row)
        self._settled = len(flow.violations)

    def see(self, event: TappedEvent) -> None:
        """One event, before the flow processes it."""
        self._settle()  # the violations the event before got
        super().see(event)
        self.finals.see(event)
        name = event.name
        if name is not None and name in self._known:
            self.names.add(name)
        found = carried(self.protocol, event)
        if found is not None:
            self.applied.add(rule_of(self.protocol, found.kind))  # the types layer's
            for row in self._invariants.get(found.kind, ()):
                if found.state in row.expect and (row.events is None or name in row.events):
                    self.applied.add(row.id)
        for watch in self.watches:
            watch.see(event)

    def _settle(self) -> None:
        """The grouping key of the event each new violation names (the last event,
        which the flow was processing), and its place in the window."""
        violations = self.flow.violations
        if len(violations) < self._settled:
            self._settled = len(violations)
        last = self.last
        for violation in violations[self._settled:]:
            index = violation.index
            if index not in self.keys and last is not None and last.index == index:
                self.keys[index] = entity_key(self.protocol, last)
            if self.window is not None:
                self.window.mark(index)
        self._settled = len(violations)

    def findings(self) -> list[Finding]:
        """Every finding of the grammar, payload and order layers (see
        :meth:`Layers.findings`)."""
        self._settle()
        return super().findings()
