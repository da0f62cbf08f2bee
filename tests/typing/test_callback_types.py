"""Static checks of the callback API, run by ``mypy --strict runflow tests/typing``.

``assert_type`` pins what callbacks receive and that decorators return the function
unchanged. Each line that must be rejected carries ``# type: ignore[<code>]``;
``warn_unused_ignores`` (pyproject) makes mypy fail if one of them stops being an
error. pytest also imports this file and runs the ``test_`` functions, so the code
is valid at runtime too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from typing import Any

from openai.types.beta import Thread
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep
from typing_extensions import assert_type

from runflow import (
    Ending,
    Handler,
    RunFlow,
    TextDelta,
    TextSnapshot,
    ToolCallDelta,
    ToolCallSnapshot,
    Violation,
)
from runflow.protocols.assistants.callbacks import MessageState, RunState, StepState, ThreadState


def test_decorators_keep_the_function_type() -> None:
    flow = RunFlow()

    @flow.on_run("requires_action")
    def act(run: Run) -> None:
        assert_type(run, Run)

    @flow.on_step("completed")
    def step_done(step: RunStep) -> None:
        assert_type(step, RunStep)

    @flow.on_message("incomplete")
    def cut(message: Message) -> None:
        assert_type(message, Message)

    @flow.on_thread("created")
    def thread_created(thread: Thread) -> None:
        assert_type(thread, Thread)

    @flow.on_run("completed")
    async def finished(run: Run) -> None:
        assert_type(run, Run)

    @flow.on_text("created")
    def text_created(text: TextSnapshot) -> None:
        assert_type(text.value, str)

    @flow.on_text("delta")
    def text_delta(delta: TextDelta, snapshot: TextSnapshot) -> None:
        assert_type(delta.value, str)

    @flow.on_tool_call("done")
    def call_done(call: ToolCallSnapshot) -> None:
        assert_type(call.arguments, str)
        assert_type(call.id, str | None)

    @flow.on_tool_call("delta")
    def call_delta(delta: ToolCallDelta, snapshot: ToolCallSnapshot) -> None:
        assert_type(delta.arguments, str)

    @flow.on_violation
    def violated(violation: Violation) -> None: ...

    @flow.on_end
    def ended(ending: Ending) -> None: ...

    # The decorators return the function itself, typed as written (not Any):
    run = Run.construct(id="run_1", status="completed")
    assert_type(act(run), None)
    coroutine = assert_type(finished(run), Coroutine[Any, Any, None])
    coroutine.close()
    assert_type(ended("done"), None)
    assert callable(text_delta) and callable(step_done) and callable(cut)
    assert callable(thread_created)
    assert callable(text_created) and callable(call_done) and callable(call_delta)
    assert callable(violated)


def test_handler_methods_have_typed_parameters() -> None:
    class Mine(Handler):
        def on_run_requires_action(self, run: Run) -> None:
            assert_type(run, Run)

        async def on_message_completed(self, message: Message) -> None:
            assert_type(message, Message)

        def on_tool_call_done(self, tool_call: ToolCallSnapshot) -> None:
            assert_type(tool_call, ToolCallSnapshot)

        def on_end(self, ending: Ending) -> None: ...

    flow = RunFlow(handler=Mine())
    flow.add_handler(Mine())
    result = Mine().on_run_queued
    assert_type(result(Run.construct()), Awaitable[None] | None)


def test_state_literals() -> None:
    run: RunState = "requires_action"
    step: StepState = "expired"
    message: MessageState = "incomplete"
    thread: ThreadState = "created"
    assert (run, step, message, thread) == ("requires_action", "expired", "incomplete", "created")


def expected_type_errors(flow: RunFlow) -> None:
    """Never run: each line is an error mypy must report (see the module docstring)."""
    flow.on_run("finished")  # type: ignore[arg-type]
    flow.on_step("queued")  # type: ignore[arg-type]
    flow.on_message("cancelled")  # type: ignore[arg-type]
    flow.on_text("finished")  # type: ignore[call-overload]

    @flow.on_run("completed")  # type: ignore[type-var]
    def wrong_param(step: RunStep) -> None: ...

    @flow.on_message("completed")  # type: ignore[type-var]
    def wrong_return(message: Message) -> int:
        return 1

    @flow.on_text("delta")  # type: ignore[type-var]
    def wrong_arity(text: TextSnapshot) -> None: ...

    @flow.on_end  # type: ignore[type-var]
    def wrong_end(ending: int) -> None: ...

    class WrongSignature(Handler):
        def on_run_completed(self, step: RunStep) -> None: ...  # type: ignore[override]

        def on_text_done(self, text: str) -> None: ...  # type: ignore[override]

    run_only: RunState = "created"  # type: ignore[assignment]
    del wrong_param, wrong_return, wrong_arity, wrong_end, WrongSignature, run_only
