"""One handler class that is both the SDK's event handler and runflow's typed enter
hooks (issue 21): ``runflow.FlowEventHandler`` / ``AsyncFlowEventHandler`` for the
Assistants stream, ``runflow.ResponseEventHandler`` for the Responses stream.

Everything runs through the real openai client over loopback against
``runflow.testing.Server``: the documentation's examples with only the base class
changed, misspelled hooks refused at class creation, and runs over two streams
whose hooks fire once per state entered, in the order of the flow's history.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import recordings_dir
from openai.types.beta import Thread
from openai.types.beta.threads import Message, Run, Text
from openai.types.beta.threads.runs import RunStep
from openai.types.responses import Response, ResponseFunctionToolCall

from runflow import (
    AsyncFlowEventHandler,
    Code,
    FlowEventHandler,
    ResponseEventHandler,
    RunFlow,
    ValueDelta,
    Violation,
)
from runflow.adapters.hooknames import enter_hooks
from runflow.adapters.response_handler import delta_hooks
from runflow.testing import Server

pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOOL_RUN = ["queued", "in_progress", "requires_action", "queued", "in_progress", "completed"]
FUNCTION_TOOLS: list[Any] = [
    {"type": "function", "name": name, "strict": True,
     "parameters": {"type": "object", "properties": {arg: {"type": "string"}},
                    "required": [arg], "additionalProperties": False}}
    for name, arg in (("get_weather", "city"), ("get_time", "timezone"))]


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0,
                       timeout=20) as c:
        yield c


def stored_text(client: openai.OpenAI, flow: RunFlow) -> str:
    """The run's answer as the server stored it, read back over REST."""
    assert flow.thread_id is not None and flow.run_id is not None
    messages = client.beta.threads.messages.list(flow.thread_id, run_id=flow.run_id)
    block = messages.data[0].content[0]
    assert block.type == "text"
    return block.text.value


# -- the documentation's Assistants examples, with only the base class changed ------------


def test_the_documented_handler_prints_the_text_and_the_completion_line(
        client: openai.OpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    class MyHandler(FlowEventHandler):
        def on_text_delta(self, delta, snapshot):  # type: ignore[no-untyped-def]
            print(delta.value, end="")

        def on_run_completed(self):  # type: ignore[no-untyped-def]
            print("\nDone!")

    thread = client.beta.threads.create()
    handler = MyHandler()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id="asst_text",
                                         event_handler=handler) as stream:
        stream.until_done()
    text = stored_text(client, handler.flow)
    assert text and capsys.readouterr().out == text + "\nDone!\n"
    assert handler.flow.ok and handler.flow.ending == "done"
    assert handler.flow.run_status == "completed"


def test_with_the_sdks_own_base_class_the_completion_line_never_comes(
        client: openai.OpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    """What the issue reports: the SDK has no ``on_run_completed``; silence."""
    class MyHandler(openai.AssistantEventHandler):
        def on_text_delta(self, delta, snapshot):  # type: ignore[no-untyped-def]
            print(delta.value, end="")

        def on_run_completed(self):  # type: ignore[no-untyped-def]
            print("\nDone!")

    thread = client.beta.threads.create()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id="asst_text",
                                         event_handler=MyHandler()) as stream:
        run = stream.get_final_run()
    out = capsys.readouterr().out
    assert run.status == "completed" and out and "Done!" not in out


def test_the_documented_event_loop_runs_with_the_handler(
        client: openai.OpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    """The documentation's ``for event in stream`` loop: the handler's hooks fire
    while the loop reads, and its flow validates what the loop saw."""
    class MyHandler(FlowEventHandler):
        def on_run_completed(self):  # type: ignore[no-untyped-def]
            print("\nDone!")

    thread = client.beta.threads.create()
    handler = MyHandler()
    names = []
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id="asst_text",
                                         event_handler=handler) as stream:
        for event in stream:
            names.append(event.event)
            if event.event == "thread.message.delta" and event.data.delta.content:
                block = event.data.delta.content[0]
                if block.type == "text" and block.text is not None:
                    print(block.text.value, end="")
    text = stored_text(client, handler.flow)
    assert capsys.readouterr().out == text + "\nDone!\n"
    assert names[-1] == "thread.run.completed"
    assert handler.flow.event_count == len(names) + 1  # and the `done` the SDK swallows
    assert handler.flow.ok and handler.flow.ending == "done"


def test_the_readme_first_example_runs_as_written(
        client: openai.OpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    readme = README.read_text(encoding="utf-8")
    usage = readme[readme.index("## Using it"):]
    code = re.search(r"```python\n(.*?)```", usage, re.S)
    assert code is not None and "class MyHandler(FlowEventHandler)" in code.group(1)
    thread = client.beta.threads.create()
    assistant = client.beta.assistants.retrieve("asst_text")
    exec(code.group(1), {"client": client, "thread": thread, "assistant": assistant})
    out = capsys.readouterr().out
    assert out.endswith("\nDone!\n") and len(out) > len("\nDone!\n")


# -- hooks checked at class creation ----------------------------------------------------


@pytest.mark.parametrize("base", [FlowEventHandler, AsyncFlowEventHandler])
def test_a_misspelled_hook_raises_at_class_creation_with_a_suggestion(base: type) -> None:
    with pytest.raises(TypeError, match=r"MyHandler\.on_run_complted .*did you mean "
                                        r"'on_run_completed'"):
        type("MyHandler", (base,), {"on_run_complted": lambda self: None})
    with pytest.raises(TypeError, match=r"on_text_delat .*did you mean 'on_text_delta'"):
        type("MyHandler", (base,), {"on_text_delat": lambda self, d, s: None})


def test_every_sdk_hook_and_every_state_of_the_definition_is_accepted() -> None:
    sdk = {n for n in dir(openai.AssistantEventHandler) if n.startswith("on_")}
    states = enter_hooks(RunFlow().protocol)
    assert {"on_run_completed", "on_step_in_progress", "on_message_incomplete",
            "on_thread_created"} <= set(states)
    body: dict[str, Any] = {name: (lambda self, *a: None) for name in sdk | {"on_violation"}}
    body.update({name: (lambda self: None) for name in states})
    handler_class: Any = type("Everything", (FlowEventHandler,), body)
    assert set(handler_class._enters) == set(states)


def test_an_enter_hook_takes_the_object_or_nothing() -> None:
    with pytest.raises(TypeError, match=r"on_run_completed .*\(self, run\) or \(self\)"):
        type("TooMany", (FlowEventHandler,), {"on_run_completed": lambda self, a, b: None})


# -- one flow over two streams, every enter hook once, in order --------------------------


def recording_handler(base: type, sink: list[tuple[str, str, str]],
                      make: Callable[[str], Any]) -> type:
    """A handler class with a hook for every state of the definition, recording
    (hook, id, status of the object received)."""
    body = {name: make(name) for name in enter_hooks(RunFlow().protocol)}
    body["sink"] = sink
    return type("Recorder", (base,), body)


def sync_hook(name: str) -> Any:
    def hook(self: Any, obj: Any) -> None:
        self.sink.append((name, obj.id, getattr(obj, "status", "created")))
    return hook


def async_hook(name: str) -> Any:
    async def hook(self: Any, obj: Any) -> None:
        await asyncio.sleep(0)
        self.sink.append((name, obj.id, getattr(obj, "status", "created")))
    return hook


def expected_hooks(flow: RunFlow) -> list[tuple[str, str, str]]:
    """What the hooks must have received: each real state change of the flow's
    history once (a status event repeating the state enters nothing)."""
    assert flow.history_dropped == 0
    return [(f"on_{c.entity}_{c.dest}", c.id, c.dest) for c in flow.history
            if c.source != c.dest]


def check_tool_run(flow: RunFlow, seen: list[tuple[str, str, str]]) -> None:
    assert flow.ok, flow.violations
    assert flow.run_status == "completed" and flow.ending == "done"
    assert seen == expected_hooks(flow)
    assert [state for name, _, state in seen if name.startswith("on_run_")] == TOOL_RUN
    assert seen[0][0] == "on_thread_created"
    repeated = [hook for hook in set(seen) if seen.count(hook) > 1]
    assert sorted(name for name, _, _ in repeated) == ["on_run_in_progress", "on_run_queued"]
    kinds = {name.split("_")[1] for name, _, _ in seen}
    assert kinds == {"thread", "run", "step", "message"}


def test_a_tool_run_over_two_streams_fires_every_enter_hook_once_in_order(
        client: openai.OpenAI) -> None:
    seen: list[tuple[str, str, str]] = []
    sdk_calls: list[str] = []

    class Recorder(recording_handler(FlowEventHandler, seen, sync_hook)):  # type: ignore[misc]
        def on_tool_call_created(self, tool_call: Any) -> None:  # the SDK's hook
            sdk_calls.append(tool_call.id)

        def on_end(self) -> None:  # the SDK's hook, no super(): runflow closed first
            seen.append(("on_end", "", str(self.flow.ending)))

    first = Recorder()
    with client.beta.threads.create_and_run_stream(
            assistant_id="asst_parallel_functions", event_handler=first) as stream:
        stream.until_done()
    flow = first.flow
    assert seen.pop() == ("on_end", "", "done") and flow.run_status == "requires_action"
    assert flow.thread_id is not None and flow.run_id is not None
    outputs = [{"tool_call_id": c.id, "output": "sunny"} for c in flow.pending_tool_calls]
    second = first.next()
    assert second is not first and second.flow is flow
    with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=flow.thread_id, run_id=flow.run_id, tool_outputs=outputs,  # type: ignore[arg-type]
            event_handler=second) as stream:
        stream.until_done()
    assert seen.pop() == ("on_end", "", "done")
    check_tool_run(flow, seen)
    assert sdk_calls == [c["tool_call_id"] for c in outputs]


def test_a_new_handler_on_the_same_flow_continues_it_without_firing_twice(
        client: openai.OpenAI) -> None:
    """``MyHandler(flow)`` per stream (the earlier way) is ``handler.next()``."""
    seen: list[tuple[str, str, str]] = []
    recorder = recording_handler(FlowEventHandler, seen, sync_hook)
    flow = RunFlow()
    with client.beta.threads.create_and_run_stream(
            assistant_id="asst_parallel_functions", event_handler=recorder(flow)) as stream:
        stream.until_done()
    assert flow.thread_id is not None and flow.run_id is not None
    outputs: Any = [{"tool_call_id": c.id, "output": "x"} for c in flow.pending_tool_calls]
    with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=flow.thread_id, run_id=flow.run_id, tool_outputs=outputs,
            event_handler=recorder(flow)) as stream:
        stream.until_done()
    check_tool_run(flow, seen)


def test_the_handler_after_next_keeps_your_attributes_and_receives_the_hooks(
        client: openai.OpenAI) -> None:
    class Counter(FlowEventHandler):
        def __init__(self) -> None:
            super().__init__()
            self.completed: list[Run] = []
            self.texts: list[Text] = []

        def on_run_completed(self, run: Run) -> None:
            self.completed.append(run)

        def on_text_done(self, text: Text) -> None:  # the SDK's hook, its type
            self.texts.append(text)

    thread = client.beta.threads.create()
    handler = Counter()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id="asst_text",
                                         event_handler=handler) as stream:
        stream.until_done()
    nxt = handler.next()
    assert nxt.completed is handler.completed and len(nxt.completed) == 1
    run = nxt.completed[0]
    assert isinstance(run, Run) and run.status == "completed" and run == handler.flow.run
    assert [t.value for t in handler.texts] == [handler.flow.text]
    with pytest.raises(RuntimeError, match="single event handler"):
        with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id="asst_text",
                                             event_handler=handler) as stream:
            stream.until_done()


def test_violations_reach_on_violation(fresh: Server) -> None:
    found: list[Violation] = []

    class Watcher(FlowEventHandler):
        def on_violation(self, violation: Violation) -> None:
            found.append(violation)

    fresh.inject("cut_after=4")
    handler = Watcher()
    with openai.OpenAI(base_url=fresh.base_url, api_key="t", max_retries=0) as c, \
            c.beta.threads.create_and_run_stream(assistant_id="asst_text",
                                                 event_handler=handler) as stream:
        with pytest.raises(Exception):  # noqa: B017 -- what the SDK raises on a cut varies
            stream.until_done()
    assert handler.flow.ending == "truncated"
    assert [v.code for v in found] == [Code.TRUNCATED] == [v.code for v in handler.flow.violations]


def test_async_tool_run_over_two_streams_awaits_async_hooks_once_in_order(
        server: Server) -> None:
    seen: list[tuple[str, str, str]] = []
    recorder = recording_handler(AsyncFlowEventHandler, seen, async_hook)

    async def run() -> RunFlow:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="t",
                                      max_retries=0) as ac:
            first = recorder()
            async with ac.beta.threads.create_and_run_stream(
                    assistant_id="asst_parallel_functions", event_handler=first) as stream:
                await stream.until_done()
            flow: RunFlow = first.flow
            assert flow.thread_id is not None and flow.run_id is not None
            outputs: Any = [{"tool_call_id": c.id, "output": "x"}
                            for c in flow.pending_tool_calls]
            async with ac.beta.threads.runs.submit_tool_outputs_stream(
                    thread_id=flow.thread_id, run_id=flow.run_id, tool_outputs=outputs,
                    event_handler=first.next()) as stream:
                await stream.until_done()
            return flow

    check_tool_run(asyncio.run(run()), seen)


def test_enter_hooks_receive_the_sdk_objects(client: openai.OpenAI) -> None:
    got: dict[str, Any] = {}

    class Typed(FlowEventHandler):
        def on_thread_created(self, thread: Thread) -> None:
            got["thread"] = thread

        def on_step_completed(self, step: RunStep) -> None:
            got["step"] = step

        def on_message_completed(self, message: Message) -> None:
            got["message"] = message

    handler = Typed()
    with client.beta.threads.create_and_run_stream(assistant_id="asst_text",
                                                   event_handler=handler) as stream:
        stream.until_done()
    flow = handler.flow
    assert isinstance(got["thread"], Thread) and got["thread"].id == flow.thread_id
    assert isinstance(got["step"], RunStep) and got["step"] == flow.steps[0]
    assert isinstance(got["message"], Message) and got["message"] == flow.messages[0]


# -- Responses --------------------------------------------------------------------------


def ask(scenario: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "input": "Hello?", "tools": FUNCTION_TOOLS,
            "metadata": {"scenario": scenario}, **extra}


class Printer(ResponseEventHandler):
    """The Assistants documentation's handler, for the Responses stream."""

    def on_output_text_delta(self, delta: ValueDelta) -> None:
        print(delta.delta, end="")

    def on_response_completed(self) -> None:
        print("\nDone!")


@pytest.mark.parametrize("way", ["manager", "stream", "create"])
def test_the_responses_handler_prints_the_text_and_the_completion_line(
        client: openai.OpenAI, capsys: pytest.CaptureFixture[str], way: str) -> None:
    handler = Printer()
    if way == "manager":
        ending = handler.consume(client.responses.stream(**ask("text")))
    elif way == "stream":
        with client.responses.stream(**ask("text")) as stream:
            ending = handler.consume(stream)
    else:
        ending = handler.consume(client.responses.create(stream=True, **ask("text")))
    flow = handler.flow
    assert ending == "done" and flow.ok and flow.status == "completed"
    assert flow.response_id is not None
    text = client.responses.retrieve(flow.response_id).output_text
    assert text and capsys.readouterr().out == text + "\nDone!\n"


def test_a_misspelled_responses_hook_raises_at_class_creation_with_a_suggestion() -> None:
    with pytest.raises(TypeError, match=r"on_function_call_complete .*did you mean "
                                        r"'on_function_call_completed'"):
        type("MyHandler", (ResponseEventHandler,), {"on_function_call_complete": lambda s: None})
    with pytest.raises(TypeError, match=r"on_output_text_deltas .*'on_output_text_delta'"):
        type("MyHandler", (ResponseEventHandler,), {"on_output_text_deltas": lambda s, d: None})
    with pytest.raises(TypeError, match=r"on_text_delta .*'on_output_text_delta'"):
        type("MyHandler", (ResponseEventHandler,), {"on_text_delta": lambda s, d: None})


def test_the_responses_hooks_are_the_definitions() -> None:
    from runflow import ResponseFlow

    protocol = ResponseFlow().protocol
    states = enter_hooks(protocol)
    assert {"on_response_completed", "on_function_call_arguments_done",
            "on_function_call_completed", "on_message_in_progress", "on_output_text_done",
            "on_web_search_call_searching"} <= set(states)
    assert set(delta_hooks(protocol)) == {
        "on_output_text_delta", "on_refusal_delta", "on_reasoning_text_delta",
        "on_reasoning_summary_text_delta", "on_function_call_arguments_delta",
        "on_custom_tool_call_input_delta", "on_mcp_call_arguments_delta"}
    body: dict[str, Any] = {name: (lambda self, obj: None) for name in states}
    body.update({name: (lambda self, d: None) for name in delta_hooks(protocol)})
    handler_class: Any = type("All", (ResponseEventHandler,), body)
    assert set(handler_class._enters) == set(states)


def responses_recorder(sink: list[tuple[str, str]]) -> type:
    def make(name: str) -> Any:
        def hook(self: Any, obj: Any) -> None:
            key = obj.get("type") if isinstance(obj, dict) else obj.id
            sink.append((name, str(key)))
        return hook

    body = {name: make(name) for name in enter_hooks(ResponseEventHandler.protocol)}
    return type("Recorder", (ResponseEventHandler,), body)


def test_a_responses_tool_call_over_two_streams_fires_every_enter_hook_once_in_order(
        client: openai.OpenAI) -> None:
    """A background response whose stream is cut, resumed with ``starting_after``
    into the same handler: one flow, each hook once, in the order of its history."""
    seen: list[tuple[str, str]] = []
    arguments: dict[str, str] = {}
    calls: list[ResponseFunctionToolCall] = []

    class Recorder(responses_recorder(seen)):  # type: ignore[misc]
        def on_function_call_arguments_delta(self, delta: ValueDelta) -> None:
            arguments[delta.item_id] = arguments.get(delta.item_id, "") + delta.delta

        def on_function_call_completed(self, call: ResponseFunctionToolCall) -> None:
            super().on_function_call_completed(call)
            calls.append(call)

    handler = Recorder()
    cut: dict[str, Any] = {"extra_headers": {"X-Runflow-Fault": "cut_after=9"}}
    assert handler.consume(client.responses.create(
        stream=True, **ask("parallel_functions", background=True), **cut)) == "truncated"
    flow = handler.flow
    assert flow.response_id is not None and flow.sequence_number == 8
    assert handler.consume(client.responses.retrieve(
        flow.response_id, stream=True, starting_after=flow.sequence_number)) == "done"
    assert flow.status == "completed" and flow.replayed == 0
    assert [v.code for v in flow.violations] == [Code.TRUNCATED]
    final = client.responses.retrieve(flow.response_id)
    assert flow.response == final
    names = [name for name, _ in seen]
    history = [f"on_{c.entity}_{c.dest}" for c in flow.history if c.source != c.dest]
    assert names == history and len(set(seen)) == len(seen)
    assert [n for n in names if n.startswith("on_response_")] == [
        "on_response_queued", "on_response_in_progress", "on_response_completed"]
    assert names.count("on_function_call_arguments_done") == 2
    assert [c.model_dump() for c in calls] == [o.model_dump() for o in final.output]
    assert arguments == {c.id: c.arguments for c in calls}


def test_a_resumed_stream_replaying_what_arrived_fires_nothing_twice(
        client: openai.OpenAI) -> None:
    seen: list[tuple[str, str]] = []
    handler = responses_recorder(seen)()
    cut: dict[str, Any] = {"extra_headers": {"X-Runflow-Fault": "cut_after=6"}}
    assert handler.consume(client.responses.stream(**ask("text", background=True),
                                                   **cut)) == "truncated"
    flow = handler.flow
    assert flow.response_id is not None
    # the stream helper asks for the whole stream again: 6 events replayed, dropped
    assert handler.consume(client.responses.stream(
        response_id=flow.response_id, starting_after=5)) == "done"
    assert flow.replayed == 6 and flow.status == "completed"
    assert [n for n, _ in seen] == [f"on_{c.entity}_{c.dest}" for c in flow.history
                                    if c.source != c.dest]
    assert len(set(seen)) == len(seen)


def test_a_tool_run_takes_a_handler_per_response(client: openai.OpenAI,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    class Caller(Printer):
        def on_function_call_completed(self, call: ResponseFunctionToolCall) -> None:
            print(f"[tool] {call.name}")

    first = Caller()
    first.consume(client.responses.create(stream=True, **ask("parallel_functions")))
    outputs: Any = [{"type": "function_call_output", "call_id": c.call_id, "output": "ok"}
                    for c in first.flow.function_calls]
    second = Caller()
    second.consume(client.responses.create(stream=True, previous_response_id=first.flow.response_id,
                                           **ask("parallel_functions", input=outputs)))
    assert first.flow.ok and second.flow.ok
    assert capsys.readouterr().out == (
        "[tool] get_weather\n[tool] get_time\n\nDone!\n" + second.flow.text + "\nDone!\n")


def test_async_responses_handler_awaits_async_hooks(server: Server) -> None:
    got: list[str] = []

    class Async(ResponseEventHandler):
        async def on_output_text_delta(self, delta: ValueDelta) -> None:
            await asyncio.sleep(0)
            got.append(delta.delta)

        async def on_response_completed(self, response: Response) -> None:
            got.append(f"<{response.status}>")

    async def run() -> Async:
        handler = Async()
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="t",
                                      max_retries=0) as ac:
            assert await handler.aconsume(ac.responses.stream(**ask("text"))) == "done"
        return handler

    handler = asyncio.run(run())
    assert "".join(got) == handler.flow.text + "<completed>"


def test_on_end_and_on_violation_of_a_responses_handler(fresh: Server) -> None:
    got: list[str] = []

    class Ends(ResponseEventHandler):
        def on_violation(self, violation: Violation) -> None:
            got.append(violation.code.value)

        def on_end(self, ending: str) -> None:
            got.append(ending)

    with openai.OpenAI(base_url=fresh.base_url, api_key="t", max_retries=0) as c:
        handler = Ends()
        fresh.inject("cut_after=3")
        assert handler.consume(c.responses.create(stream=True, **ask("text"))) == "truncated"
    assert got == ["truncated", "truncated"]


# -- the examples ---------------------------------------------------------------------------


def run_example(name: str, tmp_path: Path) -> list[str]:
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                          text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_the_assistants_handler_example(tmp_path: Path) -> None:
    lines = run_example("handler_assistants.py", tmp_path)
    assert lines[:2] == ["Hello! This answer was streamed by the runflow test server.", "Done!"]
    assert lines[2:5] == ['[tool] get_weather({"city": "Paris"})',
                          '[tool] get_time({"timezone": "Europe/Paris"})',
                          "[step] tool calls answered"]
    assert lines[5].startswith("Here is what I found. get_weather: ")
    assert lines[6:] == ["Done!", "[run] completed, last stream ended with done; "
                                  "0 violation(s)"]


def test_the_responses_handler_example(tmp_path: Path) -> None:
    lines = run_example("handler_responses.py", tmp_path)
    assert lines[:4] == ["Hello! This answer was streamed by the runflow test server.", "Done!",
                         '[tool] get_weather({"city": "Paris"})',
                         '[tool] get_time({"timezone": "Europe/Paris"})']
    assert lines[4:6] == ["", "Done!"]  # the first response asked, it wrote no text
    assert lines[6].startswith("Here is what I found. get_weather: ")
    assert lines[7:] == ["Done!", "[responses] ['completed', 'completed']; 0 violation(s)"]


def test_a_hook_of_the_wrong_colour_raises_at_class_creation() -> None:
    async def coroutine(self: Any, *args: Any) -> None: ...

    with pytest.raises(TypeError, match=r"on_run_completed is async def.*AsyncFlowEventHandler"):
        type("Sync", (FlowEventHandler,), {"on_run_completed": coroutine})
    with pytest.raises(TypeError, match=r"on_text_delta must be async def"):
        type("Async", (AsyncFlowEventHandler,), {"on_text_delta": lambda self, d, s: None})
    # enter hooks of the async handler may be either
    type("Either", (AsyncFlowEventHandler,), {"on_run_completed": lambda self: None,
                                              "on_run_failed": coroutine})


def test_overridden_sdk_hooks_calling_super_feed_each_event_once(fresh: Server) -> None:
    """on_event / on_exception / on_end overridden, with and without ``super()``:
    runflow's part runs once, before the override, whatever it calls."""
    names: list[str] = []
    ends: list[str | None] = []

    class Chatty(FlowEventHandler):
        def on_event(self, event: Any) -> None:
            super().on_event(event)
            names.append(event.event)

        def on_exception(self, exception: Exception) -> None:
            super().on_exception(exception)
            names.append(type(exception).__name__)

        def on_end(self) -> None:
            super().on_end()
            ends.append(self.flow.ending)

    fresh.inject("error_after=5")
    handler = Chatty()
    with openai.OpenAI(base_url=fresh.base_url, api_key="t", max_retries=0) as c, \
            c.beta.threads.create_and_run_stream(assistant_id="asst_text",
                                                 event_handler=handler) as stream:
        with pytest.raises(openai.APIError):
            stream.until_done()
    flow = handler.flow
    assert names[:-1] == [f"thread.{n}" for n in ("created", "run.created", "run.queued",
                                                    "run.in_progress", "run.step.created")]
    assert names[-1] == "APIError" and ends == ["error"]
    assert flow.event_count == 6 and flow.ending == "error"  # five events and the error


def test_an_annotation_is_not_a_text_delta() -> None:
    """``response.output_text.annotation.added`` grows the text part by nothing: the
    flow reports it as an empty value delta, ``on_output_text_delta`` (named after
    the SDK's ``response.output_text.delta``) does not receive it."""
    path = recordings_dir() / "responses" / "openaidotnet_file_search_gpt4omini.sse"
    data = path.read_bytes()
    assert data.count(b"event: response.output_text.annotation.added") == 1
    fragments: list[str] = []

    class Text(ResponseEventHandler):
        def on_output_text_delta(self, delta: ValueDelta) -> None:
            fragments.append(delta.delta)

    handler = Text()
    handler.flow.feed_sse(data)  # the hooks are the flow's: any input reaches them
    assert handler.flow.close() == "done"
    assert handler.flow.ok and "".join(fragments) == handler.flow.text
    assert all(fragments) and len(fragments) == data.count(b"event: response.output_text.delta")


def test_static_and_class_method_hooks_get_what_their_signature_asks(
        client: openai.OpenAI) -> None:
    got: list[str] = []

    class Odd(FlowEventHandler):
        @staticmethod
        def on_run_queued(run: Run) -> None:
            got.append(f"static {run.status}")

        @staticmethod
        def on_run_in_progress() -> None:
            got.append("static, nothing")

        @classmethod
        def on_run_completed(cls, run: Run) -> None:
            got.append(f"{cls.__name__} {run.status}")

    with client.beta.threads.create_and_run_stream(assistant_id="asst_text",
                                                   event_handler=Odd()) as stream:
        stream.until_done()
    assert got == ["static queued", "static, nothing", "Odd completed"]


def test_the_hooks_follow_the_definition_a_state_added_by_rows_is_a_hook() -> None:
    """``thread.run.paused`` added to a copy of the definition (tests/test_definition.py's
    recipe): ``on_run_paused`` is a hook of a handler on that definition, fires when
    the run enters it, and is refused, with a suggestion, on the shipped one."""
    from test_definition import DONE, PAUSED_PATH, paused_protocol, run_event

    entered: list[str] = []

    class Watcher(FlowEventHandler):
        protocol = paused_protocol()

        def on_run_paused(self, run: Run) -> None:
            entered.append(run.status)

    handler = Watcher()
    for name, status in PAUSED_PATH:
        handler.flow.feed(run_event(name, status))
    handler.flow.feed(DONE)
    assert handler.flow.close() == "done" and handler.flow.violations == []
    assert entered == ["paused"]
    with pytest.raises(TypeError, match=r"on_run_paused .*did you mean 'on_run_"):
        type("Stale", (FlowEventHandler,), {"on_run_paused": lambda self, run: None})
