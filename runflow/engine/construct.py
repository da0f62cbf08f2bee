"""Building a model from wire keys without letting a key be taken for an argument.

pydantic's ``model_construct(cls, _fields_set=None, **values)`` and the openai SDK's
``construct(_BaseModel__cls, _fields_set=None, **values)`` take the object's fields
as keyword arguments, so a server that sends a key named ``_fields_set``, ``cls`` or
``_BaseModel__cls`` (remote input may hold any key) makes them raise ``TypeError`` or
``AttributeError``. Only objects that failed validation are constructed, so this
costs nothing on the common path. At the top level such a key is kept as an extra
field, as validation keeps it; inside a value the SDK's ``construct_type`` builds,
it is left out of that lenient snapshot (the flow's wire object keeps it).
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

__all__ = ["ARGUMENT_NAMES", "clash_free", "construct"]

ARGUMENT_NAMES: Final = frozenset(("_fields_set", "cls", "_BaseModel__cls"))
"""The parameter names of ``model_construct`` and the SDK's ``construct``."""

M = TypeVar("M")


def construct(model: type[M], values: dict[str, Any], *, pydantic: bool = False) -> M:
    """``model.construct(**values)`` (``pydantic``: ``BaseModel.model_construct``,
    without the SDK's own construct), keeping a key that names one of their
    parameters as an extra field."""
    clashes = {k: values[k] for k in ARGUMENT_NAMES.intersection(values)}
    if clashes:
        values = {k: v for k, v in values.items() if k not in clashes}
    if pydantic:
        from pydantic import BaseModel

        built: Any = BaseModel.model_construct.__func__(model, None, **values)  # type: ignore[attr-defined]
    else:
        built = model.construct(**values)  # type: ignore[attr-defined]
    if clashes:
        extra = built.__pydantic_extra__
        if extra is None:
            extra = built.__pydantic_extra__ = {}
        extra.update(clashes)
    return built  # type: ignore[no-any-return]


def clash_free(value: Any) -> Any:
    """``value`` with every object key that names a construct parameter left out, at
    any depth; ``value`` itself when no object in it holds such a key (the common
    case costs one read-only walk, no copy)."""
    return _without_clashes(value) if _clashes(value) else value


def _clashes(value: Any) -> bool:
    if type(value) is dict:
        return not ARGUMENT_NAMES.isdisjoint(value) or any(map(_clashes, value.values()))
    if type(value) is list:
        return any(map(_clashes, value))
    return False


def _without_clashes(value: Any) -> Any:
    if type(value) is dict:
        return {k: _without_clashes(v) for k, v in value.items() if k not in ARGUMENT_NAMES}
    if type(value) is list:
        return [_without_clashes(v) for v in value]
    return value
