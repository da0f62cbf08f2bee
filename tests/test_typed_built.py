"""A flat part that failed validation is remembered by its exact values and handed
out as a copy (runflow.protocols.responses.typed): the same object as building it
again, never shared between snapshots, and never mixing up equal values of
different types."""

from __future__ import annotations

from openai.types.responses.response_usage import InputTokensDetails
from pydantic import BaseModel

from runflow.protocols.responses.typed import typed_model

_MISSING = {"cached_tokens": 0}  # no cache_write_tokens, which the SDK requires


def _state(model: BaseModel) -> tuple[object, ...]:
    return (type(model), dict(model.__dict__), set(model.model_fields_set), model.model_extra)


def test_a_remembered_part_is_the_part_built_again() -> None:
    first = typed_model(InputTokensDetails, dict(_MISSING), {})
    again = typed_model(InputTokensDetails, dict(_MISSING), {})
    reference = typed_model(InputTokensDetails, dict(_MISSING), {}, learn=False)
    assert _state(again) == _state(first) == _state(reference)
    assert again.model_fields_set == {"cached_tokens"}


def test_each_snapshot_gets_its_own_copy() -> None:
    first = typed_model(InputTokensDetails, dict(_MISSING), {})
    first.cached_tokens = 99  # a caller editing its snapshot
    again = typed_model(InputTokensDetails, dict(_MISSING), {})
    assert again is not first
    assert again.cached_tokens == 0

