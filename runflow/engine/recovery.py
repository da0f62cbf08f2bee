"""Recovery: full objects read over REST after a cut stream.

After a cut stream the protocol has no resume: the only way to learn what
happened is to poll. A recovered object may jump over states the flow never saw,
so it bypasses the transition table, but it goes through the same resolution as a
streamed event and the rules marked ``recovered``.
"""

from __future__ import annotations

from pydantic import BaseModel

from runflow.engine.accumulator import shorten
from runflow.engine.core import Rejected
from runflow.engine.entities import merge_server_object
from runflow.engine.state import RECOVERED, StateChange
from runflow.engine.status import StatusEvents

__all__ = ["Recovery", "RecoveryError"]


class RecoveryError(ValueError):
    """An object that cannot be recovered into this flow (another run, unknown
    status, not an object of the protocol)."""


class Recovery(StatusEvents):
    """:meth:`recover` (a mixin of :class:`runflow.engine.flow.Flow`)."""

    def recover(self, obj: BaseModel) -> bool:
        """Apply a full object read over REST after a cut (an object of one of the
        definition's snapshot types: for Assistants a ``Run``, ``RunStep`` or
        ``Message``); return True when the entity changed state.

        After a cut stream the protocol has no resume: the only way to learn what
        happened is to poll. A recovered object may jump over states the flow never
        saw, so it bypasses the transition table, but it goes through the same
        resolution as a streamed event (another run or thread is refused) and the
        rules marked ``recovered``; the change is recorded in :attr:`history` with
        event ``"recovered"`` and fires the enter callbacks of the new state.
        Raises :class:`RecoveryError`.
        """
        self._last_delta = None  # states may change here
        c = self._c
        kind = c.kind_of_model.get(type(obj))
        if kind is None:
            names = ", ".join(m.__name__ for m in c.kind_of_model)
            raise RecoveryError(f"cannot recover a {type(obj).__name__}; expected {names}")
        table = c.tables[kind]
        data = obj.model_dump(mode="json", exclude_unset=True, warnings=False)
        problem = table.shape.problem(data) if table.shape is not None else None
        if problem is not None:
            raise RecoveryError(f"the {kind} object cannot be recovered: {problem}")
        status = data.get(table.status_field) if table.status_field else None
        if status not in table.states or status == table.initial:
            raise RecoveryError(f"{kind} {data['id']} has status {shorten(status)}, not one "
                                f"of {table.states[1:]}")
        try:
            tracker, new = self._resolve(table, data, RECOVERED, recovered=True)
        except Rejected as rejected:
            raise RecoveryError(rejected.message) from None
        source = tracker.state
        if new:
            self._adopt(tracker, data)
        merge_server_object(tracker, data)
        tracker.recovered = True
        for rule in c.recovered_rules[kind]:
            self._report(rule, tracker, data, RECOVERED, self._s.index)
        if source == status:
            self._finish_event()
            return False
        c.machines[kind].set_state(status, model=tracker)
        if tracker is self._s.root:
            self._s.stream_moves += 1
        self._s.history.append(StateChange(self._s.index, kind, tracker.id, RECOVERED,
                                           source, str(status)))
        self._entered(tracker, str(status))
        self._finish_event()
        return True
