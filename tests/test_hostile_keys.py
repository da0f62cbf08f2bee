"""A wire key that names a parameter of the builders (``_fields_set``, ``cls``,
``_BaseModel__cls``): pydantic's ``model_construct`` and the SDK's ``construct`` take
the object's fields as keyword arguments, so such a key used to make reading a
snapshot of an object that failed validation raise ``TypeError`` or
``AttributeError``. Remote input may hold any key (README, "Remote input is hostile");
the snapshot is built, the key kept as an extra field at the top level."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage

from runflow import ResponseFlow, RunFlow
from runflow.engine.construct import ARGUMENT_NAMES, clash_free

KEYS = sorted(ARGUMENT_NAMES)

RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress",
            "model": "m", "output": [], "tools": [], "parallel_tool_calls": True,
            "tool_choice": "auto"}


def _responses(item: dict[str, Any]) -> ResponseFlow:
    flow = ResponseFlow()
    flow.feed({"type": "response.created", "sequence_number": 0, "response": RESPONSE})
    flow.feed({"type": "response.output_item.added", "sequence_number": 1,
               "output_index": 0, "item": item})
    return flow


@pytest.mark.parametrize("key", KEYS)
def test_a_responses_item_that_fails_validation_keeps_the_key_as_an_extra(key: str) -> None:
    flow = _responses({"id": "m1", "type": "message", "role": "assistant",
                       "status": "in_progress", "content": 7, key: [1]})
    (item,) = flow.output
    assert type(item) is ResponseOutputMessage
    assert item.id == "m1" and item.model_extra == {key: [1]}
    assert flow.response is not None and flow.response.output[0].id == "m1"


@pytest.mark.parametrize("key", KEYS)
def test_a_responses_value_built_by_the_sdk_leaves_a_nested_key_out(key: str) -> None:
    """A field typed by the SDK's ``construct_type`` (its value failed validation)."""
    flow = _responses({"id": "fc1", "type": "function_call", "call_id": "c1", "name": "f",
                       "arguments": "", "status": "in_progress",
                       "namespace": {key: 1, "x": {key: 2}}})
    (item,) = flow.output
    assert type(item) is ResponseFunctionToolCall and item.call_id == "c1"
    assert all(v.code != "internal_error" for v in flow.violations)


@pytest.mark.parametrize("key", KEYS)
def test_an_assistants_run_that_fails_validation_keeps_the_key(key: str) -> None:
    seen: list[Any] = []
    flow = RunFlow()
    flow.on_run("queued")(seen.append)
    flow.feed({"event": "thread.run.created", "data": {
        "id": "run_1", "object": "thread.run", "created_at": 1, "thread_id": "t",
        "assistant_id": "a", "status": "queued", "model": "m", "instructions": None,
        "tools": [{"type": "retrieval", key: 3}], key: 1}})
    assert flow.violations == []
    run = flow.run
    assert run is not None and run.id == "run_1" and run.model_extra == {key: 1}
    (got,) = seen
    assert got.id == "run_1" and got.model_extra == {key: 1}


@pytest.mark.parametrize("key", KEYS)
def test_an_assistants_error_event_with_the_key_reads(key: str) -> None:
    flow = RunFlow()
    flow.feed_sse(b'event: error\ndata: {"message": "x", "type": "server_error", "'
                  + key.encode() + b'": 1}\n\n')
    assert flow.close() == "error"
    error = flow.error
    assert error is not None and error.message == "x" and error.model_extra == {key: 1}


def test_clash_free_copies_only_what_holds_such_a_key() -> None:
    plain = {"a": 1, "b": "x"}
    assert clash_free(plain) is plain
    nested = {"a": [{"b": {"c": 1}}], "d": {"e": [2]}}
    assert clash_free(nested) is nested
    assert clash_free({"a": [{"cls": 1, "b": 2}], "_fields_set": 3}) == {"a": [{"b": 2}]}


# --------------------------------------------------------------------------- #
# found by the key fuzz (runflow.testing.typefuzz_keys)
# --------------------------------------------------------------------------- #
def test_a_terminal_response_without_its_status_key_checkpoints() -> None:
    """Found by the key fuzz ("key remove" / "key rename with NUL" at
    ``response.status`` of ``response.completed``): the flow takes an object without
    its status (the SDK's field is optional), but its checkpoint did not load
    (``state 'completed' but its object says 'None'``)."""
    flow = ResponseFlow()
    flow.feed({"type": "response.created", "sequence_number": 0, "response": RESPONSE})
    done = {k: v for k, v in RESPONSE.items() if k != "status"}
    flow.feed({"type": "response.completed", "sequence_number": 1, "response": done})
    assert flow.close() == "done" and flow.violations == []
    saved = flow.to_json()
    again = ResponseFlow.from_json(saved)
    assert again.root_state == "completed" and again.to_json() == saved


def test_a_null_status_is_still_a_mismatch_that_checkpoints() -> None:
    """A status the object states as ``null`` still disagrees with the event (the
    flow follows the event and says so); the checkpoint keeps that."""
    flow = ResponseFlow()
    flow.feed({"type": "response.created", "sequence_number": 0, "response": RESPONSE})
    flow.feed({"type": "response.completed", "sequence_number": 1,
               "response": {**RESPONSE, "status": None}})
    assert [(v.code, v.index) for v in flow.violations] == [("status_mismatch", 1)]
    saved = flow.to_json()
    assert ResponseFlow.from_json(saved).to_json() == saved


def test_a_response_whose_id_rotates_at_its_end_checkpoints() -> None:
    """Found by the key fuzz ("key add id and fullwidth id" at ``response`` of
    ``response.completed``, which sets ``id``): the flow follows a response whose id
    changes (``item_id_mismatch``; the root's id rotates), but its checkpoint did not
    load (``tracker id 'resp_1' differs from its object's id``)."""
    flow = ResponseFlow()
    flow.feed({"type": "response.created", "sequence_number": 0, "response": RESPONSE})
    flow.feed({"type": "response.completed", "sequence_number": 1,
               "response": {**RESPONSE, "status": "completed", "id": "x1", "ＩＤ": "x2"}})
    assert flow.close() == "done"
    assert [(v.code, v.index) for v in flow.violations] == [("item_id_mismatch", 1)]
    assert flow.root_id == "resp_1" and flow.response is not None
    assert flow.response.id == "x1"
    saved = flow.to_json()
    again = ResponseFlow.from_json(saved)
    assert again.to_json() == saved and again.response is not None
    assert again.response.id == "x1"
