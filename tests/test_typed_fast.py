"""The short cuts of the snapshot read (runflow.protocols.responses.typed, issue 25)
give what the long way gives: a part validated by the class's own validator is
``model_validate``'s object, also for a class whose validator is built on first
use; a remembered part handed out by ``_copy`` is ``model_copy()``'s object and
shares no container with what is remembered."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage
from openai.types.responses.response_usage import InputTokensDetails
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from runflow.protocols.responses import typed
from runflow.protocols.responses.typed import UnknownItem


def _state(model: BaseModel) -> tuple[object, ...]:
    return (type(model), dict(model.__dict__), set(model.model_fields_set), model.model_extra,
            model.__pydantic_private__)


class _Deferred(BaseModel):
    """A class whose validator pydantic builds on its first validation."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    type: str
    size: int = 0


class _Private(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    _note: list[str] = PrivateAttr(default_factory=list)


_MESSAGE = {"type": "message", "id": "m", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": "hi", "annotations": []}]}
_CALL = {"type": "function_call", "id": "fc", "call_id": "c", "name": "f",
         "arguments": "{}", "status": "completed"}


@pytest.mark.parametrize(("model", "value"), [
    (ResponseOutputMessage, _MESSAGE),
    (ResponseFunctionToolCall, _CALL),
    (UnknownItem, {"type": "acme:widget", "id": 7, "extra": {"a": [1]}}),
    (_Deferred, {"type": "x", "size": "3", "vendor": True}),  # lax "3", an extra field
])
def test_the_own_validator_gives_model_validate_s_object(model: type[BaseModel],
                                                           value: dict[str, Any]) -> None:
    assert _state(typed._validate(model, value)) == _state(model.model_validate(value))


def test_the_own_validator_raises_what_model_validate_raises() -> None:
    with pytest.raises(ValidationError) as ours:
        typed._validate(ResponseFunctionToolCall, {**_CALL, "arguments": 5})
    with pytest.raises(ValidationError) as theirs:
        ResponseFunctionToolCall.model_validate({**_CALL, "arguments": 5})
    assert ours.value.errors() == theirs.value.errors()


@pytest.mark.parametrize("model", [
    InputTokensDetails.model_construct(cached_tokens=3),  # a required field missing
    UnknownItem.model_validate({"type": "acme:widget", "id": "w", "vendor": "v"}),
    _Private.model_validate({"name": "n", "tag": "t"}),  # an extra field, a private one
])
def test_a_copy_is_model_copy_s_object_sharing_no_container(model: BaseModel) -> None:
    copied = typed._copy(model)
    assert _state(copied) == _state(model.model_copy())
    assert copied.__dict__ is not model.__dict__
    assert copied.model_fields_set is not model.model_fields_set
    if model.model_extra is not None:
        assert copied.model_extra is not model.model_extra
    if model.__pydantic_private__ is not None:
        assert copied.__pydantic_private__ is not model.__pydantic_private__


def test_a_private_attribute_of_the_copy_is_its_own() -> None:
    model = _Private(name="n")
    copied = typed._copy(model)
    copied._note = ["edited"]
    assert model._note == []
