"""The types layer's delta and value events (:mod:`runflow.conform.sdk_events`) and the
one report per field (:mod:`runflow.conform.sdk_types`' "Not reported twice").

* a hostile field of a delta or value event, both protocols, through ``runflow
  check --types`` (the short path's listener) and over held events (the batch
  layers): the rule, the event index and the JSON path;
* what the grammar reports at the same event (a delta's text, the finished value,
  the fields that place and number the event, a status that disagrees with the
  event) is its one report;
* the quick yes (:mod:`runflow.conform.sdk_fast`) never says yes to what the SDK's
  validator refuses, on every event of every capture and on hostile values.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from check_corpus import recordings
from conftest import load_bytes, recordings_dir
from helpers import Edit, edited_capture, set_at
from pydantic import BaseModel

from runflow.adapters.recording import new_flow, read_recording
from runflow.cli import main
from runflow.conform.events import tap_recording
from runflow.conform.recorded import grade_replay
from runflow.conform.sdk_events import EventTypes, event_classes
from runflow.conform.sdk_fast import sure
from runflow.conform.sdk_schema import validator
from runflow.engine.definition import EventKind
from runflow.engine.violations import Code, Violation
from runflow.protocols.registry import REGISTRY, row_of
from runflow.testing.fuzz import parse_sse

Row = tuple[str, int | None, str]
"""(rule, event index, JSON path inside the event)."""

HELLO = "responses/openaidotnet_hello_text_gpt4omini.sse"
"""Responses: 2 output_item.added, 3 content_part.added, 4-12 output_text deltas,
13 output_text.done, 15 output_item.done, 16 response.completed."""
CALLS = "responses/mirascope_parallel_function_calls_gpt4o.sse"
FUNCTION = "dotnet_create_and_run_function_requires_action.sse"
"""Assistants: 6 and 7 the step deltas of one function call."""
CITATION = "dotnet_file_search_file_citation.sse"
"""Assistants: 5 a step delta (file_search), 11-19 message deltas, 20
message.completed, 22 run.completed."""


def _path_of(message: str) -> str:
    return message.split(": ", 1)[1].split(" is ", 1)[0]


def _check(name: str, edits: dict[int, Edit], tmp_path: Path) -> tuple[list[Row], list[Row]]:
    """``runflow check --json --types`` of capture ``name`` with ``edits``: the types
    rows, and every other finding as (rule, index, message)."""
    path = edited_capture(name, edits, tmp_path)
    out = io.StringIO()
    with redirect_stdout(out):
        main(["check", "--json", "--types", str(path)])
    report = json.loads(out.getvalue().splitlines()[0])
    every = [f for g in report["findings"] for f in (g, *g["consequences"])]
    typed = sorted((f["rule"], f["index"], _path_of(f["message"])) for f in every
                   if f["rule"].startswith("types."))
    others = [(f["rule"], f["index"], f["message"]) for f in every
              if not f["rule"].startswith("types.")]
    return typed, others


def _held(name: str, edits: dict[int, Edit], tmp_path: Path) -> list[Row]:
    """The types rows of the batch layers over the held recording (grade_replay)."""
    replay = read_recording(str(edited_capture(name, edits, tmp_path))).replay()
    return sorted((f.rule, f.index, _path_of(f.message))
                  for g in grade_replay(replay) for f in (g.root, *g.consequences)
                  if f.rule.startswith("types."))


# --------------------------------------------------------------------------- #
# typed: what only the SDK's class says
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(("name", "edits", "expected"), [
    (HELLO, {5: set_at("logprobs", value="x")}, [("types.content", 5, "logprobs")]),
    (HELLO, {13: set_at("logprobs", value={})}, [("types.content", 13, "logprobs")]),
    (HELLO, {5: set_at("logprobs", value=[{"token": "a", "logprob": "high"}])},
     [("types.content", 5, "logprobs[0].logprob")]),
    (CITATION, {12: set_at("delta", "role", value=5)}, [("types.message", 12, "delta.role")]),
    (CITATION, {12: set_at("object", value="thread.foo")}, [("types.message", 12, "object")]),
    (CITATION, {15: set_at("delta", "content", 0, "text", "annotations", value=[
        {"index": 0, "type": "file_citation", "file_citation": "x"}])},
     [("types.message", 15, "delta.content[0].text.annotations[0].file_citation")]),
], ids=["delta-logprobs", "done-logprobs", "deep-logprob", "message-delta-role",
        "message-delta-object", "message-delta-annotation"])
def test_a_field_only_the_sdk_types_is_reported_at_its_event(
        name: str, edits: dict[int, Edit], expected: list[Row], tmp_path: Path) -> None:
    """check's short path (the listener ahead of it) and the batch layers agree."""
    typed, _ = _check(name, edits, tmp_path)
    assert typed == expected
    assert _held(name, edits, tmp_path) == expected


def test_function_call_arguments_done_is_typed(tmp_path: Path) -> None:
    """A value event of an output item: types.output."""
    events = parse_sse(load_bytes(CALLS))
    index = next(i for i, e in enumerate(events)
                 if e["data"].get("type") == "response.function_call_arguments.done")
    typed, _ = _check(CALLS, {index: set_at("type_note", value=1)}, tmp_path)
    assert typed == []  # an extra field: the SDK allows it
    typed, others = _check(CALLS, {index: set_at("arguments", value={})}, tmp_path)
    assert typed == []  # the grammar's value (below)
    assert [(r, i) for r, i, _ in others][:1] == [("grammar.malformed_event", index)]


def test_an_event_the_sdk_does_not_name_is_not_typed() -> None:
    """openai 3.63 has no class for the apply_patch diff events; every other delta
    and value event of both definitions has one."""
    for protocol_name in ("responses", "assistants"):
        row = REGISTRY[protocol_name]
        protocol = row.definition
        assert row.sdk_events is not None
        known = event_classes(row.sdk_events, protocol.type_field)
        typed = {n for n, (what, _) in protocol.routes.items()
                 if what is EventKind.DELTA or (what is EventKind.STATUS
                                                and protocol.carries.get(n, "") is None)}
        missing = typed - set(known)
        assert missing == ({"response.apply_patch_call_operation_diff.delta",
                            "response.apply_patch_call_operation_diff.done"}
                           if protocol_name == "responses" else set())


# --------------------------------------------------------------------------- #
# one report: the grammar's
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(("name", "edits", "rule", "index"), [
    (HELLO, {5: set_at("delta", value=5)}, "grammar.malformed_event", 5),
    (HELLO, {13: set_at("text", value=7)}, "grammar.malformed_event", 13),
    (HELLO, {5: set_at("output_index", value="x")}, "grammar.malformed_event", 5),
    (HELLO, {5: set_at("sequence_number", value="x")}, "grammar.malformed_event", 5),
    (HELLO, {5: set_at("item_id", value=3)}, "grammar.malformed_event", 5),
    (CITATION, {12: set_at("delta", "content", 0, "text", "value", value=[])},
     "grammar.malformed_event", 12),
    (CITATION, {12: set_at("delta", "content", 0, "index", value="x")},
     "grammar.malformed_event", 12),
    (CITATION, {5: set_at("delta", "step_details", "tool_calls", 0, "type", value=5)},
     "grammar.malformed_event", 5),
    (FUNCTION, {7: set_at("delta", "step_details", "tool_calls", 0, "type", value="other")},
     "grammar.type_change", 7),
    (HELLO, {15: set_at("item", "status", value="weird")}, "grammar.status_mismatch", 15),
    (HELLO, {2: set_at("item", "status", value=None)}, "grammar.status_mismatch", 2),
    (HELLO, {16: set_at("response", "status", value="done")}, "grammar.status_mismatch", 16),
    (CITATION, {22: set_at("status", value="finished")}, "grammar.status_mismatch", 22),
], ids=["delta", "finished-text", "output-index", "sequence-number", "item-id",
        "message-text-value", "content-index", "tool-call-type", "tool-call-retyped",
        "item-status-done",
        "item-status-null", "response-status", "run-status"])
def test_what_the_grammar_reports_at_the_event_is_its_one_report(
        name: str, edits: dict[int, Edit], rule: str, index: int, tmp_path: Path) -> None:
    typed, others = _check(name, edits, tmp_path)
    assert (rule, index) in [(r, i) for r, i, _ in others]
    assert typed == []
    assert _held(name, edits, tmp_path) == []


def test_a_status_the_grammar_does_not_judge_is_typed(tmp_path: Path) -> None:
    """The rule is about the carried object's own status: an item's status inside the
    final response, which the grammar does not compare with an event, is typed."""
    typed, others = _check(HELLO, {16: set_at("response", "output", 0, "status",
                                            value="weird")}, tmp_path)
    assert typed == [("types.response", 16, "response.output[0].status")]
    assert "grammar.status_mismatch" not in [r for r, _, _ in others]


@pytest.mark.parametrize(("name", "edits", "index", "path"), [
    (HELLO, {5: set_at("delta", value=5)}, 5, "delta"),
    (HELLO, {13: set_at("text", value=7)}, 13, "text"),
    (HELLO, {5: set_at("output_index", value="x")}, 5, "output_index"),
    (HELLO, {5: set_at("sequence_number", value="x")}, 5, "sequence_number"),
    (HELLO, {5: set_at("item_id", value=3)}, 5, "item_id"),
    (CITATION, {20: set_at("content", 0, "text", "annotations", value="x")}, 20,
     "content[0].text.annotations"),
    (CITATION, {12: set_at("delta", "content", 0, "text", "value", value=[])}, 12,
     "delta.content[0].text.value"),
    (CITATION, {12: set_at("delta", "content", 0, "index", value="x")}, 12,
     "delta.content[0].index"),
    (CITATION, {5: set_at("delta", "step_details", "tool_calls", 0, "type", value=5)}, 5,
     "delta.step_details.tool_calls[0].type"),
], ids=["delta", "finished-text", "output-index", "sequence-number", "item-id",
        "message-annotations", "message-text-value", "content-index", "tool-call-type"])
def test_a_malformed_event_carries_the_json_path_it_names(
        name: str, edits: dict[int, Edit], index: int, path: str, tmp_path: Path) -> None:
    """The grammar's malformed_event says which field as data (Violation.path, in the
    event's data), which is what the types layer matches, not the message's words."""
    flow = read_recording(str(edited_capture(name, edits, tmp_path))).replay().flow
    found = [(v.index, v.path) for v in flow.violations if v.code == "malformed_event"]
    assert found == [(index, path)]


def test_a_checkpoint_keeps_the_path_and_one_without_it_loads(tmp_path: Path) -> None:
    """Violation.path is serialised as the other fields are; a checkpoint written
    before the field existed loads with None."""
    flow = read_recording(str(edited_capture(HELLO, {5: set_at("delta", value=5)},
                                             tmp_path))).replay().flow
    text = flow.to_json()
    again = type(flow).from_json(text)
    assert [(v.index, v.path) for v in again.violations] == [
        (v.index, v.path) for v in flow.violations]
    assert (5, "delta") in [(v.index, v.path) for v in again.violations]
    saved = json.loads(text)
    for v in saved["state"]["violations"]:
        del v["path"]
    older = type(flow).from_json(json.dumps(saved))
    assert [(v.index, v.path) for v in older.violations] == [
        (v.index, None) for v in flow.violations]


def test_the_grammar_field_is_matched_by_its_path_not_its_words(tmp_path: Path) -> None:
    """A grammar message reworded (no JSON path in its words) still holds the types
    layer back from that field: it reads Violation.path; a violation naming another
    path, or none, holds nothing back."""
    path = edited_capture(HELLO, {5: set_at("delta", value=5)}, tmp_path)
    recording = read_recording(str(path))
    protocol = new_flow(recording.protocol).protocol

    def typed(said: list[Violation]) -> list[Row]:
        layer = EventTypes(protocol, lambda: said)
        found = [f for e in tap_recording(protocol, recording) for f in layer.see(e)]
        return [(f.rule, f.index, _path_of(f.message)) for f in [*found, *layer.end()]]

    def said(path: str | None) -> list[Violation]:
        return [Violation(code=Code.MALFORMED_EVENT, severity="error", index=5,
                          event="response.output_text.delta", entity=None,
                          message="the text of this delta is not text", path=path)]

    assert typed(said("delta")) == []
    assert typed(said("logprobs")) == [("types.content", 5, "delta")]
    assert typed(said(None)) == [("types.content", 5, "delta")]


def test_a_layer_told_no_violations_reports_what_it_finds(tmp_path: Path) -> None:
    """Without the flow's violations (the layer alone) nothing is held back: the
    delta's text is reported by the types layer too, at the end of the input."""
    path = edited_capture(HELLO, {5: set_at("delta", value=5), 13: set_at("logprobs", value="x")},
                  tmp_path)
    recording = read_recording(str(path))
    flow = new_flow(recording.protocol)
    layer = EventTypes(flow.protocol)
    found = [f for e in tap_recording(flow.protocol, recording) for f in layer.see(e)]
    found += layer.end()
    assert [(f.rule, f.index, _path_of(f.message)) for f in found] == [
        ("types.content", 5, "delta"), ("types.content", 13, "logprobs")]


# --------------------------------------------------------------------------- #
# the quick yes
# --------------------------------------------------------------------------- #
def _events_of_every_capture() -> list[tuple[str, type[BaseModel], dict[str, Any]]]:
    out = []
    for path in recordings(recordings_dir()):
        recording = read_recording(str(path))
        protocol = new_flow(recording.protocol).protocol
        ref = row_of(protocol).sdk_events
        assert ref is not None
        classes = event_classes(ref, protocol.type_field)
        for event in tap_recording(protocol, recording):
            if event.name in classes and isinstance(event.data, dict):
                out.append((event.name, classes[event.name], event.data))
    return out


def test_the_quick_yes_never_says_yes_to_what_the_sdk_refuses() -> None:
    checked = 0
    for _, model, data in _events_of_every_capture():
        hostile = [data, {**data, "delta": 5}, {**data, "logprobs": "x"},
                   {**data, "object": 1}, {**data, "delta": {"content": [{"index": "0"}]}},
                   {**data, "delta": {"step_details": {"type": "tool_calls",
                                                       "tool_calls": [{"index": 0}]}}}]
        for value in hostile:
            if sure(model)(value):
                assert validator(model).errors(value) is None, (model, value)
                checked += 1
    assert checked > 1000  # it says yes to the captures' deltas: the point of it


def test_the_quick_yes_says_yes_to_most_real_deltas() -> None:
    """What keeps check --types fast: the captures' deltas need no validator."""
    events = _events_of_every_capture()
    sure_of = [sure(model)(data) for _, model, data in events]
    assert sum(sure_of) / len(sure_of) > 0.95
