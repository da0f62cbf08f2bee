"""Protocol definitions: what a definition is (:mod:`.model`) and the definitions
runflow ships (:mod:`.assistants`, :mod:`.responses`). Data only: nothing here runs
a stream.

``PROTOCOL`` is the default definition, the Assistants stream; ``PROTOCOLS`` names
every shipped definition.
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

PROTOCOLS: dict[str, Protocol] = {"assistants": ASSISTANTS, "responses": RESPONSES}
"""Every definition runflow ships, by :attr:`Protocol.name` (``runflow diagram
--protocol NAME``)."""

FINAL_OBJECT_EVENTS: frozenset[str] = ASSISTANTS.final_object_events
"""Status events that carry a step's or message's finished object."""

__all__ = [
    "ASSISTANTS",
    "FINAL_OBJECT_EVENTS",
    "MESSAGE",
    "PROTOCOL",
    "PROTOCOLS",
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
