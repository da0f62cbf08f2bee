"""What a type-fuzz run (:mod:`runflow.testing.typefuzz`) tallies: one input, what it
did, and the report over a run (or over a part of one, merged in order)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from runflow.testing.typefuzz_target import ASSISTANTS_FUZZ, JSONPath, Mode
from runflow.testing.typefuzz_types import TypesRun

__all__ = ["KEY", "Escape", "Input", "Result", "TypeFuzzReport", "kind_of"]

KEY = "key "
"""How a key mutation's label begins (:mod:`runflow.testing.typefuzz_keys`)."""


def kind_of(label: str) -> str:
    """The kind of mutation ``label`` names: ``value``, or the key mutation's verb
    (``key add``, ``key remove``, ``key rename``, ``key twin``, ``key dup``)."""
    return " ".join(label.split()[:2]) if label.startswith(KEY) else "value"


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
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p!r:.60}"
                        if not p.isidentifier() else f".{p}" for p in self.path)
        change = f": {self.value}" if self.value.startswith(KEY) else f" = {self.value}"
        return f"{self.source} #{self.index} data{where or ''}{change} ({self.mode})"


@dataclass(frozen=True)
class Escape:
    """An untyped exception: where it came from and the input that raised it."""

    type: str
    site: str
    message: str
    input: Input


@dataclass(frozen=True)
class Result:
    """What one input did."""

    escape: Escape | None = None
    detected: bool = False
    inconsistent: tuple[str, ...] = ()
    """States outside the tables, entities left ``unseen``, internal errors, and
    what :func:`~runflow.testing.typefuzz_stepwise.stepwise_problems` found."""
    refused: bool = False
    """The SDK could not build the mutated event (``sdk`` mode): nothing was fed."""
    layered: bool = False
    """``check``'s, ``conform``'s and ``watch``'s layers ran on this input too."""
    peak: int | None = None
    """The memory peak of feeding and reading this input (measured inputs only)."""
    typed: TypesRun | None = None
    """What the types layer did (run once per mutation, on its first mode's input)."""
    checkpointed: bool = False
    """The flow's checkpoint was loaded back (every key input, a sample of the value
    inputs: :func:`~runflow.testing.typefuzz.checkpoint_sampled`)."""
    sdk_seconds: float = field(default=0.0, compare=False)
    """Time the openai SDK took to build the mutated event (``sdk`` mode)."""


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
    """The largest memory peak of the inputs run under ``tracemalloc``."""
    measured: int = 0
    """How many inputs ran under ``tracemalloc``."""
    layered: int = 0
    """How many inputs also went through ``check``'s, ``conform``'s and ``watch``'s
    layers (every ``sse`` input, or a sample: :attr:`~.Target.layers_every`)."""
    layers_every: int = 1
    typed: int = 0
    """How many inputs went through the types layer (every mutation once)."""
    typed_findings: int = 0
    """The findings it gave (``types.*`` warnings)."""
    typed_calls: int = 0
    """The validations of an object against an SDK class it made."""
    typed_most: int = 0
    """The most errors one of them returned (bounded by the class, not the value)."""
    checkpointed: int = 0
    """How many inputs had their flow's checkpoint loaded back."""
    checkpointed_values: int = 0
    """How many of those were value inputs (a fixed 1 in
    :data:`~runflow.testing.typefuzz_target.CHECKPOINT_EVERY`; every key input is)."""
    sdk_seconds: float = 0.0
    """Time spent in the openai SDK building the mutated events (``sdk`` mode): the
    harness's cost, not runflow's."""
    planned: int = 0
    """How many inputs the run was asked for (more than :attr:`inputs` when it was
    stopped early)."""

    @property
    def untyped(self) -> int:
        return len(self.escapes)

    @property
    def rate(self) -> float:
        """Detected inputs over inputs that raised nothing."""
        fed = self.inputs - self.untyped - self.refused
        return self.detected / fed if fed else 0.0

    def add(self, inp: Input, result: Result) -> None:
        """Count one input's result."""
        self.inputs += 1
        self.per_value[inp.value] += 1
        self.refused += result.refused
        self.layered += result.layered
        self.checkpointed += result.checkpointed
        if result.typed is not None:
            self.typed += 1
            self.typed_findings += result.typed.findings
            self.typed_calls += result.typed.calls
            self.typed_most = max(self.typed_most, result.typed.most_errors)
        self.checkpointed_values += result.checkpointed and kind_of(inp.value) == "value"
        self.sdk_seconds += result.sdk_seconds
        if result.peak is not None:
            self.measured += 1
            self.peak = max(self.peak, result.peak)
        if result.inconsistent:
            self.inconsistent.append((inp, result.inconsistent))
        if result.escape is not None:
            self.escapes.append(result.escape)
            self.escapes_per_value[inp.value] += 1
        elif result.detected:
            self.detected += 1
            self.detected_per_value[inp.value] += 1

    def merge(self, part: TypeFuzzReport) -> None:
        """Add the counts of ``part`` (a later part of the same run) to this one."""
        for name in ("inputs", "detected", "refused", "measured", "layered", "checkpointed",
                     "checkpointed_values", "typed", "typed_findings", "typed_calls",
                     "sdk_seconds"):
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.escapes += part.escapes
        self.inconsistent += part.inconsistent
        self.per_value.update(part.per_value)
        self.escapes_per_value.update(part.escapes_per_value)
        self.detected_per_value.update(part.detected_per_value)
        self.peak = max(self.peak, part.peak)
        self.typed_most = max(self.typed_most, part.typed_most)
        self.corrupted += [name for name in part.corrupted if name not in self.corrupted]

    def _kinds(self, width: int) -> list[str]:
        """Subtotals per kind of mutation (:func:`kind_of`), when there are several."""
        kinds: dict[str, list[int]] = {}
        for label in self.labels:
            row = kinds.setdefault(kind_of(label), [0, 0, 0, 0])
            inconsistent = sum(1 for inp, _ in self.inconsistent if inp.value == label)
            for i, n in enumerate((self.per_value[label], self.escapes_per_value[label],
                                   self.detected_per_value[label], inconsistent)):
                row[i] += n
        if len(kinds) < 2:
            return []
        out = ["", f"{'kind':<{width}}{'inputs':>8}{'untyped':>9}{'detected':>10}"
                   f"{'inconsistent':>14}"]
        out += [f"{kind:<{width}}{a:>8}{b:>9}{c:>10}{d:>14}" for kind, (a, b, c, d)
                in kinds.items()]
        return out

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
        if self.planned > self.inputs:
            lines.append(f"STOPPED EARLY: {self.inputs} of {self.planned} inputs run")
        if self.layers_every > 1:
            lines.append(f"check/conform/watch layers: {self.layered} inputs (1 in "
                         f"{self.layers_every} of those fed as SSE); every input: feed_sse "
                         "or feed, stepwise checks, read API")
        if self.checkpointed:
            keys = self.checkpointed - self.checkpointed_values
            lines.append(f"checkpoints loaded back: {self.checkpointed} inputs "
                         f"({self.checkpointed_values} value inputs, {keys} key inputs)")
        if self.typed:
            lines.append(f"types layer: {self.typed} inputs (every mutation once), "
                         f"{self.typed_findings} findings, {self.typed_calls} validations, "
                         f"at most {self.typed_most} errors from one")
        if self.refused:
            lines.append(f"refused by the SDK's event builder: {self.refused}")
        if self.sdk_seconds:
            lines.append(f"the openai SDK building mutated events: {self.sdk_seconds:.1f} s "
                         "(the harness's time)")
        if self.measured:
            lines.append(f"largest memory peak measured: {self.peak / 2**20:.1f} MiB "
                         f"({self.measured} inputs under tracemalloc)")
        lines += [f"CORRUPTED seed stream {name}" for name in self.corrupted]
        width = max(18, *(len(label) + 2 for label in self.labels))
        lines += ["", f"{'mutation':<{width}}{'inputs':>8}{'untyped':>9}{'detected':>10}"]
        for label in self.labels:
            lines.append(f"{label:<{width}}{self.per_value[label]:>8}"
                         f"{self.escapes_per_value[label]:>9}"
                         f"{self.detected_per_value[label]:>10}")
        lines += self._kinds(width)
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
