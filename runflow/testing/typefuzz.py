"""Type-confusion fuzzing: every JSON value at every path, replaced by a wrong type.

The event-level fuzzer (:mod:`runflow.testing.fuzz`) mutates whole events; it never
puts an ``int`` where runflow reads a string. This one does. For every event of
every seed stream (recordings, ``.jsonl`` and ``.sse``, read with
:mod:`runflow.adapters.recording`, or event lists: :func:`seed_corpus`) and every JSON path
in the event's data (the data itself included), the value is replaced by each of
the target's values: for the Assistants flow :data:`VALUES` -- ``None``, ``0``,
``-1``, ``1.5``, ``""``, ``"x"``, ``[]``, ``{}``, ``[1]``, ``[{}]``, ``True``, a 1 MiB
string -- and values that exist only as JSON text (:data:`RAW_VALUES`): a 300-deep
nested list, ``NaN`` and a lone-surrogate escape ``"\\ud800"``. The Responses target
adds huge, deep and odd-unicode values (:data:`HOSTILE_VALUES`, :data:`HOSTILE_RAW`).

A :class:`Target` says which flow class is fuzzed, with which values, fed which
ways (:data:`ASSISTANTS_FUZZ`, :data:`RESPONSES_FUZZ`). Each mutated stream is one
*input* per way of feeding it (``Mode``):

* ``sse`` -- canonical SSE bytes (one ``event:`` and one ``data:`` line per event,
  :func:`~runflow.testing.fuzz.encode_sse`) through ``feed_sse``, then ``close``;
* ``events`` -- ``feed`` of ``{"event", "data"}`` dicts (the raw-text values as the
  data's JSON bytes, which ``feed`` parses), then ``close``;
* ``sdk`` -- ``feed`` of the openai SDK's event objects, built as the SDK builds
  them from the SSE data (``json.loads``, then ``construct_type``): raw-text values
  reach the flow as whatever ``json.loads`` makes of them (``nan``, a lone
  surrogate, a deep list).

Flows are non-strict, so *anything* raised by ``feed``/``feed_sse``/``close`` is an
**untyped exception**: the README promises bad input becomes a violation. So is
anything raised by reading the flow's read API afterwards, or (a target with
``layers``, ``sse`` inputs) by the layers around the flow that read the same
bytes -- ``check``'s and ``conform``'s grammar, payload, order and consistency
layers and ``watch``'s player (:mod:`runflow.testing.typefuzz_layers`). They
are grouped into **escape sites**: exception type and the innermost frame inside
the ``runflow`` package (``runflow/protocols/assistants/content.py:123:merge``). An input is
**detected** when its violations differ from the clean replay's (code, entity and
event name; indices are left out). Some mutations change nothing runflow checks
(a timestamp set to ``0``), so the detection rate is a measure, not a target.

A target with ``stepwise=True`` feeds every input event by event and also checks,
for each (:func:`stepwise_problems`): every violation carries the index of the
event that caused it (``close`` ones the index after the last event); a rejected
event (a violation whose code :data:`~runflow.engine.violations.RULES` marks as
rejecting) leaves every entity, slot, note and the history exactly as before;
and nothing already received is lost -- every entity seen before the mutated
event is still there at its place at the end, the history and violations before
it are kept as a prefix, and a streamed value only ever grows, unless a
``snapshot_divergence`` for its entity says the server's final value replaced it.
Any of these is an *inconsistency*, as are states outside the tables, entities
left ``unseen`` and ``internal_error``. A run also checks that no flow changed the
seed events it was given (``TypeFuzzReport.corrupted``).

Deterministic: a seed picks the inputs, a budget bounds how many
(:func:`run_typefuzz`). Twin recordings whose events are the same are fuzzed once.
"""

from __future__ import annotations

import json
import random
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from runflow.engine.definition import UNSEEN
from runflow.engine.flow import Flow
from runflow.engine.jsonparse import dump_json
from runflow.engine.violations import Code
from runflow.testing.typefuzz_corpus import (
    Corpus,
    Source,
    json_paths,
    load_corpus,
    seed_corpus,
    sse_block,
)
from runflow.testing.typefuzz_layers import read_everything, run_layers
from runflow.testing.typefuzz_stepwise import (
    stepwise_problems,
)
from runflow.testing.typefuzz_target import (
    ASSISTANTS_FUZZ,
    HOSTILE_RAW,
    HOSTILE_VALUES,
    MODES,
    RAW_VALUES,
    RESPONSES_FUZZ,
    VALUES,
    JSONPath,
    Mode,
    Target,
)

__all__ = [
    "ASSISTANTS_FUZZ",
    "HOSTILE_RAW",
    "HOSTILE_VALUES",
    "MODES",
    "RAW_VALUES",
    "RESPONSES_FUZZ",
    "VALUES",
    "Corpus",
    "Escape",
    "Input",
    "Result",
    "Seeded",
    "Source",
    "Target",
    "TypeFuzzReport",
    "escape_site",
    "inconsistencies",
    "json_paths",
    "load_corpus",
    "mutated_text",
    "nth_input",
    "run_input",
    "run_typefuzz",
    "seed_corpus",
    "stepwise_problems",
]

_SENTINEL: Final = "\x01typefuzz-raw-value\x01"
_PACKAGE: Final = Path(__file__).resolve().parent.parent
_SELF: Final = Path(__file__).resolve().parent
# --------------------------------------------------------------------------- #
# one input
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Input:
    """One mutated stream and the way it is fed."""

    source: str
    index: int
    """The event whose data is changed."""
    path: JSONPath
    value: str
    """The label of the replacement (the target's values or raw values)."""
    mode: Mode

    def describe(self) -> str:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return (f"{self.source} #{self.index} data{where or ''} = {self.value} "
                f"({self.mode})")


def _replaced(value: Any, path: JSONPath, new: Any) -> Any:
    """A copy of ``value`` with ``new`` at ``path`` (only the spine is copied)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    out: Any = dict(value) if isinstance(value, dict) else list(value)
    out[head] = _replaced(value[head], rest, new)
    return out


def mutated_text(data: Any, path: JSONPath, label: str,
                 target: Target = ASSISTANTS_FUZZ) -> str:
    """The JSON text of ``data`` with the value at ``path`` replaced by ``label``'s."""
    raw = target.raw(label)
    if raw is None:
        return dump_json(_replaced(data, path, target.value(label)))[0]
    text = dump_json(_replaced(data, path, _SENTINEL))[0]
    quoted = dump_json(_SENTINEL)[0]
    return text.replace(quoted, raw, 1)


def _item(target: Target, mode: Mode, name: str | None, data: Any, path: JSONPath,
          label: str, text: str) -> Any:
    """What the flow gets for the mutated event in ``mode``."""
    if mode == "sse":
        return sse_block(name, text)
    raw = target.raw(label) is not None
    if mode == "events":
        obj = text.encode("utf-8", "surrogatepass") if raw else _replaced(
            data, path, target.value(label))
        return {"event": name, "data": obj}
    if target.sdk_event is None:
        raise ValueError(f"the {target.name} target has no sdk mode")
    obj = json.loads(text) if raw else _replaced(data, path, target.value(label))
    return target.sdk_event({"event": name, "data": obj})


@dataclass(frozen=True)
class Escape:
    """An untyped exception: where it came from and the input that raised it."""

    type: str
    site: str
    message: str
    input: Input


def escape_site(exc: BaseException) -> str:
    """``runflow/FILE.py:LINE:FUNCTION`` of the innermost frame inside the runflow
    package (its test tooling excluded), or ``<outside runflow>``."""
    site = "<outside runflow>"
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(_PACKAGE) and not path.is_relative_to(_SELF):
            site = f"{path.relative_to(_PACKAGE.parent)}:{frame.lineno}:{frame.name}"
    return site


Verdict = Counter[tuple[str, str | None, str | None]]


def _verdict(flow: Flow) -> Verdict:
    return Counter((v.code.value, str(v.entity) if v.entity is not None else None, v.event)
                   for v in flow.violations)


def _items(source: Source, mode: Mode, target: Target,
           sdk: dict[str, list[Any]] | None = None) -> Sequence[Any]:
    """The clean stream's events as ``mode`` feeds them."""
    if mode == "sse":
        return source.blocks
    if mode == "events":
        return source.events
    cache = sdk if sdk is not None else {}
    if source.name not in cache:
        if target.sdk_event is None:
            raise ValueError(f"the {target.name} target has no sdk mode")
        cache[source.name] = [target.sdk_event(e) for e in source.events]
    return cache[source.name]


def _feed_all(flow: Flow, mode: Mode, items: Sequence[Any]) -> None:
    """Feed the stream, and close; may raise."""
    if mode == "sse":
        flow.feed_sse(b"".join(items))
    else:
        for item in items:
            flow.feed(item)
    flow.close()


def _clean(source: Source, mode: Mode, target: Target,
           sdk: dict[str, list[Any]] | None = None) -> Flow:
    flow = target.new_flow()
    _feed_all(flow, mode, _items(source, mode, target, sdk))
    return flow


@dataclass(frozen=True)
class Result:
    """What one input did."""

    escape: Escape | None = None
    detected: bool = False
    inconsistent: tuple[str, ...] = ()
    """States outside the tables, entities left ``unseen``, internal errors, and
    what :func:`stepwise_problems` found."""
    refused: bool = False
    """The SDK could not build the mutated event (``sdk`` mode): nothing was fed."""


def inconsistencies(flow: Flow) -> list[str]:
    """States outside the protocol's tables (entities and history), child entities
    still ``unseen``, and internal errors (an exception the engine caught as its
    last line of defence)."""
    protocol = flow.protocol
    tables = protocol.tables
    tops = [(protocol.root, flow.root_state)]
    if protocol.scope is not None:
        tops.append((protocol.scope, flow.state_of(protocol.scope)))
    bad = [f"{kind} {state!r}" for kind, state in tops if state not in tables[kind].states]
    for kind in protocol.children:
        for oid, state in flow.states(kind).items():
            if state not in tables[kind].states:
                bad.append(f"{kind} {oid} {state!r}")
            elif state == UNSEEN:
                bad.append(f"{kind} {oid} left unseen")
    bad += [f"history {c}" for c in flow.history if c.dest not in tables[c.entity].states]
    bad += [f"internal_error #{v.index}: {v.message}" for v in flow.violations
            if v.code is Code.INTERNAL_ERROR]
    return bad


def run_input(source: Source, inp: Input, clean: Verdict | None = None,
              target: Target = ASSISTANTS_FUZZ,
              sdk: dict[str, list[Any]] | None = None) -> Result:
    """Feed one input and classify it against the clean replay's violations."""
    event = source.events[inp.index]
    name, data = event.get("event"), event.get("data")
    text = mutated_text(data, inp.path, inp.value, target)
    try:
        bad = _item(target, inp.mode, name, data, inp.path, inp.value, text)
    except Exception:  # the SDK's own builder gave up: no input to feed
        return Result(refused=True)
    items = _items(source, inp.mode, target, sdk)
    flow = target.new_flow()
    problems: list[str] = []
    try:
        if target.stepwise:
            problems = stepwise_problems(flow, inp.mode, items, inp.index, bad)
        else:
            _feed_all(flow, inp.mode, [*items[:inp.index], bad, *items[inp.index + 1:]])
        read_everything(flow)
        if target.layers and inp.mode == "sse":
            run_layers(flow, b"".join([*items[:inp.index], bad, *items[inp.index + 1:]]))
    except Exception as exc:  # counting these is the point
        message = str(exc).splitlines()[0][:200] if str(exc) else ""
        return Result(escape=Escape(type(exc).__name__, escape_site(exc), message, inp))
    if clean is None:
        clean = _verdict(_clean(source, inp.mode, target, sdk))
    return Result(detected=_verdict(flow) != clean,
                  inconsistent=(*inconsistencies(flow), *problems))


# --------------------------------------------------------------------------- #
# a run
# --------------------------------------------------------------------------- #
@dataclass
class TypeFuzzReport:
    """What a type-confusion run found."""

    inputs: int = 0
    detected: int = 0
    escapes: list[Escape] = field(default_factory=list)
    inconsistent: list[tuple[Input, tuple[str, ...]]] = field(default_factory=list)
    per_value: Counter[str] = field(default_factory=Counter)
    escapes_per_value: Counter[str] = field(default_factory=Counter)
    detected_per_value: Counter[str] = field(default_factory=Counter)
    space: int = 0
    """How many distinct inputs the corpus holds."""
    sources: int = 0
    labels: tuple[str, ...] = ASSISTANTS_FUZZ.labels
    refused: int = 0
    """Inputs the SDK could not build an event object for (``sdk`` mode)."""
    corrupted: list[str] = field(default_factory=list)
    """Seed streams whose events a flow changed in place (they must stay as given)."""
    peak: int = 0
    """The largest memory peak of the inputs run under ``tracemalloc`` (WebSocket)."""

    @property
    def untyped(self) -> int:
        return len(self.escapes)

    @property
    def rate(self) -> float:
        """Detected inputs over inputs that raised nothing."""
        fed = self.inputs - self.untyped - self.refused
        return self.detected / fed if fed else 0.0

    def sites(self) -> list[tuple[tuple[str, str], int, Escape]]:
        """``((type, site), count, first example)``, most frequent first."""
        count: Counter[tuple[str, str]] = Counter()
        first: dict[tuple[str, str], Escape] = {}
        for e in self.escapes:
            count[(e.type, e.site)] += 1
            first.setdefault((e.type, e.site), e)
        return [(k, n, first[k]) for k, n in count.most_common()]

    def format(self, top: int = 20) -> str:
        lines = [
            f"recordings: {self.sources}, distinct inputs: {self.space}, tried: {self.inputs}",
            f"untyped exceptions: {self.untyped}",
            f"flows left inconsistent: {len(self.inconsistent)}",
            f"detected: {self.detected} of {self.inputs - self.untyped - self.refused} fed "
            f"without exception ({100 * self.rate:.2f}%)",
        ]
        if self.refused:
            lines.append(f"refused by the SDK's event builder: {self.refused}")
        if self.peak:
            lines.append(f"largest memory peak measured: {self.peak / 2**20:.1f} MiB")
        lines += [f"CORRUPTED seed stream {name}" for name in self.corrupted]
        lines += ["", f"{'value':<18}{'inputs':>8}{'untyped':>9}{'detected':>10}"]
        for label in self.labels:
            lines.append(f"{label:<18}{self.per_value[label]:>8}"
                         f"{self.escapes_per_value[label]:>9}"
                         f"{self.detected_per_value[label]:>10}")
        for inp, problems in self.inconsistent[:top]:
            lines.append(f"INCONSISTENT {inp.describe()}: {'; '.join(problems)[:200]}")
        sites = self.sites()
        if sites:
            lines += ["", f"escape sites ({len(sites)}; top {min(top, len(sites))}):",
                      f"{'count':>6}  {'exception':<20}site / example"]
            for (kind, site), n, example in sites[:top]:
                lines.append(f"{n:>6}  {kind:<20}{site}")
                lines.append(f"{'':>28}{example.input.describe()}: {example.message[:100]}")
        return "\n".join(lines)


class Seeded(Protocol):
    """What :func:`nth_input` reads of a seed (a recording's :class:`Source`, or a
    WebSocket conversation): its name and each (event or frame, JSON path)."""

    @property
    def name(self) -> str: ...

    @property
    def paths(self) -> tuple[tuple[int, JSONPath], ...]: ...


def nth_input(seeds: Sequence[Seeded], target: Target, n: int) -> Input:
    """Input number ``n`` of a corpus, in order: seeds, their (event, path) pairs,
    values, modes."""
    labels, modes = target.labels, target.modes
    k, rest = divmod(n, len(labels) * len(modes))
    label, mode = labels[rest // len(modes)], modes[rest % len(modes)]
    for seed in seeds:
        if k < len(seed.paths):
            index, path = seed.paths[k]
            return Input(seed.name, index, path, label, mode)
        k -= len(seed.paths)
    raise IndexError(n)


def run_typefuzz(corpus: Corpus, budget: int, seed: int = 0, *,
                 progress: Callable[[int, int, TypeFuzzReport], None] | None = None,
                 every: int = 500) -> TypeFuzzReport:
    """Feed ``budget`` inputs picked with ``seed`` (all of them, in order, if the
    corpus holds no more); ``progress(done, total, report)`` every ``every`` inputs."""
    target = corpus.target
    total = corpus.size
    if budget >= total:
        picks: Sequence[int] = range(total)
    else:
        picks = sorted(random.Random(seed).sample(range(total), budget))
    by_name: Mapping[str, Source] = {s.name: s for s in corpus.sources}
    sdk: dict[str, list[Any]] = {}
    clean = {(s.name, mode): _verdict(_clean(s, mode, target, sdk))
             for s in corpus.sources for mode in target.modes}
    given = {s.name: repr(s.events) for s in corpus.sources}
    report = TypeFuzzReport(space=total, sources=len(corpus.sources), labels=target.labels)
    for done, n in enumerate(picks, start=1):
        inp = nth_input(corpus.sources, target, n)
        result = run_input(by_name[inp.source], inp, clean[(inp.source, inp.mode)], target,
                           sdk)
        report.inputs += 1
        report.per_value[inp.value] += 1
        if result.refused:
            report.refused += 1
        if result.inconsistent:
            report.inconsistent.append((inp, result.inconsistent))
        if result.escape is not None:
            report.escapes.append(result.escape)
            report.escapes_per_value[inp.value] += 1
        elif result.detected:
            report.detected += 1
            report.detected_per_value[inp.value] += 1
        if progress is not None and (done % every == 0 or done == len(picks)):
            progress(done, len(picks), report)
    report.corrupted = [s.name for s in corpus.sources if repr(s.events) != given[s.name]]
    return report
