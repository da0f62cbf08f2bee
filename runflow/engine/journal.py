"""The undo journal of a status event: what applying it may change, to put back.

Every check runs before a status event is applied, so applying it cannot fail --
unless runflow has a bug. If it does, the flow must still be exactly as it was
before the event (the event is reported as an internal error, not half-applied):
:meth:`Journal._save` records what applying may change, :meth:`Journal._restore`
puts it back.
"""

from __future__ import annotations

from typing import Any

from runflow.engine.core import FlowCore
from runflow.engine.entities import Tracker

__all__ = ["Journal"]


class Journal(FlowCore):
    """Save and restore around one status event (a mixin of
    :class:`runflow.engine.flow.Flow`).

    What only a violation changes (the violations, their counters, the strict error,
    the callbacks queued) is saved by the first violation the event reports while it
    is applied (:meth:`runflow.engine.core.FlowCore._violate`, into ``_undo_said``), not
    by :meth:`_save`: nearly every event reports none, and then nothing of it is
    copied."""

    def _save(self, tracker: Tracker, new: bool) -> tuple[Any, ...]:
        """What applying a status event may change, to undo one that fails half-way
        (only a bug can make it fail: every check ran before). A ``new`` entity is
        dropped whole on undo, so only what registering it changed (root, scope and
        their ids) is kept; an entity the flow had keeps its own fields. Opens the
        record the event's first violation completes (:meth:`_close_undo` ends it)."""
        s = self._s
        history = s.history
        marks = s.marks
        if new:
            entity: tuple[Any, ...] = (s.root, s.scope, s.root_id, s.scope_id)
        else:
            acc = tracker.acc
            entity = (tracker.state, tracker.raw, tracker.typed, tracker.status_override,
                      tracker.recovered, acc.save() if acc is not None else None)
        self._undo_open = True
        self._undo_said = None
        # a clean stream's notes are empty: nothing to copy (None, which _restore puts
        # back as empty)
        return (
            entity, s.stream_moves, len(history), history[-1] if history else None,
            s.history_dropped, {k: len(v) for k, v in marks.items()} if marks else None,
        )

    def _close_undo(self) -> None:
        """The status event applied whole (or was undone): its record is closed."""
        self._undo_open = False
        self._undo_said = None

    def _restore(self, tracker: Tracker, saved: tuple[Any, ...], new: bool) -> None:
        s = self._s
        (entity, s.stream_moves, history, last, s.history_dropped, marks) = saved
        said = self._undo_said
        self._close_undo()
        if s.root is not None:  # what rules derived from the objects put back is made
            s.root.memo = None  # again from them (a memo may span several entities)
        if new:
            s.root, s.scope, s.root_id, s.scope_id = entity
            if tracker.entity in s.children:
                s.children[tracker.entity].pop(tracker.id, None)
                if tracker.slot is not None:
                    s.slots.pop(tracker.slot, None)
        else:
            (tracker.state, tracker.raw, tracker.typed, tracker.status_override,
             tracker.recovered, acc) = entity
            if acc is not None and tracker.acc is not None:
                tracker.acc.restore(acc)
        marks = marks or {}
        del s.history[history:]
        if last is not None:
            s.history[-1] = last  # a repeated self-loop counts on the last entry
        for name in [k for k in s.marks if k not in marks]:
            del s.marks[name]
        for name, count in marks.items():
            taken = s.marks[name]
            while len(taken) > count:
                taken.popitem()  # the notes this event took are the last ones
        if said is not None:  # the event reported violations before it failed
            (violations, repeats, suppressed, expected, self._first_error, pending) = said
            s.repeats, s.suppressed, s.expected = (
                repeats or {}, suppressed or {}, expected or {})
            del s.violations[violations:]
            if pending is not None and self._hooks is not None:
                # enter callbacks were staged, not queued (see _entered): only the
                # violation callbacks of this event are in the queue
                del self._hooks.pending[pending:]
