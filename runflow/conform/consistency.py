"""Consistency: the objects a stream ended with against what REST answers afterwards.

The stream's final object of an entity is the last full object an event carried
(``thread.run.completed``, ``thread.message.completed``, ``response.completed``),
as the server sent it: what a client that reconciles over REST must find there
again. Fields both sides carry must be equal; REST may add fields the stream does
not send. A key one side sends as ``null`` and the other omits is equal: every
client reads both as ``None`` (the SDK's fields are Optional). An entity REST lists
that the stream never showed, or the other way round, is a finding too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from runflow.conform.events import TappedEvent, carried
from runflow.conform.findings import Finding
from runflow.engine.accumulator import shorten
from runflow.engine.definition import Protocol
from runflow.engine.limits import Limits

__all__ = ["FinalObjects", "compare", "compare_lists", "compare_one", "final_objects"]


class FinalObjects:
    """The consistency layer's side of a stream, fed one event at a time: kind -> id
    -> the last full object an event carried (:attr:`objects`). It keeps one object
    per entity, as the flow does; entities past ``Limits.max_entities`` (plus the
    root) are not kept, as the flow refuses them."""

    __slots__ = ("_limit", "_protocol", "count", "objects")

    def __init__(self, protocol: Protocol, limits: Limits | None = None) -> None:
        self._protocol = protocol
        self._limit = (limits or Limits()).max_entities + 1
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.count = 0

    def see(self, event: TappedEvent) -> None:
        found = carried(self._protocol, event)
        if found is None or not isinstance(found.obj.get("id"), str):
            return
        of_kind = self.objects.setdefault(found.kind, {})
        oid = found.obj["id"]
        if oid not in of_kind:
            if self.count >= self._limit:
                return
            self.count += 1
        of_kind[oid] = found.obj


def final_objects(protocol: Protocol, events: Iterable[TappedEvent]
                  ) -> dict[str, dict[str, dict[str, Any]]]:
    """Kind -> id -> the last full object the stream carried (:class:`FinalObjects`
    over ``events``)."""
    layer = FinalObjects(protocol)
    for event in events:
        layer.see(event)
    return layer.objects


def compare(ours: Any, theirs: Any, path: str = "") -> Iterator[str]:
    """The paths where ``theirs`` (REST) differs from ``ours`` (the stream): every key
    ``ours`` has (REST may add keys, not drop them; a null it leaves out is no
    difference)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key, value in ours.items():
            where = f"{path}.{key}" if path else key
            if key not in theirs:
                if value is not None:  # null and absent are both None to every client
                    yield f"{where}: stream {shorten(value)}, absent over REST"
                continue
            yield from compare(value, theirs[key], where)
    elif isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            yield from compare(a, b, f"{path}[{i}]")
    elif ours != theirs:
        yield f"{path or 'the object'}: stream {shorten(ours)}, REST {shorten(theirs)}"


def _differences(ours: dict[str, Any], theirs: dict[str, Any]) -> str | None:
    found = list(compare(ours, theirs))
    if not found:
        return None
    more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
    return "; ".join(found[:3]) + more


def compare_one(rule: str, kind: str, ours: dict[str, Any] | None,
                theirs: Any, key: str) -> Iterator[Finding]:
    """The root entity: the stream's final object against one REST object."""
    if ours is None or not isinstance(theirs, dict):
        return
    problem = _differences(ours, theirs)
    if problem is not None:
        yield Finding(rule, "error", f"{kind} {ours.get('id')} differs over REST: {problem}",
                      entity=f"{kind} {ours.get('id')}", key=key)


def compare_lists(rule: str, kind: str, ours: dict[str, dict[str, Any]],
                  theirs: Any) -> Iterator[Finding]:
    """Children: the stream's final objects against a REST list page (``data``)."""
    listed = theirs.get("data") if isinstance(theirs, dict) else None
    if not isinstance(listed, list):
        return
    rest = {o["id"]: o for o in listed if isinstance(o, dict) and isinstance(o.get("id"), str)}
    for oid, obj in ours.items():
        entity = f"{kind} {oid}"
        if oid not in rest:
            yield Finding(rule, "error", f"REST does not list {entity}, which the stream "
                          "showed", entity=entity, key=f"{kind}:{oid}")
            continue
        problem = _differences(obj, rest[oid])
        if problem is not None:
            yield Finding(rule, "error", f"{entity} differs over REST: {problem}",
                          entity=entity, key=f"{kind}:{oid}")
    for oid in rest.keys() - ours.keys():
        yield Finding(rule, "error", f"REST lists {kind} {oid}, which the stream never "
                      "showed", entity=f"{kind} {oid}", key=f"{kind}:{oid}")
