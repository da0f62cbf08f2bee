"""The registry: one row per protocol runflow knows, read by every surface.

A protocol is a folder (``runflow/protocols/<name>/``: its definition, and beside
it the data the other surfaces need) plus one :class:`Registered` row (the shipped
rows are at the end of this module). Every surface reads the row instead of
keeping its own per-protocol table:

* :mod:`runflow.adapters.recording` detects a recording's protocol
  (:func:`detect`, from each definition's event names and type field) and builds
  its flow (:attr:`Registered.flow`);
* :mod:`runflow.diagrams` draws it and finds its committed folder
  (:attr:`Registered.diagrams`);
* :mod:`runflow.conform` checks its payloads (:attr:`Registered.invariants`) and
  its event order (:attr:`Registered.order`), and runs its scenarios
  (:attr:`Registered.scenarios`, a ``"module:NAME"`` that conform imports when it
  runs, so the registry does not load the openai client's scenarios);
* the CLI's ``--protocol`` and ``--profile`` choices (:data:`PROTOCOLS`,
  :attr:`Registered.profiles`, which :func:`register` adds to
  :data:`runflow.protocols.profiles.PROFILES`).

A new protocol: a folder with its definition (and whichever of the other parts it
has), then ``register(Registered(definition=..., ...))`` — here for a shipped one,
anywhere for a protocol of one's own (``tests/toy_protocol`` does that).

Imports run one way: this module imports the protocol folders (and, on first use,
the flows it names); no
folder, and nothing under :mod:`runflow.engine`, imports it back. (It is not
``runflow/protocols/__init__.py``, which the engine's imports of the folders' helpers
run first, see there.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from runflow.engine.definition import Protocol
from runflow.engine.flow import Flow
from runflow.engine.lazy import resolve
from runflow.engine.profiles import Profile
from runflow.protocols.assistants import diagrams as assistants_diagrams
from runflow.protocols.assistants import invariants as assistants_invariants
from runflow.protocols.assistants import order as assistants_order
from runflow.protocols.assistants.definition import ASSISTANTS
from runflow.protocols.diagram_set import DiagramSet
from runflow.protocols.order import Expectation
from runflow.protocols.payload import Invariant
from runflow.protocols.profiles import add_profiles
from runflow.protocols.responses import diagrams as responses_diagrams
from runflow.protocols.responses import invariants as responses_invariants
from runflow.protocols.responses import order as responses_order
from runflow.protocols.responses import profiles as responses_profiles
from runflow.protocols.responses.definition import RESPONSES

__all__ = ["PROTOCOLS", "REGISTRY", "Registered", "detect", "register", "registered",
           "row_of", "unregister"]


@dataclass(frozen=True)
class Registered:
    """One protocol, as every surface needs it. Only ``definition`` is required: a
    protocol without the other parts is still checked, replayed and drawn."""

    definition: Protocol
    flow: type[Flow] | str = Flow
    """The flow class that runs it (built as ``flow(protocol=definition, profile=...)``),
    or its ``"module:Name"``, imported on first use (:attr:`flow_class`), so that
    detecting a stream's protocol loads no other protocol's flow and SDK types."""
    diagrams: DiagramSet | None = None
    """Where its committed diagrams live (None: the generic ``diagrams/<name>/``)."""
    more_diagrams: tuple[tuple[str, str], ...] = ()
    """Machines drawn beside the definition's, each ``(subfolder of its folder,
    "module:name" of a function returning {file name: text})``, loaded on first use
    and written by ``runflow diagram --refresh`` (the Responses WebSocket machines)."""
    invariants: tuple[Invariant, ...] = ()
    """What each state's object holds (:mod:`runflow.protocols.payload`)."""
    order: tuple[Expectation, ...] = ()
    """What every real server's event order does (:mod:`runflow.protocols.order`)."""
    scenarios: str | None = None
    """``"module:NAME"`` of its ``runflow conform`` scenarios (None: it has none)."""
    profiles: tuple[Profile, ...] = ()
    """Its servers' profiles (``--profile``)."""

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def diagram_set(self) -> DiagramSet:
        return self.diagrams or DiagramSet.generic(self.name)

    @property
    def flow_class(self) -> type[Flow]:
        """:attr:`flow` as a class (a ``"module:Name"`` is imported now)."""
        ref = self.flow
        return cast("type[Flow]", resolve(ref)) if isinstance(ref, str) else ref

    def new_flow(self, *, profile: Profile | None = None) -> Flow:
        """A fresh flow of this protocol."""
        return self.flow_class(protocol=self.definition, profile=profile)

    def claim(self, name: str | None, data: Any) -> int:
        """How surely one event of a stream is this protocol's: 2 when its data
        names it in the definition's type field (``{"type": "error", ...}`` with no
        ``event:`` line is enough), 1 when only its ``event:`` name is one of the
        definition's events, 0 when it is not ours. A definition with a type field
        claims only events whose data carries it: every one of its events does."""
        field = self.definition.type_field
        if field is not None:
            typed = data.get(field) if isinstance(data, dict) else None
            ours = isinstance(typed, str) and typed in self.definition.events
            return 2 if ours and (name is None or name == typed) else 0
        return 1 if name is not None and name in self.definition.events else 0


REGISTRY: dict[str, Registered] = {}
"""Every registered protocol, by name, in registration order (the first is the
default when a stream says nothing)."""

PROTOCOLS: dict[str, Protocol] = {}
"""Every registered definition, by :attr:`Protocol.name` (``runflow diagram
--protocol NAME``)."""


def register(row: Registered) -> Registered:
    """Add ``row`` (replacing a row of the same name) and its profiles."""
    add_profiles(row.profiles)
    REGISTRY[row.name] = row
    PROTOCOLS[row.name] = row.definition
    return row


def unregister(name: str) -> None:
    """Remove the row ``name`` (a test's own protocol, when the test is done)."""
    REGISTRY.pop(name, None)
    PROTOCOLS.pop(name, None)


def registered(name: str) -> Registered:
    """The row of the protocol ``name``; ``ValueError`` naming the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(REGISTRY)}") from None


def row_of(definition: Protocol) -> Registered:
    """The row of ``definition`` by its name (a variant built from a registered
    definition reads that definition's row), or a bare row of its own."""
    known = REGISTRY.get(definition.name)
    return known if known is not None else Registered(definition=definition)


def detect(events: Iterable[tuple[str | None, Any]]) -> str:
    """The protocol a stream speaks, from its first events (``(event: name or None,
    data)``): the first event one protocol claims more surely than any other
    decides; a stream no event decides is the first registered protocol's."""
    rows = list(REGISTRY.values())
    for name, data in events:
        scores = [(row.claim(name, data), row.name) for row in rows]
        best = max((score for score, _ in scores), default=0)
        winners = [n for score, n in scores if score == best]
        if best > 0 and len(winners) == 1:
            return winners[0]
    return rows[0].name


register(Registered(
    definition=ASSISTANTS, flow="runflow.protocols.assistants.flow:RunFlow",
    diagrams=assistants_diagrams.DIAGRAMS,
    invariants=assistants_invariants.INVARIANTS, order=assistants_order.ORDER,
    scenarios="runflow.conform.assistants:ASSISTANTS_SCENARIOS"))
register(Registered(
    definition=RESPONSES, flow="runflow.protocols.responses.flow:ResponseFlow",
    diagrams=responses_diagrams.DIAGRAMS,
    invariants=responses_invariants.INVARIANTS, order=responses_order.ORDER,
    scenarios="runflow.conform.responses:RESPONSES_SCENARIOS",
    profiles=responses_profiles.PROFILES,
    more_diagrams=(("websocket", "runflow.protocols.responses.websocket.diagrams:"
                                 "diagram_files"),)))
