"""Protocol definitions: what a definition is (:mod:`runflow.engine.definition`)
and the definitions runflow ships (:mod:`.assistants`, :mod:`.responses`). Data
only: nothing here runs a stream.

Every surface finds a protocol through :mod:`.registry` (one row per protocol: its
definition, flow class, diagrams, invariants, order rows, scenarios, profiles).
The registry is a module of its own, not this package's ``__init__``, because the
engine imports the protocol folders' helpers (accumulators, content parts) while
the registry imports the engine's flows: a registry here would run in the middle
of the engine's own import.

``PROTOCOL`` is the default definition, the Assistants stream. The names of a
shipped definition load on first use (:func:`__getattr__`): importing any module
under ``runflow.protocols`` runs this one first, and checking a Responses stream
must not build the Assistants definition (nor the other way round).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
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

_ASSISTANTS = "runflow.protocols.assistants.definition"
_LAZY: dict[str, tuple[str, str]] = {
    **{name: (_ASSISTANTS, name) for name in (
        "ASSISTANTS", "MESSAGE", "PROTOCOL_EVENTS", "RULES", "RUN", "STEP", "STREAM",
        "TABLES", "THREAD", "Entity", "build_assistants")},
    "PROTOCOL": (_ASSISTANTS, "ASSISTANTS"),
    "RESPONSES": ("runflow.protocols.responses.definition", "RESPONSES"),
}
"""Each lazily loaded name -> (its module, its name there)."""


def __getattr__(name: str) -> Any:
    """A shipped definition's name, imported now (and kept in this module)."""
    if name == "FINAL_OBJECT_EVENTS":
        value: Any = __getattr__("ASSISTANTS").final_object_events
    elif name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


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
