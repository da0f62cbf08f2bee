"""What each violation code means in the Responses stream: its catalogue.

The engine's :data:`runflow.RULES` say what a code means in any grammar; these rows say
it in this protocol's events and entities (the response, its output items and their
parts), and name every code a Responses flow can report (a code left out,
``tool_calls_mismatch`` or ``orphan_message``, is never reported here). The registry
row carries them (``Registered.meanings``); the README's violation table shows them
beside the engine's sentence (:mod:`runflow.protocols.violations`).
"""

from __future__ import annotations

from runflow.engine.violations import Code, Meanings

__all__ = ["MEANINGS"]

MEANINGS: Meanings = {
    Code.INVALID_TRANSITION:
        "A response, item or part event its table does not allow in the entity's state "
        "(a delta after the part's content_part.done).",
    Code.UNKNOWN_ENTITY:
        "An event for an item or part at an output_index or content_index where this "
        "flow saw no output_item.added or content_part.added.",
    Code.DUPLICATE_ENTITY:
        "An added event at a position, or with an item id, this flow already has, or a "
        "second response.created.",
    Code.EVENT_AFTER_TERMINAL:
        "An item or part event after the response, or the part's item, reached a "
        "terminal status.",
    Code.RUN_NOT_IN_PROGRESS:
        "An item added or changed while the response is not in_progress (an item added "
        "while the response is queued).",
    Code.CHILDREN_OPEN_AT_TERMINAL:
        "The response ended while an output item is open, or an item ended while one "
        "of its parts is.",
    Code.OUT_OF_ORDER:
        "A fresh stream that does not start with response.created, or an incomplete "
        "item that is not the response's last.",
    Code.CONTENT_INDEX_GAP:
        "An output_index, content_index, summary_index or command_index that skips "
        "past the end (each counts its added events).",
    Code.TYPE_CHANGE:
        "An event saying the item or part at a position is of another type than it "
        "began as.",
    Code.INVALID_TOOL_ARGUMENTS:
        "Function arguments that are not JSON at function_call_arguments.done.",
    Code.STATUS_MISMATCH:
        "A response or item whose status disagrees with its event's name; the event "
        "name is followed (an error for the response, whose terminal event then "
        "contradicts its own object; a warning for an item).",
    Code.INCOMPLETE_DETAILS_ON_COMPLETED:
        "A response reported completed while carrying incomplete_details.",
    Code.DONE_BEFORE_FINAL:
        "data: [DONE] while the response is not terminal.",
    Code.EVENT_AFTER_DONE:
        "Events, an error or a second [DONE] after data: [DONE].",
    Code.EVENT_AFTER_ERROR:
        "A second error event (response.failed may follow the first).",
    Code.TRUNCATED:
        "The input ended while the response is not terminal (a background response can "
        "be resumed with starting_after).",
    Code.UNKNOWN_EVENT:
        "A type outside the Responses stream's events; it is ignored.",
    Code.MALFORMED_EVENT:
        "Data that is not JSON, or not the response, item, part or value the event "
        "carries.",
    Code.SNAPSHOT_DIVERGENCE:
        "An item or part rebuilt from its deltas differs from the object or value of "
        "its done event (output_item.done, content_part.done, output_text.done); the "
        "server's is kept.",
    Code.LIMIT_EXCEEDED:
        "A text, arguments, an index or the number of items and parts passed its limit; "
        "that entity stops growing.",
    Code.INTERNAL_ERROR:
        "An exception while applying a Responses event: a bug in runflow.",
    Code.SEQUENCE_GAP:
        "A sequence_number that skips numbers, or an event without one after numbered "
        "events (numbers at or below the last are replays: dropped and counted, not "
        "reported).",
    Code.EVENT_NAME_MISMATCH:
        "The SSE event line names another event than the data's type; the data is "
        "followed.",
    Code.ITEM_ID_MISMATCH:
        "An event naming another id than the entity at its position: the item at its "
        "output_index, or the flow's one response (GitHub Copilot rotates ids); the "
        "position is followed.",
    Code.ITEMS_INTERLEAVED:
        "An output item added while another is still open (OpenAI never interleaves "
        "items; OpenRouter does).",
    Code.OUTPUT_MISMATCH:
        "The terminal response's output differs from the items streamed (missing, extra "
        "or other ids, or an item whose status or value differs from what "
        "output_item.done said: an error); the streamed items are kept.",
    Code.MISSING_FIELD:
        "An event without a field the specification requires of it (item_id on part "
        "and value events, a function tool's name); the event is placed by its indices.",
    Code.UNKNOWN_TOOL:
        "A function_call to a name the response's tools do not offer (some servers add "
        "tools of their own).",
    Code.DUPLICATE_CALL_ID:
        "A tool call with the call_id of an earlier call of the same response; an "
        "output answers a call by its call_id.",
}
