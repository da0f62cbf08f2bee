"""Protocol definitions: what a definition is (:mod:`runflow.engine.definition`)
and the definitions runflow ships (:mod:`.assistants`, :mod:`.responses`). Data
only: nothing here runs a stream.

Every surface finds a protocol through :mod:`.registry` (one row per protocol: its
definition, flow class, diagrams, invariants, order rows, scenarios, profiles).
The registry is a module of its own, not this package's ``__init__``, because the
engine imports the protocol folders' helpers (accumulators, content parts) while
the registry imports the engine's flows: a registry here would run in the middle
of the engine's own import.

``PROTOCOL`` is the default definition, the Assistants stream.
"""

from runflow.engine.definition import (
    UNSEEN,
    EntityTable,
    EventKind,
    Finding,
    Protocol,
    ProtocolDefinitionError,
    Rule,
    StreamRow,
    StreamTable,
    Transition,
    build_protocol,
)
from runflow.protocols.assistants.definition import (
    ASSISTANTS,
    MESSAGE,
    PROTOCOL_EVENTS,
    RULES,
    RUN,
    STEP,
    STREAM,
    TABLES,
    THREAD,
    Entity,
    build_assistants,
)
from runflow.protocols.responses.definition import RESPONSES

PROTOCOL: Protocol = ASSISTANTS
"""The default protocol: the Assistants stream."""

FINAL_OBJECT_EVENTS: frozenset[str] = ASSISTANTS.final_object_events
"""Status events that carry a step's or message's finished object."""

__all__ = [
    "ASSISTANTS",
    "FINAL_OBJECT_EVENTS",
    "MESSAGE",
    "PROTOCOL",
    "PROTOCOL_EVENTS",
    "RESPONSES",
    "RULES",
    "RUN",
    "STEP",
    "STREAM",
    "TABLES",
    "THREAD",
    "UNSEEN",
    "Entity",
    "EntityTable",
    "EventKind",
    "Finding",
    "Protocol",
    "ProtocolDefinitionError",
    "Rule",
    "StreamRow",
    "StreamTable",
    "Transition",
    "build_assistants",
    "build_protocol",
]
