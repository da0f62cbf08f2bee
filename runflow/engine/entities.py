"""Per-entity trackers: the state the machines move, and the snapshot behind it.

A tracker is a small plain object (``__slots__``) that the shared ``transitions``
machines drive through its ``state`` attribute. It keeps the last full object the
server sent (``raw``, as received, never copied) and, for entities that deltas
grow, the accumulator the definition names (:mod:`runflow.engine.accumulator`). The
SDK's pydantic type is built from both only when asked for, then cached until the
next change.
"""

from __future__ import annotations

import copy
from enum import Enum
from typing import Any, Final, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from runflow.engine.accumulator import JSON, Accumulator
from runflow.engine.definition import UNSEEN, EntityTable
from runflow.engine.lenient import as_is, bound_to_fail, failed_fields, lenient_model
from runflow.engine.violations import EntityRef

__all__ = ["UNKNOWN_BUDGET", "Tracker", "copy_model", "copy_of", "merge_server_object"]


class _Unknown(Enum):
    BUDGET = "not looked up yet"


UNKNOWN_BUDGET: Final = _Unknown.BUDGET
""":attr:`Tracker.budget` before the first delta looked it up."""


class Tracker:
    """One entity of a flow: its state, its last full object and its deltas."""

    __slots__ = (
        "_ref",
        "acc",
        "budget",
        "deltas",
        "entity",
        "id",
        "label",
        "memo",
        "owner",
        "raw",
        "recovered",
        "size",
        "slot",
        "state",
        "status_override",
        "table",
        "typed",
    )

    def __init__(self, table: EntityTable, id_: str) -> None:
        self.entity = table.entity
        self.id = id_
        self.label = f"{table.entity} {id_}"
        """How messages name this entity, e.g. ``"message msg_abc"``."""
        self._ref: EntityRef | None = None  # made when first needed: see ref
        self.table = table
        self.state = UNSEEN
        self.raw: JSON = {}
        self.acc: Accumulator | None = table.accumulator() if table.accumulator else None
        self.deltas = 0  # delta events merged
        self.size = 0  # characters grown by deltas
        self.status_override: str | None = None  # event name disagreed with payload
        self.recovered = False  # last object came from REST reconciliation
        self.typed: BaseModel | None = None  # cached snapshot
        self.memo: dict[str, tuple[Any, Any]] | None = None
        """What a rule derived from a part of ``raw``, by the rule's name: ``(the part
        it was derived from, the value)``. A rule uses it only while that part is
        still the very object in ``raw`` (``is``), so replacing ``raw`` needs no reset,
        or keeps it current itself (a root's memo of its children's objects); an event
        undone half-way drops the root's memo (:mod:`runflow.engine.journal`); it is
        not saved in checkpoints (a loaded flow derives it again)."""
        self.slot: str | None = None
        """Where a positioned entity sits (``"output/2"``); None: found by id."""
        self.owner: str | None = None
        """A positioned entity's item: the id at its first position (itself for an item)."""
        self.budget: Tracker | Literal[_Unknown.BUDGET] | None = UNKNOWN_BUDGET
        """The entity whose limit this one's deltas count against, once a delta looked
        it up (:meth:`runflow.engine.deltas.Deltas._budget`): a part's item; None for
        itself (no reference to itself, so that a tracker is no reference cycle)."""

    @property
    def ref(self) -> EntityRef:
        """How violations name this entity (made when first needed: most entities
        of a clean stream are never named, and a pydantic model costs its __init__)."""
        ref = self._ref
        if ref is None:
            ref = self._ref = EntityRef(kind=self.entity, id=self.id)
        return ref

    @property
    def model(self) -> type[BaseModel] | None:
        """The SDK type snapshots are built as: imported on the first snapshot, so
        that checking a stream, which builds none, imports no SDK type."""
        return self.table.snapshot_model

    def wire(self, status_field: str | None = "status") -> JSON:
        """The snapshot as a JSON-shaped dict, in the API's own layout."""
        acc = self.acc
        out = acc.wire(self.raw) if acc is not None else dict(self.raw)
        if self.status_override is not None and status_field is not None:
            out[status_field] = self.status_override
        return out

    def snapshot(self) -> BaseModel:
        """The SDK's pydantic object for this entity (cached until the next change)."""
        typed = self.typed
        if typed is None:
            typed = self.typed = self._build(self.wire(), copied=False)
        return typed

    def detached_snapshot(self) -> BaseModel:
        """:meth:`snapshot` as an object that shares nothing with the flow down to the
        leaves (what an enter callback receives), not cached: the cached snapshot
        copied when there is one, else one built from a copy of the wire object (a
        JSON copy costs a fraction of copying the typed object it would become)."""
        typed = self.typed
        if typed is not None:
            return copy_model(typed)
        return self._build(copy_of(self.wire()), copied=True)

    def _build(self, wire: JSON, copied: bool) -> BaseModel:
        model = self.model
        if model is None:
            raise TypeError(f"the definition gives {self.entity} no snapshot type")
        # An object that does not conform is what the SDK's lenient builder
        # (``construct``, what it uses for API responses) makes of it: real servers
        # omit fields the schema requires, e.g. a null ``instructions``, and that
        # must not lose the snapshot. lenient_model gives the same object for a
        # fraction of the cost, from a copy, so that it shares nothing with raw.
        if bound_to_fail(model, wire):  # skip the validation sure to fail
            return lenient_model(model, wire if copied else copy_of(wire), (), as_is)
        try:
            # pydantic's validator runs in Rust: several times faster than
            # the SDK's lenient Python builder, for objects that conform.
            return model.model_validate(wire)
        except ValidationError as exc:
            return lenient_model(model, wire if copied else copy_of(wire), failed_fields(exc),
                                 as_is)


def merge_server_object(tracker: Tracker, obj: JSON) -> None:
    """Make a full object from the server the snapshot.

    The server's object replaces the snapshot's fields, except fields the server
    omitted that the deltas established (the accumulator decides: a content part
    or tool call beyond the end of the server's list, a value left null or empty).
    """
    tracker.raw = obj
    tracker.typed = None
    tracker.status_override = None
    if tracker.acc is not None:
        tracker.acc.absorb(obj)


def copy_of(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars)."""
    if type(value) is dict:
        return {k: copy_of(v) for k, v in value.items()}
    if type(value) is list:
        return [copy_of(v) for v in value]
    return value


_IMMUTABLE: Final = frozenset({str, int, float, bool, type(None)})
_new = object.__new__
_set = object.__setattr__


def copy_model(model: BaseModel) -> BaseModel:
    """What ``model.model_copy(deep=True)`` gives, walked by hand: a snapshot's
    leaves are JSON values and nested SDK models, which this copies in about a third
    of the time ``copy.deepcopy`` takes (no memo, no ``__reduce__``). Any other leaf
    goes through ``copy.deepcopy``. Mirrors pydantic's ``BaseModel.__deepcopy__``."""
    copied = _new(type(model))
    _set(copied, "__dict__", {k: _deep(v) for k, v in model.__dict__.items()})
    extra = model.__pydantic_extra__
    _set(copied, "__pydantic_extra__",
         None if extra is None else {k: _deep(v) for k, v in extra.items()})
    _set(copied, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    private = getattr(model, "__pydantic_private__", None)
    if private is not None:
        private = copy.deepcopy({k: v for k, v in private.items() if v is not PydanticUndefined})
    _set(copied, "__pydantic_private__", private)
    return copied


def _deep(value: Any) -> Any:
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        return {k: _deep(v) for k, v in value.items()}
    if kind is list:
        return [_deep(v) for v in value]
    if isinstance(value, BaseModel):
        return copy_model(value)
    return copy.deepcopy(value)
