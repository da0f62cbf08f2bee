"""Mutation fuzzing of recorded run streams: mutate, replay, classify, report.

A clean recording is a list of ``{"event", "data"}`` events. The engine turns it
into canonical SSE bytes, applies one mutation (at the event or at the byte
level), replays the result through a fresh :class:`~runflow.RunFlow` via
``feed_sse`` in random chunks, and classifies the outcome:

* **crash** -- ``feed_sse`` or ``close`` raised anything but
  :class:`~runflow.ProtocolError` (strict mode), or a state outside the
  protocol table was reached;
* **relevant** -- the mutated stream means something else than the clean one
  (:func:`is_relevant`);
* **detected** -- the mutated flow reported a violation (error or warning) that
  the clean replay did not: some ``(code, entity)`` occurs more often.

Relevance
---------
A mutation is *relevant* iff the :func:`projection` of the mutated stream differs
from the projection of the clean one, unless the pair is one of the listed
equivalent streams (:data:`EQUIVALENCES`). The projection keeps what runflow can
check and nothing else:

* ids are opaque: every id (entity ids, ``run_id``, ``thread_id``, announced
  ``message_id``, tool call ids) is replaced by its order of first appearance, so
  a *consistent* renaming is no change, while an id changed in one event out of
  several is;
* status events: event name, id, payload ``status``, ``run_id``/``thread_id``,
  the step type and announced message, whether ``content``/``tool_calls`` are
  lists, a run's ``incomplete_details`` (checked at completed) and its
  ``required_action`` calls (id, name, arguments; checked against the stream);
* a status event that repeats the entity's current state (``*.in_progress``
  right after ``created``, ``thread.run.queued`` right after
  ``thread.run.created``) is dropped: the table allows the self-transition and
  it changes no state;
* deltas: consecutive deltas of one entity collapse into one marker carrying the
  accumulated structure (part/call index and type, annotation indices, tool call
  ids). Accumulated *values* (text, annotations' type/range, function name and
  arguments, code input) enter only when they are **verifiable**: a final object
  (``message.completed|incomplete``, ``step.completed|failed|cancelled|
  expired``) or a ``requires_action`` for that entity follows in the stream. The
  final object's values likewise enter only when deltas preceded it -- that is
  the only case runflow compares them (:mod:`runflow.protocols.assistants.divergence`);
* ``done``, ``error`` (its presence), unknown event names, and any data that is
  not JSON or not the event's object (*malformed*) are kept as such;
* everything else is not projected because runflow deliberately does not check
  it: timestamps, ``metadata``, ``usage``, ``object``, ``model``,
  ``instructions``, file_search payloads, code_interpreter output contents,
  ``last_error`` and the like (see :mod:`runflow.engine.objects`).

The projection is computed from an independent reference parse of the mutated
SSE bytes (:func:`parse_sse`), not from runflow's decoder.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from runflow.engine.limits import Limits
from runflow.engine.objects import dig
from runflow.engine.violations import ProtocolError, Violation
from runflow.protocols import FINAL_OBJECT_EVENTS, PROTOCOL, UNSEEN, Entity, EventKind
from runflow.protocols.assistants.flow import RunFlow
from runflow.testing.projection import BAD, Event, entity_of, projection

__all__ = [
    "EQUIVALENCES",
    "KINDS",
    "Case",
    "Equivalence",
    "FuzzReport",
    "Mutation",
    "Outcome",
    "check_states",
    "encode_sse",
    "is_relevant",
    "mutate",
    "new_violations",
    "parse_sse",
    "projection",
    "replay",
    "run_case",
    "run_fuzz",
    "touched_ids",
]


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
# SSE bytes: canonical encoding and an independent reference parse
# --------------------------------------------------------------------------- #
def encode_sse(events: Sequence[Event]) -> tuple[bytes, list[int]]:
    """Canonical SSE bytes of ``events`` and the byte offset where each begins.

    ``data: null`` events (a ``done`` without data line) get no data line.
    """
    out: list[bytes] = []
    starts: list[int] = []
    pos = 0
    for event in events:
        data = event.get("data")
        block = f"event: {event.get('event')}\n".encode()
        if data == "[DONE]":
            block += b"data: [DONE]\n"
        elif data is not None:
            block += b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n"
        block += b"\n"
        starts.append(pos)
        pos += len(block)
        out.append(block)
    return b"".join(out), starts


def parse_sse(data: bytes) -> list[Event]:
    """Reference SSE parse (WHATWG rules; a last block without blank line counts).

    Event data is decoded here: ``"[DONE]"``, None (no data line), the JSON value,
    or :data:`BAD`.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    events: list[Event] = []
    for block in text.split(b"\n\n"):
        name: str | None = None
        lines: list[bytes] = []
        for line in block.split(b"\n"):
            if not line or line.startswith(b":"):
                continue
            key, sep, value = line.partition(b":")
            if sep and value.startswith(b" "):
                value = value[1:]
            if key == b"event":
                name = value.decode("utf-8", "replace")
            elif key == b"data":
                lines.append(value)
        if name is None and not lines:
            continue
        raw = b"\n".join(lines) if lines else None
        value_: Any
        if raw is None:
            value_ = None
        elif raw == b"[DONE]":
            value_ = "[DONE]"
        else:
            try:
                value_ = json.loads(raw)
            except ValueError:
                value_ = BAD
        events.append({"event": name, "data": value_})
    return events


# --------------------------------------------------------------------------- #
# equivalent streams
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Equivalence:
    """A class of mutations whose result is still a valid stream (or whose change
    the clean replay already reports), and why it does not count."""

    name: str
    why: str
    applies: Callable[[Mutation, Sequence[Event], Sequence[Violation]], bool]


def _is_delta(e: Event) -> bool:
    return e.get("event") in ("thread.message.delta", "thread.run.step.delta")


def _sole_delta_dropped(m: Mutation, original: Sequence[Event],
                        clean: Sequence[Violation]) -> bool:
    if m.kind != "drop" or m.index is None or not _is_delta(original[m.index]):
        return False
    e = original[m.index]
    oid = dig(e.get("data"), "id")
    return sum(1 for x in original if _is_delta(x) and dig(x.get("data"), "id") == oid) == 1


def _later_start(m: Mutation, original: Sequence[Event], clean: Sequence[Violation]) -> bool:
    if m.index is None or m.kind not in ("drop", "status_name"):
        return False
    first = original[0].get("event")
    if m.kind == "drop" and m.index == 0 and first == "thread.created":
        return True
    if first == "thread.created":
        return False
    runs = [i for i, e in enumerate(original) if entity_of(e.get("event")) is not None
            and entity_of(e.get("event")) == (EventKind.STATUS, Entity.RUN)]
    if not runs or m.index > runs[0]:
        return False
    if m.kind == "drop":
        return True
    # a rename of the first run event to one whose state is the payload's status
    renamed = parse_sse(m.data)[m.index]
    dest = PROTOCOL.transitions[Entity.RUN].get((UNSEEN, str(renamed.get("event"))))
    return dest is not None and dest == dig(renamed.get("data"), "status")


def _already_divergent(m: Mutation, original: Sequence[Event],
                       clean: Sequence[Violation]) -> bool:
    if m.index is None or m.index >= len(original):
        return False
    oid = dig(original[m.index].get("data"), "id")
    kinds = {"drop", "duplicate", "swap", "corrupt_json"}
    return m.kind in kinds and any(
        v.code.value == "snapshot_divergence" and v.entity is not None
        and v.entity.id == oid for v in clean
    )


def _quirk_repaired(m: Mutation, original: Sequence[Event],
                    clean: Sequence[Violation]) -> bool:
    if m.kind != "status_payload" or m.index is None:
        return False
    e = original[m.index]
    route = entity_of(e.get("event"))
    if route is None or route[1] is None:
        return False
    fixed = parse_sse(m.data)[m.index]
    dests = {d for (_, ev), d in PROTOCOL.transitions[route[1]].items() if ev == e.get("event")}
    return dig(e.get("data"), "status") not in dests and dig(fixed.get("data"), "status") in dests


EQUIVALENCES: tuple[Equivalence, ...] = (
    Equivalence(
        "all deltas of an entity dropped",
        "Deltas are optional fragments: a server may send a message or step only "
        "through its full objects. runflow compares deltas with the final object "
        "only when deltas arrived, and the final object is the server's word, so a "
        "stream that lost the only delta of an entity is a valid stream.",
        _sole_delta_dropped,
    ),
    Equivalence(
        "the stream starts later",
        "A flow may begin in the middle of a run (the submit_tool_outputs stream "
        "does), adopting entities at their first full object. Dropping "
        "thread.created leaves a plain runs.create stream; in a stream that does "
        "not start with thread.created, dropping events up to the first run event "
        "(or renaming that event to one whose state is its payload status) leaves "
        "a stream that begins later in the same run. Both are valid streams.",
        _later_start,
    ),
    Equivalence(
        "already reported divergence",
        "The clean replay already reports snapshot_divergence for the entity (the "
        "hand-edited recording trims a message's deltas). A further change to its "
        "delta values or final object is that same violation on the same field "
        "path; runflow reports one per field and shortens values in messages.",
        _already_divergent,
    ),
    Equivalence(
        "a real server's quirk repaired",
        "The original payload status disagrees with its event name (a 2024 capture "
        "sends thread.run.completed with status incomplete; runflow warns "
        "status_mismatch). Setting the payload to the event's state gives the "
        "stream a conforming server sends: valid, with one warning fewer.",
        _quirk_repaired,
    ),
)
"""Explicit, justified exceptions to "projection differs => relevant"."""


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


_PROJECTIONS: dict[int, tuple[Sequence[Event], tuple[Any, ...]]] = {}


def is_relevant(m: Mutation, original: Sequence[Event],
                clean: Sequence[Violation] = ()) -> bool:
    """Whether the mutated stream means something else (module docstring);
    ``clean`` is the clean replay's violations."""
    cached = _PROJECTIONS.get(id(original))
    if cached is None or cached[0] is not original:
        cached = _PROJECTIONS[id(original)] = (original, projection(original))
        while len(_PROJECTIONS) > 64:
            del _PROJECTIONS[next(iter(_PROJECTIONS))]
    if projection(parse_sse(m.data)) == cached[1]:
        return False
    return not any(eq.applies(m, original, clean) for eq in EQUIVALENCES)


# --------------------------------------------------------------------------- #
# replay and classification
# --------------------------------------------------------------------------- #
@dataclass
class Outcome:
    flow: RunFlow
    crash: BaseException | None = None
    raised: int = 0
    """ProtocolErrors raised (strict mode)."""
    bad_states: list[str] = field(default_factory=list)


def check_states(flow: RunFlow) -> list[str]:
    """States of the flow that are not in the protocol table (should be none)."""
    bad: list[str] = []
    tables = PROTOCOL.tables
    if flow.run_status not in tables[Entity.RUN].states:
        bad.append(f"run {flow.run_status!r}")
    for sid, state in flow.step_states.items():
        if state not in tables[Entity.STEP].states:
            bad.append(f"step {sid} {state!r}")
    for mid, state in flow.message_states.items():
        if state not in tables[Entity.MESSAGE].states:
            bad.append(f"message {mid} {state!r}")
    for change in flow.history:
        if change.dest not in tables[change.entity].states:
            bad.append(f"history {change}")
    return bad


def replay(data: bytes, chunks: Sequence[int] = (), *, strict: bool = False,
           limits: Limits | None = None, flow: RunFlow | None = None) -> Outcome:
    """Feed ``data`` in pieces of ``chunks`` sizes (whole if empty), then close.

    Never raises: an exception other than ``ProtocolError`` in strict mode is
    returned as :attr:`Outcome.crash`. In strict mode feeding goes on after each
    raise (the flow keeps its state and its backlog).
    """
    flow = flow if flow is not None else RunFlow(strict=strict, limits=limits)
    out = Outcome(flow)
    sizes = list(chunks) or [len(data)]
    pos = 0
    try:
        for size in sizes:
            piece = data[pos : pos + size]
            pos += size
            try:
                flow.feed_sse(piece)
            except ProtocolError:
                if not flow.strict:
                    raise
                out.raised += 1
        if pos < len(data):
            flow.feed_sse(data[pos:])
        for _ in range(len(data) + 2):
            try:
                flow.close()
                break
            except ProtocolError:
                if not flow.strict:
                    raise
                out.raised += 1
    except Exception as exc:
        out.crash = exc
    out.bad_states = check_states(flow)
    return out


def _key(v: Violation) -> str:
    return f"{v.code.value} {v.entity} {v.event}: {v.message}"


def new_violations(clean: Iterable[Violation], mutated: Iterable[Violation]) -> list[str]:
    """Violations (code, entity, event, message) that occur more often in
    ``mutated`` than in ``clean``; the event index is left out (it shifts)."""
    before = Counter(_key(v) for v in clean)
    after = Counter(_key(v) for v in mutated)
    return sorted((after - before).keys())


@dataclass(frozen=True)
class Case:
    """A classified mutation."""

    recording: str
    mutation: Mutation
    relevant: bool
    detected: bool
    crash: str | None


def run_case(name: str, events: Sequence[Event], clean: Sequence[Violation],
             m: Mutation, *, strict: bool = False) -> Case:
    """Replay one mutation and classify it against the clean violations."""
    outcome = replay(m.data, m.chunks, strict=strict)
    crash = None
    if outcome.crash is not None:
        crash = f"{type(outcome.crash).__name__}: {outcome.crash}"
    elif outcome.bad_states:
        crash = f"states outside the table: {outcome.bad_states}"
    detected = bool(new_violations(clean, outcome.flow.violations))
    return Case(name, m, is_relevant(m, events, clean), detected, crash)


@dataclass
class FuzzReport:
    """Counts per mutation class, crashes and undetected relevant mutations."""

    tried: Counter[str] = field(default_factory=Counter)
    relevant: Counter[str] = field(default_factory=Counter)
    detected: Counter[str] = field(default_factory=Counter)
    crashes: list[Case] = field(default_factory=list)
    escapes: list[Case] = field(default_factory=list)

    def add(self, case: Case) -> None:
        kind = case.mutation.kind
        self.tried[kind] += 1
        if case.crash is not None:
            self.crashes.append(case)
        if case.relevant:
            self.relevant[kind] += 1
            if case.detected:
                self.detected[kind] += 1
            else:
                self.escapes.append(case)

    @property
    def rate(self) -> float:
        total = sum(self.relevant.values())
        return sum(self.detected.values()) / total if total else 1.0

    def format(self, escapes: int = 10) -> str:
        lines = [
            f"mutations tried: {sum(self.tried.values())}",
            f"crashes: {len(self.crashes)}",
            f"relevant: {sum(self.relevant.values())}, detected: "
            f"{sum(self.detected.values())} ({100 * self.rate:.2f}%)",
            "",
            f"{'class':<16}{'tried':>7}{'relevant':>10}{'detected':>10}{'rate':>9}",
        ]
        for kind in KINDS:
            rel, det = self.relevant[kind], self.detected[kind]
            rate = f"{100 * det / rel:.2f}%" if rel else "-"
            lines.append(f"{kind:<16}{self.tried[kind]:>7}{rel:>10}{det:>10}{rate:>9}")
        for case in self.crashes[:escapes]:
            lines.append(f"CRASH {case.recording}: {case.mutation.description}: {case.crash}")
        for case in self.escapes[:escapes]:
            lines.append(f"undetected {case.recording}: {case.mutation.description}")
        return "\n".join(lines)


def run_fuzz(recordings: dict[str, list[Event]], n: int, seed: int = 0, *,
             kinds: Sequence[str] = KINDS, strict_every: int = 10) -> FuzzReport:
    """``n`` random mutations over ``recordings``; every ``strict_every``-th one is
    also replayed in strict mode (crashes only)."""
    rng = random.Random(seed)
    names = sorted(recordings)
    clean = {name: replay(encode_sse(recordings[name])[0]).flow.violations for name in names}
    report = FuzzReport()
    for i in range(n):
        name = names[i % len(names)]
        kind = kinds[(i // len(names)) % len(kinds)]
        m = mutate(recordings[name], kind, rng)
        case = run_case(name, recordings[name], clean[name], m)
        report.add(case)
        if strict_every and i % strict_every == 0:
            strict = run_case(name, recordings[name], clean[name], m, strict=True)
            if strict.crash is not None:
                report.crashes.append(strict)
    return report
