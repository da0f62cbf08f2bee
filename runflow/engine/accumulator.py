"""The accumulator interface: what a protocol's deltas grow, as the engine sees it.

A definition names, per entity kind, the accumulator its deltas grow
(:attr:`runflow.engine.definition.EntityTable.accumulator`); each protocol
package implements it (``runflow.protocols.assistants.accumulators``,
``runflow.protocols.responses.values``). The engine calls only the methods of
:class:`Accumulator`, and reads the few values defined here, so it imports
nothing from a protocol.
"""

from __future__ import annotations

from typing import Any, Protocol

from runflow.engine.violations import Code

__all__ = ["JSON", "MISSING", "OVER_LIMIT", "Accumulator", "Difference", "MergeResult",
           "Problem", "shorten"]

JSON = dict[str, Any]
"""A JSON object as parsed (keys are strings, values any JSON value)."""

Problem = tuple[Code, str]
"""A rejected delta: the violation code and a sentence naming the field (a
:class:`~runflow.engine.shapes.Misfit`, which carries the field's JSON path onto the
violation, where the sentence is about one field)."""

OVER_LIMIT = -1
"""What :meth:`Accumulator.merge` returns when the delta would grow the entity
past its limit: nothing was applied."""

MergeResult = int | Problem | None
"""Characters added (>= 0), :data:`OVER_LIMIT`, a rejecting problem, or None when
the delta carried nothing to merge."""

Difference = tuple[str, Any, Any]
"""(field path, rebuilt value, server value): one disagreement of
:meth:`Accumulator.diverge`."""

MISSING = "<missing>"
"""The server value of a :data:`Difference` when the server omitted the field: the
rebuilt value is kept."""


def shorten(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters, for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Accumulator(Protocol):
    """What deltas grow for one entity. ``merge`` validates a whole delta and
    applies it, or applies nothing and says why; the rest keep the snapshot, the
    undo journal and checkpoints whole."""

    @property
    def limit(self) -> str:
        """The :class:`runflow.Limits` field that bounds what deltas add (a class
        attribute of each accumulator)."""
        ...

    def merge(self, delta: JSON, room: int, max_index: int) -> MergeResult:
        """Merge ``delta`` if it is valid and fits in ``room`` characters."""
        ...

    def absorb(self, obj: JSON) -> None:
        """Make the server's full object (or a value event's data) the snapshot,
        keeping what deltas built where the server omitted it."""
        ...

    def diverge(self, obj: JSON) -> list[Difference]:
        """Where what the deltas built disagrees with the server's final object."""
        ...

    def wire(self, raw: JSON) -> JSON:
        """The snapshot laid out as the API does, from the last full object."""
        ...

    def disagrees(self, raw: JSON) -> str | None:
        """Why this cannot belong to the object ``raw`` (a checkpoint check)."""
        ...

    def save(self) -> Any:
        """What :meth:`absorb` replaces, to undo an event that failed half-way."""
        ...

    def restore(self, saved: Any) -> None:
        """Put back what :meth:`save` returned."""
        ...

    def dump(self) -> JSON:
        """What the deltas built, as JSON (checkpoints)."""
        ...

    def load(self, data: JSON) -> None:
        """Rebuild from :meth:`dump`; raises ``KeyError``, ``TypeError`` or
        ``ValueError`` on damaged data."""
        ...
