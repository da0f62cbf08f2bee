"""How the Responses snapshot is built (runflow.protocols.responses.typed): the SDK
item class picked by ``type``, the lenient builder only for the part that fails,
parts that failed before typed first -- and the snapshot the same either way."""

from __future__ import annotations

import copy
from typing import Any, get_args

import pytest
from conftest import recordings_dir
from openai.types.responses import (
    Response,
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseOutputMessage,
    ResponseTextConfig,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from pydantic import BaseModel

from runflow.protocols.responses import typed
from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.typed import UnknownItem, item_model, item_tags, typed_model


def _same(a: Any, b: Any, path: str = "") -> None:
    """``a`` and ``b`` are the same snapshot: same classes, values and set fields,
    down to the leaves."""
    assert type(a) is type(b), path
    if isinstance(a, BaseModel):
        assert a.model_fields_set == b.model_fields_set, path
        assert a.__dict__.keys() == b.__dict__.keys(), path
        for key in a.__dict__:
            _same(a.__dict__[key], b.__dict__[key], f"{path}.{key}")
        assert a.model_extra == b.model_extra, path
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _same(a[key], b[key], f"{path}.{key}")
    else:
        assert a == b, path


def _reference(flow: ResponseFlow) -> Response:
    """The response by the path that remembers nothing (each model validated whole
    first, built part by part only where that fails)."""
    root = flow.state.root
    assert root is not None
    output = [item_model(flow._item_wire(item)) for item in flow._items()]
    result: Response = typed_model(Response, root.wire(), {"output": output}, learn=False)
    return result


# --------------------------------------------------------------------------- #
# the item class per type
# --------------------------------------------------------------------------- #
def test_every_class_of_the_sdk_union_is_picked_by_its_own_type() -> None:
    classes = get_args(get_args(ResponseOutputItem)[0])
    assert len(classes) > 20
    for cls in classes:
        tags = get_args(cls.model_fields["type"].annotation)
        assert tags, cls
        for tag in tags:
            assert cls in item_tags()[tag], (tag, cls)


def test_an_item_is_its_types_class_even_when_it_fits_another() -> None:
    # a function call missing ``arguments``: its own class, built leniently, not
    # whichever other class of the union would have accepted the rest
    wire = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f",
            "status": "completed"}
    built = item_model(wire)
    assert type(built) is ResponseFunctionToolCall
    assert built.name == "f" and built.call_id == "call_1"
    assert "arguments" not in built.model_fields_set
    message = item_model({"type": "message", "id": "m", "role": "assistant",
                          "status": "completed", "content": []})
    assert type(message) is ResponseOutputMessage
    assert type(item_model({"type": "acme:widget", "id": "w"})) is UnknownItem


# --------------------------------------------------------------------------- #
# the lenient builder, for the failing part only
# --------------------------------------------------------------------------- #
def _response_wire(**changes: Any) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "id": "resp_1", "object": "response", "created_at": 1774963893, "status": "completed",
        "error": None, "incomplete_details": None, "instructions": None, "model": "gpt-4o",
        "output": [], "parallel_tool_calls": True, "temperature": 1.0, "tool_choice": "auto",
        "tools": [], "top_p": 1.0, "metadata": {},
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        # as real servers send it: no cache_write_tokens, which the SDK requires
        "usage": {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": 39},
    }
    wire.update(changes)
    return wire


@pytest.mark.parametrize("learn", [False, True])
def test_only_the_part_that_fails_is_built_leniently(learn: bool) -> None:
    for _ in range(2):  # the second time, usage was remembered as failing
        built = typed_model(Response, _response_wire(), {"output": []}, learn=learn)
        assert type(built) is Response
        assert type(built.text) is ResponseTextConfig
        usage = built.usage
        assert type(usage) is ResponseUsage and usage.total_tokens == 39
        assert type(usage.output_tokens_details) is OutputTokensDetails
        details = usage.input_tokens_details
        assert type(details) is InputTokensDetails and details.cached_tokens == 0
        assert "cache_write_tokens" not in details.model_fields_set


def test_a_remembered_part_that_is_now_fine_or_not_an_object() -> None:
    typed_model(Response, _response_wire(), {"output": []})  # usage remembered
    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2,
             "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
             "output_tokens_details": {"reasoning_tokens": 0}}
    for wire in (_response_wire(usage=usage), _response_wire(usage="lots"),
                 _response_wire(usage=None), _response_wire(usage=[1, 2]),
                 _response_wire(created_at="yesterday")):
        _same(typed_model(Response, copy.deepcopy(wire), {"output": []}),
              typed_model(Response, copy.deepcopy(wire), {"output": []}, learn=False))
    fine = typed_model(Response, _response_wire(usage=usage), {"output": []})
    assert fine.usage.input_tokens_details.cache_write_tokens == 0
    assert typed_model(Response, _response_wire(usage="lots"), {"output": []}).usage == "lots"


def test_a_bad_required_field_builds_the_rest_typed() -> None:
    built = typed_model(Response, _response_wire(created_at="yesterday"), {"output": []})
    assert type(built) is Response
    assert built.model_dump()["created_at"] == "yesterday"  # kept as sent, not typed
    assert type(built.text) is ResponseTextConfig and type(built.usage) is ResponseUsage


def test_what_a_class_remembers_is_bounded_by_its_fields() -> None:
    for _ in range(3):
        typed_model(Response, _response_wire(text="x", reasoning=5), {"output": []})
    plan = typed._plan(Response)
    assert set(plan.failed) <= set(plan.models)
    assert len(plan.failed) == len(set(plan.failed))


# --------------------------------------------------------------------------- #
# the same snapshot on every shared recording
# --------------------------------------------------------------------------- #
def _recordings() -> list[str]:
    folder = recordings_dir() / "responses"
    return sorted(p.name for p in folder.glob("*.sse"))


def test_the_snapshot_is_the_reference_one_on_every_recording() -> None:
    names = _recordings()
    assert names
    for name in names * 2:  # the second pass runs with what the first remembered
        flow = ResponseFlow()
        flow.feed_sse((recordings_dir() / "responses" / name).read_bytes())
        flow.close()
        if flow.state.root is None:
            assert flow.response is None
            continue
        _same(flow.response, _reference(flow), name)
        for ours, ref in zip(flow.output, _reference(flow).output, strict=True):
            _same(ours, ref, name)
    plan = typed._plan(Response)  # the remembering path ran: usage typed first, or its
    # missing cache_write_tokens filled in (tests/test_responses_fills.py)
    assert "usage" in plan.failed or any(fill.path[0] == "usage" for fill in plan.fills)


def test_a_finished_items_model_is_kept_until_its_object_changes() -> None:
    flow = ResponseFlow()
    flow.feed_sse((recordings_dir() / "responses" /
                   "openaidotnet_hello_text_gpt4omini.sse").read_bytes())
    flow.close()
    first = flow.output
    assert first and flow.output[0] is first[0]  # finished: kept
    item = next(iter(flow._items()))
    item.raw = dict(item.raw)  # a new object from the server (e.g. recovery)
    assert flow.output[0] is not first[0]
    _same(flow.output[0], first[0])
