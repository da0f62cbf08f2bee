"""The local server: runflow's emulator of the Assistants and Responses APIs, with
scripted runs, faults and break switches. Needs the ``server`` extra (starlette, uvicorn)::

    from runflow.server import Server

    with Server() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        ...

The server answers like the real API: bodies validated against the openai SDK's
own request types, OpenAI-shaped errors, documented pagination; see README.md,
"The local server". :mod:`runflow.testing` re-exports it for tests.
"""

from runflow.server.app import Backend, Server, create_app, serve
from runflow.server.bodies import MAX_BODY_BYTES
from runflow.server.errors import ApiError
from runflow.server.faults import (
    FAULT_HEADER,
    MAX_DELAY,
    Fault,
    FaultSyntaxError,
    apply_faults,
    parse_fault,
)
from runflow.server.responses_scenarios import RESPONSE_SCENARIOS
from runflow.server.scenarios import BUILTIN_ASSISTANTS, SCENARIOS, Scenario, ScenarioOptions
from runflow.server.sse import Frame, encode_event, load_recording, split_sse
from runflow.server.store import NotFound, Store

__all__ = [
    "BUILTIN_ASSISTANTS",
    "FAULT_HEADER",
    "MAX_BODY_BYTES",
    "MAX_DELAY",
    "RESPONSE_SCENARIOS",
    "SCENARIOS",
    "ApiError",
    "Backend",
    "Fault",
    "FaultSyntaxError",
    "Frame",
    "NotFound",
    "Scenario",
    "ScenarioOptions",
    "Server",
    "Store",
    "apply_faults",
    "create_app",
    "encode_event",
    "load_recording",
    "parse_fault",
    "serve",
    "split_sse",
]
