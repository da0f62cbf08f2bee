"""The Responses stream's order expectations (:mod:`runflow.protocols.order`)."""

from __future__ import annotations

from runflow.protocols.order import Expectation, Follows, Next, Repeats

__all__ = ["ORDER"]

ORDER: tuple[Expectation, ...] = (
    Next("order.response.in_progress_after_created", "response.created",
         ("response.in_progress",),
         "every foreground Responses capture: created -> in_progress", when="in_progress"),
    Next("order.response.queued_after_created", "response.created",
         ("response.queued",),
         "pydanticai_background_create_gpt4o: a background response is created queued, "
         "then response.queued", when="queued"),
    Follows("order.response.in_progress_after_queued", "response.in_progress",
            ("response.created", "response.queued"),
            "every Responses capture: in_progress follows created (or queued)"),
    Next("order.response.failed_after_error", "error", ("response.failed",),
         "OR-spec: 'any error incurred while streaming will be followed by a "
         "response.failed event'; both error captures do", required=True,
         source="specification"),
    Repeats("order.sequence.no_repeats",
            "every Responses capture; a number is repeated only by a stream resumed before "
            "it (starting_after), never within one stream"),
)
