"""``runflow conform`` against the local server: every applicable rule passes without
faults; each fault mode and each break switch fails the rule it must, at its event;
findings are grouped by root cause; the docs table is fresh."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from helpers import of_type

from runflow.conform import conform, rules_for
from runflow.conform.runner import Report
from runflow.conform.session import Probe
from runflow.conform.table import TABLE, Outcome, Switch, markdown, run, switches
from runflow.protocols.registry import registered
from runflow.testing import Server


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server() as srv:
        yield srv


@pytest.fixture(scope="module")
def clean(server: Server) -> dict[str, Report]:
    return {p: conform(server.base_url, protocol=p) for p in ("assistants", "responses")}


@pytest.fixture(scope="module")
def outcomes(server: Server) -> dict[tuple[str, str], Outcome]:
    return {(o.switch.protocol, o.switch.name): o for o in run(server.base_url)}


@pytest.mark.parametrize("protocol", ["assistants", "responses"])
def test_every_applicable_rule_passes_on_the_local_server(
        clean: dict[str, Report], protocol: str) -> None:
    report = clean[protocol]
    assert report.exit_code == 0
    assert report.findings == []
    assert {s.name: s.status for s in report.scenarios} == {
        s.name: "passed" for s in report.scenarios}
    statuses = report.rule_status()
    assert set(statuses) == {r.id for r in rules_for(protocol)}
    # the catalogue reaches every rule: none is left not applicable
    assert {rule for rule, (status, _) in statuses.items() if status != "pass"} == set()
    for row in registered(protocol).invariants:
        assert statuses[row.id] == ("pass", 0)


def test_the_catalogue_exercises_what_the_issue_lists(clean: dict[str, Report]) -> None:
    assistants = {s.name: s for s in clean["assistants"].scenarios}
    parallel = assistants["parallel_functions"].flows[0].probe
    assert parallel.tap.stream == 1  # the submit_tool_outputs stream continued the flow
    assert parallel.flow.root_state == "completed"
    assert assistants["cancel"].flows[0].probe.flow.root_state == "cancelled"
    assert assistants["create_and_run"].flows[0].probe.tap.events[0].name == "thread.created"
    responses = {s.name: s for s in clean["responses"].scenarios}
    follow = responses["parallel_functions"].flows[1].probe
    assert follow.label == "follow-up" and follow.flow.root_state == "completed"
    background = of_type(Probe, responses["background"].flows[0].probe)  # over HTTP
    assert background.tap.stream == 1 and background.left_at
    resumed = [e for e in background.tap.events if e.stream == 1]
    assert resumed[0].data["sequence_number"] == 3  # starting_after=2
    assert responses["incomplete"].flows[0].probe.flow.root_state == "incomplete"
    paths = {(e.method, e.path.split("/v1/")[-1].split("/")[0])
             for s in clean["responses"].scenarios for e in s.exchanges}
    assert ("GET", "responses") in paths and ("POST", "responses") in paths


@pytest.mark.parametrize("switch", switches(), ids=lambda s: f"{s.protocol}-{s.name}")
def test_each_switch_fails_its_rule_at_its_event(
        outcomes: dict[tuple[str, str], Outcome], switch: Switch) -> None:
    outcome = outcomes[(switch.protocol, switch.name)]
    scenario = outcome.scenario
    if switch.rule is None:
        assert not [f for f in scenario.findings if f.severity == "error"]
        return
    roots = [(g.root.rule, g.root.index) for g in scenario.groups]
    assert (switch.rule, outcome.expected_index) in roots, roots
    if switch.at is not None:  # the index is the event the break changed
        assert outcome.expected_index is not None
    severity = next(g.root.severity for g in scenario.groups if g.root.rule == switch.rule)
    if severity == "error":
        assert (scenario.status, outcome.report.exit_code) == ("failed", 1)
    elif scenario.reason.startswith("the stream ended with an error event"):
        assert scenario.status == "not_applicable"  # error_after: nothing more to grade
    else:
        assert (scenario.status, outcome.report.exit_code) == ("warnings", 0)


def test_a_lost_event_is_one_root_cause_with_its_consequences(
        outcomes: dict[tuple[str, str], Outcome]) -> None:
    corrupt = outcomes[("assistants", "corrupt=3")].scenario
    (group,) = corrupt.groups
    assert (group.root.rule, group.root.index) == ("grammar.malformed_event", 2)
    rules = [f.rule for f in group.consequences]
    assert rules.count("grammar.run_not_in_progress") == 6
    assert rules[-2:] == ["grammar.invalid_transition", "grammar.done_before_final"]
    drop = outcomes[("assistants", "drop=4")].scenario
    (group,) = drop.groups
    assert [f.rule for f in group.consequences] == ["grammar.orphan_message",
                                                    "grammar.unknown_entity"]
    gap = outcomes[("responses", "drop=4")].scenario
    (group,) = gap.groups
    assert group.root.rule == "grammar.sequence_gap"
    assert {f.rule for f in group.consequences} == {"grammar.unknown_entity"}


def test_independent_problems_stay_separate(server: Server) -> None:
    report = conform(server.base_url, scenarios=["text"],
                     headers={"X-Runflow-Break": "run.started_at,run.usage"})
    roots = [(g.root.rule, g.root.index, len(g.consequences)) for g in report.groups]
    assert roots == [("payload.run.started_at", 2, 0), ("payload.run.usage", 19, 0)]


def test_an_unknown_break_is_a_400(server: Server) -> None:
    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="hi",
                                extra_headers={"X-Runflow-Break": "no.such"})
    body = caught.value.body
    assert isinstance(body, dict) and body["param"] == "X-Runflow-Break"
    assert "no.such" in body["message"]


def test_the_docs_table_is_fresh(outcomes: dict[tuple[str, str], Outcome]) -> None:
    ordered = [outcomes[(s.protocol, s.name)] for s in switches()]
    assert all(o.holds for o in ordered)
    assert TABLE.read_text(encoding="utf-8") == markdown(ordered), (
        "docs/conform_table.md is stale: python -m runflow.conform.table --write")


def test_a_server_that_cannot_be_reached_could_not_run() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    report = conform(f"http://127.0.0.1:{port}/v1", timeout=5)
    assert report.exit_code == 2 and report.could_not_run is not None
    assert "cannot reach" in report.could_not_run


def test_json_report_is_the_grouped_findings(outcomes: dict[tuple[str, str], Outcome]) -> None:
    from runflow.conform.report_data import report_json

    data = json.loads(json.dumps(report_json(outcomes[("assistants", "drop=6")].report)
                                 if ("assistants", "drop=6") in outcomes else
                                 report_json(outcomes[("assistants", "drop=4")].report)))
    (scenario,) = data["scenarios"]
    (finding,) = scenario["findings"]
    assert finding["rule"] == "grammar.unknown_entity" and finding["index"] == 3
    assert [c["rule"] for c in finding["consequences"]] == ["grammar.orphan_message",
                                                            "grammar.unknown_entity"]
    assert data["exit_code"] == 1
    assert data["rules"]["grammar.unknown_entity"] == {"status": "fail", "findings": 2}
