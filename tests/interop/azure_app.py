"""A Responses server built on ``azure-ai-agentserver-responses`` (run as a script).

``python azure_app.py PORT`` serves on 127.0.0.1:PORT. The handler only chooses
*what* to say, by the first word of the input (``text``, ``tool``, ``reasoning``,
``error``, ``incomplete``); every event, id, sequence number and response object
comes from the vendor's SDK (``ResponseEventStream``), which is what is graded.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

from azure.ai.agentserver.responses import (
    ResponseContext,
    ResponseEventStream,
    ResponsesAgentServerHost,
)

app = ResponsesAgentServerHost()


@app.response_handler
async def handler(request: Mapping[str, object], context: ResponseContext,
                  cancellation_signal: asyncio.Event) -> AsyncIterator[Any]:
    # request is the SDK's CreateResponse, a TypedDict its package defines under a
    # version test, which mypy takes for a variable: it is only passed on, as a mapping
    words = (await context.get_input_text()).split()
    scenario = words[0] if words else "text"
    stream = ResponseEventStream(response_id=context.response_id, request=request)
    yield stream.emit_created()
    yield stream.emit_in_progress()
    if scenario == "tool":
        for event in stream.output_item_function_call(
                "get_weather", "call_interop1", json.dumps({"city": "Paris"})):
            yield event
        yield stream.emit_completed()
    elif scenario == "reasoning":
        for event in stream.output_item_reasoning_item("Two plus two is four."):
            yield event
        for event in stream.output_item_message("The answer is 4."):
            yield event
        yield stream.emit_completed()
    elif scenario == "error":
        yield stream.emit_failed(code="server_error", message="the scripted handler failed")
    elif scenario == "incomplete":
        for event in stream.output_item_message("This answer is cut"):
            yield event
        yield stream.emit_incomplete(reason="max_output_tokens")
    else:
        for event in stream.output_item_message("Hello, world!"):
            yield event
        yield stream.emit_completed()


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
