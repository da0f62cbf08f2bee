"""The Assistants stream protocol as data: one table per entity.

This module is the single definition of what runflow accepts. The ``transitions``
machines (:mod:`runflow.machines`), the diagrams (:mod:`runflow.diagrams`), the
exhaustive tests and the docs are all generated from :data:`PROTOCOL`. A transition
that is not written here does not exist.

How to read a table
-------------------
Every entity (thread, run, step, message) starts in :data:`UNSEEN`, the state before
the flow has seen it. A *status event* (``thread.run.step.completed``...) carries the
entity's full object and moves it from one of ``sources`` to ``dest``. A *delta event*
(``thread.message.delta``, ``thread.run.step.delta``) carries a fragment of the
object and never changes state; the table lists the states in which it may arrive.

``UNSEEN`` is a source of every status event (except ``created`` events, which can
only come from it): a flow may begin in the middle of a run -- the stream returned by
``submit_tool_outputs`` starts with ``thread.run.step.completed`` for a step created
in an earlier stream -- and an entity first seen through its full object is *adopted*
at that state. Whether adoption is allowed at a given moment is a cross-entity rule
(:data:`ADOPTION_RUN_STATES`): children can only be adopted while the run itself is
still unseen, i.e. the flow began mid-run. Later, a step or message that appears
without its ``created`` event is an ``unknown_entity``.

Rules for changing this module
------------------------------
* Put the sentence that justifies a row next to it (``why``), quoting the API docs or
  naming the real capture in ``shared/recordings`` that shows it.
* :func:`build_protocol` checks the definition when the module is imported: every
  state reachable, no trap states, no way out of a terminal state, every protocol
  event mapped or explicitly ignored. A broken table fails at import with a message
  that lists each problem.
* After a change, run ``runflow diagram --refresh`` to regenerate ``diagrams/``; a
  test fails while they are stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "ADOPTION_RUN_STATES",
    "CHILD_EVENT_RUN_STATES",
    "FINAL_OBJECT_EVENTS",
    "PROTOCOL",
    "PROTOCOL_EVENTS",
    "UNSEEN",
    "Entity",
    "EntityTable",
    "EventKind",
    "Protocol",
    "ProtocolDefinitionError",
    "Transition",
    "build_protocol",
]

UNSEEN = "unseen"
"""The state of an entity before the flow has seen any event about it."""


class Entity(str, Enum):
    """The kinds of object a run stream talks about."""

    THREAD = "thread"
    RUN = "run"
    STEP = "step"
    MESSAGE = "message"

    def __str__(self) -> str:
        return self.value


class EventKind(str, Enum):
    """What an event name does, once looked up in the protocol."""

    STATUS = "status"
    """Carries the entity's full object and may change its state."""
    DELTA = "delta"
    """Carries a fragment of the entity's object; never changes state."""
    DONE = "done"
    """Ends the stream (``data: [DONE]``)."""
    ERROR = "error"
    """Ends the stream with an error object; no ``done`` follows."""
    IGNORED = "ignored"
    """A protocol event runflow deliberately does not model."""


@dataclass(frozen=True)
class Transition:
    """One row: ``event`` moves the entity from any of ``sources`` to ``dest``."""

    event: str
    sources: tuple[str, ...]
    dest: str
    why: str = ""


@dataclass(frozen=True)
class EntityTable:
    """The state machine of one entity kind."""

    entity: Entity
    states: tuple[str, ...]
    terminal: frozenset[str]
    transitions: tuple[Transition, ...]
    deltas: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Delta event name -> the states in which it may arrive."""
    initial: str = UNSEEN

    def lookup(self) -> dict[tuple[str, str], str]:
        """``{(state, event): dest}`` for every status transition."""
        return {(src, t.event): t.dest for t in self.transitions for src in t.sources}

    @property
    def events(self) -> tuple[str, ...]:
        """Every event name this table maps, status events first, in table order."""
        names = [t.event for t in self.transitions]
        return tuple(dict.fromkeys([*names, *self.deltas]))


class ProtocolDefinitionError(ValueError):
    """The protocol table is inconsistent; the message lists every problem."""


@dataclass(frozen=True)
class Protocol:
    """The checked protocol: tables plus the indexes built from them."""

    tables: Mapping[Entity, EntityTable]
    events: frozenset[str]
    ignored: frozenset[str]
    routes: Mapping[str, tuple[EventKind, Entity | None]]
    """Event name -> (what it does, which entity it concerns)."""
    transitions: Mapping[Entity, Mapping[tuple[str, str], str]]
    """Per entity, ``{(state, event): dest}``: the lookup *is* the validation."""

    def table(self, entity: Entity) -> EntityTable:
        return self.tables[entity]


# --------------------------------------------------------------------------- #
# The protocol events. Kept as a literal list (not read from the openai SDK) so a
# newer SDK can never change what this library accepts; a test checks that every
# event of ``openai.types.beta.AssistantStreamEvent`` is listed here.
# --------------------------------------------------------------------------- #
PROTOCOL_EVENTS: frozenset[str] = frozenset(
    {
        "thread.created",
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.requires_action",
        "thread.run.completed",
        "thread.run.incomplete",
        "thread.run.failed",
        "thread.run.cancelling",
        "thread.run.cancelled",
        "thread.run.expired",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.step.completed",
        "thread.run.step.failed",
        "thread.run.step.cancelled",
        "thread.run.step.expired",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.delta",
        "thread.message.completed",
        "thread.message.incomplete",
        "error",
        "done",
    }
)

STREAM_EVENTS: Mapping[str, EventKind] = {"done": EventKind.DONE, "error": EventKind.ERROR}
IGNORED_EVENTS: frozenset[str] = frozenset()
"""Protocol events runflow knows and deliberately does not model (none today)."""

U = UNSEEN

THREAD = EntityTable(
    entity=Entity.THREAD,
    states=(U, "created"),
    terminal=frozenset({"created"}),
    transitions=(
        Transition("thread.created", (U,), "created", "create-and-run streams start with it"),
    ),
)

RUN = EntityTable(
    entity=Entity.RUN,
    states=(
        U, "queued", "in_progress", "requires_action", "cancelling",
        "cancelled", "failed", "completed", "incomplete", "expired",
    ),
    terminal=frozenset({"cancelled", "failed", "completed", "incomplete", "expired"}),
    transitions=(
        Transition("thread.run.created", (U,), "queued",
                   "a created run is already queued (status in every capture)"),
        Transition("thread.run.queued", (U, "queued", "requires_action"), "queued",
                   "created runs and runs whose required action was answered go to queued"),
        Transition("thread.run.in_progress", (U, "queued"), "in_progress",
                   "queued runs start"),
        Transition("thread.run.requires_action", (U, "in_progress"), "requires_action",
                   "from in_progress: requires_action"),
        Transition("thread.run.cancelling", (U, "queued", "in_progress", "requires_action"),
                   "cancelling", "a run may be cancelled while not final"),
        Transition("thread.run.cancelled", (U, "cancelling"), "cancelled",
                   "cancelling ends in cancelled"),
        Transition("thread.run.completed", (U, "in_progress"), "completed",
                   "from in_progress: completed"),
        Transition("thread.run.incomplete", (U, "in_progress"), "incomplete",
                   "from in_progress: incomplete (token limits)"),
        Transition("thread.run.failed", (U, "queued", "in_progress"), "failed",
                   "from in_progress: failed; a queued run can fail before it starts"),
        Transition("thread.run.expired", (U, "queued", "in_progress", "requires_action"),
                   "expired", "requires_action expires when outputs come after expires_at"),
    ),
)

STEP = EntityTable(
    entity=Entity.STEP,
    states=(U, "in_progress", "completed", "failed", "cancelled", "expired"),
    terminal=frozenset({"completed", "failed", "cancelled", "expired"}),
    transitions=(
        Transition("thread.run.step.created", (U,), "in_progress",
                   "steps are created already in_progress"),
        Transition("thread.run.step.in_progress", (U, "in_progress"), "in_progress",
                   "repeats the status right after step.created"),
        Transition("thread.run.step.completed", (U, "in_progress"), "completed",
                   "the continuation stream opens with step.completed for the tool step"),
        Transition("thread.run.step.failed", (U, "in_progress"), "failed", ""),
        Transition("thread.run.step.cancelled", (U, "in_progress"), "cancelled", ""),
        Transition("thread.run.step.expired", (U, "in_progress"), "expired", ""),
    ),
    deltas={"thread.run.step.delta": frozenset({"in_progress"})},
)

MESSAGE = EntityTable(
    entity=Entity.MESSAGE,
    states=(U, "in_progress", "completed", "incomplete"),
    terminal=frozenset({"completed", "incomplete"}),
    transitions=(
        Transition("thread.message.created", (U,), "in_progress",
                   "messages are created already in_progress, content []"),
        Transition("thread.message.in_progress", (U, "in_progress"), "in_progress",
                   "repeats the status right after message.created"),
        Transition("thread.message.completed", (U, "in_progress"), "completed", ""),
        Transition("thread.message.incomplete", (U, "in_progress"), "incomplete",
                   "content_filter, max_tokens, run_cancelled/expired/failed"),
    ),
    deltas={"thread.message.delta": frozenset({"in_progress"})},
)

# --------------------------------------------------------------------------- #
# Cross-entity rules that are data, not code.
# --------------------------------------------------------------------------- #
_ACTIVE = frozenset({"in_progress"})
_CLOSING = frozenset({"in_progress", "requires_action", "cancelling"})

CHILD_EVENT_RUN_STATES: Mapping[str, frozenset[str]] = {
    # Steps and messages are created and grow only while the run is in_progress.
    "thread.run.step.created": _ACTIVE,
    "thread.run.step.in_progress": _ACTIVE,
    "thread.run.step.delta": _ACTIVE,
    "thread.message.created": _ACTIVE,
    "thread.message.in_progress": _ACTIVE,
    "thread.message.delta": _ACTIVE,
    # They close while the run is in_progress, or while it waits or winds down:
    # the tool step completes in the continuation stream before run.queued.
    "thread.run.step.completed": _CLOSING,
    "thread.run.step.failed": _CLOSING,
    "thread.run.step.cancelled": _CLOSING,
    "thread.run.step.expired": _CLOSING,
    "thread.message.completed": _CLOSING,
    "thread.message.incomplete": _CLOSING,
}
"""Child (step/message) event -> the run states in which it may arrive.

An unseen run allows everything (the flow began mid-run); a terminal run allows
nothing (``event_after_terminal``); any other state not listed gives
``run_not_in_progress``.
"""

ADOPTION_RUN_STATES: frozenset[str] = frozenset({UNSEEN})
"""A step or message first seen through a full object is adopted only while the
run is in one of these states; otherwise it is an ``unknown_entity``."""


def build_protocol(
    tables: Iterable[EntityTable],
    *,
    events: Iterable[str] = PROTOCOL_EVENTS,
    stream_events: Mapping[str, EventKind] = STREAM_EVENTS,
    ignored: Iterable[str] = IGNORED_EVENTS,
) -> Protocol:
    """Check the tables and index them; raise :class:`ProtocolDefinitionError`."""
    tables = tuple(tables)
    events = frozenset(events)
    ignored = frozenset(ignored)
    problems: list[str] = []
    routes: dict[str, tuple[EventKind, Entity | None]] = {}

    def route(name: str, how: tuple[EventKind, Entity | None]) -> None:
        if name in routes and routes[name] != how:
            problems.append(f"event {name!r} is mapped twice: {routes[name]} and {how}")
        routes[name] = how

    for table in tables:
        problems.extend(_check_table(table))
        for t in table.transitions:
            route(t.event, (EventKind.STATUS, table.entity))
        for name in table.deltas:
            route(name, (EventKind.DELTA, table.entity))
    for name, kind in stream_events.items():
        route(name, (kind, None))
    for name in ignored:
        route(name, (EventKind.IGNORED, None))

    for name in sorted(events - routes.keys()):
        problems.append(f"protocol event {name!r} is neither mapped nor explicitly ignored")
    for name in sorted(routes.keys() - events):
        problems.append(f"event {name!r} is mapped but is not a protocol event")
    entities = [t.entity for t in tables]
    for entity in Entity:
        if entities.count(entity) != 1:
            problems.append(f"entity {entity.value!r} has {entities.count(entity)} tables, not 1")
    if problems:
        raise ProtocolDefinitionError(
            "invalid protocol table:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    by_entity = {t.entity: t for t in tables}
    return Protocol(
        tables=by_entity,
        events=events,
        ignored=ignored,
        routes=routes,
        transitions={t.entity: t.lookup() for t in tables},
    )


def _check_table(table: EntityTable) -> list[str]:
    name = table.entity.value
    states = set(table.states)
    problems: list[str] = []
    if len(states) != len(table.states):
        problems.append(f"{name}: a state is listed twice in {table.states}")
    if table.initial not in states:
        problems.append(f"{name}: initial state {table.initial!r} is not a state")
    for s in sorted(table.terminal - states):
        problems.append(f"{name}: terminal state {s!r} is not a state")

    edges: dict[str, set[str]] = {s: set() for s in states}
    seen_pairs: dict[tuple[str, str], str] = {}
    for t in table.transitions:
        for s in (*t.sources, t.dest):
            if s not in states:
                problems.append(f"{name}: {t.event} uses unknown state {s!r}")
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
                edges[src].add(t.dest)
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


def _closure(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


PROTOCOL: Protocol = build_protocol((THREAD, RUN, STEP, MESSAGE))
"""The protocol runflow enforces, checked at import."""

FINAL_OBJECT_EVENTS: frozenset[str] = frozenset(
    t.event for table in (STEP, MESSAGE) for t in table.transitions if t.dest in table.terminal
)
"""Status events that carry a step's or message's finished object: where the
snapshot rebuilt from deltas is compared with the server's (``snapshot_divergence``)."""
