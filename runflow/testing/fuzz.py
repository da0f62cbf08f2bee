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

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from runflow.engine.limits import Limits
from runflow.engine.violations import ProtocolError, Violation
from runflow.protocols import PROTOCOL, Entity
from runflow.protocols.assistants.flow import RunFlow
from runflow.testing.fuzz_equivalence import (
    EQUIVALENCES,
    Equivalence,
    is_relevant,
)
from runflow.testing.fuzz_mutations import (
    KINDS,
    Mutation,
    mutate,
    touched_ids,
)
from runflow.testing.fuzz_sse import (
    encode_sse,
    parse_sse,
)
from runflow.testing.projection import Event, projection

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
             kinds: Sequence[str] = KINDS, strict_every: int = 10,
             progress: Callable[[int, int, FuzzReport], None] | None = None) -> FuzzReport:
    """``n`` random mutations over ``recordings``; every ``strict_every``-th one is
    also replayed in strict mode (crashes only). ``progress(done, n, report)`` is
    called every 100 mutations and at the end."""
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
        if progress is not None and ((i + 1) % 100 == 0 or i + 1 == n):
            progress(i + 1, n, report)
    return report
