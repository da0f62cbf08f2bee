"""The openai SDK's own accumulator and runflow, on the same bytes.

:func:`sdk_final` feeds a raw SSE body through ``ResponseStreamState`` -- the
state machine behind ``client.responses.stream(...).get_final_response()`` -- event
by event, as the SDK's ``ResponseStream`` does. :func:`compare` then sets what the
SDK completed beside what a :class:`~runflow.ResponseFlow` made of the same bytes:
status, item ids, item statuses, output text and function-call arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from openai import omit
from openai._models import construct_type
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent

from runflow.protocols.responses.flow import ResponseFlow

__all__ = ["Outcome", "compare", "runflow_outcome", "sdk_final", "sse_events"]


@dataclass(frozen=True)
class Outcome:
    """The fields the differential compares."""

    status: str | None
    item_ids: tuple[str | None, ...]
    item_statuses: tuple[str | None, ...]
    text: str
    arguments: tuple[str, ...]


def sse_events(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects of the ``data:`` lines, block by block (``[DONE]`` and
    non-object data are left out: the SDK's ``Stream`` skips them too)."""
    out: list[dict[str, Any]] = []
    for block in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = [ln[5:].removeprefix(b" ") for ln in block.split(b"\n") if ln.startswith(b"data:")]
        if not lines:
            continue
        payload = b"\n".join(lines)
        if payload.strip() == b"[DONE]":
            continue
        try:
            value = json.loads(payload)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def sdk_final(data: bytes) -> tuple[Any, str | None]:
    """The SDK's final response for ``data`` (None when it has none) and, when it
    raised, what it raised."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    for value in sse_events(data):
        # built as the SDK's own stream builds each event (BaseClient._process_response_data):
        # leniently, so a value that is no event is handed on as it is
        event = cast(ResponseStreamEvent, construct_type(type_=ResponseStreamEvent, value=value))
        try:
            state.handle_event(event)
        except Exception as exc:
            return None, f"{type(exc).__name__}: {exc}"
    return state._completed_response, None


def _outcome_of_items(status: str | None, items: list[Any], text: str) -> Outcome:
    return Outcome(
        status=status,
        item_ids=tuple(getattr(i, "id", None) for i in items),
        item_statuses=tuple(getattr(i, "status", None) for i in items),
        text=text,
        arguments=tuple(str(i.arguments) for i in items
                        if getattr(i, "type", None) == "function_call"),
    )


def sdk_outcome(final: Any) -> Outcome:
    return _outcome_of_items(final.status, list(final.output or []), final.output_text)


def runflow_outcome(data: bytes) -> Outcome:
    flow = ResponseFlow()
    flow.feed_sse(data)
    flow.close()
    return _outcome_of_items(flow.status, list(flow.output), flow.text)


def compare(data: bytes) -> tuple[Outcome | None, Outcome, list[str], str | None]:
    """``(sdk, runflow, fields that differ, what the SDK raised)``; ``sdk`` is None
    when the SDK completed no response (then nothing is compared)."""
    final, raised = sdk_final(data)
    ours = runflow_outcome(data)
    if final is None:
        return None, ours, [], raised
    theirs = sdk_outcome(final)
    differ = [name for name in ("status", "item_ids", "item_statuses", "text", "arguments")
              if getattr(theirs, name) != getattr(ours, name)]
    return theirs, ours, differ, raised
