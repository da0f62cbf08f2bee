"""The short paths of ``runflow check``'s grader for the deltas of a recording.

Most events of a long stream are deltas, which only move the order layer's last
event of their entity (and, in a numbered stream, its run of sequence numbers): the
grader (:class:`runflow.conform.recorded.Grader`) lets them through a short path
when what :func:`~runflow.conform.events.observed` would make of them cannot differ
from their parse, and no layer but the order layer looks at them; any other event
takes the long path, every layer (``long``, which says whether the next event may
take the short path: no event waits for its successor and the stream is the order
layer's). Which deltas, and how they are placed, comes from the definition
(:func:`placed_deltas`, :func:`named_deltas`).

Each path is a closure over what it reads, run for nearly every event of a large
file beside the flow: a lookup on ``self`` or a call saved there is a few percent
of ``runflow check``'s time (``benchmarks/cli.py``), so the order layer's
:meth:`~runflow.conform.order.Order.note` and :meth:`~runflow.conform.order.Seen.next`
are inlined.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from typing import Any

from runflow.conform.events import entity_key, observed
from runflow.conform.order import Order
from runflow.engine.definition import EntityTable, EventKind, Protocol
from runflow.engine.jsonparse import has_non_finite

__all__ = ["Listen", "Long", "named_deltas", "named_path", "placed_deltas", "placed_path"]

Listen = Callable[[int, "str | None", "bytes | None", Any], None]
"""A feeder listener's ``sse_event``: ``(index, name, raw, parsed)``."""
Long = Callable[[int, "str | None", "bytes | None", Any], bool]
"""The long path: the event through every layer; whether the next may take a short one."""

STEPS = ("thread.run.step", "thread.run.step.delta")
"""The objects the grouping's announcers read (:class:`~runflow.conform.grouping.Announcers`)."""

_FLOAT_MAX = int(sys.float_info.max)
_HUGE = len(str(_FLOAT_MAX))
"""Digits of the largest integer a float holds (309): a shorter JSON text holds none larger."""
_SCALARS = frozenset({str, int, bool, type(None)})
"""The values of a delta's data that hold no non-finite number, in fewer than
:data:`_HUGE` bytes of JSON."""
_TEXT = frozenset({str, bool, type(None)})
"""The values that hold none in any text (an integer may pass the float range)."""


def _finite(value: Any) -> bool:
    """Whether ``value`` (of a delta's data) holds no number that
    :func:`~runflow.conform.events.observed` refuses, which makes it drop the data
    (:func:`~runflow.engine.jsonparse.has_non_finite`: infinite, NaN, or an integer
    past the float range)."""
    if type(value) is int:
        return -_FLOAT_MAX <= value <= _FLOAT_MAX
    if type(value) is float:
        return math.isfinite(value)
    return not has_non_finite(value)


def placed_path(protocol: Protocol, order: Order, placed: dict[str, str],
                long: Long) -> Listen:
    """The listener of a numbered stream of positioned entities (Responses): a delta
    takes the short path when the data names it by the type field (one of
    ``placed``: name -> its first position field), holds its sequence number, the
    next of the stream's run, and its position, has no ``object`` (the announcers'),
    and holds no value that :func:`~runflow.conform.events.observed` would refuse (a
    non-finite number). Its grouping key is that of the position (``output/N``),
    worked out once per position."""
    type_field, sequence_field = protocol.type_field or "", protocol.sequence_field or ""
    limit = order.limit
    seen, last = order.seen, order.last
    plain = False  # no event waits and the stream is the order layer's
    at_: Any = None  # the position of the last delta that took the short path
    key_ = ""  # its grouping key

    def sse_event(index: int, name: str | None, raw: bytes | None, parsed: Any) -> None:
        nonlocal plain, at_, key_, seen, last
        if plain and type(parsed) is dict:
            named = parsed.get(type_field)
            if type(named) is str and (field := placed.get(named)) is not None:
                seq = parsed.get(sequence_field)
                at = parsed.get(field)
                if type(seq) is int and type(at) is int and "object" not in parsed:
                    # _finite of each value, inlined for the usual ones: an integer in
                    # fewer than _HUGE bytes of JSON is within the float range
                    skip = _SCALARS if raw is not None and len(raw) < _HUGE else _TEXT
                    for value in parsed.values():
                        if type(value) in skip or not value:
                            continue
                        if not _finite(value):
                            break
                    else:
                        if at != at_:
                            at_ = at
                            key_ = entity_key(protocol, observed(
                                protocol, index, order.stream, name, raw, parsed)) or ""
                        # Seen.next and Order.note, inlined
                        if (key_ and seq == seen.high and seen.low < seq
                                and not seen.others):
                            seen.high = seq + 1
                            if key_ in last or len(last) < limit:
                                last[key_] = (named, index)
                            else:
                                order.note(key_, named, index)
                            return
        plain = long(index, name, raw, parsed)
        seen, last = order.seen, order.last  # a new stream has its own

    return sse_event


def named_path(protocol: Protocol, order: Order, kinds: dict[str, str],
               long: Long) -> Listen:
    """The listener of a stream whose events are named by the SSE event name, about
    entities named by id (Assistants): a delta takes the short path when its name is
    one of ``kinds`` (name -> entity kind), its data starts with its ``id`` (so the
    first ``"id"`` the raw data holds is that id), and it carries no response, item
    or step (the announcers' objects)."""
    limit = order.limit
    last = order.last
    plain = False  # no event waits and the stream is the order layer's
    oid_: str | None = None  # the id of the last delta that took the short path
    key_ = ""  # its grouping key
    prefix = b""  # the text its data starts with; empty: it cannot take it

    def sse_event(index: int, name: str | None, raw: bytes | None, parsed: Any) -> None:
        nonlocal plain, oid_, key_, prefix, last
        if plain and name is not None and (kind := kinds.get(name)) is not None and (
                type(parsed) is dict and raw is not None):
            oid = parsed.get("id")
            if (type(oid) is str and "response" not in parsed and "item" not in parsed
                    and parsed.get("object") not in STEPS):
                if oid != oid_:
                    oid_, key_, prefix = oid, f"{kind}:{oid}", _prefix(oid)
                if prefix and raw.startswith(prefix):
                    if key_ in last or len(last) < limit:  # Order.note, inlined
                        last[key_] = (name, index)
                    else:
                        order.note(key_, name, index)
                    return
        plain = long(index, name, raw, parsed)
        last = order.last  # a new stream has its own

    return sse_event


def _prefix(oid: str) -> bytes:
    """The text the data of a delta about ``oid`` starts with when it can take the
    short path; empty when none can."""
    if 0 < len(oid) <= 200 and '"' not in oid and "\\" not in oid:
        try:
            return b'{"id":"' + oid.encode() + b'"'
        except UnicodeEncodeError:  # a lone surrogate, from an escape
            pass
    return b""


def placed_deltas(protocol: Protocol, order: Order) -> dict[str, str]:
    """Name -> the first position field of the deltas of a numbered stream that may
    take :func:`placed_path`: named by the data's type field, about a positioned
    child, and no order row's event. Their grouping key is that of the position
    (:func:`~runflow.conform.events.entity_key`: ``output/N``)."""
    if protocol.type_field is None or not order.numbered:
        return {}
    return {name: table.position[0] for name, table in _child_deltas(protocol, order)
            if table.position}


def named_deltas(protocol: Protocol, order: Order) -> dict[str, str]:
    """Name -> entity kind of the deltas that may take :func:`named_path`: named by
    their SSE event name (the protocol names no event by its data, and numbers none),
    about a child named by id, and no order row's event."""
    if protocol.type_field is not None or protocol.sequence_field is not None:
        return {}
    return {name: table.entity for name, table in _child_deltas(protocol, order)
            if not table.position}


def _child_deltas(protocol: Protocol, order: Order) -> Iterator[tuple[str, EntityTable]]:
    """The delta events about a child entity (not the root) that no order row names,
    with the child's table: the candidates for either short path."""
    rows = order.names()
    for name, (kind_of_event, kind) in protocol.routes.items():
        if kind_of_event is not EventKind.DELTA or kind is None or name in rows:
            continue
        table = protocol.tables.get(kind)
        if table is not None and table.role != "root":
            yield name, table
