"""An event handler for the Responses API, in the shape of the Assistants one.

    python examples/handler_responses.py

The openai SDK has no handler class for ``client.responses.stream(...)``;
``runflow.ResponseEventHandler`` is one: write ``on_response_<state>``,
``on_<item type>_<state>`` and the delta hooks named after the SDK's events
(``on_output_text_delta``, ``on_function_call_arguments_delta``), then
``handler.consume(stream)``. This starts runflow's local server (no network, no
API key), streams an answer, then a tool call: the first response asks for two
function calls, the second (a new response, so a new handler) answers with text.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import openai
from openai.types.responses import FunctionToolParam, ResponseFunctionToolCall
from openai.types.responses.response_input_param import FunctionCallOutput

from runflow import ResponseEventHandler, ValueDelta
from runflow.testing import Server

TOOLS: list[FunctionToolParam] = [
    {"type": "function", "name": "get_weather", "strict": True,
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"], "additionalProperties": False}},
    {"type": "function", "name": "get_time", "strict": True,
     "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}},
                    "required": ["timezone"], "additionalProperties": False}},
]


class MyHandler(ResponseEventHandler):
    """Prints the answer as it streams, and a line when the response completes."""

    def on_output_text_delta(self, delta: ValueDelta) -> None:
        print(delta.delta, end="")

    def on_response_completed(self) -> None:
        print("\nDone!")


class ToolHandler(MyHandler):
    """Adds each function call, once its arguments are complete."""

    def on_function_call_completed(self, call: ResponseFunctionToolCall) -> None:
        print(f"[tool] {call.name}({call.arguments})")


def ask(scenario: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "input": "What should I wear in Paris?", "tools": TOOLS,
            "metadata": {"scenario": scenario}, **extra}


def main() -> int:
    with Server() as server, openai.OpenAI(base_url=server.base_url, api_key="none",
                                            max_retries=0) as client:
        # 1. An answer, through the SDK's stream helper.
        with client.responses.stream(**ask("text")) as stream:
            MyHandler().consume(stream)

        # 2. A tool call: the response asks, the next response (a new handler) answers.
        first = ToolHandler()
        first.consume(client.responses.create(stream=True, **ask("parallel_functions")))
        outputs: list[FunctionCallOutput] = [
            {"type": "function_call_output", "call_id": call.call_id,
             "output": json.dumps({"answer": f"{call.name} says sunny"})}
            for call in first.flow.function_calls]
        second = ToolHandler()
        second.consume(client.responses.create(
            stream=True, previous_response_id=first.flow.response_id,
            **ask("parallel_functions", input=outputs)))

    flows = (first.flow, second.flow)
    print(f"[responses] {[f.status for f in flows]}; "
          f"{sum(len(f.violations) for f in flows)} violation(s)")
    return 0 if all(f.status == "completed" and f.ok for f in flows) else 1


if __name__ == "__main__":
    sys.exit(main())
