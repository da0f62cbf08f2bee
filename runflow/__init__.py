"""runflow: a validated, declarative state machine for LLM agent streams.

Two grammars ship, each a package of :mod:`runflow.protocols` on the one sans-I/O
engine (:mod:`runflow.engine`): the OpenAI **Assistants** run stream
(:class:`RunFlow`, :class:`Handler`, the text and tool-call snapshots) and the
**Responses** API stream (:class:`ResponseFlow`, :class:`ValueDelta`). This module
is the public front: every public name is importable from here.
"""

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
from runflow.engine.checkpoint import CheckpointError
from runflow.engine.hooks import CallbackFailure
from runflow.engine.jsonparse import JSONError
from runflow.engine.limits import Limits
from runflow.engine.recovery import RecoveryError
from runflow.engine.state import Ending, StateChange
from runflow.engine.violations import RULES, Code, EntityRef, ProtocolError, Violation
from runflow.protocols import ASSISTANTS, PROTOCOL, Entity, Protocol, ProtocolDefinitionError
from runflow.protocols.assistants.callbacks import Handler
from runflow.protocols.assistants.flow import RunFlow
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
