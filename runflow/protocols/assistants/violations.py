"""What each violation code means in the Assistants stream: its catalogue.

The engine's :data:`runflow.RULES` say what a code means in any grammar; these rows say
it in this protocol's events and entities (threads, runs, steps, messages), and
name every code an Assistants flow can report (a code left out, ``sequence_gap`` or
``items_interleaved``, is never reported here). The registry row carries them
(``Registered.meanings``); the README's violation table shows them beside the
engine's sentence (:mod:`runflow.protocols.violations`).
"""

from __future__ import annotations

from runflow.engine.violations import Code, Meanings

__all__ = ["MEANINGS"]

MEANINGS: Meanings = {
    Code.INVALID_TRANSITION:
        "A run, step or message event its table does not allow in the entity's status "
        "(thread.run.completed while the run is queued).",
    Code.UNKNOWN_ENTITY:
        "A delta or status event for a step or message this flow never saw and cannot "
        "adopt, or a run event of a stream that created the thread but not the run.",
    Code.DUPLICATE_ENTITY:
        "A created event (thread.run.created, thread.run.step.created, "
        "thread.message.created) for an id already in the flow.",
    Code.FOREIGN_ENTITY:
        "A step or message of another run or thread, or a second run in one flow.",
    Code.EVENT_AFTER_TERMINAL:
        "A step or message event after the run reached a terminal status.",
    Code.RUN_NOT_IN_PROGRESS:
        "A step or message created or changed while the run is not in a status where "
        "that can happen (a step created while the run is queued).",
    Code.CHILDREN_OPEN_AT_TERMINAL:
        "The run ended while a step or message is still in_progress, or a "
        "message_creation step ended while its message is (a warning unless the run or "
        "step completed).",
    Code.OUT_OF_ORDER:
        "thread.created after the run, or a step created while another step is still "
        "open.",
    Code.CONTENT_INDEX_GAP:
        "A content part, annotation, tool call or code interpreter output whose index "
        "skips past the end.",
    Code.TYPE_CHANGE:
        "A content part, tool call, output or step detail that changes type.",
    Code.ID_CHANGE:
        "A tool call whose id changes after it was set, or a message_creation step "
        "naming another message_id.",
    Code.TOOL_CALLS_MISMATCH:
        "requires_action lists tool calls that are not exactly the function calls of the "
        "run's open tool_calls steps.",
    Code.INVALID_TOOL_ARGUMENTS:
        "Function arguments that are not JSON at requires_action.",
    Code.STATUS_MISMATCH:
        "A run, step or message whose status disagrees with its event's name "
        "(thread.run.completed carrying in_progress); the event name is followed.",
    Code.INCOMPLETE_DETAILS_ON_COMPLETED:
        "A run reported completed while carrying incomplete_details.",
    Code.DONE_BEFORE_FINAL:
        "done while the run is neither terminal nor in requires_action.",
    Code.EVENT_AFTER_DONE:
        "Events after done when the run was not in requires_action (after it, the "
        "stream of submit_tool_outputs goes on).",
    Code.EVENT_AFTER_ERROR:
        "Events after an error event, which ends the run's stream.",
    Code.TRUNCATED:
        "The input ended with no done and no error event.",
    Code.UNKNOWN_EVENT:
        "An event name outside thread.*, done and error; it is ignored.",
    Code.MALFORMED_EVENT:
        "Data that is not JSON, or not the Thread, Run, RunStep, Message or delta the "
        "event carries.",
    Code.ORPHAN_MESSAGE:
        "A message created without a message_creation step naming it.",
    Code.SNAPSHOT_DIVERGENCE:
        "A message or step rebuilt from its deltas differs from the object of its "
        "completed event; the server's object is kept.",
    Code.LIMIT_EXCEEDED:
        "A message's text, a tool call's arguments, an index or the number of steps and "
        "messages passed its limit; that entity stops growing.",
    Code.INTERNAL_ERROR:
        "An exception while applying an Assistants event: a bug in runflow.",
}
