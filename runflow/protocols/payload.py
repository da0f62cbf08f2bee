"""Payload invariants per status: the vocabulary each protocol's rows are written in.

The rows live in each protocol's folder (``runflow/protocols/<name>/invariants.py``)
and reach the checks through the registry (:mod:`runflow.protocols`). The types live
here, beside the definitions rather than in :mod:`runflow.conform`, because a
definition folder writes them and the registry holds them: ``runflow.conform``
reads the registry, so a type there would make the imports run both ways.

The entity tables say which event moves an entity to which state; the rows say
what the object an event carries must hold *in* that state: which timestamps are
set or null, where ``usage``, ``last_error``, ``incomplete_details`` and
``required_action`` belong, the ``object`` field and the id prefix. Nothing here
runs: :mod:`runflow.conform.payload` evaluates the rows on the events of a stream
(``runflow conform`` and ``runflow check`` both use it).

How to read a row
-----------------
``Invariant(id, entity, field, expect)``: ``expect`` maps a state of the entity's
table to an :class:`Expect`; states not named are not checked. The state is the
one the event leads to, as the engine decides it (the event name for Assistants,
the object's status where the table lets it choose, as for ``response.created``).
``events`` narrows a row to some events (a delta event's object, say).

Evidence: every row holds on every real capture in ``shared/recordings`` (a test
replays them all); ``why`` says where, and ``source`` names the kind of evidence
(:data:`Source`). The severity follows from the source (:func:`severity_of`): an
error only where the API reference or the Open Responses specification makes the
field required and not null, or where the object contradicts itself (a status
that says one thing, a field of the same object another); a row that only
observed captures support is a warning, a convention every capture of OpenAI
follows but other servers may not (id prefixes: DeepSeek sends bare UUIDs,
OpenRouter ``gen-`` ids; ``usage`` set at the terminal event, which the
specification makes nullable).

Rules for changing the rows
------------------------------
* An invariant id is a public contract (``payload.<entity>.<field>``), like the
  violation codes: never rename one.
* Keep a row only if every real capture satisfies it, or say in ``why`` that no
  capture shows the state and which documentation the row follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from runflow.engine.definition import EntityTable

__all__ = ["SOURCES", "Expect", "Invariant", "Source", "at", "seen_states", "severity_of"]

Severity = Literal["error", "warning"]
Source = Literal["reference", "specification", "stream", "captures"]
"""Where a rule comes from:

* ``reference``: OpenAI's API reference (and the openai SDK's types, generated from it);
* ``specification``: the Open Responses specification;
* ``stream``: the stream contradicts itself (an event's name and its object's status,
  a value and the deltas that built it), whatever any document says;
* ``captures``: observed in every real capture, written down nowhere."""

SOURCES: dict[Source, str] = {
    "reference": "API reference",
    "specification": "Open Responses spec",
    "stream": "the stream itself",
    "captures": "observed captures",
}
"""How each source reads in the rule tables."""


def severity_of(source: Source) -> Severity:
    """The default severity of a rule from ``source``: an error only where a document
    makes the field required (and the row is written only for such fields) or the
    stream contradicts itself; a warning where only captures show it."""
    return "warning" if source == "captures" else "error"


class Expect(str, Enum):
    """What a field must hold in a state."""

    SET = "set"
    """Present and not null."""
    NULL = "null"
    """Null or absent."""
    SET_IF_PRESENT = "set_if_present"
    """Not null when the server sends the field at all (a field newer servers added)."""
    EQUALS = "equals"
    """Equal to the row's ``value``."""
    PREFIX = "prefix"
    """A string starting with the row's ``value``."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Invariant:
    """One field of one entity's object, and what it must hold per state."""

    id: str
    entity: str
    """The entity kind (a table's ``entity``)."""
    field: str
    expect: Mapping[str, Expect]
    """State -> expectation; states not named are not checked."""
    why: str
    value: str | None = None
    """For :attr:`Expect.EQUALS` and :attr:`Expect.PREFIX`."""
    events: frozenset[str] | None = None
    """Only the objects of these events (None: every status event of the entity)."""
    source: Source = "captures"
    """Where the row comes from; its severity follows (a profile may raise or lower
    it). A field a document makes nullable is not ``reference`` for a row that wants
    it set: only captures show it set."""

    @property
    def severity(self) -> Severity:
        return severity_of(self.source)

    @property
    def summary(self) -> str:
        """One sentence for the rule catalogue."""
        groups: dict[str, list[str]] = {}
        for state, expect in self.expect.items():
            groups.setdefault(_SAY[expect].format(value=self.value), []).append(state)
        said = "; ".join(f"{what} at {', '.join(states)}" for what, states in groups.items())
        return f"{self.entity}.{self.field}: {said}."


_SAY = {
    Expect.SET: "set",
    Expect.NULL: "null",
    Expect.SET_IF_PRESENT: "not null (if sent)",
    Expect.EQUALS: "{value!r}",
    Expect.PREFIX: "starts with {value!r}",
}


def at(states: Iterable[str] | str, expect: Expect) -> dict[str, Expect]:
    """``{state: expect}`` for each of ``states`` (an iterable, or one string of
    space-separated names)."""
    names = states.split() if isinstance(states, str) else states
    return {state: expect for state in names}


def seen_states(table: EntityTable) -> tuple[str, ...]:
    """Every state of ``table`` an object can be seen in (all but the initial one),
    in table order: what a row that holds in every state names."""
    return tuple(s for s in table.states if s != table.initial)
