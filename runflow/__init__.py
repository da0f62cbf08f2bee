"""runflow: a validated, declarative state machine for Assistants run streams."""

from .callbacks import Handler
from .checkpoint import CheckpointError
from .drive import DriveError, RunTimeout, ToolError, UnknownTool, adrive, drive
from .drive_responses import DrivenResponse, FunctionCallMade, adrive_response, drive_response
from .flow import Ending, RecoveryError, RunFlow
from .hooks import CallbackFailure
from .jsonparse import JSONError
from .limits import Limits
from .parts import TextDelta, TextSnapshot, ToolCallDelta, ToolCallSnapshot
from .protocol import ASSISTANTS, PROTOCOL, Entity, Protocol, ProtocolDefinitionError
from .response_flow import ResponseFlow, ValueDelta
from .sdk import AsyncFlowEventHandler, FlowEventHandler, aconsume, consume
from .state import StateChange
from .violations import RULES, Code, EntityRef, ProtocolError, Violation

__all__ = [
    "ASSISTANTS",
    "PROTOCOL",
    "RULES",
    "AsyncFlowEventHandler",
    "CallbackFailure",
    "CheckpointError",
    "Code",
    "DriveError",
    "DrivenResponse",
    "Ending",
    "Entity",
    "EntityRef",
    "FlowEventHandler",
    "FunctionCallMade",
    "Handler",
    "JSONError",
    "Limits",
    "Protocol",
    "ProtocolDefinitionError",
    "ProtocolError",
    "RecoveryError",
    "ResponseFlow",
    "RunFlow",
    "RunTimeout",
    "StateChange",
    "TextDelta",
    "TextSnapshot",
    "ToolCallDelta",
    "ToolCallSnapshot",
    "ToolError",
    "UnknownTool",
    "ValueDelta",
    "Violation",
    "aconsume",
    "adrive",
    "adrive_response",
    "consume",
    "drive",
    "drive_response",
]
__version__ = "0.1.0"
