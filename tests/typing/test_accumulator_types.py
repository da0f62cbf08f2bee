"""Static checks of the accumulator interface, run by ``mypy --strict runflow tests/typing``.

The engine knows what deltas grow only as :class:`runflow.engine.accumulator.Accumulator`
(a ``typing.Protocol``); each shipped accumulator must be one, and a class that
lacks part of the interface must be rejected (the ``# type: ignore[assignment]``
line: ``warn_unused_ignores`` fails mypy if it stops being an error). pytest runs
the ``test_`` functions too.
"""

from __future__ import annotations

from runflow.engine.accumulator import JSON, OVER_LIMIT, Accumulator, MergeResult
from runflow.protocols.assistants.accumulators import MessageContent, StepDetails
from runflow.protocols.responses.values import OutputText, StreamedText


class OnlyMerges:
    """Half an accumulator: merges, but cannot be compared, saved or restored."""

    limit = "max_message_chars"

    def merge(self, delta: JSON, room: int, max_index: int) -> MergeResult:
        return OVER_LIMIT


def test_the_shipped_accumulators_are_accumulators() -> None:
    shipped: list[Accumulator] = [MessageContent(), StepDetails(), StreamedText("text"),
                                  OutputText()]
    assert [a.limit for a in shipped] == ["max_message_chars", "max_tool_chars",
                                          "max_message_chars", "max_message_chars"]
    assert [a.wire({}) for a in shipped[::2]] == [{"content": []}, {"text": ""}]


def test_half_an_accumulator_is_not_one() -> None:
    half: Accumulator = OnlyMerges()  # type: ignore[assignment]
    assert half.merge({}, 0, 0) == OVER_LIMIT
