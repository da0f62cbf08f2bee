"""Checkpoints of flows the type fuzz builds: what the key fuzz's checkpoint oracle
(:mod:`runflow.testing.typefuzz_keyinput`) found when run over the value inputs
too. A flow must never save what it cannot load."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runflow import ResponseFlow

RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress",
            "model": "m", "output": [], "tools": [], "parallel_tool_calls": True,
            "tool_choice": "auto"}


@pytest.mark.parametrize("how", ["dict", "sse"])
def test_a_sequence_number_past_a_float_is_refused_and_the_flow_checkpoints(how: str) -> None:
    """A 400-digit ``sequence_number`` was taken (``sequence_gap``) and kept as the
    last number, and the checkpoint then did not load (``a number is out of range``)."""
    flow = ResponseFlow()
    flow.feed({"type": "response.created", "sequence_number": 0, "response": RESPONSE})
    event = {"type": "response.in_progress", "sequence_number": 10**400, "response": RESPONSE}
    if how == "dict":
        flow.feed(event)
    else:
        flow.feed_sse(b"event: response.in_progress\ndata: " + json.dumps(event).encode()
                      + b"\n\n")
    assert [(v.code, v.index) for v in flow.violations] == [("malformed_event", 1)]
    flow.feed({"type": "response.completed", "sequence_number": 1,
               "response": {**RESPONSE, "status": "completed"}})
    assert flow.close() == "done" and len(flow.violations) == 1
    saved = flow.to_json()
    assert ResponseFlow.from_json(saved).to_json() == saved


def _family(name: str) -> Any:
    from runflow.testing.typefuzz import RESPONSES_FUZZ, seed_corpus
    from runflow.testing.typefuzz_seeds import item_family_seeds

    return next(s for s in seed_corpus(item_family_seeds(), RESPONSES_FUZZ).sources
                if s.name == name)


@pytest.mark.parametrize("mode", ["sse", "sdk"])
def test_a_sampled_value_input_has_its_checkpoint_loaded_back(
        mode: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The type fuzz loads the checkpoint of 1 in 10 value inputs back; before the
    fix above (undone here) this input failed it."""
    import runflow.engine.stream as stream
    from runflow.testing.typefuzz import RESPONSES_FUZZ, Input, run_input

    seed = _family("seed: message")
    inp = Input(seed.name, 3, ("sequence_number",), "400-digit integer", mode)
    assert run_input(seed, inp, target=RESPONSES_FUZZ, checkpoint=True).inconsistent == ()
    monkeypatch.setattr(stream, "has_non_finite", lambda _: False)
    assert run_input(seed, inp, target=RESPONSES_FUZZ).inconsistent == ()  # not checked
    (problem,) = run_input(seed, inp, target=RESPONSES_FUZZ, checkpoint=True).inconsistent
    assert problem.startswith("its checkpoint does not load: checkpoint is not JSON")


def test_one_in_ten_value_inputs_is_checkpointed() -> None:
    from runflow.testing.typefuzz import CHECKPOINT_EVERY, checkpoint_sampled, layers_sampled

    sampled = {n for n in range(20_000) if checkpoint_sampled(n)}
    assert CHECKPOINT_EVERY == 10 and 1_800 < len(sampled) < 2_200
    layered = {n for n in range(20_000) if layers_sampled(n, 10)}
    assert len(sampled & layered) < 400  # not the layers' sample


def test_the_report_counts_the_inputs_whose_checkpoint_was_loaded_back() -> None:
    """Every key input and the fixed sample of value inputs, counted and printed."""
    from runflow.testing.typefuzz import (
        RESPONSES_FUZZ,
        checkpoint_sampled,
        nth_input,
        picks,
        run_typefuzz,
        seed_corpus,
    )
    from runflow.testing.typefuzz_report import kind_of
    from runflow.testing.typefuzz_seeds import item_family_seeds
    from runflow.testing.typefuzz_target import with_keys

    corpus = seed_corpus(item_family_seeds(), with_keys(RESPONSES_FUZZ))
    report = run_typefuzz(corpus, 400, seed=5, memory_every=0)
    assert (report.untyped, len(report.inconsistent)) == (0, 0), report.format(30)
    chosen = [(n, nth_input(corpus.sources, corpus.target, n)) for n in picks(
        corpus.size, 400, 5)]
    values = sum(1 for n, inp in chosen if kind_of(inp.value) == "value"
                 and checkpoint_sampled(n))
    keys = sum(1 for _, inp in chosen if kind_of(inp.value) != "value")
    assert 10 <= values and 100 <= keys and report.refused == 0  # nothing left unfed
    assert (report.checkpointed_values, report.checkpointed) == (values, values + keys)
    assert (f"checkpoints loaded back: {values + keys} inputs ({values} value inputs"
            in report.format())
