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

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from runflow.adapters.recording_feed import Feeder
from runflow.conform.events import entity_key, observed
from runflow.conform.order import Order
from runflow.engine.definition import EntityTable, EventKind, Protocol
from runflow.engine.flow import Observer

__all__ = ["Listen", "Long", "Paths", "every_path", "named_deltas", "named_path", "placed_deltas",
           "placed_path"]

Listen = Callable[[int, "str | None", "bytes | None", Any], None]
"""A feeder listener's ``sse_event``: ``(index, name, raw, parsed)``."""
Long = Callable[[int, "str | None", "bytes | None", Any], bool]
"""The long path: the event through every layer; whether the next may take a short one."""


class Paths(NamedTuple):
    """The grader's observer of a recording's SSE events, taking a short path where it
    can (:class:`~runflow.adapters.recording_feed.Observing`)."""

    observer: Callable[[Feeder, list[int], int], Observer]
    """The flow's observer for one chunk (:meth:`Observing.sse_observer`)."""
    flush: Callable[[], None]
    """What the short path noted of the current run written to the order layer: call
    before the layer is read other than by the long path."""
    key_of: Callable[[int], str | None]
    """The grouping key of the event at an index when it is the last event and took the
    short path (what :meth:`Listener.settle` asks about); None otherwise."""


STEPS = ("thread.run.step", "thread.run.step.delta")
"""The objects the grouping's announcers read (:class:`~runflow.conform.grouping.Announcers`)."""

def placed_path(protocol: Protocol, order: Order, placed: dict[str, str],
                long: Long) -> Paths:
    """The observer of a numbered stream of positioned entities (Responses): a delta
    takes the short path when the data names it by the type field (one of
    ``placed``: name -> its first position field), holds its sequence number, the
    next of the stream's run, and its position, and has no ``object`` (the
    announcers'); whatever else it holds, the layers keep its data as parsed
    (:func:`~runflow.conform.events.layers_data`: a delta's numbers are no layer's).
    Its grouping key is that of the position (``output/N``),
    worked out once per position.

    What the order layer would note of a run of such deltas is noted once, when the
    run ends: the run of sequence numbers (``high``, the next number) and the last
    delta of the run's entity (``named``, ``index``) are written to the layer before
    any other event takes the long path, when the position changes (its last event)
    and by the flush, as :meth:`Order.see` would have left them."""
    type_field, sequence_field = protocol.type_field or "", protocol.sequence_field or ""
    limit = order.limit
    seen, last = order.seen, order.last
    plain = False  # no event waits and the stream is the order layer's
    at_: Any = None  # the position of the last delta that took the short path
    key_ = ""  # its grouping key
    high: int | None = None  # the next number of the stream's run; None: no plain run
    named_: str = ""  # the name and index of the last delta that took the short path,
    index_ = -1  # not yet noted in the layer's last event of its entity when at_ is

    def flush() -> None:
        nonlocal index_
        if high is not None:
            seen.high = high
        if index_ >= 0:
            last[key_] = (named_, index_)  # the key is there: only its value changes
            index_ = -1

    def observer(feeder: Feeder, offsets: list[int], start: int) -> Observer:
        violations = feeder.flow.violations
        count = start - 1  # the index of the chunk's last event

        def observe(name: str | None, raw: bytes | None, offset: int, parsed: Any) -> None:
            nonlocal plain, at_, key_, seen, last, high, named_, index_, count
            if len(violations) != feeder.settled:  # the feeder's part (Observing)
                feeder.settle()
            offsets.append(offset)
            count = index = count + 1
            if type(parsed) is dict:
                named = parsed.get(type_field)
                if type(named) is str and (field := placed.get(named)) is not None:
                    seq = parsed.get(sequence_field)
                    at = parsed.get(field)
                    # Seen.next, inlined: high is None unless the run is all there is
                    if (seq == high and type(seq) is int and type(at) is int
                            and "object" not in parsed):
                        if at == at_:  # the entity of the delta before: noted later
                            high, named_, index_ = seq + 1, named, index
                            return
                        key = entity_key(protocol, observed(
                            protocol, index, order.stream, name, raw, parsed))
                        if key:
                            if index_ >= 0:
                                last[key_] = (named_, index_)
                            at_, key_, high = at, key, seq + 1
                            named_, index_ = named, index
                            # Order.note, inlined
                            if key in last or len(last) < limit:
                                last[key] = (named, index)
                            else:
                                order.note(key, named, index)
                            return
            if plain:
                flush()
            plain = long(index, name, raw, parsed)
            seen, last = order.seen, order.last  # a new stream has its own
            high = seen.high if plain and seen.low < seen.high and not seen.others else None
            at_ = None  # the next delta notes its entity in the layer's (maybe new) map

        return observe

    def key_of(index: int) -> str | None:
        return key_ if index == index_ else None

    return Paths(observer, flush, key_of)


def named_path(protocol: Protocol, order: Order, kinds: dict[str, str],
               long: Long) -> Paths:
    """The observer of a stream whose events are named by the SSE event name, about
    entities named by id (Assistants): a delta takes the short path when its name is
    one of ``kinds`` (name -> entity kind), its data starts with its ``id`` (so the
    first ``"id"`` the raw data holds is that id), and it carries no response, item
    or step (the announcers' objects). The last delta of a run about one entity is
    noted in the order layer when the run ends (see :func:`placed_path`)."""
    limit = order.limit
    last = order.last
    plain = False  # no event waits and the stream is the order layer's
    oid_: str | None = None  # the id of the last delta that took the short path
    key_ = ""  # its grouping key
    prefix = b""  # the text its data starts with; empty: it cannot take it
    kind_: str | None = None  # its kind (an id names one entity of a kind)
    name_: str = ""  # the name and index of the last delta that took the short path,
    index_ = -1  # not yet noted in the layer's last event of its entity when oid_ is

    def flush() -> None:
        nonlocal index_
        if index_ >= 0:
            last[key_] = (name_, index_)  # the key is there: only its value changes
            index_ = -1

    def observer(feeder: Feeder, offsets: list[int], start: int) -> Observer:
        violations = feeder.flow.violations
        count = start - 1  # the index of the chunk's last event

        def observe(name: str | None, raw: bytes | None, offset: int, parsed: Any) -> None:
            nonlocal plain, oid_, kind_, key_, prefix, last, name_, index_, count
            if len(violations) != feeder.settled:  # the feeder's part (Observing)
                feeder.settle()
            offsets.append(offset)
            count = index = count + 1
            if plain and name is not None and (kind := kinds.get(name)) is not None and (
                    type(parsed) is dict and raw is not None):
                oid = parsed.get("id")
                if (type(oid) is str and "response" not in parsed and "item" not in parsed
                        and parsed.get("object") not in STEPS):
                    if oid == oid_ and kind is kind_:
                        if raw.startswith(prefix):  # the entity of the delta before
                            name_, index_ = name, index
                            return
                    else:
                        start_ = _prefix(oid)
                        if start_ and raw.startswith(start_):
                            if index_ >= 0:
                                last[key_] = (name_, index_)
                            oid_, kind_, key_, prefix = oid, kind, f"{kind}:{oid}", start_
                            name_, index_ = name, index
                            if key_ in last or len(last) < limit:  # Order.note, inlined
                                last[key_] = (name, index)
                            else:
                                order.note(key_, name, index)
                            return
            if plain:
                flush()
            plain = long(index, name, raw, parsed)
            last = order.last  # a new stream has its own
            oid_ = None  # the next delta notes its entity in the layer's (maybe new) map

        return observe

    def key_of(index: int) -> str | None:
        return key_ if index == index_ else None

    return Paths(observer, flush, key_of)


def every_path(long: Long) -> Paths:
    """The observer of a protocol whose deltas take no short path: every event takes
    the long path."""

    def observer(feeder: Feeder, offsets: list[int], start: int) -> Observer:
        violations = feeder.flow.violations

        def observe(name: str | None, raw: bytes | None, offset: int, parsed: Any) -> None:
            if len(violations) != feeder.settled:  # the feeder's part (Observing)
                feeder.settle()
            offsets.append(offset)
            long(start + len(offsets) - 1, name, raw, parsed)

        return observe

    return Paths(observer, _nothing, _no_key)


def _nothing() -> None:
    """The flush of no short path."""


def _no_key(index: int) -> None:
    """The key of no short path's last event."""


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
