"""Protocol violations as data, and the catalogue of rules that produce them.

The codes are a public contract: tools match on them, so a code is never renamed.
Each code has a default severity and one sentence that says what it means; the
flow writes a message per occurrence that names what arrived, in which state, and
what was allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "RULES", "Code", "EntityRef", "ProtocolError", "Rule", "Severity", "Violation",
    "rules_markdown",
]

Severity = Literal["error", "warning"]


class Code(str, Enum):
    """Stable violation codes. Compare with strings or members alike."""

    INVALID_TRANSITION = "invalid_transition"
    UNKNOWN_ENTITY = "unknown_entity"
    DUPLICATE_ENTITY = "duplicate_entity"
    FOREIGN_ENTITY = "foreign_entity"
    EVENT_AFTER_TERMINAL = "event_after_terminal"
    RUN_NOT_IN_PROGRESS = "run_not_in_progress"
    CHILDREN_OPEN_AT_TERMINAL = "children_open_at_terminal"
    OUT_OF_ORDER = "out_of_order"
    CONTENT_INDEX_GAP = "content_index_gap"
    TYPE_CHANGE = "type_change"
    ID_CHANGE = "id_change"
    TOOL_CALLS_MISMATCH = "tool_calls_mismatch"
    INVALID_TOOL_ARGUMENTS = "invalid_tool_arguments"
    STATUS_MISMATCH = "status_mismatch"
    INCOMPLETE_DETAILS_ON_COMPLETED = "incomplete_details_on_completed"
    DONE_BEFORE_FINAL = "done_before_final"
    EVENT_AFTER_DONE = "event_after_done"
    EVENT_AFTER_ERROR = "event_after_error"
    TRUNCATED = "truncated"
    UNKNOWN_EVENT = "unknown_event"
    MALFORMED_EVENT = "malformed_event"
    ORPHAN_MESSAGE = "orphan_message"
    SNAPSHOT_DIVERGENCE = "snapshot_divergence"
    LIMIT_EXCEEDED = "limit_exceeded"
    INTERNAL_ERROR = "internal_error"
    SEQUENCE_GAP = "sequence_gap"
    EVENT_NAME_MISMATCH = "event_name_mismatch"
    ITEM_ID_MISMATCH = "item_id_mismatch"
    ITEMS_INTERLEAVED = "items_interleaved"
    OUTPUT_MISMATCH = "output_mismatch"
    MISSING_FIELD = "missing_field"
    UNKNOWN_TOOL = "unknown_tool"
    DUPLICATE_CALL_ID = "duplicate_call_id"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Rule:
    """What a code means and how bad it is by default."""

    code: Code
    severity: Severity
    rejects: bool
    """True when the offending event is rejected: states and snapshots stay as they were."""
    summary: str


RULES: dict[Code, Rule] = {
    r.code: r
    for r in (
        Rule(Code.INVALID_TRANSITION, "error", True,
             "An event that the entity's table does not allow in its current state."),
        Rule(Code.UNKNOWN_ENTITY, "error", True,
             "A delta or status event for a step or message this flow never saw and "
             "cannot adopt."),
        Rule(Code.DUPLICATE_ENTITY, "error", True,
             "A created event for an id already in the flow."),
        Rule(Code.FOREIGN_ENTITY, "error", True,
             "A step or message of another run or thread, or a second run in one flow."),
        Rule(Code.EVENT_AFTER_TERMINAL, "error", True,
             "A step or message event after the run reached a terminal status."),
        Rule(Code.RUN_NOT_IN_PROGRESS, "error", True,
             "A step or message created or changed while the run is not in a state "
             "where that can happen (e.g. a step created while the run is queued)."),
        Rule(Code.CHILDREN_OPEN_AT_TERMINAL, "error", False,
             "The run ended while a step or message is still in_progress, or a "
             "message_creation step ended while its message is (a warning unless the "
             "run or step completed)."),
        Rule(Code.OUT_OF_ORDER, "error", False,
             "An event at a point where real streams never send it: thread.created after "
             "the run, or a step created while another step is still open."),
        Rule(Code.CONTENT_INDEX_GAP, "error", True,
             "A content part, annotation, tool call or output whose index skips past "
             "the end."),
        Rule(Code.TYPE_CHANGE, "error", True,
             "A content part, tool call, output or step detail that changes type."),
        Rule(Code.ID_CHANGE, "error", True,
             "A tool call whose id changes after it was set."),
        Rule(Code.TOOL_CALLS_MISMATCH, "error", False,
             "requires_action lists tool calls that are not exactly the function calls "
             "of the run's open tool_calls steps."),
        Rule(Code.INVALID_TOOL_ARGUMENTS, "warning", False,
             "Function arguments that are not JSON at requires_action (Responses: at "
             "function_call_arguments.done)."),
        Rule(Code.STATUS_MISMATCH, "warning", False,
             "The payload's status disagrees with the event name; the event name is "
             "followed (Responses: an error for the response, whose terminal event then "
             "contradicts its own object; a warning for an item)."),
        Rule(Code.INCOMPLETE_DETAILS_ON_COMPLETED, "warning", False,
             "A run reported completed while carrying incomplete_details."),
        Rule(Code.DONE_BEFORE_FINAL, "error", False,
             "done while the run is neither terminal nor in requires_action."),
        Rule(Code.EVENT_AFTER_DONE, "error", False,
             "Events after done when the run was not in requires_action."),
        Rule(Code.EVENT_AFTER_ERROR, "error", False,
             "Events after an error event, which ends the stream."),
        Rule(Code.TRUNCATED, "error", False,
             "The input ended with no done and no error event."),
        Rule(Code.UNKNOWN_EVENT, "warning", True,
             "An event name outside the protocol; it is ignored."),
        Rule(Code.MALFORMED_EVENT, "error", True,
             "Data that is not JSON, or not the event's object."),
        Rule(Code.ORPHAN_MESSAGE, "warning", False,
             "A message created without a message_creation step naming it."),
        Rule(Code.SNAPSHOT_DIVERGENCE, "error", False,
             "The snapshot rebuilt from deltas differs from the server's final object; "
             "the server's object is kept."),
        Rule(Code.LIMIT_EXCEEDED, "error", False,
             "A configured resource limit was reached; the offending entity stops growing."),
        Rule(Code.INTERNAL_ERROR, "error", False,
             "An unexpected exception while applying an event: a bug in runflow, never "
             "the normal path (the fuzzers count it as a failure); the flow goes on."),
        Rule(Code.SEQUENCE_GAP, "error", False,
             "Responses: a sequence_number that skips numbers, or an event without one "
             "after numbered events (numbers at or below the last are replays: dropped "
             "and counted, not reported)."),
        Rule(Code.EVENT_NAME_MISMATCH, "warning", False,
             "Responses: the SSE event line names another event than the data's type; "
             "the data is followed."),
        Rule(Code.ITEM_ID_MISMATCH, "warning", False,
             "Responses: an event naming another id than the entity at its position: the "
             "item at its output_index, or the flow's one response (GitHub Copilot rotates "
             "ids); the position is followed."),
        Rule(Code.ITEMS_INTERLEAVED, "warning", False,
             "Responses: an output item added while another is still open (OpenAI never "
             "interleaves items; OpenRouter does)."),
        Rule(Code.OUTPUT_MISMATCH, "warning", False,
             "Responses: the terminal response's output differs from the items streamed "
             "(missing, extra or other ids, or an item whose status or value differs "
             "from what output_item.done said: an error); the streamed items are kept."),
        Rule(Code.MISSING_FIELD, "error", False,
             "Responses: an event without a field the specification requires of it "
             "(item_id on part and value events); the event is placed by its indices."),
        Rule(Code.UNKNOWN_TOOL, "warning", False,
             "Responses: a function_call to a name the response's tools do not offer "
             "(some servers add tools of their own)."),
        Rule(Code.DUPLICATE_CALL_ID, "error", False,
             "Responses: a tool call with the call_id of an earlier call of the same "
             "response; an output answers a call by its call_id."),
    )
}


def rules_markdown() -> str:
    """The rule catalogue as a Markdown table (README.md embeds it; a test keeps
    the copy in sync)."""
    lines = ["| code | severity | event rejected | meaning |", "|---|---|---|---|"]
    for rule in RULES.values():
        rejected = "yes" if rule.rejects else "no"
        lines.append(f"| `{rule.code.value}` | {rule.severity} | {rejected} | {rule.summary} |")
    return "\n".join(lines) + "\n"


class EntityRef(BaseModel):
    """Which entity a violation concerns: its kind (``"message"``) and id."""

    model_config = ConfigDict(frozen=True)

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"

    def __eq__(self, other: object) -> bool:
        """Equal to another ref of the same kind and id, or to ``"kind id"``
        (as :class:`Code` members equal their strings)."""
        if isinstance(other, str):
            return str(self) == other
        if isinstance(other, EntityRef):
            return (self.kind, self.id) == (other.kind, other.id)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))


class Violation(BaseModel):
    """One protocol violation, with where it happened and why.

    ``index`` is the 0-based position of the event in the flow's input (``done``
    events count); for ``truncated`` it is the position after the last event.
    """

    model_config = ConfigDict(frozen=True)

    code: Code
    """The rule that was broken (see :data:`RULES`)."""
    severity: Severity
    """``"error"`` or ``"warning"``; warnings never raise, even in strict mode."""
    index: int
    """Position of the offending event in the flow's input."""
    event: str | None
    """The event name, or None (e.g. for ``truncated``)."""
    entity: EntityRef | None
    """The entity concerned (kind and id), or None."""
    message: str
    """One sentence: what arrived, in which state, what was allowed."""

    def __str__(self) -> str:
        where = f" {self.entity}" if self.entity else ""
        return f"#{self.index} {self.severity} {self.code.value}{where}: {self.message}"


class ProtocolError(Exception):
    """Raised by a strict flow at the first error-severity violation; the
    :class:`Violation` (the data) is in ``.violation``."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(str(violation))
        self.violation = violation
