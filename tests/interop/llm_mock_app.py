"""A Responses mock built on ``llm-mock-api`` (run as a script).

``python llm_mock_app.py PORT`` serves on 127.0.0.1:PORT. The rules only say *what*
to answer for each scenario word; the Responses events are the mock's own
(``llm_mock_api/formats/openai/responses/serialize.py``), which is what is graded.
"""

from __future__ import annotations

import asyncio
import sys

from llm_mock_api import MockServer, MockServerOptions
from llm_mock_api.types.reply import (
    ErrorReply,
    ReplyObject,
    ToolCall,
)


async def main(port: int) -> None:
    server = MockServer(MockServerOptions(port=port, host="127.0.0.1", log_level="none",
                                          default_latency=0, default_chunk_size=5))
    server.when("tool please").reply(ReplyObject(
        tools=[ToolCall(id="call_interop1", name="get_weather", args={"city": "Paris"})]))
    server.when("reasoning please").reply(ReplyObject(
        text="The answer is 4.", reasoning="Two plus two is four."))
    server.when("error please").reply(ReplyObject(
        error=ErrorReply(status=500, message="the scripted mock failed", type="server_error")))
    server.when("text please").reply("Hello, world!")
    await server.run_until_shutdown()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
