"""The openai SDK's event object for a mutated event (the type fuzz's ``sdk`` mode,
:mod:`runflow.testing.typefuzz`), without letting the SDK's builder blow up.

The SDK builds a stream event with ``construct_type``. On a field typed as a union
(``response.instructions``: a string or a list of input items), it first validates
the whole value against the union with pydantic; when that fails it builds each
element on its own. The failed validation costs about 200 KiB and 1.6 ms per list
element (measured: a 2,000-int list at ``response.instructions`` of a
``response.created`` takes 3.3 s and +426 MiB of RSS, outside ``tracemalloc``; the
fuzz's 10,000-int list took 2.2 GB). That is the SDK's cost, not runflow's, and a
fuzz run cannot afford it.

So a list longer than :data:`PROBE` is built as a *probe*: the event with the list
cut to its first :data:`PROBE` elements. ``construct_type`` maps a list element by
element (and a list that fails validation as a whole fails with more elements too),
so when the SDK kept the probe's elements exactly as given, it keeps every element
of the full list as given: the full list is then put in the probe's place in the
built object. Otherwise the input is refused (counted, not fed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pydantic import BaseModel

from runflow.testing.typefuzz_corpus import replaced
from runflow.testing.typefuzz_target import Event, JSONPath

__all__ = ["PROBE", "Refused", "sdk_built"]

PROBE: Final = 100
"""Lists longer than this are built by the SDK through a probe of this many elements."""


class Refused(Exception):
    """The SDK's builder gave up, or a long list could not be built through a probe."""


def _child(holder: Any, key: str | int) -> tuple[Any, Callable[[Any], None]]:
    """The value at ``key`` of a built object and how to replace it; raises
    :class:`Refused` when the SDK put nothing there."""
    if isinstance(holder, BaseModel):
        fields = holder.__dict__
        extra = holder.__pydantic_extra__ or {}
        where = fields if key in fields else extra if key in extra else None
        if where is None or not isinstance(key, str):
            raise Refused(f"the SDK's object has no {key!r}")
        return where[key], lambda v: where.__setitem__(key, v)
    if isinstance(holder, dict) and key in holder:
        return holder[key], lambda v: holder.__setitem__(key, v)
    if isinstance(holder, list) and isinstance(key, int) and 0 <= key < len(holder):
        return holder[key], lambda v: holder.__setitem__(key, v)
    raise Refused(f"the SDK's object has no {key!r}")


def _same(a: Any, b: list[Any]) -> bool:
    """``a`` is the list ``b``, element by element, with the same types."""
    return (type(a) is list and len(a) == len(b)
            and all(type(x) is type(y) and x == y for x, y in zip(a, b, strict=True)))


def sdk_built(build: Callable[[Event], Any], name: str | None, data: Any, path: JSONPath,
              value: Any) -> Any:
    """The SDK's object for ``data`` with ``value`` at ``path`` (``build`` is the
    target's ``sdk_event``); raises :class:`Refused` (see the module docstring)."""
    if not (isinstance(value, list) and len(value) > PROBE):
        try:
            return build({"event": name, "data": replaced(data, path, value)})
        except Exception as exc:  # the SDK's own builder gave up
            raise Refused(str(exc)[:200]) from exc
    probe = value[:PROBE]
    if {type(x) for x in value} != {type(x) for x in probe}:
        raise Refused("a long list of more kinds of values than its first elements")
    try:
        built = build({"event": name, "data": replaced(data, path, probe)})
    except Exception as exc:  # the SDK's own builder gave up
        raise Refused(str(exc)[:200]) from exc
    if not path:
        if not _same(built, probe):
            raise Refused("the SDK changed the probe list")
        return list(value)
    holder = built
    for key in path[:-1]:
        holder, _ = _child(holder, key)
    current, put = _child(holder, path[-1])
    if not _same(current, probe):
        raise Refused("the SDK changed the probe list")
    put(list(value))
    return built
