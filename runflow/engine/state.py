"""The flow's whole state as one typed record.

Everything a flow has built lives in one :class:`FlowState`: the entities (root,
scope, children by kind and id), the stream machine's state, the input position,
the violations and their counters, the history, what the SSE decoder holds. The
engine reads and writes it; rules read it (and take notes with :meth:`mark`);
checkpoints serialise it field by field from its annotations
(:mod:`runflow.engine.checkpoint`), so a field added here is saved and validated without
anyone remembering to add it there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, NoReturn

from runflow.engine.entities import Tracker
from runflow.engine.sse import RawEvent, SSEDecoder
from runflow.engine.violations import Violation

__all__ = ["NO_CHILDREN", "RECOVERED", "Children", "Ending", "FlowState", "StateChange",
           "add_child", "state_change"]

Ending = Literal["done", "error", "truncated"]
"""How a stream ended."""

RECOVERED = "recovered"
"""The ``event`` of a :class:`StateChange` made by ``RunFlow.recover``."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """One accepted state change: which entity went from which state to which."""

    index: int
    """Position of the event in the flow's input."""
    entity: str
    """The entity kind (``"run"``, ``"step"``...)."""
    id: str
    event: str
    """The status event, or :data:`RECOVERED` for an object read over REST."""
    source: str
    dest: str
    count: int = 1
    """How many times in a row this change arrived: a self-loop event repeated
    (a flood of ``thread.message.in_progress``) is counted on the entry of its first
    time (whose ``index`` it keeps) instead of appended, so it costs O(1) memory."""


_new = object.__new__
(_index, _entity, _id, _event, _source, _dest, _count) = (
    StateChange.__dict__[name].__set__ for name in StateChange.__slots__)


def state_change(index: int, entity: str, id_: str, event: str, source: str, dest: str,
                 count: int = 1) -> StateChange:
    """``StateChange(index, entity, id_, event, source, dest, count)``, made by setting
    its slots directly: a frozen dataclass's ``__init__`` goes through
    ``object.__setattr__`` for every field, about twice the time, and one is made per
    status event."""
    change = _new(StateChange)
    _index(change, index)
    _entity(change, entity)
    _id(change, id_)
    _event(change, event)
    _source(change, source)
    _dest(change, dest)
    _count(change, count)
    return change


class _NoChildren(dict[str, Tracker]):
    """An empty mapping that refuses to be written to (see :data:`NO_CHILDREN`)."""

    __slots__ = ()

    def __setitem__(self, key: str, value: Tracker) -> None:
        _refuse()

    def setdefault(self, key: str, default: Tracker) -> NoReturn:
        _refuse()

    def update(self, *args: Any, **kwargs: Any) -> None:
        _refuse()


def _refuse() -> NoReturn:
    raise TypeError("a kind with no entity reads as NO_CHILDREN, which is shared and "
                    "read-only: add an entity with add_child")


NO_CHILDREN: Final[dict[str, Tracker]] = _NoChildren()
"""What :class:`Children` gives for a kind no entity of which came yet: one empty
mapping shared by every flow (read-only), so a flow makes no dict per kind it never
sees (the Responses definition has over twenty kinds; a short stream uses two)."""


class Children(dict[str, dict[str, Tracker]]):
    """Kind -> id -> tracker. A kind is added with its first entity; before that,
    ``children[kind]`` reads as :data:`NO_CHILDREN` (``.get(kind)`` as None)."""

    __slots__ = ()

    def __missing__(self, kind: str) -> dict[str, Tracker]:
        return NO_CHILDREN


def add_child(children: dict[str, dict[str, Tracker]], tracker: Tracker) -> None:
    """Keep ``tracker`` in ``children`` under its kind (added with its first entity)
    and id."""
    by_id = children.get(tracker.entity)  # never NO_CHILDREN: get() skips __missing__
    if by_id is None:
        by_id = children[tracker.entity] = {}
    by_id[tracker.id] = tracker


@dataclass(slots=True, eq=False)
class FlowState:
    """One flow's state. Plain attributes, read on the hot path."""

    decoder: SSEDecoder
    """The incremental SSE decoder, with whatever partial event it holds."""
    index: int = 0
    """Events received so far: the index the next one gets."""
    stream: str = "open"
    """The stream machine's state (:attr:`runflow.engine.definition.Protocol.stream`)."""
    stream_moves: int = 0
    """State changes of the root during the current stream."""
    closed: bool = False
    """``close()`` ran and no input came since (a second ``close()`` changes nothing)."""
    root: Tracker | None = None
    scope: Tracker | None = None
    root_id: str | None = None
    """The root's id, once known (possibly from a child's link before the root is seen)."""
    scope_id: str | None = None
    children: dict[str, dict[str, Tracker]] = field(default_factory=Children)
    """Kind -> id -> tracker, in the order first seen: a :class:`Children` (a kind
    with no entity yet reads as empty; checkpoints save every kind of the definition)."""
    slots: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Positioned entities (``Tracker.slot``) -> ``(kind, id)``."""
    sequence: int | None = None
    """The last ``sequence_number`` accepted (protocols that number events)."""
    replayed: int = 0
    """Events dropped because their sequence number was not past :attr:`sequence`
    (a resumed stream that replays what the flow already has)."""
    marks: dict[str, dict[str, bool]] = field(default_factory=dict)
    """Notes rules take (e.g. the message ids that steps announced), in the order
    taken: an event that fails half-way is undone by dropping the last ones."""
    capped: set[str] = field(default_factory=set)
    """Labels of entities that reached a limit and stopped growing."""
    repeats: dict[str, int] = field(default_factory=dict)
    """Violations seen per ``"code kind"``, to cap repeated ones."""
    suppressed: dict[str, int] = field(default_factory=dict)
    """Violations counted but not stored, by code."""
    expected: dict[str, int] = field(default_factory=dict)
    """Violations the flow's profile expects from this server: counted, not stored."""
    violations: list[Violation] = field(default_factory=list)
    history: list[StateChange] = field(default_factory=list)
    history_dropped: int = 0
    """State changes not kept in ``history`` once it reached its limit."""
    error: dict[str, Any] | None = None
    """The error object of an ``error`` event, as received."""
    backlog: list[RawEvent] = field(default_factory=list)
    """Decoded events not processed yet (a strict violation or a callback raised)."""

    def __post_init__(self) -> None:
        if type(self.children) is not Children:  # a checkpoint's plain dict
            self.children = Children(self.children)

    def mark(self, name: str, value: str) -> None:
        self.marks.setdefault(name, {})[value] = True

    def marked(self, name: str, value: str) -> bool:
        return value in self.marks.get(name, {})
