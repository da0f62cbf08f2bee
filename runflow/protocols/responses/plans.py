"""How :mod:`runflow.protocols.responses.typed` reads the openai SDK's types: the
classes each ``type`` tag of a union names (:func:`tags_of`, :func:`item_tags`), and
a plan per model class (:func:`plan_of`) -- each field's type, the fields holding a
list of a union of models and whether their tags pick the class, the fields holding
one model, the required ones -- with what the class remembers of the parts that
failed before (:class:`Plan`; ``typed`` adds to it). Read once per class, on first
use.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter

__all__ = ["UNIONS", "Fill", "Plan", "Tags", "adapter", "arms", "item_tags", "list_of_models",
           "models_of", "plan_of", "tags_of", "tags_pick"]


Tags = Mapping[str, tuple[type[BaseModel], ...]]

UNIONS: tuple[Any, ...] = (Union, types.UnionType)
"""What ``get_origin`` gives for a union: ``Optional[X]``/``Union[X, Y]``, and
``X | None`` (``types.UnionType``), the spelling of any model written with the
operator (the SDK's own spell ``Optional`` today; a field of either is built alike)."""


def arms(annotation: Any) -> tuple[Any, ...]:
    """The members of a union, either spelling; any other type alone."""
    return get_args(annotation) if get_origin(annotation) in UNIONS else (annotation,)


def models_of(annotation: Any) -> list[type[BaseModel]]:
    """The model classes a union (possibly ``Annotated``) names."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in UNIONS:
        return [m for a in get_args(annotation) for m in models_of(a)]
    return []


def tags_of(union: Any) -> Tags:
    """``type`` tag -> the classes of ``union`` that carry it, in the union's order."""
    out: dict[str, tuple[type[BaseModel], ...]] = {}
    for model in models_of(union):
        found = model.model_fields.get("type")
        annotation = found.annotation if found is not None else None
        literals = [a for a in arms(annotation) if get_origin(a) is Literal]
        for literal in literals:
            for tag in get_args(literal):
                if isinstance(tag, str):
                    out[tag] = (*out.get(tag, ()), model)
    return out


@cache
def item_tags() -> Tags:
    """The output item classes by ``type``, read off the SDK's union once, on first
    use (the SDK loads when a typed object is first built, not to check a stream)."""
    from openai.types.responses import ResponseOutputItem

    return tags_of(ResponseOutputItem)


def list_of_models(annotation: Any) -> tuple[Tags, bool] | None:
    """The tags of a field that holds a list of a union of models (through
    ``Optional`` or a union with a scalar), and whether its tags pick (see
    :attr:`Plan.tagged`); None for any other field."""
    for arm in arms(annotation):
        if get_origin(arm) is list:
            models = models_of(get_args(arm)[0])
            if len(models) > 1:
                tags = tags_of(get_args(arm)[0])
                return tags, tags_pick(models, tags)
    return None


def tags_pick(models: list[type[BaseModel]], tags: Tags) -> bool:
    """Whether a union's ``type`` alone picks the class pydantic's smart union would:
    every class requires its ``type`` (none takes an element without one) and each
    tag names one class (a literal no other class accepts)."""
    required = all((found := m.model_fields.get("type")) is not None and found.is_required()
                   for m in models)
    named = {cls for classes in tags.values() for cls in classes}
    return required and named == set(models) and all(len(c) == 1 for c in tags.values())


@dataclass(frozen=True)
class Fill:
    """A required scalar field that real servers omit, below a model class."""

    path: tuple[str, ...]
    """The field's path through fields that each hold one model."""
    classes: tuple[type[BaseModel], ...]
    """The model class at each step of the path, the top one first."""
    placeholder: Any
    """A value the field's type validates (taken out of the result again)."""


@dataclass
class Plan:
    """How :func:`~runflow.protocols.responses.typed.typed_model` builds one model
    class, field by field."""

    types: dict[str, Any]
    """Each field's type (as pydantic validates it)."""
    lists: dict[str, Tags]
    """Fields holding a list of a union of models: their tags."""
    tagged: frozenset[str]
    """Those of :attr:`lists` whose elements are always typed by tag, whatever the
    length: the tag names the one class the smart union could pick (an element of
    another tag fails every class), for one validation instead of one try per class
    (a function tool in ``Response.tools``: 16 tries, 13 µs, against 1.5 µs)."""
    models: dict[str, type[BaseModel]]
    """Fields holding one model (or None): built part by part when they fail."""
    required: frozenset[str]
    """Fields without a default: the model cannot be validated without them."""
    adapters: dict[str, TypeAdapter[Any]] = field(default_factory=dict)
    failed: tuple[str, ...] = ()
    """Fields of :attr:`models` that failed validation in this class before: typed
    alone first from now on (replaced whole, never edited: safe to read while
    another thread adds to it)."""
    built: dict[tuple[tuple[str, type, Any], ...], BaseModel] = field(default_factory=dict)
    """Flat values (scalars only) that failed validation, by their exact items, and
    the model built leniently from each: never handed out, only copies of it."""
    fills: tuple[Fill, ...] = ()
    """Required scalar fields found missing before (see
    :mod:`~runflow.protocols.responses.typed`; replaced whole, never edited)."""


@cache
def plan_of(model: type[BaseModel]) -> Plan:
    """``model``'s plan, read off its fields once (what it remembers then grows)."""
    plan = Plan({}, {}, frozenset(), {}, frozenset(n for n, i in model.model_fields.items()
                                                   if i.is_required()))
    tagged: set[str] = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        plan.types[name] = (Annotated.__class_getitem__((annotation, *info.metadata))  # type: ignore[attr-defined]
                            if info.metadata else annotation)
        found = list_of_models(annotation)
        if found is not None:
            plan.lists[name] = found[0]
            if found[1]:
                tagged.add(name)
        members = [a for a in arms(annotation) if a is not type(None)]
        if (len(members) == 1 and isinstance(members[0], type)
                and issubclass(members[0], BaseModel)):
            plan.models[name] = members[0]
    plan.tagged = frozenset(tagged)
    return plan


def adapter(plan: Plan, name: str) -> TypeAdapter[Any]:
    """The validator of one field alone (built on first use, kept in the plan)."""
    found = plan.adapters.get(name)
    if found is None:
        found = plan.adapters[name] = TypeAdapter(plan.types[name])
    return found
