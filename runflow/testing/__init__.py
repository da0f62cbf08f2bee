"""Test tooling: a local Assistants and Responses server, with scripted runs and faults.

Needs the ``server`` extra (starlette, uvicorn)::

    from runflow.testing import Server

    with Server() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        with client.beta.threads.create_and_run(assistant_id="asst_text", stream=True) as s:
            ...

The server answers like the real API: bodies validated against the openai SDK's
own request types, OpenAI-shaped errors, documented pagination; see README.md,
"The local server".
"""

from runflow.server import (
    BUILTIN_ASSISTANTS,
    FAULT_HEADER,
    MAX_BODY_BYTES,
    MAX_DELAY,
    RESPONSE_SCENARIOS,
    SCENARIOS,
    ApiError,
    Backend,
    Fault,
    FaultSyntaxError,
    Frame,
    NotFound,
    Scenario,
    ScenarioOptions,
    Server,
    Store,
    apply_faults,
    create_app,
    encode_event,
    load_recording,
    parse_fault,
    serve,
    split_sse,
)

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
