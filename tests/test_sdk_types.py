"""The types layer (:mod:`runflow.conform.sdk_types`): every field of every object an
event carries, against the openai SDK class its snapshot is built as.

* every shared capture, both protocols: the exact findings (none: each error the
  SDK's types find on a real capture is one of the SDK's known gaps, and each gap
  is seen on some capture);
* hostile values in real captures, both protocols, through ``runflow check``: the
  rule, the event index and the JSON path inside the event;
* what is not reported twice (a payload invariant's field, the grammar's shape), the
  per-event bound, the bounded validation of a huge wrong list, and the final
  response's items already typed at ``output_item.done``.
"""

from __future__ import annotations

import copy
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from check_corpus import recordings
from conftest import RECORDINGS, load_bytes, recordings_dir
from helpers import Edit, edited_capture, set_at

from runflow.adapters.recording import new_flow, read_recording
from runflow.cli import main
from runflow.conform import sdk_report, sdk_types
from runflow.conform.events import tap_recording
from runflow.conform.recorded import grade_replay
from runflow.conform.rules import RULES, rules_for
from runflow.conform.sdk_schema import validator
from runflow.conform.sdk_types import MAX_PER_EVENT, SDK_GAPS, SdkTypes, sdk_version
from runflow.testing.fuzz import encode_sse, parse_sse

Row = tuple[str, int | None, str]
"""(rule, event index, JSON path inside the event)."""


def _names() -> list[str]:
    if not RECORDINGS.is_dir():
        return ["<recordings folder absent>"]
    return [p.relative_to(RECORDINGS).as_posix() for p in recordings(RECORDINGS)]


def _path_of(message: str) -> str:
    """The JSON path a types finding names (``<event>: <path> is <value>: ...``)."""
    return message.split(": ", 1)[1].split(" is ", 1)[0]


def _layer_rows(path: Path) -> list[Row]:
    """The types layer alone over a recording's events."""
    recording = read_recording(str(path))
    flow = new_flow(recording.protocol)
    layer = SdkTypes(flow.protocol)
    return [(f.rule, f.index, _path_of(f.message))
            for event in tap_recording(flow.protocol, recording) for f in layer.see(event)]


# --------------------------------------------------------------------------- #
# every capture
# --------------------------------------------------------------------------- #
CAPTURE_FINDINGS: dict[str, list[Row]] = {}
"""The types findings per shared capture: none. Every error the SDK's types find on
a real capture is one of :data:`~runflow.conform.sdk_types.SDK_GAPS` (the real
service sends it, so it is the SDK's gap, not the server's deviation); each is
judged in the module docstring of :mod:`runflow.conform.sdk_types`."""


@pytest.mark.parametrize("name", _names())
def test_a_capture_gives_exactly_its_pinned_types_findings(name: str) -> None:
    assert _layer_rows(recordings_dir() / name) == CAPTURE_FINDINGS.get(name, [])


def test_each_sdk_gap_is_what_the_captures_show(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the gap table, the captures give exactly the gaps' errors: no gap is
    kept that no capture needs, and nothing else hides behind one."""
    folder = recordings_dir()
    monkeypatch.setattr(sdk_report, "SDK_GAPS", ())
    seen: set[str] = set()
    for path in recordings(folder):
        recording = read_recording(str(path))
        flow = new_flow(recording.protocol)
        layer = SdkTypes(flow.protocol)
        for event in tap_recording(flow.protocol, recording):
            for finding in layer.see(event):
                seen.add(finding.message.rsplit(" types: ", 1)[1].rstrip(")"))
    assert seen == {f"{gap.model}.{gap.field}" for gap in SDK_GAPS}


# --------------------------------------------------------------------------- #
# hostile values, through runflow check
# --------------------------------------------------------------------------- #


def _check(name: str, edits: dict[int, Edit], tmp_path: Path, *,
           types: bool = True) -> tuple[list[Row], list[str]]:
    """``runflow check --json --types`` (``types`` false: without ``--types``) of
    capture ``name`` with ``edits`` (event index -> an edit of its data): the types
    rows, and every rule found."""
    path = edited_capture(name, edits, tmp_path)
    out = io.StringIO()
    with redirect_stdout(out):
        main(["check", "--json", *(["--types"] if types else []), str(path)])
    report = json.loads(out.getvalue().splitlines()[0])
    every = [f for g in report["findings"] for f in (g, *g["consequences"])]
    rows = [(f["rule"], f["index"], _path_of(f["message"])) for f in every
            if f["rule"].startswith("types.")]
    for f in every:
        if f["rule"].startswith("types."):
            assert f["severity"] == "warning"
            assert f"openai {sdk_version()} types: " in f["message"]
    return sorted(rows, key=lambda r: (r[1] or 0, r[2])), [f["rule"] for f in every]


HELLO = "responses/openaidotnet_hello_text_gpt4omini.sse"
FILE_SEARCH = "responses/openaidotnet_file_search_gpt4omini.sse"
CITATION = "dotnet_file_search_file_citation.sse"


def test_responses_content_7_at_output_item_added(tmp_path: Path) -> None:
    """The gap this layer closes: ``content: 7`` was built into the snapshot and
    nothing said so; ``role: 5`` the payload invariant already reports is not
    reported again."""
    rows, rules = _check(HELLO, {2: lambda d: d["item"].update(content=7, role=5)}, tmp_path)
    assert rows == [("types.output", 2, "item.content")]
    assert "payload.message.role" in rules


def test_check_runs_the_types_layer_only_with_types(tmp_path: Path) -> None:
    """Without ``--types`` check loads no SDK type (its start-up, issue 22) and so
    cannot type ``content: 7``; everything else it finds is the same."""
    edits: dict[int, Edit] = {2: lambda d: d["item"].update(content=7, role=5)}
    rows, rules = _check(HELLO, edits, tmp_path, types=False)
    typed_rows, typed_rules = _check(HELLO, edits, tmp_path)
    assert rows == [] and typed_rows == [("types.output", 2, "item.content")]
    assert rules == [r for r in typed_rules if not r.startswith("types.")]
    assert "payload.message.role" in rules


def test_responses_annotations_x_in_a_part_an_item_and_the_final_response(
        tmp_path: Path) -> None:
    """A part's ``annotations`` is in the definition's shape: the grammar reports it
    and the types layer does not repeat it; the item's is typed here alone, and the
    final response's, another value than the item's at done, too."""
    rows, rules = _check(HELLO, {
        14: set_at("part", "annotations", value="x"),
        15: set_at("item", "content", 0, "annotations", value="x"),
        16: set_at("response", "output", 0, "content", 0, "annotations", value={}),
    }, tmp_path)
    assert rows == [("types.output", 15, "item.content[0].annotations"),
                    ("types.response", 16, "response.output[0].content[0].annotations")]
    assert "grammar.malformed_event" in rules


def test_responses_status_list_and_a_deep_file_search_result(tmp_path: Path) -> None:
    result = {"file_id": "file-1", "filename": "a.txt", "score": 0.5, "text": "t",
              "attributes": {"k": [1]}}
    rows, _ = _check(FILE_SEARCH, {6: set_at("item", "results", value=[result])}, tmp_path)
    assert rows == [("types.output", 6, "item.results[0].attributes.k")]
    rows, _ = _check(HELLO, {16: set_at("response", "output", 0, "status", value=[])}, tmp_path)
    assert rows == [("types.response", 16, "response.output[0].status")]


def test_a_status_list_the_grammar_names_is_reported_once(tmp_path: Path) -> None:
    """``status`` is in every definition's shape: ``status: []`` is the grammar's
    ``malformed_event`` at its event, in both protocols, and no ``types.*``."""
    for name, index, edit in ((FILE_SEARCH, 1, set_at("response", "status", value=[])),
                              (HELLO, 15, set_at("item", "status", value=[])),
                              (CITATION, 2, set_at("status", value=[]))):
        rows, rules = _check(name, {index: edit}, tmp_path)
        assert rows == []
        assert "grammar.malformed_event" in rules


def test_assistants_annotations_step_details_and_a_deep_file_search_result(
        tmp_path: Path) -> None:
    rows, _ = _check(CITATION, {
        20: set_at("content", 0, "text", "annotations", 0, "file_citation", value="x"),
        21: set_at("usage", "total_tokens", value="many"),
        6: set_at("step_details", "tool_calls", 0, "file_search", "results", 0, "content", 0,
                "text", value=5),
    }, tmp_path)
    assert rows == [
        ("types.step", 6, "step_details.tool_calls[0].file_search.results[0].content[0].text"),
        ("types.message", 20, "content[0].text.annotations[0].file_citation"),
        ("types.step", 21, "usage.total_tokens"),
    ]


def test_a_value_the_grammar_names_malformed_is_not_reported_again(tmp_path: Path) -> None:
    """The definition's shape types ``annotations`` and ``step_details``: the
    grammar's ``malformed_event`` names each; the types layer adds nothing."""
    rows, rules = _check(CITATION, {20: set_at("content", 0, "text", "annotations", value="x"),
                                    21: set_at("step_details", value=5)}, tmp_path)
    assert rules.count("grammar.malformed_event") == 2
    assert rows == []


# --------------------------------------------------------------------------- #
# bounds and what is typed once
# --------------------------------------------------------------------------- #
def test_at_most_a_few_paths_per_event_the_last_counting_the_rest(tmp_path: Path) -> None:
    bad = {"created_at": "x", "assistant_id": 1, "attachments": 5, "metadata": 4}  # no shape's
    events = parse_sse(load_bytes(CITATION))
    events[20] = copy.deepcopy(events[20])
    events[20]["data"].update(bad)
    path = tmp_path / "many.sse"
    path.write_bytes(encode_sse(events)[0])
    recording = read_recording(str(path))
    flow = new_flow(recording.protocol)
    layer = SdkTypes(flow.protocol)
    found = [f for e in tap_recording(flow.protocol, recording) for f in layer.see(e)]
    assert [f.index for f in found] == [20] * MAX_PER_EVENT
    assert found[-1].message.endswith(f"and {len(bad) - MAX_PER_EVENT} more path(s) in this event")


def test_a_huge_wrong_list_makes_one_error() -> None:
    """pydantic reports every bad element of every union variant (four million errors
    for this list); the bounded validator stops the list at its first."""
    from openai.types.responses import ResponseOutputMessage

    item = {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "hi", "annotations": [1] * 1_000_000}]}
    errors = validator(ResponseOutputMessage).errors(item)
    assert errors is not None
    assert [e.path for e in errors] == [("content", 0, "annotations", 0)]


def test_the_final_response_types_only_items_it_changed(tmp_path: Path) -> None:
    """An item typed at output_item.done is not typed again in response.completed
    when it is the same object; one changed there is."""
    bad = set_at("item", "content", 0, "annotations", value="x")
    same, _ = _check(HELLO, {15: bad, 16: set_at("response", "output", 0, "content", 0,
                                                "annotations", value="x")}, tmp_path)
    assert same == [("types.output", 15, "item.content[0].annotations")]
    changed, _ = _check(HELLO, {15: bad, 16: set_at("response", "output", 0, "content", 0,
                                                   "annotations", value="y")}, tmp_path)
    assert changed == [("types.output", 15, "item.content[0].annotations"),
                       ("types.response", 16, "response.output[0].content[0].annotations")]


def test_both_graders_give_the_same_types_findings(tmp_path: Path) -> None:
    """``runflow check``'s streaming grader and the batch layers over a held recording
    (:func:`grade_replay`) agree on the types layer's findings."""
    events = parse_sse(load_bytes(HELLO))
    events[2] = copy.deepcopy(events[2])
    events[2]["data"]["item"]["content"] = 7
    path = tmp_path / "both.sse"
    path.write_bytes(encode_sse(events)[0])
    streamed, _ = _check(HELLO, {2: set_at("item", "content", value=7)}, tmp_path)
    replay = read_recording(str(path)).replay()
    held = [(f.rule, f.index, _path_of(f.message))
            for g in grade_replay(replay) for f in (g.root, *g.consequences)
            if f.rule.startswith("types.")]
    assert held == streamed == [("types.output", 2, "item.content")]


def test_the_catalogue_lists_a_types_rule_per_carried_kind_or_group() -> None:
    """One rule per Assistants entity; the Responses output items, content parts and
    summary parts (dispatched by their type) one rule per group."""
    rule = RULES["types.output"]
    assert (rule.severity, rule.layer, rule.protocols, rule.source) == (
        "warning", "types", frozenset({"responses"}), "reference")
    typed = {r.id for r in RULES.values() if r.layer == "types"}
    assert typed == {"types.thread", "types.run", "types.step", "types.message",
                     "types.response", "types.output", "types.content", "types.summary"}
    assert typed - {"types.thread", "types.run", "types.step", "types.message"} <= {
        r.id for r in rules_for("responses-ws")}


def test_past_the_children_it_remembers_the_final_response_types_them_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the layer remembers of the children is bounded (MAX_SEEN): the second item
    of a layer that remembers one is typed again in the final response."""
    monkeypatch.setattr(sdk_types, "MAX_SEEN", 1)
    bad = "x"
    rows, _ = _check(FILE_SEARCH, {
        20: set_at("item", "content", 0, "annotations", value=bad),
        21: set_at("response", "output", 1, "content", 0, "annotations", value=bad),
    }, tmp_path)
    assert rows == [("types.output", 20, "item.content[0].annotations"),
                    ("types.response", 21, "response.output[1].content[0].annotations")]


def test_an_item_of_a_type_the_sdk_does_not_know_is_not_typed(tmp_path: Path) -> None:
    """The definition accepts an unknown item type (clients ignore unknown items):
    its fields are not typed, at its own events or in the final response; a nested
    ``type`` no SDK variant takes is reported."""
    unknown = {"id": "fut_1", "type": "future_thing", "status": 5, "content": 7}
    rows, _ = _check(HELLO, {
        2: set_at("item", value=unknown), 15: set_at("item", value=unknown),
        16: set_at("response", "output", 0, value=unknown)}, tmp_path)
    assert rows == []
    rows, _ = _check(HELLO, {15: set_at("item", "content", 0, "type", value="output_audio")},
                     tmp_path)
    assert rows == [("types.output", 15, "item.content[0]")]
