"""``runflow watch``: line output (directly), the live view (through tmux), pacing."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from conftest import recordings_dir, tool_missing

from runflow.adapters.recording import DEMO_STREAM, replay_file
from runflow.cli import main
from runflow.cli.watch import MAX_PAUSE, _blocks, play, schedule
from runflow.testing import Server


def _watch(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["watch", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


# --------------------------------------------------------------------------- #
# line output: recordings
# --------------------------------------------------------------------------- #
def test_a_recording_as_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = _watch(capsys, str(DEMO_STREAM), "--speed", "0")
    assert (code, err) == (0, "")
    assert lines == [
        "#0 run run_demoWeather0001: unseen -> queued (thread.run.created)",
        "#2 run run_demoWeather0001: queued -> in_progress (thread.run.in_progress)",
        "#3 step step_demoToolCall0001: unseen -> in_progress (thread.run.step.created)",
        "#10 run run_demoWeather0001: in_progress -> requires_action "
        "(thread.run.requires_action)",
        'tool call get_weather({"city":"Lisbon"}) [call_demoGetWeather0001]',
        "#12 step step_demoToolCall0001: in_progress -> completed (thread.run.step.completed)",
        "#13 run run_demoWeather0001: requires_action -> queued (thread.run.queued)",
        "#14 run run_demoWeather0001: queued -> in_progress (thread.run.in_progress)",
        "#15 step step_demoMessage0001: unseen -> in_progress (thread.run.step.created)",
        "#17 message msg_demoAnswer0001: unseen -> in_progress (thread.message.created)",
        "#29 message msg_demoAnswer0001: in_progress -> completed (thread.message.completed)",
        "text msg_demoAnswer0001: It's 24°C and clear in Lisbon today.",
        "#30 step step_demoMessage0001: in_progress -> completed (thread.run.step.completed)",
        "#31 run run_demoWeather0001: in_progress -> completed (thread.run.completed)",
        "stream 1 ended: done",
        "run run_demoWeather0001 completed: 33 events, 1 stream(s), 0 change(s) recovered "
        "over REST, 0 violation(s)",
    ]


def test_diagram_prints_the_path_as_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    from runflow.diagrams import path_mermaid

    code, lines, _ = _watch(capsys, str(DEMO_STREAM), "--speed", "0", "--diagram")
    expected = path_mermaid(replay_file(DEMO_STREAM).flow.history).splitlines()
    assert code == 0
    assert lines[-len(expected):] == expected
    edge = "run_in_progress --> run_requires_action : #10 thread.run.requires_action"
    assert f"        {edge}" in lines


def test_an_sse_recording_shows_the_same_changes_as_a_replay(
        capsys: pytest.CaptureFixture[str]) -> None:
    path = recordings_dir() / "dotnet_function_call_continuation.sse"
    code, lines, _ = _watch(capsys, str(path), "--speed", "0")
    flow = replay_file(path).flow
    shown = [line for line in lines if line.startswith("#")]
    assert shown == [f"#{c.index} {c.entity.value} {c.id}: {c.source} -> {c.dest} ({c.event})"
                     for c in flow.history if c.source != c.dest]
    assert code == (0 if flow.ok else 1)


def test_a_broken_jsonl_line_is_a_violation_not_a_crash(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = DEMO_STREAM.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([*lines[:3], "{not json", *lines[3:]]) + "\n", encoding="utf-8")
    code, out, _ = _watch(capsys, str(broken), "--speed", "0")
    assert code == 1
    assert any(line.startswith("! #3 error malformed_event") for line in out)


# --------------------------------------------------------------------------- #
# pacing
# --------------------------------------------------------------------------- #
def test_schedule_spreads_events_without_a_timestamp_and_never_goes_back() -> None:
    assert schedule([None, 10, None, None, 13, None, 12, None]) == [0, 0, 1, 2, 3, 3, 3, 3]
    assert schedule([None, None]) == [0.0, 0.0]


def test_play_waits_the_recorded_gaps_divided_by_the_speed() -> None:
    from runflow import RunFlow

    blocks = _blocks(str(DEMO_STREAM))  # its objects span 5 s, the answer's deltas 1 s
    waits: list[float] = []
    flow = RunFlow()
    play(flow, blocks, 4.0, waits.append)
    # 1 s, 1 s, the requires_action/done/step.completed second split in two, 1 s, then
    # the 10 message deltas and message.completed sharing the last second
    assert waits == pytest.approx([0.25, 0.25, 0.125, 0.125, 0.25, *[1 / 44] * 11])
    assert (flow.run_status, flow.ending) == ("completed", "done")
    slow: list[float] = []
    play(RunFlow(), blocks, 0.1, slow.append)
    assert max(slow) == MAX_PAUSE  # a 10 s pause is shortened
    no_wait: list[float] = []
    play(RunFlow(), blocks, 0, no_wait.append)
    assert no_wait == []


# --------------------------------------------------------------------------- #
# line output: live runs against the local server
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def local() -> Iterator[Server]:
    with Server() as server:
        yield server


def test_a_cut_stream_then_recovery_as_lines(capsys: pytest.CaptureFixture[str],
                                            local: Server) -> None:
    code, lines, err = _watch(
        capsys, "--base-url", local.base_url, "--assistant", "asst_parallel_functions",
        "--fault", "cut_after=8", "--tool-output", "get_weather=sunny",
        "--tool-output", "get_time=noon")
    assert (code, err) == (1, "")  # the cut is a truncated violation
    cut = lines.index("stream 1 ended: truncated")
    assert lines[cut - 1].startswith("! #8 error truncated: the input ended after 8 event(s)")
    assert lines[cut + 1].endswith(": in_progress -> requires_action (recovered over REST)")
    assert lines[cut + 2].startswith('tool call get_weather({"city": "Paris"}) [call_')
    assert lines[cut + 3].startswith('tool call get_time({"timezone": "Europe/Paris"}) [call_')
    assert "stream 2 ended: done" in lines
    assert any(line.endswith("Here is what I found. get_weather: sunny. get_time: noon.")
               for line in lines)
    assert lines[-1].endswith(" completed: 28 events, 2 stream(s), 1 change(s) recovered "
                              "over REST, 1 violation(s)")


def test_following_a_run_by_polling(capsys: pytest.CaptureFixture[str], local: Server) -> None:
    client = openai.OpenAI(base_url=local.base_url, api_key="test", max_retries=0)
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_text")
    code, lines, _ = _watch(capsys, "--base-url", local.base_url, "--thread", thread.id,
                            "--run", run.id, "--interval", "0.01")
    assert code == 0
    assert lines[0] == f"run {run.id}: unseen -> completed (recovered over REST)"
    assert lines[1].startswith("step step_") and lines[1].endswith(
        ": unseen -> completed (recovered over REST)")
    assert lines[3] == ("text " + lines[2].split()[1].rstrip(":") + ": Hello! This answer was "
                        "streamed by the runflow test server.")
    assert lines[-1] == (f"run {run.id} completed: 0 events, 0 stream(s), 3 change(s) "
                         "recovered over REST, 0 violation(s)")


def test_polling_stops_at_the_timeout_while_the_run_waits_for_tools(
        capsys: pytest.CaptureFixture[str], local: Server) -> None:
    client = openai.OpenAI(base_url=local.base_url, api_key="test", max_retries=0)
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(thread_id=thread.id,
                                          assistant_id="asst_parallel_functions")
    code, lines, _ = _watch(capsys, "--base-url", local.base_url, "--thread", thread.id,
                            "--run", run.id, "--interval", "0.05", "--timeout", "0.2")
    assert code == 0
    assert lines[0] == f"run {run.id}: unseen -> requires_action (recovered over REST)"
    assert [line.split(" [")[0] for line in lines if line.startswith("tool call")] == [
        'tool call get_weather({"city": "Paris"})',
        'tool call get_time({"timezone": "Europe/Paris"})']
    assert lines[-2] == "-- still requires_action after 0.2 s; stopped"


@pytest.mark.parametrize(("args", "message"), [
    ([], "give a RECORDING to play, or --base-url with --thread and --run (or --assistant) "
         "to follow a live run"),
    (["x.jsonl", "--base-url", "http://127.0.0.1:9/v1"], "give a RECORDING or --base-url, "
                                                         "not both (--base-url)"),
    (["--base-url", "http://127.0.0.1:9/v1", "--run", "run_x"], "--run needs its --thread"),
    (["--base-url", "http://127.0.0.1:9/v1"],
     "with --base-url give either --run (with --thread) or --assistant"),
    (["missing.jsonl"], "missing.jsonl: no such file"),
    (["--base-url", "http://127.0.0.1:9/v1", "--assistant", "asst_text"],
     "cannot reach http://127.0.0.1:9/v1 (following the run)"),
])
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, args: list[str],
                                   message: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, lines, err = _watch(capsys, *args)
    assert (code, lines, err) == (2, [], f"runflow: error: {message}\n")


def test_a_bad_speed_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _watch(capsys, str(DEMO_STREAM), "--speed", "-1")
    assert code == 2
    assert "--speed: expected a number >= 0, got '-1'" in err


# --------------------------------------------------------------------------- #
# the live view, through tmux
# --------------------------------------------------------------------------- #
def _tmux() -> str:
    found = shutil.which("tmux")
    if found is None:
        tool_missing("tmux is not installed (Debian: apt-get install tmux)")
    return found


@pytest.mark.needs_tools
def test_the_live_view_of_a_cut_and_recovered_run_through_tmux(local: Server,
                                                               tmp_path: Path) -> None:
    tmux = [_tmux(), "-L", f"runflow-test-{uuid.uuid4().hex[:8]}", "-f", "/dev/null"]
    command = shlex.join([
        sys.executable, "-m", "runflow", "watch", "--base-url", local.base_url,
        "--assistant", "asst_parallel_functions", "--fault", "cut_after=8",
        "--tool-output", "get_weather=sunny", "--tool-output", "get_time=noon", "--diagram"])
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "TERM": "xterm-256color"}
    subprocess.run([*tmux, "new-session", "-d", "-s", "watch", "-x", "110", "-y", "70",
                    "bash --norc --noprofile"], check=True, env=env)
    try:
        subprocess.run([*tmux, "send-keys", "-t", "watch", f"clear; {command}; echo EXIT=$?",
                        "Enter"], check=True)
        screen = ""
        deadline = time.monotonic() + 30
        while "EXIT=" not in screen and time.monotonic() < deadline:
            time.sleep(0.1)
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "watch"],
                                    capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    assert "EXIT=1" in screen, screen  # a truncated violation was seen
    rows = [" ".join(line.strip("│ ").split()) for line in screen.splitlines()]
    assert any(r.startswith("run run_") and r.endswith(" completed") for r in rows), screen
    assert sum(r.startswith("step step_") and " completed " in r for r in rows) == 2
    assert any(r.startswith("message msg_") and r.endswith("completed assistant") for r in rows)
    assert "Here is what I found. get_weather: sunny. get_time: noon." in rows
    assert any(r.startswith('get_weather({"city": "Paris"}) call_') for r in rows)
    assert any(r.startswith("#8 error truncated: the input ended after 8 event(s)")
               for r in rows)
    notes = [r for r in rows if r.startswith(("stream ", "run run_"))]
    assert notes[-4:-1] == [
        "stream 1 ended: truncated",
        notes[-3], "stream 2 ended: done"]
    assert notes[-3].endswith(": in_progress -> requires_action (recovered over REST)")
    assert "run_in_progress --> run_requires_action : #8 recovered" in rows
    assert "run_in_progress --> run_completed : #26 thread.run.completed" in rows
    assert notes[-1].endswith(" completed: 28 events, 2 stream(s), 1 change(s) recovered "
                              "over REST, 1")  # the summary wraps at 110 columns
