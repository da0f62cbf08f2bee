"""The openai SDK's types, built part by part from what the server sent.

A snapshot (:mod:`runflow.protocols.responses.view`) is always the SDK's own
type, and always right on hostile input; this module makes that cheap:

* **An item class per ``type``.** pydantic's smart union tries every variant of an
  SDK union (28 output item classes, 33 input item classes) and, when the value
  fits none, keeps one error per variant per element. :func:`item_tags` (read off
  the SDK's ``ResponseOutputItem`` union once) names the class an item's ``type``
  picks: one validation, and a long wrongly typed list cannot amplify into
  hundreds of MiB of errors. The same holds for every list of such a union whose
  tags pick one class each (``Response.output``, ``Response.tools``): its elements
  are typed by tag, whatever the length.
* **Only the bad part is built leniently.** :func:`typed_model` validates a model
  whole (pydantic-core, in Rust) when it can; a field that fails is built alone --
  a model part by part again (real servers omit fields the SDK's schema requires,
  e.g. ``usage.input_tokens_details.cache_write_tokens``), anything else by the
  SDK's lenient ``construct`` -- so the cost of a bad field stays its own.
* **A part that failed before is built first.** Real servers fail the same
  fields again and again. Each model class remembers the model-typed
  fields that failed in it (at most its own fields; a field whose only fault is a
  missing scalar is filled in instead, below); the next time, those are
  typed alone first and handed to the whole's validation as instances (pydantic
  takes an instance of the field's class as it is), so the whole validates once
  instead of failing and being validated again. Typing a part alone gives the
  same object as typing it inside the whole: the result never depends on what
  was remembered (``tests/test_responses_typed.py`` compares both paths on every
  shared recording).
* **A scalar the SDK requires and real servers omit is filled in, then taken out.**
  When a model failed only because a required ``int``/``str``/``float``/``bool``
  field was missing, at a path through fields that each hold one model
  (``usage.input_tokens_details.cache_write_tokens``, absent from every real
  ``Response``), the class remembers the path. The next time such a field is
  absent, a placeholder of its type is put in a copy of the path's objects, the
  whole validates at once, and the field is taken out of the result again: the
  object the lenient builder makes of the part without it (same values, same set
  fields, the extras left out of them as ``construct`` leaves them), for one
  validation instead of a part typed alone, whatever its values
  (``tests/test_responses_fills.py`` compares it with the reference path).
* **A flat part that failed is built once.** A model of scalars that fails the
  same way in every response (``input_tokens_details`` without
  ``cache_write_tokens``, when typed alone) is remembered by its exact values and
  types, and handed out as a copy: the same object as building it again, for a
  copy's price.

What the SDK's types say (the classes a union's tags name, each class's plan and
what it remembers) is read by :mod:`runflow.protocols.responses.plans`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from runflow.engine.construct import clash_free, construct
from runflow.engine.entities import copy_of
from runflow.protocols.responses.plans import (
    Fill,
    Plan,
    Tags,
    adapter,
    item_tags,
    plan_of,
    tags_of,
)

__all__ = ["Tags", "UnknownItem", "item_model", "item_tags", "tags_of", "typed_by_tag",
           "typed_model"]


class UnknownItem(BaseModel):
    """An output item of a type the openai SDK does not know, as the server sent it."""

    model_config = ConfigDict(extra="allow")

    type: str
    id: Any = None
    """A string from any server that follows the reference; the flow keeps another
    value as it came (the ``item_id_is_a_string`` rule reports it), as the SDK's own
    types keep a field that fails validation (:func:`typed_model`)."""
    status: str | None = None


_plan = plan_of
"""Each model class's plan (:func:`~runflow.protocols.responses.plans.plan_of`), by the
name this module and its tests read it by."""

_FAST_LIST = 16
"""Longest list of a union of models handed to pydantic whole; a longer one is
typed element by element (bounds the errors a wrongly typed list can make)."""


_BUILT_MAX = 64
"""How many flat failed values each class remembers (the first ones: real traffic
repeats a handful)."""
_SCALARS = (str, int, bool, type(None))
"""Value types a remembered flat value may hold (no float: ``-0.0 == 0.0``)."""
_KEPT = (*_SCALARS, float)
"""Field value types of a model built from a flat value that make it safe to
remember (a default list or a nested model would be shared by the copies)."""


def _flat_key(wire: dict[str, Any]) -> tuple[tuple[str, type, Any], ...] | None:
    """The exact items of a value of scalars (type included: ``0`` is not
    ``False``), or None when it holds anything else."""
    key = []
    for name, value in wire.items():
        kind = type(value)
        if kind not in _SCALARS:
            return None
        key.append((name, kind, value))
    return tuple(key)


def _validate(model: type[BaseModel], value: Any) -> Any:
    """``model.model_validate(value)``, without its Python wrapper: the class's own
    validator called directly (the same call, half a microsecond less each time;
    a class whose validator is not built yet builds it on this first use)."""
    return model.__pydantic_validator__.validate_python(value)


def _copy(model: BaseModel) -> Any:
    """A shallow copy: what ``model_copy()`` makes (pydantic's ``__copy__``), without
    the update and deep-copy machinery around it."""
    new = object.__new__(type(model))
    setattr_ = object.__setattr__
    setattr_(new, "__dict__", model.__dict__.copy())
    extra = model.__pydantic_extra__
    setattr_(new, "__pydantic_extra__", None if extra is None else extra.copy())
    setattr_(new, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    private = getattr(model, "__pydantic_private__", None)
    setattr_(new, "__pydantic_private__", None if private is None else dict(private))
    return new


def typed_by_tag(value: Any, tags: Tags) -> Any:
    """One element of a union: the class its ``type`` names, validated, else built
    part by part (:func:`typed_model`); anything else as it came (a copy)."""
    tag = value.get("type") if type(value) is dict else None
    classes = tags.get(tag) if type(tag) is str else None
    if not classes:
        return copy_of(value)
    for cls in classes:
        try:
            return _validate(cls, value)
        except ValidationError:
            continue
    return typed_model(classes[0], value, {})


def item_model(wire: dict[str, Any]) -> BaseModel:
    """An output item as the SDK class its ``type`` names (:class:`UnknownItem` for a
    type the SDK does not know): :func:`typed_by_tag` with the output item tags."""
    tag = wire.get("type")
    classes = item_tags().get(tag) if type(tag) is str else None
    if not classes:
        return _validate(UnknownItem, copy_of(wire))  # type: ignore[no-any-return]
    for cls in classes:
        try:
            return cls.__pydantic_validator__.validate_python(wire)  # type: ignore[no-any-return]
        except ValidationError:
            continue
    return typed_model(classes[0], wire, {})  # type: ignore[no-any-return]


def typed_model(model: type[BaseModel], wire: dict[str, Any], given: dict[str, Any],
                *, learn: bool = True) -> Any:
    """``model`` from ``wire``, with the fields in ``given`` already typed.

    The whole is validated at once when it can be; a list of a union of models is
    typed by tag when its tags pick
    (:attr:`~runflow.protocols.responses.plans.Plan.tagged`) or it is longer than
    :data:`_FAST_LIST`, and a field that fails validation is built alone (see the
    module). ``learn=False`` neither uses nor adds to what the class remembers of
    failed parts (the reference path of the tests)."""
    plan = _plan(model)
    flat = None
    if learn and not given:
        flat = _flat_key(wire)
        if flat is not None:
            seen = plan.built.get(flat)
            if seen is not None:
                return _copy(seen)
    fast = dict(wire)
    for name in given:  # a placeholder, replaced by the typed value at the end
        fast[name] = []
    lists = plan.lists
    long: list[str] = []
    if lists:
        tagged = plan.tagged
        long = [name for name in lists
                if type(value := fast.get(name)) is list and value
                and (name in tagged or len(value) > _FAST_LIST)]
        for name in long:
            fast[name] = []
    spliced: dict[str, Any] = {}
    if learn:
        for name in plan.failed:  # typed alone first: an instance is taken as it is
            value = fast.get(name)
            if type(value) is dict:
                fast[name] = spliced[name] = typed_model(plan.models[name], value, {})
    typed: Any = None
    if learn and plan.fills:
        typed = _filled(model, plan.fills, fast)
    try:
        if typed is None:
            typed = _validate(model, fast)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        bad = {str(e["loc"][0]) for e in errors if e["loc"]}
        if learn:  # a missing scalar is filled in next time, another part typed first
            first = set()
            for e in errors:
                if e["loc"] and not _learn_fill(plan, model, e):
                    first.add(str(e["loc"][0]))
            _remember(plan, first)
        typed = _without(model, fast, bad) if not bad & plan.required else None
        if typed is not None:  # the bad fields are optional: the rest validated at once
            built = _build_fields(plan, {n: wire[n] for n in bad if n in wire}, bad, given, long)
            typed.__dict__.update(built)
            typed.__pydantic_fields_set__.update(built)
        else:
            values = _build_fields(plan, wire, bad, {**given, **spliced}, long)
            values.update(spliced)
            values.update({name: [] for name in given})  # set (``exclude_unset`` keeps
            # them), filled below
            values.update({name: [] for name in long})
            typed = construct(model, values, pydantic=True)
        if (flat is not None and len(plan.built) < _BUILT_MAX
                and all(type(v) in _KEPT for v in typed.__dict__.values())
                and not typed.__pydantic_extra__):
            # all of it immutable: a shallow copy shares nothing that can change
            plan.built[flat] = _copy(typed)  # never handed out: only copies of it
    for name in long:
        typed.__dict__[name] = [typed_by_tag(v, lists[name]) for v in wire[name]]
    typed.__dict__.update(given)
    return typed


_FILLS_MAX = 16
"""How many missing-field paths each class remembers."""
_ABSENT = object()
_PLACEHOLDERS: dict[Any, Any] = {int: 0, str: "", float: 0.0, bool: False}


def _learn_fill(plan: Plan, model: type[BaseModel], error: Any) -> bool:
    """Whether ``error`` (of validating ``model``) is a missing scalar that can be
    filled in (:attr:`~runflow.protocols.responses.plans.Plan.fills`, to which its
    path is added): a required field of a plain scalar type without constraints or
    alias, at a path through fields that each hold one model."""
    loc = error["loc"]
    if error["type"] != "missing" or not loc or not all(type(step) is str for step in loc):
        return False
    cls = model
    classes = [model]
    for step in loc[:-1]:
        info = cls.model_fields.get(step)
        inner = _plan(cls).models.get(step)
        if info is None or inner is None or info.alias is not None:
            return False
        cls = inner
        classes.append(cls)
    info = cls.model_fields.get(loc[-1])
    if (info is None or not info.is_required() or info.alias is not None or info.metadata
            or info.annotation not in _PLACEHOLDERS):
        return False
    path = tuple(loc)
    if all(path != known.path for known in plan.fills) and len(plan.fills) < _FILLS_MAX:
        plan.fills = (*plan.fills, Fill(path, tuple(classes), _PLACEHOLDERS[info.annotation]))
    return True


def _filled(model: type[BaseModel], fills: tuple[Fill, ...], fast: dict[str, Any]) -> Any:
    """``model`` validated from ``fast`` with the remembered missing fields filled in
    and taken out of the result again; None if none is missing or it fails anyway
    (``fast`` is left as it was)."""
    filled: list[Fill] = []
    before: dict[str, Any] = {}  # the top-level values replaced (_ABSENT: added)
    for fill in fills:
        path = fill.path
        inner: Any = fast
        for step in path[:-1]:
            inner = inner.get(step)
            if type(inner) is not dict:
                break
        else:
            if path[-1] in inner:
                continue
            top = path[0]
            if top not in before:
                before[top] = fast.get(top, _ABSENT)
            target = fast
            for step in path[:-1]:  # a copy of each object on the way: the wire is
                copied = dict(target[step])  # never written to
                target[step] = copied
                target = copied
            target[path[-1]] = fill.placeholder
            filled.append(fill)
    if not filled:
        return None
    try:
        typed = _validate(model, fast)
    except ValidationError:
        typed = None
    for top, value in before.items():
        if value is _ABSENT:
            del fast[top]
        else:
            fast[top] = value
    if typed is None:
        return None
    parts = []
    for fill in filled:
        part = typed
        for step, cls in zip(fill.path[:-1], fill.classes[1:], strict=True):
            part = part.__dict__.get(step)
            if type(part) is not cls:  # not the model the path names: built the usual way
                return None
        name = fill.path[-1]
        if name not in part.__dict__:
            return None
        parts.append((part, name))
    for part, name in parts:  # as the lenient builder makes the part that misses it:
        del part.__dict__[name]  # constructed, so its set fields leave its extras out
        fields_set = part.__pydantic_fields_set__  # (validation counts them)
        fields_set.discard(name)
        extra = part.__pydantic_extra__
        if extra:
            fields_set.difference_update(extra)
    return typed


def _remember(plan: Plan, bad: set[str]) -> None:
    """Add the model-typed fields among ``bad`` to what ``plan`` types first."""
    new = [name for name in sorted(bad) if name in plan.models and name not in plan.failed]
    if new:
        plan.failed = (*plan.failed, *new)


def _without(model: type[BaseModel], fast: dict[str, Any], bad: set[str]) -> Any:
    """``model`` validated without its ``bad`` fields, or None if that fails too."""
    try:
        return _validate(model, {k: v for k, v in fast.items() if k not in bad})
    except ValidationError:
        return None


def _build_fields(plan: Plan, wire: dict[str, Any], bad: set[str], given: dict[str, Any],
                  long: list[str]) -> dict[str, Any]:
    """Each field of ``wire`` typed alone: validated, or built part by part if bad."""
    values: dict[str, Any] = {}
    lists = plan.lists
    for name, value in wire.items():
        if name in given or name in long:
            continue
        annotation = plan.types.get(name)
        if annotation is None:
            values[name] = copy_of(value)  # an extra field, as it came
        elif name not in bad:
            values[name] = adapter(plan, name).validate_python(value)
        elif name in lists and type(value) is list:
            values[name] = [typed_by_tag(v, lists[name]) for v in value]
        elif name in plan.models and type(value) is dict:
            values[name] = typed_model(plan.models[name], value, {})
        else:
            from openai._models import construct_type

            values[name] = construct_type(value=clash_free(copy_of(value)), type_=annotation)
    return values
