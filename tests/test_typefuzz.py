"""Type-confusion fuzzing (issue 12; engine: :mod:`runflow.testing.typefuzz`).

Every JSON value at every path of every recorded event, replaced by a value of
another type, must give violations and never an untyped exception. The bounded run
here takes 4,000 of the ~660,000 inputs (seed 0); the long run is
``python benchmarks/fuzz.py --types -n 300000``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from conftest import recordings_dir

from runflow import RunFlow
from runflow.engine.jsonparse import JSONError, dump_json, parse_json
from runflow.testing.typefuzz import (
    HOSTILE_RAW,
    MODES,
    RAW_VALUES,
    VALUES,
    Corpus,
    Input,
    Result,
    escape_site,
    json_paths,
    load_corpus,
    mutated_text,
    run_input,
    run_typefuzz,
)
from runflow.testing.typefuzz_target import Mode

BUDGET = 4000
TEXT = "dotnet_text_answer.jsonl"


@cache
def corpus() -> Corpus:
    return load_corpus(recordings_dir())


def test_no_untyped_exception_for_any_type_confusion() -> None:
    report = run_typefuzz(corpus(), BUDGET, seed=0)
    assert report.inputs == BUDGET
    assert set(report.per_value) == {label for label, _ in (*VALUES, *RAW_VALUES, *HOSTILE_RAW)}
    untyped, inconsistent = report.untyped, len(report.inconsistent)
    assert (untyped, inconsistent) == (0, 0), (
        "untyped exceptions escaped runflow:\n" + report.format(30))


# --------------------------------------------------------------------------- #
# the fuzzer itself
# --------------------------------------------------------------------------- #
def test_every_path_is_listed_root_first() -> None:
    data = {"id": "m", "content": [{"text": {"value": "a"}}, 2]}
    assert list(json_paths(data)) == [
        (), ("id",), ("content",), ("content", 0), ("content", 0, "text"),
        ("content", 0, "text", "value"), ("content", 1),
    ]


def test_the_corpus_reads_both_formats_and_fuzzes_twins_once() -> None:
    c = corpus()
    names = {s.name for s in c.sources}
    assert TEXT in names
    assert any(n.endswith(".sse") for n in {p.name for p in recordings_dir().iterdir()})
    twin = TEXT.replace(".jsonl", ".sse")
    if (recordings_dir() / twin).exists():
        assert twin not in names
        assert f"{twin}: same events as {TEXT}" in c.skipped
    text = next(s for s in c.sources if s.name == TEXT)
    assert len(text.paths) > len(text.events)  # nested paths, not only the roots


def test_raw_values_reach_the_flow_only_as_text() -> None:
    data = {"id": "x", "delta": {"content": []}}
    nan = mutated_text(data, ("id",), "NaN")
    assert nan == '{"id": NaN, "delta": {"content": []}}'
    surrogate = mutated_text(data, ("delta",), "lone surrogate")
    assert surrogate == '{"id": "x", "delta": "\\ud800"}'
    deep = mutated_text(data, ("delta", "content"), "300-deep list")
    assert deep.count("[") == 300
    for text in (nan, surrogate, deep):
        with pytest.raises(JSONError):
            parse_json(text)
    assert parse_json(mutated_text(data, (), "[{}]")) == [{}]
    assert data == {"id": "x", "delta": {"content": []}}  # the original is untouched


def test_a_replaced_object_is_detected_as_a_violation() -> None:
    source = next(s for s in corpus().sources if s.name == TEXT)
    index = next(i for i, e in enumerate(source.events) if e["event"] == "thread.run.created")
    for mode in MODES:
        result = run_input(source, Input(TEXT, index, (), "0", mode))
        assert (result.escape, result.detected, result.inconsistent) == (None, True, ()), mode
        result = run_input(source, Input(TEXT, index, ("metadata",), "{}", mode))
        assert (result.escape, result.detected) == (None, False)  # a value runflow ignores


def test_an_exception_from_the_flow_is_counted_with_its_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: RunFlow, chunk: bytes) -> list[object]:
        raise KeyError("boom")

    monkeypatch.setattr(RunFlow, "feed_sse", broken)
    source = next(s for s in corpus().sources if s.name == TEXT)
    result = run_input(source, Input(TEXT, 0, (), "null", "sse"))
    escape = result.escape
    assert escape is not None and not result.detected
    assert (escape.type, escape.site, escape.message) == ("KeyError", "<outside runflow>",
                                                          "'boom'")


def test_escape_sites_name_the_innermost_runflow_frame() -> None:
    with pytest.raises(ValueError) as info:
        dump_json(float("nan"))
    site = escape_site(info.value)
    path, line, function = site.split(":")
    assert (path, function) == ("runflow/engine/jsonparse.py", "dump_json")
    assert Path(path).name == "jsonparse.py" and int(line) > 0


def test_the_same_seed_picks_the_same_inputs() -> None:
    a = run_typefuzz(corpus(), 200, seed=7)
    b = run_typefuzz(corpus(), 200, seed=7)
    c = run_typefuzz(corpus(), 200, seed=8)
    assert (a.per_value, a.detected, [e.input for e in a.escapes]) == (
        b.per_value, b.detected, [e.input for e in b.escapes])
    assert a.per_value != c.per_value or a.detected != c.detected


def _count(label: str, out: str) -> int:
    found = re.search(rf"^{label}: (\d+)$", out, re.M)
    assert found, f"no {label!r} line in:\n{out}"
    return int(found[1])


def test_the_long_run_script_reports_and_exits_by_its_counts() -> None:
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--types", "-n", "300", "--seed", "3", "--progress",
         "--recordings", str(recordings_dir())],
        capture_output=True, text=True, encoding="utf-8", timeout=120, check=False)
    out = proc.stdout
    untyped = _count("untyped exceptions", out)
    inconsistent = _count("flows left inconsistent", out)
    assert "tried: 300" in out, out + proc.stderr
    assert re.search(r"^detected: \d+ of \d+ fed without exception", out, re.M), out
    assert "[300/300]" in proc.stderr  # progress goes to stderr (forced: it is piped here)
    assert proc.returncode == (0 if untyped == inconsistent == 0 else 1), out
    assert out.rstrip().endswith("PASS" if proc.returncode == 0 else "FAIL")
    if untyped:
        assert "escape sites (" in out


def test_the_long_run_script_is_quiet_when_piped_or_with_q() -> None:
    """Progress is for a terminal: piped (as here) or with -q, stderr holds none, and
    the report on stdout is the same."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"
    runs = [subprocess.run(
        [sys.executable, str(script), "--types", "-n", "100", "--seed", "3", *extra,
         "--recordings", str(recordings_dir())],
        capture_output=True, text=True, encoding="utf-8", timeout=120, check=False)
        for extra in ([], ["-q"], ["-q", "--progress"])]
    for proc in runs:
        assert "[100/100]" not in proc.stderr and "tried: 100" in proc.stdout, proc.stderr
    assert len({proc.stdout.split("\n", 1)[1] for proc in runs}) == 1  # past the timing


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_a_long_run_with_the_report_of_the_inputs_run(jobs: str) -> None:
    """A user who stops a long run with Ctrl-C gets the report of what ran (said to
    have stopped early), not a traceback; with workers, their running chunks finish."""
    import signal

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--types", "-n", "100000", "--seed", "3", "--jobs",
         jobs, "--progress", "--recordings", str(recordings_dir())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        assert proc.stderr is not None
        seen = ""
        while "[100/100000]" not in seen and "[200/100000]" not in seen:
            char = proc.stderr.read(1)
            assert char, f"the run ended before its first chunk: {seen}"
            seen += char
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "Traceback" not in err, err
    tried = int(re.search(r"tried: (\d+)", out)[1])  # type: ignore[index]
    assert 100 <= tried < 100000 and tried % 100 == 0, out  # whole chunks only
    assert f"STOPPED EARLY: {tried} of 100000 inputs run" in out, out
    assert proc.returncode == (0 if out.rstrip().endswith("PASS") else 1), out


# --------------------------------------------------------------------------- #
# Responses: every item family, and the layers around the flow
# --------------------------------------------------------------------------- #
def test_the_item_family_seeds_cover_every_item_table_and_replay_clean() -> None:
    from runflow.protocols.responses.definition import ITEM_KINDS
    from runflow.protocols.responses.flow import ResponseFlow
    from runflow.testing.typefuzz_seeds import FAMILIES, item_family_seeds

    assert set(FAMILIES) == set(ITEM_KINDS)
    seen: set[str] = set()
    for name, events in item_family_seeds().items():
        flow = ResponseFlow()
        for event in events:
            flow.feed(event)
        assert (flow.close(), flow.violations) == ("done", []), name
        assert all(state == "completed" for _, _, state in flow.item_states), name
        seen |= {kind for kind, _, _ in flow.item_states}
    assert seen == set(ITEM_KINDS)


def _family_corpus() -> Corpus:
    from runflow.testing.typefuzz import RESPONSES_FUZZ, seed_corpus
    from runflow.testing.typefuzz_seeds import item_family_seeds

    return seed_corpus(item_family_seeds(), RESPONSES_FUZZ)


def test_every_responses_item_family_takes_type_confusion() -> None:
    report = run_typefuzz(_family_corpus(), 600, seed=2)
    assert report.escapes == [] and report.inconsistent == [], report.format(20)
    assert report.detected > 200


@pytest.mark.parametrize(("source", "index", "path", "value"), [
    # crashed the payload layer of check and conform (an unhashable status)
    ("seed: message", 13, ("item", "status"), "{}"),
    ("seed: message", 14, ("response", "status"), "[1]"),
    # crashed flow.response (a float field of the SDK's Response)
    ("seed: custom_tool_call", 0, ("response", "created_at"), "400-digit integer"),
    # crashed flow.output (the streamed commands written into action)
    ("seed: shell_call", 2, ("item", "action"), '"x"'),
])
def test_the_fuzz_runs_the_views_and_layers_that_once_crashed(
        source: str, index: int, path: tuple[str, ...], value: str) -> None:
    from runflow.testing.typefuzz import RESPONSES_FUZZ

    seed = next(s for s in _family_corpus().sources if s.name == source)
    result = run_input(seed, Input(source, index, path, value, "sse"), target=RESPONSES_FUZZ)
    assert result.escape is None and result.detected and result.inconsistent == ()


def test_the_layers_raise_into_the_fuzz(monkeypatch: pytest.MonkeyPatch) -> None:
    import runflow.conform.grade as grade
    from runflow.testing.typefuzz import RESPONSES_FUZZ

    def broken(*_: object) -> list[object]:
        raise TypeError("unhashable type: 'dict'")

    monkeypatch.setattr(grade, "check_payloads", broken)
    seed = _family_corpus().sources[0]
    result = run_input(seed, Input(seed.name, 2, (), "null", "sse"), target=RESPONSES_FUZZ)
    assert result.escape is not None and result.escape.type == "TypeError"
    assert result.escape.site.startswith("runflow/conform/grade.py")


# --------------------------------------------------------------------------- #
# the WebSocket mode's frames (runflow.testing.typefuzz_ws)
# --------------------------------------------------------------------------- #
WS_BUDGET = 600


def test_the_websocket_seeds_hold_every_frame_type_and_replay_clean() -> None:
    from runflow.testing.typefuzz_ws import WS_FUZZ, _feed, _payloads, ws_corpus

    corpus = ws_corpus()
    kinds = {(d, f["type"]) for c in corpus.conversations for d, f in c.frames}
    assert {("send", "response.create"), ("send", "response.steer")} <= kinds
    assert {("receive", k) for k in (
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta",
        "response.reasoning_summary_part.added", "response.function_call_arguments.delta",
        "response.completed", "response.incomplete", "response.failed", "error",
        "response.steer.accepted", "response.steer.pending", "response.steer.failed")} <= kinds
    for conv in corpus.conversations:
        flow = _feed(conv, _payloads(conv, None, WS_FUZZ))
        assert flow.violations == [] and flow.state == "closed", conv.name
    assert corpus.size > 70_000


def test_no_untyped_exception_for_any_websocket_frame_confusion() -> None:
    from runflow.testing.typefuzz_ws import MEMORY_BOUND, run_ws_typefuzz, ws_corpus

    report = run_ws_typefuzz(ws_corpus(), WS_BUDGET, seed=0, memory_every=100)
    assert report.inputs == WS_BUDGET
    assert (report.untyped, len(report.inconsistent), report.corrupted) == (0, 0, []), (
        report.format(30))
    assert report.detected > WS_BUDGET // 3
    assert 0 < report.peak < MEMORY_BOUND


def _ws_input(conversation: str, event: str, path: tuple[str | int, ...], value: str,
              mode: Mode) -> Result:
    from runflow.testing.typefuzz_ws import WS_FUZZ, _feed, _payloads, run_ws_input, ws_corpus

    conv = next(c for c in ws_corpus().conversations if c.name == conversation)
    index = next(i for i, (_, f) in enumerate(conv.frames)
                 if f["type"] == event and f.get("stream_id") is None)
    clean = _feed(conv, _payloads(conv, None, WS_FUZZ))
    return run_ws_input(conv, Input(conversation, index, path, value, mode), clean)[0]


def test_a_websocket_tool_name_that_is_a_list_is_no_internal_error() -> None:
    """Found by the WebSocket fuzz: ``tools[0].name`` a list in a response.created made
    the Responses tool_offered rule raise (an ``internal_error``)."""
    result = _ws_input("lanes", "response.in_progress", ("response", "tools", 0, "name"),
                          "10k list", "text")
    assert result.escape is None and result.inconsistent == ()


def test_the_websocket_checker_finds_a_lost_prefix_and_an_untyped_violation() -> None:
    from runflow.protocols.responses.websocket.records import FrameViolation
    from runflow.testing.typefuzz_ws import WS_FUZZ, _feed, _payloads, ws_corpus, ws_problems

    conv = next(c for c in ws_corpus().conversations if c.name == "steered")
    clean = _feed(conv, _payloads(conv, None, WS_FUZZ))
    damaged = _feed(conv, _payloads(conv, None, WS_FUZZ))
    damaged.responses.pop("r1")
    damaged.violations.append(FrameViolation(
        code="made_up", severity="error", index=99, direction="receive", event=None,
        lane=None, response_id=None, message="x"))
    problems = ws_problems(damaged, clean, 5, len(conv.frames))
    assert any("untyped violation" in p for p in problems)
    assert any("before #5 said changed" in p for p in problems)
    assert ws_problems(clean, clean, 5, len(conv.frames)) == []


def test_the_long_run_script_fuzzes_websocket_frames() -> None:
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--types", "--protocol", "websocket", "-n", "150",
         "--seed", "4"], capture_output=True, text=True, encoding="utf-8", timeout=300,
        check=False)
    out = proc.stdout
    assert "protocol: websocket" in out and "tried: 150" in out, out + proc.stderr
    assert (_count("untyped exceptions", out), _count("flows left inconsistent", out)) == (0, 0)
    assert proc.returncode == 0 and out.rstrip().endswith("PASS"), out


def test_the_assistants_run_measures_every_nth_input_under_tracemalloc() -> None:
    from runflow.testing.typefuzz import MEMORY_BOUND

    report = run_typefuzz(corpus(), 200, seed=0, memory_every=100)
    assert report.measured == 2
    assert 0 < report.peak < MEMORY_BOUND
    assert "largest memory peak measured: " in report.format()
