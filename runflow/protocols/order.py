"""Order expectations: the vocabulary each protocol's rows are written in.

The grammar (a definition's tables) says what a stream *may* do; order rows say
what real servers *always* do, where a client could come to rely on it. A server
that skips one differs from every capture runflow has; a row only observed reports
a warning, one a document requires an error (:mod:`runflow.conform.order` checks
them). The rows live in each protocol's folder (``runflow/protocols/<name>/order.py``)
and reach the checks through the registry (:mod:`runflow.protocols`).

Three forms, as data:

* :class:`Follows`: when ``event`` arrives, the previous event about the same
  entity in the same stream (if any) is one of ``after``;
* :class:`Next`: the very next event of the same stream after ``event`` is one of
  ``then``; ``when`` narrows it to the state the event leads to, ``required`` makes a
  stream that ends right after ``event`` a finding too;
* :class:`Repeats`: one stream repeats no sequence number (the definition's
  ``sequence_field``).

Each row names its ``source`` (:data:`runflow.protocols.payload.Source`), and its
severity follows from it as for payload rows (:func:`~runflow.protocols.payload.severity_of`):
most are only observed in captures (warnings); one the Open Responses specification
states (``response.failed`` after ``error``), an error (issue 23).
"""

from __future__ import annotations

from dataclasses import dataclass

from runflow.engine.violations import Severity
from runflow.protocols.payload import Source, severity_of

__all__ = ["Expectation", "Follows", "Next", "Repeats"]


class _Row:
    """What every order row says about itself."""

    source: Source

    @property
    def severity(self) -> Severity:
        return severity_of(self.source)


@dataclass(frozen=True)
class Follows(_Row):
    id: str
    event: str
    after: tuple[str, ...]
    why: str
    source: Source = "captures"

    @property
    def summary(self) -> str:
        return f"{self.event} comes right after {' or '.join(self.after)} (about the same entity)."


@dataclass(frozen=True)
class Next(_Row):
    id: str
    event: str
    then: tuple[str, ...]
    why: str
    when: str | None = None
    required: bool = False
    source: Source = "captures"

    @property
    def summary(self) -> str:
        state = f" (leading to {self.when})" if self.when else ""
        return f"{self.event}{state} is followed right away by {' or '.join(self.then)}."


@dataclass(frozen=True)
class Repeats(_Row):
    id: str
    why: str
    summary: str = "One stream repeats no sequence_number."
    source: Source = "captures"


Expectation = Follows | Next | Repeats
