"""The Responses stream's payload invariants (:mod:`runflow.protocols.payload`).

The response's states come from its table: ``object`` and ``created_at`` hold in
every state it can be seen in, and the open states are the ones that are not
terminal, so a response status added to the table is covered without an edit here.
An item's rows name the states the captures show (``failed`` items are not in any).
"""

from __future__ import annotations

from runflow.engine.definition import Protocol
from runflow.protocols.payload import Expect, Invariant, at, seen_states
from runflow.protocols.responses.definition import RESPONSES

__all__ = ["INVARIANTS", "invariants_of"]

_CAPTURES = "every Responses capture (RESPONSES.md §6)"
_ITEM = "in_progress completed incomplete"


def invariants_of(definition: Protocol) -> tuple[Invariant, ...]:
    """The rows for ``definition`` (the Responses tables, or a variant of them)."""
    response = definition.root_table
    states = seen_states(response)
    open_ = [s for s in states if s not in response.terminal]
    return (
        Invariant("payload.response.object", "response", "object",
                  at(states, Expect.EQUALS),
                  f"{_CAPTURES}; Response.object is Literal['response'], required",
                  value="response", source="reference"),
        Invariant("payload.response.id", "response", "id", at(states, Expect.PREFIX),
                  "every OpenAI capture (resp_...); DeepSeek sends a bare UUID",
                  value="resp_"),
        Invariant("payload.response.created_at", "response", "created_at",
                  at(states, Expect.SET),
                  f"{_CAPTURES}; Response.created_at is required", source="reference"),
        Invariant("payload.response.usage", "response", "usage",
                  {**at(open_, Expect.NULL), **at("completed incomplete", Expect.SET)},
                  f"{_CAPTURES}: 'usage null until terminal'; the OR-spec makes usage "
                  "nullable and the SDK types it Optional, so a terminal response without "
                  "it keeps the contract (a vendor's server SDK never sets it): a warning"),
        Invariant("payload.response.error", "response", "error",
                  {**at([*open_, "completed", "incomplete"], Expect.NULL),
                   "failed": Expect.SET},
                  f"{_CAPTURES}: response.failed carries error {{code, message}} "
                  "(prism_error_rate_limited_gpt4o); Response.error is Optional"),
        Invariant("payload.response.incomplete_details", "response", "incomplete_details",
                  {**at([*open_, "failed"], Expect.NULL), "incomplete": Expect.SET},
                  f"{_CAPTURES}: incomplete_details.reason explains an incomplete response "
                  "(ddtrace_incomplete_max_output_tokens_gpt4o); Optional in the SDK"),
        Invariant("payload.response.completed_at", "response", "completed_at",
                  {**at(open_, Expect.NULL), "completed": Expect.SET_IF_PRESENT},
                  f"{_CAPTURES}: 'completed_at (when present) is null until the terminal "
                  "event'; older servers do not send it"),
        Invariant("payload.message.id", "message", "id", at(_ITEM, Expect.PREFIX),
                  "every OpenAI capture (msg_...)", value="msg_"),
        Invariant("payload.message.role", "message", "role", at(_ITEM, Expect.EQUALS),
                  "every capture; ResponseOutputMessage.role is Literal['assistant'], "
                  "required", value="assistant", source="reference"),
        Invariant("payload.function_call.id", "function_call", "id",
                  at("in_progress completed", Expect.PREFIX),
                  "every OpenAI capture (fc_...); LM Studio sends bare numbers",
                  value="fc_"),
        Invariant("payload.function_call.call_id", "function_call", "call_id",
                  at(_ITEM, Expect.SET),
                  "every capture: a function_call_output answers it by call_id; "
                  "ResponseFunctionToolCall.call_id is a required str", source="reference"),
        Invariant("payload.function_call.name", "function_call", "name", at(_ITEM, Expect.SET),
                  "every capture: the call names its function from output_item.added on; "
                  "ResponseFunctionToolCall.name is a required str", source="reference"),
        Invariant("payload.reasoning.id", "reasoning", "id", at(_ITEM, Expect.PREFIX),
                  "every OpenAI capture (rs_...)", value="rs_"),
    )


INVARIANTS: tuple[Invariant, ...] = invariants_of(RESPONSES)
"""The rows of the shipped definition."""
