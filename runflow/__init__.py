"""runflow: a validated, declarative state machine for Assistants run streams."""

from runflow.adapters.drive import (
    DriveError,
    DrivenResponse,
    FunctionCallMade,
    RunTimeout,
    ToolError,
    UnknownTool,
    adrive,
    adrive_response,
    drive,
    drive_response,
)
from runflow.adapters.handlers import AsyncFlowEventHandler, FlowEventHandler
from runflow.adapters.response_handler import ResponseEventHandler
from runflow.adapters.sdk import aconsume, consume
from runflow.engine.callbacks import Handler
from runflow.engine.checkpoint import CheckpointError
from runflow.engine.flow import Ending, RecoveryError, RunFlow
from runflow.engine.hooks import CallbackFailure
from runflow.engine.jsonparse import JSONError
from runflow.engine.limits import Limits
from runflow.engine.state import StateChange
from runflow.engine.violations import RULES, Code, EntityRef, ProtocolError, Violation
from runflow.protocols import ASSISTANTS, PROTOCOL, Entity, Protocol, ProtocolDefinitionError
from runflow.protocols.assistants.parts import (
    TextDelta,
    TextSnapshot,
    ToolCallDelta,
    ToolCallSnapshot,
)
from runflow.protocols.registry import Registered, register
from runflow.protocols.responses.flow import ResponseFlow, ValueDelta

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
    "Registered",
    "ResponseEventHandler",
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
    "register",
]
__version__ = "0.1.0"
