"""Conform's grouping runs a table: rows for any grammar, and each protocol's own.

* the shipped rows, put together, are the table grouping had before they moved into
  the protocols (``runflow/protocols/<name>/cascades.py``), and name rules their own
  protocol is graded on;
* a protocol registered by a test with rows of its own gets them applied, an
  ``announcer`` and a ``group`` link included, and another protocol's flow does not;
* the grouping module names no protocol's event, state, entity or rule.
(``tests/test_check_streaming.py`` proves the same groups on 1,502 pinned cases.)
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import toy_protocol

from runflow.cli import main
from runflow.conform import grouping
from runflow.conform.events import TappedEvent
from runflow.conform.findings import Finding, Group
from runflow.conform.grouping import CASCADES, Announcers, cascades_for, group, root_of
from runflow.conform.rules import rules_for
from runflow.protocols.cascades import Announcement, Cascade
from runflow.protocols.registry import REGISTRY, Registered, register, unregister

BEFORE = {
    ("same", "grammar."): {
        "grammar.unknown_entity", "grammar.invalid_transition", "grammar.run_not_in_progress",
        "grammar.event_after_terminal", "grammar.done_before_final",
        "grammar.children_open_at_terminal", "grammar.snapshot_divergence",
        "grammar.sequence_gap", "grammar.content_index_gap", "grammar.output_mismatch",
        "grammar.tool_calls_mismatch", "grammar.duplicate_entity", "grammar.orphan_message",
        "consistency.run", "consistency.steps", "consistency.messages",
        "consistency.response", "order.run.queued_before_in_progress",
        "order.step.in_progress_after_created", "order.message.in_progress_after_created",
        "order.response.in_progress_after_created", "order.response.queued_after_created",
        "order.response.in_progress_after_queued"},
    ("root", "grammar."): {
        "grammar.run_not_in_progress", "grammar.event_after_terminal",
        "grammar.done_before_final", "grammar.tool_calls_mismatch",
        "grammar.children_open_at_terminal", "grammar.output_mismatch", "consistency.run",
        "consistency.response"},
    ("announcer", "grammar."): {"grammar.orphan_message"},
    ("group", "grammar."): {"grammar.output_mismatch", "grammar.items_interleaved"},
}
"""The table as grouping.py held it before the rows moved: (link, causes) -> rules
(and a ``repeat`` row for any rule, caused by any)."""


def test_the_shipped_rows_make_the_table_grouping_had() -> None:
    table: dict[tuple[str, str], set[str]] = {}
    repeats = []
    for row in cascades_for():
        if row.rules is None:
            repeats.append((row.link, row.causes))
            continue
        for cause in row.causes:
            table.setdefault((row.link, cause), set()).update(row.rules)
    assert repeats == [("repeat", ("",))]
    assert table == BEFORE


@pytest.mark.parametrize("protocol", ["assistants", "responses"])
def test_a_protocols_rows_name_rules_it_is_graded_on(protocol: str) -> None:
    graded = {r.id for r in rules_for(protocol)}
    named = {rule for row in REGISTRY[protocol].cascades for rule in row.rules or ()}
    assert named and named - graded == set()


def test_the_rows_for_any_grammar_come_first_then_the_protocols() -> None:
    assert cascades_for("responses") == (*CASCADES, *REGISTRY["responses"].cascades)
    assert cascades_for() == (*CASCADES, *REGISTRY["assistants"].cascades,
                              *REGISTRY["responses"].cascades)
    assert cascades_for("nobody") == cascades_for()


# --------------------------------------------------------------------------- #
# a protocol of a test's own
# --------------------------------------------------------------------------- #
ANNOUNCES = Announcement(frozenset({"toy.task"}), ("announces", "job"), "task")
TOY_ROWS = (
    Cascade(frozenset({"payload.job.id"}), "same",
            "a job whose event was refused has no id worth judging"),
    Cascade(frozenset({"payload.job.status"}), "announcer",
            "a job is announced by a task", announcement=ANNOUNCES),
    Cascade(frozenset({"order.job.last"}), "group", "any task of the job", group="tasks"),
)


@pytest.fixture
def toy() -> Iterator[str]:
    row = Registered(definition=toy_protocol.TOY, invariants=toy_protocol.INVARIANTS,
                     order=toy_protocol.ORDER, cascades=TOY_ROWS)
    register(row)
    yield row.name
    unregister(row.name)


def _shape(groups: list[Group]) -> list[tuple[str, list[str]]]:
    return [(g.root.rule, [c.rule for c in g.consequences]) for g in groups]


def test_a_registered_protocols_same_row_is_applied(toy: str) -> None:
    refused = Finding("grammar.invalid_transition", "error", "refused", 1, key="job:j1")
    after = Finding("payload.job.id", "error", "id", 2, key="job:j1")
    assert _shape(group([refused, after], root="job", protocol=toy)) == [
        ("grammar.invalid_transition", ["payload.job.id"])]
    # told no protocol, every registered protocol's rows apply
    assert _shape(group([refused, after], root="job")) == [
        ("grammar.invalid_transition", ["payload.job.id"])]
    # another protocol's flow does not take the toy's rows
    assert _shape(group([refused, after], root="job", protocol="assistants")) == [
        ("grammar.invalid_transition", []), ("payload.job.id", [])]


def test_a_registered_protocols_announcement_is_read_and_linked(toy: str) -> None:
    events = [
        TappedEvent(0, 0, "toy.task", {"object": "toy.task", "id": "t1",
                                       "announces": {"job": "j1"}}, None),
        TappedEvent(1, 0, "toy.task", {"object": "toy.task", "id": "t2",
                                       "announces": {"job": ["not", "an", "id"]}}, None),
        TappedEvent(2, 0, "toy.task", {"object": ["unhashable"], "id": "t3"}, None),
    ]
    layer = Announcers(protocol=toy)
    for event in events:
        layer.see(event)
    assert layer.found == {"j1": "task:t1"}
    assert Announcers(protocol="responses").found == {}
    lost = Finding("grammar.unknown_entity", "error", "lost", 0, key="task:t1")
    status = Finding("payload.job.status", "error", "status", 3, key="job:j1")
    assert _shape(group([lost, status], events, protocol=toy)) == [
        ("grammar.unknown_entity", ["payload.job.status"])]
    assert _shape(group([lost, status], root=None, announcers=layer, protocol=toy)) == [
        ("grammar.unknown_entity", ["payload.job.status"])]
    assert _shape(group([lost, status], events, protocol="responses")) == [
        ("grammar.unknown_entity", []), ("payload.job.status", [])]


def test_a_registered_protocols_group_row_links_any_child_of_the_group(toy: str) -> None:
    lost = Finding("grammar.unknown_entity", "error", "lost", 4, key="tasks/3")
    last = Finding("order.job.last", "warning", "last", 9, key="job")
    assert _shape(group([lost, last], protocol=toy)) == [
        ("grammar.unknown_entity", ["order.job.last"])]
    other = Finding("grammar.unknown_entity", "error", "lost", 4, key="output/3")
    assert _shape(group([other, last], protocol=toy)) == [
        ("grammar.unknown_entity", []), ("order.job.last", [])]


def test_the_shipped_responses_group_row_still_links_items() -> None:
    lost = Finding("grammar.unknown_entity", "error", "lost", 4, key="output/1")
    listed = Finding("grammar.items_interleaved", "warning", "interleaved", 7, key="output/2")
    assert _shape(group([lost, listed], protocol="responses")) == [
        ("grammar.unknown_entity", ["grammar.items_interleaved"])]
    assert _shape(group([lost, listed], protocol="assistants")) == [
        ("grammar.unknown_entity", []), ("grammar.items_interleaved", [])]


def _event(name: str, **data: Any) -> dict[str, Any]:
    return {"event": name, "data": data}


def test_runflow_check_applies_a_registered_protocols_rows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """End to end: a toy job queued twice is a ``duplicate_entity`` of the root, and
    the order rows it breaks are its consequences only when the toy's row says so."""
    stream = [_event("job.queued", id="job_1", status="queued"),
              _event("job.queued", id="job_1", status="queued"),
              _event("job.failed", id="job_1", status="failed"),
              {"event": "done", "data": "[DONE]"}]
    path = tmp_path / "toy.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in stream), encoding="utf-8")
    shapes = []
    for rows in ((), (Cascade(frozenset({"order.job.started_after_queued"}), "root",
                              "a job left behind by a refused event is out of order"),)):
        register(Registered(definition=toy_protocol.TOY, invariants=toy_protocol.INVARIANTS,
                            order=toy_protocol.ORDER, cascades=rows))
        try:
            assert main(["check", "--json", str(path)]) == 1
        finally:
            unregister("toy")
        report = json.loads(capsys.readouterr().out)
        shapes.append([(g["rule"], [c["rule"] for c in g["consequences"]])
                       for g in report["findings"]])
    order = "order.job.started_after_queued"
    assert shapes == [
        [("grammar.duplicate_entity", []), (order, [order])],
        [("grammar.duplicate_entity", [order, order])]]


def test_the_root_is_the_protocols_unless_given() -> None:
    """``group``'s root link looks for the protocol's root kind when no root is given
    (by name: the registered definition's; by definition: its own); a root given is
    used as given; told no protocol and no root, nothing is the root."""
    left = Finding("grammar.invalid_transition", "error", "lost", 1, key="response")
    after = Finding("grammar.event_after_terminal", "error", "after", 2, key="output/0")
    linked = [("grammar.invalid_transition", ["grammar.event_after_terminal"])]
    apart: list[tuple[str, list[str]]] = [("grammar.invalid_transition", []),
                                          ("grammar.event_after_terminal", [])]
    assert _shape(group([left, after], protocol="responses")) == linked
    assert _shape(group([left, after], protocol=REGISTRY["responses"].definition)) == linked
    assert _shape(group([left, after], root="run", protocol="responses")) == apart
    assert _shape(group([left, after])) == apart
    assert _shape(group([left, after], root="response")) == linked
    assert (root_of("assistants"), root_of("responses"), root_of("nobody"),
            root_of(None)) == ("run", "response", None, None)


def test_a_row_names_its_group_or_announcement_exactly_with_its_link() -> None:
    with pytest.raises(ValueError, match="group"):
        Cascade(frozenset({"x"}), "group", "no group")
    with pytest.raises(ValueError, match="group"):
        Cascade(frozenset({"x"}), "same", "a group it does not use", group="output")
    with pytest.raises(ValueError, match="announcement"):
        Cascade(frozenset({"x"}), "announcer", "no announcement")


# --------------------------------------------------------------------------- #
# the grouping module names no protocol
# --------------------------------------------------------------------------- #
def test_grouping_names_no_event_state_entity_or_rule_of_a_protocol() -> None:
    source = Path(grouping.__file__)
    tree = ast.parse(source.read_text(encoding="utf-8"))
    prose = {id(node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    constants = [node.value for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)
                 and id(node) not in prose]
    words: set[str] = set()
    for name in ("assistants", "responses"):
        row = REGISTRY[name]
        definition = row.definition
        words |= definition.events | set(definition.tables)
        words |= {s for t in definition.tables.values() for s in t.states}
        words |= {f for t in definition.tables.values()
                  for f in (*t.position, t.group, t.parent_group) if f}
        words |= {rule for c in row.cascades for rule in c.rules or ()}
        words |= {r.id for r in rules_for(name) if r.layer in ("order", "consistency")}
    # ``error`` is a severity here (and the stream's own input, whatever a protocol
    # also calls it)
    words -= {"error"}
    found = {w for text in constants for w in re.findall(r"[a-z_./]+", text)} & words
    assert found == set()
    assert "step_details" not in source.read_text(encoding="utf-8")


def test_a_flows_layers_read_only_its_own_protocols_rows(toy: str) -> None:
    """The layers ``check`` and ``conform`` grade a flow with are told its protocol: a
    registered protocol's announcements are not read from another protocol's events."""
    from runflow import ResponseFlow, RunFlow
    from runflow.conform.grade import Layers

    task = TappedEvent(0, 0, "toy.task", {"object": "toy.task", "id": "t1",
                                          "announces": {"job": "j1"}}, None)
    for flow in (ResponseFlow(), RunFlow()):
        layers = Layers(flow, types=False)
        layers.announcers.see(task)
        assert layers.announcers.found == {}, flow.protocol.name
    assert Announcers(protocol=toy).found == {}
    mine = Announcers(protocol=toy)
    mine.see(task)
    assert mine.found == {"j1": "task:t1"}


def test_a_websocket_connection_is_grouped_by_the_responses_rows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A WebSocket connection's responses speak the Responses grammar: its grading asks
    for that protocol's rows, not every registered protocol's."""
    from runflow.conform.websocket_grade import grade_connection
    from runflow.protocols.responses.websocket.transcript import Frame
    from runflow.server.responses_scenarios import ResponseRequest, script_response
    from runflow.server.scenarios import ScenarioOptions

    create: dict[str, Any] = {"type": "response.create", "model": "gpt-4o", "input": "hi"}
    events = script_response("text", ResponseRequest(dict(create), ScenarioOptions(), []))
    frames = [Frame("send", json.dumps(create), 0.0),
              *(Frame("receive", json.dumps(e), 0.0) for e in events)]
    asked: list[str | None] = []
    real = grouping.cascades_for

    def spy(protocol: str | None = None) -> tuple[Cascade, ...]:
        asked.append(protocol)
        return real(protocol)

    monkeypatch.setattr(grouping, "cascades_for", spy)
    grade_connection("c", frames)
    assert asked and set(asked) == {"responses"}
