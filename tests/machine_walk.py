"""Every state x every status event of a definition's machines, for any definition.

:func:`walk` puts one entity of a table in each of its states (the shortest path of
status events there, from :func:`helpers.shortest_path`), feeds one status event
of that table, and checks the flow does exactly what the definition says: the
table's destination and no ``invalid_transition``, or exactly one violation
(``invalid_transition``, ``duplicate_entity`` for a second creation) with the state
unchanged. A child is walked while the root is in a state that keeps children
open (the table's ``children_open``), or, for an event that would adopt an unseen
child, in a state that lets it (``adopt_children``). The objects are the smallest the tables
accept: an ``id``, the ``status`` the event leads to and every ``links`` field.

It knows no protocol: tests/test_toy_protocol.py runs it on a definition that
lives only under tests/, tests/test_recipes.py on variants of the shipped ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from helpers import shortest_path

from runflow.engine.definition import UNSEEN, EntityTable, Protocol
from runflow.engine.flow import Flow


def entity_id(kind: str) -> str:
    return f"{kind}_walk"


def obj(table: EntityTable, status: str) -> dict[str, Any]:
    """The smallest object of ``table`` in ``status``."""
    data: dict[str, Any] = {"id": entity_id(str(table.entity)), "status": status}
    for field, kind in table.links.items():
        data[field] = entity_id(str(kind))
    return data


def _path(protocol: Protocol, table: EntityTable, target: str) -> list[tuple[str, str]]:
    """The shortest way to ``target``; a child's starts by creating it (an event that
    meets it unseen without creating it would be an adoption)."""
    name = str(table.entity)
    root = table is protocol.root_table
    lookup = {(src, event): dest for (src, event), dest in protocol.transitions[name].items()
              if root or src != table.initial or event in protocol.created[name]}
    return shortest_path(lookup, table.initial, target)


def data(protocol: Protocol, table: EntityTable, event: str, status: str) -> dict[str, Any]:
    """The event's data as the definition lays it out: the object itself, or under
    the key the event carries it in (``{"response": {...}}``), with the event's name
    in the type field and a sequence number where the definition has them."""
    carried = protocol.carries.get(event)
    out: dict[str, Any] = {carried: obj(table, status)} if carried else obj(table, status)
    if protocol.type_field is not None:
        out[protocol.type_field] = event
    return out


def _feed(flow: Flow, table: EntityTable, event: str, status: str) -> list[Any]:
    protocol = flow.protocol
    body = data(protocol, table, event, status)
    if protocol.sequence_field is not None:
        body[protocol.sequence_field] = flow.event_count
    return flow.feed({"event": event, "data": body})


def _setup(protocol: Protocol, table: EntityTable, state: str, event: str,
           new_flow: Callable[[], Flow]) -> Flow:
    flow = new_flow()
    root = protocol.root_table
    if table is not root:
        # an event that finds its entity unseen without creating it adopts it: the
        # root must be where the table lets it adopt children
        adopting = state == table.initial and event not in protocol.created[str(table.entity)]
        root_state = sorted(root.adopt_children if adopting else root.children_open)[0]
        for event, status in _path(protocol, root, root_state):
            assert _feed(flow, root, event, status) == [], (root.entity, event)
    for event, status in _path(protocol, table, state):
        _feed(flow, table, event, status)
    return flow


def walk(protocol: Protocol, new_flow: Callable[[], Flow],
         tables: tuple[str, ...] | None = None) -> int:
    """Walk ``tables`` (default: every table with status events); returns how
    many (state, event) pairs were checked."""
    checked = 0
    for name in tables or tuple(protocol.tables):
        table = protocol.tables[name]
        lookup = protocol.transitions[name]
        events = sorted({t.event for t in table.transitions})
        for state in table.states:
            for event in events:
                flow = _setup(protocol, table, state, event, new_flow)
                assert flow.state_of(name, entity_id(name)) == state, (name, state)
                dest = lookup.get((state, event))
                new = _feed(flow, table, event, dest or state)
                codes = [v.code.value for v in new]
                if dest is None:
                    again = event in protocol.created[name] and state != UNSEEN
                    assert codes == ["duplicate_entity" if again else "invalid_transition"], (
                        name, state, event, codes)
                    assert flow.state_of(name, entity_id(name)) == state
                else:
                    assert "invalid_transition" not in codes, (name, state, event, codes)
                    assert flow.state_of(name, entity_id(name)) == dest, (name, state, event)
                checked += 1
    return checked
