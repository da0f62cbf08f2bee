"""Which mutations count (:mod:`runflow.testing.fuzz`): equivalent streams, whose new
violations are the expected answer to the damage, and relevance (the mutation
changes the stream's projection)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runflow.engine.objects import dig
from runflow.engine.violations import Violation
from runflow.protocols import PROTOCOL, UNSEEN, Entity, EventKind
from runflow.testing.fuzz_mutations import Mutation
from runflow.testing.fuzz_sse import parse_sse
from runflow.testing.projection import Event, entity_of, projection


# --------------------------------------------------------------------------- #
# equivalent streams
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Equivalence:
    """A class of mutations whose result is still a valid stream (or whose change
    the clean replay already reports), and why it does not count."""

    name: str
    why: str
    applies: Callable[[Mutation, Sequence[Event], Sequence[Violation]], bool]


def _is_delta(e: Event) -> bool:
    return e.get("event") in ("thread.message.delta", "thread.run.step.delta")


def _sole_delta_dropped(m: Mutation, original: Sequence[Event],
                        clean: Sequence[Violation]) -> bool:
    if m.kind != "drop" or m.index is None or not _is_delta(original[m.index]):
        return False
    e = original[m.index]
    oid = dig(e.get("data"), "id")
    return sum(1 for x in original if _is_delta(x) and dig(x.get("data"), "id") == oid) == 1


def _later_start(m: Mutation, original: Sequence[Event], clean: Sequence[Violation]) -> bool:
    if m.index is None or m.kind not in ("drop", "status_name"):
        return False
    first = original[0].get("event")
    if m.kind == "drop" and m.index == 0 and first == "thread.created":
        return True
    if first == "thread.created":
        return False
    runs = [i for i, e in enumerate(original) if entity_of(e.get("event")) is not None
            and entity_of(e.get("event")) == (EventKind.STATUS, Entity.RUN)]
    if not runs or m.index > runs[0]:
        return False
    if m.kind == "drop":
        return True
    # a rename of the first run event to one whose state is the payload's status
    renamed = parse_sse(m.data)[m.index]
    dest = PROTOCOL.transitions[Entity.RUN].get((UNSEEN, str(renamed.get("event"))))
    return dest is not None and dest == dig(renamed.get("data"), "status")


def _already_divergent(m: Mutation, original: Sequence[Event],
                       clean: Sequence[Violation]) -> bool:
    if m.index is None or m.index >= len(original):
        return False
    oid = dig(original[m.index].get("data"), "id")
    kinds = {"drop", "duplicate", "swap", "corrupt_json"}
    return m.kind in kinds and any(
        v.code.value == "snapshot_divergence" and v.entity is not None
        and v.entity.id == oid for v in clean
    )


def _quirk_repaired(m: Mutation, original: Sequence[Event],
                    clean: Sequence[Violation]) -> bool:
    if m.kind != "status_payload" or m.index is None:
        return False
    e = original[m.index]
    route = entity_of(e.get("event"))
    if route is None or route[1] is None:
        return False
    fixed = parse_sse(m.data)[m.index]
    dests = {d for (_, ev), d in PROTOCOL.transitions[route[1]].items() if ev == e.get("event")}
    return dig(e.get("data"), "status") not in dests and dig(fixed.get("data"), "status") in dests


EQUIVALENCES: tuple[Equivalence, ...] = (
    Equivalence(
        "all deltas of an entity dropped",
        "Deltas are optional fragments: a server may send a message or step only "
        "through its full objects. runflow compares deltas with the final object "
        "only when deltas arrived, and the final object is the server's word, so a "
        "stream that lost the only delta of an entity is a valid stream.",
        _sole_delta_dropped,
    ),
    Equivalence(
        "the stream starts later",
        "A flow may begin in the middle of a run (the submit_tool_outputs stream "
        "does), adopting entities at their first full object. Dropping "
        "thread.created leaves a plain runs.create stream; in a stream that does "
        "not start with thread.created, dropping events up to the first run event "
        "(or renaming that event to one whose state is its payload status) leaves "
        "a stream that begins later in the same run. Both are valid streams.",
        _later_start,
    ),
    Equivalence(
        "already reported divergence",
        "The clean replay already reports snapshot_divergence for the entity (the "
        "hand-edited recording trims a message's deltas). A further change to its "
        "delta values or final object is that same violation on the same field "
        "path; runflow reports one per field and shortens values in messages.",
        _already_divergent,
    ),
    Equivalence(
        "a real server's quirk repaired",
        "The original payload status disagrees with its event name (a 2024 capture "
        "sends thread.run.completed with status incomplete; runflow warns "
        "status_mismatch). Setting the payload to the event's state gives the "
        "stream a conforming server sends: valid, with one warning fewer.",
        _quirk_repaired,
    ),
)
"""Explicit, justified exceptions to "projection differs => relevant"."""


_PROJECTIONS: dict[int, tuple[Sequence[Event], tuple[Any, ...]]] = {}


def is_relevant(m: Mutation, original: Sequence[Event],
                clean: Sequence[Violation] = ()) -> bool:
    """Whether the mutated stream means something else (module docstring);
    ``clean`` is the clean replay's violations."""
    cached = _PROJECTIONS.get(id(original))
    if cached is None or cached[0] is not original:
        cached = _PROJECTIONS[id(original)] = (original, projection(original))
        while len(_PROJECTIONS) > 64:
            del _PROJECTIONS[next(iter(_PROJECTIONS))]
    if projection(parse_sse(m.data)) == cached[1]:
        return False
    return not any(eq.applies(m, original, clean) for eq in EQUIVALENCES)


