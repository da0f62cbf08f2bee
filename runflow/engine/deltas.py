"""Delta events: the hot path, no machine involved.

A delta never changes state: it is checked against the table directly (the
entity's state must allow it, the root's state must allow children to grow) and
merged into the entity's accumulator (:class:`runflow.engine.accumulator.Accumulator`),
which validates the whole delta first and applies all or nothing. An entity that
reached its limit stops growing and says so once.
"""

from __future__ import annotations

from typing import Any, cast

from runflow.engine.accumulator import OVER_LIMIT, Problem
from runflow.engine.core import reject, slot_key, spot
from runflow.engine.definition import EntityTable
from runflow.engine.entities import Tracker
from runflow.engine.resolving import Resolving
from runflow.engine.shapes import json_type
from runflow.engine.violations import Code, EntityRef

__all__ = ["Deltas"]


class Deltas(Resolving):
    """Delta events (a mixin of :class:`runflow.engine.flow.Flow`)."""

    def _on_delta(self, kind: str, name: str, data: Any, index: int) -> None:
        c = self._c
        table = c.tables[kind]
        if table.position:
            tracker = self._placed(table, name, data)
            delta = data if table.delta_body == "" else data.get(table.delta_body)
        else:
            oid = data.get(table.delta_id) if type(data) is dict else None
            delta = data.get(table.delta_body) if type(data) is dict else None
            if type(oid) is not str or not oid or type(delta) is not dict:
                shape = table.delta_shape
                problem = shape.problem(data) if shape is not None else None
                reject(Code.MALFORMED_EVENT,
                       f"the data of {name}: {problem or 'not a delta object'}")
            found = self._s.children[kind].get(oid)
            if found is None:
                reject(
                    Code.UNKNOWN_ENTITY,
                    f"{name} for {kind} {oid}, which this flow never saw; a delta carries no "
                    "full object, so it cannot be adopted",
                    EntityRef(kind=kind, id=oid),
                )
            tracker = found
        root = self._s.root
        if root is not None and root.state not in c.delta_root_states:
            self._check_root_allows(name, tracker.ref)
        allowed = c.delta_states[name]
        if tracker.state not in allowed:
            reject(
                Code.INVALID_TRANSITION,
                f"{name} is not allowed for {tracker.label} in state {tracker.state!r}; "
                f"deltas are allowed in {', '.join(sorted(allowed))}",
                tracker,
            )
        budget = self._budget(table, tracker)
        capped = self._s.capped
        if tracker.label in capped:
            return  # the entity reached a limit and stopped growing
        if budget.label in capped:  # its item did: this part stops too (and is not
            capped.add(tracker.label)  # compared with the server's value later)
            return
        acc = tracker.acc
        if acc is None:  # build_protocol gives every kind with deltas an accumulator
            raise TypeError(f"{tracker.label} takes deltas but has no accumulator")
        limit: int = getattr(self.limits, acc.limit)
        result = acc.merge(delta, limit - budget.size, self.limits.max_index)
        if result is None:
            return
        if type(result) is not int:
            code, message = cast(Problem, result)
            reject(code, message, tracker)
        if result == OVER_LIMIT:
            capped.update((tracker.label, budget.label))
            self._violate(
                Code.LIMIT_EXCEEDED, index, name, budget.ref,
                f"{budget.label} would grow past {acc.limit}={limit}; it stops growing here",
            )
            return
        tracker.size += result
        if budget is not tracker:
            budget.size += result
        tracker.deltas += 1
        tracker.typed = None
        if self._hooks is not None:
            self._hooks.delta(self._s, tracker, delta)

    def _budget(self, table: EntityTable, tracker: Tracker) -> Tracker:
        """The entity a limit counts: a part's deltas count against the item that holds
        it (``max_message_chars`` is per message, whatever its parts), any other
        entity's against itself."""
        slot = tracker.slot
        if table.parent_group is None or slot is None or table.group is None:
            return tracker
        found = self._s.slots.get(
            table.parent_group + slot[len(table.group):].rpartition("/")[0])
        if found is None:
            return tracker
        return self._s.children[found[0]].get(found[1], tracker)

    def _placed(self, table: EntityTable, name: str, data: Any) -> Tracker:
        """The positioned entity a delta is about (deltas never create one)."""
        if type(data) is not dict:
            reject(Code.MALFORMED_EVENT, f"the data of {name}: expected an object, got "
                   f"{json_type(data)}")
        state = self._s
        pos = table.position
        if len(pos) == 2:  # the fast path: a part's delta (output_index, content_index)
            i, j = data.get(pos[0]), data.get(pos[1])
            if type(i) is int and type(j) is int and i >= 0 and j >= 0:
                found = state.slots.get(f"{table.group}/{i}/{j}")
                if found is not None and found[0] == table.entity:
                    placed = state.children[found[0]][found[1]]
                    if table.named_by is not None and data.get(table.named_by) != placed.owner:
                        self._check_named(table, data, placed, name)
                    return placed
        indices = self._indices(table, data, name)
        tracker = self._slot(table.group, indices)
        if tracker is None or tracker.entity != table.entity:
            what = (f"is {tracker.label}" if tracker is not None
                    else "holds nothing this flow has seen begin")
            reject(Code.UNKNOWN_ENTITY,
                   f"{name} for a {table.entity} at {spot(table.position, indices)}, which "
                   f"{what}; a delta carries no object, so it cannot be adopted",
                   EntityRef(kind=table.entity, id=slot_key(table.group, indices)))
        if table.named_by is not None and data.get(table.named_by) != tracker.owner:
            self._check_named(table, data, tracker, name)
        return tracker
