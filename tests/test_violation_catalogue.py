"""Each protocol says what the violation codes mean in its grammar.

* the engine's catalogue keeps every code, severity and ``rejects`` it had, with
  sentences that name no protocol (``tests/test_definition.py`` reads them);
* each shipped protocol's catalogue (``runflow/protocols/<name>/violations.py``, its
  registry row's ``meanings``) is in the generated table, in its own column, in its
  own words, and names every code its flows reported on the pinned corpus;
* a protocol registered by a test with a catalogue of its own gets its column; conform
  grades a protocol on the grammar rules its catalogue names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
import toy_protocol
from check_corpus import PINS, recordings
from conftest import recordings_dir

from runflow.adapters.recording import read_recording
from runflow.conform.rules import RULES as CONFORM_RULES
from runflow.conform.rules import rules_for, summary_for
from runflow.engine.violations import RULES, Code, rules_markdown
from runflow.protocols.registry import REGISTRY, Registered, register, unregister
from runflow.protocols.violations import catalogues, codes_markdown, meaning, reports

BEFORE = (
    "invalid_transition error 1, unknown_entity error 1, duplicate_entity error 1, "
    "foreign_entity error 1, event_after_terminal error 1, run_not_in_progress error 1, "
    "children_open_at_terminal error 0, out_of_order error 0, content_index_gap error 1, "
    "type_change error 1, id_change error 1, tool_calls_mismatch error 0, "
    "invalid_tool_arguments warning 0, status_mismatch warning 0, "
    "incomplete_details_on_completed warning 0, done_before_final error 0, "
    "event_after_done error 0, event_after_error error 0, truncated error 0, "
    "unknown_event warning 1, malformed_event error 1, orphan_message warning 0, "
    "snapshot_divergence error 0, limit_exceeded error 0, internal_error error 0, "
    "sequence_gap error 0, event_name_mismatch warning 0, item_id_mismatch warning 0, "
    "items_interleaved warning 0, output_mismatch warning 0, missing_field error 0, "
    "unknown_tool warning 0, duplicate_call_id error 0"
)
"""Every code, its severity and whether it rejects, as they were before the
protocols' catalogues moved out of the engine."""


def _row(table: str, code: Code) -> list[str]:
    """The cells of ``code``'s row of a generated table."""
    [line] = [line for line in table.splitlines() if line.startswith(f"| `{code.value}` |")]
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_the_codes_keep_their_severities_and_rejection() -> None:
    now = ", ".join(f"{r.code.value} {r.severity} {int(r.rejects)}" for r in RULES.values())
    assert now == BEFORE
    assert set(RULES) == set(Code)


def test_each_shipped_catalogue_is_in_its_column_of_the_table() -> None:
    table = codes_markdown()
    head = [c.strip() for c in table.splitlines()[0].strip("|").split(" | ")]
    assert head == ["code", "severity", "event rejected", "meaning", "assistants",
                    "responses"]
    for code in Code:
        cells = _row(table, code)
        assert cells[3] == RULES[code].summary
        for column, name in enumerate(("assistants", "responses"), start=4):
            said = REGISTRY[name].meanings
            assert said is not None
            assert cells[column] == said.get(code, "—")
    # a few rows, read as a person would
    assert "requires_action" in _row(table, Code.TOOL_CALLS_MISMATCH)[4]
    assert _row(table, Code.TOOL_CALLS_MISMATCH)[5] == "—"
    assert "sequence_number" in _row(table, Code.SEQUENCE_GAP)[5]
    assert _row(table, Code.SEQUENCE_GAP)[4] == "—"


def test_without_catalogues_the_engine_table_has_its_four_columns() -> None:
    lines = rules_markdown().splitlines()
    assert lines[:2] == ["| code | severity | event rejected | meaning |", "|---|---|---|---|"]
    assert len(lines) == 2 + len(Code)


_WORD = re.compile(r"[a-z_]+(?:\.[a-z_]+)+|[a-z]+_[a-z_]+")
"""Event names (``thread.run.step.created``) and snake_case field and status names."""


@pytest.mark.parametrize(("ours", "theirs"), [("assistants", "responses"),
                                              ("responses", "assistants")])
def test_a_catalogue_speaks_of_its_own_protocol_only(ours: str, theirs: str) -> None:
    """A sentence names events of its own protocol, never an event of the other."""
    mine, other = REGISTRY[ours].definition, REGISTRY[theirs].definition
    said = REGISTRY[ours].meanings
    assert said is not None
    named = {w for sentence in said.values() for w in _WORD.findall(sentence)}
    assert named & mine.events
    assert named & (other.events - mine.events) == set()


def test_meaning_reads_the_protocol_then_the_engine() -> None:
    tool_calls = REGISTRY["assistants"].meanings
    assert tool_calls is not None
    assert meaning(Code.TOOL_CALLS_MISMATCH, "assistants") == tool_calls[
        Code.TOOL_CALLS_MISMATCH]
    assert meaning(Code.TOOL_CALLS_MISMATCH, "responses") == RULES[
        Code.TOOL_CALLS_MISMATCH].summary
    assert meaning(Code.TOOL_CALLS_MISMATCH) == RULES[Code.TOOL_CALLS_MISMATCH].summary
    assert meaning(Code.TRUNCATED, "no such protocol") == RULES[Code.TRUNCATED].summary


@pytest.fixture
def toy_with_a_catalogue() -> Iterator[Registered]:
    row = Registered(definition=toy_protocol.TOY, invariants=toy_protocol.INVARIANTS,
                     order=toy_protocol.ORDER,
                     meanings={Code.RUN_NOT_IN_PROGRESS: "A task begun while its job waits.",
                               Code.INVALID_TRANSITION: "A job event its table refuses."})
    register(row)
    yield row
    unregister(row.name)


def test_a_registered_protocol_with_a_catalogue_gets_its_column(
        toy_with_a_catalogue: Registered) -> None:
    name = toy_with_a_catalogue.name
    assert list(catalogues()) == ["assistants", "responses", name]
    table = codes_markdown()
    assert table.splitlines()[0].endswith(f"| {name} |")
    assert _row(table, Code.RUN_NOT_IN_PROGRESS)[-1] == "A task begun while its job waits."
    assert _row(table, Code.SEQUENCE_GAP)[-1] == "—"
    assert reports(name, Code.INVALID_TRANSITION) and not reports(name, Code.TRUNCATED)
    assert meaning(Code.RUN_NOT_IN_PROGRESS, name) == "A task begun while its job waits."


def test_a_protocol_without_a_catalogue_may_report_any_code() -> None:
    row = register(Registered(definition=toy_protocol.TOY))
    try:
        assert row.meanings is None
        assert all(reports(row.name, code) for code in Code)
        assert row.name not in catalogues()
    finally:
        unregister(row.name)


def test_conform_grades_each_protocol_on_the_codes_its_catalogue_names() -> None:
    for name in ("assistants", "responses"):
        said = REGISTRY[name].meanings
        assert said is not None
        graded = {r.id for r in rules_for(name) if r.layer == "grammar"}
        assert graded == {f"grammar.{code.value}" for code in said}
    rule = CONFORM_RULES["grammar.status_mismatch"]
    assert rule.summary.startswith(RULES[Code.STATUS_MISMATCH].summary)
    assert "Assistants: " in rule.summary and "Responses: " in rule.summary


def test_every_code_a_flow_reported_on_the_corpus_is_in_its_protocol_catalogue() -> None:
    """The pinned findings of every recording and its hostile inputs
    (tests/data/check_findings.json), by the recording's protocol."""
    folder = recordings_dir()
    protocol = {p.relative_to(folder).as_posix(): read_recording(p).protocol
                for p in recordings(folder)}
    longest_first = sorted(protocol, key=len, reverse=True)
    reported: dict[str, set[str]] = {}
    for case, pin in json.loads(PINS.read_text(encoding="utf-8")).items():
        source = next(n for n in longest_first if case.startswith(n))
        reported.setdefault(protocol[source], set()).update(
            row[0].removeprefix("grammar.") for row in pin["findings"]
            if row[0].startswith("grammar."))
    assert set(reported) == {"assistants", "responses"}
    for name, codes in reported.items():
        said = REGISTRY[name].meanings
        assert said is not None
        assert codes - {code.value for code in said} == set(), name
    # the corpus reaches most of each catalogue
    assert len(reported["assistants"]) > 20 and len(reported["responses"]) > 15


def test_a_changed_sentence_shows_in_the_table() -> None:
    """The table is read from the row, not kept beside it."""
    row = REGISTRY["responses"]
    said = row.meanings
    assert said is not None
    changed = Registered(definition=row.definition, detection=replace(row.detection),
                         meanings={**said, Code.TRUNCATED: "Cut."})
    register(changed)
    try:
        assert _row(codes_markdown(), Code.TRUNCATED)[5] == "Cut."
    finally:
        register(row)


def test_a_rule_is_summarised_in_one_protocols_words() -> None:
    """What a conform report shows for a rule (``summary_for``): the graded protocol's
    sentence (a WebSocket connection's responses: the Responses protocol's); for a
    protocol not registered, the whole summary."""
    for protocol, other in (("assistants", "Responses: "), ("responses", "Assistants: ")):
        said = summary_for("grammar.out_of_order", protocol)
        assert said == (f"{RULES[Code.OUT_OF_ORDER].summary} {protocol.capitalize()}: "
                        f"{meaning(Code.OUT_OF_ORDER, protocol)}")
        shared = summary_for("payload.message.id", protocol)
        assert shared.startswith(f"{protocol.capitalize()}: ") and other not in shared
    whole = CONFORM_RULES["grammar.out_of_order"].summary
    assert "Assistants: " in whole and "Responses: " in whole
    assert summary_for("grammar.out_of_order", "no-such-protocol") == whole
    assert (summary_for("grammar.out_of_order", "responses-ws")
            == summary_for("grammar.out_of_order", "responses"))
    assert summary_for("no.such.rule", "responses") == ""
