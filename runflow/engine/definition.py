"""What a protocol definition is, and building one.

A definition is data: one :class:`EntityTable` per entity kind (its states and the
events that move it), one :class:`StreamTable` (how a stream of events begins,
ends and continues), the cross-entity :class:`Rule` s keyed by entity and event,
and the payload :mod:`shapes <runflow.engine.shapes>` of every object and delta. The
engine (:mod:`runflow.engine.flow`) runs a definition and names none of its events,
states or entities; the ``transitions`` machines, the diagrams, the docs and the
exhaustive tests are generated from the same data.

:func:`build_protocol` checks a definition and indexes it. A broken definition is
rejected with a :class:`ProtocolDefinitionError` that lists every problem: states
unreachable or trapped, a way out of a terminal state, an event mapped twice or
not at all, a stream table that does not say what happens for some state and
input, a rule about an event no table maps (the table checks are in
:mod:`runflow.engine.checks`; the tables themselves in :mod:`runflow.engine.tables`,
re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from runflow.engine.checks import check_stream, check_table
from runflow.engine.tables import (
    GUARDS,
    STAY,
    STREAM_INPUTS,
    UNSEEN,
    EntityTable,
    EventKind,
    Guard,
    Role,
    StreamInput,
    StreamRow,
    StreamTable,
    Transition,
)

if TYPE_CHECKING:
    from runflow.engine.shapes import Shape
    from runflow.engine.violations import Code, Severity

__all__ = [
    "GUARDS",
    "STAY",
    "STREAM_INPUTS",
    "UNSEEN",
    "EntityTable",
    "EventKind",
    "Finding",
    "Guard",
    "Protocol",
    "ProtocolDefinitionError",
    "Role",
    "Rule",
    "StreamInput",
    "StreamRow",
    "StreamTable",
    "Transition",
    "build_protocol",
]


class Finding(NamedTuple):
    """What a rule found: a sentence, the entity it concerns (a tracker, or None
    for the event's own entity) and, when it differs from the code's default, the
    severity."""

    message: str
    entity: Any = None
    severity: Severity | None = None


RuleCheck = Callable[[Any, Any, Any, str], Iterable[Finding]]
"""``check(view, tracker, obj, event) -> findings``: ``view`` is the flow's state
(:class:`runflow.engine.state.FlowState`), ``tracker`` the entity the event is about,
``obj`` its payload."""


@dataclass(frozen=True)
class Rule:
    """A cross-entity rule: when it runs, what it checks, what it reports.

    ``phase="check"`` rules run before an event is applied and reject it when they
    find anything; ``phase="after"`` rules run once it is applied and report.
    They run for status events of ``entity`` named in ``events`` (all of the
    entity's events when None) that lead to one of ``states`` (any when None).
    ``recovered`` rules also run for objects recovered over REST.
    """

    name: str
    code: Code | None
    """The violation it reports; None for a rule that only takes note (marks)."""
    entity: str
    phase: Literal["check", "after"]
    check: RuleCheck
    events: frozenset[str] | None = None
    states: frozenset[str] | None = None
    recovered: bool = False
    why: str = ""
    sees: Literal["object", "data"] = "object"
    """What ``check`` gets as ``obj``: the entity's object, or the event's whole data
    (for rules about the indices and names beside the object)."""
    source: str = "captures"
    """Where the rule comes from, in the definition's vocabulary (the shipped ones use
    :data:`runflow.protocols.payload.Source`); documentation, not behaviour."""


class ProtocolDefinitionError(ValueError):
    """The protocol definition is inconsistent; the message lists every problem."""


@dataclass(frozen=True)
class Protocol:
    """A checked definition plus the indexes the engine runs on."""

    name: str
    tables: Mapping[str, EntityTable]
    stream: StreamTable
    rules: tuple[Rule, ...]
    events: frozenset[str]
    ignored: frozenset[str]
    done_data: bytes
    """The data of the SSE block that ends a stream (``[DONE]``)."""
    error_shape: Shape | None
    """The payload shape of the error object an ``error`` event carries."""
    routes: Mapping[str, tuple[EventKind, str | None]]
    """Event name -> (what it does, which entity kind it concerns)."""
    transitions: Mapping[str, Mapping[tuple[str, str], str]]
    """Per entity kind, ``{(state, event): dest}``: the lookup *is* the validation."""
    root: str
    scope: str | None
    children: tuple[str, ...]
    created: Mapping[str, frozenset[str]]
    """Per entity kind, the events that create it (derived from the table)."""
    final_object_events: frozenset[str]
    """Status events that carry a finished object of an entity that deltas grow:
    where the rebuilt snapshot is compared with the server's."""
    stream_lookup: Mapping[tuple[str, StreamInput, Guard], StreamRow]
    check_rules: Mapping[tuple[str, str], tuple[Rule, ...]]
    """(entity kind, event name) -> its ``check`` rules, in declaration order."""
    after_rules: Mapping[tuple[str, str], tuple[Rule, ...]]
    """(entity kind, event name) -> its ``after`` rules, in declaration order."""
    recovered_rules: Mapping[str, tuple[Rule, ...]]
    """Entity kind -> the ``after`` rules that also run for recovered objects."""
    dispatch: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Shared status events -> ``{tag: entity kind}``: the object's ``type`` picks
    the table (``"*"``: any other value)."""
    carries: Mapping[str, str | None] = field(default_factory=dict)
    """Status event -> where its object sits in the data (see :attr:`Transition.carries`)."""
    type_field: str | None = None
    """The data field that names the event when the SSE frame has no ``event:``
    line (Responses: ``type``); None: the frame's name is the event's."""
    sequence_field: str | None = None
    """The data field numbering events 0, 1, 2... (``sequence_number``): a number at
    or below the last one is a replay, dropped and counted; a jump is a gap."""
    event_shapes: Mapping[str, Shape] = field(default_factory=dict)
    """Event name -> the shape of its whole data (the indices and names that place
    an object-less event), checked before anything else."""
    error_object: str | None = "error"
    """The key of the error object inside an ``error`` event's data, when nested."""

    def table(self, entity: str) -> EntityTable:
        return self.tables[entity]

    @property
    def root_table(self) -> EntityTable:
        return self.tables[self.root]


def build_protocol(
    tables: Iterable[EntityTable],
    *,
    name: str,
    stream: StreamTable,
    events: Iterable[str],
    stream_events: Mapping[str, EventKind],
    ignored: Iterable[str] = (),
    rules: Iterable[Rule] = (),
    done_data: bytes = b"[DONE]",
    error_shape: Shape | None = None,
    type_field: str | None = None,
    sequence_field: str | None = None,
    event_shapes: Mapping[str, Shape] | None = None,
    error_object: str | None = "error",
) -> Protocol:
    """Check a definition and index it; raise :class:`ProtocolDefinitionError`."""
    tables = tuple(tables)
    events = frozenset(events)
    ignored = frozenset(ignored)
    rules = tuple(rules)
    problems: list[str] = []
    routes: dict[str, tuple[EventKind, str | None]] = {}
    dispatch: dict[str, dict[str, str]] = {}
    carries: dict[str, str | None] = {}

    def route(event: str, how: tuple[EventKind, str | None]) -> None:
        if event in routes and routes[event] != how:
            problems.append(f"event {event!r} is mapped twice: {routes[event]} and {how}")
        routes[event] = how

    mapped_by: dict[str, set[str]] = {}
    for table in tables:
        for t in table.transitions:
            mapped_by.setdefault(t.event, set()).add(table.entity)
    for table in tables:
        problems.extend(check_table(table))
        for t in table.transitions:
            if t.event in carries and carries[t.event] != t.carries:
                problems.append(f"{table.entity}: {t.event} carries its object at "
                                f"{t.carries!r}, another table says {carries[t.event]!r}")
            carries[t.event] = t.carries
            if table.tag is not None and len(mapped_by[t.event]) > 1:
                # a shared event: the object's discriminator picks the table
                if routes.get(t.event, (EventKind.STATUS, None)) != (EventKind.STATUS, None):
                    problems.append(f"event {t.event!r} is shared by tagged tables but "
                                    f"also mapped as {routes[t.event]}")
                routes[t.event] = (EventKind.STATUS, None)
                tags = dispatch.setdefault(t.event, {})
                if tags.get(table.tag, table.entity) != table.entity:
                    problems.append(f"{t.event}: tag {table.tag!r} picks both "
                                    f"{tags[table.tag]} and {table.entity}")
                tags[table.tag] = table.entity
            else:
                route(t.event, (EventKind.STATUS, table.entity))
        for event in table.deltas:
            route(event, (EventKind.DELTA, table.entity))
        if table.position and table.group is None:
            problems.append(f"{table.entity}: a positioned table needs a group")
    for event, kind in stream_events.items():
        route(event, (kind, None))
    for event in ignored:
        route(event, (EventKind.IGNORED, None))
    for event in sorted(events - routes.keys()):
        problems.append(f"protocol event {event!r} is neither mapped nor explicitly ignored")
    for event in sorted(routes.keys() - events):
        problems.append(f"event {event!r} is mapped but is not a protocol event")

    by_kind = {t.entity: t for t in tables}
    if len(by_kind) != len(tables):
        problems.append("an entity kind has more than one table")
    roots = [t.entity for t in tables if t.role == "root"]
    scopes = [t.entity for t in tables if t.role == "scope"]
    if len(roots) != 1:
        problems.append(f"a protocol has exactly one root entity, not {roots}")
    if len(scopes) > 1:
        problems.append(f"a protocol has at most one scope entity, not {scopes}")
    for linked in tables:
        for fld, other in linked.links.items():
            if other not in by_kind:
                problems.append(f"{linked.entity}: link {fld!r} names unknown entity "
                                f"{str(other)!r}")
    problems.extend(check_stream(stream))
    for rule in rules:
        ruled = by_kind.get(rule.entity)
        if ruled is None:
            problems.append(f"rule {rule.name}: unknown entity {str(rule.entity)!r}")
            continue
        for event in sorted(rule.events or ()):
            if (routes.get(event) != (EventKind.STATUS, rule.entity)
                    and rule.entity not in dispatch.get(event, {}).values()):
                problems.append(f"rule {rule.name}: {event!r} is not a status event of "
                                f"{rule.entity}")
        for state in sorted((rule.states or frozenset()) - set(ruled.states)):
            problems.append(f"rule {rule.name}: {rule.entity} has no state {state!r}")
    groups = {t.group for t in tables if t.group is not None}
    for positioned in tables:
        if positioned.parent_group is not None and positioned.parent_group not in groups:
            problems.append(f"{positioned.entity}: parent group "
                            f"{positioned.parent_group!r} has no table")
    if problems:
        raise ProtocolDefinitionError(
            f"invalid protocol definition {name!r}:\n" + "\n".join(f"  - {p}" for p in problems)
        )

    def index(phase: str) -> dict[tuple[str, str], tuple[Rule, ...]]:
        out: dict[tuple[str, str], list[Rule]] = {}
        for rule in rules:
            if rule.phase == phase:
                names = rule.events or {t.event for t in by_kind[rule.entity].transitions}
                for event in sorted(names):
                    out.setdefault((rule.entity, event), []).append(rule)
        return {key: tuple(found) for key, found in out.items()}

    def compares(table: EntityTable, t: Transition) -> bool:
        if t.compare is not None:
            return t.compare
        return table.accumulator is not None and t.dest in table.terminal

    root = roots[0]
    return Protocol(
        name=name,
        tables=by_kind,
        stream=stream,
        rules=rules,
        events=events,
        ignored=ignored,
        done_data=done_data,
        error_shape=error_shape,
        routes=routes,
        transitions={t.entity: t.lookup() for t in tables},
        root=root,
        scope=scopes[0] if scopes else None,
        children=tuple(t.entity for t in tables if t.role == "child"),
        created={t.entity: t.created for t in tables},
        final_object_events=frozenset(
            t.event for table in tables for t in table.transitions if compares(table, t)
        ),
        dispatch=dispatch,
        carries=carries,
        type_field=type_field,
        sequence_field=sequence_field,
        event_shapes=dict(event_shapes or {}),
        error_object=error_object,
        stream_lookup=stream.lookup(),
        check_rules=index("check"),
        after_rules=index("after"),
        recovered_rules={
            kind: tuple(r for r in rules if r.entity == kind and r.recovered and r.phase == "after")
            for kind in by_kind
        },
    )
