"""The drive loops: take a run (Assistants) or a chain of responses (Responses API)
to a terminal state, calling the model's tools on the way.

:mod:`.assistants` (:func:`drive`, :func:`adrive`) and :mod:`.responses`
(:func:`drive_response`, :func:`adrive_response`) and :mod:`.websocket`
(:func:`drive_websocket`, :func:`adrive_websocket`: one WebSocket, its decisions in
:mod:`.socket_plan`) share one loop core, each piece
public: :mod:`.budget` (the deadline, the idle bound, the waits between REST
reads), :mod:`.clock` (a stream read under them), :mod:`.tools` (the tool
runner), :mod:`.ledger` (exactly once per call id) and :mod:`.errors`.
"""

from runflow.adapters.drive.assistants import adrive, drive
from runflow.adapters.drive.errors import DriveError, RunTimeout, ToolError, UnknownTool
from runflow.adapters.drive.responses import (
    DrivenResponse,
    FunctionCallMade,
    adrive_response,
    drive_response,
)
from runflow.adapters.drive.schema import function_tools
from runflow.adapters.drive.socket_plan import DrivenSocket
from runflow.adapters.drive.websocket import adrive_websocket, drive_websocket

__all__ = ["DriveError", "DrivenResponse", "DrivenSocket", "FunctionCallMade", "RunTimeout",
           "ToolError", "UnknownTool", "adrive", "adrive_response", "adrive_websocket", "drive",
           "drive_response", "drive_websocket", "function_tools"]
