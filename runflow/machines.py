"""``transitions`` machines built from the protocol table, one per entity kind.

The machines are built once, with no model attached, and shared by every flow:
a machine drives any :class:`runflow.entities.Tracker` through its ``state``
attribute with ``machine.events[name].trigger(tracker, flow)``. This avoids the
cost of a ``Machine`` per object (about 21 KiB each) and the quadratic
``add_model``. State changes and on-enter hooks run through ``transitions``;
whether an event is allowed is decided before, by a dict lookup in the same table
(:attr:`runflow.protocol.Protocol.transitions`), so a trigger never fails and a
rejected event never reaches a machine.

Deltas never go through a machine: they do not change state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from transitions import EventData, Machine

from .protocol import PROTOCOL, Entity, EntityTable
from .protocol import Protocol as ProtocolTable

__all__ = ["EnterListener", "Machines", "build_machine", "build_machines"]


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
        name=table.entity.value,
    )
    for t in table.transitions:
        for source in t.sources:
            # A self-loop (e.g. step.in_progress right after step.created) is an
            # internal transition: the entity does not *enter* its state again,
            # so enter callbacks fire once per real change.
            machine.add_transition(t.event, source, None if source == t.dest else t.dest)
    return machine


Machines = Mapping[Entity, Any]


def build_machines(protocol: ProtocolTable = PROTOCOL) -> dict[Entity, Any]:
    return {entity: build_machine(table) for entity, table in protocol.tables.items()}


MACHINES: dict[Entity, Any] = build_machines()
"""The shared machines of :data:`runflow.protocol.PROTOCOL`."""
