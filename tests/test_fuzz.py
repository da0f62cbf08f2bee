"""Mutation fuzzing over the real recordings (engine: :mod:`runflow.testing.fuzz`).

Each example takes one recording, one mutation class and a seed. Properties:
feeding never raises (except ``ProtocolError`` in strict mode), every state
reached is in the protocol table, every *relevant* mutation is reported, and the
snapshots of entities the mutation did not touch equal the clean replay's.

Bounded by default (derandomized, about 200 examples in all); set
``RUNFLOW_FUZZ_EXAMPLES=N`` for N random examples per property. The 10,000
mutation run is ``python benchmarks/fuzz.py -n 10000``.
"""

from __future__ import annotations

import os
import random
from functools import cache

import pytest
from conftest import jsonl_files, load_bytes, load_events, sse_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import Event, drop, duplicate, replace_id, set_field, swap

from runflow import RunFlow
from runflow.testing.fuzz import (
    KINDS,
    encode_sse,
    is_relevant,
    mutate,
    new_violations,
    parse_sse,
    projection,
    replay,
)

EXAMPLES = int(os.environ.get("RUNFLOW_FUZZ_EXAMPLES", "0"))


def bounded(n: int) -> settings:
    return settings(max_examples=EXAMPLES or n, deadline=None, derandomize=not EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow])


@cache
def events_of(name: str) -> list[Event]:
    return load_events(name)


@cache
def clean_flow(name: str) -> RunFlow:
    outcome = replay(encode_sse(events_of(name))[0])
    assert outcome.crash is None
    return outcome.flow


cases = st.tuples(st.sampled_from(jsonl_files()), st.sampled_from(KINDS),
                  st.integers(0, 2**32))


# --------------------------------------------------------------------------- #
# properties
# --------------------------------------------------------------------------- #
@bounded(70)
@given(cases, st.booleans())
def test_no_crash_and_states_in_table(case: tuple[str, str, int], strict: bool) -> None:
    name, kind, seed = case
    m = mutate(events_of(name), kind, random.Random(seed))
    outcome = replay(m.data, m.chunks, strict=strict)
    assert outcome.crash is None, f"{m.description}: {outcome.crash!r}"
    assert outcome.bad_states == []
    if strict:
        errors = [v for v in outcome.flow.violations if v.severity == "error"]
        assert outcome.raised == len(errors)


@bounded(70)
@given(cases)
def test_relevant_mutations_are_reported(case: tuple[str, str, int]) -> None:
    name, kind, seed = case
    events = events_of(name)
    clean = clean_flow(name)
    m = mutate(events, kind, random.Random(seed))
    if not is_relevant(m, events, clean.violations):
        return
    outcome = replay(m.data, m.chunks)
    assert new_violations(clean.violations, outcome.flow.violations), (
        f"{name}: {m.description} changes the stream but nothing was reported")


@bounded(60)
@given(cases)
def test_untouched_entities_rebuild_as_in_the_clean_replay(case: tuple[str, str, int]) -> None:
    name, kind, seed = case
    clean = clean_flow(name)
    m = mutate(events_of(name), kind, random.Random(seed))
    flow = replay(m.data, m.chunks).flow
    for sid in clean.step_states.keys() - m.touched:
        assert flow.step(sid).model_dump() == clean.step(sid).model_dump(), m.description
    for mid in clean.message_states.keys() - m.touched:
        assert flow.message(mid).model_dump() == clean.message(mid).model_dump(), m.description


@bounded(30)
@given(st.sampled_from(sse_files()), st.data())
def test_real_sse_split_anywhere_equals_whole(name: str, data: st.DataObject) -> None:
    raw = load_bytes(name)
    whole = replay(raw).flow
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=40)))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    split = replay(raw, sizes).flow
    assert split.violations == whole.violations
    assert [s.model_dump() for s in split.steps] == [s.model_dump() for s in whole.steps]
    assert [m.model_dump() for m in split.messages] == [m.model_dump() for m in whole.messages]
    assert split.run_status == whole.run_status and split.ending == whole.ending


@pytest.mark.parametrize("name", jsonl_files())
def test_canonical_sse_replays_like_the_events(name: str) -> None:
    events = events_of(name)
    flow = RunFlow()
    for e in events:
        flow.feed(e)
    flow.close()
    assert clean_flow(name).violations == flow.violations
    assert parse_sse(encode_sse(events)[0]) == events


# --------------------------------------------------------------------------- #
# the relevance definition
# --------------------------------------------------------------------------- #
TEXT = "dotnet_text_answer.jsonl"
ACTION = "dotnet_create_and_run_function_requires_action.jsonl"
CONTINUATION = "dotnet_function_call_continuation.jsonl"


def same(a: list[Event], b: list[Event]) -> bool:
    return projection(a) == projection(b)


def test_projection_ignores_what_runflow_does_not_check() -> None:
    e = events_of(TEXT)
    assert same(e, set_field(e, 0, "created_at", 1))
    assert same(e, set_field(e, 0, "metadata", {"k": "v"}))
    assert same(e, set_field(e, -2, "usage", {"total_tokens": 1}))
    assert same(e, replace_id(e, e[0]["data"]["id"], "run_other"))  # consistent rename
    i = next(i for i, x in enumerate(e) if x["event"] == "thread.message.in_progress")
    assert same(e, drop(e, i)) and same(e, duplicate(e, i))  # a repeat of the state
    assert same(e, swap(e, i, i + 1))  # the first delta before the repeat


def test_projection_keeps_what_runflow_checks() -> None:
    e = events_of(TEXT)
    deltas = [i for i, x in enumerate(e) if x["event"] == "thread.message.delta"]
    assert not same(e, drop(e, deltas[3]))  # text that the final message states
    assert not same(e, swap(e, deltas[2], deltas[3]))
    assert not same(e, duplicate(e, deltas[3]))
    assert not same(e, set_field(e, deltas[1], "delta.content.0.text.value", "X"))
    assert not same(e, replace_id(e, e[0]["data"]["id"], "run_x", indices=[2]))
    assert not same(e, drop(e, -1))
    assert not same(e, set_field(e, 0, "status", "in_progress"))


def test_unverifiable_text_is_not_projected() -> None:
    """Deltas of a message that never completes: no object states the text."""
    e = events_of("simpleopenai_EDITED_error_event_after_partial_message.jsonl")
    last = max(i for i, x in enumerate(e) if x["event"] == "thread.message.delta")
    assert same(e, set_field(e, last, "delta.content.0.text.value", "changed"))


def test_split_and_identity_mutations_are_not_relevant() -> None:
    e = events_of(TEXT)
    for seed in range(20):
        m = mutate(e, "split", random.Random(seed))
        assert not is_relevant(m, e)


def test_truncation_after_done_is_not_relevant() -> None:
    e = events_of(TEXT)
    data, _ = encode_sse(e)
    assert same(e, parse_sse(data[:-1])) and same(e, parse_sse(data[:-2]))
    assert not same(e, parse_sse(data[:-3]))


# --------------------------------------------------------------------------- #
# escapes the fuzzer found: streams runflow accepts but must report
# --------------------------------------------------------------------------- #
def violations_of(events: list[Event]) -> list[str]:
    flow = RunFlow()
    for event in events:
        flow.feed(event)
    flow.close()
    return [v.code.value for v in flow.violations]


def test_thread_created_after_the_run_is_reported() -> None:
    """Create-and-run starts with thread.created (PROTOCOL.md)."""
    e = events_of(ACTION)
    assert violations_of(swap(e, 0, 1))


def test_run_adopted_after_thread_created_is_reported() -> None:
    """A stream that begins with thread.created did not begin mid-run: its run
    must be created, not adopted at thread.run.queued."""
    e = events_of(ACTION)
    assert violations_of(drop(e, 1))


def test_steps_must_not_overlap() -> None:
    """'Steps never overlap: each step opens and closes before the next starts.'"""
    e = events_of("simpleopenai_EDITED_file_search_step_deltas.jsonl")
    i = next(i for i, x in enumerate(e) if x["event"] == "thread.run.step.completed")
    clean = violations_of(e)
    assert len(violations_of(swap(e, i, i + 1))) > len(clean)


def test_message_creation_step_does_not_complete_before_its_message() -> None:
    """'a message lives inside its message_creation step'."""
    e = events_of(TEXT)
    i = next(i for i, x in enumerate(e) if x["event"] == "thread.message.completed")
    assert violations_of(swap(e, i, i + 1))


def test_streamed_function_call_without_arguments_is_compared_at_requires_action() -> None:
    """The only arguments delta lost: requires_action lists '{}' but nothing was
    streamed; rebuilt '' differs from the listed arguments."""
    e = events_of("dotnet_create_and_run_function_requires_action_b.jsonl")
    i = max(i for i, x in enumerate(e) if x["event"] == "thread.run.step.delta")
    assert violations_of(drop(e, i))


def test_second_done_while_requires_action_is_reported() -> None:
    """A continuation stream that is only ``done`` leaves the run in
    requires_action: the run did not move, so the stream ended before final."""
    e = events_of(ACTION)
    assert violations_of([*e, e[-1]])


def test_the_mutation_run_script_shows_progress_only_when_asked_off_a_terminal() -> None:
    import subprocess
    import sys
    from pathlib import Path

    from conftest import recordings_dir

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"
    runs = {flag: subprocess.run(
        [sys.executable, str(script), "-n", "200", *flag.split(),
         "--recordings", str(recordings_dir())],
        capture_output=True, text=True, encoding="utf-8", timeout=120, check=False)
        for flag in ("", "--progress", "-q --progress")}
    assert "[200/200] crashes 0" in runs["--progress"].stderr
    assert "[200/200]" not in runs[""].stderr + runs["-q --progress"].stderr
    assert all(proc.stdout.rstrip().endswith(("PASS", "FAIL")) for proc in runs.values())
