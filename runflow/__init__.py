"""runflow: validates LLM agent streams (SSE) of the OpenAI Assistants API and the
Responses API with a declarative state machine: violations as data, typed snapshots,
callbacks, diagrams."""

from runflow.adapters.drive import DriveError, RunTimeout, ToolError, UnknownTool, adrive, drive
from runflow.adapters.drive_responses import (
    DrivenResponse,
    FunctionCallMade,
    adrive_response,
    drive_response,
)
from runflow.adapters.sdk import AsyncFlowEventHandler, FlowEventHandler, aconsume, consume
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
