"""Protocol violations as data, and the catalogue of rules that produce them.

The codes are a public contract: tools match on them, so a code is never renamed.
Each code has a default severity and one sentence that says what it means; the
flow writes a message per occurrence that names what arrived, in which state, and
what was allowed.

The engine names no protocol, so a rule's sentence (:attr:`Rule.summary`) says what
the code means in any grammar: in entities, roots, children and parts. What a code
means in one protocol, in that protocol's events and entities, is that protocol's
catalogue (:data:`Meanings`: ``runflow/protocols/<name>/violations.py``, the
``meanings`` of its registry row), which also says which codes it can report at all.
Before the catalogues moved out, the summaries named both protocols' events
(``requires_action``, "Responses: ..."); :data:`RULES` keeps the same keys, severities
and ``rejects``, and only the summaries' wording changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "RULES", "Code", "EntityRef", "Meanings", "ProtocolError", "Rule", "Severity",
    "Violation", "rules_markdown",
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
    """What the code means in any grammar (entities, roots, children, parts); what it
    means in one protocol is that protocol's :data:`Meanings`."""


RULES: dict[Code, Rule] = {
    r.code: r
    for r in (
        Rule(Code.INVALID_TRANSITION, "error", True,
             "An event that the entity's table does not allow in its current state."),
        Rule(Code.UNKNOWN_ENTITY, "error", True,
             "An event for an entity this flow never saw begin and cannot adopt."),
        Rule(Code.DUPLICATE_ENTITY, "error", True,
             "An event that begins an entity this flow already has."),
        Rule(Code.FOREIGN_ENTITY, "error", True,
             "An entity that belongs to another root or scope than the flow's, or a "
             "second root in one flow."),
        Rule(Code.EVENT_AFTER_TERMINAL, "error", True,
             "An event for a child entity after the root (or the child's parent) reached "
             "a terminal state."),
        Rule(Code.RUN_NOT_IN_PROGRESS, "error", True,
             "A child entity begun or changed while the root is in a state where "
             "children neither begin nor change."),
        Rule(Code.CHILDREN_OPEN_AT_TERMINAL, "error", False,
             "An entity ended while one of its children is still open (a warning unless "
             "it ended well)."),
        Rule(Code.OUT_OF_ORDER, "error", False,
             "An event at a point where real streams never send it."),
        Rule(Code.CONTENT_INDEX_GAP, "error", True,
             "A part whose index skips past the end of its list."),
        Rule(Code.TYPE_CHANGE, "error", True,
             "An entity or part that changes type."),
        Rule(Code.ID_CHANGE, "error", True,
             "A part whose id changes after it was set."),
        Rule(Code.TOOL_CALLS_MISMATCH, "error", False,
             "The tool calls the root asks the client to answer are not exactly the "
             "calls its children made."),
        Rule(Code.INVALID_TOOL_ARGUMENTS, "warning", False,
             "Tool-call arguments that are not JSON once they are final."),
        Rule(Code.STATUS_MISMATCH, "warning", False,
             "The payload's status disagrees with the event name; the event name is "
             "followed."),
        Rule(Code.INCOMPLETE_DETAILS_ON_COMPLETED, "warning", False,
             "An entity reported as ending well while carrying the details of an early "
             "end."),
        Rule(Code.DONE_BEFORE_FINAL, "error", False,
             "done while the root is in no state a stream may end in."),
        Rule(Code.EVENT_AFTER_DONE, "error", False,
             "Events after done, unless the root was in a state a later stream goes on "
             "from."),
        Rule(Code.EVENT_AFTER_ERROR, "error", False,
             "Events after an error event, which ends the stream."),
        Rule(Code.TRUNCATED, "error", False,
             "The input ended before the stream did (no done, no error event, or the "
             "root not yet terminal)."),
        Rule(Code.UNKNOWN_EVENT, "warning", True,
             "An event name outside the protocol; it is ignored."),
        Rule(Code.MALFORMED_EVENT, "error", True,
             "Data that is not JSON, or not the event's object."),
        Rule(Code.ORPHAN_MESSAGE, "warning", False,
             "A child entity begun without the sibling that announces it."),
        Rule(Code.SNAPSHOT_DIVERGENCE, "error", False,
             "The snapshot rebuilt from deltas differs from the server's final object; "
             "the server's object is kept."),
        Rule(Code.LIMIT_EXCEEDED, "error", False,
             "A configured resource limit was reached; the offending entity stops growing."),
        Rule(Code.INTERNAL_ERROR, "error", False,
             "An unexpected exception while applying an event: a bug in runflow, never "
             "the normal path (the fuzzers count it as a failure); the flow goes on."),
        Rule(Code.SEQUENCE_GAP, "error", False,
             "A sequence number that skips numbers, or an event without one after "
             "numbered events (numbers at or below the last are replays: dropped and "
             "counted, not reported)."),
        Rule(Code.EVENT_NAME_MISMATCH, "warning", False,
             "The SSE event line names another event than the data's type; the data is "
             "followed."),
        Rule(Code.ITEM_ID_MISMATCH, "warning", False,
             "An event naming another id than the entity at its position (or the flow's "
             "one root); the position is followed."),
        Rule(Code.ITEMS_INTERLEAVED, "warning", False,
             "A child entity begun while a sibling is still open, where the reference "
             "server closes one before it begins the next."),
        Rule(Code.OUTPUT_MISMATCH, "warning", False,
             "The root's final object lists other children than the stream made, or a "
             "child that differs from how it ended (an error); the streamed children "
             "are kept."),
        Rule(Code.MISSING_FIELD, "error", False,
             "An event without a field the specification requires of it; the event is "
             "placed by its indices."),
        Rule(Code.UNKNOWN_TOOL, "warning", False,
             "A tool call naming a tool the request does not offer (some servers add "
             "tools of their own)."),
        Rule(Code.DUPLICATE_CALL_ID, "error", False,
             "A tool call with the call id of an earlier call of the same root; an "
             "answer names its call by that id."),
    )
}
"""Every code's rule. Its summary is protocol-neutral: what a code means in one
protocol's grammar (its events and entities) is that protocol's :data:`Meanings`
(its registry row's ``meanings``; :mod:`runflow.protocols.violations` shows both)."""

Meanings = Mapping[Code, str]
"""What codes mean in one protocol's grammar, in its events and entities: one
sentence per code that protocol can report (a protocol's catalogue, e.g.
``runflow/protocols/assistants/violations.py``)."""


def rules_markdown(meanings: Mapping[str, Meanings] | None = None) -> str:
    """The rule catalogue as a Markdown table: each code's severity, whether the event
    is rejected and its protocol-neutral meaning, then a column per protocol of
    ``meanings`` (protocol name -> its catalogue) with what the code means there, or
    "—" where that protocol never reports it. README.md embeds the table with every
    registered protocol's column (:func:`runflow.protocols.violations.codes_markdown`;
    a test keeps the copy in sync)."""
    protocols = dict(meanings or {})
    head = ["code", "severity", "event rejected", "meaning", *protocols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rule in RULES.values():
        rejected = "yes" if rule.rejects else "no"
        said = [catalogue.get(rule.code, "—") for catalogue in protocols.values()]
        cells = [f"`{rule.code.value}`", rule.severity, rejected, rule.summary, *said]
        lines.append("| " + " | ".join(cells) + " |")
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
    path: str | None = None
    """The JSON path in the event's data of the value the violation is about, where
    the rule names one (``delta``, ``item.content[0].text``; ``""``: the data itself),
    else None. Set for a ``malformed_event`` whose sentence names a field (a shape's
    or an accumulator's :class:`~runflow.engine.shapes.Misfit`), so a reader matches
    the field, never the wording; the message says the same in words."""

    def __str__(self) -> str:
        where = f" {self.entity}" if self.entity else ""
        return f"#{self.index} {self.severity} {self.code.value}{where}: {self.message}"


class ProtocolError(Exception):
    """Raised by a strict flow at the first error-severity violation; the
    :class:`Violation` (the data) is in ``.violation``."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(str(violation))
        self.violation = violation
