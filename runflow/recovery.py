"""Reconciliation: bring a flow up to date from objects read over REST.

After a cut stream (ending ``truncated``) or an ``error`` event, the protocol has
no resume: the only way to learn what happened is to poll -- retrieve the run,
list its steps, list the thread's messages. :func:`recover` feeds such an object
into the flow as a *recovered* full object. It is not a stream event: it may
jump over states the flow never saw (a run that went from in_progress to
completed while the connection was down), so it bypasses the transition table,
but it still only ever moves an entity to one of the table's states. The change
is recorded in ``flow.history`` with event ``"recovered"`` and fires the enter
callbacks of the new state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep
from pydantic import BaseModel

from .entities import Tracker, merge_server_object
from .machines import MACHINES
from .protocol import PROTOCOL, Entity
from .view import StateChange

if TYPE_CHECKING:
    from .flow import RunFlow

__all__ = ["RECOVERED", "RecoveryError", "recover"]

RECOVERED = "recovered"
"""The ``event`` of a :class:`runflow.StateChange` made by :func:`recover`."""

_ENTITY_OF: dict[type[BaseModel], Entity] = {Run: Entity.RUN, RunStep: Entity.STEP,
                                             Message: Entity.MESSAGE}


class RecoveryError(ValueError):
    """The object cannot be recovered into this flow (another run, unknown status)."""


def recover(flow: RunFlow, obj: Run | RunStep | Message) -> bool:
    """Apply a full object read over REST; return True when the entity changed state."""
    entity = _ENTITY_OF.get(type(obj))
    if entity is None:
        raise RecoveryError(
            f"cannot recover a {type(obj).__name__}; expected Run, RunStep or Message"
        )
    data = obj.model_dump(mode="json", exclude_unset=True, warnings=False)
    state = data.get("status")
    table = PROTOCOL.tables[entity]
    if state not in table.states:
        raise RecoveryError(
            f"{entity.value} {obj.id} has status {state!r}, not one of {table.states}"
        )
    tracker = _tracker(flow, entity, obj.id, data)
    source = tracker.state
    merge_server_object(tracker, data)
    tracker.recovered = True
    if source == state:
        return False
    MACHINES[entity].set_state(state, model=tracker)
    flow.history.append(StateChange(flow.events, entity, obj.id, RECOVERED, source, str(state)))
    flow._entered(tracker, str(state))
    flow._finish_event()
    return True


def _tracker(flow: RunFlow, entity: Entity, oid: str, data: dict[str, object]) -> Tracker:
    if entity is Entity.RUN:
        if flow._run_id is not None and flow._run_id != oid:
            raise RecoveryError(f"run {oid} is not this flow's run {flow._run_id}")
        if flow._run is None:
            flow._run = Tracker(Entity.RUN, oid)
            flow._run_id = oid
        return flow._run
    run_id = data.get("run_id")
    if flow._run_id is not None and run_id is not None and run_id != flow._run_id:
        raise RecoveryError(f"{entity.value} {oid} belongs to run {run_id}, not {flow._run_id}")
    table = flow._steps if entity is Entity.STEP else flow._messages
    tracker = table.get(oid)
    if tracker is None:
        tracker = table[oid] = Tracker(entity, oid)
    return tracker
