"""Static checks of the Responses callback API (``mypy --strict runflow tests/typing``).

Lines that must be rejected carry ``# type: ignore[<code>]``; ``warn_unused_ignores``
fails mypy if one stops being an error. pytest runs the ``test_`` functions too.
"""

from __future__ import annotations

from typing import Any

from openai.types.responses import Response
from typing_extensions import assert_type

from runflow.protocols.responses.flow import ResponseFlow, ValueDelta


def test_response_callbacks_keep_the_function_type() -> None:
    flow = ResponseFlow()

    @flow.on_response("completed")
    def done(response: Response) -> None:
        assert_type(response, Response)

    @flow.on_item("function_call", "completed")
    def call(item: Any) -> None: ...

    @flow.on_part("output_text", "done")
    def part(value: dict[str, Any]) -> None: ...

    @flow.on_text_delta
    def text(delta: ValueDelta) -> None:
        assert_type(delta.delta, str)

    assert flow.response is None


def test_wrong_names_are_type_errors() -> None:
    flow = ResponseFlow()
    try:
        flow.on_response("requires_action")  # type: ignore[arg-type]
    except ValueError:
        pass
    try:
        flow.on_item("thread", "completed")  # type: ignore[arg-type]
    except ValueError:
        pass
    try:
        flow.on_part("output_text", "searching")  # type: ignore[arg-type]
    except ValueError:
        pass
