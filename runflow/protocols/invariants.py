"""Payload invariants per status, as data, for both shipped definitions.

The entity tables (:mod:`.assistants`, :mod:`.responses`) say which event moves an
entity to which state; this module says what the object an event carries must hold
*in* that state: which timestamps are set or null, where ``usage``, ``last_error``,
``incomplete_details`` and ``required_action`` belong, the ``object`` field and the
id prefix. Nothing here runs: :mod:`runflow.conform.payload` evaluates the table on
the events of a stream (``runflow conform`` and ``runflow check`` both use it).

How to read a row
-----------------
``Invariant(id, entity, field, expect)``: ``expect`` maps a state of the entity's
table to an :class:`Expect`; states not named are not checked. The state is the
one the event leads to, as the engine decides it (the event name for Assistants,
the object's status where the table lets it choose, as for ``response.created``).
``events`` narrows a row to some events (a delta event's object, say).

Evidence: every row holds on every real capture in ``shared/recordings`` (a test
replays them all); ``why`` names the source. A row with ``severity="warning"`` is a
convention every capture of OpenAI follows but other servers may not (id prefixes:
DeepSeek sends bare UUIDs, OpenRouter ``gen-`` ids).

Rules for changing this module
------------------------------
* An invariant id is a public contract (``payload.<entity>.<field>``), like the
  violation codes: never rename one.
* Keep a row only if every real capture satisfies it, or say in ``why`` that no
  capture shows the state and which documentation the row follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal

__all__ = ["ASSISTANTS_INVARIANTS", "INVARIANTS", "RESPONSES_INVARIANTS", "Expect",
           "Invariant", "invariants_for"]

Severity = Literal["error", "warning"]


class Expect(str, Enum):
    """What a field must hold in a state."""

    SET = "set"
    """Present and not null."""
    NULL = "null"
    """Null or absent."""
    SET_IF_PRESENT = "set_if_present"
    """Not null when the server sends the field at all (a field newer servers added)."""
    EQUALS = "equals"
    """Equal to the row's ``value``."""
    PREFIX = "prefix"
    """A string starting with the row's ``value``."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Invariant:
    """One field of one entity's object, and what it must hold per state."""

    id: str
    entity: str
    """The entity kind (a table's ``entity``)."""
    field: str
    expect: Mapping[str, Expect]
    """State -> expectation; states not named are not checked."""
    why: str
    value: str | None = None
    """For :attr:`Expect.EQUALS` and :attr:`Expect.PREFIX`."""
    events: frozenset[str] | None = None
    """Only the objects of these events (None: every status event of the entity)."""
    severity: Severity = "error"

    @property
    def summary(self) -> str:
        """One sentence for the rule catalogue."""
        groups: dict[str, list[str]] = {}
        for state, expect in self.expect.items():
            groups.setdefault(_SAY[expect].format(value=self.value), []).append(state)
        said = "; ".join(f"{what} at {', '.join(states)}" for what, states in groups.items())
        return f"{self.entity}.{self.field}: {said}."


_SAY = {
    Expect.SET: "set",
    Expect.NULL: "null",
    Expect.SET_IF_PRESENT: "not null (if sent)",
    Expect.EQUALS: "{value!r}",
    Expect.PREFIX: "starts with {value!r}",
}


def _at(states: str, expect: Expect) -> dict[str, Expect]:
    return {state: expect for state in states.split()}


# --------------------------------------------------------------------------- #
# Assistants
# --------------------------------------------------------------------------- #
_RUN_OPEN = "queued in_progress requires_action"
_RUN_STATES = "queued in_progress requires_action cancelling cancelled failed completed " \
              "incomplete expired"
_STEP_STATES = "in_progress completed failed cancelled expired"
_MESSAGE_STATES = "in_progress completed incomplete"
_CAPTURES = "every Assistants capture"

ASSISTANTS_INVARIANTS: tuple[Invariant, ...] = (
    Invariant("payload.run.object", "run", "object", _at(_RUN_STATES, Expect.EQUALS),
              f"{_CAPTURES}; the SDK's Run.object is Literal['thread.run']",
              value="thread.run"),
    Invariant("payload.run.id", "run", "id", _at(_RUN_STATES, Expect.PREFIX),
              f"{_CAPTURES} (run_...)", value="run_", severity="warning"),
    Invariant("payload.run.started_at", "run", "started_at",
              _at("in_progress requires_action completed", Expect.SET),
              f"{_CAPTURES}: set from in_progress on (null while first queued)"),
    Invariant("payload.run.expires_at", "run", "expires_at",
              {**_at(_RUN_OPEN, Expect.SET), **_at("completed", Expect.NULL)},
              f"{_CAPTURES}: set until the run completes, then null"),
    Invariant("payload.run.completed_at", "run", "completed_at",
              {**_at(_RUN_OPEN + " cancelling", Expect.NULL), "completed": Expect.SET},
              f"{_CAPTURES}: null until completed"),
    Invariant("payload.run.failed_at", "run", "failed_at",
              {**_at(_RUN_OPEN + " cancelling completed", Expect.NULL),
               "failed": Expect.SET},
              f"{_CAPTURES} (null); no capture fails a run: the API reference sets it at failed"),
    Invariant("payload.run.cancelled_at", "run", "cancelled_at",
              {**_at(_RUN_OPEN + " completed", Expect.NULL), "cancelled": Expect.SET},
              f"{_CAPTURES} (null); no capture cancels a run: the API reference sets it at "
              "cancelled"),
    Invariant("payload.run.usage", "run", "usage",
              {**_at(_RUN_OPEN, Expect.NULL), **_at("completed incomplete", Expect.SET)},
              f"{_CAPTURES}: 'null if the run is not in a terminal state' (API reference); "
              "set at completed"),
    Invariant("payload.run.last_error", "run", "last_error",
              {**_at(_RUN_OPEN + " completed incomplete", Expect.NULL),
               "failed": Expect.SET},
              f"{_CAPTURES} (null): 'the last error associated with this run; null if "
              "there are no errors' (API reference)"),
    Invariant("payload.run.incomplete_details", "run", "incomplete_details",
              {**_at(_RUN_OPEN, Expect.NULL), "incomplete": Expect.SET},
              f"{_CAPTURES}: null while the run is open; an incomplete run says why "
              "(completed with details is the violation incomplete_details_on_completed)"),
    Invariant("payload.run.required_action", "run", "required_action",
              {**_at("queued in_progress cancelling cancelled failed completed incomplete "
                     "expired", Expect.NULL), "requires_action": Expect.SET},
              f"{_CAPTURES}: set exactly at requires_action"),
    Invariant("payload.step.object", "step", "object", _at(_STEP_STATES, Expect.EQUALS),
              f"{_CAPTURES}", value="thread.run.step"),
    Invariant("payload.step.id", "step", "id", _at(_STEP_STATES, Expect.PREFIX),
              f"{_CAPTURES} (step_...)", value="step_", severity="warning"),
    Invariant("payload.step.completed_at", "step", "completed_at",
              {"in_progress": Expect.NULL, "completed": Expect.SET},
              f"{_CAPTURES}: null until the step completes"),
    Invariant("payload.step.usage", "step", "usage",
              {"in_progress": Expect.NULL, "completed": Expect.SET},
              f"{_CAPTURES}: null while in_progress, set at completed"),
    Invariant("payload.step.last_error", "step", "last_error",
              {"in_progress": Expect.NULL, "completed": Expect.NULL, "failed": Expect.SET},
              f"{_CAPTURES} (null); a failed step says why (API reference)"),
    Invariant("payload.message.object", "message", "object",
              _at(_MESSAGE_STATES, Expect.EQUALS), f"{_CAPTURES}", value="thread.message"),
    Invariant("payload.message.id", "message", "id", _at(_MESSAGE_STATES, Expect.PREFIX),
              f"{_CAPTURES} (msg_...)", value="msg_", severity="warning"),
    Invariant("payload.message.completed_at", "message", "completed_at",
              {"in_progress": Expect.NULL, "completed": Expect.SET,
               "incomplete": Expect.NULL}, f"{_CAPTURES}: set exactly at completed"),
    Invariant("payload.message.incomplete_at", "message", "incomplete_at",
              {"in_progress": Expect.NULL, "completed": Expect.NULL,
               "incomplete": Expect.SET}, f"{_CAPTURES}: set exactly at incomplete"),
    Invariant("payload.message.incomplete_details", "message", "incomplete_details",
              {"in_progress": Expect.NULL, "completed": Expect.NULL,
               "incomplete": Expect.SET},
              f"{_CAPTURES}: an incomplete message says why (max_tokens in the Ruby captures)"),
    Invariant("payload.thread.object", "thread", "object", {"created": Expect.EQUALS},
              f"{_CAPTURES} (thread.created)", value="thread"),
    Invariant("payload.thread.id", "thread", "id", {"created": Expect.PREFIX},
              f"{_CAPTURES} (thread_...)", value="thread_", severity="warning"),
)

# --------------------------------------------------------------------------- #
# Responses
# --------------------------------------------------------------------------- #
_OPEN = "queued in_progress"
_RESPONSE_STATES = "queued in_progress completed incomplete failed cancelled"
_RCAPTURES = "every Responses capture (RESPONSES.md §6)"

RESPONSES_INVARIANTS: tuple[Invariant, ...] = (
    Invariant("payload.response.object", "response", "object",
              _at(_RESPONSE_STATES, Expect.EQUALS), f"{_RCAPTURES}", value="response"),
    Invariant("payload.response.id", "response", "id", _at(_RESPONSE_STATES, Expect.PREFIX),
              "every OpenAI capture (resp_...); DeepSeek sends a bare UUID",
              value="resp_", severity="warning"),
    Invariant("payload.response.created_at", "response", "created_at",
              _at(_RESPONSE_STATES, Expect.SET), f"{_RCAPTURES}"),
    Invariant("payload.response.usage", "response", "usage",
              {**_at(_OPEN, Expect.NULL), **_at("completed incomplete", Expect.SET)},
              f"{_RCAPTURES}: 'usage null until terminal'"),
    Invariant("payload.response.error", "response", "error",
              {**_at(_OPEN + " completed incomplete", Expect.NULL), "failed": Expect.SET},
              f"{_RCAPTURES}: response.failed carries error {{code, message}} "
              "(prism_error_rate_limited_gpt4o)"),
    Invariant("payload.response.incomplete_details", "response", "incomplete_details",
              {**_at(_OPEN + " failed", Expect.NULL), "incomplete": Expect.SET},
              f"{_RCAPTURES}: incomplete_details.reason explains an incomplete response "
              "(ddtrace_incomplete_max_output_tokens_gpt4o)"),
    Invariant("payload.response.completed_at", "response", "completed_at",
              {**_at(_OPEN, Expect.NULL), "completed": Expect.SET_IF_PRESENT},
              f"{_RCAPTURES}: 'completed_at (when present) is null until the terminal "
              "event'; older servers do not send it"),
    Invariant("payload.message.id", "message", "id",
              _at("in_progress completed incomplete", Expect.PREFIX),
              "every OpenAI capture (msg_...)", value="msg_", severity="warning"),
    Invariant("payload.message.role", "message", "role",
              _at("in_progress completed incomplete", Expect.EQUALS),
              "every capture: output messages are the assistant's", value="assistant"),
    Invariant("payload.function_call.id", "function_call", "id",
              _at("in_progress completed", Expect.PREFIX),
              "every OpenAI capture (fc_...); LM Studio sends bare numbers",
              value="fc_", severity="warning"),
    Invariant("payload.function_call.call_id", "function_call", "call_id",
              _at("in_progress completed incomplete", Expect.SET),
              "every capture: a function_call_output answers it by call_id"),
    Invariant("payload.function_call.name", "function_call", "name",
              _at("in_progress completed incomplete", Expect.SET),
              "every capture: the call names its function from output_item.added on"),
    Invariant("payload.reasoning.id", "reasoning", "id",
              _at("in_progress completed incomplete", Expect.PREFIX),
              "every OpenAI capture (rs_...)", value="rs_", severity="warning"),
)

INVARIANTS: Mapping[str, tuple[Invariant, ...]] = {
    "assistants": ASSISTANTS_INVARIANTS,
    "responses": RESPONSES_INVARIANTS,
}
"""Protocol name -> its invariants."""


def invariants_for(protocol: str) -> tuple[Invariant, ...]:
    """The invariants of the definition named ``protocol`` (none for another one)."""
    return INVARIANTS.get(protocol, ())
