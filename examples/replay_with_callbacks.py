"""Replay a recorded stream through a RunFlow with typed callbacks.

    python examples/replay_with_callbacks.py [RECORDING]

RECORDING is a .jsonl or .sse file; by default the demo stream shipped with runflow
(a get_weather function call, then the answer). The callbacks receive the openai
SDK's own types (Run, RunStep, Message), rebuilt by the flow, so the code you write
here is the code you would write against a live stream.
"""

from __future__ import annotations

import sys

from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from runflow import RunFlow
from runflow.adapters.recording import DEMO_STREAM, replay_file
from runflow.protocols.assistants.parts import TextDelta, TextSnapshot


def main(path: str) -> int:
    flow = RunFlow()

    # The run stops and waits for tool outputs: in a live client, this is where you
    # would call the function and submit its output.
    @flow.on_run("requires_action")
    def wants_tools(run: Run) -> None:
        assert run.required_action is not None
        for call in run.required_action.submit_tool_outputs.tool_calls:
            print(f"[run] requires_action: {call.function.name}({call.function.arguments})")

    @flow.on_run("completed")
    def finished(run: Run) -> None:
        print(f"\n[run] completed, usage: {run.usage.total_tokens if run.usage else '?'} tokens")

    # Text arrives in fragments; the snapshot is the whole part so far.
    @flow.on_text("delta")
    def stream_text(delta: TextDelta, snapshot: TextSnapshot) -> None:
        print(delta.value, end="", flush=True)

    @flow.on_message("completed")
    def message_done(message: Message) -> None:
        print(f"\n[message] {message.id} completed with {len(message.content)} part(s)")

    # A step completes with the server's final object: for a tool step it carries
    # the output that was submitted.
    @flow.on_step("completed")
    def step_done(step: RunStep) -> None:
        details = step.step_details
        if details.type == "tool_calls":
            for call in details.tool_calls:
                if call.type == "function":
                    print(f"[step] {call.function.name} returned {call.function.output}")

    # Feed the whole file (both streams: requires_action ... done, then the stream
    # returned by submit_tool_outputs) into the one flow, then close it.
    replay = replay_file(path, flow)
    print(f"[end] stream ended with {replay.ending}; {len(flow.violations)} violation(s)")
    return 0 if flow.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(DEMO_STREAM)))
