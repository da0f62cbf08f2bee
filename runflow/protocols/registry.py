"""The registry: one row per protocol runflow knows, read by every surface.

A protocol is a folder (``runflow/protocols/<name>/``: its definition, and beside
it the data the other surfaces need) plus one :class:`Registered` row (the shipped
rows are at the end of this module). Every surface reads the row instead of
keeping its own per-protocol table:

* :mod:`runflow.adapters.recording` detects a recording's protocol
  (:func:`detect`, from each row's :class:`Detection`: the definition's event names
  and type field) and builds its flow (:attr:`Registered.flow`);
* :mod:`runflow.diagrams` draws it and finds its committed folder
  (:attr:`Registered.diagrams`);
* :mod:`runflow.conform` checks its payloads (:attr:`Registered.invariants`) and
  its event order (:attr:`Registered.order`), and runs its scenarios
  (:attr:`Registered.scenarios`, a ``"module:NAME"`` that conform imports when it
  runs, so the registry does not load the openai client's scenarios);
* :mod:`runflow.conform.grouping` groups its findings by root cause with its own
  rows (:attr:`Registered.cascades`);
* the README's violation table says what each code means in it
  (:attr:`Registered.meanings`, :mod:`runflow.protocols.violations`), and conform
  grades it on the codes it names;
* the CLI's ``--protocol`` and ``--profile`` choices (:data:`PROTOCOLS`,
  :attr:`Registered.profiles`, which :func:`register` adds to
  :data:`runflow.protocols.profiles.PROFILES`).

A new protocol: a folder with its definition (and whichever of the other parts it
has), then ``register(Registered(definition=..., ...))`` — here for a shipped one,
anywhere for a protocol of one's own (``tests/toy_protocol`` does that).

Start-up: a shipped row names its definition, flow and invariants as
``"module:NAME"`` (loaded on first use) and carries its :class:`Detection` (the
event names, a few dozen strings), so that detecting and checking a Responses
stream builds neither the Assistants definition nor any openai SDK type, and the
other way round. A row's detection is checked against its definition when the
definition loads (:attr:`Registered.definition`), and a test compares every shipped
row's, so the two cannot drift apart unnoticed.

Imports run one way: this module imports the protocol folders (and, on first use,
the definitions and flows it names); no
folder, and nothing under :mod:`runflow.engine`, imports it back. (It is not
``runflow/protocols/__init__.py``, which the engine's imports of the folders' helpers
run first, see there.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from runflow.engine.definition import Protocol, ProtocolDefinitionError
from runflow.engine.flow import Flow
from runflow.engine.lazy import resolve
from runflow.engine.profiles import Profile
from runflow.engine.violations import Meanings
from runflow.protocols.assistants import cascades as assistants_cascades
from runflow.protocols.assistants import diagrams as assistants_diagrams
from runflow.protocols.assistants import events as assistants_events
from runflow.protocols.assistants import order as assistants_order
from runflow.protocols.assistants import violations as assistants_violations
from runflow.protocols.cascades import Cascade
from runflow.protocols.diagram_set import DiagramSet
from runflow.protocols.order import Expectation
from runflow.protocols.payload import Invariant
from runflow.protocols.profiles import add_profiles
from runflow.protocols.responses import cascades as responses_cascades
from runflow.protocols.responses import diagrams as responses_diagrams
from runflow.protocols.responses import events as responses_events
from runflow.protocols.responses import order as responses_order
from runflow.protocols.responses import profiles as responses_profiles
from runflow.protocols.responses import violations as responses_violations

__all__ = ["PROTOCOLS", "REGISTRY", "Detection", "Registered", "decided", "detect",
           "register", "registered", "row_of", "unregister"]


@dataclass(frozen=True)
class Detection:
    """What :func:`detect` reads of a protocol: its name, its event names and the
    fields its events' data names them by. Plain data, so that a row whose
    definition is not built yet (a ``"module:NAME"``) still takes part."""

    name: str
    events: frozenset[str]
    type_field: str | None = None
    sequence_field: str | None = None

    @classmethod
    def of(cls, definition: Protocol) -> Detection:
        return cls(definition.name, definition.events, definition.type_field,
                   definition.sequence_field)

    def claim(self, name: str | None, data: Any) -> int:
        """How surely one event of a stream is this protocol's: 2 when its data
        names it in the definition's type field (``{"type": "error", ...}`` with no
        ``event:`` line is enough), 1 when only its ``event:`` name is one of the
        definition's events, 0 when it is not ours. A definition with a type field
        claims only events whose data carries it: every one of its events does."""
        field = self.type_field
        if field is not None:
            typed = data.get(field) if isinstance(data, dict) else None
            ours = isinstance(typed, str) and typed in self.events
            return 2 if ours and (name is None or name == typed) else 0
        return 1 if name is not None and name in self.events else 0


class Registered:
    """One protocol, as every surface needs it. Only ``definition`` is required: a
    protocol without the other parts is still checked, replayed and drawn.

    ``definition``, ``flow`` and ``invariants`` may each be a ``"module:NAME"``,
    imported on first use; a row whose definition is one must carry its
    ``detection``. Treat a row as frozen."""

    __slots__ = ("_definition", "_invariants", "cascades", "detection", "diagrams", "flow",
                 "meanings", "more_diagrams", "order", "profiles", "scenarios", "sdk_events")

    def __init__(self, definition: Protocol | str, flow: type[Flow] | str = Flow,
                 diagrams: DiagramSet | None = None,
                 invariants: tuple[Invariant, ...] | str = (),
                 order: tuple[Expectation, ...] = (), scenarios: str | None = None,
                 profiles: tuple[Profile, ...] = (), *,
                 detection: Detection | None = None,
                 more_diagrams: tuple[tuple[str, str], ...] = (),
                 sdk_events: str | None = None,
                 meanings: Meanings | None = None,
                 cascades: tuple[Cascade, ...] = ()) -> None:
        if detection is None:
            if isinstance(definition, str):
                raise ValueError(f"a row naming its definition ({definition!r}) must "
                                 "carry its detection")
            detection = Detection.of(definition)
        self._definition = definition
        self.detection = detection
        """What :func:`detect` reads (for a built definition: taken from it)."""
        self.flow = flow
        """The flow class that runs it (built as ``flow(protocol=definition,
        profile=...)``), or its ``"module:Name"``, imported on first use
        (:attr:`flow_class`), so that detecting a stream's protocol loads no other
        protocol's flow and SDK types."""
        self.diagrams = diagrams
        """Where its committed diagrams live (None: the generic ``diagrams/<name>/``)."""
        self.more_diagrams = more_diagrams
        """Machines drawn beside the definition's, each ``(subfolder of its folder,
        "module:name" of a function returning {file name: text})``, loaded on first use
        and written by ``runflow diagram --refresh`` (the Responses WebSocket machines)."""
        self._invariants = invariants
        self.order = order
        """What every real server's event order does (:mod:`runflow.protocols.order`)."""
        self.scenarios = scenarios
        """``"module:NAME"`` of its ``runflow conform`` scenarios (None: it has none)."""
        self.profiles = profiles
        """Its servers' profiles (``--profile``)."""
        self.meanings = meanings
        """Its violation catalogue: what each code it can report means in its events
        and entities (:data:`runflow.engine.violations.Meanings`); None: it says
        nothing of its own, and any code may be reported."""
        self.cascades = cascades
        """Its rows of conform's grouping by root cause, beside the rows that hold for
        any grammar (:mod:`runflow.protocols.cascades`)."""
        self.sdk_events = sdk_events
        """``"module:Name"`` of the openai SDK's union of its stream events, by which
        :mod:`runflow.conform.sdk_types` types an object whose entity's table names no
        snapshot class (an output item: the class of the event's ``item`` field, picked
        by the item's ``type``), and :mod:`runflow.conform.sdk_events` the data of its
        delta and value events; None: neither is typed that way."""

    def __repr__(self) -> str:
        return f"Registered({self.name!r})"

    @property
    def name(self) -> str:
        return self.detection.name

    @property
    def definition(self) -> Protocol:
        """The definition (a ``"module:NAME"`` is imported now, and its event names
        and type field must be the row's :attr:`detection`)."""
        ref = self._definition
        if not isinstance(ref, str):
            return ref
        definition = cast(Protocol, resolve(ref))
        if Detection.of(definition) != self.detection:
            raise ProtocolDefinitionError(
                f"the registry row of {self.name!r} detects streams by other event names "
                f"or fields than {ref} has: update the row's Detection "
                "(runflow/protocols/registry.py)")
        self._definition = definition  # checked once
        return definition

    @property
    def invariants(self) -> tuple[Invariant, ...]:
        """What each state's object holds (:mod:`runflow.protocols.payload`); a
        ``"module:NAME"`` is imported now."""
        ref = self._invariants
        return cast("tuple[Invariant, ...]", resolve(ref)) if isinstance(ref, str) else ref

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
        """:meth:`Detection.claim` of this row."""
        return self.detection.claim(name, data)


REGISTRY: dict[str, Registered] = {}
"""Every registered protocol, by name, in registration order (the first is the
default when a stream says nothing)."""


class _Definitions(Mapping[str, Protocol]):
    """The registered definitions by name, read through :data:`REGISTRY`: listing
    the names builds none; reading one builds that one."""

    def __getitem__(self, name: str) -> Protocol:
        return REGISTRY[name].definition

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)

    def __contains__(self, name: object) -> bool:
        return name in REGISTRY


PROTOCOLS: Mapping[str, Protocol] = _Definitions()
"""Every registered definition, by :attr:`Protocol.name` (``runflow diagram
--protocol NAME``)."""


def register(row: Registered) -> Registered:
    """Add ``row`` (replacing a row of the same name) and its profiles."""
    add_profiles(row.profiles)
    REGISTRY[row.name] = row
    return row


def unregister(name: str) -> None:
    """Remove the row ``name`` (a test's own protocol, when the test is done)."""
    REGISTRY.pop(name, None)


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
    data)``): the one :func:`decided`; a stream no event decides is the first
    registered protocol's."""
    name = decided(events)
    return name if name is not None else next(iter(REGISTRY.values())).detection.name


def decided(events: Iterable[tuple[str | None, Any]]) -> str | None:
    """The protocol of the first of ``events`` one protocol claims more surely than
    any other; None when none is (a pipe read so far reads on)."""
    rows = [row.detection for row in REGISTRY.values()]
    for name, data in events:
        scores = [(row.claim(name, data), row.name) for row in rows]
        best = max((score for score, _ in scores), default=0)
        winners = [n for score, n in scores if score == best]
        if best > 0 and len(winners) == 1:
            return winners[0]
    return None


# --------------------------------------------------------------------------- #
# The shipped rows. Their event names come from each protocol's light ``events``
# module (the definition reads the same set), so that detection builds neither
# definition; the row is still compared with the definition when it loads.
# --------------------------------------------------------------------------- #
register(Registered(
    definition="runflow.protocols.assistants.definition:ASSISTANTS",
    detection=Detection("assistants", assistants_events.PROTOCOL_EVENTS),
    flow="runflow.protocols.assistants.flow:RunFlow",
    sdk_events="openai.types.beta.assistant_stream_event:AssistantStreamEvent",
    diagrams=assistants_diagrams.DIAGRAMS,
    invariants="runflow.protocols.assistants.invariants:INVARIANTS",
    order=assistants_order.ORDER,
    scenarios="runflow.conform.assistants:ASSISTANTS_SCENARIOS",
    meanings=assistants_violations.MEANINGS,
    cascades=assistants_cascades.CASCADES))
register(Registered(
    definition="runflow.protocols.responses.definition:RESPONSES",
    detection=Detection("responses", responses_events.PROTOCOL_EVENTS, "type",
                        "sequence_number"),
    flow="runflow.protocols.responses.flow:ResponseFlow",
    diagrams=responses_diagrams.DIAGRAMS,
    invariants="runflow.protocols.responses.invariants:INVARIANTS",
    order=responses_order.ORDER,
    scenarios="runflow.conform.responses:RESPONSES_SCENARIOS",
    profiles=responses_profiles.PROFILES,
    sdk_events="openai.types.responses:ResponseStreamEvent",
    meanings=responses_violations.MEANINGS,
    cascades=responses_cascades.CASCADES,
    more_diagrams=(("websocket", "runflow.protocols.responses.websocket.diagrams:"
                                 "diagram_files"),)))
