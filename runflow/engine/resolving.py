"""Which entity an event is about: found, created, adopted, or rejected.

An entity found by id (an Assistants run, step or message) is resolved against
what the flow has: another run or thread is foreign (unless the root's table says
its id rotates: then it is the one root, with a warning), a second ``created`` a
duplicate, a child the flow never saw begin is adopted only while the root's state
allows it (:attr:`runflow.engine.definition.EntityTable.adopt_children`). A
positioned entity (a Responses item or part) is found by the indices its event
carries (``output_index``, ``content_index``), which also name its parent; the ids
the event carries are checked against what is there. Nothing here changes the
flow: a new entity is registered by :meth:`Resolving._adopt` once its event is
accepted.
"""

from __future__ import annotations

from typing import Any

from runflow.engine.accumulator import shorten
from runflow.engine.core import FlowCore, reject, slot_key, spot
from runflow.engine.definition import UNSEEN, EntityTable
from runflow.engine.entities import Tracker
from runflow.engine.shapes import Misfit, json_type
from runflow.engine.state import add_child
from runflow.engine.violations import Code, EntityRef

__all__ = ["Resolving"]


def _ref(kind: str, oid: str) -> EntityRef:
    """How a violation names the entity an event is about: made only when one is
    reported (a pydantic model costs its ``__init__``)."""
    return EntityRef(kind=kind, id=oid)


class Resolving(FlowCore):
    """Entity resolution (a mixin of :class:`runflow.engine.flow.Flow`)."""

    def _resolve(self, table: EntityTable, obj: Any, name: str,
                 recovered: bool = False) -> tuple[Tracker, bool]:
        """The tracker ``obj`` is about, and whether it is new; or reject."""
        state = self._s
        c = self._c
        kind = table.entity
        oid: str = obj["id"]
        for fld, other in table.links.items():
            known = (state.root_id if other == c.root else
                     state.scope_id if other == c.scope else None)
            if known is not None and obj.get(fld) != known:
                value = obj.get(fld)
                shown = value[:80] if type(value) is str else shorten(value)
                reject(Code.FOREIGN_ENTITY, f"{kind} {oid} belongs to {other} {shown}, not this "
                       f"flow's {other} {known}", _ref(kind, oid))
        created = name in c.created[kind]
        if table.role == "scope":
            scope = state.scope
            if scope is not None:
                code = Code.DUPLICATE_ENTITY if scope.id == oid else Code.FOREIGN_ENTITY
                reject(code, f"{kind} {oid} arrived but this flow already has {scope.label}",
                       _ref(kind, oid))
            if state.scope_id is not None and state.scope_id != oid:
                reject(Code.FOREIGN_ENTITY,
                       f"{kind} {oid} is not this flow's {kind} {state.scope_id}", _ref(kind, oid))
            return Tracker(table, oid), True
        if table.role == "root":
            root = state.root
            if state.root_id is not None and oid != state.root_id:
                if not (table.id_rotates and root is not None):
                    reject(Code.FOREIGN_ENTITY,
                           f"{kind} {oid} is not this flow's {kind} {state.root_id}; one flow is "
                           f"one {kind}", _ref(kind, oid))
                self._violate(Code.ITEM_ID_MISMATCH, state.index - 1, name, root.ref,
                              f"{name} names the {kind} {shorten(oid)}, but this flow's "
                              f"{kind} began as {root.id}; one flow is one {kind}, which is "
                              "followed")
            if root is None:
                return Tracker(table, oid), True
            if created and not recovered:
                reject(Code.DUPLICATE_ENTITY,
                       f"{name} for {kind} {oid}, which this flow already has", _ref(kind, oid))
            return root, False
        root = state.root
        if not recovered and root is not None and root.state not in c.children_free:
            self._check_root_allows(name, _ref(kind, oid))
        existing = state.children[kind].get(oid)
        if existing is not None:
            if created and not recovered:
                reject(Code.DUPLICATE_ENTITY, f"{name} for {kind} {oid}, which this flow already "
                       f"has (state {existing.state!r})", _ref(kind, oid))
            return existing, False
        root_state = state.root.state if state.root is not None else UNSEEN
        if not created and not recovered and root_state not in c.root_table.adopt_children:
            reject(Code.UNKNOWN_ENTITY, f"{name} for {kind} {oid}, which this flow has not seen "
                   f"begin; it cannot be adopted while the {c.root} is {root_state!r}",
                   _ref(kind, oid))
        if sum(map(len, state.children.values())) >= self.limits.max_entities:
            reject(Code.LIMIT_EXCEEDED,
                   f"{kind} {oid} would exceed max_entities={self.limits.max_entities}",
                   _ref(kind, oid))
        return Tracker(table, oid), True

    def _check_root_allows(self, name: str, ref: EntityRef) -> None:
        """A child event while the root is terminal, or in a state where children
        neither grow nor end, is rejected."""
        root = self._s.root
        if root is None or root.state == UNSEEN:
            return
        c = self._c
        state = root.state
        if state in c.root_table.terminal:
            reject(Code.EVENT_AFTER_TERMINAL,
                   f"{name} for {ref} after the {c.root} ended {state!r}", ref)
        allowed = c.closing_states if name in c.closing_events else c.root_table.children_open
        if state not in allowed:
            reject(
                Code.RUN_NOT_IN_PROGRESS,
                f"{name} for {ref} while the {c.root} is {state!r}; allowed while the "
                f"{c.root} is {', '.join(sorted(allowed))}",
                ref,
            )

    def _locate(self, table: EntityTable, obj: Any, data: Any,
                name: str) -> tuple[Tracker, bool]:
        """The tracker at the position an event names, and whether it is new; or
        reject. A positioned entity (a Responses item, content part...) is found by
        its indices (``output_index``, ``content_index``), which also name its
        parent; the ids the event carries are checked against what is there."""
        state = self._s
        c = self._c
        kind = table.entity
        pos = table.position
        group, parent_group = table.group, table.parent_group
        fast = self.fast_paths
        key = parent_key = None
        if fast and type(data) is dict:  # the common case: valid indices, keys made here
            max_index = self.limits.max_index
            if len(pos) == 1 and parent_group is None:
                i = data.get(pos[0])
                if type(i) is int and 0 <= i < max_index:
                    indices: tuple[int, ...] = (i,)
                    key = f"{group}/{i}"
            elif len(pos) == 2 and parent_group is not None:
                i, j = data.get(pos[0]), data.get(pos[1])
                if type(i) is int and type(j) is int and 0 <= i < max_index and 0 <= j < max_index:
                    indices = (i, j)
                    key = f"{group}/{i}/{j}"
                    parent_key = f"{parent_group}/{i}"
        if key is None:
            indices = self._indices(table, data, name)
            key = slot_key(group, indices)
            if parent_group is not None:
                parent_key = slot_key(parent_group, indices[:-1])
        created = name in c.created[kind]
        slots = state.slots
        parent: Tracker | None = None
        if parent_key is not None:
            found = slots.get(parent_key)
            parent = state.children[found[0]].get(found[1]) if found is not None else None
            if parent is None:
                where = spot(table.position[:-1], indices[:-1])
                reject(Code.UNKNOWN_ENTITY,
                       f"{name} at {where}: this flow has seen nothing there in "
                       f"{table.parent_group}", EntityRef(kind=kind, id=where))
            if parent.state in c.tables[parent.entity].terminal:
                reject(Code.EVENT_AFTER_TERMINAL,
                       f"{name} for {parent.label} after it ended {parent.state!r}", parent)
        found = slots.get(key)
        existing = state.children[found[0]].get(found[1]) if found is not None else None
        owner = parent.owner if parent is not None else None
        oid = obj.get("id") if type(obj) is dict else None
        if type(oid) is not str:  # no id, or one of another type (a rule may report it):
            oid = None            # the position identifies the entity
        root = state.root
        children_free = root is None or root.state in c.children_free
        if existing is None:
            if not children_free:
                self._check_root_allows(name, EntityRef(kind=kind, id=oid or key))
            root_state = state.root.state if state.root is not None else UNSEEN
            if not created and (obj is None or root_state not in c.root_table.adopt_children):
                reject(Code.UNKNOWN_ENTITY,
                       f"{name} for {kind} at {spot(table.position, indices)}, which this "
                       "flow has not seen begin", EntityRef(kind=kind, id=oid or key))
            if sum(map(len, state.children.values())) >= self.limits.max_entities:
                reject(Code.LIMIT_EXCEEDED,
                       f"{kind} at {key} would exceed max_entities={self.limits.max_entities}")
            if oid is None:
                oid = f"{parent.id if parent is not None else ''}:{indices[-1]}"
            elif oid in (state.children.get(kind) or ()):
                reject(Code.DUPLICATE_ENTITY, f"{name} for {kind} {oid}, which this flow "
                       "already has at another position", EntityRef(kind=kind, id=oid))
            tracker = Tracker(table, oid)
            tracker.slot = key
            tracker.owner = owner if owner is not None else oid
            new = True
        else:
            if not children_free:
                self._check_root_allows(name, existing.ref)
            if created:
                reject(Code.DUPLICATE_ENTITY,
                       f"{name} at {spot(table.position, indices)}, where this flow already "
                       f"has {existing.label} (state {existing.state!r})", existing)
            if existing.entity != kind:
                reject(Code.TYPE_CHANGE,
                       f"{name} says the {table.group} at {spot(table.position, indices)} "
                       f"is a {kind}, but it began as {existing.label}", existing)
            if oid is not None and parent is None and oid != existing.id:
                self._violate(Code.ITEM_ID_MISMATCH, state.index - 1, name, existing.ref,
                              f"{name} gives the entity at {spot(table.position, indices)} "
                              f"the id {shorten(oid)}, but it began as {existing.id}; the "
                              "position is followed")
            tracker, new = existing, False
        named_by = table.named_by
        if named_by is not None:
            # (a string naming the entity's own item needs no check: the common case)
            named = data.get(named_by) if fast and type(data) is dict else None
            if type(named) is not str or named != tracker.owner:
                self._check_named(table, data, tracker, name)
        return tracker, new

    def _indices(self, table: EntityTable, data: Any, name: str) -> tuple[int, ...]:
        max_index = self.limits.max_index
        pos = table.position
        if type(data) is dict and self.fast_paths:  # the common case: valid indices
            if len(pos) == 1:
                i = data.get(pos[0])
                if type(i) is int and 0 <= i < max_index:
                    return (i,)
            elif len(pos) == 2:
                i, j = data.get(pos[0]), data.get(pos[1])
                if type(i) is int and type(j) is int and 0 <= i < max_index and 0 <= j < max_index:
                    return (i, j)
        out = []
        for fld in table.position:
            value = data.get(fld) if type(data) is dict else None
            if type(value) is not int or value < 0:
                reject(Code.MALFORMED_EVENT, Misfit(
                    f"the data of {name}: {fld}: expected an index (an integer >= 0), got "
                    f"{shorten(value)}", fld))
            if value >= max_index:
                reject(Code.LIMIT_EXCEEDED,
                       f"the data of {name}: {fld} {value} exceeds the limit {max_index}")
            out.append(value)
        return tuple(out)

    def _slot(self, group: str | None, indices: tuple[int, ...]) -> Tracker | None:
        found = self._s.slots.get(slot_key(group, indices))
        return self._s.children[found[0]].get(found[1]) if found is not None else None

    def _check_named(self, table: EntityTable, data: Any, tracker: Tracker, name: str) -> None:
        """An event whose ``named_by`` field names another id than the entity at its
        first position (GitHub Copilot rotates ``item_id`` on every event): reported,
        and the position is followed."""
        owner = tracker.owner
        named_by = table.named_by
        if named_by is None or type(data) is not dict:
            return
        named = data.get(named_by)
        if named is None and named_by not in data:
            return
        if type(named) is not str:
            reject(Code.MALFORMED_EVENT, Misfit(f"the data of {name}: {named_by}: expected a "
                                                f"string, got {json_type(named)}", named_by))
        if named != owner:
            self._violate(Code.ITEM_ID_MISMATCH, self._s.index - 1, name, tracker.ref,
                          f"{name}'s {named_by} is {shorten(named)}, but the entity at its "
                          f"position belongs to {owner}; the position is followed")

    def _adopt(self, tracker: Tracker, obj: Any) -> None:
        """Register an entity the flow sees for the first time (created or adopted)."""
        state = self._s
        c = self._c
        kind = tracker.entity
        if kind == c.scope:
            state.scope = tracker
            state.scope_id = tracker.id
            return
        if kind == c.root:
            state.root = tracker
            state.root_id = tracker.id
        else:
            add_child(state.children, tracker)
            if tracker.slot is not None:
                state.slots[tracker.slot] = (kind, tracker.id)
        table = c.tables[kind]
        for fld, other in table.links.items():
            value = obj.get(fld) if obj is not None else None
            if type(value) is str:
                if other == c.root and state.root_id is None:
                    state.root_id = value
                elif other == c.scope and state.scope_id is None:
                    state.scope_id = value
