"""runflow: a validated, declarative state machine for LLM agent streams.

Two grammars ship, each a package of :mod:`runflow.protocols` on the one sans-I/O
engine (:mod:`runflow.engine`): the OpenAI **Assistants** run stream
(:class:`RunFlow`, :class:`Handler`, the text and tool-call snapshots) and the
**Responses** API stream (:class:`ResponseFlow`, :class:`ValueDelta`). This module
is the public front: every public name is importable from here.

The public names are loaded on first use (PEP 562 ``__getattr__``), so that
``import runflow`` -- which every ``runflow.*`` import runs first, the command
line's included -- stays cheap: the drive loops and SDK adapters pull in the
``openai`` types, which take a second or more to import. ``from runflow import X``
and ``runflow.X`` work as usual; the ``TYPE_CHECKING`` block tells type checkers
where each name lives. :data:`_HOMES` and that block list the same names (a test
checks both against ``__all__``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runflow.adapters.drive import (
        DriveError,
        DrivenResponse,
        DrivenSocket,
        FunctionCallMade,
        RunTimeout,
        ToolError,
        UnknownTool,
        adrive,
        adrive_response,
        adrive_websocket,
        drive,
        drive_response,
        drive_websocket,
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
    "DrivenSocket",
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
    "adrive_websocket",
    "consume",
    "drive",
    "drive_response",
    "drive_websocket",
    "register",
]
__version__ = "0.1.0"

_HOMES: dict[str, tuple[str, ...]] = {
    "runflow.adapters.drive": ("DriveError", "DrivenResponse", "DrivenSocket", "FunctionCallMade",
                               "RunTimeout", "ToolError", "UnknownTool", "adrive",
                               "adrive_response", "adrive_websocket", "drive", "drive_response",
                               "drive_websocket"),
    "runflow.adapters.handlers": ("AsyncFlowEventHandler", "FlowEventHandler"),
    "runflow.adapters.response_handler": ("ResponseEventHandler",),
    "runflow.adapters.sdk": ("aconsume", "consume"),
    "runflow.engine.checkpoint": ("CheckpointError",),
    "runflow.engine.hooks": ("CallbackFailure",),
    "runflow.engine.jsonparse": ("JSONError",),
    "runflow.engine.limits": ("Limits",),
    "runflow.engine.recovery": ("RecoveryError",),
    "runflow.engine.state": ("Ending", "StateChange"),
    "runflow.engine.violations": ("RULES", "Code", "EntityRef", "ProtocolError", "Violation"),
    "runflow.protocols": ("ASSISTANTS", "PROTOCOL", "Entity", "Protocol",
                          "ProtocolDefinitionError"),
    "runflow.protocols.assistants.callbacks": ("Handler",),
    "runflow.protocols.assistants.flow": ("RunFlow",),
    "runflow.protocols.assistants.parts": ("TextDelta", "TextSnapshot", "ToolCallDelta",
                                           "ToolCallSnapshot"),
    "runflow.protocols.registry": ("Registered", "register"),
    "runflow.protocols.responses.flow": ("ResponseFlow", "ValueDelta"),
}
"""Module -> the public names it is the home of (the ``TYPE_CHECKING`` block, as data)."""

_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """Load a public name on first use and keep it (later reads skip this)."""
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'runflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
