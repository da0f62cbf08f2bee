"""What a protocol definition is, and the checks run when one is built.

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
input, a rule about an event no table maps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from pydantic import BaseModel

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

UNSEEN = "unseen"
"""The state of an entity before the flow has seen any event about it."""

Role = Literal["scope", "root", "child"]
"""How an entity kind relates to the flow: the one ``root`` a flow follows (the
run), the optional ``scope`` it lives in (the thread), and its many ``child`` ren
(steps, messages), each keyed by id."""


class EventKind(str, Enum):
    """What an event name does, once looked up in the protocol."""

    STATUS = "status"
    """Carries the entity's full object and may change its state."""
    DELTA = "delta"
    """Carries a fragment of the entity's object; never changes state."""
    DONE = "done"
    """Ends the stream (``data: [DONE]``)."""
    ERROR = "error"
    """Ends the stream with an error object."""
    IGNORED = "ignored"
    """A protocol event runflow deliberately does not model."""


@dataclass(frozen=True)
class Transition:
    """One row: ``event`` moves the entity from any of ``sources`` to ``dest``."""

    event: str
    sources: tuple[str, ...]
    dest: str
    why: str = ""
    by_status: frozenset[str] = frozenset()
    """Further destinations the object's status may choose instead of ``dest``
    (``response.created`` leaves ``unseen`` for ``queued`` or ``in_progress``, as its
    ``response.status`` says); a status outside ``{dest} | by_status`` is a
    ``status_mismatch`` and ``dest`` is taken."""
    carries: str | None = ""
    """Where the entity's full object sits in the event's data: ``""`` the data
    itself (Assistants), a key (``"response"``, ``"item"``, ``"part"``), or None for
    an event that carries no object and names its entity by position
    (``response.web_search_call.searching``)."""
    compare: bool | None = None
    """The event carries the finished value of what deltas grew, to be compared with
    the rebuilt one (None: when ``dest`` is terminal and the table accumulates)."""

    @property
    def dests(self) -> frozenset[str]:
        return self.by_status | {self.dest}


@dataclass(frozen=True)
class EntityTable:
    """The state machine of one entity kind, and how it relates to the others."""

    entity: str
    states: tuple[str, ...]
    terminal: frozenset[str]
    transitions: tuple[Transition, ...]
    deltas: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Delta event name -> the states in which it may arrive."""
    initial: str = UNSEEN
    role: Role = "child"
    links: Mapping[str, str] = field(default_factory=dict)
    """Field of this entity's object -> the kind of entity whose id it holds
    (``{"run_id": "run"}``): an object naming another entity than the flow's is
    ``foreign_entity``."""
    pauses: frozenset[str] = frozenset()
    """Root only: non-terminal states in which a stream may end, to be continued
    by another stream (the column "may a stream end here" is ``final`` for
    terminal states, ``pause`` for these, no otherwise)."""
    children_open: frozenset[str] = frozenset()
    """Root only: states in which children may be created and grow."""
    children_closing: frozenset[str] = frozenset()
    """Root only: further states in which children may only end."""
    adopt_children: frozenset[str] = frozenset({UNSEEN})
    """Root only: states in which a child first seen through a full object other
    than its created event is adopted (the flow began mid-run); in any other
    state it is ``unknown_entity``."""
    shape: Shape | None = None
    """The payload shape of this entity's full object (the fields runflow reads)."""
    delta_shape: Shape | None = None
    """The payload shape of this entity's delta events."""
    snapshot: type[BaseModel] | None = None
    """The openai SDK type snapshots are built as."""
    accumulator: Callable[[], Any] | None = None
    """Makes the object that deltas grow (:class:`runflow.engine.accumulator.Accumulator`)."""
    status_field: str | None = "status"
    """The field of the full object that names its state (None: it has none)."""
    delta_id: str = "id"
    """The field of a delta event naming the entity it grows."""
    delta_body: str = "delta"
    """The field of a delta event holding the fragment (an object); ``""``: the
    accumulator takes the whole data (a Responses delta is a string beside the
    indices that place it)."""
    group: str | None = None
    """Entities addressed by position rather than by id share a *group* of
    positions (every Responses item kind is in ``"output"``); None: by id."""
    position: tuple[str, ...] = ()
    """The data fields that place a positioned entity: ``("output_index",)`` for an
    item, ``("output_index", "content_index")`` for a content part. The entity at
    all but the last field is its parent (:attr:`parent_group`)."""
    parent_group: str | None = None
    """The group of the parent a positioned entity lives in (None: the root)."""
    named_by: str | None = None
    """The data field naming the item (the entity at the first position) an event of
    this kind is about (``item_id``); an event naming another id is ``id_change``."""
    status_from_event: bool = True
    """On a ``status_mismatch``, the snapshot's status becomes the state the event led
    to (an Assistants event name says the status); False keeps the server's
    (a Responses ``output_item.done`` says nothing of it)."""
    tag: str | None = None
    """For events several tables map (``response.output_item.added``): the value of
    the object's discriminator (``item.type``) that picks this table; ``"*"`` picks
    it for any value no other table claims."""

    def lookup(self) -> dict[tuple[str, str], str]:
        """``{(state, event): dest}`` for every status transition."""
        return {(src, t.event): t.dest for t in self.transitions for src in t.sources}

    @property
    def events(self) -> tuple[str, ...]:
        """Every event name this table maps, status events first, in table order."""
        names = [t.event for t in self.transitions]
        return tuple(dict.fromkeys([*names, *self.deltas]))

    def dests(self, event: str) -> dict[str, frozenset[str]]:
        """``{source: destinations}`` of ``event`` (more than one where the object's
        status chooses)."""
        return {src: t.dests for t in self.transitions if t.event == event for src in t.sources}

    @property
    def created(self) -> frozenset[str]:
        """The events that create this entity: those that leave only the initial state."""
        return frozenset(t.event for t in self.transitions if t.sources == (self.initial,))

    def stream_end(self, state: str) -> Literal["final", "pause"] | None:
        """Whether a stream may end while the root is in ``state``."""
        if state in self.terminal:
            return "final"
        if state in self.pauses:
            return "pause"
        return None


StreamInput = Literal["event", "done", "error", "close", "begin"]
"""What the stream machine is told: an entity event arrived, ``done``, ``error``,
the input ended (``close()``), or a new stream of the same flow began."""
STREAM_INPUTS: tuple[StreamInput, ...] = ("event", "done", "error", "close", "begin")

Guard = Literal["final", "pause", "stalled", "open"]
"""Where the root stands when ``done`` arrives: in a ``final`` state, in a
``pause`` state it reached during this stream, in a pause state it was already in
when this stream began (``stalled``: the stream moved nothing), or ``open``
(anything else)."""
GUARDS: tuple[Guard, ...] = ("final", "pause", "stalled", "open")
STAY = "="
"""A stream row's destination that means "stay in the current state"."""


@dataclass(frozen=True)
class StreamRow:
    """``input`` in any of ``sources`` (while the root is ``when``) leads to ``dest``
    (:data:`STAY`: the state does not change); ``code`` is the violation it reports,
    ``say`` its message (``{event}``,
    ``{root_state}``, ``{count}`` are filled in)."""

    sources: tuple[str, ...]
    input: StreamInput
    dest: str
    when: tuple[Guard, ...] | None = None
    code: Code | None = None
    say: str = ""
    why: str = ""
    names_root: bool = False
    """The violation names the root (e.g. the run that was not final), not the stream."""


@dataclass(frozen=True)
class StreamTable:
    """The stream's own machine: how input begins, ends and continues."""

    states: tuple[str, ...]
    initial: str
    rows: tuple[StreamRow, ...]
    endings: Mapping[str, str | None]
    """State -> how the stream ended there (``done``/``error``/``truncated``), or
    None while it is open."""

    def lookup(self) -> dict[tuple[str, StreamInput, Guard], StreamRow]:
        """``{(state, input, guard): row}``: total, checked by :func:`build_protocol`."""
        out: dict[tuple[str, StreamInput, Guard], StreamRow] = {}
        for row in self.rows:
            for src in row.sources:
                for guard in row.when or GUARDS:
                    out.setdefault((src, row.input, guard), row)
        return out


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
        problems.extend(_check_table(table))
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
    problems.extend(_check_stream(stream))
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


def _check_table(table: EntityTable) -> list[str]:
    name = table.entity
    states = set(table.states)
    problems: list[str] = []
    if len(states) != len(table.states):
        problems.append(f"{name}: a state is listed twice in {table.states}")
    if table.initial not in states:
        problems.append(f"{name}: initial state {table.initial!r} is not a state")
    for s in sorted(table.terminal - states):
        problems.append(f"{name}: terminal state {s!r} is not a state")
    root_only = (table.pauses | table.children_open | table.children_closing
                 | (table.adopt_children - {UNSEEN}))
    for s in sorted(root_only - states):
        problems.append(f"{name}: a root column names unknown state {s!r}")
    for s in sorted(table.pauses & table.terminal):
        problems.append(f"{name}: {s!r} is terminal, so it cannot also be a pause")

    edges: dict[str, set[str]] = {s: set() for s in states}
    seen_pairs: dict[tuple[str, str], str] = {}
    for t in table.transitions:
        for s in (*t.sources, *sorted(t.dests)):
            if s not in states:
                problems.append(f"{name}: {t.event} uses unknown state {s!r}")
        if t.carries is None and table.position == ():
            problems.append(f"{name}: {t.event} carries no object, so the entity must be "
                            "placed by position")
        for src in t.sources:
            if (src, t.event) in seen_pairs and seen_pairs[(src, t.event)] != t.dest:
                problems.append(
                    f"{name}: {t.event} from {src!r} goes to both "
                    f"{seen_pairs[(src, t.event)]!r} and {t.dest!r}"
                )
            seen_pairs[(src, t.event)] = t.dest
            if src in table.terminal:
                problems.append(
                    f"{name}: {t.event} leaves terminal state {src!r}; terminal states are final"
                )
            if src in edges:
                edges[src].update(t.dests)
    for event, allowed in table.deltas.items():
        for s in sorted(set(allowed) - states):
            problems.append(f"{name}: delta {event} allowed in unknown state {s!r}")

    reachable = _closure({table.initial}, edges)
    for s in table.states:
        if s not in reachable:
            problems.append(f"{name}: state {s!r} is unreachable from {table.initial!r}")
    for s in table.states:
        if s in table.terminal:
            continue
        if not edges.get(s, set()) - {s}:
            problems.append(f"{name}: state {s!r} is a trap: not terminal and no way out")
        elif not _closure({s}, edges) & table.terminal:
            problems.append(f"{name}: no terminal state can be reached from {s!r}")
    return problems


def _check_stream(stream: StreamTable) -> list[str]:
    problems: list[str] = []
    states = set(stream.states)
    if stream.initial not in states:
        problems.append(f"stream: initial state {stream.initial!r} is not a state")
    edges: dict[str, set[str]] = {s: set() for s in states}
    for row in stream.rows:
        for s in (*row.sources, row.dest):
            if s not in states and s != STAY:
                problems.append(f"stream: a {row.input} row uses unknown state {s!r}")
        for src in row.sources:
            edges.setdefault(src, set()).add(src if row.dest == STAY else row.dest)
    lookup = stream.lookup()
    for s in stream.states:
        for inp in STREAM_INPUTS:
            for guard in GUARDS:
                if (s, inp, guard) not in lookup:
                    problems.append(f"stream: no row for {inp!r} in state {s!r} "
                                    f"while the root is {guard}")
        if s not in stream.endings:
            problems.append(f"stream: state {s!r} has no ending")
    for s in sorted(states - _closure({stream.initial}, edges)):
        problems.append(f"stream: state {s!r} is unreachable from {stream.initial!r}")
    return problems


def _closure(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
