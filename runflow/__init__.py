"""runflow: a validated, declarative state machine for Assistants run streams."""

from .callbacks import Handler
from .drive import DriveError, RunTimeout, ToolError, UnknownTool, adrive, drive
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
    "DriveError",
    "Ending",
    "Entity",
    "FlowEventHandler",
    "Handler",
    "Limits",
    "ProtocolDefinitionError",
    "ProtocolViolation",
    "RunFlow",
    "RunTimeout",
    "StateChange",
    "TextDelta",
    "TextSnapshot",
    "ToolCallDelta",
    "ToolCallSnapshot",
    "ToolError",
    "UnknownTool",
    "Violation",
    "adrive",
    "drive",
]
__version__ = "0.1.0"
