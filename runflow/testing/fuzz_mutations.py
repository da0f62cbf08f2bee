"""The fuzzer's mutations (:mod:`runflow.testing.fuzz`): each kind of damage to a
stream, and which entities it touches."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from runflow.engine.objects import dig
from runflow.protocols import FINAL_OBJECT_EVENTS, PROTOCOL, UNSEEN, Entity, EventKind
from runflow.testing.fuzz_sse import encode_sse
from runflow.testing.projection import Event, entity_of

KINDS: Final = (
    "drop",
    "duplicate",
    "swap",
    "truncate",
    "status_name",
    "status_payload",
    "id_change",
    "corrupt_json",
    "split",
    "unknown_event",
)
"""Mutation classes, in report order."""

_ROUTES = PROTOCOL.routes
_FINAL = FINAL_OBJECT_EVENTS
_STATUS_NAMES: dict[str, list[str]] = {
    e: [t.event for t in PROTOCOL.tables[e].transitions] for e in Entity
}
_UNKNOWN_NAMES = (
    "thread.run.step.reasoning",
    "thread.message.annotated",
    "ping",
    "thread.run.heartbeat",
    "x-vendor.usage",
)


# --------------------------------------------------------------------------- #
# mutations
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Mutation:
    """One mutated stream and what it may legitimately change."""

    kind: str
    description: str
    data: bytes
    """The mutated SSE bytes."""
    chunks: tuple[int, ...]
    """Sizes of the pieces ``data`` is fed in."""
    index: int | None
    """The (first) original event the mutation concerns, if any."""
    touched: frozenset[str]
    """Ids of steps and messages whose snapshots may differ from the clean replay."""


def _ent(e: Event) -> tuple[str | None, str | None]:
    route = entity_of(e.get("event"))
    oid = dig(e.get("data"), "id")
    return (route[1] if route else None), (oid if isinstance(oid, str) else None)


def touched_ids(events: Sequence[Event], indices: Iterable[int]) -> frozenset[str]:
    """Step and message ids whose snapshots a mutation of ``indices`` may change.

    The entities of the mutated events; a mutated run, thread, ``done``, ``error``
    or unknown event touches every entity seen from there on (children depend on
    the run's state); a touched message_creation step touches its message.
    """
    out: set[str] = set()
    for i in indices:
        if not 0 <= i < len(events):
            continue
        entity, oid = _ent(events[i])
        if entity in (Entity.STEP, Entity.MESSAGE) and oid is not None:
            out.add(oid)
        else:
            for e in events[i:]:
                ent, other = _ent(e)
                if ent in (Entity.STEP, Entity.MESSAGE) and other is not None:
                    out.add(other)
    for e in events:
        mid = dig(e.get("data"), "step_details", "message_creation", "message_id")
        if dig(e.get("data"), "id") in out and isinstance(mid, str):
            out.add(mid)
    return frozenset(out)


def _chunks(rng: random.Random, size: int) -> tuple[int, ...]:
    style = rng.random()
    if size == 0:
        return ()
    if style < 0.3:
        return (size,)
    out: list[int] = []
    left = size
    top = 1 if style < 0.01 else rng.choice((7, 256, 1024, 4096, 4096, 16384))
    while left > 0:
        n = min(left, rng.randint(1, top))
        out.append(n)
        left -= n
    return tuple(out)


def _data_spans(events: Sequence[Event], starts: Sequence[int],
                total: int) -> list[tuple[int, int, int]]:
    """(event index, first, end) byte ranges of each JSON payload in the encoding."""
    spans = []
    for i, e in enumerate(events):
        if e.get("data") is None or e.get("data") == "[DONE]":
            continue
        first = starts[i] + len(f"event: {e.get('event')}\ndata: ".encode())
        end = (starts[i + 1] if i + 1 < len(starts) else total) - 2
        spans.append((i, first, end))
    return spans


_CORRUPT_BYTES = b'{}[]",:\\0123456789aeltnrufsxyz -.\x00\xff\xc3'


def mutate(events: Sequence[Event], kind: str, rng: random.Random) -> Mutation:
    """One random mutation of class ``kind`` of ``events`` (never modified)."""
    evs = [dict(e) for e in events]
    n = len(evs)
    clean, starts = encode_sse(evs)
    index: int | None = None
    touched: Iterable[int] = ()
    desc = ""
    out: list[Event] | None = None
    data = clean
    if kind == "drop":
        index = rng.randrange(n)
        out = [*evs[:index], *evs[index + 1 :]]
        touched, desc = [index], f"drop #{index} {evs[index]['event']}"
    elif kind == "duplicate":
        index = rng.randrange(n)
        out = [*evs[: index + 1], evs[index], *evs[index + 1 :]]
        touched, desc = [index], f"duplicate #{index} {evs[index]['event']}"
    elif kind == "swap":
        index = rng.randrange(max(n - 1, 1))
        out = list(evs)
        if n > 1:
            out[index], out[index + 1] = out[index + 1], out[index]
        touched = [index, index + 1]
        desc = f"swap #{index} {evs[index]['event']} / #{index + 1}"
    elif kind in ("status_name", "status_payload", "id_change"):
        candidates = [i for i, e in enumerate(evs) if isinstance(e.get("data"), dict)
                      and isinstance(e["data"].get("id"), str)
                      and (kind == "id_change" or _ent(e)[0] not in (None, Entity.THREAD))
                      and (kind == "id_change"
                           or entity_of(e["event"]) == (EventKind.STATUS, _ent(e)[0]))]
        index = rng.choice(candidates)
        e = json.loads(json.dumps(evs[index]))
        entity = _ent(e)[0]
        if kind == "status_name":
            assert entity is not None
            names = [x for x in _STATUS_NAMES[entity] if x != e["event"]]
            e["event"] = rng.choice(names)
            desc = f"rename #{index} {evs[index]['event']} -> {e['event']}"
        elif kind == "status_payload":
            assert entity is not None
            states = [s for s in PROTOCOL.tables[entity].states
                      if s not in (UNSEEN, e["data"].get("status"))]
            e["data"]["status"] = rng.choice(states)
            desc = f"status of #{index} {e['event']} -> {e['data']['status']}"
        else:
            new = f"{e['data']['id'][:4]}fuzz{rng.randrange(10**6)}"
            desc = f"id of #{index} {e['event']} {e['data']['id']} -> {new}"
            e["data"]["id"] = new
        out = [*evs[:index], e, *evs[index + 1 :]]
        touched = [index]
    elif kind == "unknown_event":
        index = rng.randrange(n + 1)
        name = rng.choice(_UNKNOWN_NAMES)
        payload: Any = rng.choice(({"id": "x_1", "object": name}, "[DONE]", None, [1, 2]))
        out = [*evs[:index], {"event": name, "data": payload}, *evs[index:]]
        desc = f"insert unknown {name!r} before #{index}"
    elif kind == "truncate":
        cut = rng.randrange(len(clean))
        data = clean[:cut]
        index = max(i for i, s in enumerate(starts) if s <= cut)
        touched, desc = range(index, n), f"truncate at byte {cut} (in #{index})"
    elif kind == "corrupt_json":
        spans = _data_spans(evs, starts, len(clean))
        i, first, end = rng.choice(spans)
        pos = rng.randrange(first, end)
        new_byte = rng.choice([b for b in _CORRUPT_BYTES if b != clean[pos]])
        data = clean[:pos] + bytes([new_byte]) + clean[pos + 1 :]
        index = i
        touched = [i]
        desc = (f"corrupt byte {pos} of #{i} {evs[i]['event']}: "
                f"{clean[pos:pos + 1]!r} -> {bytes([new_byte])!r}")
    elif kind == "split":
        desc = "split only"
    else:
        raise ValueError(f"unknown mutation kind {kind!r}")
    if out is not None:
        data = encode_sse(out)[0]
    return Mutation(kind, desc, data, _chunks(rng, len(data)), index,
                    touched_ids(evs, touched))


