"""Watch a live run with runflow through the openai SDK's own streaming helpers.

    python examples/embed_event_handler.py

If your code already drives runs with ``client.beta.threads.runs.stream(...,
event_handler=...)``, pass a ``runflow.FlowEventHandler(flow)`` as the handler: the
flow validates every event and fires typed callbacks. This starts runflow's local
Assistants-compatible server (no network, no API key), asks the assistant
``asst_parallel_functions`` a question, answers its two function calls with
``submit_tool_outputs_stream`` and prints the answer and the violations found.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable

import openai
from openai.types.beta.threads import Run
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from runflow import FlowEventHandler, RunFlow, TextDelta, TextSnapshot
from runflow.testing import Server

# The Assistants API is deprecated upstream; the SDK warns on every call.
warnings.filterwarnings("ignore", "The Assistants API is deprecated", DeprecationWarning)


def get_weather(city: str) -> str:
    return f"sunny, 21 °C in {city}"


def get_time(timezone: str) -> str:
    return f"14:05 ({timezone})"


TOOLS: dict[str, Callable[..., str]] = {"get_weather": get_weather, "get_time": get_time}


def main() -> int:
    flow = RunFlow()  # one flow for the whole run, across its streams

    # Fires when the run stops for tool outputs. The stream is still open here (its
    # `done` has not arrived), so only look; submit once the stream has ended.
    @flow.on_run("requires_action")
    def wants_tools(run: Run) -> None:
        assert run.required_action is not None
        for call in run.required_action.submit_tool_outputs.tool_calls:
            print(f"[tool] {call.function.name}({call.function.arguments})")

    # Text arrives in fragments; the snapshot is the whole text part so far.
    @flow.on_text("delta")
    def stream_text(delta: TextDelta, snapshot: TextSnapshot) -> None:
        print(delta.value, end="", flush=True)

    with Server() as server, openai.OpenAI(base_url=server.base_url, api_key="none",
                                            max_retries=0) as client:
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(
            thread.id, role="user", content="What should I wear in Paris right now?")

        # The first stream: the SDK parses it, the handler feeds each event to the flow.
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id="asst_parallel_functions",
            event_handler=FlowEventHandler(flow),
        ) as stream:
            stream.until_done()

        # Answer the function calls; the continuation stream goes into the same flow
        # through a new handler (the SDK allows one handler per stream). A run may
        # ask again; each call is answered once.
        answered: set[str] = set()
        while flow.run_status == "requires_action" and flow.run_id is not None:
            calls = [c for c in flow.pending_tool_calls if c.id not in answered]
            if not calls:
                break
            answered.update(call.id for call in calls)
            outputs: list[ToolOutput] = [
                {"tool_call_id": call.id,
                 "output": TOOLS[call.function.name](**json.loads(call.function.arguments))}
                for call in calls
            ]
            with client.beta.threads.runs.submit_tool_outputs_stream(
                thread_id=thread.id, run_id=flow.run_id, tool_outputs=outputs,
                event_handler=FlowEventHandler(flow),
            ) as stream:
                stream.until_done()

    print()
    print(f"[run] {flow.run_status}, stream ended with {flow.ending}")
    print(f"[answer] {flow.text}")
    print(f"[violations] {len(flow.violations)}")
    for v in flow.violations:
        print(f"  {v.severity} {v.code.value} #{v.index}: {v.message}")
    return 0 if flow.run_status == "completed" and flow.ok else 1


if __name__ == "__main__":
    sys.exit(main())
