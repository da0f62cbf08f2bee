"""Protocol definitions: what a definition is (:mod:`.model`) and the definitions
runflow ships (:mod:`.assistants`). Data only: nothing here runs a stream.

``PROTOCOL`` is the default definition, the Assistants stream.
"""

from .assistants import (
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
from .model import (
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
