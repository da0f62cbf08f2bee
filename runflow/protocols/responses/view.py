"""The Responses read API: the response, its output items, their values.

Snapshots are the openai SDK's own types: :attr:`ResponseView.response` is a
``Response`` whose ``output`` is rebuilt from the streamed items in
``output_index`` order (an item still streaming shows the text and arguments its
deltas built so far), :attr:`ResponseView.output` its items. They are built on
access, in time linear in what arrived, and cached until the next event; treat
them as read-only. Built on the engine's read interface
(:attr:`runflow.engine.view.FlowView.state`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin

from openai._models import construct_type
from openai.types.responses import Response, ResponseFunctionToolCall, ResponseOutputItem
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from runflow.engine.entities import Tracker, copy_of
from runflow.engine.view import FlowView
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.values import StreamedText

__all__ = ["ResponseView", "UnknownItem", "slot_indices"]


class UnknownItem(BaseModel):
    """An output item of a type the openai SDK does not know, as the server sent it."""

    model_config = ConfigDict(extra="allow")

    type: str
    id: str | None = None
    status: str | None = None


_ITEM_TERMINAL = RESPONSES.tables["message"].terminal
_PART_GROUPS = (("content", "content"), ("summary", "summary"))


# --------------------------------------------------------------------------- #
# the SDK's types, built part by part
# --------------------------------------------------------------------------- #
# pydantic's smart union tries every variant of an SDK union (28 output item
# classes, 33 input item classes) and, when the value fits none, keeps one error
# per variant per element: picking the class by ``type`` costs one validation, and
# a long wrongly typed list cannot amplify into hundreds of MiB of errors.

Tags = Mapping[str, tuple[type[BaseModel], ...]]

_FAST_LIST = 16
"""Longest list of a union of models handed to pydantic whole; a longer one is
typed element by element (bounds the errors a wrongly typed list can make)."""


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """The model classes a union (possibly ``Annotated``) names."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) is Union:
        return [m for a in get_args(annotation) for m in _models_of(a)]
    return []


def _tags(models: list[type[BaseModel]]) -> Tags:
    """``type`` tag -> the classes that carry it, in the union's order."""
    out: dict[str, tuple[type[BaseModel], ...]] = {}
    for model in models:
        field = model.model_fields.get("type")
        annotation = field.annotation if field is not None else None
        arms = get_args(annotation) if get_origin(annotation) is Union else (annotation,)
        literals = [a for a in arms if get_origin(a) is Literal]
        for literal in literals:
            for tag in get_args(literal):
                if isinstance(tag, str):
                    out[tag] = (*out.get(tag, ()), model)
    return out


def _list_of_models(annotation: Any) -> Tags | None:
    """The tags of a field that holds a list of a union of models (through
    ``Optional`` or a union with a scalar), None for any other field."""
    for arm in (get_args(annotation) if get_origin(annotation) is Union else (annotation,)):
        if get_origin(arm) is list:
            models = _models_of(get_args(arm)[0])
            if len(models) > 1:
                return _tags(models)
    return None


@dataclass(frozen=True)
class _Plan:
    """How :func:`typed_model` builds one model class, field by field."""

    types: dict[str, Any]
    """Each field's type (as pydantic validates it)."""
    lists: dict[str, Tags]
    """Fields holding a list of a union of models: their tags."""
    models: dict[str, type[BaseModel]]
    """Fields holding one model (or None): built part by part when they fail."""
    adapters: dict[str, TypeAdapter[Any]] = field(default_factory=dict)


@cache
def _plan(model: type[BaseModel]) -> _Plan:
    plan = _Plan({}, {}, {})
    for name, info in model.model_fields.items():
        annotation = info.annotation
        plan.types[name] = (Annotated.__class_getitem__((annotation, *info.metadata))  # type: ignore[attr-defined]
                            if info.metadata else annotation)
        tags = _list_of_models(annotation)
        if tags is not None:
            plan.lists[name] = tags
        arms = [a for a in (get_args(annotation) if get_origin(annotation) is Union
                            else (annotation,)) if a is not type(None)]
        if len(arms) == 1 and isinstance(arms[0], type) and issubclass(arms[0], BaseModel):
            plan.models[name] = arms[0]
    return plan


def _adapter(plan: _Plan, name: str) -> TypeAdapter[Any]:
    """The validator of one field alone (built on first use, kept in the plan)."""
    adapter = plan.adapters.get(name)
    if adapter is None:
        adapter = plan.adapters[name] = TypeAdapter(plan.types[name])
    return adapter


def typed_by_tag(value: Any, tags: Tags) -> Any:
    """One element of a union: the class its ``type`` names, validated, else built
    leniently by the SDK's ``construct``; anything else as it came (a copy)."""
    tag = value.get("type") if type(value) is dict else None
    classes = tags.get(tag) if type(tag) is str else None
    if not classes:
        return copy_of(value)
    for cls in classes:
        try:
            return cls.model_validate(value)
        except ValidationError:
            continue
    return typed_model(classes[0], value, {})


def typed_model(model: type[BaseModel], wire: dict[str, Any], given: dict[str, Any]) -> Any:
    """``model`` from ``wire``, with the fields in ``given`` already typed.

    The whole is validated at once (pydantic-core, in Rust) when it can be; a list
    of a union of models longer than :data:`_FAST_LIST` is typed by tag, and a field
    that fails validation is built alone: a model part by part again (real servers
    omit fields the SDK's schema requires, e.g. ``usage.input_tokens_details``),
    anything else by the SDK's lenient ``construct``. A snapshot is always the SDK's
    type, and the cost of a bad field stays its own."""
    plan = _plan(model)
    lists = plan.lists
    placeholders: dict[str, Any] = {name: [] for name in given}
    fast = {**wire, **placeholders}
    long = [name for name in lists
            if type(fast.get(name)) is list and len(fast[name]) > _FAST_LIST]
    for name in long:
        fast[name] = []
    try:
        typed = model.model_validate(fast)
    except ValidationError as exc:
        bad = {str(e["loc"][0]) for e in exc.errors(include_url=False, include_context=False,
                                                   include_input=False) if e["loc"]}
        typed = _without(model, fast, bad)
        if typed is not None:  # the bad fields are optional: the rest validated at once
            built = _build_fields(plan, {n: wire[n] for n in bad if n in wire}, bad, given, long)
            typed.__dict__.update(built)
            typed.__pydantic_fields_set__.update(built)
        else:
            values = _build_fields(plan, wire, bad, given, long)
            values.update(placeholders)  # set (``exclude_unset`` keeps them), filled below
            values.update({name: [] for name in long})
            typed = BaseModel.model_construct.__func__(model, None, **values)  # type: ignore[attr-defined]
    for name in long:
        typed.__dict__[name] = [typed_by_tag(v, lists[name]) for v in wire[name]]
    typed.__dict__.update(given)
    return typed


def _without(model: type[BaseModel], fast: dict[str, Any], bad: set[str]) -> Any:
    """``model`` validated without its ``bad`` fields, or None if that fails too (a
    required field among them)."""
    try:
        return model.model_validate({k: v for k, v in fast.items() if k not in bad})
    except ValidationError:
        return None


def _build_fields(plan: _Plan, wire: dict[str, Any], bad: set[str], given: dict[str, Any],
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
            values[name] = _adapter(plan, name).validate_python(value)
        elif name in lists and type(value) is list:
            values[name] = [typed_by_tag(v, lists[name]) for v in value]
        elif name in plan.models and type(value) is dict:
            values[name] = typed_model(plan.models[name], value, {})
        else:
            values[name] = construct_type(value=copy_of(value), type_=annotation)
    return values


_ITEM_TAGS = _tags(_models_of(ResponseOutputItem))


def slot_indices(slot: str) -> list[int]:
    """The indices of a positioned entity's slot: ``"content/2/0"`` -> ``[2, 0]``."""
    return [int(i) for i in slot.split("/")[1:]]


def _text(tracker: Tracker) -> str:
    return cast(StreamedText, tracker.acc).text


class ResponseView(FlowView):
    """The Responses read API: the response, its output items, their values."""

    _cache: tuple[int, Response] | None = None

    def _tracker_at(self, key: str) -> Tracker | None:
        state = self.state
        found = state.slots.get(key)
        return state.children[found[0]].get(found[1]) if found is not None else None

    def _items(self) -> Iterator[Tracker]:
        i = 0
        while (item := self._tracker_at(f"output/{i}")) is not None:
            yield item
            i += 1

    def _parts(self, group: str, index: int) -> Iterator[Tracker]:
        j = 0
        while (part := self._tracker_at(f"{group}/{index}/{j}")) is not None:
            yield part
            j += 1

    def _item_wire(self, item: Tracker) -> dict[str, Any]:
        """An item as the API lays it out: its last object, with what its deltas and
        parts built while it streams (the server's final object once it is done)."""
        out = item.wire()
        if item.state in _ITEM_TERMINAL:
            return out
        index = slot_indices(item.slot or "output/0")[0]
        for group, key in _PART_GROUPS:
            parts = [p.wire(None) for p in self._parts(group, index)]
            if parts:
                out[key] = parts
        commands = [_text(c) for c in self._parts("command", index)]
        if commands:
            action = dict(out.get("action") or {})
            action["commands"] = commands
            out["action"] = action
        return out

    def _item_model(self, wire: dict[str, Any]) -> BaseModel:
        tag = wire.get("type")
        if type(tag) is not str or tag not in _ITEM_TAGS:
            return UnknownItem.model_validate(copy_of(wire))
        # the class the item's type names, validated; else the SDK's own lenient
        # builder, as for API responses that omit fields
        return cast(BaseModel, typed_by_tag(wire, _ITEM_TAGS))

    @property
    def response(self) -> Response | None:
        """The response, rebuilt: the server's last Response object with ``output``
        made of the streamed items in order (None before any response event)."""
        root = self.state.root
        if root is None:
            return None
        stamp = self.state.index
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        typed = self._build_response(root)
        self._cache = (stamp, typed)
        return typed

    def _build_response(self, root: Tracker) -> Response:
        output = [self._item_model(self._item_wire(item)) for item in self._items()]
        return cast(Response, typed_model(Response, root.wire(), {"output": output}))

    @property
    def output(self) -> list[BaseModel]:
        """The output items, in ``output_index`` order, as the SDK's item types."""
        return [self._item_model(self._item_wire(item)) for item in self._items()]

    def item(self, item_id: str) -> BaseModel:
        """One output item by id; ``KeyError`` if the flow never saw it."""
        for item in self._items():
            if item.id == item_id or item.owner == item_id:
                return self._item_model(self._item_wire(item))
        raise KeyError(f"no output item {item_id!r} in this flow")

    def item_state(self, item_id: str) -> str:
        """An item's state by id (``"unseen"`` if the flow never saw it)."""
        for item in self._items():
            if item.id == item_id:
                return item.state
        return "unseen"

    @property
    def item_states(self) -> list[tuple[str, str, str]]:
        """``(kind, id, state)`` of every item, in ``output_index`` order."""
        return [(item.entity, item.id, item.state) for item in self._items()]

    @property
    def status(self) -> str:
        """The response's state (``"unseen"`` before its first event)."""
        return self.root_state

    @property
    def response_id(self) -> str | None:
        return self.state.root_id

    @property
    def text(self) -> str:
        """The output text so far: each message's output_text parts joined, messages
        separated by a blank line."""
        out = []
        for item in self._items():
            if item.entity != "message":
                continue
            index = slot_indices(item.slot or "output/0")[0]
            text = "".join(_text(p) for p in self._parts("content", index)
                           if p.entity == "output_text")
            if text:
                out.append(text)
        return "\n\n".join(out)

    @property
    def function_calls(self) -> list[ResponseFunctionToolCall]:
        """The function calls the response asked for, once each is completed (what a
        caller answers with ``function_call_output`` items)."""
        calls = []
        for item in self._items():
            if item.entity == "function_call" and item.state == "completed":
                model = self._item_model(self._item_wire(item))
                if isinstance(model, ResponseFunctionToolCall):
                    calls.append(model)
        return calls

    @property
    def replayed(self) -> int:
        """Events dropped because their sequence number was not past the last one
        (a resumed stream replaying what the flow already had)."""
        return self.state.replayed

    @property
    def sequence_number(self) -> int | None:
        """The last sequence number accepted: the cursor to resume after
        (``starting_after``)."""
        return self.state.sequence
