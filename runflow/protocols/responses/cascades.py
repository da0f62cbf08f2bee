"""The Responses rows of conform's grouping (:mod:`runflow.protocols.cascades`): its
own rules that a lost event leaves behind, and the output items the terminal
response lists."""

from __future__ import annotations

from runflow.protocols.cascades import Cascade

__all__ = ["CASCADES"]

CASCADES: tuple[Cascade, ...] = (
    Cascade(frozenset({"grammar.output_mismatch", "consistency.response",
                       "order.response.in_progress_after_created",
                       "order.response.queued_after_created",
                       "order.response.in_progress_after_queued"}), "same",
            "a response or item whose event was lost, broken or refused is unknown, in "
            "the wrong status or different from REST for the rest of the flow"),
    Cascade(frozenset({"grammar.output_mismatch", "consistency.response"}), "root",
            "the terminal output and REST's response are judged against the stream's "
            "response: one left behind by a lost event differs from both"),
    Cascade(frozenset({"grammar.output_mismatch", "grammar.items_interleaved"}), "group",
            "the terminal output lists the items: one the flow lost is missing from it",
            group="output"),
)
