"""Key mutations of the type fuzz (:mod:`runflow.testing.typefuzz_keys`): hostile
keys added, removed, renamed, twinned and duplicated in the JSON text, at every
object and key of every event, both protocols and the WebSocket mode. Bounded runs
here; the long runs are ``python benchmarks/fuzz.py --types --mutations keys``."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import recordings_dir

from runflow.engine.jsonparse import parse_json
from runflow.testing import typefuzz_keyinput
from runflow.testing.typefuzz import (
    ASSISTANTS_FUZZ,
    RESPONSES_FUZZ,
    Corpus,
    Input,
    load_corpus,
    mutated_text,
    nth_input,
    run_input,
    run_typefuzz,
    seed_corpus,
)
from runflow.testing.typefuzz_keys import (
    KEY_MUTATIONS,
    MANY,
    KeyMutation,
    last_wins,
    mutated_object,
    object_text,
)
from runflow.testing.typefuzz_report import KEY, kind_of
from runflow.testing.typefuzz_seeds import item_family_seeds
from runflow.testing.typefuzz_target import with_keys

ASSISTANTS_KEYS = with_keys(ASSISTANTS_FUZZ, values=False)
RESPONSES_KEYS = with_keys(RESPONSES_FUZZ, values=False)
SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"


@cache
def assistants() -> Corpus:
    return load_corpus(recordings_dir(), None, ASSISTANTS_KEYS)


@cache
def families() -> Corpus:
    return seed_corpus(item_family_seeds(), RESPONSES_KEYS)


def _mutation(label: str) -> KeyMutation:
    return next(m for m in KEY_MUTATIONS if m.label == label)


# --------------------------------------------------------------------------- #
# the tables
# --------------------------------------------------------------------------- #
def test_every_mutation_has_its_own_label_and_changes_an_object() -> None:
    labels = [m.label for m in KEY_MUTATIONS]
    assert len(set(labels)) == len(labels) and all(label.startswith(KEY) for label in labels)
    assert {kind_of(label) for label in labels} == {
        "key add", "key remove", "key rename", "key twin", "key dup"}
    obj = {"id": "x", "type": "message", "n": 1}
    for m in KEY_MUTATIONS:
        if m.raw:
            text = object_text(m, obj, "n")
            assert text != json.dumps(obj), m.label
        else:
            new = mutated_object(m, obj, "n", "response.created")
            assert new != obj, m.label
        assert obj == {"id": "x", "type": "message", "n": 1}  # never changed in place


def test_the_named_keys_are_in_the_tables() -> None:
    added = {k for m in KEY_MUTATIONS for k, _ in m.keys}
    assert {"model_config", "model_fields", "__dict__", "__class__", "_fields_set", "cls",
            "self", "__pydantic_extra__", "__proto__", "constructor", "", "\x00",
            "\u202e", "e\u0301", "ID", "caf\u00e9", "cafe\u0301"} <= added
    assert any(len(k) >= 2**20 for k in added)
    assert len(mutated_object(_mutation("key add 10k keys"), {}, None, None)) == MANY
    assert mutated_object(_mutation("key add type of the event"), {"a": {}}, None,
                          "thread.run.created") == {"a": {}, "type": "thread.run.created"}


def test_renames_twins_and_removals_act_on_the_key_named() -> None:
    obj = {"id": "x", "status": "done"}
    assert mutated_object(_mutation("key remove"), obj, "status", None) == {"id": "x"}
    assert mutated_object(_mutation("key rename UPPER"), obj, "status", None) == {
        "id": "x", "STATUS": "done"}
    fullwidth = mutated_object(_mutation("key rename fullwidth"), obj, "id", None)
    assert list(fullwidth) == ["\uff49\uff44", "status"]
    assert mutated_object(_mutation("key twin with NUL"), obj, "id", None) == {
        **obj, "id\x00": "x"}


def test_a_duplicate_key_is_json_text_and_every_parser_keeps_the_last() -> None:
    assert last_wins()
    after = object_text(_mutation("key dup after"), {"a": "s", "b": 1}, "a")
    before = object_text(_mutation("key dup before"), {"a": "s", "b": 1}, "a")
    assert after == '{"a": "s", "a": 7, "b": 1}' and before == '{"a": 7, "a": "s", "b": 1}'
    for text, kept in ((after, 7), (before, "s")):
        assert parse_json(text)["a"] == json.loads(text)["a"] == kept
    assert object_text(_mutation("key add lone surrogate"), {}, None) == '{"\\ud800": [1]}'


# --------------------------------------------------------------------------- #
# numbering: key inputs come after the value inputs, which keep their numbers
# --------------------------------------------------------------------------- #
def test_key_inputs_are_numbered_after_the_value_inputs() -> None:
    values = load_corpus(recordings_dir(), None, ASSISTANTS_FUZZ)
    both = load_corpus(recordings_dir(), None, with_keys(ASSISTANTS_FUZZ))
    seeds = both.sources
    assert both.size == values.size + assistants().size
    for n in (0, 1, 777, values.size - 1):
        assert nth_input(seeds, both.target, n) == nth_input(values.sources, values.target, n)
    modes = len(ASSISTANTS_FUZZ.modes)
    objects = len(ASSISTANTS_KEYS.key_labels("object")) * modes
    first_key = sum(len(s.objects) for s in seeds) * objects
    for offset, n in ((0, values.size), (first_key, values.size + first_key)):
        inp = nth_input(seeds, both.target, n)
        assert inp == nth_input(assistants().sources, ASSISTANTS_KEYS, offset)
    last = nth_input(seeds, both.target, both.size - 1)
    assert (last.source, (last.index, last.path)) == (seeds[-1].name, seeds[-1].keyed[-1])
    assert last.value == "key dup before" and last.mode == ASSISTANTS_FUZZ.modes[-1]
    with pytest.raises(IndexError):
        nth_input(seeds, both.target, both.size)


def test_objects_and_keys_are_the_sites() -> None:
    source = seed_corpus({"s": [{"event": "e", "data": {"a": {"b": [{"c": 1}]}}}]},
                         ASSISTANTS_KEYS).sources[0]
    assert [p for _, p in source.objects] == [(), ("a",), ("a", "b", 0)]
    assert [p for _, p in source.keyed] == [("a",), ("a", "b"), ("a", "b", 0, "c")]


def test_a_key_input_describes_itself() -> None:
    inp = Input("s", 3, ("response", "\x00" * 100), "key remove", "sse")
    assert inp.describe() == f"s #3 data.response.{chr(0) * 100!r:.60}: key remove (sse)"
    assert Input("s", 3, ("a",), "null", "sse").describe() == "s #3 data.a = null (sse)"


def test_the_mutated_text_is_the_event_with_one_object_changed() -> None:
    data = {"type": "response.created", "response": {"id": "r", "status": "queued"}}
    text = mutated_text(data, ("response", "status"), "key dup after", RESPONSES_KEYS)
    assert text == ('{"type": "response.created", "response": {"id": "r", '
                    '"status": "queued", "status": 7}}')
    assert json.loads(mutated_text(data, ("response",), "key add type of the event",
                                   RESPONSES_KEYS))["response"]["type"] == "response.created"


# --------------------------------------------------------------------------- #
# bounded runs: 0 untyped exceptions, 0 inconsistent flows
# --------------------------------------------------------------------------- #
def test_no_untyped_exception_for_any_key_mutation_of_the_assistants_recordings() -> None:
    report = run_typefuzz(assistants(), 800, seed=0, memory_every=200)
    assert report.inputs == 800 and set(report.per_value) <= set(ASSISTANTS_KEYS.labels)
    assert (report.untyped, len(report.inconsistent), report.corrupted) == (0, 0, []), (
        report.format(30))
    assert report.detected > 50 and report.measured == 4
    assert "key dup" in report.format()  # the per-kind subtotals


def test_no_untyped_exception_for_any_key_mutation_of_the_responses_families() -> None:
    report = run_typefuzz(families(), 500, seed=0, memory_every=100)
    assert (report.untyped, len(report.inconsistent), report.corrupted) == (0, 0, []), (
        report.format(30))
    assert report.detected > 30


def test_no_untyped_exception_for_any_key_mutation_of_websocket_frames() -> None:
    from runflow.testing.typefuzz_ws import WS_FUZZ, run_ws_typefuzz, ws_corpus

    report = run_ws_typefuzz(ws_corpus(target=with_keys(WS_FUZZ, values=False)), 300, seed=0,
                             memory_every=100)
    assert set(report.per_value) <= {m.label for m in KEY_MUTATIONS}
    assert (report.untyped, len(report.inconsistent), report.corrupted) == (0, 0, []), (
        report.format(30))
    assert report.detected > 30


@pytest.mark.parametrize(("label", "mode"), [
    ("key remove", "sse"), ("key rename with NUL", "sdk"), ("key remove", "events")])
def test_the_status_key_found_missing_checkpoints(label: str, mode: Any) -> None:
    """Found by this fuzz: ``response.completed`` without ``response.status``; the
    checkpoint did not load (fixed in engine/checkpoint.py)."""
    seed = next(s for s in families().sources if s.name == "seed: tool_search_call")
    result = run_input(seed, Input(seed.name, 4, ("response", "status"), label, mode),
                       target=RESPONSES_KEYS)
    assert result.escape is None and result.inconsistent == ()


# --------------------------------------------------------------------------- #
# the key oracles can fail
# --------------------------------------------------------------------------- #
def _first_wins(text: str | bytes) -> Any:
    return json.loads(text, object_pairs_hook=lambda pairs: dict(reversed(pairs)))


def test_a_parser_that_kept_the_first_duplicate_would_be_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seed = next(s for s in families().sources if s.name == "seed: message")
    inp = Input(seed.name, 14, ("response", "status"), "key dup after", "sse")
    assert run_input(seed, inp, target=RESPONSES_KEYS).inconsistent == ()
    monkeypatch.setattr(typefuzz_keyinput, "json",
                        types.SimpleNamespace(loads=_first_wins))
    problems = run_input(seed, inp, target=RESPONSES_KEYS).inconsistent
    assert problems == ("the SSE text and the object json.loads makes of it give "
                        "different flows",)


def test_a_websocket_parser_that_kept_the_first_duplicate_would_be_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame naming ``status`` twice, as wire text: the ConnectionFlow's parser and
    ``json.loads`` both keep the last; a ``json.loads`` keeping the first is told."""
    from runflow.protocols.responses.websocket import ConnectionFlow
    from runflow.testing import typefuzz_ws
    from runflow.testing.typefuzz_ws import WS_FUZZ, run_ws_input, ws_corpus

    target = with_keys(WS_FUZZ, values=False)
    conv = next(c for c in ws_corpus(target=target).conversations if c.name == "steered")
    clean = ConnectionFlow()
    for direction, frame in conv.frames:
        clean.send(frame) if direction == "send" else clean.receive(frame)
    clean.close()
    assert conv.frames[4][1]["type"] == "response.incomplete"
    text = Input(conv.name, 4, ("response", "status"), "key dup after", "text")
    assert run_ws_input(conv, text, clean, target)[0].inconsistent == ()
    monkeypatch.setattr(typefuzz_ws, "json", types.SimpleNamespace(loads=_first_wins))
    result, _ = run_ws_input(conv, text, clean, target)
    assert result.inconsistent == ("the wire text and the object json.loads makes of it "
                                   "give different connections",)
    assert result.checkpointed and result.detected
    frames = Input(conv.name, 4, ("response", "status"), "key dup after", "frames")
    assert run_ws_input(conv, frames, clean, target)[0].inconsistent == ()  # not compared


def test_a_checkpoint_that_lost_a_key_would_be_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loader that dropped a NUL key: the round trip says so."""
    from runflow import ResponseFlow

    seed = next(s for s in families().sources if s.name == "seed: message")
    inp = Input(seed.name, 14, ("response",), "key add NUL", "events")
    assert run_input(seed, inp, target=RESPONSES_KEYS).inconsistent == ()
    loading = ResponseFlow.from_json.__func__  # type: ignore[attr-defined]

    def lossy(cls: type[ResponseFlow], /, text: str, **settings: Any) -> ResponseFlow:
        saved = json.loads(text)
        loaded: ResponseFlow = loading(
            cls, json.dumps({**saved, "state": _without_nul(saved["state"])}), **settings)
        return loaded

    monkeypatch.setattr(ResponseFlow, "from_json", classmethod(lossy))
    problems = run_input(seed, inp, target=RESPONSES_KEYS).inconsistent
    assert problems == ("its checkpoint does not load back as it was saved",)


def _without_nul(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items() if k != "\x00"}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def test_the_script_runs_key_mutations_only() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--types", "--mutations", "keys", "-n", "120",
         "--seed", "2", "--recordings", str(recordings_dir())],
        capture_output=True, text=True, encoding="utf-8", timeout=300, check=False)
    out = proc.stdout
    assert "mutations: keys" in out and "tried: 120" in out, out + proc.stderr
    assert "\nkind " in out and "key rename" in out and "\nnull " not in out, out
    assert proc.returncode == (0 if out.rstrip().endswith("PASS") else 1), out
