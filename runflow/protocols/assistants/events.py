"""The Assistants stream's event names: one light module that both the definition
and the registry's detection row read, so that detecting a stream's protocol builds
no definition and the names are written once."""

from __future__ import annotations

__all__ = ["PROTOCOL_EVENTS"]

# --------------------------------------------------------------------------- #
# The protocol events. Kept as a literal list (not read from the openai SDK) so a
# newer SDK can never change what this library accepts; a test checks that every
# event of ``openai.types.beta.AssistantStreamEvent`` is listed here.
# --------------------------------------------------------------------------- #
PROTOCOL_EVENTS: frozenset[str] = frozenset(
    {
        "thread.created",
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.requires_action",
        "thread.run.completed",
        "thread.run.incomplete",
        "thread.run.failed",
        "thread.run.cancelling",
        "thread.run.cancelled",
        "thread.run.expired",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.step.completed",
        "thread.run.step.failed",
        "thread.run.step.cancelled",
        "thread.run.step.expired",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.delta",
        "thread.message.completed",
        "thread.message.incomplete",
        "error",
        "done",
    }
)
