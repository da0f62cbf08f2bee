"""The Assistants streaming documentation's event handler, on runflow's base class.

    python examples/handler_assistants.py

The documentation teaches a subclass of the SDK's ``AssistantEventHandler``. Its
``on_run_completed`` never fires there (the SDK has no such hook); with
``runflow.FlowEventHandler`` as the base class it does, as does every
``on_<entity>_<state>`` of the definition, while the SDK's own hooks
(``on_text_delta``...) keep working. This starts runflow's local server (no
network, no API key), runs the documented handler as written, then a tool run
over two streams -- one flow, continued with ``handler.next()`` -- and prints
what the flow found.
"""

from __future__ import annotations

import json
import sys
import warnings

import openai
from openai.types.beta.threads import Run, Text, TextDelta
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput
from openai.types.beta.threads.runs import RunStep

from runflow import FlowEventHandler
from runflow.testing import Server

# The Assistants API is deprecated upstream; the SDK warns on every call.
warnings.filterwarnings("ignore", "The Assistants API is deprecated", DeprecationWarning)


class MyHandler(FlowEventHandler):
    """The documentation's handler; only the base class is runflow's."""

    def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        print(delta.value, end="")

    def on_run_completed(self) -> None:
        print("\nDone!")


class ToolHandler(MyHandler):
    """Adds the run's pause for tools and each finished step."""

    def on_run_requires_action(self, run: Run) -> None:
        assert run.required_action is not None
        for call in run.required_action.submit_tool_outputs.tool_calls:
            print(f"[tool] {call.function.name}({call.function.arguments})")

    def on_step_completed(self, step: RunStep) -> None:
        if step.type == "tool_calls":
            print("[step] tool calls answered")


def answer(name: str, arguments: str) -> str:
    return json.dumps({"tool": name, "arguments": json.loads(arguments), "result": "sunny"})


def main() -> int:
    with Server() as server, openai.OpenAI(base_url=server.base_url, api_key="none",
                                            max_retries=0) as client:
        thread = client.beta.threads.create()

        # 1. The documentation's example, as written.
        with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id="asst_text",
                                             event_handler=MyHandler()) as stream:
            stream.until_done()

        # 2. A run that stops for tool outputs continues in a second stream: the SDK
        #    takes one handler per stream, handler.next() continues the same flow.
        handler = ToolHandler()
        with client.beta.threads.runs.stream(thread_id=thread.id,
                                             assistant_id="asst_parallel_functions",
                                             event_handler=handler) as stream:
            stream.until_done()
        flow = handler.flow
        assert flow.run_id is not None
        outputs: list[ToolOutput] = [
            {"tool_call_id": call.id, "output": answer(call.function.name,
                                                       call.function.arguments)}
            for call in flow.pending_tool_calls]
        with client.beta.threads.runs.submit_tool_outputs_stream(
                thread_id=thread.id, run_id=flow.run_id, tool_outputs=outputs,
                event_handler=handler.next()) as stream:
            stream.until_done()

    print(f"[run] {flow.run_status}, last stream ended with {flow.ending}; "
          f"{len(flow.violations)} violation(s)")
    return 0 if flow.run_status == "completed" and flow.ok else 1


if __name__ == "__main__":
    sys.exit(main())
