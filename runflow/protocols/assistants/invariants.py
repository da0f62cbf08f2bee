"""The Assistants stream's payload invariants (:mod:`runflow.protocols.payload`).

The states come from the definition, not restated here: a run status added to the
run table is covered by every row that holds "in every state" (``object``, ``id``)
and by the open / terminal groups, and the pause state (``requires_action``, the
table's ``pauses``) is where ``required_action`` is set. :func:`invariants_of` builds
the rows for any variant of the definition (a recipe test adds a status to a copy).

Sources (:data:`runflow.protocols.payload.Source`): the ``object`` rows follow the
SDK's ``Literal`` types, the timestamp, ``usage``, ``last_error``,
``incomplete_details`` and ``required_action`` rows the API reference, which says per
status when each is set ("null if the run is not in a terminal state"); they are
errors. The id prefixes only the captures show: warnings.
"""

from __future__ import annotations

from runflow.engine.definition import Protocol
from runflow.protocols.assistants.definition import ASSISTANTS
from runflow.protocols.payload import Expect, Invariant, at, seen_states

__all__ = ["INVARIANTS", "invariants_of"]

_CAPTURES = "every Assistants capture"


def invariants_of(definition: Protocol) -> tuple[Invariant, ...]:
    """The rows for ``definition`` (the Assistants tables, or a variant of them)."""
    run, step, message = (definition.table(n) for n in ("run", "step", "message"))
    runs = seen_states(run)
    paused = [s for s in runs if s in run.pauses]
    # open: not terminal, not on the way to cancelled (cancelling, a closing state
    # that is not a pause)
    closing = run.children_closing - run.pauses
    open_ = [s for s in runs if s not in run.terminal and s not in closing]
    steps, messages = seen_states(step), seen_states(message)
    return (
        Invariant("payload.run.object", "run", "object", at(runs, Expect.EQUALS),
                  f"{_CAPTURES}; the SDK's Run.object is Literal['thread.run']",
                  value="thread.run", source="reference"),
        Invariant("payload.run.id", "run", "id", at(runs, Expect.PREFIX),
                  f"{_CAPTURES} (run_...)", value="run_"),
        Invariant("payload.run.started_at", "run", "started_at",
                  at("in_progress requires_action completed", Expect.SET),
                  f"{_CAPTURES}: set from in_progress on (null while first queued)",
                  source="reference"),
        Invariant("payload.run.expires_at", "run", "expires_at",
                  {**at(open_, Expect.SET), **at("completed", Expect.NULL)},
                  f"{_CAPTURES}: set until the run completes, then null", source="reference"),
        Invariant("payload.run.completed_at", "run", "completed_at",
                  {**at([*open_, *closing], Expect.NULL), "completed": Expect.SET},
                  f"{_CAPTURES}: null until completed", source="reference"),
        Invariant("payload.run.failed_at", "run", "failed_at",
                  {**at([*open_, *closing, "completed"], Expect.NULL),
                   "failed": Expect.SET},
                  f"{_CAPTURES} (null); no capture fails a run: the API reference sets it "
                  "at failed", source="reference"),
        Invariant("payload.run.cancelled_at", "run", "cancelled_at",
                  {**at([*open_, "completed"], Expect.NULL), "cancelled": Expect.SET},
                  f"{_CAPTURES} (null); no capture cancels a run: the API reference sets "
                  "it at cancelled", source="reference"),
        Invariant("payload.run.usage", "run", "usage",
                  {**at(open_, Expect.NULL), **at("completed incomplete", Expect.SET)},
                  f"{_CAPTURES}: 'null if the run is not in a terminal state' (API "
                  "reference); set at completed", source="reference"),
        Invariant("payload.run.last_error", "run", "last_error",
                  {**at([*open_, "completed", "incomplete"], Expect.NULL),
                   "failed": Expect.SET},
                  f"{_CAPTURES} (null): 'the last error associated with this run; null if "
                  "there are no errors' (API reference)", source="reference"),
        Invariant("payload.run.incomplete_details", "run", "incomplete_details",
                  {**at(open_, Expect.NULL), "incomplete": Expect.SET},
                  f"{_CAPTURES}: null while the run is open; an incomplete run says why "
                  "(completed with details is the violation incomplete_details_on_completed)",
                  source="reference"),
        Invariant("payload.run.required_action", "run", "required_action",
                  {**at([s for s in runs if s not in paused], Expect.NULL),
                   **at(paused, Expect.SET)},
                  f"{_CAPTURES}: set exactly at requires_action", source="reference"),
        Invariant("payload.step.object", "step", "object", at(steps, Expect.EQUALS),
                  f"{_CAPTURES}", value="thread.run.step", source="reference"),
        Invariant("payload.step.id", "step", "id", at(steps, Expect.PREFIX),
                  f"{_CAPTURES} (step_...)", value="step_"),
        Invariant("payload.step.completed_at", "step", "completed_at",
                  {"in_progress": Expect.NULL, "completed": Expect.SET},
                  f"{_CAPTURES}: null until the step completes", source="reference"),
        Invariant("payload.step.usage", "step", "usage",
                  {"in_progress": Expect.NULL, "completed": Expect.SET},
                  f"{_CAPTURES}: null while in_progress, set at completed", source="reference"),
        Invariant("payload.step.last_error", "step", "last_error",
                  {"in_progress": Expect.NULL, "completed": Expect.NULL,
                   "failed": Expect.SET},
                  f"{_CAPTURES} (null); a failed step says why (API reference)",
                  source="reference"),
        Invariant("payload.message.object", "message", "object",
                  at(messages, Expect.EQUALS), f"{_CAPTURES}", value="thread.message",
                  source="reference"),
        Invariant("payload.message.id", "message", "id", at(messages, Expect.PREFIX),
                  f"{_CAPTURES} (msg_...)", value="msg_"),
        Invariant("payload.message.completed_at", "message", "completed_at",
                  {"in_progress": Expect.NULL, "completed": Expect.SET,
                   "incomplete": Expect.NULL}, f"{_CAPTURES}: set exactly at completed",
                  source="reference"),
        Invariant("payload.message.incomplete_at", "message", "incomplete_at",
                  {"in_progress": Expect.NULL, "completed": Expect.NULL,
                   "incomplete": Expect.SET}, f"{_CAPTURES}: set exactly at incomplete",
                  source="reference"),
        Invariant("payload.message.incomplete_details", "message", "incomplete_details",
                  {"in_progress": Expect.NULL, "completed": Expect.NULL,
                   "incomplete": Expect.SET},
                  f"{_CAPTURES}: an incomplete message says why (max_tokens in the Ruby "
                  "captures)", source="reference"),
        Invariant("payload.thread.object", "thread", "object", {"created": Expect.EQUALS},
                  f"{_CAPTURES} (thread.created)", value="thread", source="reference"),
        Invariant("payload.thread.id", "thread", "id", {"created": Expect.PREFIX},
                  f"{_CAPTURES} (thread_...)", value="thread_"),
    )


INVARIANTS: tuple[Invariant, ...] = invariants_of(ASSISTANTS)
"""The rows of the shipped definition."""
