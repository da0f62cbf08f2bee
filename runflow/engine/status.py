"""Status events: full objects that move an entity through its table.

An event is checked whole before anything changes -- its payload's shape, the
entity it is about (:mod:`runflow.engine.resolving`), the transition table, the
``check`` rules -- then applied: the server's object becomes the snapshot (compared
first with what deltas built, at a final object), the state moves through the
shared ``transitions`` machine, whose on-enter hooks stage the enter callbacks, and
the ``after`` rules run. If applying fails half-way (only a bug can make it), the
journal (:mod:`runflow.engine.journal`) puts the flow back as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from runflow.engine.accumulator import MISSING, shorten
from runflow.engine.core import SCREEN_FROM, may_overflow, reject
from runflow.engine.definition import EntityTable, Rule
from runflow.engine.entities import Tracker
from runflow.engine.journal import Journal
from runflow.engine.jsonparse import has_non_finite
from runflow.engine.machines import Compiled, trigger_name
from runflow.engine.resolving import Resolving
from runflow.engine.shapes import Misfit, json_type, within
from runflow.engine.state import state_change
from runflow.engine.violations import Code, EntityRef

__all__ = ["StatusEvents"]


class Plan(NamedTuple):
    """What a status event does to one entity kind: the definition's lookups for it,
    gathered once (:func:`_plan`) and kept in the compiled definition's
    :attr:`~runflow.engine.machines.Compiled.plans`. The hot path then does one dict
    lookup for all of them; the definition stays their only source."""

    table: EntityTable
    lookup: Mapping[tuple[str, str], str]
    """The table's moves, ``(state, event) -> dest``."""
    chosen: frozenset[str] | None
    """The destinations the object's status may choose instead (None: none)."""
    check_rules: tuple[tuple[Rule, bool], ...]
    """The ``check`` rules, each with whether it sees the event's whole data."""
    after: Mapping[str, tuple[tuple[Rule, bool], ...]]
    """By destination, the ``after`` rules that run there, each with whether it sees
    the event's whole data."""
    final: bool
    """The event carries a finished object of what deltas grew."""
    moves: Mapping[tuple[str, str], str] | None
    """The machine's move table (:func:`runflow.engine.machines.move_table`)."""
    steps: Mapping[str, tuple[str, str | None]]
    """By source state, where the event leads by default and the state the machine
    then enters: the table's move and the machine's, read once from ``lookup`` and
    ``moves`` (None: a self-loop, which the machine runs as an internal transition,
    or no move table: the move then goes through ``transitions``). A state missing
    here does not allow the event."""


def _plan(c: Compiled, kind: str, name: str) -> Plan:
    table = c.tables[kind]
    after_rules = c.after_rules.get((kind, name), ())
    lookup, moves = c.lookup[kind], c.moves[kind]
    steps = {source: (dest, moves.get((source, name)) if moves is not None else None)
             for (source, event), dest in lookup.items() if event == name}
    return Plan(
        table, lookup, c.status_dests.get((kind, name)),
        tuple((rule, rule.sees == "data") for rule in c.check_rules.get((kind, name), ())),
        {dest: tuple((rule, rule.sees == "data") for rule in after_rules
                     if rule.states is None or dest in rule.states)
         for dest in table.states},
        name in c.final_object_events, moves, steps,
    )


class StatusEvents(Resolving, Journal):
    """Status events (a mixin of :class:`runflow.engine.flow.Flow`)."""

    def _on_status(
        self, kind: str | None, name: str, data: Any, index: int, offset: int | None
    ) -> None:
        c = self._c
        carries = c.carries[name]
        problem: str | None  # a Misfit where it names the field
        if carries == "":
            obj = data
        else:
            event_shape = c.event_shapes.get(name)
            problem = (event_shape.problem(data)
                       if event_shape is not None and not event_shape.fits(data) else None)
            if problem is None and type(data) is not dict:
                problem = Misfit(f"expected an object, got {type(data).__name__}", "")
            if problem is not None:
                where = f" (byte {offset})" if offset is not None else ""
                reject(Code.MALFORMED_EVENT, within(f"the data of {name}{where}: ", problem))
            obj = data.get(carries) if carries is not None else None
            if carries is not None and type(obj) is not dict:
                reject(Code.MALFORMED_EVENT, Misfit(f"the data of {name}: {carries}: expected "
                                                    f"an object, got {json_type(obj)}", carries))
        if kind is None:  # a shared event: the object's discriminator picks the table
            tag = obj.get("type") if type(obj) is dict else None
            kind = c.dispatch[name].get(tag) if type(tag) is str else None
            if kind is None:
                kind = self._dispatch(name, obj)
        plans = c.plans
        plan = plans.get((kind, name))
        if plan is None:
            plan = plans[(kind, name)] = _plan(c, kind, name)
        table, lookup, chosen, check_rules, _, _, _, steps = plan
        shape = table.shape
        problem = (shape.problem(obj, carries or "")
                   if shape is not None and carries is not None and not shape.fits(obj) else None)
        if problem is None and not self._finite:
            raw = self._raw  # the screen of its bytes first, where it is the cheaper
            if ((raw is None or len(raw) < SCREEN_FROM or may_overflow(raw))
                    and has_non_finite(obj if carries is not None else data)):
                problem = "a number is NaN or infinite, which JSON cannot hold"
        if problem is not None:
            where = f" (byte {offset})" if offset is not None else ""
            reject(Code.MALFORMED_EVENT, within(f"the data of {name}{where}: ", problem))
        tracker, new = (self._locate(table, obj, data, name) if table.position
                        else self._resolve(table, obj, name))
        state = tracker.state
        step = steps.get(state)
        if step is None:
            allowed = sorted(e for (s, e) in lookup if s == state)
            reject(
                Code.INVALID_TRANSITION,
                f"{name} is not allowed for {tracker.label} in state {state!r}; "
                f"allowed: {', '.join(allowed) or 'nothing (terminal)'}",
                tracker,
            )
        dest = step[0]
        if chosen is not None and obj is not None and table.status_field is not None:
            if obj.get(table.status_field) in chosen:
                dest = obj[table.status_field]
        if check_rules:
            flow_state = self._s
            for rule, sees_data in check_rules:
                for found in rule.check(flow_state, tracker, data if sees_data else obj, name):
                    if rule.code is not None:  # (None: a rule that only takes notes)
                        reject(rule.code, found.message, found.entity or tracker)
        # -- accepted from here on: apply, then move, then the after rules --
        saved = self._save(tracker, new)
        hooks = self._hooks
        if hooks is not None:
            self._staged = []
        try:
            self._apply_status(tracker, plan, obj, data, name, index, state, dest, step, new)
        except BaseException:
            self._staged = None
            self._restore(tracker, saved, new)  # applied whole or not at all
            raise
        self._undo_open = False  # (what _close_undo does, inline)
        if self._undo_said is not None:
            self._undo_said = None
        if hooks is not None:
            staged, self._staged = self._staged, None
            if staged:
                hooks.entered_at(self._s, staged)

    def _dispatch(self, name: str, obj: Any) -> str:
        """The table a shared event's object picks by its ``type``."""
        tags = self._c.dispatch[name]
        tag = obj.get("type") if type(obj) is dict else None
        kind = tags.get(tag) if type(tag) is str else None
        if kind is None:
            kind = tags.get("*")
        if kind is None:
            carries = self._c.carries[name]
            reject(Code.MALFORMED_EVENT, Misfit(
                f"the data of {name}: type {shorten(tag)} is none of "
                f"{', '.join(sorted(t for t in tags if t != '*'))}",
                f"{carries}.type" if carries else "type"))
        return kind

    def _apply_status(self, tracker: Tracker, plan: Plan, obj: Any, data: Any, name: str,
                      index: int, state: str, dest: str, step: tuple[str, str | None],
                      new: bool) -> None:
        table, _, _, _, after, final, _, _ = plan
        s = self._s
        if new:
            self._adopt(tracker, obj)
        if final and tracker.deltas and tracker.label not in s.capped:
            self._check_divergence(tracker, obj if obj is not None else data, name, index)
        acc = tracker.acc
        if obj is not None:
            # merge_server_object, inlined: the server's object becomes the snapshot
            tracker.raw = obj
            tracker.typed = None
            tracker.status_override = None
            if acc is not None:
                acc.absorb(obj)
            status_field = table.status_field
            if status_field is not None:
                status = obj.get(status_field)
                if status != dest and (status is not None or status_field in obj):
                    self._status_mismatch(tracker, table, name, index, status, dest)
        elif acc is not None:
            tracker.typed = None
            acc.absorb(data)  # a value event (``output_text.done``) ends the value
        # the move (a self-loop is an internal transition: nothing to run)
        history = s.history
        if dest != state:
            default, entered = step
            if dest == default and entered is not None:
                tracker.state = entered  # the machine's own move, read off it (machines.py)
                if self._hooks is not None:
                    self._entered(tracker, entered)
            else:
                self._move(tracker, plan, name, state, dest, default)
            if tracker is s.root:
                s.stream_moves += 1
            # a change of state is never counted on the last entry (see _record)
            if len(history) < self.limits.max_history:
                history.append(state_change(index, table.entity, tracker.id, name, state, dest))
            else:
                s.history_dropped += 1
        else:
            self._record(tracker, table.entity, name, state, dest, index)
        rules = after[dest]
        if rules:
            for rule, sees_data in rules:
                for found in rule.check(s, tracker, data if sees_data else obj, name):
                    if rule.code is not None:
                        self._found(rule.code, found, tracker, name, index)

    def _move(self, tracker: Tracker, plan: Plan, name: str, state: str, dest: str,
              default: str) -> None:
        """A move to a destination the object's status chose, or of a machine with no
        move table: its trigger, looked up in the table or run by ``transitions``."""
        trigger = trigger_name(name, dest, default)
        if plan.moves is not None:
            tracker.state = entered = plan.moves[(state, trigger)]
            if self._hooks is not None:
                self._entered(tracker, entered)
        else:
            self._c.machines[plan.table.entity].events[trigger].trigger(tracker, self)

    def _status_mismatch(self, tracker: Tracker, table: EntityTable, name: str, index: int,
                         status: Any, dest: str) -> None:
        """The object's status disagrees with the state the event leads to."""
        if table.status_from_event:
            tracker.status_override = dest
            what = f"the event name is followed and {tracker.label} is now {dest!r}"
        else:
            what = (f"{tracker.label} is now {dest!r} and its snapshot keeps the "
                    "server's status")
        self._violate(Code.STATUS_MISMATCH, index, name, tracker.ref,
                      f"{name} carries {table.status_field} {shorten(status)}; {what}",
                      table.status_mismatch)

    def _record(self, tracker: Tracker, kind: str, event: str, source: str, dest: str,
                index: int) -> None:
        """Write a state change in the history: a self-loop repeated is counted on the
        last entry."""
        state = self._s
        history = state.history
        if source == dest and history and not state.history_dropped:
            # (once changes are dropped, the last entry is no longer the last change)
            last = history[-1]
            if (last.event == event and last.id == tracker.id and last.dest == dest
                    and last.source == dest and last.entity == kind):
                history[-1] = state_change(last.index, kind, last.id, event, source, dest,
                                           last.count + 1)
                return
        if len(history) < self.limits.max_history:
            history.append(state_change(index, kind, tracker.id, event, source, dest))
        else:
            state.history_dropped += 1

    def _report(self, rule: Any, tracker: Tracker, data: Any, name: str, index: int) -> None:
        """Run an ``after`` rule and report what it finds (objects recovered over REST;
        the status events run theirs in :meth:`_apply_status`)."""
        for found in rule.check(self._s, tracker, data, name):
            if rule.code is not None:
                self._found(rule.code, found, tracker, name, index)

    def _found(self, code: Code, found: Any, tracker: Tracker, name: str, index: int) -> None:
        """Report what an ``after`` rule found."""
        entity = found.entity or tracker
        ref = entity if isinstance(entity, EntityRef) else entity.ref
        self._violate(code, index, name, ref, found.message, found.severity)

    def _check_divergence(self, tracker: Tracker, obj: Any, name: str, index: int) -> None:
        acc = tracker.acc
        if acc is None:  # only entities that deltas grew are compared
            return
        for path, ours, theirs in acc.diverge(obj):
            kept = ("the rebuilt value is kept" if theirs == MISSING
                    else "the server's value is kept")
            self._violate(
                Code.SNAPSHOT_DIVERGENCE, index, name, tracker.ref,
                f"{path}: rebuilt from deltas {shorten(ours)} but the server sent "
                f"{shorten(theirs)}; {kept}",
            )
