"""``runflow conform --protocol responses-ws``: the WebSocket-mode scenarios against the
local server (``WebSocketServer``), clean and with each of its fault switches, the
bounds, the command line and the README's copy of the scenario table."""

from __future__ import annotations

import html
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from runflow.cli import main
from runflow.conform import conform
from runflow.conform.report_html import report_html
from runflow.conform.rules import rules_for, summary_for
from runflow.conform.runner import Report, ScenarioResult
from runflow.conform.session import Bounds
from runflow.conform.websocket_context import Expect, WsContext, WsScenario
from runflow.conform.websocket_grade import ConnectionProbe
from runflow.conform.websocket_run import run_websocket
from runflow.conform.websocket_scenarios import WEBSOCKET_SCENARIOS, scenarios_markdown
from runflow.conform.websocket_session import WsSession
from runflow.engine.violations import RULES as ENGINE_RULES
from runflow.protocols.responses.websocket.definition import RULES as WS_RULES
from runflow.protocols.responses.websocket.definition import WsCode
from runflow.protocols.responses.websocket.transcript import (
    Frame,
    check_transcript,
    dump_jsonl,
    transcript_report,
)
from runflow.protocols.violations import catalogues
from runflow.server.websocket import FAULTS
from runflow.server.websocket_runner import WebSocketServer

pytest.importorskip("websockets")

README = Path(__file__).resolve().parents[1] / "README.md"
WS = "responses-ws"


@pytest.fixture(scope="module")
def server() -> Iterator[WebSocketServer]:
    with WebSocketServer() as running:
        yield running


def _grade(server: WebSocketServer, *names: str, **bounds: Any) -> Report:
    return conform(server.base_url, protocol=WS, scenarios=list(names) or None,
                   bounds=Bounds(**{"timeout": 5.0, **bounds}))


def _probe(result: ScenarioResult) -> ConnectionProbe:
    [flow] = result.flows
    probe = flow.probe
    assert isinstance(probe, ConnectionProbe)
    return probe


def _data(frame: Frame) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(frame.data)
    return data


def test_every_scenario_passes_against_the_local_server(server: WebSocketServer,
                                                        tmp_path: Path) -> None:
    report = _grade(server)
    assert [s.name for s in report.scenarios] == [s.name for s in WEBSOCKET_SCENARIOS]
    for result in report.scenarios:
        assert [(f.rule, f.index, f.message) for f in result.findings] == [], result.name
        assert result.status == "passed", (result.name, result.reason)
        probe = _probe(result)
        path = tmp_path / f"{result.name}.jsonl"
        path.write_text(dump_jsonl(probe.frames))
        [checked] = check_transcript(path)  # runflow check on the saved transcript
        assert checked.violations == [] and checked.state == "closed", result.name
        assert "consistency.ws_outcome" in result.checked
    by_name = {s.name: _probe(s).flow.connection for s in report.scenarios}
    committed = by_name["steer_committed"]
    [steer] = committed.steers
    successor = list(committed.responses.values())[1]
    assert (steer.state, steer.committed_by) == ("committed", successor.id)
    [pending] = by_name["steer_pending"].steers
    assert pending.required_input and pending.state == "committed"
    assert {lane: len(rec.responses) for lane, rec in by_name["lanes"].lanes.items()} == {
        "a": 1, "b": 1}
    assert [r.lane for r in by_name["busy_lane"].responses.values()] == ["a", "a"]
    assert [e["error"]["code"] for e in by_name["previous_response_not_found"].errors] == [
        "previous_response_not_found"]
    for code in ("response_not_found", "invalid_input", "steering_not_supported",
                 "too_many_pending_steers", "successor_creation_failed"):
        ledger = by_name[f"steer_failed_{code}"].steers
        assert ("failed", code) in [(s.state, s.error_code) for s in ledger]
    assert [(s.state, s.error_code) for s in by_name["steer_idle"].steers] == [
        ("failed", "response_already_completed")]
    statuses = report.rule_status()
    assert statuses["grammar.lane_busy"] == ("pass", 0)
    assert statuses["payload.response.object"] == ("pass", 0)
    assert "payload.response.usage" not in statuses  # only SSE captures show it


FAULT_CASES = [
    # fault, at (transcript index it acts from), scenario, violation code
    ("drop", 6, "lanes", "sequence_gap"),
    ("cut", 6, "turns", "truncated"),
    ("duplicate", 6, "turns", "sequence_replay"),
    ("wrong_lane", 8, "lanes", "wrong_lane"),
    ("steer_unacked", 0, "steer_committed", "steer_unacknowledged"),
    ("successor_uncommitted", 0, "steer_committed", "successor_uncommitted"),
    ("busy_lane", 0, "busy_lane", "lane_busy"),
]


def test_the_fault_cases_cover_every_fault_switch() -> None:
    assert sorted(case[0] for case in FAULT_CASES) == sorted(FAULTS)


def _where(server_frames: list[Frame], fault: str, faulted: list[tuple[str, int]]) -> int:
    """The server transcript's index of the frame where ``fault`` shows: what the server
    recorded for a frame fault; the successor's (the second) ``response.created`` for
    the connection-wide ones, which the server does not record."""
    if faulted:
        [(name, index)] = faulted
        assert name == fault
        return index
    created = [i for i, f in enumerate(server_frames)
               if f.type == "receive" and _data(f).get("type") == "response.created"]
    return created[1]


def _client_index(server_frames: list[Frame], client_frames: list[Frame], index: int) -> int:
    """The same frame in conform's transcript: received frames come in the order the
    server sent them, so the k-th received frame is the same frame on both sides (sent
    frames may interleave differently); the end of one transcript is the other's end."""
    k = sum(1 for f in server_frames[:index] if f.type == "receive")
    received = [i for i, f in enumerate(client_frames) if f.type == "receive"]
    return received[k] if k < len(received) else len(client_frames)


@pytest.mark.parametrize("fault,at,scenario,code", FAULT_CASES)
def test_each_fault_is_found_at_its_frame_by_conform_and_by_check(
        server: WebSocketServer, tmp_path: Path, fault: str, at: int, scenario: str,
        code: str) -> None:
    server.mode.faulted.clear()
    first = len(server.mode.transcripts)
    server.mode.inject(fault, at=at)
    report = _grade(server, scenario, timeout=2.0)
    [result] = report.scenarios
    [server_frames] = server.mode.transcripts[first:]
    probe = _probe(result)
    where = _client_index(server_frames, probe.frames,
                          _where(server_frames, fault, server.mode.faulted))
    found = [(f.rule, f.index) for f in result.findings]
    assert (f"grammar.{code}", where) in found, (where, found)
    assert result.status == "failed" and report.exit_code == 1
    path = tmp_path / "faulted.jsonl"
    path.write_text(dump_jsonl(probe.frames))
    [checked] = check_transcript(path)
    assert (code, where) in [(v.code, v.index) for v in checked.violations]
    status, text = transcript_report(path)  # what runflow check prints
    assert f"#{where} " in text and code in text
    assert status == (1 if any(v.severity == "error" for v in checked.violations) else 0)


def _held(ctx: WsContext) -> None:
    """A create the local server holds until a steer comes (none does)."""
    conn = ctx.connect()
    ctx.create(conn, metadata={"hold": "steer"})
    ctx.settle(conn)


HELD = WsScenario("held", "a response held past the bounds", _held, Expect(), "test")


@pytest.mark.parametrize("bounds,flag", [
    ({"timeout": 0.3}, "--timeout"),
    ({"timeout": 5.0, "scenario_seconds": 0.3}, "--scenario-timeout"),
    ({"body_bytes": 300}, "--max-body-bytes"),
    ({"stream_bytes": 1500}, "--max-stream-bytes"),
])
def test_a_bound_passed_is_a_finding_at_the_frame_that_did_not_come(
        server: WebSocketServer, bounds: dict[str, Any], flag: str) -> None:
    session = WsSession(server.base_url, "test", bounds=Bounds(**bounds))
    run = run_websocket(session, HELD, "gpt-4o-mini")
    [(probe, groups)] = run.graded
    http = [g.root for g in groups if g.root.rule == "http.status"]
    assert [flag in f.message for f in http] == [True], http
    assert http[0].index == len(probe.frames)  # as an SSE grade numbers it: what came next
    assert run.status == "error" and "ended before the scenario did" in run.reason
    roots = [(g.root.rule, g.root.index) for g in groups]
    if flag == "--max-body-bytes":  # response.created itself passed the cap: nothing began
        assert probe.frames[-1].type == "send"
        assert roots == [("grammar.create_unanswered", 1), ("http.status", 1)]
    else:  # the held response was cut where conform stopped reading
        assert ("grammar.truncated", len(probe.frames)) in roots


def test_the_command_line_grades_websocket_mode_into_every_report(
        server: WebSocketServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit, page = tmp_path / "r.xml", tmp_path / "r.html"
    code = main(["conform", "--base-url", server.base_url, "--protocol", WS,
                 "--scenario", "lanes", "--scenario", "warm_up", "--json",
                 "--junit", str(junit), "--html", str(page), "--timeout", "5"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["protocol"] == WS and data["exit_code"] == 0
    assert [(s["name"], s["status"]) for s in data["scenarios"]] == [
        ("lanes", "passed"), ("warm_up", "passed")]
    [flow] = data["scenarios"][0]["flows"]
    assert flow["ending"] == "done" and flow["state"] == "closed" and flow["events"] > 20
    [upgrade] = data["scenarios"][0]["exchanges"]  # the handshake, and the frames received
    assert (upgrade["status"], upgrade["path"]) == (101, "/v1/responses")
    assert upgrade["events"] == flow["events"] - 2  # all but the two creates sent
    assert data["rules"]["grammar.wrong_lane"]["status"] == "pass"
    suites = ET.parse(junit).getroot()
    assert suites.get("failures") == "0"
    assert {s.get("name") for s in suites} == {f"{WS}.lanes", f"{WS}.warm_up"}
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "response.output_text.delta" in html


def test_a_fault_from_the_command_line_exits_1_naming_the_code_and_frame(
        server: WebSocketServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.mode.inject("busy_lane")
    code = main(["conform", "--base-url", server.base_url, "--protocol", WS,
                 "--scenario", "busy_lane", "-q"])
    out = capsys.readouterr().out
    assert code == 1
    assert "grammar.lane_busy" in out and "not conformant" in out


def test_an_unreachable_server_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(["conform", "--base-url", f"http://127.0.0.1:{port}/v1", "--protocol", WS])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert f"cannot reach ws://127.0.0.1:{port}/v1/responses" in line
    report = conform(f"http://127.0.0.1:{port}/v1", protocol=WS)  # the library says so too
    assert report.exit_code == 2 and report.could_not_run and not report.scenarios


def test_a_refused_handshake_makes_the_scenario_not_applicable(
        server: WebSocketServer) -> None:
    report = conform(server.base_url + "/nowhere", protocol=WS, scenarios=["turns"])
    [result] = report.scenarios
    assert result.status == "not_applicable" and "handshake" in result.reason
    assert [400 <= (e.status or 0) < 500 for e in result.exchanges] == [True]
    assert report.exit_code == 2


JUNK = ["not json", "[1, 2]", '{"type": 5}', '{"type": "response.created", "response": "x", '
        '"stream_id": 7}']


@pytest.fixture
def hostile() -> Iterator[str]:
    """A WebSocket server that answers the first client frame with :data:`JUNK`, then
    closes; its base URL."""
    from websockets.sync.server import ServerConnection, serve

    def answer(conn: ServerConnection) -> None:
        conn.recv()
        for text in JUNK:
            conn.send(text)
        conn.close()

    with serve(answer, "127.0.0.1", 0) as running:
        thread = threading.Thread(target=running.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{running.socket.getsockname()[1]}/v1"
        running.shutdown()
        thread.join(5)


def test_a_hostile_server_is_graded_frame_by_frame_never_an_exception(hostile: str) -> None:
    report = conform(hostile, protocol=WS, scenarios=["turns"], bounds=Bounds(timeout=5))
    [result] = report.scenarios
    assert [(f.rule, f.index) for f in result.findings] == [
        ("grammar.malformed_frame", 1), ("grammar.malformed_frame", 2),
        ("grammar.malformed_frame", 3), ("grammar.malformed_frame", 4),
        ("grammar.create_unanswered", 5)]  # no frame answered the create, and it closed
    assert result.status == "failed" and report.exit_code == 1
    # the fourth frame names no response: the create reads as refused, and conform stops
    assert "refused" in result.reason
    assert [f.type for f in _probe(result).frames] == ["send", *["receive"] * len(JUNK)]


def test_websocket_mode_is_graded_on_its_own_rules_and_the_documented_responses_rows() -> None:
    from runflow.conform.rules import rules_for
    from runflow.protocols.responses.websocket.definition import WsCode

    ids = {r.id: r for r in rules_for(WS)}
    assert {f"grammar.{c.value}" for c in WsCode} <= ids.keys()
    assert {"grammar.output_mismatch", "payload.response.created_at", "http.status",
            "http.error_shape", "consistency.ws_outcome"} <= ids.keys()
    assert not [r.id for r in ids.values() if r.source == "captures"]
    assert not {"http.content_type", "consistency.response",
                "payload.response.structured_output"} & ids.keys()


def test_every_row_says_what_it_expects_and_where_that_is_written() -> None:
    assert len({s.name for s in WEBSOCKET_SCENARIOS}) == len(WEBSOCKET_SCENARIOS)
    for row in WEBSOCKET_SCENARIOS:
        assert row.source and row.expects.describe(), row.name
        assert row.protocol == WS


def test_the_readme_carries_the_scenario_table_as_generated() -> None:
    assert scenarios_markdown() in README.read_text(encoding="utf-8"), (
        "README.md's WebSocket scenario table is stale: python -c 'from runflow.conform."
        "websocket_scenarios import scenarios_markdown as m; print(m())'")


def _assistants_only() -> list[str]:
    """What the Assistants catalogue says a grammar code means, where it says more than
    the engine's sentence: words a WebSocket report must not use."""
    return [said for code, said in catalogues()["assistants"].items()
            if said != ENGINE_RULES[code].summary]


def test_every_rule_is_explained_in_the_responses_and_the_connections_words() -> None:
    """Each response on a socket runs the Responses grammar: a rule the WebSocket mode
    is graded on says what it means there (the engine's sentence and the Responses
    catalogue's, a Responses invariant), the connection's own rules their own sentence,
    and a grammar code the connection also reports both."""
    other = _assistants_only()
    assert other
    for row in rules_for(WS):
        said = summary_for(row.id, WS)
        assert said and "Assistants: " not in said, row.id
        assert not [text for text in other if text in said], row.id
        if WS in row.protocols:  # the connection's own
            assert said == row.summary and said.startswith("WebSocket: "), row.id
        else:
            assert said.startswith(summary_for(row.id, "responses")), row.id
    for code in ("sequence_gap", "truncated"):  # both the grammar's and the connection's
        said = summary_for(f"grammar.{code}", WS)
        assert "Responses: " in said and f"WebSocket: {WS_RULES[WsCode(code)].why}." in said


def test_the_html_report_explains_rules_in_no_assistants_words(
        server: WebSocketServer) -> None:
    """A faulted WebSocket run's page: the finding's title and the rules table say each
    rule in the Responses and the connection's words, never the Assistants'."""
    server.mode.inject("drop", at=6)
    report = _grade(server, "lanes", timeout=2.0)
    assert "grammar.sequence_gap" in {f.rule for f in report.findings}
    page = report_html(report)
    assert "Assistants: " not in page
    assert not [text for text in _assistants_only() if html.escape(text) in page]
    for rule in report.rule_status():
        assert html.escape(summary_for(rule, WS)) in page, rule
    gap = html.escape(summary_for("grammar.sequence_gap", WS))
    assert f'title="{gap}"' in page  # the finding's title, as the rules table says it
