"""The Assistants stream's order expectations (:mod:`runflow.protocols.order`)."""

from __future__ import annotations

from runflow.protocols.order import Expectation, Follows, Next

__all__ = ["ORDER"]

ORDER: tuple[Expectation, ...] = (
    Follows("order.run.queued_before_in_progress", "thread.run.in_progress",
            ("thread.run.queued",),
            "every Assistants capture: created -> queued -> in_progress, and the stream of "
            "submit_tool_outputs goes queued -> in_progress"),
    Next("order.step.in_progress_after_created", "thread.run.step.created",
         ("thread.run.step.in_progress",), "every Assistants capture"),
    Next("order.message.in_progress_after_created", "thread.message.created",
         ("thread.message.in_progress",), "every Assistants capture"),
)
