"""The SDK's own lenient builder, for a fraction of its cost.

A snapshot is the SDK's pydantic type. An object that validates is validated (in
Rust); one that does not is what the SDK's ``construct`` makes of it -- real servers
send such objects all the time: a ``Run`` with ``instructions: null`` or without
``parallel_tool_calls``, a tool of a type the SDK no longer knows (``retrieval``).
``construct`` builds every field in Python (about 100 µs for a ``Run``) when
usually one or two fail. :func:`lenient_model` gives the same object, field for
field and type for type, for about a fifth of that:

* The fields that fail are set aside; the rest are validated at once, in strict
  mode down to the leaves (nested models too: a strict config would stop at
  their own), by a copy of the model whose every field is optional
  (:func:`_fields_of`).
  On a value that passes strict validation the SDK's ``construct`` and pydantic
  agree (strict validation coerces nothing that ``construct`` keeps: no ``"5"`` to
  ``5``, no ``1.0`` to ``1``); a field that passes only in lax mode is set aside
  too, so what ``construct`` would keep as it came is kept as it came.
* Each field set aside is built by the steps of the SDK's own ``construct_type``,
  exactly as ``construct`` builds it (a null is the field's default; a union is
  validated, else picked by its discriminator), except that a model found in it
  is built by :func:`lenient_model` again (:func:`_construct`): a file search
  call whose ``ranker`` the SDK does not know keeps its 20 results validated at
  once, not built field by field. The cost of a bad field stays its own.
* A model the copy cannot stand for (validators, aliases, a typed ``extra``) is
  built by ``construct`` itself.

It reads the SDK's own steps (``construct_type``, ``validate_type``, its
discriminator table, ``field_get_default``) from ``openai._models``: should they
change, the comparison below fails.

``tests/test_lenient.py`` compares the result with ``construct``'s on every object
of the shared recordings and on hostile variants of them.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from runflow.engine.construct import clash_free, construct

__all__ = ["as_is", "bound_to_fail", "failed_fields", "lenient_model"]

_UNIONS = (Union, types.UnionType)
_new = object.__new__
_set = object.__setattr__
_ROUNDS = 4
"""Strict validations tried before building the whole leniently: each one sets
aside the fields that failed the one before, so the second passes unless a field
validates differently alone (a model-level rule, which :func:`_plan` rules out)."""


@dataclass(frozen=True)
class _Plan:
    """How :func:`lenient_model` builds one SDK class."""

    fields: type[BaseModel] | None
    """The model's fields, all optional, validated strictly (None: build every
    object of this class by ``construct``)."""
    infos: dict[str, FieldInfo]
    """The model's fields."""
    required: frozenset[str]
    """Fields without a default: an object without one of them cannot validate."""
    not_null: frozenset[str]
    """Fields a null cannot validate as (a plain ``str``, ``int``, ``float``,
    ``bool`` or ``Literal``)."""
    defaults: dict[str, FieldInfo]
    """Fields whose default in ``construct`` is not None (None is the default of a
    required field or one with a default factory, which ``construct`` leaves
    uncalled), wherever the field is absent or null."""


def _not_null(annotation: Any) -> bool:
    """Whether pydantic refuses None for ``annotation`` whatever the mode (read off
    the annotation: a scalar type or a ``Literal`` without None)."""
    if annotation in (str, int, float, bool):
        return True
    return get_origin(annotation) is Literal and None not in get_args(annotation)


@cache
def _plan(model: type[BaseModel]) -> _Plan:
    infos = dict(model.model_fields)
    required = frozenset(n for n, i in infos.items() if i.is_required())
    not_null = frozenset(n for n, i in infos.items() if _not_null(i.annotation))
    defaults = {n: i for n, i in infos.items() if _default(i) is not None}
    return _Plan(_fields_of(model, infos), infos, required, not_null, defaults)


def _default(info: FieldInfo) -> Any:
    """What the SDK's ``construct`` puts in a field that is absent or null."""
    from openai._compat import field_get_default

    return field_get_default(info)


def _fields_of(model: type[BaseModel], infos: dict[str, FieldInfo]) -> type[BaseModel] | None:
    """A model of ``model``'s fields, every one optional (None when absent), with
    ``model``'s config in strict mode; None when the copy could differ from the
    model on a field that validates (validators, aliases) or the SDK's ``construct``
    types extra fields (it keeps them as they came only when untyped)."""
    decorators = model.__pydantic_decorators__
    if (any((decorators.validators, decorators.field_validators, decorators.root_validators,
             decorators.model_validators))
            or any(i.alias not in (None, n) or i.validation_alias is not None
                   for n, i in infos.items())
            or model.model_config.get("extra") != "allow"
            or _typed_extra(model)):
        return None
    config = ConfigDict(**{**model.model_config, "extra": "ignore", "strict": True,
                           "defer_build": False})
    fields: dict[str, Any] = {
        name: (Annotated.__class_getitem__((info.annotation, *info.metadata))  # type: ignore[attr-defined]
               if info.metadata else info.annotation, Field(None))
        for name, info in infos.items()}
    try:
        built: type[BaseModel] = create_model(f"{model.__name__}Fields", __config__=config,
                                              **fields)
    except Exception:  # an annotation pydantic cannot take out of its class
        return None
    return built


def _typed_extra(model: type[BaseModel]) -> bool:
    """Whether ``model`` declares a type for its extra fields (``__pydantic_extra__:
    dict[str, T]``), which the SDK's ``construct`` applies to them (asked of the
    SDK's own helper, the one ``construct`` asks)."""
    from openai._models import _get_extra_fields_type

    return _get_extra_fields_type(model) is not None


def bound_to_fail(model: type[BaseModel], wire: dict[str, Any]) -> bool:
    """Whether ``wire`` cannot validate as ``model`` (read off without validating):
    a required field is missing or a field that refuses null holds one. False
    says nothing."""
    plan = _plan(model)
    if plan.fields is None:
        return False
    if not plan.required <= wire.keys():
        return True
    if None in wire.values():  # rare: then find out whether it is in such a field
        return any(wire.get(name, 0) is None for name in plan.not_null)
    return False


def failed_fields(error: ValidationError) -> set[str]:
    """The top-level fields a validation error names."""
    return {str(e["loc"][0]) for e in error.errors(include_url=False, include_context=False,
                                                  include_input=False) if e["loc"]}


def lenient_model(model: type[BaseModel], wire: dict[str, Any], failed: Iterable[str],
                  keep: Callable[[Any], Any]) -> BaseModel:
    """What ``model.construct(**keep(wire))`` gives (the SDK's lenient builder), for
    an object that did not validate; ``failed`` names fields known to fail (from the
    first validation's error; none needed). ``keep`` is applied to each value kept
    as it came (an extra field, a field the SDK builds leniently): a copy when the
    result must share nothing with ``wire``."""
    plan = _plan(model)
    fields = plan.fields
    if fields is None:
        return construct(model, {k: keep(v) for k, v in wire.items()})
    infos = plan.infos
    bad = set(failed)
    good = {k: v for k, v in wire.items() if v is not None and k in infos and k not in bad}
    for _ in range(_ROUNDS):
        try:
            typed = fields.model_validate(good, strict=True)
            break
        except ValidationError as exc:
            for name in failed_fields(exc):
                good.pop(name, None)
    else:  # a field that validates differently alone: cannot happen without validators
        return construct(model, {k: keep(v) for k, v in wire.items()})
    values = typed.__dict__  # every field: validated, or None (filled below)
    fields_set = set(good)
    extra: dict[str, Any] = {}
    defaults = plan.defaults
    for name, value in wire.items():
        if name in good:
            continue
        info = infos.get(name)
        if info is None:
            extra[name] = keep(value)
            continue
        fields_set.add(name)  # built as ``construct`` builds it: a null is the default
        if value is not None:
            values[name] = _construct(keep(value), info.annotation, tuple(info.metadata),
                                      failed=name in bad)
        elif name in defaults:
            values[name] = _default(info)
    for name, info in defaults.items():
        if name not in fields_set:
            values[name] = _default(info)
    built = _new(model)
    _set(built, "__dict__", values)
    _set(built, "__pydantic_private__", None)
    _set(built, "__pydantic_extra__", extra)
    _set(built, "__pydantic_fields_set__", fields_set)
    return built


def _construct(value: Any, annotation: Any, meta: tuple[Any, ...] = (), *,
               failed: bool = False) -> Any:
    """What the SDK's ``construct_type(value=value, type_=annotation)`` gives, with each
    model in it built by :func:`lenient_model` rather than ``construct``: its parts
    that validate are validated at once (a file search's results, a tool's schema)
    instead of built field by field in Python. The steps are ``construct_type``'s:
    a union is validated (lax) first, else its discriminator picks the class, else
    the first class that builds; a list is built element by element; any other
    type is left to ``construct_type`` itself. ``failed``: the value failed that
    validation already (the field's, in the object's first validation)."""
    from openai._models import BaseModel as SDKModel
    from openai._models import construct_type

    if not meta and get_origin(annotation) is Annotated:
        args = get_args(annotation)
        annotation, meta = args[0], tuple(args[1:])
    origin = get_origin(annotation)
    kind = type(value)
    if kind is dict and isinstance(annotation, type) and issubclass(annotation, SDKModel):
        return lenient_model(annotation, value, (), as_is)
    if kind is list and origin is list:
        args = get_args(annotation)
        return [_construct(item, args[0]) for item in value] if args else value
    if kind is dict and origin in _UNIONS:
        return _union(value, annotation, meta, failed)
    return construct_type(value=clash_free(value), type_=annotation,
                          metadata=list(meta) or None)


def _union(value: dict[str, Any], union: Any, meta: tuple[Any, ...], failed: bool) -> Any:
    """``construct_type``'s steps for an object typed as a union (see :func:`_construct`)."""
    from openai._models import _build_discriminated_union_meta, validate_type

    if not failed:
        try:
            return validate_type(type_=union, value=value)
        except Exception:
            pass
    found = _build_discriminated_union_meta(union=union, meta_annotations=meta)
    if found is not None:
        tag = value.get(found.field_alias_from or found.field_name)
        variant = found.mapping.get(tag) if tag and isinstance(tag, str) else None
        if variant is not None:
            return _construct(value, variant)
    for variant in get_args(union):
        try:
            return _construct(value, variant)
        except Exception:
            continue
    raise RuntimeError(f"Could not convert data into a valid instance of {union}")


def as_is(value: Any) -> Any:
    """The ``keep`` of :func:`lenient_model` for a wire object that is already a copy."""
    return value
