"""The drive loops: take a run (Assistants) or a chain of responses (Responses API)
to a terminal state, calling the model's tools on the way.

:mod:`.assistants` (:func:`drive`, :func:`adrive`) and :mod:`.responses`
(:func:`drive_response`, :func:`adrive_response`) share one loop core, each piece
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

__all__ = ["DriveError", "DrivenResponse", "FunctionCallMade", "RunTimeout", "ToolError",
           "UnknownTool", "adrive", "adrive_response", "drive", "drive_response",
           "function_tools"]
