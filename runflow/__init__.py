"""runflow: a validated, declarative state machine for Assistants run streams."""

from .flow import Ending, RunFlow
from .limits import Limits
from .protocol import PROTOCOL, Entity, ProtocolDefinitionError
from .view import StateChange
from .violations import RULES, Code, ProtocolViolation, Violation

__all__ = [
    "PROTOCOL",
    "RULES",
    "Code",
    "Ending",
    "Entity",
    "Limits",
    "ProtocolDefinitionError",
    "ProtocolViolation",
    "RunFlow",
    "StateChange",
    "Violation",
]
__version__ = "0.1.0"
