"""runflow: a validated, declarative state machine for Assistants run streams."""

from .callbacks import Handler
from .flow import Ending, RunFlow
from .hooks import CallbackFailure
from .limits import Limits
from .parts import TextDelta, TextSnapshot, ToolCallDelta, ToolCallSnapshot
from .protocol import PROTOCOL, Entity, ProtocolDefinitionError
from .sdk import AsyncFlowEventHandler, FlowEventHandler
from .view import StateChange
from .violations import RULES, Code, ProtocolViolation, Violation

__all__ = [
    "PROTOCOL",
    "RULES",
    "AsyncFlowEventHandler",
    "CallbackFailure",
    "Code",
    "Ending",
    "Entity",
    "FlowEventHandler",
    "Handler",
    "Limits",
    "ProtocolDefinitionError",
    "ProtocolViolation",
    "RunFlow",
    "StateChange",
    "TextDelta",
    "TextSnapshot",
    "ToolCallDelta",
    "ToolCallSnapshot",
    "Violation",
]
__version__ = "0.1.0"
