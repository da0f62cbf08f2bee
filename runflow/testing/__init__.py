"""Test tooling: an Assistants-compatible local server with scripted runs and faults.

Needs the ``server`` extra (starlette, uvicorn)::

    from runflow.testing import Server

    with Server() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        with client.beta.threads.create_and_run(assistant_id="asst_text", stream=True) as s:
            ...
"""

from .faults import FAULT_HEADER, Fault, FaultSyntaxError, apply_faults, parse_fault
from .scenarios import BUILTIN_ASSISTANTS, SCENARIOS, Scenario, ScenarioOptions
from .server import Backend, Server, create_app, serve
from .sse import Frame, encode_event, load_recording, split_sse
from .store import NotFound, Store

__all__ = [
    "BUILTIN_ASSISTANTS",
    "FAULT_HEADER",
    "SCENARIOS",
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
