"""Delta events: the hot path, no machine involved.

A delta never changes state: it is checked against the table directly (the
entity's state must allow it, the root's state must allow children to grow) and
merged into the entity's accumulator (:class:`runflow.engine.accumulator.Accumulator`),
which validates the whole delta first and applies all or nothing. An entity that
reached its limit stops growing and says so once.

Most of a stream is deltas, and most of them grow the entity the delta before
grew: while no other event came, that entity is kept with what was checked of it
(``_last_delta``), and a delta with the same name and the very same index objects
(small ints are shared) or id string (pydantic_core's parse shares short strings)
only has its item's name checked again, and an id-named one its delta's type.
Otherwise a positioned entity is found by one dict lookup of the indices the delta
carries (the general path, :meth:`Deltas._placed`, names whatever is wrong with
them), one named by its id by one lookup of it, the entity its limit counts
against kept on the tracker once found (:meth:`Deltas._budget`). Keeping id-named
entities too spares their deltas the call that finds and checks the entity (the
Assistants library loop on a 3 MB stream: 539.4M -> 487.2M instructions).
"""

from __future__ import annotations

from typing import Any, NoReturn, cast

from runflow.engine.accumulator import OVER_LIMIT, Problem
from runflow.engine.core import reject, slot_key, spot
from runflow.engine.definition import EntityTable
from runflow.engine.entities import UNKNOWN_BUDGET, Tracker
from runflow.engine.resolving import Resolving
from runflow.engine.shapes import Misfit, json_type, within
from runflow.engine.violations import Code, EntityRef

__all__ = ["Deltas"]


class Deltas(Resolving):
    """Delta events (a mixin of :class:`runflow.engine.flow.Flow`)."""

    def _on_delta(self, kind: str, name: str, data: Any, index: int) -> None:
        last = self._last_delta
        if (last is not None and type(data) is dict and last[0] == name
                and data.get(last[1]) is last[2] and data.get(last[3]) is last[4]):
            # the entity the last delta grew, with no other event since (_process drops
            # it then): its states, the root's and the limits reached are as they were
            # checked then; its item's name is checked again
            _, _, _, _, _, tracker, budget, table, named_by, body = last
            if named_by is not None and data.get(named_by) != tracker.owner:
                self._check_named(table, data, tracker, name)
            if body == "":
                delta: Any = data
            else:  # an entity named by its id (a positioned one is kept when its data
                delta = data.get(body)  # is its delta): its delta is an object
                if type(delta) is not dict:
                    self._malformed(table, name, data)
        else:
            found = self._delta_entity(kind, name, data)
            if found is None:
                return  # the entity reached a limit and stopped growing
            tracker, budget, delta = found
        acc = tracker.acc
        if acc is None:  # build_protocol gives every kind with deltas an accumulator
            raise TypeError(f"{tracker.label} takes deltas but has no accumulator")
        limits = self.limits
        limit: int = getattr(limits, acc.limit)
        result = acc.merge(delta, limit - budget.size, limits.max_index)
        if result is None:
            return
        if type(result) is not int:
            code, message = cast(Problem, result)
            reject(code, message, tracker)
        if result == OVER_LIMIT:
            self._last_delta = None  # a limit reached: the next delta is looked at again
            self._s.capped.update((tracker.label, budget.label))
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

    def _delta_entity(self, kind: str, name: str, data: Any
                      ) -> tuple[Tracker, Tracker, Any] | None:
        """The entity a delta grows, the one its limit counts against and the delta's
        body, checked (the entity found, its state and the root's allow deltas); None
        when it reached a limit and stopped growing. Kept for the next delta
        (:attr:`_last_delta`) when it was found by its position."""
        s = self._s
        c = self._c
        table = c.tables[kind]
        pos = table.position
        if pos:
            # the fast path: valid indices naming an entity of this kind (the general
            # path, _placed, rejects anything else with the reason)
            found = None
            if type(data) is dict and self.fast_paths:
                if len(pos) == 2:  # a part's delta (output_index, content_index)
                    i, j = data.get(pos[0]), data.get(pos[1])
                    if type(i) is int and type(j) is int and i >= 0 and j >= 0:
                        found = s.slots.get(f"{table.group}/{i}/{j}")
                elif len(pos) == 1:  # an item's delta (output_index)
                    i = data.get(pos[0])
                    if type(i) is int and 0 <= i < self.limits.max_index:
                        found = s.slots.get(f"{table.group}/{i}")
            if found is not None and found[0] == table.entity:
                tracker = s.children[found[0]][found[1]]
                named_by = table.named_by
                if named_by is not None and data.get(named_by) != tracker.owner:
                    self._check_named(table, data, tracker, name)
            else:
                tracker = self._placed(table, name, data)
            delta = data if table.delta_body == "" else data.get(table.delta_body)
        else:
            oid = data.get(table.delta_id) if type(data) is dict else None
            delta = data.get(table.delta_body) if type(data) is dict else None
            if type(oid) is not str or not oid or type(delta) is not dict:
                self._malformed(table, name, data)
            known = s.children[kind].get(oid)
            if known is None:
                reject(
                    Code.UNKNOWN_ENTITY,
                    f"{name} for {kind} {oid}, which this flow never saw; a delta carries no "
                    "full object, so it cannot be adopted",
                    EntityRef(kind=kind, id=oid),
                )
            tracker = known
        root = s.root
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
        budget = tracker.budget
        if budget is UNKNOWN_BUDGET or not self.fast_paths:
            budget = self._budget(table, tracker)
        elif budget is None:
            budget = tracker
        capped = s.capped
        if capped:
            if tracker.label in capped:
                return None  # the entity reached a limit and stopped growing
            if budget.label in capped:  # its item did: this part stops too (and is not
                capped.add(tracker.label)  # compared with the server's value later)
                return None
        elif self.fast_paths and type(data) is dict:
            # the next delta with the same name and the very same index objects (small
            # ints are shared) or id string (pydantic_core's parse shares short
            # strings) is about this entity (checked above but its item's name)
            if not pos:
                self._last_delta = (name, table.delta_id, data.get(table.delta_id), None,
                                    None, tracker, budget, table, None, table.delta_body)
            elif table.delta_body == "":
                self._last_delta = (name, pos[0], data.get(pos[0]),
                                    pos[1] if len(pos) > 1 else None,  # (a dict from
                                    data.get(pos[1]) if len(pos) > 1 else None,  # JSON
                                    tracker, budget, table,  # has no None key: get(None)
                                    table.named_by, "")  # is None)
        return tracker, budget, delta

    def _malformed(self, table: EntityTable, name: str, data: Any) -> NoReturn:
        """Reject the data of a delta named by its id that is not an object holding a
        non-empty id and a delta object, saying what is wrong with it."""
        shape = table.delta_shape
        problem = shape.problem(data) if shape is not None else None
        reject(Code.MALFORMED_EVENT,
               within(f"the data of {name}: ", problem or "not a delta object"))

    def _budget(self, table: EntityTable, tracker: Tracker) -> Tracker:
        """The entity a limit counts: a part's deltas count against the item that holds
        it (``max_message_chars`` is per message, whatever its parts), any other
        entity's against itself. Kept on the tracker (None: itself): a part is only
        ever placed where its item already is, and neither moves."""
        slot = tracker.slot
        found = None
        if table.parent_group is not None and slot is not None and table.group is not None:
            found = self._s.slots.get(
                table.parent_group + slot[len(table.group):].rpartition("/")[0])
        item = self._s.children[found[0]].get(found[1]) if found is not None else None
        tracker.budget = item
        return item if item is not None else tracker

    def _placed(self, table: EntityTable, name: str, data: Any) -> Tracker:
        """The positioned entity a delta is about (deltas never create one), found by
        the general path: every index checked, and a missing entity named."""
        if type(data) is not dict:
            reject(Code.MALFORMED_EVENT, Misfit(f"the data of {name}: expected an object, got "
                                                f"{json_type(data)}", ""))
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
