"""The Assistants rows of conform's grouping (:mod:`runflow.protocols.cascades`): its
own rules that a lost event leaves behind, and the message its step announces."""

from __future__ import annotations

from runflow.protocols.cascades import Announcement, Cascade

__all__ = ["ANNOUNCES", "CASCADES"]

ANNOUNCES = Announcement(frozenset({"thread.run.step", "thread.run.step.delta"}),
                         ("step_details", "message_creation", "message_id"), "step")
"""A ``message_creation`` step names the message it creates."""

CASCADES: tuple[Cascade, ...] = (
    Cascade(frozenset({"grammar.tool_calls_mismatch", "grammar.orphan_message",
                       "consistency.run", "consistency.steps", "consistency.messages",
                       "order.run.queued_before_in_progress",
                       "order.step.in_progress_after_created",
                       "order.message.in_progress_after_created"}), "same",
            "a run, step or message whose event was lost, broken or refused is unknown, "
            "in the wrong status or different from REST for the rest of the flow"),
    Cascade(frozenset({"grammar.tool_calls_mismatch", "consistency.run"}), "root",
            "required_action is judged by the run's steps, and REST's run by the stream's: "
            "a run left behind by a lost event differs from both"),
    Cascade(frozenset({"grammar.orphan_message"}), "announcer",
            "a message is announced by its message_creation step: a step the flow lost "
            "announces nothing", announcement=ANNOUNCES),
)
