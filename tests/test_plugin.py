"""The pytest plugin (runflow.testing.plugin) and the run assertions (runflow.testing.assertions).

The plugin is exercised the way a user meets it: a test file written to a temp
folder, run by pytest in a subprocess, its outcomes read from the report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import openai
import pytest

from runflow import RunFlow, drive_response
from runflow.adapters.recording import DEMO_STREAM
from runflow.testing import RESPONSE_SCENARIOS, Server
from runflow.testing.assertions import (
    RunViolationsError,
    assert_valid_response,
    assert_valid_run,
    raise_for_violations,
)
from runflow.testing.plugin import ALL_FAULTS


def _demo_events() -> list[dict[str, object]]:
    return [json.loads(line) for line in DEMO_STREAM.read_text(encoding="utf-8").splitlines()]


def _flow(events: list[dict[str, object]]) -> RunFlow:
    flow = RunFlow()
    for event in events:
        flow.feed(event)
    flow.close()
    return flow


# --------------------------------------------------------------------------- #
# raise_for_violations / assert_valid_run
# --------------------------------------------------------------------------- #
def test_a_clean_run_passes() -> None:
    flow = _flow(_demo_events())
    raise_for_violations(flow)
    assert_valid_run(flow, status="completed", ending="done")


def test_the_error_lists_each_violation_with_index_code_entity_and_message() -> None:
    events = _demo_events()
    flow = _flow(events[:-1])  # the final done is missing
    with pytest.raises(RunViolationsError) as caught:
        raise_for_violations(flow)
    assert isinstance(caught.value, AssertionError)
    [violation] = caught.value.violations
    assert (violation.code, violation.index) == ("truncated", len(events) - 1)
    lines = str(caught.value).splitlines()
    assert lines[0] == ("run run_demoWeather0001 (status completed, ending truncated): "
                        "1 unexpected violation(s)")
    assert lines[1] == "  - expected: no error-severity violation"
    assert lines[2] == f"  + #{len(events) - 1}  truncated  -  {violation.message}"


def test_several_violations_are_aligned_one_per_line() -> None:
    events = _demo_events()
    flow = _flow([events[0], events[5], *events[:-1]])
    with pytest.raises(RunViolationsError) as caught:
        raise_for_violations(flow)
    found = caught.value.violations
    assert len(found) >= 2
    rows = str(caught.value).splitlines()[2:]
    assert len(rows) == len(found)
    for row, v in zip(rows, found, strict=True):
        assert row.startswith(f"  + #{v.index}")
        assert f" {v.code.value} " in row and row.endswith(v.message)
        assert str(v.entity or "-") in row
    # the code column starts at the same place in every row
    assert len({row.index(v.code.value) for row, v in zip(rows, found, strict=True)}) == 1


def test_allow_accepts_expected_codes_and_rejects_unknown_ones() -> None:
    flow = _flow(_demo_events()[:-1])
    raise_for_violations(flow, allow={"truncated"})
    raise_for_violations(flow, allow="truncated")  # one code, given bare
    with pytest.raises(ValueError, match=r"unknown violation code.*truncted"):
        raise_for_violations(flow, allow={"truncted"})


def test_warnings_do_not_fail_a_run() -> None:
    events = _demo_events()
    flow = _flow([events[0], {"event": "thread.run.step.mystery", "data": {}}, *events[1:]])
    assert [v.code for v in flow.violations] == ["unknown_event"]
    raise_for_violations(flow)


def test_assert_valid_run_names_the_expected_and_the_actual_outcome() -> None:
    flow = _flow(_demo_events())
    with pytest.raises(RunViolationsError) as caught:
        assert_valid_run(flow, status="failed", ending="done")
    assert str(caught.value).splitlines()[1:] == [
        "  - expected status: failed", "  + got status:      completed"]


# --------------------------------------------------------------------------- #
# the plugin, run by pytest in a subprocess
# --------------------------------------------------------------------------- #
USER_TESTS = '''
import threading
import pytest
from runflow import RunFlow
from runflow.adapters.sdk import consume


def _servers():
    return [t for t in threading.enumerate() if t.name.startswith("runflow-server")]


def test_a_test_without_fixtures_starts_no_server():
    assert _servers() == []


@pytest.mark.runflow_scenarios("text", "cancel")
@pytest.mark.runflow_faults("cut_after=3", "drop=2")
def test_grid(openai_client, runflow_case):
    flow = RunFlow()
    stream = openai_client.beta.threads.create_and_run(
        assistant_id=runflow_case.assistant_id, stream=True)
    ending = consume(flow, stream)
    print("CASE", runflow_case.scenario, runflow_case.fault, ending, flow.event_count)
    assert len(_servers()) == 1


@pytest.mark.runflow_faults("all")
def test_all_faults(runflow_case):
    assert runflow_case.scenario == "text" and runflow_case.fault


def test_inject_once_then_cleared(openai_client, runflow_case):
    runflow_case.inject("cut_after=1", always=True)
    flow = RunFlow()
    consume(flow, openai_client.beta.threads.create_and_run(assistant_id="asst_text",
                                                            stream=True))
    assert flow.ending == "truncated"


def test_the_next_test_gets_a_clean_stream(openai_client, assert_valid_run):
    flow = RunFlow()
    consume(flow, openai_client.beta.threads.create_and_run(assistant_id="asst_text",
                                                            stream=True))
    assert_valid_run(flow, status="completed", ending="done")


def test_a_failing_run_shows_its_violations(openai_client, runflow_case):
    flow = RunFlow()
    consume(flow, openai_client.beta.threads.create_and_run(
        assistant_id="asst_text", stream=True, extra_headers={"X-Runflow-Fault": "cut_after=4"}))
    from runflow.testing.assertions import raise_for_violations
    raise_for_violations(flow)
'''


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "runflow.testing.plugin", "-p",
         "no:cacheprovider", "-rA", "-s", *args],
        capture_output=True, text=True, cwd=folder, check=False, timeout=120)


def _outcomes(stdout: str) -> dict[str, str]:
    return {m.group(2): m.group(1)
            for m in re.finditer(r"^(PASSED|FAILED|ERROR|SKIPPED) \S+::(\S+)", stdout, re.M)}


@pytest.fixture(scope="module")
def user_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    folder = tmp_path_factory.mktemp("user")
    (folder / "test_user.py").write_text(USER_TESTS, encoding="utf-8")
    return _pytest(folder, "-p", "no:randomly")


def test_markers_make_one_case_per_scenario_and_fault(
        user_run: subprocess.CompletedProcess[str]) -> None:
    outcomes = _outcomes(user_run.stdout)
    grid = {k: v for k, v in outcomes.items() if k.startswith("test_grid")}
    assert grid == {f"test_grid[{s}-{f}]": "PASSED" for s in ("text", "cancel")
                    for f in ("cut_after=3", "drop=2")}, user_run.stdout
    every = {k for k, v in outcomes.items() if k.startswith("test_all_faults") and v == "PASSED"}
    assert every == {f"test_all_faults[text-{f}]" for f in ALL_FAULTS}


def test_the_case_fault_reaches_the_client_of_that_case_only(
        user_run: subprocess.CompletedProcess[str]) -> None:
    cases = re.findall(r"CASE (\S+) (\S+) (\S+) (\d+)", user_run.stdout)
    assert len(cases) == 4
    for _scenario, fault, ending, events in cases:
        # a cut after 3 frames: 3 events then truncated; a dropped event still ends with done
        if fault == "cut_after=3":
            assert (ending, events) == ("truncated", "3")
        else:
            assert (fault, ending) == ("drop=2", "done")


def test_nothing_starts_until_a_fixture_asks_and_injected_faults_are_cleared(
        user_run: subprocess.CompletedProcess[str]) -> None:
    outcomes = _outcomes(user_run.stdout)
    assert outcomes["test_a_test_without_fixtures_starts_no_server"] == "PASSED"
    assert outcomes["test_inject_once_then_cleared"] == "PASSED"
    assert outcomes["test_the_next_test_gets_a_clean_stream"] == "PASSED"


def test_a_violation_fails_the_test_with_the_list(
        user_run: subprocess.CompletedProcess[str]) -> None:
    assert _outcomes(user_run.stdout)["test_a_failing_run_shows_its_violations"] == "FAILED"
    assert re.search(r"E\s+runflow\.testing\.assertions\.RunViolationsError: run run_\w+ \(status "
                     r"in_progress, ending truncated\): 1 unexpected violation", user_run.stdout)
    assert re.search(r"E\s+\+ #4\s+truncated\s+-\s+", user_run.stdout)
    assert user_run.returncode == 1


def test_an_unknown_scenario_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_bad.py").write_text(textwrap.dedent('''
        import pytest

        @pytest.mark.runflow_scenarios("txt")
        def test_x(runflow_case):
            pass
    '''), encoding="utf-8")
    done = _pytest(tmp_path)
    assert done.returncode != 0
    assert "unknown runflow scenario 'txt'; known: text, parallel_functions" in (
        done.stdout + done.stderr)
    assert "Traceback" not in done.stdout + done.stderr



# --------------------------------------------------------------------------- #
# assert_valid_response
# --------------------------------------------------------------------------- #
TOOLS = {"get_weather": lambda city: f"sunny in {city}",
         "get_time": lambda timezone: f"noon in {timezone}"}


def test_assert_valid_response_checks_every_response_of_a_drive(fresh: Server) -> None:
    client = openai.OpenAI(base_url=fresh.base_url, api_key="test", max_retries=0)
    fresh.inject("drop=6")  # the first response's stream only
    done = drive_response(client, model="gpt-4o", input="Weather?", tools=TOOLS,
                          metadata={"scenario": "parallel_functions"})
    assert len(done.flows) == 2 and done.response.status == "completed"
    assert_valid_response(done.flows[-1], status="completed", ending="done")
    with pytest.raises(RunViolationsError) as caught:
        assert_valid_response(done, status="completed")
    first = done.flows[0]
    assert caught.value.violations == [v for v in first.violations if v.severity == "error"]
    assert [v.code for v in caught.value.violations] == ["sequence_gap", "snapshot_divergence"]
    assert str(caught.value).splitlines()[0] == (
        f"response {first.response_id} (status completed, ending done): "
        "2 unexpected violation(s)")
    assert_valid_response(done, allow={"sequence_gap", "snapshot_divergence"},
                          status="completed", ending="done")
    with pytest.raises(RunViolationsError, match="expected status: incomplete"):
        assert_valid_response(done, allow={"sequence_gap", "snapshot_divergence"},
                              status="incomplete")


def test_assert_valid_response_refuses_an_assistants_flow() -> None:
    with pytest.raises(TypeError, match="not a flow of runs"):
        assert_valid_response(_flow(_demo_events()))


# --------------------------------------------------------------------------- #
# the plugin's Responses side, run by pytest in a subprocess
# --------------------------------------------------------------------------- #
USER_RESPONSE_TESTS = """
import pytest
from runflow import DriveError, drive_response

TOOLS = {"get_weather": lambda city: f"sunny in {city}",
         "get_time": lambda timezone: f"noon in {timezone}"}
OUTCOME = {"incomplete": "incomplete", "failed": "failed"}


def agent(client, case):
    return drive_response(client, model="gpt-4o", input="What should I wear?", tools=TOOLS,
                          metadata=case.metadata)


@pytest.mark.runflow_protocol("responses")
@pytest.mark.runflow_scenarios("all")
def test_every_scenario(openai_client, runflow_case, assert_valid_response):
    done = agent(openai_client, runflow_case)
    failed = runflow_case.scenario == "failed"
    assert_valid_response(done, status=OUTCOME.get(runflow_case.scenario, "completed"),
                          ending="error" if failed else "done")
    print("CASE", runflow_case.protocol, runflow_case.scenario, done.response.status,
          len(done.flows), len(done.tool_calls))


@pytest.mark.runflow_protocol("responses")
@pytest.mark.runflow_scenarios("text", "parallel_functions")
@pytest.mark.runflow_faults("all")
def test_every_fault(openai_client, runflow_case):
    if runflow_case.fault == "cut_after=0":  # no response named: nothing to follow up
        with pytest.raises(DriveError):
            agent(openai_client, runflow_case)
        print("FAULT", runflow_case.scenario, runflow_case.fault, "DriveError", "-")
        return
    done = agent(openai_client, runflow_case)
    assert done.response.status == "completed"
    codes = sorted({v.code.value for f in done.flows for v in f.violations})
    print("FAULT", runflow_case.scenario, runflow_case.fault,
          ",".join(f.ending for f in done.flows), ",".join(codes) or "-")


@pytest.mark.runflow_protocol("responses")
@pytest.mark.runflow_faults("drop=6")
def test_a_damaged_response_fails(openai_client, runflow_case, assert_valid_response):
    assert_valid_response(agent(openai_client, runflow_case))


@pytest.mark.runflow_protocol("assistants", "responses")
def test_both_protocols(runflow_case):
    print("BOTH", runflow_case.protocol, runflow_case.scenario)
"""


@pytest.fixture(scope="module")
def responses_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    folder = tmp_path_factory.mktemp("responses")
    (folder / "test_responses_user.py").write_text(USER_RESPONSE_TESTS, encoding="utf-8")
    return _pytest(folder, "-p", "no:randomly")


def test_responses_scenarios_come_from_the_response_scenario_table(
        responses_run: subprocess.CompletedProcess[str]) -> None:
    outcomes = _outcomes(responses_run.stdout)
    assert {k: v for k, v in outcomes.items() if k.startswith("test_every_scenario")} == {
        f"test_every_scenario[{name}]": "PASSED" for name in RESPONSE_SCENARIOS}
    cases = {c[1]: c for c in re.findall(r"CASE (\S+) (\S+) (\S+) (\d+) (\d+)$",
                                         responses_run.stdout, re.M)}
    assert cases["parallel_functions"] == ("responses", "parallel_functions", "completed",
                                           "2", "2")
    assert cases["failed"] == ("responses", "failed", "failed", "1", "0")
    assert cases["incomplete"][2] == "incomplete"


def test_every_fault_reaches_the_responses_stream_of_its_case(
        responses_run: subprocess.CompletedProcess[str]) -> None:
    outcomes = _outcomes(responses_run.stdout)
    assert {k: v for k, v in outcomes.items() if k.startswith("test_every_fault")} == {
        f"test_every_fault[{s}-{f}]": "PASSED" for s in ("text", "parallel_functions")
        for f in ALL_FAULTS}, responses_run.stdout
    seen = {(s, f): (endings, codes) for s, f, endings, codes in re.findall(
        r"FAULT (\S+) (\S+) (\S+) (\S+)$", responses_run.stdout, re.M)}
    assert seen[("text", "cut_after=0")] == ("DriveError", "-")
    assert seen[("text", "cut_after=5")] == ("truncated", "truncated")
    assert seen[("parallel_functions", "cut_after=5")] == ("truncated,truncated", "truncated")
    assert seen[("text", "error_after=4")][0] == "error"
    assert seen[("text", "drop=6")] == ("done", "sequence_gap,snapshot_divergence")
    assert seen[("text", "corrupt=6")] == (
        "done", "malformed_event,sequence_gap,snapshot_divergence")
    assert seen[("text", "unknown=2")] == ("done", "unknown_event")
    assert seen[("text", "duplicate=6")] == ("done", "-")  # the replay is dropped
    assert seen[("text", "delay=0.002")] == ("done", "-")


def test_a_damaged_response_fails_with_its_violations(
        responses_run: subprocess.CompletedProcess[str]) -> None:
    out = responses_run.stdout
    assert _outcomes(out)["test_a_damaged_response_fails[text-drop=6]"] == "FAILED"
    assert re.search(r"E\s+runflow\.testing\.assertions\.RunViolationsError: response resp_\w+ "
                     r"\(status completed, ending done\): 2 unexpected violation", out)
    assert re.search(r"E\s+\+ #5\s+sequence_gap\s+", out)
    assert responses_run.returncode == 1


def test_one_test_under_both_protocols(responses_run: subprocess.CompletedProcess[str]) -> None:
    outcomes = _outcomes(responses_run.stdout)
    assert {k: v for k, v in outcomes.items() if k.startswith("test_both_protocols")} == {
        "test_both_protocols[assistants-text]": "PASSED",
        "test_both_protocols[responses-text]": "PASSED"}
    assert re.findall(r"BOTH (\S+) (\S+)$", responses_run.stdout, re.M) == [
        ("assistants", "text"), ("responses", "text")]


@pytest.mark.parametrize(("marks", "message"), [
    ('@pytest.mark.runflow_protocol("chat")',
     "unknown runflow protocol 'chat'; known: assistants, responses"),
    ('@pytest.mark.runflow_protocol("responses")\n@pytest.mark.runflow_scenarios("cancel")',
     "unknown runflow scenario 'cancel'; known: " + ", ".join(RESPONSE_SCENARIOS)
     + " (responses protocol)"),
])
def test_an_unknown_protocol_or_responses_scenario_is_a_usage_error(
        tmp_path: Path, marks: str, message: str) -> None:
    (tmp_path / "test_bad.py").write_text(f"import pytest\n\n{marks}\ndef test_x(runflow_case):\n"
                                          "    pass\n", encoding="utf-8")
    done = _pytest(tmp_path)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
