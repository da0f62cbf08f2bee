"""The long type-fuzz run's machinery (issue 24): the layers on a fixed sample, the
picture before the mutated event kept for the inputs that share it, the memory
bound, the SDK's builder kept from blowing up, and ``--jobs``.

Each works on the item-family seed streams (no recordings needed).
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import recordings_dir

import runflow.testing.typefuzz as typefuzz
from runflow.testing.typefuzz import (
    RESPONSES_FUZZ,
    Corpus,
    Input,
    layers_sampled,
    nth_input,
    picks,
    run_input,
    run_typefuzz,
    seed_corpus,
)
from runflow.testing.typefuzz_run import run_parallel
from runflow.testing.typefuzz_sdk import PROBE, Refused, sdk_built
from runflow.testing.typefuzz_seeds import item_family_seeds
from runflow.testing.typefuzz_stepwise import PrefixCache
from runflow.testing.typefuzz_target import _responses_sdk_event

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"


@cache
def corpus() -> Corpus:
    return seed_corpus(item_family_seeds(), RESPONSES_FUZZ)


def _said(report: Any) -> tuple[Any, ...]:
    return (report.inputs, report.detected, dict(report.per_value), report.layered,
            report.measured, report.refused, [e.input for e in report.escapes],
            [i for i, _ in report.inconsistent])


def test_the_layers_run_on_a_fixed_tenth_of_the_inputs() -> None:
    sampled = [n for n in range(20_000) if layers_sampled(n, 10)]
    assert sampled == [n for n in range(20_000) if layers_sampled(n, 10)]
    assert 1_800 < len(sampled) < 2_200
    labels = {nth_input(corpus().sources, RESPONSES_FUZZ, n).value for n in sampled
              if n < corpus().size}
    assert labels == set(RESPONSES_FUZZ.labels)  # the sample spreads over every value
    assert all(layers_sampled(n, 1) for n in range(100))


def test_a_run_says_how_many_inputs_went_through_the_layers() -> None:
    report = run_typefuzz(corpus(), 400, seed=5)
    chosen = picks(corpus().size, 400, 5)
    expected = sum(1 for n in chosen if layers_sampled(n, 10)
                   and nth_input(corpus().sources, RESPONSES_FUZZ, n).mode == "sse")
    assert report.layered == expected > 0
    assert "check/conform/watch layers: " in report.format()


def test_the_kept_picture_gives_what_a_fresh_one_gives() -> None:
    """Inputs that change the same event share the picture of the flow before it:
    each input's result is the same as with a picture taken for it alone."""
    source = next(s for s in corpus().sources if s.name == "seed: message")
    prefix = PrefixCache()
    for index, path in source.paths[40:80]:
        for label in ("null", "[1]", "10k list", "300-deep list"):
            for mode in RESPONSES_FUZZ.modes:
                inp = Input(source.name, index, path, label, mode)
                shared = run_input(source, inp, None, RESPONSES_FUZZ, prefix=prefix)
                alone = run_input(source, inp, None, RESPONSES_FUZZ)
                assert shared == alone, inp.describe()
    assert prefix.kept  # and it was used


def test_the_kept_picture_catches_a_lost_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check still sees what the flow held before the mutated event when that
    picture was kept from an earlier input: a merge that replaces the text instead of
    adding to it is caught."""
    from runflow.protocols.responses.values import StreamedText

    source = next(s for s in corpus().sources if s.name == "seed: message")
    index = [i for i, e in enumerate(source.events)
             if e["event"] == "response.output_text.delta"][1]
    prefix = PrefixCache()
    first = run_input(source, Input(source.name, index, ("delta",), '"x"', "events"), None,
                      RESPONSES_FUZZ, prefix=prefix)
    assert first.inconsistent == ()

    def forgetful(self: StreamedText, data: Any, room: int, max_index: int) -> Any:
        self.chunks, self.value = [str(data["delta"])], None  # replaces instead of adding
        return len(self.chunks[0])

    monkeypatch.setattr(StreamedText, "merge", forgetful)
    second = run_input(source, Input(source.name, index, ("delta",), '""', "events"), None,
                       RESPONSES_FUZZ, prefix=prefix)
    assert any("the value of output_text" in p and "lost what it had" in p
               for p in second.inconsistent), second


def test_every_nth_input_is_measured_under_tracemalloc() -> None:
    report = run_typefuzz(corpus(), 300, seed=1, memory_every=50)
    assert report.measured == 6
    assert 0 < report.peak < typefuzz.MEMORY_BOUND
    assert "largest memory peak measured: " in report.format()


def test_a_peak_over_the_bound_is_an_inconsistency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(typefuzz, "MEMORY_BOUND", 1000)
    source = corpus().sources[0]
    result = run_input(source, Input(source.name, 2, (), "null", "sse"), None,
                       RESPONSES_FUZZ, measure=True)
    assert result.peak is not None and result.peak > 1000
    assert any(p.startswith("memory peak ") for p in result.inconsistent)


def test_the_sdk_builds_a_long_list_through_a_probe() -> None:
    """The SDK's construct_type takes ~200 KiB per element of a list at a union field
    (``response.instructions``: 2.2 GB for 10,000 ints): it is handed the first
    PROBE elements, and the full list is put in their place."""
    seen: list[int] = []

    def build(event: dict[str, Any]) -> Any:
        seen.append(len(event["data"]["response"]["instructions"]))
        return _responses_sdk_event(event)

    data = {"type": "response.created", "sequence_number": 0,
            "response": {"id": "r", "object": "response", "created_at": 1, "model": "m",
                         "status": "in_progress", "output": [], "tools": [],
                         "parallel_tool_calls": True, "tool_choice": "auto",
                         "instructions": None}}
    built = sdk_built(build, "response.created", data, ("response", "instructions"),
                      list(range(10_000)))
    assert seen == [PROBE]
    assert built.response.instructions == list(range(10_000))
    short = sdk_built(build, "response.created", data, ("response", "instructions"), [1, 2])
    assert seen == [PROBE, 2] and short.response.instructions == [1, 2]


def test_a_probe_the_sdk_changed_is_refused() -> None:
    def build(event: dict[str, Any]) -> Any:
        return _responses_sdk_event({"data": {**event["data"], "items": ["changed"]}})

    data = {"type": "response.created", "sequence_number": 0, "response": {}}
    with pytest.raises(Refused):
        sdk_built(build, "response.created", data, ("items",), list(range(1_000)))
    with pytest.raises(Refused):  # a list of other kinds past its first elements
        sdk_built(_responses_sdk_event, "response.created", data, ("response", "x"),
                  [*range(PROBE), "x"])


def test_jobs_give_the_same_report_as_one_process() -> None:
    alone = run_typefuzz(corpus(), 500, seed=4, memory_every=100)
    spread = run_parallel(corpus(), 500, seed=4, jobs=2, memory_every=100, chunk=60)
    inline = run_parallel(corpus(), 500, seed=4, jobs=1, memory_every=100, chunk=60)
    assert _said(spread) == _said(alone) == _said(inline)
    assert spread.measured == 5


def test_a_run_stopped_early_says_so() -> None:
    report = run_parallel(corpus(), 500, seed=4, stop_after=0.0)
    assert report.inputs < 500
    assert "STOPPED EARLY" in report.format()


def test_the_script_takes_jobs_and_shows_rate_and_eta() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--types", "--protocol", "responses", "-n", "60",
         "--jobs", "2", "--progress", "--recordings", str(recordings_dir())],
        capture_output=True, text=True, encoding="utf-8", timeout=600, check=False)
    assert "tried: 60" in proc.stdout and "2 jobs" in proc.stdout, proc.stdout + proc.stderr
    assert "[60/60]" in proc.stderr and "inputs/s" in proc.stderr and "ETA" in proc.stderr
    assert proc.returncode == (0 if proc.stdout.rstrip().endswith("PASS") else 1)
