"""Answer function calls of the Responses API with runflow's drive loop.

    python examples/responses_tools.py

``runflow.drive_response`` creates a streamed response, validates it with a
``ResponseFlow``, calls your tools when the response asks for function calls,
and sends their outputs back (``previous_response_id`` + ``function_call_output``
items, each call answered once even if a stream is cut) until a response asks
for nothing more. This starts runflow's local Responses-compatible server (no
network, no API key), cuts the first stream on purpose to show the follow-up
over REST, and prints the calls, the streamed answer and the violations found.
"""

from __future__ import annotations

import openai

from runflow import ResponseFlow, ValueDelta, drive_response
from runflow.testing import Server


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny, 21 °C in {city}"


def get_time(timezone: str) -> str:
    """The local time in a timezone."""
    return f"14:05 ({timezone})"


def streaming_flow() -> ResponseFlow:
    """Each response gets a flow of its own; this one prints text as it streams."""
    flow = ResponseFlow()

    @flow.on_text_delta
    def show(delta: ValueDelta) -> None:
        if delta.kind == "output_text":
            print(delta.delta, end="", flush=True)

    return flow


def main() -> int:
    with Server() as server, openai.OpenAI(base_url=server.base_url, api_key="none",
                                            max_retries=0) as client:
        server.inject("cut_after=6")  # the first stream drops half-way
        result = drive_response(
            client, tools={"get_weather": get_weather, "get_time": get_time},
            model="gpt-4o", input="Weather and time in Paris?", make_flow=streaming_flow,
            metadata={"scenario": "parallel_functions"},  # what the local server plays
        )
    print()
    for call in result.tool_calls:
        print(f"[tool] {call.name}({call.arguments}) -> {call.output}")
    for n, (flow, response) in enumerate(zip(result.flows, result.responses, strict=True), 1):
        print(f"[response {n}] {response.status}, stream ended {flow.ending}, "
              f"{len(flow.violations)} violation(s)")
    print(f"[answer] {result.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
