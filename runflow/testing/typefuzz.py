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
layers and ``watch``'s player (:mod:`runflow.testing.typefuzz_layers`), or by the
types layer run over every mutation once (:mod:`runflow.testing.typefuzz_types`,
which also judges its findings and counts its work). They
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
seed events it was given (``TypeFuzzReport.corrupted``), and that the flow's
checkpoint loads back as saved: for every key input (:data:`Target.keys`,
:mod:`runflow.testing.typefuzz_keys`) and a fixed 1 in :data:`CHECKPOINT_EVERY` of
the value inputs.

The layers cost more than the flow on the large Responses captures, so a target can
run them on a fixed sample (:attr:`Target.layers_every`, :func:`layers_sampled`: 1 in
10 of the Responses ``sse`` inputs); every input still goes through ``feed_sse`` or
``feed``, the stepwise checks and the read API. The inputs that change the same
event share the picture of the flow before it (:class:`PrefixCache`): they fed the
same events before it. Every ``memory_every``-th input of a run is fed once more
under ``tracemalloc`` (:func:`memory_peak`: the SDK's objects and the SSE bytes are
built before, so the harness's building is not charged to runflow); a peak over
:data:`MEMORY_BOUND` is an inconsistency. In ``sdk`` mode a long list is built
through a probe (:mod:`runflow.testing.typefuzz_sdk`: the SDK's builder takes
~200 KiB per element of a list at a union field).

Deterministic: a seed picks the inputs, a budget bounds how many
(:func:`run_typefuzz`; :func:`runflow.testing.typefuzz_run.run_parallel` spreads
the same inputs over processes). Twin recordings whose events are the same are
fuzzed once.
"""

from __future__ import annotations

import json
import random
import time
import traceback
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
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
    replaced,
    seed_corpus,
    spaces,
    sse_block,
)
from runflow.testing.typefuzz_keyinput import key_mutated, key_problems
from runflow.testing.typefuzz_layers import read_everything, run_layers
from runflow.testing.typefuzz_report import Escape, Input, Result, TypeFuzzReport
from runflow.testing.typefuzz_sdk import Refused, sdk_built
from runflow.testing.typefuzz_stepwise import PrefixCache, stepwise_problems
from runflow.testing.typefuzz_target import (
    ASSISTANTS_FUZZ,
    CHECKPOINT_EVERY,
    HOSTILE_RAW,
    HOSTILE_VALUES,
    MEMORY_BOUND,
    MEMORY_EVERY,
    MODES,
    RAW_VALUES,
    RESPONSES_FUZZ,
    VALUES,
    JSONPath,
    Mode,
    Target,
)
from runflow.testing.typefuzz_types import tapped, types_problems

__all__ = [
    "ASSISTANTS_FUZZ",
    "CHECKPOINT_EVERY",
    "HOSTILE_RAW",
    "HOSTILE_VALUES",
    "MEMORY_BOUND",
    "MODES",
    "RAW_VALUES",
    "RESPONSES_FUZZ",
    "VALUES",
    "Corpus",
    "Escape",
    "Input",
    "Result",
    "Runner",
    "Seeded",
    "Source",
    "Target",
    "TypeFuzzReport",
    "checkpoint_sampled",
    "escape_site",
    "inconsistencies",
    "json_paths",
    "layers_sampled",
    "load_corpus",
    "memory_peak",
    "mutated_text",
    "new_report",
    "nth_input",
    "picks",
    "run_input",
    "run_typefuzz",
    "seed_corpus",
    "stepwise_problems",
]

_SENTINEL: Final = "\x01typefuzz-raw-value\x01"
_SALT: Final = 1 << 40
"""Makes the checkpoint sample another sample than the layers' one."""
_PACKAGE: Final = Path(__file__).resolve().parent.parent
_SELF: Final = Path(__file__).resolve().parent
# --------------------------------------------------------------------------- #
# one input
# --------------------------------------------------------------------------- #
def mutated_text(data: Any, path: JSONPath, label: str,
                 target: Target = ASSISTANTS_FUZZ, event: str | None = None) -> str:
    """The JSON text of ``data`` with the value at ``path`` replaced by ``label``'s, or
    changed by ``label``'s key mutation (``event``: the event's name)."""
    where, new, raw = _mutated(data, path, label, target, event)
    if raw is None:
        return dump_json(replaced(data, where, new))[0]
    text = dump_json(replaced(data, where, _SENTINEL))[0]
    quoted = dump_json(_SENTINEL)[0]
    return text.replace(quoted, raw, 1)


def _mutated(data: Any, path: JSONPath, label: str, target: Target,
             event: str | None) -> tuple[JSONPath, Any, str | None]:
    """``(where, new value, or None and its JSON text)`` of ``label`` at ``path``."""
    m = target.key(label)
    if m is not None:
        return key_mutated(data, path, m, event)
    raw = target.raw(label)
    return path, None if raw is not None else target.value(label), raw


def _item(target: Target, mode: Mode, name: str | None, data: Any, path: JSONPath,
          label: str, text: str) -> Any:
    """What the flow gets for the mutated event in ``mode``; raises :class:`Refused`
    when the SDK cannot build it (``sdk`` mode)."""
    if mode == "sse":
        return sse_block(name, text)
    where, new, raw = _mutated(data, path, label, target, name)
    if mode == "events":
        obj = text.encode("utf-8", "surrogatepass") if raw is not None else replaced(
            data, where, new)
        return {"event": name, "data": obj}
    if target.sdk_event is None:
        raise ValueError(f"the {target.name} target has no sdk mode")
    if raw is not None:
        return sdk_built(target.sdk_event, name, None, (), json.loads(text))
    return sdk_built(target.sdk_event, name, data, where, new)


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


def memory_peak(target: Target, mode: Mode, stream: Sequence[Any]) -> int:
    """The ``tracemalloc`` peak of feeding ``stream`` (built before: the SDK's
    objects and the SSE bytes are the harness's) to a new flow, closing it and
    reading its whole read API; may raise what the flow raises."""
    data = b"".join(stream) if mode == "sse" else None
    tracemalloc.start()
    try:
        flow = target.new_flow()
        if data is not None:
            flow.feed_sse(data)
        else:
            for item in stream:
                flow.feed(item)
        flow.close()
        read_everything(flow)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _escape(exc: Exception, inp: Input) -> Escape:
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    return Escape(type(exc).__name__, escape_site(exc), message, inp)


def run_input(source: Source, inp: Input, clean: Verdict | None = None,
              target: Target = ASSISTANTS_FUZZ,
              sdk: dict[str, list[Any]] | None = None, *, layers: bool = True,
              measure: bool = False, prefix: PrefixCache | None = None,
              checkpoint: bool = False) -> Result:
    """Feed one input and classify it against the clean replay's violations.

    ``layers``: also run ``check``'s, ``conform``'s and ``watch``'s layers (when the
    target has them and the input is fed as SSE). ``measure``: also feed it once more
    under ``tracemalloc`` (:func:`memory_peak`; over :data:`MEMORY_BOUND` is an
    inconsistency). ``prefix``: where the stepwise check keeps what the flow held
    before the mutated event, shared by the inputs that change the same event.
    ``checkpoint``: also load the flow's checkpoint back (a key input always does:
    :func:`~runflow.testing.typefuzz_keyinput.key_problems`)."""
    event = source.events[inp.index]
    name, data = event.get("event"), event.get("data")
    text = mutated_text(data, inp.path, inp.value, target, name)
    start = time.perf_counter()
    try:
        bad = _item(target, inp.mode, name, data, inp.path, inp.value, text)
    except Refused:  # the SDK's own builder gave up: no input to feed
        return Result(refused=True, sdk_seconds=time.perf_counter() - start)
    sdk_seconds = time.perf_counter() - start if inp.mode == "sdk" else 0.0
    items = _items(source, inp.mode, target, sdk)
    stream = [*items[:inp.index], bad, *items[inp.index + 1:]]
    layered = layers and target.layers and inp.mode == "sse"
    flow = target.new_flow()
    problems: list[str] = []
    peak = typed = None
    try:
        if target.stepwise:
            key = (source.name, inp.mode, inp.index)
            problems = stepwise_problems(flow, inp.mode, items, inp.index, bad,
                                         prefix=prefix, key=key)
        else:
            _feed_all(flow, inp.mode, stream)
        read_everything(flow)
        if layered:
            run_layers(flow, b"".join(stream))
        if target.types and inp.mode == target.modes[0]:  # once per mutation
            typed = types_problems(flow.protocol, tapped(flow.protocol, source.events,
                                                         inp.index, text))
            problems += typed.problems
        mutation = target.key(inp.value)
        checkpointed = mutation is not None or checkpoint
        if checkpointed:
            problems += key_problems(flow, target, inp.mode, source.events, inp.index,
                                     text, mutation is not None and mutation.duplicate)
        if measure:
            peak = memory_peak(target, inp.mode, stream)
    except Exception as exc:  # counting these is the point
        return Result(escape=_escape(exc, inp), sdk_seconds=sdk_seconds)
    if peak is not None and peak > MEMORY_BOUND:
        problems.append(f"memory peak {peak / 2**20:.1f} MiB over "
                        f"{MEMORY_BOUND / 2**20:.0f} MiB")
    if clean is None:
        clean = _verdict(_clean(source, inp.mode, target, sdk))
    return Result(detected=_verdict(flow) != clean,
                  inconsistent=(*inconsistencies(flow), *problems), layered=layered,
                  peak=peak, sdk_seconds=sdk_seconds, checkpointed=checkpointed, typed=typed)


# --------------------------------------------------------------------------- #
# a run
# --------------------------------------------------------------------------- #
class Seeded(Protocol):
    """What :func:`nth_input` reads of a seed (a recording's :class:`Source`, or a
    WebSocket conversation): its name and each (event or frame, JSON path) of every
    value, object and value held under a key."""

    @property
    def name(self) -> str: ...

    @property
    def paths(self) -> tuple[tuple[int, JSONPath], ...]: ...

    @property
    def objects(self) -> tuple[tuple[int, JSONPath], ...]: ...

    @property
    def keyed(self) -> tuple[tuple[int, JSONPath], ...]: ...


def nth_input(seeds: Sequence[Seeded], target: Target, n: int) -> Input:
    """Input number ``n`` of a corpus, in order: the value inputs (seeds, their
    (event, path) pairs, values, modes), then the key inputs at objects and at keys
    (:func:`~runflow.testing.typefuzz_corpus.spaces`, numbered the same way)."""
    modes = target.modes
    for attr, labels in spaces(target):
        if not labels:
            continue
        k, rest = divmod(n, len(labels) * len(modes))
        label, mode = labels[rest // len(modes)], modes[rest % len(modes)]
        for seed in seeds:
            sites: tuple[tuple[int, JSONPath], ...] = getattr(seed, attr)
            if k < len(sites):
                index, path = sites[k]
                return Input(seed.name, index, path, label, mode)
            k -= len(sites)
        n = k * len(labels) * len(modes) + rest  # the number within the next space
    raise IndexError(n)


def picks(total: int, budget: int, seed: int) -> Sequence[int]:
    """The input numbers a run takes: ``budget`` of ``total`` picked with ``seed``,
    in order (all of them if there are no more)."""
    if budget >= total:
        return range(total)
    return sorted(random.Random(seed).sample(range(total), budget))


def layers_sampled(n: int, every: int) -> bool:
    """Whether input number ``n`` is one of the 1 in ``every`` that also go through
    the layers: a hash of the number, so the sample spreads over values and modes
    (every number when ``every`` is 1)."""
    return every <= 1 or zlib.crc32(n.to_bytes(8, "little")) % every == 0


def checkpoint_sampled(n: int) -> bool:
    """Whether value input number ``n`` is one of the 1 in :data:`CHECKPOINT_EVERY`
    whose checkpoint is loaded back (another sample than the layers')."""
    return layers_sampled(n + _SALT, CHECKPOINT_EVERY)


class Runner:
    """Runs the inputs of one corpus, computing once what they share: the clean
    replays' verdicts, the SDK's objects for the clean events, and (for inputs that
    change the same event) what the flow held before it."""

    def __init__(self, corpus: Corpus, memory_every: int = MEMORY_EVERY) -> None:
        self.corpus = corpus
        self.memory_every = memory_every
        self.by_name: Mapping[str, Source] = {s.name: s for s in corpus.sources}
        self.sdk: dict[str, list[Any]] = {}
        self.clean: dict[tuple[str, Mode], Verdict] = {}
        self.prefix = PrefixCache()
        self.given = {s.name: repr(s.events) for s in corpus.sources}

    def run(self, position: int, n: int, report: TypeFuzzReport) -> None:
        """Run input number ``n``, the ``position``-th of its run (every
        ``memory_every``-th is measured), into ``report``."""
        target = self.corpus.target
        inp = nth_input(self.corpus.sources, target, n)
        source = self.by_name[inp.source]
        key = (inp.source, inp.mode)
        if key not in self.clean:
            self.clean[key] = _verdict(_clean(source, inp.mode, target, self.sdk))
        measure = self.memory_every > 0 and (position + 1) % self.memory_every == 0
        result = run_input(source, inp, self.clean[key], target, self.sdk,
                           layers=layers_sampled(n, target.layers_every), measure=measure,
                           prefix=self.prefix,
                           checkpoint=checkpoint_sampled(n))
        report.add(inp, result)

    def corrupted(self) -> list[str]:
        """The seed streams a flow changed in place."""
        return [s.name for s in self.corpus.sources if repr(s.events) != self.given[s.name]]


def new_report(corpus: Corpus, planned: int) -> TypeFuzzReport:
    target = corpus.target
    return TypeFuzzReport(space=corpus.size, sources=len(corpus.sources),
                          labels=target.labels, layers_every=target.layers_every,
                          planned=planned)


def run_typefuzz(corpus: Corpus, budget: int, seed: int = 0, *,
                 progress: Callable[[int, int, TypeFuzzReport], None] | None = None,
                 every: int = 500, memory_every: int = MEMORY_EVERY) -> TypeFuzzReport:
    """Feed ``budget`` inputs picked with ``seed`` (all of them, in order, if the
    corpus holds no more), in this process; ``progress(done, total, report)`` every
    ``every`` inputs. (:func:`runflow.testing.typefuzz_run.run_parallel` spreads
    the same run over processes.)"""
    chosen = picks(corpus.size, budget, seed)
    runner = Runner(corpus, memory_every)
    report = new_report(corpus, len(chosen))
    for position, n in enumerate(chosen):
        runner.run(position, n, report)
        done = position + 1
        if progress is not None and (done % every == 0 or done == len(chosen)):
            progress(done, len(chosen), report)
    report.corrupted = runner.corrupted()
    return report
