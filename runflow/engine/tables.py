"""The two kinds of table a protocol definition is made of.

An :class:`EntityTable` per entity kind: its states, the events that move it
(:class:`Transition`), the deltas it takes, and where the root's state lets
children grow, close or be adopted. One :class:`StreamTable`: how a stream of
events begins, ends and continues (:class:`StreamRow`). Both are plain data; the
checks a definition must pass are in :mod:`runflow.engine.checks`, the definition
that holds them in :mod:`runflow.engine.definition`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Literal, cast

from runflow.engine.lazy import resolve

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runflow.engine.accumulator import Accumulator
    from runflow.engine.shapes import Shape
    from runflow.engine.violations import Code, Severity

__all__ = [
    "GUARDS",
    "STAY",
    "STREAM_INPUTS",
    "UNSEEN",
    "EntityTable",
    "EventKind",
    "Guard",
    "Role",
    "StreamInput",
    "StreamRow",
    "StreamTable",
    "Transition",
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
    snapshot: type[BaseModel] | str | None = None
    """The openai SDK type snapshots are built as, or its ``"module:Name"``
    (imported on first use: :attr:`snapshot_model`)."""
    accumulator: Callable[[], Accumulator] | None = None
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
    this kind is about (``item_id``); an event naming another id is
    ``item_id_mismatch``."""
    status_from_event: bool = True
    """On a ``status_mismatch``, the snapshot's status becomes the state the event led
    to (an Assistants event name says the status); False keeps the server's
    (a Responses ``output_item.done`` says nothing of it)."""
    tag: str | None = None
    """For events several tables map (``response.output_item.added``): the value of
    the object's discriminator (``item.type``) that picks this table; ``"*"`` picks
    it for any value no other table claims."""
    id_rotates: bool = False
    """Root only: the flow holds one root, so an object naming another id is still
    it, followed with ``item_id_mismatch`` (a server that rotates the id on every
    event) rather than rejected as ``foreign_entity``."""
    status_mismatch: Severity | None = None
    """The severity of a ``status_mismatch`` on this table (None: the code's): an
    error where the event's name and its object's status contradict each other."""

    @property
    def snapshot_model(self) -> type[BaseModel] | None:
        """:attr:`snapshot` as a type (a ``"module:Name"`` is imported now)."""
        ref = self.snapshot
        return cast("type[BaseModel]", resolve(ref)) if isinstance(ref, str) else ref

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
