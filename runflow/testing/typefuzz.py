"""Type-confusion fuzzing: every JSON value at every path, replaced by a wrong type.

The event-level fuzzer (:mod:`runflow.testing.fuzz`) mutates whole events; it never
puts an ``int`` where runflow reads a string. This one does. For every event of
every recording (``.jsonl`` and ``.sse``, read with :mod:`runflow.recording`) and
every JSON path in the event's data (the data itself included), the value is
replaced by each of :data:`VALUES` -- ``None``, ``0``, ``-1``, ``1.5``, ``""``,
``"x"``, ``[]``, ``{}``, ``[1]``, ``[{}]``, ``True``, a 1 MiB string -- and by
values that exist only as JSON text (:data:`RAW_VALUES`): a 300-deep nested list,
``NaN`` and a lone-surrogate escape ``"\\ud800"``.

Each mutated stream is one *input* per way of feeding it (:data:`MODES`):

* ``sse`` -- the whole stream as canonical SSE bytes (one ``event:`` and one
  ``data:`` line per event, :func:`~runflow.testing.fuzz.encode_sse`) through
  ``feed_sse``, then ``close``;
* ``events`` -- ``feed`` of ``{"event", "data"}`` dicts (the raw-text values as the
  data's JSON bytes, which ``feed`` parses), then ``close``.

Flows are non-strict, so *anything* raised by ``feed``/``feed_sse``/``close`` is an
**untyped exception**: the README promises bad input becomes a violation. They
are grouped into **escape sites**: exception type and the innermost frame inside
the ``runflow`` package (``runflow/content.py:123:merge``). An input is
**detected** when its violations differ from the clean replay's (code, entity and
event name; indices are left out). Some mutations change nothing runflow checks
(a timestamp set to ``0``), so the detection rate is a measure, not a target.

Deterministic: a seed picks the inputs, a budget bounds how many
(:func:`run_typefuzz`). Twin recordings whose events are the same are fuzzed once.
"""

from __future__ import annotations

import random
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from ..flow import RunFlow
from ..jsonparse import dump_json, parse_json
from ..recording import RecordingError, read_recording
from ..violations import Violation
from .fuzz import check_states, encode_sse, parse_sse
from .projection import BAD

__all__ = [
    "MODES",
    "RAW_VALUES",
    "VALUES",
    "Corpus",
    "Escape",
    "Input",
    "Result",
    "Source",
    "TypeFuzzReport",
    "escape_site",
    "inconsistencies",
    "json_paths",
    "load_corpus",
    "mutated_text",
    "run_input",
    "run_typefuzz",
]

JSONPath = tuple[str | int, ...]
"""A JSON path: dict keys and list indices from the event's data down."""

Mode = Literal["sse", "events"]
MODES: Final[tuple[Mode, ...]] = ("sse", "events")

MIB = 1024 * 1024

VALUES: Final[tuple[tuple[str, Any], ...]] = (
    ("null", None),
    ("0", 0),
    ("-1", -1),
    ("1.5", 1.5),
    ('""', ""),
    ('"x"', "x"),
    ("[]", []),
    ("{}", {}),
    ("[1]", [1]),
    ("[{}]", [{}]),
    ("true", True),
    ("1MiB string", "x" * MIB),
)
"""Replacement values that are Python objects: ``(label, value)``."""

RAW_VALUES: Final[tuple[tuple[str, str], ...]] = (
    ("300-deep list", "[" * 300 + "]" * 300),
    ("NaN", "NaN"),
    ("lone surrogate", '"\\ud800"'),
)
"""Replacement values that exist only as JSON text: ``(label, text)``. They reach
the flow as bytes (SSE, or ``data`` bytes to ``feed``), never as objects."""

_LABELS: Final = tuple(label for label, _ in VALUES) + tuple(label for label, _ in RAW_VALUES)
_SENTINEL: Final = "\x01typefuzz-raw-value\x01"
_PACKAGE: Final = Path(__file__).resolve().parent.parent
_SELF: Final = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- #
# the corpus: recordings as event lists, and every path of every event
# --------------------------------------------------------------------------- #
Event = dict[str, Any]


@dataclass(frozen=True)
class Source:
    """One recording: its events (wire order) and the canonical SSE bytes of each."""

    name: str
    events: tuple[Event, ...]
    blocks: tuple[bytes, ...]
    """``encode_sse`` of each event alone: the stream is their concatenation."""
    paths: tuple[tuple[int, JSONPath], ...]
    """Every (event index, JSON path) that can be replaced."""


@dataclass(frozen=True)
class Corpus:
    """The recordings to fuzz; inputs are numbered over them (:func:`run_typefuzz`)."""

    sources: tuple[Source, ...]
    skipped: tuple[str, ...] = ()
    """Recordings left out, with why (a twin of an earlier one, unreadable)."""

    @property
    def size(self) -> int:
        """How many distinct inputs exist (paths x values x modes)."""
        return sum(len(s.paths) for s in self.sources) * len(_LABELS) * len(MODES)


def json_paths(value: Any) -> Iterator[JSONPath]:
    """Every path in ``value``, the root ``()`` first, then depth first."""
    todo: list[tuple[JSONPath, Any]] = [((), value)]
    while todo:
        path, item = todo.pop()
        yield path
        if isinstance(item, dict):
            todo.extend(((*path, k), v) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            todo.extend(((*path, i), v) for i, v in reversed(list(enumerate(item))))


def _events_of(path: Path) -> list[Event]:
    recording = read_recording(path)
    if recording.format == "sse":
        return [e for e in parse_sse(recording.data) if e.get("data") is not BAD]
    events = []
    for line in recording.data.splitlines():
        if line.strip():
            event = parse_json(line)
            if isinstance(event, dict):
                events.append(event)
    return events


def load_corpus(folder: Path, names: Sequence[str] | None = None) -> Corpus:
    """The ``.jsonl`` and ``.sse`` recordings of ``folder`` (or just ``names``)."""
    files = sorted(p for p in folder.iterdir() if p.suffix in (".jsonl", ".sse")) \
        if names is None else [folder / n for n in names]
    sources: list[Source] = []
    skipped: list[str] = []
    seen: dict[str, str] = {}
    for path in files:
        try:
            events = _events_of(path)
        except (OSError, ValueError, RecordingError) as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        key = dump_json(events)[0]
        if key in seen:
            skipped.append(f"{path.name}: same events as {seen[key]}")
            continue
        seen[key] = path.name
        blocks = tuple(encode_sse([e])[0] for e in events)
        paths = tuple(
            (i, p) for i, e in enumerate(events)
            if isinstance(e.get("data"), (dict, list)) for p in json_paths(e["data"])
        )
        sources.append(Source(path.name, tuple(events), blocks, paths))
    return Corpus(tuple(sources), tuple(skipped))


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
    """The label of the replacement (:data:`VALUES`, :data:`RAW_VALUES`)."""
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


def mutated_text(data: Any, path: JSONPath, label: str) -> str:
    """The JSON text of ``data`` with the value at ``path`` replaced by ``label``'s."""
    raw = dict(RAW_VALUES).get(label)
    if raw is None:
        return dump_json(_replaced(data, path, dict(VALUES)[label]))[0]
    text = dump_json(_replaced(data, path, _SENTINEL))[0]
    quoted = dump_json(_SENTINEL)[0]
    return text.replace(quoted, raw, 1)


def _object_of(data: Any, path: JSONPath, label: str, text: str) -> Any:
    """What ``feed`` gets as data: the mutated object, or its bytes for raw text."""
    if label in dict(RAW_VALUES):
        return text.encode("utf-8")
    return _replaced(data, path, dict(VALUES)[label])


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


def _key(v: Violation) -> tuple[str, str | None, str | None]:
    return (v.code.value, str(v.entity) if v.entity is not None else None, v.event)


def _verdict(flow: RunFlow) -> Counter[tuple[str, str | None, str | None]]:
    return Counter(_key(v) for v in flow.violations)


def _feed(source: Source, index: int, name: str, mode: Mode, data: Any,
          text: str) -> RunFlow:
    """Feed the stream with event ``index`` replaced, and close; may raise."""
    flow = RunFlow()
    if mode == "sse":
        block = f"event: {name}\ndata: {text}\n\n".encode("utf-8", "surrogatepass")
        flow.feed_sse(b"".join((*source.blocks[:index], block, *source.blocks[index + 1:])))
    else:
        for i, event in enumerate(source.events):
            flow.feed({"event": name, "data": data} if i == index else event)
    flow.close()
    return flow


def _clean(source: Source, mode: Mode) -> RunFlow:
    flow = RunFlow()
    if mode == "sse":
        flow.feed_sse(b"".join(source.blocks))
    else:
        for event in source.events:
            flow.feed(event)
    flow.close()
    return flow


@dataclass(frozen=True)
class Result:
    """What one input did."""

    escape: Escape | None = None
    detected: bool = False
    inconsistent: tuple[str, ...] = ()
    """States outside the table, and entities left ``unseen``."""


def inconsistencies(flow: RunFlow) -> list[str]:
    """States outside the protocol table, steps or messages still ``unseen``, and
    internal errors (an exception the engine caught as its last line of defence)."""
    bad = check_states(flow)
    bad += [f"internal_error #{v.index}: {v.message}" for v in flow.violations
            if v.code.value == "internal_error"]
    for kind, states in (("step", flow.step_states), ("message", flow.message_states)):
        bad += [f"{kind} {oid} left unseen" for oid, st in states.items() if st == "unseen"]
    return bad


def run_input(source: Source, inp: Input,
              clean: Counter[tuple[str, str | None, str | None]] | None = None) -> Result:
    """Feed one input and classify it against the clean replay's violations."""
    event = source.events[inp.index]
    name, data = str(event.get("event")), event.get("data")
    text = mutated_text(data, inp.path, inp.value)
    obj = _object_of(data, inp.path, inp.value, text)
    try:
        flow = _feed(source, inp.index, name, inp.mode, obj, text)
    except Exception as exc:  # counting these is the point
        message = str(exc).splitlines()[0][:200] if str(exc) else ""
        return Result(escape=Escape(type(exc).__name__, escape_site(exc), message, inp))
    if clean is None:
        clean = _verdict(_clean(source, inp.mode))
    return Result(detected=_verdict(flow) != clean, inconsistent=tuple(inconsistencies(flow)))


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

    @property
    def untyped(self) -> int:
        return len(self.escapes)

    @property
    def rate(self) -> float:
        """Detected inputs over inputs that raised nothing."""
        fed = self.inputs - self.untyped
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
            f"detected: {self.detected} of {self.inputs - self.untyped} fed without "
            f"exception ({100 * self.rate:.2f}%)",
            "",
            f"{'value':<16}{'inputs':>8}{'untyped':>9}{'detected':>10}",
        ]
        for label in _LABELS:
            lines.append(f"{label:<16}{self.per_value[label]:>8}"
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


def _nth(corpus: Corpus, n: int) -> Input:
    """Input number ``n`` of the corpus, in order: sources, their (event, path)
    pairs, values, modes."""
    per_path = len(_LABELS) * len(MODES)
    k, rest = divmod(n, per_path)
    label, mode = _LABELS[rest // len(MODES)], MODES[rest % len(MODES)]
    for source in corpus.sources:
        if k < len(source.paths):
            index, path = source.paths[k]
            return Input(source.name, index, path, label, mode)
        k -= len(source.paths)
    raise IndexError(n)


def run_typefuzz(corpus: Corpus, budget: int, seed: int = 0, *,
                 progress: Callable[[int, int, TypeFuzzReport], None] | None = None,
                 every: int = 500) -> TypeFuzzReport:
    """Feed ``budget`` inputs picked with ``seed`` (all of them, in order, if the
    corpus holds no more); ``progress(done, total, report)`` every ``every`` inputs."""
    total = corpus.size
    if budget >= total:
        picks: Sequence[int] = range(total)
    else:
        picks = sorted(random.Random(seed).sample(range(total), budget))
    by_name: Mapping[str, Source] = {s.name: s for s in corpus.sources}
    clean = {(s.name, mode): _verdict(_clean(s, mode)) for s in corpus.sources for mode in MODES}
    report = TypeFuzzReport(space=total, sources=len(corpus.sources))
    for done, n in enumerate(picks, start=1):
        inp = _nth(corpus, n)
        result = run_input(by_name[inp.source], inp, clean[(inp.source, inp.mode)])
        report.inputs += 1
        report.per_value[inp.value] += 1
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
    return report
