"""Static checks of the handler classes, run by ``mypy --strict runflow tests/typing``.

``assert_type`` pins what a handler exposes: ``handler.flow`` is the flow of its
protocol, ``handler.next()`` keeps the subclass's type, ``consume`` returns the
ending. The SDK's hooks are the SDK's methods, so an override with the wrong
signature is rejected (``# type: ignore[override]``; ``warn_unused_ignores`` makes
mypy fail if it stops being an error). The enter hooks (``on_run_completed``...)
are read from the definition at class creation, where a wrong name raises
(tests/test_handler.py): they are not declared on the base class, so both forms
the SDK's documentation and runflow allow -- ``(self)`` and ``(self, run)`` --
type-check. pytest also imports this file and runs the ``test_`` functions.
"""

from __future__ import annotations

from openai.types.beta.threads import Run, Text, TextDelta
from openai.types.responses import Response, ResponseFunctionToolCall
from typing_extensions import assert_type

from runflow import (
    AsyncFlowEventHandler,
    Ending,
    FlowEventHandler,
    ResponseEventHandler,
    ResponseFlow,
    RunFlow,
    ValueDelta,
    Violation,
)


class Printer(FlowEventHandler):
    def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        assert_type(delta.value, str | None)

    def on_run_completed(self) -> None: ...

    def on_run_requires_action(self, run: Run) -> None: ...

    def on_violation(self, violation: Violation) -> None: ...


class AsyncPrinter(AsyncFlowEventHandler):
    async def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None: ...

    async def on_run_completed(self, run: Run) -> None: ...


class Answers(ResponseEventHandler):
    def on_output_text_delta(self, delta: ValueDelta) -> None:
        assert_type(delta.delta, str)

    def on_function_call_completed(self, call: ResponseFunctionToolCall) -> None: ...

    async def on_response_completed(self, response: Response) -> None: ...


def test_a_handler_exposes_its_flow_and_keeps_its_type_across_streams() -> None:
    handler = Printer()
    assert_type(handler.flow, RunFlow)
    assert_type(handler.next(), Printer)
    assert_type(Printer(handler.flow), Printer)
    assert_type(AsyncPrinter().next(), AsyncPrinter)
    assert_type(AsyncPrinter().flow, RunFlow)


def test_the_responses_handler_has_a_response_flow() -> None:
    handler = Answers()
    assert_type(handler.flow, ResponseFlow)
    ending = handler.consume([])
    assert_type(ending, Ending)
    assert ending == "truncated"


def test_the_sdks_hooks_keep_the_sdks_signatures() -> None:
    class Wrong(FlowEventHandler):
        def on_text_delta(self, delta: str) -> None: ...  # type: ignore[override]

    class NotAwaitable(AsyncFlowEventHandler):
        async def on_end(self, extra: int) -> None: ...  # type: ignore[override]
