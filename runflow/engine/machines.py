"""``transitions`` machines built from a protocol definition, and the indexes the
engine runs on.

The machines are built once per definition, with no model attached, and shared by
every flow: a machine drives any :class:`runflow.engine.entities.Tracker` through its
``state`` attribute with ``machine.events[name].trigger(tracker, flow)``. This
avoids the cost of a ``Machine`` per object (about 21 KiB each) and the quadratic
``add_model``. The moves are then read off each machine into a table
(:func:`move_table`) that the hot path runs through, with the same on-enter
notification the machine's hook gives. Whether an event is allowed is decided
before, by a dict lookup in the same table
(:attr:`runflow.engine.definition.Protocol.transitions`), so a move never fails and
a rejected event never reaches a machine.

Deltas never go through a machine: they do not change state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, Protocol

from pydantic import BaseModel
from transitions import EventData, Machine

from runflow.engine.definition import (
    STAY,
    UNSEEN,
    EntityTable,
    EventKind,
    Guard,
    Rule,
    StreamInput,
    StreamRow,
)
from runflow.engine.definition import Protocol as Definition

__all__ = ["Compiled", "EnterListener", "build_machine", "build_machines", "compiled",
           "move_table", "trigger_name"]


class EnterListener(Protocol):
    """What a machine tells when an entity enters a state (the flow implements it)."""

    def _entered(self, tracker: Any, state: str) -> None: ...


def _on_enter(event: EventData) -> None:
    listener: EnterListener = next(iter(event.args))
    listener._entered(event.model, event.state.name)


def build_machine(table: EntityTable, on_enter: Callable[[EventData], None] = _on_enter) -> Any:
    """A model-less ``Machine`` for one entity table (auto transitions off)."""
    machine = Machine(
        model=None,
        states=[{"name": s, "on_enter": [on_enter]} for s in table.states],
        initial=table.initial,
        auto_transitions=False,
        send_event=True,
        name=table.entity,
    )
    for t in table.transitions:
        for source in t.sources:
            # A self-loop (e.g. step.in_progress right after step.created) is an
            # internal transition: the entity does not *enter* its state again,
            # so enter callbacks fire once per real change.
            for dest in t.dests:
                machine.add_transition(trigger_name(t.event, dest, t.dest), source,
                                       None if source == dest else dest)
    return machine


def trigger_name(event: str, dest: str, default: str) -> str:
    """The machine trigger of ``event`` to ``dest``: the event's name for its
    default destination, ``"event>dest"`` for one its object's status chose."""
    return event if dest == default else f"{event}>{dest}"


def build_machines(protocol: Definition) -> dict[str, Any]:
    return {entity: build_machine(table) for entity, table in protocol.tables.items()}


def move_table(machine: Any) -> dict[tuple[str, str], str] | None:
    """``(source, trigger) -> dest`` of every move of ``machine``, read off the machine
    itself, or None when the machine is not one :func:`build_machine` made with the
    engine's own on-enter hook (then moves go through ``transitions``).

    A ``transitions`` trigger costs about 3 µs (it builds an ``EventData``, checks
    conditions, runs before/after/exit/enter lists); the flow, which has decided
    the move is legal already, sets the state and tells itself it entered, which is
    all the machine's callbacks do. Self-loops are internal (dest None): not here."""
    moves: dict[tuple[str, str], str] = {}
    if not all(list(state.on_enter) == [_on_enter] and not state.on_exit
               for state in machine.states.values()):
        return None
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for t in transitions:
                if t.conditions or t.before or t.after or t.prepare:
                    return None
                if t.dest is not None:
                    moves[(source, trigger)] = t.dest
    return moves


class Compiled:
    """A definition with its machines and the lookups the engine's hot path uses,
    built once per definition (:func:`compiled`)."""

    def __init__(self, protocol: Definition) -> None:
        self.protocol = protocol
        self.tables: Mapping[str, EntityTable] = protocol.tables
        self.routes = protocol.routes
        self.lookup = protocol.transitions
        self.machines = build_machines(protocol)
        self.moves: dict[str, dict[tuple[str, str], str] | None] = {
            kind: move_table(machine) for kind, machine in self.machines.items()}
        """Each machine's moves as a table (:func:`move_table`): the machines stay the
        single source of which moves exist; the hot path reads this."""
        self.root = protocol.root
        self.scope = protocol.scope
        self.root_table = protocol.root_table
        self.created = protocol.created
        self.final_object_events = protocol.final_object_events
        self.stream_lookup: Mapping[tuple[str, StreamInput, Guard], StreamRow] = (
            protocol.stream_lookup)
        self.endings = protocol.stream.endings
        # Stream states in which an entity event changes nothing and reports nothing
        # (the stream is simply open): the hot path skips the machine there.
        self.quiet_stream_states = frozenset(
            s for s in protocol.stream.states
            if all(row.code is None and row.dest in (s, STAY)
                   for (src, inp, _), row in self.stream_lookup.items()
                   if src == s and inp == "event")
        )
        self.check_rules: Mapping[tuple[str, str], tuple[Rule, ...]] = protocol.check_rules
        self.after_rules: Mapping[tuple[str, str], tuple[Rule, ...]] = protocol.after_rules
        self.dispatch = protocol.dispatch
        self.carries = protocol.carries
        self.type_field = protocol.type_field
        self.sequence_field = protocol.sequence_field
        self.event_shapes = protocol.event_shapes
        # (kind, event) -> destinations the object's status may choose
        self.status_dests: dict[tuple[str, str], frozenset[str]] = {
            (kind, t.event): t.dests for kind, table in protocol.tables.items()
            for t in table.transitions if t.by_status
        }
        self.recovered_rules = protocol.recovered_rules
        self.plans: dict[tuple[str, str], Any] = {}
        """What each status event does to each entity kind, by ``(kind, event)``: the
        lookups it needs, gathered on first use (:func:`runflow.engine.status._plan`)."""
        self.done_data = protocol.done_data
        self.done_event: str | None = next(
            (name for name, (kind, _) in protocol.routes.items() if kind is EventKind.DONE), None)
        """The event a ``data: [DONE]`` frame with no ``event:`` line is (the SDKs stop at
        any ``[DONE]`` data)."""
        self.done_text = protocol.done_data.decode()
        self.delta_states: dict[str, frozenset[str]] = {
            name: allowed for t in protocol.tables.values() for name, allowed in t.deltas.items()
        }
        # A child event that can only end its entity may still arrive while the
        # root is in a "children_closing" state; any other child event needs
        # "children_open". Derived from the tables, not restated.
        closing: set[str] = set()
        for kind in protocol.children:
            table = protocol.tables[kind]
            names = {t.event for t in table.transitions}
            for name in names:
                if all(t.dests <= table.terminal for t in table.transitions if t.event == name):
                    closing.add(name)
        self.closing_events = frozenset(closing)
        self.closing_states = self.root_table.children_open | self.root_table.children_closing
        self.delta_root_states = self.root_table.children_open | {self.root_table.initial}
        """Root states in which a delta needs no further check (deltas only grow)."""
        self.children_free = (self.root_table.children_open - self.root_table.terminal) | {
            UNSEEN}
        """Root states in which any child event passes the root's check
        (:meth:`runflow.engine.resolving.Resolving._check_root_allows`), which then
        need not run."""

    @cached_property
    def kind_of_model(self) -> dict[type[BaseModel], str]:
        """The entity kind of each snapshot type (what :meth:`recover` is given):
        built on first use, as it imports the snapshot types, which checking a
        stream never needs."""
        return {model: kind for kind, t in self.protocol.tables.items()
                if (model := t.snapshot_model) is not None and t.role != "scope"}


_COMPILED: dict[int, tuple[Definition, Compiled]] = {}


def compiled(protocol: Definition) -> Compiled:
    """The :class:`Compiled` form of ``protocol`` (cached per definition object)."""
    hit = _COMPILED.get(id(protocol))
    if hit is None or hit[0] is not protocol:
        hit = (protocol, Compiled(protocol))
        _COMPILED[id(protocol)] = hit
    return hit[1]
