"""Exactly once per call id: the bookkeeping both drive loops share.

A loop answers a call id once, wherever a cut falls: it takes the calls to answer
from :meth:`Ledger.unanswered` (ids answered before are left out, and so is a
second call with the id of an earlier one -- one output answers an id, so a
model that repeats an id gets the first call's answer, and the repeat is
returned for the loop to report), and records their ids with
:meth:`Ledger.record` *before* the request carrying the outputs is sent.

That request goes without the SDK's automatic retries (a retry after a reset
that the server had already acted on would answer the calls twice). When it
fails in a way that leaves open whether the server took it
(:func:`maybe_taken`), the loop reads back what it can (the Assistants run) or
refuses to send it again (a Responses create cannot be read back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import openai

__all__ = ["Ledger", "maybe_taken"]

_C = TypeVar("_C")


def maybe_taken(exc: openai.APIError) -> bool:
    """Whether a failed request may still have reached the server (so it must be
    read back before sending again): no answer at all, or a gateway-style error."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    return isinstance(exc, openai.APIStatusError) and (
        exc.status_code >= 500 or exc.status_code in (408, 409, 429))


class Ledger:
    """The call ids answered so far."""

    def __init__(self) -> None:
        self.answered: set[str] = set()

    def unanswered(self, calls: Iterable[_C], call_id: Callable[[_C], str]
                   ) -> tuple[list[_C], list[_C]]:
        """The calls to answer now: those whose id (``call_id(call)``) was not
        answered, the first of each id; and the repeats -- later calls with the id
        of an earlier one in ``calls``, which are not answered again."""
        fresh: list[_C] = []
        repeats: list[_C] = []
        seen: set[str] = set()
        for call in calls:
            key = call_id(call)
            if key in self.answered:
                continue
            (repeats if key in seen else fresh).append(call)
            seen.add(key)
        return fresh, repeats

    def record(self, ids: Iterable[str]) -> None:
        """The ids as answered: call it before sending the outputs."""
        self.answered.update(ids)
