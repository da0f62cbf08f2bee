""":mod:`runflow.protocols.responses.typed` reads a union spelled ``X | None`` as it
reads ``Optional[X]``: a field holding one model, or a list of a union of models, is
recognised either way, so a bad part of it is built part by part (the rest of the
whole typed) whichever spelling its model uses."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel

from runflow.protocols.responses.typed import _plan, typed_model


class Inner(BaseModel):
    a: int
    b: str


class Left(BaseModel):
    type: Literal["left"]
    x: int


class Right(BaseModel):
    type: Literal["right"]
    y: str


class Piped(BaseModel):
    id: str
    inner: Inner | None = None
    sides: list[Left | Right] | None = None


class Spelled(BaseModel):
    id: str
    inner: Optional[Inner] = None  # noqa: UP045 (the spelling under test)
    sides: Optional[list[Union[Left, Right]]] = None  # noqa: UP007, UP045


def test_both_spellings_plan_alike() -> None:
    piped, spelled = _plan(Piped), _plan(Spelled)
    assert piped.models == spelled.models == {"inner": Inner}
    assert piped.lists == spelled.lists == {"sides": {"left": (Left,), "right": (Right,)}}
    assert piped.tagged == spelled.tagged == frozenset({"sides"})


def test_a_bad_part_is_built_alone_whichever_the_spelling() -> None:
    """``inner.a`` is no integer: the inner model is built part by part (its ``b``
    typed), the list typed by tag, whichever spelling."""
    wire = {"id": "r1", "inner": {"a": "many", "b": "kept"},
            "sides": [{"type": "left", "x": 1}, {"type": "right", "y": "z"}]}
    piped = typed_model(Piped, wire, {}, learn=False)
    spelled = typed_model(Spelled, wire, {}, learn=False)
    assert type(piped.inner) is Inner and type(spelled.inner) is Inner
    assert piped.inner.b == spelled.inner.b == "kept"
    assert vars(piped.inner)["a"] == vars(spelled.inner)["a"] == "many"  # kept as it came
    assert [type(s) for s in piped.sides] == [type(s) for s in spelled.sides] == [Left, Right]
    assert piped.model_dump(warnings=False) == spelled.model_dump(warnings=False)
