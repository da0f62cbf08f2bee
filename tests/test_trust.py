"""No false alarms on real servers, no silence on real bugs (issue 23).

* Every payload and order rule names its source (the API reference, the Open Responses
  specification, the stream contradicting itself, or observed captures), and its
  severity follows from it: an error only where a document makes the field required
  or the stream contradicts itself; what only captures show is a warning.
* Null and absent compare equal wherever a stream is compared with REST.
* A server that keeps the contract but leaves nullable fields null passes ``check``.
* A finding is grouped under another only through a causal link, never through a
  shared root entity alone.

The new Responses rules have their mutation cases in ``test_responses_rules.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import recordings_dir

from runflow.cli import main
from runflow.conform.consistency import compare
from runflow.conform.findings import Finding
from runflow.conform.grouping import group
from runflow.conform.rules import RULES, rules_markdown
from runflow.protocols.payload import SOURCES, severity_of
from runflow.protocols.registry import REGISTRY

# --------------------------------------------------------------------------- #
# every rule states its source, and its severity follows
# --------------------------------------------------------------------------- #
ROWS = [(name, row) for name, entry in REGISTRY.items()
        for row in (*entry.invariants, *entry.order)]


@pytest.mark.parametrize(("protocol", "row"), ROWS, ids=[r.id for _, r in ROWS])
def test_every_payload_and_order_row_names_its_source(protocol: str, row: Any) -> None:
    assert row.source in SOURCES
    assert row.severity == severity_of(row.source)  # payload and order rows alike
    if row.source == "captures":
        assert row.severity == "warning", f"{row.id}: only captures show it"


def test_the_catalogue_and_its_table_show_the_source() -> None:
    assert RULES["payload.response.usage"].source == "captures"
    assert RULES["payload.function_call.call_id"].source == "reference"
    assert RULES["order.response.failed_after_error"].source == "specification"
    assert RULES["consistency.response"].source == "stream"
    header = rules_markdown().splitlines()[0]
    assert header == "| rule | severity | source | protocols | what it checks |"
    assert ("| `payload.response.usage` | warning | observed captures | responses |"
            in rules_markdown())


def test_every_responses_definition_rule_names_its_source() -> None:
    rules = REGISTRY["responses"].definition.rules
    named = {r.name: r.source for r in rules}
    assert named["arguments_are_json"] == "reference"
    assert named["names_its_item"] == "specification"
    assert named["output_matches_items"] == "stream"
    assert named["tool_offered"] == "captures"


def test_a_definition_rule_only_captures_support_is_a_warning() -> None:
    from runflow.engine.violations import RULES as CODES

    for rule in REGISTRY["responses"].definition.rules:
        assert rule.source in SOURCES, rule.name
        if rule.source == "captures" and rule.code is not None:
            assert CODES[rule.code].severity == "warning", rule.name


def test_usage_is_not_an_error_when_a_completed_response_leaves_it_null() -> None:
    # the Open Responses specification makes usage nullable; the SDK types it Optional
    assert RULES["payload.response.usage"].severity == "warning"


# --------------------------------------------------------------------------- #
# null and absent are equal
# --------------------------------------------------------------------------- #
def test_a_key_the_stream_sends_null_and_rest_omits_is_no_difference() -> None:
    ours = {"id": "resp_1", "usage": None, "output": [{"id": "msg_1", "status": None}]}
    theirs = {"id": "resp_1", "output": [{"id": "msg_1"}]}
    assert list(compare(ours, theirs)) == []
    assert list(compare({"id": "resp_1", "usage": {"total_tokens": 3}}, theirs)) == [
        "usage: stream {'total_tokens': 3}, absent over REST"]
    assert list(compare({"usage": None}, {"usage": {"total_tokens": 3}})) == [
        "usage: stream None, REST {'total_tokens': 3}"]


# --------------------------------------------------------------------------- #
# a server that keeps the contract with nullable fields null: check exits 0
# --------------------------------------------------------------------------- #
def _response(status: str, *, output: list[Any], usage: bool) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "resp_1", "object": "response", "created_at": 1, "status": status,
        "model": "m", "output": output, "error": None, "incomplete_details": None,
        "instructions": None, "max_output_tokens": None, "previous_response_id": None,
        "temperature": None, "top_p": None, "tools": [], "tool_choice": "auto",
        "parallel_tool_calls": True, "metadata": None, "text": None, "reasoning": None,
        "user": None, "completed_at": None,
    }
    if usage:
        obj["usage"] = None
    return obj


def _nullable_stream(usage: bool) -> list[dict[str, Any]]:
    part = {"type": "output_text", "text": "", "annotations": []}
    done_part = {**part, "text": "Hi"}
    item = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress",
            "content": []}
    done_item = {**item, "status": "completed", "content": [done_part]}
    where = {"item_id": "msg_1", "output_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response("in_progress", output=[],
                                                           usage=usage)},
        {"type": "response.in_progress", "response": _response("in_progress", output=[],
                                                               usage=usage)},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **where, "content_index": 0, "part": part},
        {"type": "response.output_text.delta", **where, "content_index": 0, "delta": "Hi"},
        {"type": "response.output_text.done", **where, "content_index": 0, "text": "Hi"},
        {"type": "response.content_part.done", **where, "content_index": 0,
         "part": done_part},
        {"type": "response.output_item.done", "output_index": 0, "item": done_item},
        {"type": "response.completed", "response": _response("completed", output=[done_item],
                                                             usage=usage)},
    ]
    return [{**e, "sequence_number": n} for n, e in enumerate(events)]


@pytest.mark.parametrize("usage", [True, False], ids=["usage null", "usage absent"])
def test_check_passes_a_server_that_leaves_nullable_fields_null(
        tmp_path: Path, usage: bool, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nullable.sse"
    path.write_text("".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n"
                            for e in _nullable_stream(usage)), encoding="utf-8")
    assert main(["check", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["status"], report["violations"]) == (True, "completed", [])
    # only what the captures alone show (usage and completed_at set at the end) may say
    # anything, as warnings
    assert {(f["rule"], f["severity"]) for f in report["findings"]} == {
        ("payload.response.usage", "warning"), ("payload.response.completed_at", "warning")}


# --------------------------------------------------------------------------- #
# grouping: causal links only
# --------------------------------------------------------------------------- #
def test_independent_problems_about_the_response_stay_separate_root_causes() -> None:
    payload = Finding("payload.response.usage", "error", "usage is null", 8, key="response")
    missing = Finding("http.status", "error", "GET /responses/resp_1: 404", None,
                      key="response")
    differs = Finding("consistency.response", "error", "id differs over REST", None,
                      key="response")
    groups = group([payload, missing, differs], root="response")
    assert [(g.root.rule, len(g.consequences)) for g in groups] == [
        ("payload.response.usage", 0), ("http.status", 0), ("consistency.response", 0)]


def test_a_lost_event_still_explains_what_follows_about_its_entity() -> None:
    lost = Finding("grammar.invalid_transition", "error", "refused", 3, key="response")
    differs = Finding("consistency.response", "error", "status differs over REST", None,
                      key="response")
    missing = Finding("http.status", "error", "404", None, key="response")
    groups = group([lost, differs, missing], root="response")
    # REST answers whatever the flow made of the stream: a status is never a consequence
    assert [(g.root.rule, [c.rule for c in g.consequences]) for g in groups] == [
        ("grammar.invalid_transition", ["consistency.response"]), ("http.status", [])]


def test_the_same_rule_again_on_the_same_entity_is_one_problem() -> None:
    first = Finding("payload.message.id", "warning", "msg", 2, key="output/0")
    again = Finding("payload.message.id", "warning", "msg", 5, key="output/0")
    (only,) = group([first, again])
    assert only.consequences == (again,)


# --------------------------------------------------------------------------- #
# order rows take their severity from their source; profiles judge graders' rules
# --------------------------------------------------------------------------- #
LONE_ERROR = (b'data: {"type": "error", "code": "server_error", "message": "upstream failed", '
              b'"param": null, "sequence_number": 0}\n\n')


def _check_json(path: Path, *options: str) -> dict[str, Any]:
    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        main(["check", "--json", *options, str(path)])
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


def test_an_order_row_the_specification_states_is_an_error(tmp_path: Path) -> None:
    rows = {row.id: row for row in REGISTRY["responses"].order}
    assert rows["order.response.failed_after_error"].severity == "error"
    assert rows["order.response.in_progress_after_queued"].severity == "warning"
    path = tmp_path / "lone_error.sse"
    path.write_bytes(LONE_ERROR)  # an error and nothing after it: the spec wants failed
    report = _check_json(path)
    found = [f for f in report["findings"] if f["rule"] == "order.response.failed_after_error"]
    assert [(f["severity"], f["index"]) for f in found] == [("error", 0)]
    assert "the specification requires response.failed next" in found[0]["message"]
    assert report["ok"] is False


def test_the_deepseek_profile_expects_its_documented_bare_uuid_ids() -> None:
    path = recordings_dir() / "responses" / "pydanticai_deepseek_reasoning_function_call.sse"
    plain = {f["rule"] for f in _check_json(path)["findings"]}
    assert {"payload.response.id", "payload.reasoning.id", "payload.function_call.id"} <= plain
    judged = _check_json(path, "--profile", "deepseek")
    assert not [f for f in judged["findings"] if f["rule"].endswith(".id")]
    assert judged["ok"] is True


def test_a_profile_raises_or_lowers_a_graders_rule() -> None:
    from dataclasses import replace

    from runflow.adapters.recording import read_recording
    from runflow.conform.recorded import grade_replay
    from runflow.engine.profiles import Profile

    path = recordings_dir() / "responses" / "pydanticai_deepseek_reasoning_function_call.sse"
    base = Profile("strict-ids", "responses", "ids must carry OpenAI's prefixes",
                   rules={"payload.response.id": "error"})
    for profile, want in ((base, "error"),
                          (replace(base, rules={"payload.*.id": "warning"}), "warning")):
        replay = read_recording(path).replay(profile=profile)
        severities = {g.root.rule: g.root.severity for g in grade_replay(replay)}
        assert severities["payload.response.id"] == want
