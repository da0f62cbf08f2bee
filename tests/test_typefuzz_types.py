"""The types layer (``runflow check --types``, ``runflow conform``:
:mod:`runflow.conform.sdk_types`) under the type fuzz
(:mod:`runflow.testing.typefuzz_types`): every mutation once, no untyped exception,
each finding naming its event and a JSON path of it, bounded work counted. And what
it found: a 1 MiB ``type`` tag and a 1 MiB key made messages of that size."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from typing import Any

import pytest
from openai.types.responses import ResponseOutputText

from runflow.conform import sdk_report, sdk_schema, sdk_types
from runflow.conform.events import named_event
from runflow.conform.sdk_schema import MAX_KEY_SHOWN, Checker
from runflow.conform.sdk_types import check_types
from runflow.protocols.responses.definition import RESPONSES
from runflow.testing.typefuzz import (
    RESPONSES_FUZZ,
    Corpus,
    Input,
    nth_input,
    picks,
    run_input,
    run_typefuzz,
    seed_corpus,
)
from runflow.testing.typefuzz_seeds import item_family_seeds
from runflow.testing.typefuzz_target import with_keys
from runflow.testing.typefuzz_types import MAX_MESSAGE, named_path, tapped, types_problems

MIB = 2**20
BOTH = with_keys(RESPONSES_FUZZ)


@cache
def families() -> Corpus:
    return seed_corpus(item_family_seeds(), BOTH)


def _seed(name: str) -> Any:
    return next(s for s in families().sources if s.name == f"seed: {name}")


def _types(events: list[dict[str, Any]]) -> list[Any]:
    return list(check_types(RESPONSES, [named_event(RESPONSES, i, 0, None, e, None)
                                        for i, e in enumerate(events)]))


RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress",
            "model": "m", "output": [], "tools": [], "parallel_tool_calls": True,
            "tool_choice": "auto"}


# --------------------------------------------------------------------------- #
# what the fuzz found (fixed in conform/sdk_schema.py and sdk_report.py)
# --------------------------------------------------------------------------- #
def test_a_1_mib_type_tag_gives_a_message_of_bounded_size() -> None:
    """pydantic's message of a tagged union holds the tag: a 1 MiB ``type`` made a
    262,455-character finding; the middle of the message is cut now, what the type
    expects kept."""
    tag = "\U0001f600" * (MIB // 4)
    part = {"type": "output_text", "text": "hi", "annotations": [{"type": tag}]}
    (finding,) = _types([{"type": "response.content_part.done", "sequence_number": 0,
                          "item_id": "msg_1", "output_index": 0, "content_index": 0,
                          "part": part}])
    assert (finding.rule, finding.index) == ("types.content", 0)
    assert finding.message.startswith("response.content_part.done: part.annotations[0] is ")
    assert len(finding.message) < 1_000 and " … " in finding.message
    assert "expected tags: 'file_citation', 'url_citation'" in finding.message


def test_a_1_mib_key_gives_a_message_naming_it_cut() -> None:
    """A 1 MiB key on the path made a 2 MiB finding (the path and the field)."""
    key = "k" * MIB
    (finding,) = _types([{"type": "response.created", "sequence_number": 0,
                          "response": {**RESPONSE, "metadata": {key: 7}}}])
    assert finding.index == 0 and len(finding.message) < 1_000
    shown = "k" * (MAX_KEY_SHOWN - 1) + "…"
    assert finding.message.startswith(f"response.created: response.metadata[{shown!r}] is 7")
    assert named_path(finding.message.split(": ", 1)[1], {"response": {"metadata": {
        key: 7}}}) == ("response", "metadata", key)


@pytest.mark.parametrize(("family", "index", "path", "label"), [
    ("message", 8, ("part", "annotations", 0, "type"), "1MiB of emoji"),
    ("mcp_list_tools", 1, ("response", "metadata"), "key add 1MiB key"),
])
def test_the_fuzz_tells_a_message_of_unbounded_size(
        family: str, index: int, path: tuple[str | int, ...], label: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The inputs that found them pass; undo either fix and the fuzz says so."""
    seed = _seed(family)
    inp = Input(seed.name, index, path, label, "sse")
    result = run_input(seed, inp, target=BOTH)
    assert result.typed is not None and result.typed.findings >= 1
    assert (result.escape, result.inconsistent) == (None, ())
    monkeypatch.setattr(sdk_schema, "MAX_MESSAGE", 10**9)
    monkeypatch.setattr(sdk_report, "shown_path", lambda path: path)
    (problem,) = run_input(seed, inp, target=BOTH).inconsistent
    assert f"#{index}: a message of " in problem and MAX_MESSAGE < int(
        problem.split("a message of ")[1].split()[0])


# --------------------------------------------------------------------------- #
# numbers a float cannot hold, inside a delta (the layers keep its data: 9529711)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(("label", "findings"), [
    ("out-of-range numbers in logprobs", 0),  # the SDK's floats and ints take them
    ("out-of-range numbers in a list", 1),  # logprobs[0] is inf, not a Logprob
    ("1e999", 1),
])
def test_out_of_range_numbers_in_a_deltas_logprobs_reach_the_types_layer(
        label: str, findings: int) -> None:
    """Most deltas hold ``"logprobs": []``: the fuzz's values that hold ``1e999``,
    ``-1E+400`` and a 400-digit integer inside a list put them in it. The layers keep
    the delta's data (it used to be dropped, so the types layer never saw it), the
    types layer types it and names the path, nothing raises, the flow stays
    consistent."""
    seed = _seed("message")
    assert seed.events[4]["event"] == "response.output_text.delta"
    inp = Input(seed.name, 4, ("logprobs",), label, "sse")
    text = json.dumps({**seed.events[4]["data"], "logprobs": None}).replace(
        '"logprobs": null', '"logprobs": ' + dict(BOTH.raw_values)[label])
    delta = tapped(RESPONSES, seed.events, 4, text)[4]
    assert isinstance(delta.data, dict) and delta.data["sequence_number"] == 4
    assert float("inf") in [delta.data["logprobs"], *_numbers(delta.data["logprobs"])]
    result = run_input(seed, inp, target=BOTH)
    assert (result.escape, result.inconsistent) == (None, ())
    assert result.typed is not None and result.typed.problems == []
    assert result.typed.findings == findings


def _numbers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value]


# --------------------------------------------------------------------------- #
# a bounded run over the Responses item families, values and keys
# --------------------------------------------------------------------------- #
def test_every_mutation_goes_through_the_types_layer_once() -> None:
    report = run_typefuzz(families(), 600, seed=4, memory_every=0)
    assert (report.untyped, len(report.inconsistent), report.corrupted) == (0, 0, []), (
        report.format(30))
    first = BOTH.modes[0]
    once = sum(1 for n in picks(families().size, 600, 4)
               if nth_input(families().sources, BOTH, n).mode == first)
    assert report.typed == once and once > 100
    assert report.typed_findings > 20 and report.typed_calls >= report.typed
    assert 0 < report.typed_most <= 1_000
    assert f"types layer: {once} inputs (every mutation once)" in report.format()


# --------------------------------------------------------------------------- #
# the oracles can fail
# --------------------------------------------------------------------------- #
def test_a_json_path_is_read_back_from_a_message() -> None:
    data = {"response": {"output": [{"content": [7]}], "a b": {"x": 1}, "k" * 80: 1}}
    assert named_path("response.output[0].content[0] is 7: …", data) == (
        "response", "output", 0, "content", 0)
    assert named_path("response['a b'].x is 1", data) == ("response", "a b", "x")
    assert named_path("response.output[0].role is absent: …", data) == (
        "response", "output", 0, "role")
    cut = "k" * (MAX_KEY_SHOWN - 1) + "…"
    assert named_path(f"response[{cut!r}] is 1", data) == ("response", "k" * 80)
    for wrong in ("response.output[1] is 7", "response.missing.x is absent",
                  "response.output[0].content[0] is absent", "response.output[0]",
                  "response['a b' is 1", "response[-1] is 7", "response['output'] is []"):
        assert named_path(wrong, data) is None, wrong


def _message_seed() -> tuple[Any, str]:
    """The message family's ``content_part.done`` (#8), its part's ``logprobs`` 7: one
    ``types.content`` finding."""
    seed = _seed("message")
    assert seed.events[8]["event"] == "response.content_part.done"
    part = {"type": "output_text", "annotations": [], "logprobs": 7, "text": "x"}
    return seed, json.dumps({"type": "response.content_part.done", "part": part,
                             "item_id": "msg_1", "output_index": 0, "content_index": 0,
                             "sequence_number": 8})


def test_a_finding_at_another_event_would_be_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    seed, text = _message_seed()
    events = tapped(RESPONSES, seed.events, 8, text)
    run = types_problems(RESPONSES, events)
    assert run.problems == [] and run.findings == 1
    see = sdk_types.SdkTypes.see

    def elsewhere(self: sdk_types.SdkTypes, event: Any) -> list[Any]:
        return [replace(f, index=(f.index or 0) + 1) for f in see(self, event)]

    monkeypatch.setattr(sdk_types.SdkTypes, "see", elsewhere)
    problems = types_problems(RESPONSES, events).problems
    assert problems[0] == ("#9: a finding names #9 'response.content_part.done', which is "
                           "'response.content_part.added'")
    assert problems[1].startswith("#9: a message naming no JSON path of the event: "
                                  "'response.content_part.done: part.logprobs is 7")
    assert len(problems) == 2


def test_a_validation_that_grew_with_the_value_would_be_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A validator reporting every bad element (pydantic's own, without
    ``fail_fast``), and one validating each element of a list alone."""
    seed, text = _message_seed()
    events = tapped(RESPONSES, seed.events, 8, text)
    errors = Checker.errors

    def every(self: Checker, obj: Any) -> Any:
        found = errors(self, obj)
        return None if found is None else found * 10_000  # a 10k list's elements

    monkeypatch.setattr(Checker, "errors", every)
    assert "#8: one validation returned 10000 errors, over 1000" in types_problems(
        RESPONSES, events).problems
    monkeypatch.setattr(Checker, "errors", errors)
    see = sdk_types.SdkTypes.see

    def again(self: sdk_types.SdkTypes, event: Any) -> list[Any]:
        for _ in range(5):
            sdk_schema.validator(ResponseOutputText).errors({})
        return see(self, event)

    monkeypatch.setattr(sdk_types.SdkTypes, "see", again)
    problems = types_problems(RESPONSES, events).problems
    assert "#0: 6 validations, over 2" in problems and "#4: 5 validations, over 2" in problems


def test_every_websocket_mutation_goes_through_the_types_layer_once() -> None:
    """Over each response's frames, as ``runflow conform`` grades a connection."""
    from runflow.testing.typefuzz_ws import WS_FUZZ, run_ws_typefuzz, ws_corpus

    corpus = ws_corpus(target=with_keys(WS_FUZZ))
    report = run_ws_typefuzz(corpus, 400, seed=1, memory_every=400)
    assert (report.untyped, len(report.inconsistent), report.corrupted) == (0, 0, []), (
        report.format(30))
    once = sum(1 for n in picks(corpus.size, 400, 1)
               if nth_input(corpus.conversations, corpus.target, n).mode == "frames")
    assert report.typed == once and once > 100 and report.typed_findings > 20
